/* Start-up code of the bare-metal I/O-loop variant (kvm_io.c), entered in
 * 64-bit mode at CPL 0 with paging on, RDI = struct wl_args *, RSP set by
 * the host (tests/kvm_crosscheck.c); ends in the HLT at __wl_final_hlt. */
	.section .wl_header, "a"
	.quad 0x31474d494c575456 /* WL_MAGIC "VTWLIMG1" */
	.quad __wl_load, _start, 0, __wl_file_end, __wl_mem_end, __wl_final_hlt, 0

	.text
	.globl _start
_start:
	and $-16, %rsp
	call wl_kvm_main
	.globl __wl_final_hlt
__wl_final_hlt:
	hlt
	jmp __wl_final_hlt
