/*
 * DynamoRIO drmemtrace offline trace records (the final, post-processed
 * format that raw2trace writes into NAME.trace.zip), as vtsim reads them.
 *
 * Source: DynamoRIO clients/drcachesim/common/trace_entry.h (enums
 * trace_type_t, trace_marker_type_t, trace_version_t, offline_file_type_t
 * and struct _trace_entry_t), read at the commit the shared samples come
 * from (05e316505) and checked against those samples. The names here are
 * ours; each value is the one DynamoRIO assigns.
 *
 * A trace file is a zip archive with members chunk.0000, chunk.0001, ...
 * whose concatenation is one thread's record stream. A record (packed
 * trace_entry_t of a 64-bit build, little-endian) is 12 bytes:
 *
 *   [ 1: 0] | type  u16  enum drm_type
 *   [ 3: 2] | size  u16  access size or instruction length in bytes; the
 *           |            marker sub-type (enum drm_marker) of a MARKER; the
 *           |            count of a BUNDLE; encoding bytes of an ENCODING
 *   [11: 4] | addr  u64  address, PC, tid, pid, version or marker value;
 *           |            for a BUNDLE its bytes 0..count-1 are the lengths
 */
#ifndef VTSIM_TRACE_DRMEM_FORMAT_H
#define VTSIM_TRACE_DRMEM_FORMAT_H

#include <stdint.h>

#define DRM_RECORD_BYTES 12

/* trace_type_t */
enum drm_type {
	DRM_READ = 0,                 /* TRACE_TYPE_READ: data load */
	DRM_WRITE = 1,                /* TRACE_TYPE_WRITE: data store */
	DRM_PREFETCH = 2,             /* TRACE_TYPE_PREFETCH */
	DRM_PREFETCHT0 = 3,           /* TRACE_TYPE_PREFETCHT0 (= PREFETCH_READ_L1) */
	DRM_PREFETCHT1 = 4,           /* TRACE_TYPE_PREFETCHT1 (= PREFETCH_READ_L2) */
	DRM_PREFETCHT2 = 5,           /* TRACE_TYPE_PREFETCHT2 (= PREFETCH_READ_L3) */
	DRM_PREFETCHNTA = 6,          /* TRACE_TYPE_PREFETCHNTA */
	DRM_PREFETCH_READ = 7,        /* TRACE_TYPE_PREFETCH_READ (ARM) */
	DRM_PREFETCH_WRITE = 8,       /* TRACE_TYPE_PREFETCH_WRITE (ARM) */
	DRM_PREFETCH_INSTR = 9,       /* TRACE_TYPE_PREFETCH_INSTR (ARM) */
	DRM_INSTR = 10,               /* TRACE_TYPE_INSTR: a non-branch instruction */
	DRM_INSTR_DIRECT_JUMP = 11,   /* TRACE_TYPE_INSTR_DIRECT_JUMP */
	DRM_INSTR_INDIRECT_JUMP = 12, /* TRACE_TYPE_INSTR_INDIRECT_JUMP */
	DRM_INSTR_CONDITIONAL_JUMP = 13, /* TRACE_TYPE_INSTR_CONDITIONAL_JUMP (before version 5) */
	DRM_INSTR_DIRECT_CALL = 14,   /* TRACE_TYPE_INSTR_DIRECT_CALL */
	DRM_INSTR_INDIRECT_CALL = 15, /* TRACE_TYPE_INSTR_INDIRECT_CALL */
	DRM_INSTR_RETURN = 16,        /* TRACE_TYPE_INSTR_RETURN */
	DRM_INSTR_BUNDLE = 17,        /* TRACE_TYPE_INSTR_BUNDLE: size = count, lengths in addr's bytes */
	DRM_INSTR_FLUSH = 18,         /* TRACE_TYPE_INSTR_FLUSH (ARM cacheflush) */
	DRM_INSTR_FLUSH_END = 19,     /* TRACE_TYPE_INSTR_FLUSH_END */
	DRM_DATA_FLUSH = 20,          /* TRACE_TYPE_DATA_FLUSH (x86 CLFLUSH family) */
	DRM_DATA_FLUSH_END = 21,      /* TRACE_TYPE_DATA_FLUSH_END */
	DRM_THREAD = 22,              /* TRACE_TYPE_THREAD: addr = tid */
	DRM_THREAD_EXIT = 23,         /* TRACE_TYPE_THREAD_EXIT: addr = tid */
	DRM_PID = 24,                 /* TRACE_TYPE_PID: addr = pid */
	DRM_HEADER = 25,              /* TRACE_TYPE_HEADER: addr = version (trace_version_t) */
	DRM_FOOTER = 26,              /* TRACE_TYPE_FOOTER: the last record */
	DRM_HARDWARE_PREFETCH = 27,   /* TRACE_TYPE_HARDWARE_PREFETCH (added by cache simulators) */
	DRM_MARKER = 28,              /* TRACE_TYPE_MARKER: size = sub-type, addr = value */
	DRM_INSTR_NO_FETCH = 29,      /* TRACE_TYPE_INSTR_NO_FETCH (rep string iterations) */
	DRM_INSTR_MAYBE_FETCH = 30,   /* TRACE_TYPE_INSTR_MAYBE_FETCH (online traces only) */
	DRM_INSTR_SYSENTER = 31,      /* TRACE_TYPE_INSTR_SYSENTER */
	DRM_PREFETCH_FIRST_NT = 32,   /* TRACE_TYPE_PREFETCH_READ_L1_NT ... */
	DRM_PREFETCH_LAST_NT = 46,    /* ... TRACE_TYPE_PREFETCH_WRITE_L3_NT */
	DRM_ENCODING = 47,            /* TRACE_TYPE_ENCODING: instruction bytes of the next instruction */
	DRM_INSTR_TAKEN_JUMP = 48,    /* TRACE_TYPE_INSTR_TAKEN_JUMP */
	DRM_INSTR_UNTAKEN_JUMP = 49,  /* TRACE_TYPE_INSTR_UNTAKEN_JUMP */
	DRM_TYPE_COUNT = 50
};

/* trace_marker_type_t (the size field of a MARKER record) */
enum drm_marker {
	DRM_MK_KERNEL_EVENT = 0,      /* signal delivery: value = interrupted PC */
	DRM_MK_KERNEL_XFER = 1,       /* sigreturn and the like */
	DRM_MK_TIMESTAMP = 2,         /* microseconds since 1601 */
	DRM_MK_CPU_ID = 3,
	DRM_MK_FUNC_ID = 4,
	DRM_MK_FUNC_RETADDR = 5,
	DRM_MK_FUNC_ARG = 6,
	DRM_MK_FUNC_RETVAL = 7,
	DRM_MK_SPLIT_VALUE = 8,       /* raw (not post-processed) traces only */
	DRM_MK_FILETYPE = 9,          /* value = enum drm_filetype bits */
	DRM_MK_CACHE_LINE_SIZE = 10,
	DRM_MK_INSTRUCTION_COUNT = 11,
	DRM_MK_VERSION = 12,
	DRM_MK_RSEQ_ABORT = 13,
	DRM_MK_WINDOW_ID = 14,
	DRM_MK_PHYSICAL_ADDRESS = 15,
	DRM_MK_PHYSICAL_ADDRESS_NOT_AVAILABLE = 16,
	DRM_MK_VIRTUAL_ADDRESS = 17,
	DRM_MK_PAGE_SIZE = 18,
	DRM_MK_SYSCALL_IDX = 19,
	DRM_MK_CHUNK_INSTR_COUNT = 20,
	DRM_MK_CHUNK_FOOTER = 21,     /* the last record of every member but the last */
	DRM_MK_RECORD_ORDINAL = 22,
	DRM_MK_FILTER_ENDPOINT = 23,
	DRM_MK_RSEQ_ENTRY = 24,
	DRM_MK_SYSCALL = 25,          /* value = system call number */
	DRM_MK_MAYBE_BLOCKING_SYSCALL = 26,
	DRM_MK_SYSCALL_TRACE_START = 27, /* kernel instructions of a system call follow */
	DRM_MK_SYSCALL_TRACE_END = 28,
	DRM_MK_BRANCH_TARGET = 29,
	DRM_MK_SYSCALL_FAILED = 30,
	DRM_MK_DIRECT_THREAD_SWITCH = 31,
	DRM_MK_CORE_WAIT = 32,
	DRM_MK_CORE_IDLE = 33,
	DRM_MK_CONTEXT_SWITCH_START = 34, /* kernel context-switch code follows */
	DRM_MK_CONTEXT_SWITCH_END = 35,
	DRM_MK_VECTOR_LENGTH = 36,
	DRM_MK_SYSCALL_UNSCHEDULE = 37,
	DRM_MK_SYSCALL_SCHEDULE = 38,
	DRM_MK_SYSCALL_ARG_TIMEOUT = 39,
	DRM_MK_SIGNAL_NUMBER = 40,
	DRM_MK_UNCOMPLETED_INSTRUCTION = 41, /* value = encoding of an instruction a signal interrupted */
	DRM_MK_KNOWN_COUNT = 42,
	DRM_MK_USER_FIRST = 100       /* TRACE_MARKER_TYPE_RESERVED_END: user markers from here on */
};

/* offline_file_type_t bits (value of the FILETYPE marker) */
#define DRM_FILE_FILTERED UINT64_C(0x1)
#define DRM_FILE_NO_OPTIMIZATIONS UINT64_C(0x2)
#define DRM_FILE_INSTRUCTION_ONLY UINT64_C(0x4)
#define DRM_FILE_ARCH_AARCH64 UINT64_C(0x8)
#define DRM_FILE_ARCH_ARM32 UINT64_C(0x10)
#define DRM_FILE_ARCH_X86_32 UINT64_C(0x20)
#define DRM_FILE_ARCH_X86_64 UINT64_C(0x40)
#define DRM_FILE_IFILTERED UINT64_C(0x80)
#define DRM_FILE_DFILTERED UINT64_C(0x100)
#define DRM_FILE_ENCODINGS UINT64_C(0x200)
#define DRM_FILE_SYSCALL_NUMBERS UINT64_C(0x400)
#define DRM_FILE_BLOCKING_SYSCALLS UINT64_C(0x800)
#define DRM_FILE_KERNEL_SYSCALLS UINT64_C(0x1000)
#define DRM_FILE_BIMODAL_FILTERED_WARMUP UINT64_C(0x2000)

/* The bits a trace vtsim replays may carry: x86-64, unfiltered, user mode
 * only; encodings and system-call markers are allowed (and skipped). */
#define DRM_FILE_ACCEPTED                                                                                   \
	(DRM_FILE_NO_OPTIMIZATIONS | DRM_FILE_INSTRUCTION_ONLY | DRM_FILE_ARCH_X86_64 | DRM_FILE_ENCODINGS | \
	 DRM_FILE_SYSCALL_NUMBERS | DRM_FILE_BLOCKING_SYSCALLS)

/* trace_version_t values read: 2 (no kernel PC) .. 7. The record layout and
 * every record and marker this reader uses are the same across them; the
 * shared samples are versions 4 (simple_app), 6 (allasm) and 7 (threadsig). */
#define DRM_VERSION_MIN 2
#define DRM_VERSION_MAX 7

/* An x86 instruction is at most 15 bytes long (SDM vol. 2, 2.3.11). */
#define DRM_MAX_INSTR_LEN 15

_Static_assert(DRM_MK_KNOWN_COUNT <= DRM_MK_USER_FIRST, "known markers fit below the user range");

#endif
