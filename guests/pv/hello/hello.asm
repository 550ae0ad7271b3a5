; guests/pv/hello/hello.asm — the smallest paravirtualized kernel: say hello, power off.
;
; What it shows: a PV kernel never touches a device. The domain builder
; loads this ELF file, reads its Xen notes, fills the hypercall page, builds
; the first page tables and enters `entry` in ring 1 with ESI pointing at
; start_info and a stack ready (XEN-ABI.md 7.2). The kernel then makes two
; hypercalls: console_io to print a line on the hypervisor's console, and
; sched_op(SHUTDOWN) to end the domain with the reason "poweroff". Both are
; near calls into the hypercall page, whose stubs do `int 0x82`.
;
; Read next: guests/include/xen.inc (the hypercall mechanism) and
; guests/include/xen-elf.inc (how the image describes itself).

bits 32
%include "xen.inc"
%include "xen-elf.inc"
org XEN_ELF_BASE

        xen_elf_header
        xen_notes

; ------------------------------------------------------------------ entry
entry:
        ; console_io(CONSOLEIO_write, length, buffer)
        mov     ebx, CONSOLEIO_write
        mov     ecx, greeting_end - greeting
        mov     edx, greeting
        hypercall __HYPERVISOR_console_io

        ; The start_info magic says which ABI the builder set up: print it too.
        mov     ebx, CONSOLEIO_write
        mov     ecx, 15                 ; "xen-3.0-x86_32p"
        lea     edx, [esi + start_info.magic]
        hypercall __HYPERVISOR_console_io
        mov     ebx, CONSOLEIO_write
        mov     ecx, 1
        mov     edx, newline
        hypercall __HYPERVISOR_console_io

        ; sched_op(SCHEDOP_shutdown, &reason): the domain ends here.
        mov     ebx, SCHEDOP_shutdown
        mov     ecx, shutdown_reason
        hypercall __HYPERVISOR_sched_op

        ; A hypervisor that returned from shutdown is broken: stop loudly.
        ud2

greeting:       db "Hello from a PV guest in ring 1", 10
greeting_end:
newline:        db 10
        align 4
shutdown_reason: dd SHUTDOWN_poweroff

; ------------------------------------------------------------------ hypercall page
; The builder overwrites these 4 KiB with one 32-byte stub per hypercall
; (XEN-ABI.md 2.1); the 0xC3 (`ret`) filling is what a kernel would see if
; it did not (XTF checks the first byte for exactly that).
        align   4096, db 0
hypercall_page:
        times   4096 db 0xC3
image_end:

bss_end:
