; guests/tests/pf-codes/pf-codes.asm — the page-fault error code for every combination of P, R/W and U/S.
;
; What it tests: with 32-bit paging, an access is allowed when the
; page-directory entry (PDE) and the page-table entry (PTE) are both present
; and both allow it; the rights are the AND of the two levels (SDM Vol. 3A
; 4.6, "Access Rights"). A supervisor access (CPL 0-2) may read any present
; page and may write any present page while CR0.WP = 0; with CR0.WP = 1 it
; may write only where R/W = 1. A user access (CPL 3) needs U/S = 1, and for
; a write also R/W = 1. Anything else is a #PF whose error code says why
; (SDM Vol. 3A 4.7, "Page-Fault Exceptions", figure 4-12): bit 0 (P) is 0
; for a not-present entry and 1 for a protection violation, bit 1 (W/R) is
; set for a write, bit 2 (U/S) for an access at CPL 3; CR2 holds the linear
; address and the saved EIP points at the faulting instruction (SDM Vol. 3A
; 6.15, interrupt 14). The kernel sweeps all 8 x 8 combinations of P, R/W,
; U/S in the PDE and the PTE of one test page, with CR0.WP = 0 and 1, and
; makes a supervisor read, a supervisor write, a user read and a user write
; for each: 512 accesses. User accesses run in ring 3 (an IRET to a DPL-3
; code segment). Each outcome is compared with the rules above, written out
; in expected_error; a mismatch prints one line.
;
; Read next: guests/tests/README.md, paging.inc, kernel.inc (try, in_ring3).

bits 32
org 0x100000                            ; MULTIBOOT_LOAD_ADDRESS

%define TEST_NAME "pf-codes"
%include "multiboot.inc"
        multiboot_header                ; jump to entry, then the header

%include "serial.inc"                   ; print routines (COM1, port 0xE9)
%include "verdict.inc"                  ; expect, verdict, isa-debug-exit
%include "kernel.inc"                   ; GDT, IDT, try, in_ring3
%include "paging.inc"                   ; page directory, identity map

; ------------------------------------------------------------------ constants
; The test page: PDE 1 (linear 4-8 MiB) points at test_table, whose entry
; TEST_PTE_INDEX maps test_frame. The address has an odd offset, so CR2
; shows the exact byte, not the page.
TEST_PDE_INDEX  equ 1
TEST_PTE_INDEX  equ 0x12
TEST_OFFSET     equ 0x345
TEST_LINEAR     equ TEST_PDE_INDEX * PDE_SPAN + TEST_PTE_INDEX * PAGE_SIZE + TEST_OFFSET
ENTRY_RIGHTS    equ PTE_P | PTE_RW | PTE_US     ; the three bits swept, as a number 0-7
COMBINATIONS    equ 8                           ; 2^3 settings of ENTRY_RIGHTS
ACCESS_WRITE    equ 1                           ; access kinds 0-3: bit 0 write, bit 1 user
ACCESS_USER     equ 2
ACCESS_KINDS    equ 4

; ------------------------------------------------------------------ entry
entry:
        mov     esp, kernel_stack_top
        call    kernel_init
        println "pf-codes: #PF error codes for P, R/W, U/S in PDE and PTE, CR0.WP 0 and 1"

; ------------------------------------------------------------------ paging
; Identity-map 0-4 MiB (user-accessible, so ring 3 can run the probes),
; then point PDE 1 at the test page table. Its entries are rewritten for
; every combination below.
        call    identity_map_4m
        call    enable_paging

; ------------------------------------------------------------------ the sweep
; For CR0.WP = 0, then 1; for every PDE setting; for every PTE setting;
; for every kind of access: make the access and judge what happened.
        mov     dword [cur_wp], 0
.wp:
        mov     eax, cr0
        and     eax, ~CR0_WP
        cmp     dword [cur_wp], 0
        je      .set_wp
        or      eax, CR0_WP
.set_wp:
        mov     cr0, eax
        mov     dword [cur_pde], 0
