; guests/tests/double-fault/double-fault.asm — when delivering one exception raises another.
;
; What it tests: the CPU sorts exceptions into benign ones (#DB, NMI, #BP,
; #OF, #BR, #UD, #NM, ...), contributory ones (#DE, #TS, #NP, #SS, #GP) and
; page faults. When a second exception arises while the first is being
; delivered, a contributory one after a contributory one (or anything but a
; benign one after a page fault) becomes a double fault, #DF, vector 8, an
; abort with error code 0; every other pair is handled one after the other,
; the second one delivered normally (SDM Vol. 3A 6.15, "Interrupt 8—Double
; Fault Exception", tables 6-4 and 6-5). The kernel makes four pairs. (1)
; Benign then contributory, twice: INT3 through a not-present IDT gate gives
; #NP with the IDT error code 3 * 8 + 2 (EXT clear: a software interrupt,
; SDM Vol. 3A 6.13) and no #DF; #UD the same way gives #NP with 6 * 8 + 2 +
; EXT (EXT set: an exception the CPU raised). (2) #GP whose IDT gate is not
; present: delivering it raises #NP, and the pair becomes #DF, taken through
; an ordinary interrupt gate on the same stack. (3) #GP at CPL 3 while the
; TSS names a not-present ring-0 stack segment: delivering it raises #SS
; (SDM Vol. 2A, the INT n pseudocode; an emulator that says #TS instead
; still makes a contributory pair), and #DF has no usable stack either, so
; it goes through a task gate to a task with its own stack — the classic
; reason for a #DF task (SDM Vol. 3A 6.15, 7.3). The saved CS:EIP of a #DF
; is undefined, so the #DF handlers send the kernel on at a label of their
; own.
;
; Read next: guests/tests/README.md, kernel.inc (try, in_ring3, the TSS).

bits 32
org 0x100000                            ; MULTIBOOT_LOAD_ADDRESS

%define TEST_NAME "double-fault"
%include "multiboot.inc"
        multiboot_header                ; jump to entry, then the header

%include "serial.inc"                   ; print routines (COM1, port 0xE9)
%include "verdict.inc"                  ; expect, verdict, isa-debug-exit
%include "kernel.inc"                   ; GDT, IDT, TSS, try, in_ring3

; ------------------------------------------------------------------ constants
DF_TSS_SEL      equ FREE_SEL            ; the double-fault task's TSS
ABSENT_SS_SEL   equ FREE_SEL + 0x08     ; a ring-0 data segment that is not present
BAD_SEL         equ GDT_ENTRIES * 8     ; the first selector past the GDT's limit
GATE_ABSENT     equ DESC_P              ; the bit cleared to make a gate not present
DF_FRAME_SIZE   equ 4 * 4               ; error code, EIP, CS, EFLAGS (no ring change)

; ------------------------------------------------------------------ entry
entry:
        mov     esp, kernel_stack_top
        call    kernel_init
        println "double-fault: benign and contributory pairs, #DF by interrupt gate and task gate"

; ------------------------------------------------------------------ (1) benign, then contributory
; Vector 3's gate loses its present bit; INT3 is #BP (benign), whose
; delivery raises #NP (contributory): no double fault, #NP is delivered.
        set_idt_gate VEC_BP, [exception_stubs + VEC_BP * 4], GATE_INTR0 & ~GATE_ABSENT
        try     .after_int3
.int3:  int3
.after_int3:
        end_try
        set_idt_gate VEC_BP, [exception_stubs + VEC_BP * 4], GATE_INTR0
        expect  dword [fault_vector], VEC_NP, "#BP through a not-present gate: #NP, not #DF"
        expect  dword [fault_error], VEC_BP * 8 + ERR_IDT, "#BP through a not-present gate: error code 3*8+2"
        expect  dword [fault_eip], .int3, "#BP through a not-present gate: saved EIP is the INT3"

; The same with #UD, benign too, raised by the CPU rather than by an INT
; instruction: the #NP's error code now has EXT set, since it arose while
; delivering an event from outside the program (SDM Vol. 3A 6.13).
        set_idt_gate VEC_UD, [exception_stubs + VEC_UD * 4], GATE_INTR0 & ~GATE_ABSENT
        try     .after_ud2
.ud2:   ud2
.after_ud2:
        end_try
        set_idt_gate VEC_UD, [exception_stubs + VEC_UD * 4], GATE_INTR0
        expect  dword [fault_vector], VEC_NP, "#UD through a not-present gate: #NP, not #DF"
        expect  dword [fault_error], VEC_UD * 8 + ERR_IDT + ERR_EXT, "#UD through a not-present gate: error code 6*8+2+EXT"
        expect  dword [fault_eip], .ud2, "#UD through a not-present gate: saved EIP is the UD2"

; ------------------------------------------------------------------ (2) #GP, then #NP: #DF through an interrupt gate
; Vector 13's gate loses its present bit; loading DS with a selector past
; the GDT's limit raises #GP, its delivery #NP: a double fault.
        set_idt_gate VEC_DF, df_handler, GATE_INTR0
        set_idt_gate VEC_GP, [exception_stubs + VEC_GP * 4], GATE_INTR0 & ~GATE_ABSENT
        mov     [esp_before], esp
        mov     ax, BAD_SEL
        mov     ds, ax                          ; #GP(BAD_SEL) → #NP → #DF
        ; df_handler resumes here:
df_resume:
        set_idt_gate VEC_GP, [exception_stubs + VEC_GP * 4], GATE_INTR0
        expect  dword [df_count], 1, "#GP through a not-present gate: one #DF"
        expect  dword [df_error], 0, "#DF error code"
        mov     eax, [esp_before]
        sub     eax, DF_FRAME_SIZE
        expect  dword [df_esp], eax, "#DF on the same stack: error code, EIP, CS, EFLAGS"
        expect  dword [df_cs], KERNEL_CS, "#DF: saved CS"
        mov     eax, ds
        expect  eax, KERNEL_DS, "the faulting MOV DS did not load DS"

; ------------------------------------------------------------------ (3) #GP at CPL 3, then #SS: #DF through a task gate
; The TSS's ring-0 stack segment is not present, so no exception from ring
; 3 can be delivered — not even #DF through an interrupt gate. Vector 8
; becomes a task gate; the task has its own stack and fixes things.
        call    build_df_task
        set_idt_gate VEC_DF, 0, GATE_TASK0, DF_TSS_SEL
        set_segment ABSENT_SS_SEL, 0, 0xFFFFF, ACCESS_DATA0 & ~DESC_P, FLAGS_FLAT32
        mov     dword [kernel_tss + tss32.ss0], ABSENT_SS_SEL
        mov     dword [df_count], 0
        in_ring3 user_cli                       ; CLI at CPL 3, IOPL 0: #GP(0)
        clts                                    ; the task switches set CR0.TS
        expect  dword [df_count], 1, "#GP at CPL 3 with no ring-0 stack: one #DF"
        expect  dword [df_error], 0, "#DF through a task gate: error code on the task's stack"
        expect  dword [df_esp], df_stack_top - 4, "#DF task: only the error code on its stack"
        expect  dword [df_tr], DF_TSS_SEL, "#DF task: TR = its TSS"
        expect  dword [df_link], TSS_SEL, "#DF task: back link = the interrupted task"
        mov     eax, [df_eflags]
        and     eax, EFLAGS_NT
        expect  eax, EFLAGS_NT, "#DF task: EFLAGS.NT set"
        expect  dword [df_old_cs], USER_CS, "#DF task: the interrupted task was at CPL 3"
        expect  dword [user_resumed], 1, "after the #DF task: ring 3 went on"
        xor     eax, eax
        str     ax
        expect  eax, TSS_SEL, "after the #DF task: TR = the kernel's TSS"

        jmp     verdict

; ------------------------------------------------------------------ #DF by interrupt gate
; df_handler: record the error code and the stack, then leave the abort
; behind: IRET to df_resume instead of the undefined saved EIP.
df_handler:
        inc     dword [df_count]
        mov     [df_esp], esp
        push    eax
        mov     eax, [esp + 4]                  ; error code
        mov     [df_error], eax
        movzx   eax, word [esp + 12]            ; CS
        mov     [df_cs], eax
        mov     dword [esp + 8], df_resume      ; EIP
        pop     eax
        add     esp, 4                          ; the error code
        iretd

; ------------------------------------------------------------------ #DF by task gate
; build_df_task: a ring-0 task starting at df_task on its own stack.
build_df_task:
        set_task DF_TSS_SEL, df_tss, df_task, df_stack_top
        ret

; df_task: entered by the task switch with the error code on its stack.
; It records what it sees, gives the kernel's TSS a usable ring-0 stack
; again, points the interrupted task's saved EIP at a ring-3 label that
; carries on, and IRETs: NT = 1, so that is a switch back to the task in
; the back link. The next switch into this task continues after the IRET.
df_task:
        inc     dword [df_count]
        mov     [df_esp], esp
        mov     eax, [esp]
        mov     [df_error], eax
        xor     eax, eax
        str     ax
        mov     [df_tr], eax
        movzx   eax, word [df_tss + tss32.link]
        mov     [df_link], eax
        pushfd
        pop     dword [df_eflags]
        movzx   eax, word [kernel_tss + tss32.cs]
        mov     [df_old_cs], eax
        mov     dword [kernel_tss + tss32.ss0], KERNEL_DS
        mov     dword [kernel_tss + tss32.eip], user_cli.resume
        add     esp, 4                          ; the error code
        iretd
        jmp     df_task

; ------------------------------------------------------------------ ring 3
user_cli:
        cli                                     ; IOPL 0 < CPL 3: #GP(0)
.resume:
        mov     dword [user_resumed], 1
        ret

        align   16
image_end:

; ------------------------------------------------------------------ bss
section .bss
        alignb  4
esp_before:     resd 1
df_count:       resd 1                  ; what the #DF handlers saw
df_error:       resd 1
df_esp:         resd 1
df_cs:          resd 1
df_tr:          resd 1
df_link:        resd 1
df_eflags:      resd 1
df_old_cs:      resd 1
user_resumed:   resd 1
df_tss:         resb TSS32_SIZE
        alignb  16
df_stack:       resb STACK_SIZE
df_stack_top:
bss_end:
