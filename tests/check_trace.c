/*
 * Unit tests for the trace readers (src/trace): lackey record and system
 * call parsing, zstd input, error messages, checksums and the shipped
 * traces read end to end.
 *
 * Notes:
 *  - Expected counts for tests/data/trace/ and traces/ were taken with
 *    grep (e.g. `zstdcat traces/sort.lackey.zst | grep -c '^I  '`), not
 *    with this reader; checksum values with `xxhsum -H3`.
 *  - Temporary files are made with mkstemp under $TMPDIR (or /tmp).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "trace/trace.h"

#define MAXEV 64

/* Read every event of an in-memory trace; returns the count or -1. */
static int read_mem(const char *text, size_t len, size_t chunk, struct guest_event *out,
		    int max, char *err)
{
	struct trace_reader *tr = trace_open_mem(text, len, "t.lackey", chunk, err);
	struct guest_event ev;
	int n = 0, r;

	ck_assert_msg(tr != NULL, "%s", err);
	while ((r = trace_next(tr, &ev, err)) == 1) {
		if (n < max)
			out[n] = ev;
		n++;
	}
	trace_close(tr);
	return r < 0 ? -1 : n;
}

static int read_str(const char *text, struct guest_event *out, int max, char *err)
{
	return read_mem(text, strlen(text), 0, out, max, err);
}

/* Expect the error message for a one-shot input. */
static void expect_error(const char *text, const char *msg)
{
	struct guest_event ev[MAXEV];
	char err[TRACE_ERR_LEN] = "";

	ck_assert_int_eq(read_str(text, ev, MAXEV, err), -1);
	ck_assert_str_eq(err, msg);
}

static void ev_eq(const struct guest_event *e, enum guest_event_kind kind, uint64_t gva,
		  uint32_t size, uint32_t pid, uint64_t len, uint32_t arg)
{
	ck_assert_int_eq(e->kind, kind);
	ck_assert_uint_eq(e->gva, gva);
	ck_assert_uint_eq(e->size, size);
	ck_assert_uint_eq(e->pid, pid);
	ck_assert_uint_eq(e->len, len);
	ck_assert_uint_eq(e->arg, arg);
}

/* Write bytes to a new temporary file; the caller frees the path. */
static char *write_tmp(const void *data, size_t len)
{
	const char *dir = getenv("TMPDIR");
	char *path = malloc(4096);
	int fd;

	ck_assert_ptr_nonnull(path);
	snprintf(path, 4096, "%s/check_trace.XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static void *zcompress(const void *data, size_t len, size_t *zlen)
{
	size_t cap = ZSTD_compressBound(len);
	void *z = malloc(cap);

	ck_assert_ptr_nonnull(z);
	*zlen = ZSTD_compress(z, cap, data, len, 3);
	ck_assert(!ZSTD_isError(*zlen));
	return z;
}

static const char sample[] =
	"==4242== Lackey, an example Valgrind tool\n"
	"==4242== Command: sort nums.txt\n"
	"I  0401ab70,3\n"
	" S 1fff000708,8\n"
	" L 04a19de0,8\n"
	" M 1ffefffd38,4\n"
	"I  ffffffffffffffff,15\n"
	" L 0,4096\n"
	"--4242-- a debug line\n"
	"\n"
	"SYSCALL[4242,1](12) sys_brk ( 0x0 ) --> [pre-success] Success(0x4035000) \n"
	"SYSCALL[4242,1](9) sys_mmap ( 0x0, 8192, 3, 34, 4294967295, 0 ) --> [pre-success] Success(0x4835000) \n"
	"SYSCALL[4242,1](11) sys_munmap ( 0x483c000, 43399 )[sync] --> Success(0x0) \n"
	"SYSCALL[4242,1](257) sys_openat ( 4294967196, 0x4035620(/usr/lib/x y), 524288 ) --> [async] ... \n"
	"SYSCALL[4242,1](257) ... [async] --> Success(0x4) \n"
	"SYSCALL[4242,1](334) unimplemented (by the kernel) syscall: 334! (ni_syscall)\n"
	" --> [pre-fail] Failure(0x26) \n"
	"SYSCALL[4242,1](39) sys_getpid ()[sync] --> Success(0x1092) \n"
	"SYSCALL[4242,1](231) exit_group( 0 ) --> [pre-success] Success(0x0) \n"
	"==4242== Exit code:       0\n";

START_TEST(test_trace_memory_records)
{
	struct guest_event ev[MAXEV];
	char err[TRACE_ERR_LEN];
	const char *in = "I  0401ab70,3\n==77== hi\n S 1fff000708,8\n L 04a19de0,8\n M 10,1\n";

	ck_assert_int_eq(read_str(in, ev, MAXEV, err), 4);
	/* before the first ==PID== line the pid is 0 */
	ev_eq(&ev[0], GEV_FETCH, 0x0401ab70, 3, 0, 0, 0);
	ev_eq(&ev[1], GEV_STORE, 0x1fff000708, 8, 77, 0, 0);
	ev_eq(&ev[2], GEV_LOAD, 0x04a19de0, 8, 77, 0, 0);
	ev_eq(&ev[3], GEV_MODIFY, 0x10, 1, 77, 0, 0);
}
END_TEST

START_TEST(test_trace_sample_events)
{
	struct guest_event ev[MAXEV];
	char err[TRACE_ERR_LEN];

	ck_assert_int_eq(read_str(sample, ev, MAXEV, err), 10);
	ev_eq(&ev[0], GEV_FETCH, 0x0401ab70, 3, 4242, 0, 0);
	ev_eq(&ev[1], GEV_STORE, 0x1fff000708, 8, 4242, 0, 0);
	ev_eq(&ev[2], GEV_LOAD, 0x04a19de0, 8, 4242, 0, 0);
	ev_eq(&ev[3], GEV_MODIFY, 0x1ffefffd38, 4, 4242, 0, 0);
	ev_eq(&ev[4], GEV_FETCH, 0xffffffffffffffffull, 15, 4242, 0, 0);
	ev_eq(&ev[5], GEV_LOAD, 0, 4096, 4242, 0, 0);
	ev_eq(&ev[6], GEV_BRK, 0x4035000, 0, 4242, 0, 0);
	ev_eq(&ev[7], GEV_MMAP, 0x4835000, 0, 4242, 8192, 3 | GEV_MMAP_ANON); /* flags 34: anonymous */
	ev_eq(&ev[8], GEV_MUNMAP, 0x483c000, 0, 4242, 43399, 0);
	ev_eq(&ev[9], GEV_PROC_EXIT, 0, 0, 4242, 0, 0);
}
END_TEST

START_TEST(test_trace_syscall_pid_and_failure)
{
	struct guest_event ev[MAXEV];
	char err[TRACE_ERR_LEN];
	const char *in =
		"==5== x\n"
		"SYSCALL[9,1](9) sys_mmap ( 0x1, 8192, 1, 50, 4294967295, 0 ) --> [pre-fail] Failure(0x16) \n"
		"SYSCALL[9,1](9) sys_mmap ( 0x0, 4096, 5, 2066, 4, 4096 ) --> [pre-success] Success(0x4838000) \n"
		"SYSCALL[9,1](11) sys_munmap ( 0x5000, 4096 )[sync] --> Failure(0x16) \n"
		"SYSCALL[9,1](12) sys_brk ( 0x4056000 ) --> [pre-success] Success(0x4056000) \n";

	ck_assert_int_eq(read_str(in, ev, MAXEV, err), 2);
	ev_eq(&ev[0], GEV_MMAP, 0x4838000, 0, 9, 4096, 5);
	ev_eq(&ev[1], GEV_BRK, 0x4056000, 0, 9, 0, 0);
}
END_TEST

START_TEST(test_trace_async_completion)
{
	struct guest_event ev[MAXEV];
	char err[TRACE_ERR_LEN];
	const char *in =
		"SYSCALL[7,2](9) sys_mmap ( 0x0, 65536, 3, 34, -1, 0 ) --> [async] ... \n"
		"I  1000,4\n"
		"SYSCALL[7,1](0) sys_read ( 4, 0x1ffeffedb8, 832 ) --> [async] ... \n"
		"SYSCALL[7,3](11) sys_munmap ( 0x9000, 4096 ) --> [async] ... \n"
		"SYSCALL[7,1](0) ... [async] --> Success(0x340) \n"
		"SYSCALL[7,3](11) ... [async] --> Failure(0x16) \n"
		"SYSCALL[7,2](9) ... [async] --> Success(0x7000000) \n"
		/* a completion with no pending call of ours is skipped */
		"SYSCALL[7,2](9) ... [async] --> Success(0x8000000) \n";

	ck_assert_int_eq(read_str(in, ev, MAXEV, err), 2);
	ev_eq(&ev[0], GEV_FETCH, 0x1000, 4, 0, 0, 0);
	ev_eq(&ev[1], GEV_MMAP, 0x7000000, 0, 7, 65536, 3 | GEV_MMAP_ANON);
}
END_TEST

START_TEST(test_trace_mremap)
{
	struct guest_event ev[MAXEV];
	char err[TRACE_ERR_LEN];
	const char *in =
		"SYSCALL[3,1](25) sys_mremap ( 0x483c000, 8192, 1048576, 0x1 ) --> [pre-success] Success(0x5a2e000) \n"
		"SYSCALL[3,1](25) sys_mremap ( 0x483c000, 8192, 1048576, 0x1 ) --> [pre-fail] Failure(0xc) \n";

	ck_assert_int_eq(read_str(in, ev, MAXEV, err), 2);
	ev_eq(&ev[0], GEV_MUNMAP, 0x483c000, 0, 3, 8192, 0);
	ev_eq(&ev[1], GEV_MMAP, 0x5a2e000, 0, 3, 1048576, 3);
}
END_TEST

START_TEST(test_trace_clone_fork_exit)
{
	struct guest_event ev[MAXEV];
	char err[TRACE_ERR_LEN];
	const char *in =
		"==100== x\n"
		/* two threads (CLONE_VM in 3d0f00); a record glued after the result */
		"SYSCALL[100,1](56) sys_clone ( 3d0f00, 0x522bf70, 0x522c990, 0x522c990, 0x522c6c0 ) --> [pre-success] Success(0x65) \n"
		"SYSCALL[100,1](56) sys_clone ( 3d0f00, 0x5a2cf70, 0x5a2d990, 0x5a2d990, 0x5a2d6c0 ) --> [pre-success] Success(0x66) I  0494fb42,3\n"
		"\n"
		/* a process via clone(fork): the result on its own line */
		"SYSCALL[100,1](56) sys_clone ( 1200011, 0x0, 0x0, 0x4a29a10, 0x0 )   clone(fork): process 100 created child 103\n"
		" --> [pre-success] Success(0x67) \n"
		/* the child's side (result 0) and a stray continuation: nothing */
		" --> [pre-success] Success(0x0)\n"
		"SYSCALL[100,1](58) sys_fork ( )   fork: process 100 created child 104\n"
		" --> [pre-success] Success(0x68) \n"
		"SYSCALL[100,1](57) sys_vfork ( ) --> [pre-fail] Failure(0xb) \n"
		/* thread exits: the third one (the last) ends process 100 */
		"SYSCALL[100,2](60) exit( 0 ) --> [pre-success] Success(0x0) \n"
		"SYSCALL[100,3](60) exit( 0 ) --> [pre-success] Success(0x0) \n"
		"SYSCALL[100,1](60) exit( 0 ) --> [pre-success] Success(0x0) \n"
		"SYSCALL[103,1](231) exit_group( 3 ) --> [pre-success] Success(0x0) \n"
		/* a single-threaded process seen first at its exit */
		"SYSCALL[104,1](60) exit( 4 ) --> [pre-success] Success(0x0) \n";

	ck_assert_int_eq(read_str(in, ev, MAXEV, err), 8);
	ev_eq(&ev[0], GEV_PROC_CREATE, 100, 0, 0x65, 0, 1);
	ev_eq(&ev[1], GEV_PROC_CREATE, 100, 0, 0x66, 0, 1);
	ev_eq(&ev[2], GEV_FETCH, 0x0494fb42, 3, 100, 0, 0);
	ev_eq(&ev[3], GEV_PROC_CREATE, 100, 0, 0x67, 0, 0);
	ev_eq(&ev[4], GEV_PROC_CREATE, 100, 0, 0x68, 0, 0);
	ev_eq(&ev[5], GEV_PROC_EXIT, 0, 0, 100, 0, 0);
	ev_eq(&ev[6], GEV_PROC_EXIT, 0, 0, 103, 0, 0);
	ev_eq(&ev[7], GEV_PROC_EXIT, 0, 0, 104, 0, 0);
}
END_TEST

START_TEST(test_trace_final_line_without_newline)
{
	struct guest_event ev[MAXEV];
	char err[TRACE_ERR_LEN];
	struct trace_reader *tr;

	ck_assert_int_eq(read_str("I  10,1\n\n\n L 20,2", ev, MAXEV, err), 2);
	ev_eq(&ev[1], GEV_LOAD, 0x20, 2, 0, 0, 0);
	expect_error("I  10,1\n L 20,", "t.lackey:2: bad decimal size: ' L 20,'");
	ck_assert_int_eq(read_str("", ev, MAXEV, err), 0);
	ck_assert_int_eq(read_str("\n", ev, MAXEV, err), 0);

	tr = trace_open_mem("I  10,1\n\nI  10,1", 16, "x", 0, err);
	ck_assert_ptr_nonnull(tr);
	ck_assert_int_eq(trace_next(tr, ev, err), 1);
	ck_assert_uint_eq(trace_line(tr), 1);
	ck_assert_int_eq(trace_next(tr, ev, err), 1);
	ck_assert_uint_eq(trace_line(tr), 3);
	ck_assert_int_eq(trace_next(tr, ev, err), 0);
	ck_assert_int_eq(trace_next(tr, ev, err), 0);
	ck_assert_uint_eq(trace_bytes_read(tr), 16);
	ck_assert_uint_eq(trace_file_size(tr), 16);
	ck_assert_str_eq(trace_format(tr), "lackey");
	trace_close(tr);
}
END_TEST

START_TEST(test_trace_malformed_lines)
{
	expect_error("I  04020a80,3\nI  0402zz,3\n", "t.lackey:2: bad hex address: 'I  0402zz,3'");
	expect_error("==1== a\n\nI  04020a80 3\n",
		     "t.lackey:3: missing comma after address: 'I  04020a80 3'");
	expect_error("I  04020a80,0\n", "t.lackey:1: size out of range 1..4096: 'I  04020a80,0'");
	expect_error(" S 04020a80,4097\n",
		     "t.lackey:1: size out of range 1..4096: ' S 04020a80,4097'");
	expect_error(" L 1,99999999999\n",
		     "t.lackey:1: size out of range 1..4096: ' L 1,99999999999'");
	expect_error(" X 1234,4\n", "t.lackey:1: unknown record type: ' X 1234,4'");
	expect_error("I 1234,4\n", "t.lackey:1: unknown record type: 'I 1234,4'");
	expect_error("hello\n", "t.lackey:1: unknown record type: 'hello'");
	expect_error("I  04020a80,3 \n", "t.lackey:1: trailing garbage: 'I  04020a80,3 '");
	expect_error("I  04020a80,3x\n", "t.lackey:1: trailing garbage: 'I  04020a80,3x'");
	expect_error("I  04020a80,3\r\n", "t.lackey:1: trailing garbage: 'I  04020a80,3?'");
	expect_error("I  ,3\n", "t.lackey:1: bad hex address: 'I  ,3'");
	expect_error("I  12345678901234567,3\n",
		     "t.lackey:1: address over 16 hex digits: 'I  12345678901234567,3'");
	expect_error("I  1234,\n", "t.lackey:1: bad decimal size: 'I  1234,'");
	expect_error("I  12\001,3\n", "t.lackey:1: missing comma after address: 'I  12?,3'");
	expect_error("==abc== hi\n", "t.lackey:1: malformed valgrind message line: '==abc== hi'");
	expect_error("SYSCALL[x\n", "t.lackey:1: malformed SYSCALL header: 'SYSCALL[x'");
	expect_error("SYSCALL[1,1](9)sys_mmap\n",
		     "t.lackey:1: malformed SYSCALL header: 'SYSCALL[1,1](9)sys_mmap'");
	expect_error("SYSCALL[12,1](9) sys_mmap ( 0x0, zz, 3, 34, -1, 0 ) --> [pre-success] Success(0x1000) \n",
		     "t.lackey:1: malformed system call arguments: "
		     "'SYSCALL[12,1](9) sys_mmap ( 0x0, zz, 3, '");
	expect_error("SYSCALL[12,1](11) sys_munmap ( 0x1000 )[sync] --> Success(0x0) \n",
		     "t.lackey:1: too few system call arguments: "
		     "'SYSCALL[12,1](11) sys_munmap ( 0x1000 )['");
	expect_error("SYSCALL[12,1](12) sys_brk ( 0x0 ) --> [pre-success] Success(zz) \n",
		     "t.lackey:1: malformed system call result: "
		     "'SYSCALL[12,1](12) sys_brk ( 0x0 ) --> [p'");
	expect_error("SYSCALL[1,1](12) sys_brk ( 0x0 ) --> [pre-success] Success(0x4035000) junk\n",
		     "t.lackey:1: trailing garbage after system call result: "
		     "'SYSCALL[1,1](12) sys_brk ( 0x0 ) --> [pr'");
	/* a long bad line is cut to 40 bytes in the message */
	expect_error("I  1,1\nI  1,1\n L 1,1\nI  0123456789abcdef0123456789abcdef0123456789,1\n",
		     "t.lackey:4: address over 16 hex digits: "
		     "'I  0123456789abcdef0123456789abcdef01234'");
}
END_TEST

START_TEST(test_trace_error_is_sticky)
{
	struct guest_event ev;
	char err[TRACE_ERR_LEN];
	struct trace_reader *tr = trace_open_mem("I  1,1\nbad\nI  2,2\n", 19, "s", 0, err);

	ck_assert_ptr_nonnull(tr);
	ck_assert_int_eq(trace_next(tr, &ev, err), 1);
	ck_assert_int_eq(trace_next(tr, &ev, err), -1);
	ck_assert_str_eq(err, "s:2: unknown record type: 'bad'");
	strcpy(err, "");
	ck_assert_int_eq(trace_next(tr, &ev, err), -1);
	ck_assert_str_eq(err, "s:2: unknown record type: 'bad'");
	trace_close(tr);
}
END_TEST

START_TEST(test_trace_long_lines)
{
	size_t n = 70000, i;
	char *in = malloc(n + 64);
	struct guest_event ev[MAXEV];
	char err[TRACE_ERR_LEN];

	ck_assert_ptr_nonnull(in);
	/* a 60000-byte message line is fine */
	strcpy(in, "I  1,1\n==1== ");
	for (i = strlen(in); i < 60000; i++)
		in[i] = 'x';
	strcpy(in + i, "\nI  2,2\n");
	ck_assert_int_eq(read_mem(in, strlen(in), 0, ev, MAXEV, err), 2);
	ck_assert_int_eq(read_mem(in, strlen(in), 4093, ev, MAXEV, err), 2);
	/* a 70000-byte one is not, with or without its newline */
	for (i = 13; i < n; i++)
		in[i] = 'x';
	strcpy(in + n, "\nI  2,2\n");
	ck_assert_int_eq(read_mem(in, strlen(in), 0, ev, MAXEV, err), -1);
	ck_assert_str_eq(err, "t.lackey:2: line too long: '==1== xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'");
	ck_assert_int_eq(read_mem(in, n, 0, ev, MAXEV, err), -1);
	ck_assert_str_eq(err, "t.lackey:2: line too long: '==1== xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'");
	free(in);
}
END_TEST

/* Chunked reads (buffer boundaries anywhere) give the same events. */
START_TEST(test_trace_chunk_boundaries)
{
	struct guest_event ref[MAXEV], ev[MAXEV];
	char err[TRACE_ERR_LEN];
	size_t chunk, zlen;
	void *z = zcompress(sample, strlen(sample), &zlen);
	int n = read_str(sample, ref, MAXEV, err);

	ck_assert_int_eq(n, 10);
	for (chunk = 1; chunk <= 64; chunk++) {
		ck_assert_int_eq(read_mem(sample, strlen(sample), chunk, ev, MAXEV, err), n);
		ck_assert(memcmp(ev, ref, (size_t)n * sizeof(ev[0])) == 0);
		ck_assert_int_eq(read_mem(z, zlen, chunk, ev, MAXEV, err), n);
		ck_assert(memcmp(ev, ref, (size_t)n * sizeof(ev[0])) == 0);
	}
	free(z);
}
END_TEST

START_TEST(test_trace_zstd_equals_plain)
{
	struct guest_event a, b;
	char err[TRACE_ERR_LEN], err2[TRACE_ERR_LEN];
	size_t zlen, len = 0, i;
	char *text = malloc(3u << 20);
	void *z;
	char *plain_path, *z_path;
	struct trace_reader *tp, *tz;
	int ra, rb;
	uint64_t count = 0;

	ck_assert_ptr_nonnull(text);
	/* ~2.5 MiB: more than one line buffer and many zstd blocks */
	len += (size_t)sprintf(text + len, "==31== start\n");
	for (i = 0; len < (5u << 19); i++) {
		len += (size_t)sprintf(text + len, "I  %08zx,%zu\n", 0x400000 + i * 3, 1 + i % 15);
		if (i % 3 == 0)
			len += (size_t)sprintf(text + len, " L %010zx,8\n", 0x1ffe000000 + i * 8);
		if (i % 1000 == 0)
			len += (size_t)sprintf(text + len,
					       "SYSCALL[31,1](9) sys_mmap ( 0x0, %zu, 3, 34, -1, 0 ) --> [pre-success] Success(0x%zx) \n",
					       4096 * (i + 1), 0x5000000 + i * 4096);
	}
	z = zcompress(text, len, &zlen);
	plain_path = write_tmp(text, len);
	z_path = write_tmp(z, zlen);
	tp = trace_open(plain_path, err);
	ck_assert_msg(tp != NULL, "%s", err);
	tz = trace_open(z_path, err);
	ck_assert_msg(tz != NULL, "%s", err);
	ck_assert_str_eq(trace_format(tp), "lackey");
	ck_assert_str_eq(trace_format(tz), "lackey+zstd");
	ck_assert_uint_eq(trace_file_size(tp), len);
	ck_assert_uint_eq(trace_file_size(tz), zlen);
	do {
		ra = trace_next(tp, &a, err);
		rb = trace_next(tz, &b, err2);
		ck_assert_int_eq(ra, rb);
		if (ra == 1) {
			ck_assert(memcmp(&a, &b, sizeof(a)) == 0);
			count++;
		}
	} while (ra == 1);
	ck_assert_int_eq(ra, 0);
	ck_assert_uint_eq(trace_line(tp), trace_line(tz));
	ck_assert_uint_eq(trace_bytes_read(tp), len);
	ck_assert_uint_eq(trace_bytes_read(tz), zlen);
	ck_assert_uint_gt(count, 150000);
	trace_close(tp);
	trace_close(tz);
	unlink(plain_path);
	unlink(z_path);
	free(plain_path);
	free(z_path);
	free(z);
	free(text);
}
END_TEST

/* Read a zstd file to the end; returns the trace_next result. */
static int drain(const char *path, char *err)
{
	struct trace_reader *tr = trace_open(path, err);
	struct guest_event ev;
	int r;

	if (!tr)
		return -2;
	while ((r = trace_next(tr, &ev, err)) == 1)
		;
	trace_close(tr);
	return r;
}

START_TEST(test_trace_truncated_zstd)
{
	char err[TRACE_ERR_LEN], want[TRACE_ERR_LEN + 64];
	size_t zlen, len = 0, i;
	char *text = malloc(1u << 20);
	unsigned char *z;
	char *path;

	ck_assert_ptr_nonnull(text);
	for (i = 0; len < 500000; i++)
		len += (size_t)sprintf(text + len, "I  %08zx,4\n", i * 7);
	z = zcompress(text, len, &zlen);
	ck_assert_uint_gt(zlen, 1000);

	/* cut in the middle */
	path = write_tmp(z, zlen / 2);
	ck_assert_int_eq(drain(path, err), -1);
	ck_assert_msg(strstr(err, ": truncated zstd stream at byte ") != NULL, "%s", err);
	snprintf(want, sizeof(want), "%s:", path);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	snprintf(want, sizeof(want), "truncated zstd stream at byte %zu", zlen / 2);
	ck_assert_msg(strstr(err, want) != NULL, "%s", err);
	unlink(path);
	free(path);

	/* cut just before the end (the content checksum is missing) */
	path = write_tmp(z, zlen - 1);
	ck_assert_int_eq(drain(path, err), -1);
	snprintf(want, sizeof(want), "truncated zstd stream at byte %zu", zlen - 1);
	ck_assert_msg(strstr(err, want) != NULL, "%s", err);
	unlink(path);
	free(path);

	/* only the magic */
	path = write_tmp(z, 4);
	ck_assert_int_eq(drain(path, err), -1);
	ck_assert_msg(strstr(err, "truncated zstd stream at byte 4") != NULL, "%s", err);
	unlink(path);
	free(path);

	/* corrupt: a block body overwritten */
	for (i = zlen / 2; i < zlen / 2 + 64; i++)
		z[i] ^= 0x5a;
	path = write_tmp(z, zlen);
	ck_assert_int_eq(drain(path, err), -1);
	ck_assert_msg(strstr(err, ": corrupt zstd stream at byte ") != NULL, "%s", err);
	unlink(path);
	free(path);

	/* garbage after a complete frame */
	free(z);
	z = zcompress("I  1,1\n", 7, &zlen);
	z = realloc(z, zlen + 8);
	ck_assert_ptr_nonnull(z);
	memcpy(z + zlen, "garbage!", 8);
	path = write_tmp(z, zlen + 8);
	ck_assert_int_eq(drain(path, err), -1);
	ck_assert_msg(strstr(err, "zstd stream at byte ") != NULL, "%s", err);
	unlink(path);
	free(path);
	free(z);
	free(text);
}
END_TEST

START_TEST(test_trace_file_errors)
{
	char err[TRACE_ERR_LEN], sum[17];
	struct guest_event ev[MAXEV];
	char *path = write_tmp("I  10,4\nI  zz,4\n", 16);
	char want[TRACE_ERR_LEN + 64];
	struct trace_reader *tr;

	ck_assert_ptr_null(trace_open("/nonexistent/x.lackey", err));
	ck_assert_str_eq(err, "/nonexistent/x.lackey: cannot open: No such file or directory");
	ck_assert_int_eq(trace_file_checksum("/nonexistent/x.lackey", sum, err), -1);
	ck_assert_str_eq(err, "/nonexistent/x.lackey: cannot open: No such file or directory");
	ck_assert_ptr_null(trace_open("/", err));
	ck_assert_str_eq(err, "/: is a directory");

	tr = trace_open(path, err);
	ck_assert_ptr_nonnull(tr);
	ck_assert_int_eq(trace_next(tr, ev, err), 1);
	ck_assert_int_eq(trace_next(tr, ev, err), -1);
	snprintf(want, sizeof(want), "%s:2: bad hex address: 'I  zz,4'", path);
	ck_assert_str_eq(err, want);
	trace_close(tr);
	unlink(path);
	free(path);
}
END_TEST

/* A file that grows after trace_open (a log still being written). */
START_TEST(test_trace_growing_file)
{
	char err[TRACE_ERR_LEN], line[300];
	struct guest_event ev;
	char *path = write_tmp("I  1,1\n", 7);
	struct trace_reader *tr = trace_open(path, err);
	FILE *f;
	int i;

	ck_assert_ptr_nonnull(tr);
	f = fopen(path, "a");
	ck_assert_ptr_nonnull(f);
	memset(line, 'y', sizeof(line));
	fprintf(f, "==9== %.*s\n L 2,2\n", (int)sizeof(line), line);
	fclose(f);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(trace_next(tr, &ev, err), 1);
	ev_eq(&ev, GEV_LOAD, 2, 2, 9, 0, 0);
	ck_assert_int_eq(trace_next(tr, &ev, err), 0);
	ck_assert_uint_eq(trace_line(tr), 3);
	trace_close(tr);
	unlink(path);
	free(path);
}
END_TEST

START_TEST(test_trace_checksum)
{
	char err[TRACE_ERR_LEN], sum[17];
	unsigned char *pat = malloc(1500000);
	char *path;
	size_t i;

	ck_assert_ptr_nonnull(pat);
	/* values from `xxhsum -H3` (XXH3-64) */
	path = write_tmp("abc", 3);
	ck_assert_int_eq(trace_file_checksum(path, sum, err), 0);
	ck_assert_str_eq(sum, "78af5f94892f3950");
	unlink(path);
	free(path);

	path = write_tmp("", 0);
	ck_assert_int_eq(trace_file_checksum(path, sum, err), 0);
	ck_assert_str_eq(sum, "2d06800538d394c2");
	unlink(path);
	free(path);

	/* longer than the 1 MiB read buffer */
	for (i = 0; i < 1500000; i++)
		pat[i] = (unsigned char)(((i * 31 + 7) >> 3) & 0xff);
	path = write_tmp(pat, 1500000);
	ck_assert_int_eq(trace_file_checksum(path, sum, err), 0);
	ck_assert_str_eq(sum, "b1617ea3b5ec4927");
	unlink(path);
	free(path);
	free(pat);
}
END_TEST

struct counts {
	uint64_t k[GEV_KIND_COUNT];
	uint64_t lines;
};

static void count_file(const char *rel, struct counts *c)
{
	const char *srcdir = getenv("VTSIM_SRCDIR");
	char path[4096], err[TRACE_ERR_LEN];
	struct trace_reader *tr;
	struct guest_event ev;
	int r;

	snprintf(path, sizeof(path), "%s/%s", srcdir && *srcdir ? srcdir : ".", rel);
	memset(c, 0, sizeof(*c));
	tr = trace_open(path, err);
	ck_assert_msg(tr != NULL, "%s", err);
	while ((r = trace_next(tr, &ev, err)) == 1)
		c->k[ev.kind]++;
	ck_assert_msg(r == 0, "%s", err);
	c->lines = trace_line(tr);
	ck_assert_uint_eq(trace_bytes_read(tr), trace_file_size(tr));
	trace_close(tr);
}

#define CK_COUNTS(c, I, L, S, M, MM, MU, BRK, PC, PE) \
	do { \
		ck_assert_uint_eq((c).k[GEV_FETCH], I); \
		ck_assert_uint_eq((c).k[GEV_LOAD], L); \
		ck_assert_uint_eq((c).k[GEV_STORE], S); \
		ck_assert_uint_eq((c).k[GEV_MODIFY], M); \
		ck_assert_uint_eq((c).k[GEV_MMAP], MM); \
		ck_assert_uint_eq((c).k[GEV_MUNMAP], MU); \
		ck_assert_uint_eq((c).k[GEV_BRK], BRK); \
		ck_assert_uint_eq((c).k[GEV_PROC_CREATE], PC); \
		ck_assert_uint_eq((c).k[GEV_PROC_EXIT], PE); \
	} while (0)

/* Real valgrind 3.19 logs cut down (tests/data/trace/README.md). */
START_TEST(test_trace_real_thread_and_fork_logs)
{
	struct counts c;

	/* 2 threads, mremap, a failed mmap, a record glued to a clone result */
	count_file("tests/data/trace/threads.lackey", &c);
	ck_assert_uint_eq(c.lines, 221);
	CK_COUNTS(c, 55, 10, 14, 0, 16, 3, 3, 2, 1);
	/* sh -c 'ls | wc -l' parent with --log-file=x.%p: two clone(fork) */
	count_file("tests/data/trace/fork.lackey", &c);
	ck_assert_uint_eq(c.lines, 168);
	CK_COUNTS(c, 11, 0, 3, 0, 12, 1, 3, 2, 1);
}
END_TEST

/* The shipped traces (traces/README.md), counted with zstdcat | grep -c. */
START_TEST(test_trace_shipped_traces)
{
	struct counts c;

	count_file("traces/sort.lackey.zst", &c);
	ck_assert_uint_eq(c.lines, 4411764);
	CK_COUNTS(c, 3139999, 836222, 420810, 14532, 13, 2, 3, 0, 1);
	count_file("traces/gzip.lackey.zst", &c);
	ck_assert_uint_eq(c.lines, 4694655);
	CK_COUNTS(c, 3557332, 767533, 356979, 12685, 12, 1, 1, 0, 1);
	count_file("traces/sqlite3.lackey.zst", &c);
	ck_assert_uint_eq(c.lines, 7931868);
	CK_COUNTS(c, 5547064, 1585553, 757760, 41259, 34, 1, 5, 0, 1);
}
END_TEST

static Suite *trace_suite(void)
{
	Suite *s = suite_create("trace");
	TCase *tc = tcase_create("lackey");

	tcase_add_test(tc, test_trace_memory_records);
	tcase_add_test(tc, test_trace_sample_events);
	tcase_add_test(tc, test_trace_syscall_pid_and_failure);
	tcase_add_test(tc, test_trace_async_completion);
	tcase_add_test(tc, test_trace_mremap);
	tcase_add_test(tc, test_trace_clone_fork_exit);
	tcase_add_test(tc, test_trace_final_line_without_newline);
	tcase_add_test(tc, test_trace_malformed_lines);
	tcase_add_test(tc, test_trace_error_is_sticky);
	tcase_add_test(tc, test_trace_long_lines);
	tcase_add_test(tc, test_trace_chunk_boundaries);
	tcase_add_test(tc, test_trace_zstd_equals_plain);
	tcase_add_test(tc, test_trace_truncated_zstd);
	tcase_add_test(tc, test_trace_file_errors);
	tcase_add_test(tc, test_trace_growing_file);
	tcase_add_test(tc, test_trace_checksum);
	tcase_add_test(tc, test_trace_real_thread_and_fork_logs);
	tcase_add_test(tc, test_trace_shipped_traces);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(trace_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