.pde:
        mov     dword [cur_pte], 0
.pte:
        mov     dword [cur_access], 0
.access:
        call    probe
        inc     dword [cur_access]
        cmp     dword [cur_access], ACCESS_KINDS
        jb      .access
        inc     dword [cur_pte]
        cmp     dword [cur_pte], COMBINATIONS
        jb      .pte
        inc     dword [cur_pde]
        cmp     dword [cur_pde], COMBINATIONS
        jb      .pde
        inc     dword [cur_wp]
        cmp     dword [cur_wp], 2
        jb      .wp

        print_dec [probes]
        println " accesses made"
        jmp     verdict

; ------------------------------------------------------------------ probe
; probe: set up the PDE and PTE for the current combination, make the
; current kind of access through a probe routine, and compare.
probe:
        pushad
        inc     dword [probes]

        ; The entries: rights from the sweep, frames fixed. A reload of CR3
        ; drops any translation or directory entry cached from the last
        ; combination.
        mov     eax, [cur_pde]
        or      eax, test_table
        mov     [page_directory + TEST_PDE_INDEX * 4], eax
        mov     eax, [cur_pte]
        or      eax, test_frame
        mov     [test_table + TEST_PTE_INDEX * 4], eax
        call    flush_tlb

        ; The access, armed to resume after the access instruction if it faults.
        mov     ebx, [cur_access]
        shl     ebx, 3                          ; probe_table rows are two dwords
        mov     eax, [probe_table + ebx + 4]    ; resume label
        try     eax
        test    dword [cur_access], ACCESS_USER
        jnz     .user
        call    [probe_table + ebx]             ; at CPL 0
        jmp     .done
.user:
        in_ring3 dword [probe_table + ebx]      ; at CPL 3
.done:
        end_try

        ; The judgement: was there a #PF exactly when the rules say, with
        ; their error code, CR2 = the address, EIP = the access instruction?
        call    expected_error
        mov     [expected], eax
        cmp     eax, NO_FAULT
        jne     .should_fault
        cmp     dword [fault_vector], NO_FAULT
        jne     .wrong_outcome
        call    pass_check
        jmp     .out
.should_fault:
        cmp     dword [fault_vector], VEC_PF
        jne     .wrong_outcome
        mov     eax, [fault_error]
        cmp     eax, [expected]
        jne     .wrong_outcome
        call    pass_check
        cmp     dword [fault_cr2], TEST_LINEAR
        je      .cr2_ok
        call    fail_check
        call    describe_combination
        print   ": CR2 "
        print_hex [fault_cr2]
        print   ", expected "
        print_hex TEST_LINEAR
        println ""
        jmp     .out
.cr2_ok:
        call    pass_check
        mov     eax, [probe_table + ebx]        ; the access is the routine's first instruction
        cmp     [fault_eip], eax
        je      .eip_ok
        call    fail_check
        call    describe_combination
        print   ": saved EIP "
        print_hex [fault_eip]
        print   ", expected "
        call    put_hex
        println ""
        jmp     .out
.eip_ok:
        call    pass_check
        jmp     .out
.wrong_outcome:
        call    fail_check
        call    describe_combination
        print   ": got "
        call    describe_fault
        print   ", expected "
        mov     eax, [expected]
        cmp     eax, NO_FAULT
        jne     .expected_fault
        println "no fault"
        jmp     .out
.expected_fault:
        print   "#PF error "
        call    put_hex
        println ""
.out:
        popad
        ret

; ------------------------------------------------------------------ the rules
; expected_error: EAX = the error code the SDM gives for the current
; combination, or NO_FAULT when the access is allowed (SDM Vol. 3A 4.6, 4.7).
expected_error:
        push    ecx
        mov     eax, [cur_access]
        shl     eax, 1                  ; write → W/R (bit 1), user → U/S (bit 2)
        ; A not-present entry at either level faults first, with P = 0.
        test    dword [cur_pde], PTE_P
        jz      .fault
        test    dword [cur_pte], PTE_P
        jz      .fault
        ; Both present: the page's rights are the AND of the two levels.
        mov     ecx, [cur_pde]
        and     ecx, [cur_pte]
        test    eax, PF_U
        jz      .supervisor
        ; User access: U/S must be 1, and for a write R/W too.
        test    ecx, PTE_US
        jz      .protection
        test    eax, PF_W
        jz      .allowed
        test    ecx, PTE_RW
        jz      .protection
        jmp     .allowed
