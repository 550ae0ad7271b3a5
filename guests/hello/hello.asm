; guests/hello/hello.asm — the smallest bare-metal kernel: say hello, then leave.
;
; What it shows: how a kernel gets control and talks to the outside world
; with nothing but the CPU and two I/O ports. A multiboot v1 loader (QEMU's
; -kernel, v86, xenoscope's bare machine) copies this file to 1 MiB and jumps
; to its entry in 32-bit protected mode with paging off and flat segments.
; The kernel writes its greeting to the first serial port (COM1, a 16550
; UART at 0x3F8) and to the debug port 0xE9, which emulators print directly,
; then writes to the isa-debug-exit port 0xF4 so the machine exits with a
; status the host can check: ((0 << 1) | 1) = 1 means "reached the end".
;
; Read next: the multiboot v1 specification, section 3.1 (the header), and
; the 16550 data sheet for the line status register (LSR) bits.

bits 32
org 0x100000                    ; the multiboot loader puts us at 1 MiB

; ------------------------------------------------------------------ constants
MB_MAGIC        equ 0x1BADB002  ; multiboot v1 header magic
MB_AOUT_KLUDGE  equ 1 << 16     ; "load addresses are in this header"
MB_FLAGS        equ MB_AOUT_KLUDGE

COM1            equ 0x3F8       ; 16550 UART: transmit holding register (THR)
COM1_LSR        equ COM1 + 5    ; line status register
LSR_THR_EMPTY   equ 1 << 5      ; the UART can take another byte
DEBUG_PORT      equ 0xE9        ; emulator debug console (Bochs, QEMU, v86)
DEBUG_EXIT_PORT equ 0xF4        ; isa-debug-exit: the host exits with (v << 1) | 1

STACK_SIZE      equ 4096

; ------------------------------------------------------------------ header
; The loader scans the first 8 KiB for this header. With the a.out kludge it
; needs no ELF parser: the header says where the file goes and where to jump.
; The first bytes are a jump over the header, so a loader that just copies
; the file to 1 MiB and jumps to its start works as well.
image_start:
        jmp     entry

        align   4
multiboot_header:
        dd      MB_MAGIC
        dd      MB_FLAGS
        dd      -(MB_MAGIC + MB_FLAGS)  ; magic + flags + checksum = 0 (mod 2^32)
        dd      multiboot_header        ; header_addr: where this header is loaded
        dd      image_start             ; load_addr: where the file starts
        dd      image_end               ; load_end_addr: end of what to copy
        dd      bss_end                 ; bss_end_addr: the loader zeroes up to here
        dd      entry                   ; entry_addr

; ------------------------------------------------------------------ entry
; EAX holds 0x2BADB002 and EBX the multiboot information structure; we need
; neither. Interrupts are off (IF=0) and stay off: this kernel never takes one.
entry:
        mov     esp, stack_top          ; the loader gives no stack: make our own
        mov     esi, greeting
        call    print
        mov     al, 0                   ; exit status 0 → host status 1
        out     DEBUG_EXIT_PORT, al
        ; On a machine without isa-debug-exit, stop here for good: with IF=0
        ; nothing can wake a halted CPU but an NMI, and then we halt again.
.halt:
        cli
        hlt
        jmp     .halt

; ------------------------------------------------------------------ console
; print: write the NUL-terminated string at ESI to COM1 and the debug port.
print:
        lodsb                           ; AL = [ESI], ESI += 1 (DF=0 from the loader)
        test    al, al
        jz      .done
        call    putc
        jmp     print
.done:
        ret

; putc: write AL to both consoles. A real UART takes a byte only when its
; transmit register is empty (LSR bit 5), so poll for that first; the wait is
; bounded so a machine without a UART cannot hang us.
putc:
        push    ecx
        push    edx
        mov     ah, al                  ; keep the byte: IN overwrites AL
        mov     ecx, 100000
        mov     dx, COM1_LSR
.wait:
        in      al, dx
        test    al, LSR_THR_EMPTY
        jnz     .ready
        loop    .wait
.ready:
        mov     al, ah
        mov     dx, COM1
        out     dx, al
        out     DEBUG_PORT, al
        pop     edx
        pop     ecx
        ret

; ------------------------------------------------------------------ data
greeting:
        db      "Hello from xenoscope's hello guest.", 10, 0

        align   16
image_end:

; ------------------------------------------------------------------ bss
; Reserved, not stored in the file: the loader zeroes it (bss_end_addr).
section .bss
        alignb  16
stack:  resb    STACK_SIZE
stack_top:
bss_end:
