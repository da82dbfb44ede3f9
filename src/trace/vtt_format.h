/*
 * The .vtt trace format on disk: byte layouts and record types, shared by
 * the reader (vtt_read.c) and the writer (vtt_write.c). The prose
 * definition, with examples, is docs/trace-format.md; this header and that
 * page must say the same thing.
 *
 * A file is
 *
 *   [ header, VTT_HEADER_LEN bytes ][ stream 0 ][ stream 1 ] ... [ index ]
 *
 * every multi-byte integer of the header and the index little-endian; each
 * stream is one zstd frame holding the records of one process; the index
 * (trailer) locates every stream and ends the file with VTT_END_MAGIC.
 */
#ifndef VTSIM_TRACE_VTT_FORMAT_H
#define VTSIM_TRACE_VTT_FORMAT_H

#include <stdint.h>

/* ---- header ------------------------------------------------------------ */

/* First 8 bytes: 0x89 'V' 'T' 'T' CR LF SUB LF (PNG's idea: a byte above
 * 0x7f and both line endings catch 7-bit and text-mode transfers). The
 * first 4 alone identify a .vtt to format detection. */
#define VTT_MAGIC "\x89VTT\r\n\x1a\n"
#define VTT_MAGIC_LEN 8u
#define VTT_SNIFF_LEN 4u

/* Version: a reader reads every file of its major version (minor versions
 * only add record types or header fields it can ignore: header_len says
 * where the first stream starts); another major version is refused. */
#define VTT_VERSION_MAJOR 1u
#define VTT_VERSION_MINOR 0u

/*
 * Header, VTT_HEADER_LEN (48) bytes at file byte 0:
 *   [ 0: 8] magic            VTT_MAGIC
 *   [ 8:10] version major    VTT_VERSION_MAJOR
 *   [10:12] version minor    VTT_VERSION_MINOR
 *   [12:16] header_len       bytes before the first stream (48 in 1.0; >= 48)
 *   [16:20] root pid         the first process (has a stream)
 *   [20:24] flags            0 (no flag defined; a reader refuses others)
 *   [24:32] source checksum  XXH3-64 of the source as vtsim names it (file
 *                            bytes, or a trace set's traceset_checksum)
 *   [32:48] source format    ASCII, NUL-padded ("lackey+zstd", "lackey set")
 */
#define VTT_HEADER_LEN 48u
#define VTT_H_MAGIC 0u
#define VTT_H_MAJOR 8u
#define VTT_H_MINOR 10u
#define VTT_H_LEN 12u
#define VTT_H_ROOT 16u
#define VTT_H_FLAGS 20u
#define VTT_H_SRC_SUM 24u
#define VTT_H_SRC_FMT 32u
#define VTT_SRC_FMT_LEN 16u
_Static_assert(VTT_H_SRC_FMT + VTT_SRC_FMT_LEN == VTT_HEADER_LEN, "header fields fill the header");

/* ---- index (trailer) ----------------------------------------------------- */

/*
 * Index, at the end of the file:
 *   [ 0: 4] stream count N (>= 1)
 *   [ 4: 8] reserved, 0
 *   [ 8: 8 + 48 N] N entries, in file order:
 *      [ 0: 4] pid              the process whose records the stream holds
 *      [ 4: 8] reserved, 0
 *      [ 8:16] offset           file byte of the stream's zstd frame
 *      [16:24] compressed       bytes of the frame
 *      [24:32] record bytes     bytes the frame decompresses to
 *      [32:40] events           guest events in it (records but PID and END)
 *      [40:48] XXH3-64          of its record bytes
 *   then the footer, VTT_FOOTER_LEN (24) bytes:
 *      [ 0: 8] XXH3-64 of the header (header_len bytes) followed by the
 *              index bytes before this field
 *      [ 8:16] index length     bytes from the index's first byte to the
 *                               end of the file (8 + 48 N + 24)
 *      [16:24] VTT_END_MAGIC
 * Streams are contiguous: the first starts at header_len, each next one
 * where the previous ends, the index where the last ends; pids are
 * distinct and non-zero; the root has a stream.
 */
#define VTT_INDEX_HEAD_LEN 8u
#define VTT_ENTRY_LEN 48u
#define VTT_FOOTER_LEN 24u
#define VTT_END_MAGIC "VTTINDEX"

/* ---- records ------------------------------------------------------------- */