.supervisor:
        ; Supervisor access: reads always succeed; writes obey R/W only
        ; when CR0.WP = 1.
        test    eax, PF_W
        jz      .allowed
        cmp     dword [cur_wp], 0
        je      .allowed
        test    ecx, PTE_RW
        jz      .protection
.allowed:
        mov     eax, NO_FAULT
        pop     ecx
        ret
.protection:
        or      eax, PF_P               ; present, but not allowed
.fault:
        pop     ecx
        ret

; ------------------------------------------------------------------ probe routines
; Each makes one access to the test address as its first instruction; a
; fault resumes at the routine's .resume, which returns. The user ones run
; at CPL 3 through in_ring3.
probe_table:                            ; per access kind: routine, resume label
        dd      supervisor_read, supervisor_read.resume
        dd      supervisor_write, supervisor_write.resume
        dd      user_read, user_read.resume
        dd      user_write, user_write.resume

supervisor_read:
        mov     eax, [TEST_LINEAR]
.resume:
        ret

supervisor_write:
        mov     [TEST_LINEAR], eax
.resume:
        ret

user_read:
        mov     eax, [TEST_LINEAR]
.resume:
        ret

user_write:
        mov     [TEST_LINEAR], eax
.resume:
        ret

; ------------------------------------------------------------------ messages
; describe_combination: "mismatch: PDE P-U PTE PW- CR0.WP=1 user write"
describe_combination:
        push    eax
        print   "mismatch: PDE "
        mov     eax, [cur_pde]
        call    put_rights
        print   " PTE "
        mov     eax, [cur_pte]
        call    put_rights
        print   " CR0.WP="
        print_dec [cur_wp]
        test    dword [cur_access], ACCESS_USER
        jz      .supervisor
        print   " user "
        jmp     .kind
.supervisor:
        print   " supervisor "
.kind:
        test    dword [cur_access], ACCESS_WRITE
        jz      .read
        print   "write"
        jmp     .out
.read:
        print   "read"
.out:
        pop     eax
        ret

; put_rights: EAX's P, R/W, U/S bits as three letters, "-" for a clear bit.
put_rights:
        push    eax
        push    ecx
        mov     ecx, eax
        mov     al, '-'
        test    ecx, PTE_P
        jz      .p
        mov     al, 'P'
.p:     call    putc
        mov     al, '-'
        test    ecx, PTE_RW
        jz      .w
        mov     al, 'W'
.w:     call    putc
        mov     al, '-'
        test    ecx, PTE_US
        jz      .u
        mov     al, 'U'
.u:     call    putc
        pop     ecx
        pop     eax
        ret

; describe_fault: what the probe raised: "no fault", or the vector and error code.
describe_fault:
        cmp     dword [fault_vector], NO_FAULT
        jne     .fault
        print   "no fault"
        ret
.fault:
        cmp     dword [fault_vector], VEC_PF
        je      .pf
        print   "vector "
        print_dec [fault_vector]
        print   " error "
        print_hex [fault_error]
        ret
.pf:
        print   "#PF error "
        print_hex [fault_error]
        ret

        align   16
image_end:

; ------------------------------------------------------------------ bss
section .bss
        alignb  PAGE_SIZE
test_table:     resd PT_ENTRIES         ; the page table under test
test_frame:     resb PAGE_SIZE          ; the page the test address lands in
cur_wp:         resd 1                  ; the combination being probed
cur_pde:        resd 1
cur_pte:        resd 1
cur_access:     resd 1
expected:       resd 1
probes:         resd 1
bss_end:
