; guests/tests/smc/smc.asm — self-modifying code: what the CPU executes is what memory holds.
;
; What it tests: a store into an instruction that is about to run must
; change what runs. Since the P6 family the processor checks every write
; against the instructions it has already fetched or decoded and throws
; them away when they are hit, so no jump is needed between the store and
; the modified instruction (SDM Vol. 3A 11.6, "Self-Modifying Code"; Vol. 3A
; 8.1.3, "Handling Self- and Cross-Modifying Code"). An emulator that caches
; decoded instructions must do the same, or it runs stale code. The kernel
; patches (1) the immediate of the very next instruction, (2) an immediate
; and (3) an opcode inside a loop, every iteration, (4) code written
; through a second linear address of the same physical page — 11.6 says
; the check is by physical address; for a store through another linear
; address the SDM asks for a serializing instruction before the modified
; code runs, and the kernel executes CPUID there — and (5) a buffer that
; receives one routine, runs it, then receives another one at the same
; address. Each time it checks that the new instruction's effect is seen.
;
; Read next: guests/tests/README.md (the verdict line), paging.inc.

bits 32
org 0x100000                            ; MULTIBOOT_LOAD_ADDRESS

%define TEST_NAME "smc"
%include "multiboot.inc"
        multiboot_header                ; jump to entry, then the header

%include "serial.inc"                   ; print routines (COM1, port 0xE9)
%include "verdict.inc"                  ; expect, verdict, isa-debug-exit
%include "kernel.inc"                   ; GDT, IDT, exception catching
%include "paging.inc"                   ; page directory, identity map

; ------------------------------------------------------------------ constants
OLD_VALUE       equ 0x11111111
NEW_VALUE       equ 0x22222222
NEWER_VALUE     equ 0x33333333
LOOP_COUNT      equ 100
MOV_EAX_IMM     equ 1       ; B8 id: MOV EAX, imm32 has its immediate after one opcode byte
ADD_EAX_IMM     equ 1       ; 05 id: ADD EAX, imm32 likewise
OPCODE_INC_EBX  equ 0x43    ; INC EBX (one byte: 40+r)
OPCODE_DEC_EBX  equ 0x4B    ; DEC EBX (48+r)
ALIAS           equ PDE_SPAN ; the second linear address of the first 4 MiB: 4 MiB higher

; serialize: CPUID is the serializing instruction any ring may run (SDM
; Vol. 3A 8.3); it clobbers EAX, EBX, ECX and EDX, so keep them.
%macro serialize 0
        pushad
        xor     eax, eax
        cpuid
        popad
%endmacro

; ------------------------------------------------------------------ entry
entry:
        mov     esp, kernel_stack_top
        call    kernel_init
        println "smc: self-modifying code"

; ------------------------------------------------------------------ paging with an alias
; PDE 1 points at the same page table as PDE 0, so linear X + 4 MiB and X
; are the same physical byte for every X below 4 MiB, this code included.
        call    identity_map_4m
        mov     dword [page_directory + 4], identity_table + IDENTITY_FLAGS
        call    enable_paging

; ------------------------------------------------------------------ (1) the next instruction
; The store hits the instruction right behind it, which a pipelined CPU has
; usually fetched already.
        mov     dword [.next + MOV_EAX_IMM], NEW_VALUE
.next:  mov     eax, OLD_VALUE
        expect  eax, NEW_VALUE, "the immediate of the next instruction"

; Code that has already run, and may be cached decoded, is patched behind
; the CPU: the first round runs the MOV as assembled and patches it, the
; second round must run the patched one.
        mov     ecx, 2
.twice: mov     eax, OLD_VALUE
        mov     dword [.twice + MOV_EAX_IMM], NEW_VALUE
        loop    .twice
        expect  eax, NEW_VALUE, "an instruction patched after it ran"

; ------------------------------------------------------------------ (2) an immediate in a loop
; Each round stores the round number into the immediate of the ADD that
; follows, so the sum is 1 + 2 + ... + LOOP_COUNT if every store was seen.
        xor     eax, eax
        mov     ecx, 1
.sum:   mov     [.add + ADD_EAX_IMM], ecx
.add:   add     eax, strict dword 0
        inc     ecx
        cmp     ecx, LOOP_COUNT
        jbe     .sum
        expect  eax, LOOP_COUNT * (LOOP_COUNT + 1) / 2, "an immediate patched in every round of a loop"

; ------------------------------------------------------------------ (3) an opcode in a loop
; The instruction at .step is assembled as a NOP. Every round patches it
; into INC EBX, and every fourth round into DEC EBX instead: 75 rounds up
; and 25 down leave EBX = 50. Stale code would give 0 (the NOP), 100 or -100.
        xor     ebx, ebx
        mov     ecx, LOOP_COUNT
.flip:  mov     byte [.step], OPCODE_INC_EBX
        test    ecx, 3
        jnz     .step
        mov     byte [.step], OPCODE_DEC_EBX
.step:  nop
        loop    .flip
        expect  ebx, LOOP_COUNT / 2, "an opcode patched to INC or DEC every round"

; ------------------------------------------------------------------ (4) through another linear address
; Run the routine (the CPU may now hold it decoded), write its immediate
; through the alias 4 MiB higher, serialize, run it again at its own
; address. Then the other way round: run it at the alias, write through its
; own address, run it at the alias again.
        call    alias_routine
        expect  eax, OLD_VALUE, "the routine before any patch"
        mov     dword [alias_routine + ALIAS + MOV_EAX_IMM], NEW_VALUE
        serialize
        call    alias_routine
        expect  eax, NEW_VALUE, "code patched through a second linear address"
        call    alias_routine + ALIAS
        expect  eax, NEW_VALUE, "the same code run at the second linear address"
        mov     dword [alias_routine + MOV_EAX_IMM], NEWER_VALUE
        serialize
        call    alias_routine + ALIAS
        expect  eax, NEWER_VALUE, "code run at the alias after a patch at its own address"

; ------------------------------------------------------------------ (5) a reused code buffer
; A loader's pattern: copy a routine into a buffer, call it; copy another
; one over it, call the buffer again.
        mov     esi, routine_a
        mov     ecx, routine_a_end - routine_a
        call    load_buffer
        call    code_buffer
        expect  eax, NEW_VALUE, "the first routine copied into the buffer"
        mov     esi, routine_b
        mov     ecx, routine_b_end - routine_b
        call    load_buffer
        call    code_buffer
        expect  eax, NEWER_VALUE, "the second routine copied over the first"

        jmp     verdict

; ------------------------------------------------------------------ routines
; alias_routine: returns the immediate it carries.
alias_routine:
        mov     eax, OLD_VALUE
        ret

; load_buffer: copy ECX bytes from ESI to code_buffer with REP MOVSB.
load_buffer:
        cld
        mov     edi, code_buffer
        rep     movsb
        ret

; The two routines the buffer receives in turn: same length, same shape,
; different results.
routine_a:
        mov     eax, NEW_VALUE
        ret
routine_a_end:
routine_b:
        mov     eax, NEWER_VALUE
        ret
routine_b_end:

        align   16
image_end:

section .bss
        alignb  16
code_buffer:    resb 64
bss_end:
