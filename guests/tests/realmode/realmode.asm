; guests/tests/realmode/realmode.asm — down to real mode and back up to protected mode.
;
; What it tests: the mode switches of SDM Vol. 3A 9.9, "Mode Switching".
; Leaving protected mode (9.9.2) goes through 16-bit protected mode: jump
; to a code segment with a 64 KiB limit, load the data segment registers
; from a 16-bit, 64 KiB, writable descriptor (real mode keeps those limits),
; load a real-mode IDTR (the interrupt vector table at 0), clear CR0.PE and
; far-jump, which loads CS the real-mode way: selector = paragraph, base =
; selector * 16. In real mode (SDM Vol. 3A 20.1, "Real-Address Mode") an
; address is segment * 16 + offset, offsets wrap at 64 KiB, and INT n takes
; a four-byte vector from the IVT and pushes FLAGS, CS and IP, clearing IF
; (20.1.4). Address line 20 is gated: with the gate closed (port 0x92 bit
; 1 clear, the PS/2 "fast A20"), FFFF:0010 and above wrap around to 0 as on
; an 8086; open, they reach the first 64 KiB above 1 MiB. Entering
; protected mode (9.9.1) sets CR0.PE and must be followed at once by a far
; jump that loads CS from the GDT. The real-mode code records what it sees;
; back in protected mode the kernel compares. An exception in real mode goes
; through IVT stubs that bring the kernel back to protected mode to report it.
;
; Read next: guests/tests/README.md, kernel.inc (the GDT), and the PS/2
; "System Control Port A" (port 0x92) description.

bits 32
org 0x100000                            ; MULTIBOOT_LOAD_ADDRESS

%define TEST_NAME "realmode"
%include "multiboot.inc"
        multiboot_header                ; jump to entry, then the header

%include "serial.inc"                   ; print routines (COM1, port 0xE9)
%include "verdict.inc"                  ; expect, verdict, isa-debug-exit
%include "kernel.inc"                   ; GDT, IDT, exception catching

; ------------------------------------------------------------------ constants
CODE16_SEL      equ FREE_SEL            ; 16-bit code, base REAL_BASE, limit 64 KiB
DATA16_SEL      equ FREE_SEL + 0x08     ; 16-bit data, the same
REAL_SEG        equ 0x1000              ; the real-mode code's segment ...
REAL_BASE       equ REAL_SEG * 16       ; ... at physical 64 KiB, copied there
REAL_STACK_TOP  equ 0xF000              ; SP in that segment
SEGMENT_LIMIT   equ 0xFFFF              ; 64 KiB: what real mode expects

IVT_LIMIT       equ 256 * 4 - 1         ; 256 vectors of offset:segment
TEST_VECTOR     equ 0x60                ; the real-mode interrupt the kernel installs
RM_FLAGS_IF     equ 1 << 9              ; FLAGS.IF, the same bit as in EFLAGS

SEG_A           equ 0x1234              ; segment arithmetic: 1234:0010 and
SEG_B           equ 0x1235              ; 1235:0000 are both physical 0x12350
SEG_BYTE        equ 0x5A
SEG_PHYSICAL    equ SEG_B * 16
WRAP_BYTE       equ 0xC3                ; at wrap_target, reached from 0xFFFF + (wrap_target + 1)

PORT92          equ 0x92                ; System Control Port A
PORT92_A20      equ 1 << 1              ; A20 gate open
PORT92_RESET    equ 1 << 0              ; fast reset: never written as 1 here
HMA_SEG         equ 0xFFFF              ; FFFF:0010 is physical 1 MiB
A20_PROBE       equ 0x0600              ; physical 0x600 and, 1 MiB higher, 0x100600
A20_PROBE_HIGH  equ 0x100000 + A20_PROBE

; A real-mode variable seen from protected mode, where the copy lives.
%define RM(var) (REAL_BASE + (var))

; ------------------------------------------------------------------ entry
entry:
        mov     esp, kernel_stack_top
        call    kernel_init
        println "realmode: protected mode to real mode and back"

; ------------------------------------------------------------------ preparing the way down
; The 16-bit descriptors; the real-mode code copied to REAL_BASE; the GDTR
; given to it for the way back up; the two A20 probe values, which differ.
        set_segment CODE16_SEL, REAL_BASE, SEGMENT_LIMIT, ACCESS_CODE0, FLAGS_16
        set_segment DATA16_SEL, REAL_BASE, SEGMENT_LIMIT, ACCESS_DATA0, FLAGS_16
        cld
        mov     esi, image_end - REAL_SIZE      ; where the loader put the .realmode section
        mov     edi, REAL_BASE
        mov     ecx, REAL_SIZE
        rep     movsb
        sgdt    [RM(real_gdtr)]
        mov     eax, [A20_PROBE_HIGH]           ; whatever the kernel has there
        mov     [RM(a20_high)], eax
        not     eax
        mov     [A20_PROBE], eax                ; the low copy: surely different
        mov     [RM(a20_low)], eax

; ------------------------------------------------------------------ down
; Interrupts stay off. Keep the kernel's stack pointer, then jump into the
; 16-bit code segment (step 3 of SDM 9.9.2); the rest is 16-bit code below.
        cli
        mov     [saved_esp], esp
        jmp     CODE16_SEL:pm16_entry

; ------------------------------------------------------------------ back in protected mode
; real_to_protected far-jumps here with CR0.PE set: reload the data segment
; registers, the stack and the IDT (SDM 9.9.1 steps 5-8), then judge.
pm32_return:
        mov     ax, KERNEL_DS
        mov     ds, ax
        mov     es, ax
        mov     fs, ax
        mov     gs, ax
        mov     ss, ax
        mov     esp, [saved_esp]
        lidt    [idt_descriptor]
        println "back in protected mode"

        movzx   eax, byte [RM(rm_exception)]
        test    eax, eax
        jz      .no_exception
        print   "unexpected real-mode exception "
        dec     eax
        print_dec eax
        print   " at "
        movzx   eax, word [RM(rm_exception_cs)]
        print_hex eax
        print   ":"
        movzx   eax, word [RM(rm_exception_ip)]
        print_hex eax
        println ""
        jmp     fail_now
.no_exception:

        ; The mode itself.
        mov     eax, [RM(rm_cr0)]
        and     eax, CR0_PE
        expect  eax, 0, "real mode: CR0.PE clear"
        movzx   eax, word [RM(rm_cs)]
        expect  eax, REAL_SEG, "real mode: CS after the far jump"
        xor     eax, eax
        mov     ax, cs
        expect  eax, KERNEL_CS, "protected mode again: CS from the GDT"
        mov     eax, cr0
        and     eax, CR0_PE
        expect  eax, CR0_PE, "protected mode again: CR0.PE set"

        ; Segment arithmetic.
        movzx   eax, byte [SEG_PHYSICAL]
        expect  eax, SEG_BYTE, "1234:0010 wrote physical 0x12350"
        movzx   eax, byte [RM(rm_seg_read)]
        expect  eax, SEG_BYTE, "1235:0000 read the byte 1234:0010 wrote"
        movzx   eax, byte [RM(rm_wrap_read)]
        expect  eax, WRAP_BYTE, "a 16-bit offset 0xFFFF + (x + 1) wraps to x"

        ; The interrupt through the IVT.
        movzx   eax, word [RM(rm_int_count)]
        expect  eax, 1, "INT 0x60 ran the IVT handler once"
        movzx   eax, word [RM(rm_int_cs)]
        expect  eax, REAL_SEG, "INT 0x60: handler CS from the IVT"
        movzx   eax, word [RM(rm_int_pushed_ip)]
        expect  eax, rm_after_int, "INT 0x60: pushed IP = the next instruction"
        movzx   eax, word [RM(rm_int_pushed_cs)]
        expect  eax, REAL_SEG, "INT 0x60: pushed CS"
        movzx   eax, word [RM(rm_int_pushed_flags)]
        and     eax, RM_FLAGS_IF
        expect  eax, RM_FLAGS_IF, "INT 0x60: pushed FLAGS with IF set"
        movzx   eax, word [RM(rm_int_flags)]
        and     eax, RM_FLAGS_IF
        expect  eax, 0, "INT 0x60: IF clear in the handler"
        movzx   eax, word [RM(rm_int_sp)]
        movzx   ecx, word [RM(rm_sp_before_int)]
        sub     ecx, 6
        expect  eax, ecx, "INT 0x60: three words pushed"
        movzx   eax, word [RM(rm_sp_after_int)]
        movzx   ecx, word [RM(rm_sp_before_int)]
        expect  eax, ecx, "IRET: SP back"

        ; The A20 gate.
        movzx   eax, byte [RM(rm_port92_initial)]
        and     eax, PORT92_A20
        expect  eax, PORT92_A20, "port 0x92: A20 open at start"
        movzx   eax, byte [RM(rm_port92_closed)]
        and     eax, PORT92_A20
        expect  eax, 0, "port 0x92: A20 reads back closed"
        expect  dword [RM(rm_hma_open)], dword [RM(a20_high)], "A20 open: FFFF:0610 is physical 0x100600"
        expect  dword [RM(rm_hma_closed)], dword [RM(a20_low)], "A20 closed: FFFF:0610 wraps to physical 0x600"
        expect  dword [RM(rm_hma_reopened)], dword [RM(a20_high)], "A20 open again: 0x100600"
        in      al, PORT92
        and     eax, PORT92_A20
        expect  eax, PORT92_A20, "port 0x92: A20 open again in protected mode"

        jmp     verdict

        align   16