/*
 * A stream's records, after decompression: a tag byte, then its fields as
 * unsigned LEB128 varints (7 bits a byte, low group first, bit 7 = more; at
 * most 10 bytes, value < 2^64). The record stream of a process starts with
 * the reader's state zeroed (current pid = the stream's pid, both address
 * predictions 0) and ends with VTT_REC_END, its last byte.
 *
 * Memory references (the bulk), tags 0x00-0x4f:
 *   tag [7:6] | 00 = explicit address, 01 = sequential fetch (tags 0x40-0x4f)
 *       [5:4] | kind: 0 fetch, 1 load, 2 store, 3 modify (explicit only)
 *       [3:0] | size in bytes 1..15; 0: the size follows as a varint
 *   explicit: [size varint if [3:0] = 0] delta varint, zigzag-coded
 *             (d >= 0 -> 2d, d < 0 -> -2d - 1): the GVA minus the
 *             prediction of its class, modulo 2^64;
 *   sequential fetch: [size varint if [3:0] = 0]; GVA = the prediction.
 *   Predictions: a fetch's is the previous fetch's GVA + size (the next
 *   instruction), a load's, store's or modify's the previous data
 *   reference's GVA. Sizes are 1..4096 bytes. The pid is the current pid.
 */
#define VTT_TAG_MEM_MASK 0xc0u
#define VTT_TAG_MEM 0x00u
#define VTT_TAG_SEQ_FETCH 0x40u
#define VTT_TAG_SEQ_LAST 0x4fu
#define VTT_TAG_KIND_SHIFT 4
#define VTT_TAG_SIZE_MASK 0x0fu
#define VTT_MEM_SIZE_MAX 4096u

/*
 * Other records, one tag each; fields in this order, each a varint. The pid
 * field is the event's pid (for PROC_CREATE the new process's); PID sets
 * the pid of the memory references that follow.
 */
enum vtt_rec {
	VTT_REC_PID = 0x80,         /* pid */
	VTT_REC_MMAP = 0x81,        /* pid, gva, len, prot (the event's arg: PROT_* | GEV_MMAP_* flags) */
	VTT_REC_MUNMAP = 0x82,      /* pid, gva, len */
	VTT_REC_BRK = 0x83,         /* pid, gva (the new break) */
	VTT_REC_PROC_CREATE = 0x84, /* pid (the child), parent pid, flags (1 = thread) */
	VTT_REC_PROC_EXIT = 0x85,   /* pid */
	VTT_REC_WAIT = 0x86,        /* pid, child pid (0 = any), flags (1 = WNOHANG) */
	VTT_REC_EXEC = 0x87,        /* pid */
	VTT_REC_CPUID = 0x88,       /* pid, leaf (EAX) */
	VTT_REC_IO = 0x89,          /* pid, port, size (1, 2, 4), direction (1 = IN), value written by OUT */
	VTT_REC_DEVIO = 0x8a,       /* pid, operation (enum gev_devio_op), buffer gva, len, sector (GEV_DEVIO's size) */
	VTT_REC_HLT = 0xa2,         /* pid (GEV_HLT; in the 0xa0 block, executable since the Unicorn front end) */
	VTT_REC_MMIO = 0xa3,        /* pid, gva, size (1, 2, 4, 8), direction (1 = read), value written, instruction
				     * length (1..15) (GEV_MMIO; executable since the device models) */
	/*
	 * Defined for the execution-driven front end and the VT-d work; this
	 * vtsim cannot execute them yet, and its reader stops with an error
	 * naming the record (never skips one):
	 */
	VTT_REC_CR3_LOAD = 0xa0,    /* pid, new CR3 value */
	VTT_REC_INVLPG = 0xa1,      /* pid, gva */
	VTT_REC_DMA = 0xa4,         /* source-id (bus << 8 | dev << 3 | fn), IOVA, len, direction (1 = to memory) */
	VTT_REC_INTERRUPT = 0xa5,   /* vector, source-id (0 = not a device) */
	VTT_REC_INSNS = 0xa6,       /* pid, count of instructions executed without fetch records */
	VTT_REC_END = 0xff,         /* none: the stream's last record */
};

/* Each stream's zstd frame needs a window of at most 2^22 bytes (4 MiB):
 * the writer sets it, the reader refuses frames that need more, so one
 * open stream costs a bounded amount of memory. */
#define VTT_WINDOW_LOG 22

/* Longest record: a tag and at most six 10-byte varints (MMIO). */
#define VTT_REC_MAX 61u

#endif
