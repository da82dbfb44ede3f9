/* Start-up code of a user workload image (guest ABI: workloads/guest.h). */
	.section .wl_header, "a"
	.quad 0x31474d494c575456 /* WL_MAGIC "VTWLIMG1" */
	.quad __wl_load, _start, __wl_child, __wl_file_end, __wl_mem_end, 0, 0

	.text
	.globl _start
/* RDI = struct wl_args *: exit(wl_main(args)). */
_start:
	and $-16, %rsp
	call wl_main
	mov %rax, %rdi
	mov $0, %eax /* WL_SYS_EXIT */
	syscall
	ud2

/* A spawned process: RDI = fn, RSI = arg: exit(fn(arg)). */
	.globl __wl_child
__wl_child:
	and $-16, %rsp
	mov %rdi, %rax
	mov %rsi, %rdi
	call *%rax
	mov %rax, %rdi
	mov $0, %eax /* WL_SYS_EXIT */
	syscall
	ud2