; ==================================================================== the 16-bit code
; Copied to REAL_BASE and run there; its labels count from 0 (vstart), the
; offset within REAL_SEG and within the 16-bit segments, which share the base.
section .realmode follows=.text align=16 vstart=0
bits 16
real_start:

; ------------------------------------------------------------------ 16-bit protected mode
; CS is CODE16_SEL: 16-bit, 64 KiB. Load the other segment registers with
; the 16-bit data descriptor (step 4), the IVT as IDT (step 5), clear PE
; (step 6) and far-jump to real mode (step 7).
pm16_entry:
        mov     ax, DATA16_SEL
        mov     ds, ax
        mov     es, ax
        mov     fs, ax
        mov     gs, ax
        mov     ss, ax
        mov     sp, REAL_STACK_TOP
        lidt    [real_idtr]
        mov     eax, cr0
        and     eax, ~CR0_PE
        mov     cr0, eax
        jmp     REAL_SEG:real_entry

; ------------------------------------------------------------------ real mode
; CS = REAL_SEG now; the other segments are made to match (step 8).
real_entry:
        mov     ax, cs
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        mov     sp, REAL_STACK_TOP
        mov     [rm_cs], ax
        mov     eax, cr0
        mov     [rm_cr0], eax

        ; The IVT: vectors 0-31 to the stubs below, TEST_VECTOR to rm_handler.
        ; Entry n is at 0000:n*4, offset then segment.
        xor     ax, ax
        mov     es, ax
        xor     bx, bx
        mov     si, rm_stubs
.ivt:
        mov     ax, [si]
        mov     [es:bx], ax
        mov     word [es:bx + 2], REAL_SEG
        add     si, 2
        add     bx, 4
        cmp     bx, EXCEPTION_VECTORS * 4
        jb      .ivt
        mov     word [es:TEST_VECTOR * 4], rm_handler
        mov     word [es:TEST_VECTOR * 4 + 2], REAL_SEG

; ------------------------------------------------------------------ segment arithmetic
; Write through 1234:0010, read through 1235:0000: the same byte. Then an
; offset computed as 0xFFFF + (wrap_target + 1) wraps inside the 64 KiB
; segment to wrap_target.
        mov     ax, SEG_A
        mov     es, ax
        mov     byte [es:0x0010], SEG_BYTE
        mov     ax, SEG_B
        mov     es, ax
        mov     al, [es:0x0000]
        mov     [rm_seg_read], al
        mov     bx, 0xFFFF
        mov     si, wrap_target + 1
        mov     al, [bx + si]                   ; DS:(0xFFFF + wrap_target + 1) mod 64 KiB
        mov     [rm_wrap_read], al

; ------------------------------------------------------------------ an interrupt through the IVT
; With IF set (every IRQ is masked at the PICs), INT pushes FLAGS, CS, IP.
        mov     [rm_sp_before_int], sp
        sti
        int     TEST_VECTOR
rm_after_int:
        cli
        mov     [rm_sp_after_int], sp

; ------------------------------------------------------------------ the A20 gate
; Read FFFF:(A20_PROBE + 0x10) — physical 1 MiB + A20_PROBE while the gate
; is open — then close the gate and read again, then open it. Nothing runs
; above 1 MiB meanwhile: this code is at 64 KiB.
        in      al, PORT92
        mov     [rm_port92_initial], al
        mov     ax, HMA_SEG
        mov     es, ax
        mov     eax, [es:A20_PROBE + 0x10]
        mov     [rm_hma_open], eax
        in      al, PORT92
        and     al, ~(PORT92_A20 | PORT92_RESET)
        out     PORT92, al
        in      al, PORT92
        mov     [rm_port92_closed], al
        mov     eax, [es:A20_PROBE + 0x10]
        mov     [rm_hma_closed], eax
        in      al, PORT92
        or      al, PORT92_A20
        and     al, ~PORT92_RESET
        out     PORT92, al
        mov     eax, [es:A20_PROBE + 0x10]
        mov     [rm_hma_reopened], eax

; ------------------------------------------------------------------ up again
; real_to_protected: load the GDTR (32-bit base: an operand-size prefix),
; set CR0.PE, and far-jump with a 32-bit offset into the kernel's code
; segment (SDM 9.9.1 steps 2-4).
real_to_protected:
        cli
        o32 lgdt [real_gdtr]
        mov     eax, cr0
        or      eax, CR0_PE
        mov     cr0, eax
        jmp     dword KERNEL_CS:pm32_return

; ------------------------------------------------------------------ the IVT handler
; rm_handler: record the stack INT built (IP, CS, FLAGS from SP up), the
; CS it runs with and FLAGS inside; count; IRET.
rm_handler:
        push    bp
        mov     bp, sp
        push    ax
        mov     ax, [bp + 2]
        mov     [rm_int_pushed_ip], ax
        mov     ax, [bp + 4]
        mov     [rm_int_pushed_cs], ax
        mov     ax, [bp + 6]
        mov     [rm_int_pushed_flags], ax
        lea     ax, [bp + 2]
        mov     [rm_int_sp], ax
        mov     [rm_int_cs], cs
        pushf
        pop     ax
        mov     [rm_int_flags], ax
        inc     word [rm_int_count]
        pop     ax
        pop     bp
        iret

; ------------------------------------------------------------------ unexpected exceptions
; One stub per vector 0-31 pushes its number; rm_unexpected records vector
; + 1 and the faulting CS:IP and goes back to protected mode to say so.
%macro rm_stub 1
rm_stub_%1:
        push    word %1
        jmp     rm_unexpected
%endmacro
%assign vector 0
%rep EXCEPTION_VECTORS
        rm_stub vector
%assign vector vector + 1
%endrep

rm_stubs:
%assign vector 0
%rep EXCEPTION_VECTORS
        dw      rm_stub_ %+ vector
%assign vector vector + 1
%endrep

rm_unexpected:
        mov     ax, REAL_SEG
        mov     ds, ax
        mov     bp, sp
        mov     ax, [bp]                        ; vector
        inc     ax
        mov     [rm_exception], al
        mov     ax, [bp + 2]
        mov     [rm_exception_ip], ax
        mov     ax, [bp + 4]
        mov     [rm_exception_cs], ax
        jmp     real_to_protected

; ------------------------------------------------------------------ real-mode data
        align   4
real_idtr:      dw IVT_LIMIT, 0, 0      ; the IVT: limit, base 0
real_gdtr:      dw 0, 0, 0              ; SGDT's copy of the kernel's GDTR
a20_high:       dd 0                    ; set by the kernel: the dword at 0x100600
a20_low:        dd 0                    ; and the different one it put at 0x600
rm_cr0:         dd 0                    ; what real mode saw
rm_hma_open:    dd 0
rm_hma_closed:  dd 0
rm_hma_reopened: dd 0
rm_cs:          dw 0
rm_int_count:   dw 0
rm_int_cs:      dw 0
rm_int_pushed_ip: dw 0
rm_int_pushed_cs: dw 0
rm_int_pushed_flags: dw 0
rm_int_flags:   dw 0
rm_int_sp:      dw 0
rm_sp_before_int: dw 0
rm_sp_after_int: dw 0
rm_exception_ip: dw 0
rm_exception_cs: dw 0
rm_exception:   db 0                    ; 0, or 1 + the vector of an exception
rm_seg_read:    db 0
rm_wrap_read:   db 0
wrap_target:    db WRAP_BYTE
rm_port92_initial: db 0
rm_port92_closed: db 0
        align   16
real_end:
REAL_SIZE       equ real_end - real_start

; ------------------------------------------------------------------ the end of the file
section .tail follows=.realmode align=16
image_end:

section .bss
        alignb  4
saved_esp:      resd 1
bss_end:
