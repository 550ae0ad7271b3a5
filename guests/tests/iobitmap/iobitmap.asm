; guests/tests/iobitmap/iobitmap.asm — the TSS I/O permission bitmap decides what ring 3 may touch.
;
; What it tests: IN, OUT, INS and OUTS are always allowed when CPL <= IOPL.
; Otherwise the CPU looks in the I/O permission bitmap, which starts at the
; 16-bit offset at byte 0x66 of the current TSS: one bit per port, 0 allows,
; 1 denies. An access of N bytes needs the bits of all N ports clear; the
; CPU reads the map two bytes at a time, so an access whose bits reach past
; the TSS limit is denied, and a map must end with a byte of all ones inside
; the limit. Denied means #GP(0) before anything is read or written (SDM
; Vol. 1, chapter "Input/Output": "I/O Privilege Level" and "I/O Permission
; Bit Map", 19.5.1 and 19.5.2 in recent editions; SDM Vol. 3A 7.2.1, figure
; 7-2). The kernel checks: at CPL 3 with IOPL 0 and a TSS without a bitmap
; everything is denied; at CPL 0 everything is allowed; with a bitmap
; covering ports 0-0x1FF, allowed and denied ports by byte, word and dword,
; accesses straddling an allowed and a denied port (inside one map byte and
; across two), the last port of the map, the terminating byte, ports beyond
; the limit, the immediate-port forms and the string forms; then with IOPL 3
; at CPL 3 every one of the denied ones succeeds. The ports chosen have no
; device on a PC (or are harmless to read: the POST port 0x80).
;
; Read next: guests/tests/README.md, kernel.inc (in_ring3, try).

bits 32
org 0x100000                            ; MULTIBOOT_LOAD_ADDRESS

%define TEST_NAME "iobitmap"
%include "multiboot.inc"
        multiboot_header                ; jump to entry, then the header

%include "serial.inc"                   ; print routines (COM1, port 0xE9)
%include "verdict.inc"                  ; expect, verdict, isa-debug-exit
%include "kernel.inc"                   ; GDT, IDT, TSS, try, in_ring3

; ------------------------------------------------------------------ constants
IO_TSS_SEL      equ FREE_SEL            ; the TSS with a bitmap
IOMAP_OFFSET    equ TSS32_SIZE          ; the map starts right after the TSS fields
IOMAP_PORTS     equ 0x200               ; ports 0-0x1FF have bits
IOMAP_BYTES     equ IOMAP_PORTS / 8
IOMAP_END       equ 0xFF                ; the terminating byte: all denied
IO_TSS_LIMIT    equ IOMAP_OFFSET + IOMAP_BYTES  ; limit = offset of the last byte (the terminator)

PORT_POST       equ 0x80                ; POST diagnostics: allowed
PORT_POST_NEXT  equ 0x81                ; denied (a DMA page register on a PC: read only)
PORT_A          equ 0x100               ; allowed
PORT_B          equ 0x101               ; denied
PORT_STRADDLE   equ 0x104               ; allowed, 0x105 denied: a word access straddles
PORT_WORD       equ 0x106               ; 0x106-0x107 allowed
PORT_DWORD      equ 0x108               ; 0x108-0x10B allowed
PORT_DWORD_BAD  equ 0x10C               ; 0x10C-0x10E allowed, 0x10F denied
PORT_ACROSS     equ 0x117               ; 0x117 and 0x118 allowed: bits in two map bytes
PORT_ACROSS_BAD equ 0x11F               ; 0x11F allowed, 0x120 denied, in two map bytes
PORT_LAST       equ IOMAP_PORTS - 1     ; the map's last port: allowed
PORT_TERMINATOR equ IOMAP_PORTS         ; its bit is in the terminating byte
PORT_BEYOND     equ 0x1000              ; its bit would lie past the TSS limit
PORT_TOP        equ 0xFFFF

ALLOWED         equ 0                   ; the outcomes io_check expects
DENIED          equ 1
SENTINEL        equ 0x5A5A5A5A          ; EAX before a probe: a denied IN must leave it

; io_check routine, port, ALLOWED or DENIED, "what": run a ring-3 probe
; routine with DX = port and judge the outcome.
%macro io_check 4
        mov     esi, %1
        mov     edx, %2
        mov     ebx, %3
        mov     dword [probe_what], %%what
        call    run_io_probe
        jmp     %%after
%%what: db      %4, 0
%%after:
%endmacro

; ------------------------------------------------------------------ entry
entry:
        mov     esp, kernel_stack_top
        call    kernel_init
        println "iobitmap: the TSS I/O permission bitmap and IOPL"

; ------------------------------------------------------------------ no bitmap
; kernel_init's TSS puts the map offset past its limit: with IOPL 0 ring 3
; may use no port at all.
        io_check probe_in_byte, PORT_A, DENIED, "no bitmap, IOPL 0: IN AL, DX"
        io_check probe_in_imm, PORT_POST, DENIED, "no bitmap, IOPL 0: IN AL, 0x80"

; ------------------------------------------------------------------ CPL 0
; CPL 0 <= IOPL 0: the bitmap is not even looked at.
        try     .cpl0_done
        mov     dx, PORT_B
        in      al, dx
.cpl0_done:
        end_try
        expect  dword [fault_vector], NO_FAULT, "CPL 0, IOPL 0: a port the map would deny"

; ------------------------------------------------------------------ the bitmap
; All ports denied, then the allowed ones cleared; the terminating byte
; after the map; the TSS's ring-0 stack like the kernel's; load TR.
        cld
        mov     edi, io_tss + IOMAP_OFFSET
        mov     al, 0xFF
        mov     ecx, IOMAP_BYTES + 1            ; the map and its terminator
        rep     stosb
        mov     eax, PORT_POST
        call    allow_port
        mov     eax, PORT_A
        call    allow_port
        mov     eax, PORT_STRADDLE
        call    allow_port
        mov     eax, PORT_WORD                  ; 0x106, 0x107
        mov     ecx, 2
        call    allow_ports
        mov     eax, PORT_DWORD                 ; 0x108-0x10B
        mov     ecx, 4
        call    allow_ports
        mov     eax, PORT_DWORD_BAD             ; 0x10C-0x10E
        mov     ecx, 3
        call    allow_ports
        mov     eax, PORT_ACROSS                ; 0x117, 0x118
        mov     ecx, 2
        call    allow_ports
        mov     eax, PORT_ACROSS_BAD            ; 0x11F only
        call    allow_port
        mov     eax, PORT_LAST
        call    allow_port

        mov     dword [io_tss + tss32.esp0], ring0_stack_top
        mov     dword [io_tss + tss32.ss0], KERNEL_DS
        mov     word [io_tss + tss32.iomap_base], IOMAP_OFFSET
        set_segment IO_TSS_SEL, io_tss, IO_TSS_LIMIT, ACCESS_TSS, 0
        mov     ax, IO_TSS_SEL
        ltr     ax

; ------------------------------------------------------------------ CPL 3, IOPL 0: the map decides
        io_check probe_in_byte, PORT_A, ALLOWED, "IN AL, DX from an allowed port"
        io_check probe_in_byte, PORT_B, DENIED, "IN AL, DX from a denied port"
        io_check probe_out_byte, PORT_A, ALLOWED, "OUT DX, AL to an allowed port"
        io_check probe_out_byte, PORT_B, DENIED, "OUT DX, AL to a denied port"
        io_check probe_in_imm, PORT_POST, ALLOWED, "IN AL, 0x80 (allowed)"
        io_check probe_in_imm_next, PORT_POST_NEXT, DENIED, "IN AL, 0x81 (denied)"
        io_check probe_in_byte, PORT_STRADDLE, ALLOWED, "IN AL from the allowed half of a pair"
        io_check probe_in_word, PORT_STRADDLE, DENIED, "IN AX straddling an allowed and a denied port"
        io_check probe_in_word, PORT_WORD, ALLOWED, "IN AX from two allowed ports"
        io_check probe_in_dword, PORT_DWORD, ALLOWED, "IN EAX from four allowed ports"
        io_check probe_in_dword, PORT_DWORD_BAD, DENIED, "IN EAX whose fourth port is denied"
        io_check probe_in_word, PORT_ACROSS, ALLOWED, "IN AX with bits in two map bytes, both clear"
        io_check probe_in_word, PORT_ACROSS_BAD, DENIED, "IN AX with bits in two map bytes, second set"
        io_check probe_in_byte, PORT_LAST, ALLOWED, "IN AL from the map's last port"
        io_check probe_in_word, PORT_LAST, DENIED, "IN AX from the last port into the terminator"
        io_check probe_in_byte, PORT_TERMINATOR, DENIED, "IN AL from a port of the terminating byte"
        io_check probe_in_byte, PORT_BEYOND, DENIED, "IN AL from a port beyond the TSS limit"
        io_check probe_in_byte, PORT_TOP, DENIED, "IN AL from port 0xFFFF"
        io_check probe_ins, PORT_A, ALLOWED, "INSB from an allowed port"
        io_check probe_ins, PORT_B, DENIED, "INSB from a denied port"
        io_check probe_outs, PORT_A, ALLOWED, "OUTSB to an allowed port"
        io_check probe_outs, PORT_B, DENIED, "OUTSB to a denied port"

; ------------------------------------------------------------------ CPL 3, IOPL 3: everything
        mov     dword [user_eflags], EFLAGS_FIXED | EFLAGS_IOPL3
        io_check probe_in_byte, PORT_B, ALLOWED, "IOPL 3: IN AL, DX from a denied port"
        io_check probe_out_byte, PORT_B, ALLOWED, "IOPL 3: OUT DX, AL to a denied port"
        io_check probe_in_imm_next, PORT_POST_NEXT, ALLOWED, "IOPL 3: IN AL, 0x81"
        io_check probe_in_word, PORT_STRADDLE, ALLOWED, "IOPL 3: IN AX straddling"
        io_check probe_in_dword, PORT_DWORD_BAD, ALLOWED, "IOPL 3: IN EAX with a denied port"
        io_check probe_in_word, PORT_LAST, ALLOWED, "IOPL 3: IN AX into the terminator"
        io_check probe_in_byte, PORT_BEYOND, ALLOWED, "IOPL 3: IN AL beyond the TSS limit"
        io_check probe_ins, PORT_B, ALLOWED, "IOPL 3: INSB from a denied port"
        mov     dword [user_eflags], EFLAGS_FIXED

        jmp     verdict

; ------------------------------------------------------------------ helpers
; allow_port: clear the bit of port EAX. allow_ports: ECX ports from EAX.
allow_port:
        push    ecx
        mov     ecx, 1
        call    allow_ports
        pop     ecx
        ret
allow_ports:
        push    eax
        push    ecx
.next:
        btr     [io_tss + IOMAP_OFFSET], eax    ; bit EAX of the map, counted from its first byte
        inc     eax
        loop    .next
        pop     ecx
        pop     eax
        ret

; run_io_probe: ESI = ring-3 probe routine, EDX = port, EBX = ALLOWED or
; DENIED, probe_what = what it is. A denial must be #GP(0) at the I/O
; instruction with EAX untouched; an allowed access must not fault.
run_io_probe:
        pushad
        mov     edi, io_buffer                  ; where INSB stores
        mov     eax, SENTINEL
        try     probe_resume
        in_ring3 esi
        end_try
        mov     [probe_eax], eax
        cmp     ebx, ALLOWED
        jne     .denied
        cmp     dword [fault_vector], NO_FAULT
        jne     .wrong
        call    pass_check
        jmp     .out
.denied:
        cmp     dword [fault_vector], VEC_GP
        jne     .wrong
        cmp     dword [fault_error], 0
        jne     .wrong
        cmp     [fault_eip], esi                ; the I/O instruction: the routine's first
        jne     .wrong
        cmp     dword [probe_eax], SENTINEL
        jne     .wrong
        call    pass_check
        jmp     .out
.wrong:
        call    fail_check
        print   "mismatch: "
        push    esi
        mov     esi, [probe_what]
        call    puts
        pop     esi
        print   " (port "
        print_hex edx
        print   "): got "
        cmp     dword [fault_vector], NO_FAULT
        jne     .fault
        print   "no fault"
        jmp     .expected
.fault:
        print   "vector "
        print_dec [fault_vector]
        print   " error "
        print_hex [fault_error]
        print   " at "
        print_hex [fault_eip]
        print   " EAX "
        print_hex [probe_eax]
.expected:
        cmp     ebx, ALLOWED
        jne     .expected_gp
        println ", expected no fault"
        jmp     .out
.expected_gp:
        println ", expected #GP(0) at the I/O instruction, EAX untouched"
.out:
        popad
        ret

; ------------------------------------------------------------------ ring-3 probes
; Each makes one I/O access as its first instruction; a fault resumes at
; probe_resume, whose RET leaves ring 3 the same way.
probe_in_byte:
        in      al, dx
        ret
probe_in_word:
        in      ax, dx
        ret
probe_in_dword:
        in      eax, dx
        ret
probe_out_byte:
        out     dx, al
        ret
probe_in_imm:
        in      al, PORT_POST
        ret
probe_in_imm_next:
        in      al, PORT_POST_NEXT
        ret
probe_ins:
        insb                                    ; ES:EDI = io_buffer
        ret
probe_outs:
        outsb                                   ; DS:ESI = this code: any byte will do
        ret
probe_resume:
        ret

        align   16
image_end:

; ------------------------------------------------------------------ bss
section .bss
        alignb  4
probe_what:     resd 1
probe_eax:      resd 1
io_buffer:      resd 1
        alignb  16
io_tss:         resb IOMAP_OFFSET + IOMAP_BYTES + 1     ; TSS, bitmap, terminator
bss_end:
