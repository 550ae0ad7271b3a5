; guests/tests/gates/gates.asm — from ring 3 to ring 0 and back, through every kind of gate.
;
; What it tests: ring 3 reaches ring 0 only through a gate whose DPL it is
; allowed to use. A far CALL through a call gate switches to the ring-0
; stack named in the TSS (SS0:ESP0), pushes the caller's SS and ESP, copies
; the gate's count of parameter dwords from the old stack, then pushes CS
; and EIP; RETF n returns, pops the parameters from both stacks, and loads
; null into any data segment register the outer ring may not use (SDM Vol.
; 3A 5.8.3-5.8.6, figures 5-11 and 5-13). INT n through an interrupt or a
; trap gate does the same stack switch and pushes SS, ESP, EFLAGS, CS, EIP;
; an interrupt gate clears IF, a trap gate leaves it; IRET goes back (SDM
; Vol. 3A 6.12.1, 6.12.1.3, figure 6-4). Without a change of privilege
; nothing but EFLAGS, CS and EIP is pushed. A gate's DPL guards software
; interrupts: INT n, INT3 and INTO at a CPL above the gate's DPL raise
; #GP with the IDT error code vector * 8 + 2 (SDM Vol. 3A 6.12.1.1, 6.13),
; and a call gate whose DPL is below CPL gives #GP(gate selector) (5.8.4).
; A task gate switches to another task: the TSS's back link, EFLAGS.NT and
; the busy bits let IRET come back (SDM Vol. 3A 7.3, 7.4). PUSH CS shows
; the CPL in the selector's low two bits (5.5).
;
; Read next: guests/tests/README.md, kernel.inc (in_ring3, try, the TSS).

bits 32
org 0x100000                            ; MULTIBOOT_LOAD_ADDRESS

%define TEST_NAME "gates"
%include "multiboot.inc"
        multiboot_header                ; jump to entry, then the header

%include "serial.inc"                   ; print routines (COM1, port 0xE9)
%include "verdict.inc"                  ; expect, verdict, isa-debug-exit
%include "kernel.inc"                   ; GDT, IDT, TSS, try, in_ring3

; ------------------------------------------------------------------ constants
CALL_GATE3_SEL  equ FREE_SEL | RPL3     ; call gate, DPL 3, two parameters
CALL_GATE0_SEL  equ FREE_SEL + 0x08     ; call gate, DPL 0: closed to ring 3
TASK_TSS_SEL    equ FREE_SEL + 0x10     ; the TSS of the task behind the task gate
CALL_PARAMS     equ 2                   ; dwords the call gate copies
PARAM_FIRST     equ 0xAAAA0001          ; pushed first, so deeper in the stack
PARAM_SECOND    equ 0xBBBB0002

VEC_INTR        equ 0x40                ; interrupt gate, DPL 3
VEC_TRAP        equ 0x41                ; trap gate, DPL 3
VEC_DPL0        equ 0x42                ; interrupt gate, DPL 0: closed to ring 3
VEC_TASK        equ 0x43                ; task gate, DPL 3

; What a transfer to ring 0 pushes (SDM Vol. 3A figures 5-13 and 6-4), in
; dwords from the top of the new stack.
CALL_FRAME_SIZE equ (4 + CALL_PARAMS) * 4       ; EIP, CS, parameters, ESP, SS
INTR_FRAME_SIZE equ 5 * 4                       ; EIP, CS, EFLAGS, ESP, SS
SAME_RING_FRAME equ 3 * 4                       ; EIP, CS, EFLAGS
EFLAGS_SYSTEM   equ EFLAGS_IF | EFLAGS_IOPL | EFLAGS_NT ; the bits compared (not the arithmetic flags)

; ------------------------------------------------------------------ entry
entry:
        mov     esp, kernel_stack_top
        call    kernel_init
        println "gates: call, interrupt, trap and task gates between ring 3 and ring 0"

; ------------------------------------------------------------------ the gates
; Two call gates in the GDT, four gates in the IDT, and the second task's TSS.
        set_gdt_gate CALL_GATE3_SEL, KERNEL_CS, call_gate_handler, GATE_CALL3, CALL_PARAMS
        set_gdt_gate CALL_GATE0_SEL, KERNEL_CS, call_gate_handler, GATE_CALL0, 0
        set_idt_gate VEC_INTR, interrupt_handler, GATE_INTR3
        set_idt_gate VEC_TRAP, interrupt_handler, GATE_TRAP3
        set_idt_gate VEC_DPL0, interrupt_handler, GATE_INTR0
        set_idt_gate VEC_TASK, 0, GATE_TASK3, TASK_TSS_SEL
        call    build_task

; ------------------------------------------------------------------ PUSH CS
; CS's RPL is the CPL: 0 here, 3 in ring 3. A 32-bit PUSH of a segment
; register may write only the low word of the slot (SDM Vol. 2B, PUSH), so
; only that word is compared.
        push    cs
        pop     eax
        movzx   eax, ax
        expect  eax, KERNEL_CS, "PUSH CS at CPL 0"
        in_ring3 user_push_cs
        expect  eax, USER_CS, "PUSH CS at CPL 3"
        expect  ebx, USER_DS, "SS at CPL 3"

; ------------------------------------------------------------------ call gate with parameters
; Ring 3 pushes two parameters and calls through the DPL-3 gate. The
; handler records its stack and RETF 8 brings ring 3 back.
        in_ring3 user_call_gate
        expect  dword [seen_cs], KERNEL_CS, "call gate: CS in the handler"
        expect  dword [seen_ss], KERNEL_DS, "call gate: SS = TSS.SS0"
        expect  dword [seen_esp], ring0_stack_top - CALL_FRAME_SIZE, "call gate: ESP = TSS.ESP0 - 24"
        expect  dword [seen_frame + 0], user_call_gate.returned, "call gate: pushed EIP"
        expect  dword [seen_frame + 4], USER_CS, "call gate: pushed CS"
        expect  dword [seen_frame + 8], PARAM_SECOND, "call gate: copied parameter 2 (top)"
        expect  dword [seen_frame + 12], PARAM_FIRST, "call gate: copied parameter 1"
        mov     eax, [user_esp_before]
        sub     eax, CALL_PARAMS * 4
        expect  dword [seen_frame + 16], eax, "call gate: pushed ESP (after the parameters)"
        expect  dword [seen_frame + 20], USER_DS, "call gate: pushed SS"
        expect  dword [user_esp_after], dword [user_esp_before], "RETF 8: ring-3 ESP without the parameters"
        expect  dword [user_cs_after], USER_CS, "RETF 8: back at CPL 3"
        expect  dword [user_ds_after], 0, "RETF 8: a DPL-0 DS becomes null"

; ------------------------------------------------------------------ interrupt gate from ring 3
; IF is set in ring 3 (the PICs are masked: nothing can come in). The
; handler records its stack and EFLAGS and loads a DPL-0 DS before IRET.
        mov     dword [user_eflags], EFLAGS_FIXED | EFLAGS_IF
        in_ring3 user_intr_gate
        expect  dword [seen_cs], KERNEL_CS, "interrupt gate: CS in the handler"
        expect  dword [seen_ss], KERNEL_DS, "interrupt gate: SS = TSS.SS0"
        expect  dword [seen_esp], ring0_stack_top - INTR_FRAME_SIZE, "interrupt gate: ESP = TSS.ESP0 - 20"
        expect  dword [seen_frame + 0], user_intr_gate.returned, "interrupt gate: pushed EIP"
        expect  dword [seen_frame + 4], USER_CS, "interrupt gate: pushed CS"
        mov     eax, [seen_frame + 8]
        and     eax, EFLAGS_SYSTEM
        expect  eax, EFLAGS_IF, "interrupt gate: pushed EFLAGS (IF set, IOPL 0)"
        expect  dword [seen_frame + 12], dword [user_esp_before], "interrupt gate: pushed ESP"
        expect  dword [seen_frame + 16], USER_DS, "interrupt gate: pushed SS"
        mov     eax, [seen_eflags]
        and     eax, EFLAGS_IF
        expect  eax, 0, "interrupt gate: IF cleared in the handler"
        expect  dword [user_esp_after], dword [user_esp_before], "IRET: ring-3 ESP back"
        expect  dword [user_cs_after], USER_CS, "IRET: back at CPL 3"
        expect  dword [user_ds_after], 0, "IRET: a DPL-0 DS becomes null"
        mov     eax, [user_eflags_after]
        and     eax, EFLAGS_SYSTEM
        expect  eax, EFLAGS_IF, "IRET: ring-3 EFLAGS back, IF set"

; ------------------------------------------------------------------ trap gate from ring 3
        in_ring3 user_trap_gate
        expect  dword [seen_esp], ring0_stack_top - INTR_FRAME_SIZE, "trap gate: ESP = TSS.ESP0 - 20"
        expect  dword [seen_frame + 0], user_trap_gate.returned, "trap gate: pushed EIP"
        mov     eax, [seen_frame + 8]
        and     eax, EFLAGS_SYSTEM
        expect  eax, EFLAGS_IF, "trap gate: pushed EFLAGS (IF set, IOPL 0)"
        mov     eax, [seen_eflags]
        and     eax, EFLAGS_IF
        expect  eax, EFLAGS_IF, "trap gate: IF kept in the handler"
        expect  dword [user_cs_after], USER_CS, "IRET from the trap gate: back at CPL 3"
        mov     dword [user_eflags], EFLAGS_FIXED

; ------------------------------------------------------------------ gates from ring 0
; No change of privilege: no stack switch, three dwords on the same stack.
; A DPL-0 gate is open to CPL 0.
        mov     [kernel_esp_before], esp
        int     VEC_INTR
.after_ring0_int:
        expect  dword [seen_ss], KERNEL_DS, "INT at CPL 0: same SS"
        mov     eax, [kernel_esp_before]
        sub     eax, SAME_RING_FRAME
        expect  dword [seen_esp], eax, "INT at CPL 0: ESP - 12, no stack switch"
        expect  dword [seen_frame + 0], .after_ring0_int, "INT at CPL 0: pushed EIP"
        expect  dword [seen_frame + 4], KERNEL_CS, "INT at CPL 0: pushed CS"
        mov     eax, esp
        expect  eax, dword [kernel_esp_before], "IRET at CPL 0: ESP back"
        mov     dword [seen_cs], 0
        int     VEC_DPL0
        expect  dword [seen_cs], KERNEL_CS, "INT to a DPL-0 gate at CPL 0 reaches the handler"

; ------------------------------------------------------------------ closed gates
; INT n and INT3 at CPL 3 through DPL-0 gates: #GP(vector * 8 + 2), the
; handler never runs, the saved EIP is the INT instruction's. A far CALL at
; CPL 3 through the DPL-0 call gate: #GP(gate selector).
        mov     dword [seen_cs], 0
        try     user_int_dpl0.resume
        in_ring3 user_int_dpl0
        end_try
        expect  dword [fault_vector], VEC_GP, "INT to a DPL-0 gate at CPL 3: #GP"
        expect  dword [fault_error], VEC_DPL0 * 8 + ERR_IDT, "INT to a DPL-0 gate: error code vector*8+2"
        expect  dword [fault_eip], user_int_dpl0, "INT to a DPL-0 gate: saved EIP is the INT"
        expect  dword [fault_cs], USER_CS, "INT to a DPL-0 gate: saved CS"
        expect  dword [seen_cs], 0, "INT to a DPL-0 gate: the handler did not run"

        try     user_int3.resume
        in_ring3 user_int3
        end_try
        expect  dword [fault_vector], VEC_GP, "INT3 to the DPL-0 #BP gate at CPL 3: #GP"
        expect  dword [fault_error], VEC_BP * 8 + ERR_IDT, "INT3 to a DPL-0 gate: error code 3*8+2"

        ; With a DPL-3 gate for vector 3, INT3 is a breakpoint trap: the
        ; saved EIP is the next instruction.
        set_idt_gate VEC_BP, [exception_stubs + VEC_BP * 4], GATE_INTR3
        try     user_int3.resume
        in_ring3 user_int3
        end_try
        expect  dword [fault_vector], VEC_BP, "INT3 to a DPL-3 gate at CPL 3: #BP"
        expect  dword [fault_eip], user_int3.resume, "INT3: saved EIP after the INT3"
        set_idt_gate VEC_BP, [exception_stubs + VEC_BP * 4], GATE_INTR0

        try     user_call_gate0.resume
        in_ring3 user_call_gate0
        end_try
        expect  dword [fault_vector], VEC_GP, "CALL through a DPL-0 call gate at CPL 3: #GP"
        expect  dword [fault_error], CALL_GATE0_SEL & SELECTOR_INDEX, "CALL through a DPL-0 gate: error code = gate selector"
        expect  dword [fault_eip], user_call_gate0, "CALL through a DPL-0 gate: saved EIP is the CALL"

; ------------------------------------------------------------------ task gate
; From ring 0: INT through the task gate switches to the second task,
; which records what it sees and IRETs back (EFLAGS.NT = 1: a return to the
; task in its back link). Then from ring 3 the same way.
        int     VEC_TASK
.after_task:
        call    check_task_switch
        expect  dword [kernel_tss + tss32.eip], .after_task, "task switch: old task's EIP saved in its TSS"
        movzx   eax, word [kernel_tss + tss32.cs]      ; selector fields: a word each
        expect  eax, KERNEL_CS, "task switch: old task's CS saved"

        in_ring3 user_task_gate
        call    check_task_switch
        movzx   eax, word [kernel_tss + tss32.cs]
        expect  eax, USER_CS, "task switch from CPL 3: CS saved"
        expect  dword [kernel_tss + tss32.eip], user_task_gate.returned, "task switch from CPL 3: EIP saved"
        expect  dword [user_cs_after], USER_CS, "IRET back to the CPL-3 task"

        jmp     verdict

; check_task_switch: what the task saw, and the state after coming back.
check_task_switch:
        expect  dword [task_tr], TASK_TSS_SEL, "in the task: TR = its TSS"
        expect  dword [task_link], TSS_SEL, "in the task: back link = the old TSS"
        mov     eax, [task_eflags]
        and     eax, EFLAGS_NT
        expect  eax, EFLAGS_NT, "in the task: EFLAGS.NT set"
        mov     eax, [task_cr0]
        and     eax, CR0_TS
        expect  eax, CR0_TS, "in the task: CR0.TS set by the switch"
        clts                                    ; no x87 here: clear it again
        xor     eax, eax
        str     ax
        expect  eax, TSS_SEL, "after IRET: TR = the old TSS"
        pushfd
        pop     eax
        and     eax, EFLAGS_NT
        expect  eax, 0, "after IRET: NT clear"
        movzx   eax, byte [gdt + TASK_TSS_SEL + 5]
        expect  eax, ACCESS_TSS, "after IRET: the task's TSS is no longer busy"
        movzx   eax, byte [gdt + TSS_SEL + 5]
        expect  eax, ACCESS_TSS | (TYPE_TSS32_BUSY - TYPE_TSS32), "after IRET: the old TSS is busy again"
        mov     dword [task_tr], 0
        mov     dword [task_link], 0
        ret

; ------------------------------------------------------------------ handlers (CPL 0)
; call_gate_handler: record the stack the call gate built, load a DPL-0 DS
; (which RETF must null for ring 3), return and drop the parameters.
call_gate_handler:
        mov     [seen_esp], esp
        mov     [seen_ss], ss                   ; a 16-bit store: the high word stays 0
        mov     [seen_cs], cs
        push    esi
        push    edi
        push    ecx
        lea     esi, [esp + 12]                 ; the frame, above our three pushes
        mov     edi, seen_frame
        mov     ecx, CALL_FRAME_SIZE / 4
        cld
        rep     movsd
        pop     ecx
        pop     edi
        pop     esi
        mov     word [seen_frame + 4 + 2], 0    ; pushed selectors: only the low word is defined
        mov     word [seen_frame + 20 + 2], 0
        push    eax
        mov     ax, KERNEL_DS
        mov     ds, ax
        pop     eax
        retf    CALL_PARAMS * 4

; interrupt_handler: the same for INT n; also EFLAGS inside the handler.
interrupt_handler:
        mov     [seen_esp], esp
        mov     [seen_ss], ss                   ; a 16-bit store: the high word stays 0
        mov     [seen_cs], cs
        pushfd
        pop     dword [seen_eflags]
        push    esi
        push    edi
        push    ecx
        lea     esi, [esp + 12]
        mov     edi, seen_frame
        mov     ecx, INTR_FRAME_SIZE / 4
        cld
        rep     movsd
        pop     ecx
        pop     edi
        pop     esi
        mov     word [seen_frame + 4 + 2], 0    ; pushed selectors: only the low word is defined
        mov     word [seen_frame + 16 + 2], 0
        push    eax
        mov     ax, KERNEL_DS
        mov     ds, ax
        pop     eax
        iretd

; ------------------------------------------------------------------ the second task
; build_task: a TSS whose saved state starts the task at task_entry in ring
; 0 with its own stack, and its descriptor.
build_task:
        set_task TASK_TSS_SEL, task_tss, task_entry, task_stack_top
        ret

; task_entry: the task's code. Each switch into the task continues after
; the IRET that left it last time, so the body is a loop.
task_entry:
        xor     eax, eax
        str     ax
        mov     [task_tr], eax
        movzx   eax, word [task_tss + tss32.link]
        mov     [task_link], eax
        pushfd
        pop     dword [task_eflags]
        mov     eax, cr0
        mov     [task_cr0], eax
        iretd                                   ; NT = 1: back to the task in the link
        jmp     task_entry

; ------------------------------------------------------------------ ring-3 code
; These run at CPL 3 (in_ring3) and record what they see in memory; ring 0
; checks it. After a return that nulled DS, stores go through SS.
user_push_cs:
        push    cs
        pop     eax
        movzx   eax, ax
        xor     ebx, ebx
        mov     bx, ss
        ret

user_call_gate:
        mov     [user_esp_before], esp
        push    dword PARAM_FIRST
        push    dword PARAM_SECOND
        call    CALL_GATE3_SEL:0                ; the offset is ignored: the gate has it
.returned:
        mov     [ss:user_esp_after], esp
        mov     [ss:user_ds_after], ds          ; 16-bit stores: the high words stay 0
        mov     [ss:user_cs_after], cs
        mov     ax, USER_DS
        mov     ds, ax
        ret

user_intr_gate:
        mov     [user_esp_before], esp
        int     VEC_INTR
.returned:
        jmp     user_after_int

user_trap_gate:
        mov     [user_esp_before], esp
        int     VEC_TRAP
.returned:
        ; fall through

user_after_int:
        mov     [ss:user_esp_after], esp
        mov     [ss:user_ds_after], ds          ; 16-bit stores: the high words stay 0
        mov     [ss:user_cs_after], cs
        pushfd
        pop     dword [ss:user_eflags_after]
        mov     ax, USER_DS
        mov     ds, ax
        ret

user_int_dpl0:
        int     VEC_DPL0
.resume:
        ret

user_int3:
        int3
.resume:
        ret

user_call_gate0:
        call    CALL_GATE0_SEL:0
.resume:
        ret

user_task_gate:
        int     VEC_TASK
.returned:
        mov     [user_cs_after], cs
        ret

        align   16
image_end:

; ------------------------------------------------------------------ bss
section .bss
        alignb  4
seen_esp:       resd 1                  ; what a handler saw
seen_ss:        resd 1
seen_cs:        resd 1
seen_eflags:    resd 1
seen_frame:     resd 8
user_esp_before: resd 1                 ; what ring 3 saw
user_esp_after: resd 1
user_cs_after:  resd 1
user_ds_after:  resd 1
user_eflags_after: resd 1
kernel_esp_before: resd 1
task_tr:        resd 1                  ; what the second task saw
task_link:      resd 1
task_eflags:    resd 1
task_cr0:       resd 1
task_tss:       resb TSS32_SIZE
        alignb  16
task_stack:     resb STACK_SIZE
task_stack_top:
bss_end:
