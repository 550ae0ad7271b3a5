; guests/tests/pae-nx/pae-nx.asm — PAE paging and the execute-disable bit.
;
; What it tests: with CR4.PAE set, paging uses 64-bit entries in three
; levels: CR3 points at four page-directory-pointer-table entries (PDPTEs),
; loaded when CR3 is written, each giving a page directory of 512 entries;
; a directory entry maps a 2 MiB page (PS = 1) or gives a page table of 512
; entries for 4 KiB pages (SDM Vol. 3A 4.4, "PAE Paging", tables 4-8 to
; 4-11). Bit 63 of an entry is XD, execute-disable: when IA32_EFER.NXE is
; set (MSR 0xC0000080 bit 11, available when CPUID 0x80000001 EDX bit 20
; says so), an instruction fetch from a page with XD at any level is a #PF,
; while reads and writes are still allowed (SDM Vol. 3A 4.6, "Access
; Rights"). Its error code has the I/D bit (bit 4) set, and so does that of
; any other faulting fetch while PAE and NXE are on; when NXE is clear, bit
; 63 is reserved and a set one gives a #PF with RSVD (bit 3) and P set (SDM
; Vol. 3A 4.7, "Page-Fault Exceptions"). The kernel checks, on a 4 KiB page
; and on a 2 MiB page: a read of an XD page with NXE clear (RSVD), fetches
; from XD pages at CPL 0 and CPL 3 (error codes 0x11 and 0x15, CR2 = the
; address, saved EIP = the target), reads and writes of them (allowed), the
; same code without XD (runs), and a fetch from a not-present page (0x10).
; Without PAE or NX the verdict is SKIP.
;
; Read next: guests/tests/README.md, guests/tests/pf-codes (32-bit paging).

bits 32
org 0x100000                            ; MULTIBOOT_LOAD_ADDRESS

%define TEST_NAME "pae-nx"
%include "multiboot.inc"
        multiboot_header                ; jump to entry, then the header

%include "serial.inc"                   ; print routines (COM1, port 0xE9)
%include "verdict.inc"                  ; expect, verdict, isa-debug-exit
%include "kernel.inc"                   ; GDT, IDT, try, in_ring3

; ------------------------------------------------------------------ constants
PAE_ENTRIES     equ 512                 ; entries in a PAE directory or table
PAE_LARGE_PAGE  equ 0x200000            ; a directory entry maps 2 MiB
PDPT_ENTRIES    equ 4
PAGE_FLAGS      equ PTE_P | PTE_RW | PTE_US
PDPTE_FLAGS     equ PTE_P               ; PDPTEs have no R/W or U/S: those bits are reserved

; The map: directory entry 0 → a 4 KiB page table for 0-2 MiB (the kernel,
; one page of it with XD); entry 1 → 2 MiB page at 2 MiB, executable;
; entry 2 → the same 2 MiB page again at 4 MiB, with XD; entry 3 → nothing.
LARGE_PHYSICAL  equ 1 * PAE_LARGE_PAGE  ; the 2 MiB page
LARGE_EXEC      equ 1 * PAE_LARGE_PAGE  ; its linear address without XD
LARGE_NX        equ 2 * PAE_LARGE_PAGE  ; and with XD
ABSENT_LINEAR   equ 3 * PAE_LARGE_PAGE  ; not present

MAGIC           equ 0x600DC0DE          ; what the copied routine returns
ERR_FETCH_NX    equ PF_P | PF_I         ; 0x11
ERR_FETCH_NX_USER equ PF_P | PF_U | PF_I ; 0x15
ERR_FETCH_ABSENT equ PF_I               ; 0x10
ERR_READ_RSVD   equ PF_P | PF_RSVD      ; 0x09

; ------------------------------------------------------------------ entry
entry:
        mov     esp, kernel_stack_top
        call    kernel_init
        println "pae-nx: PAE paging, 4 KiB and 2 MiB pages, the execute-disable bit"

; ------------------------------------------------------------------ does the CPU have it?
; CPUID leaf 1 EDX bit 6 is PAE; leaf 0x80000000 gives the highest
; extended leaf, and leaf 0x80000001 EDX bit 20 is NX (execute disable).
        mov     eax, 1
        cpuid
        test    edx, CPUID_1_EDX_PAE
        jnz     .have_pae
        mov     esi, no_pae
        jmp     skip
.have_pae:
        mov     eax, CPUID_EXT_MAX
        cpuid
        cmp     eax, CPUID_EXT_FEATURES
        jb      .no_nx
        mov     eax, CPUID_EXT_FEATURES
        cpuid
        test    edx, CPUID_EXT_EDX_NX
        jnz     .have_nx
.no_nx:
        mov     esi, no_nx
        jmp     skip
.have_nx:

; ------------------------------------------------------------------ the tables
; The routine the tests execute goes to the 4 KiB page nx_page and to the
; start of the 2 MiB page (through the identity map, before paging).
        call    build_pae_tables
        mov     esi, routine
        mov     edi, nx_page
        mov     ecx, routine_end - routine
        rep     movsb
        mov     esi, routine
        mov     edi, LARGE_PHYSICAL
        mov     ecx, routine_end - routine
        rep     movsb

; ------------------------------------------------------------------ paging on, NXE off
; CR4.PAE first, then CR3 (which loads the PDPTEs), then CR0.PG.
        mov     eax, cr4
        or      eax, CR4_PAE
        mov     cr4, eax
        mov     eax, pdpt
        mov     cr3, eax
        mov     eax, cr0
        or      eax, CR0_PG
        mov     cr0, eax
        println "PAE paging on"

; With NXE clear, XD is a reserved bit: reading the XD page is a #PF with
; RSVD and P set, not an access.
        try     .rsvd_done
.rsvd_read:
        mov     eax, [nx_page]
.rsvd_done:
        end_try
        expect  dword [fault_vector], VEC_PF, "NXE=0: a read of a page with bit 63 set faults"
        expect  dword [fault_error], ERR_READ_RSVD, "NXE=0: error code P|RSVD"
        expect  dword [fault_cr2], nx_page, "NXE=0: CR2"
        expect  dword [fault_eip], .rsvd_read, "NXE=0: saved EIP is the read"

; ------------------------------------------------------------------ NXE on
        mov     ecx, MSR_EFER
        rdmsr
        or      eax, EFER_NXE
        wrmsr
        rdmsr
        and     eax, EFER_NXE
        expect  eax, EFER_NXE, "IA32_EFER.NXE reads back set"
        mov     eax, cr3                        ; drop translations made with NXE clear
        mov     cr3, eax

; ------------------------------------------------------------------ a 4 KiB XD page
; A fetch faults with I/D set and the saved EIP at the target (the JMP
; itself completed); a read and a write are allowed.
        try     .fetch4k_done
        mov     eax, nx_page
        jmp     eax
.fetch4k_done:
        end_try
        expect  dword [fault_vector], VEC_PF, "4 KiB XD page: a fetch faults"
        expect  dword [fault_error], ERR_FETCH_NX, "4 KiB XD page: error code P|I/D"
        expect  dword [fault_cr2], nx_page, "4 KiB XD page: CR2"
        expect  dword [fault_eip], nx_page, "4 KiB XD page: saved EIP is the target"

        try     .read4k_done
        mov     eax, [nx_page]
        mov     [nx_page + PAGE_SIZE - 4], eax
.read4k_done:
        end_try
        expect  dword [fault_vector], NO_FAULT, "4 KiB XD page: read and write allowed"
        expect  eax, dword [routine], "4 KiB XD page: the read sees the routine"

        mov     eax, nx_page                    ; at CPL 3: U/S in the error code too
        try     user_fetch.resume
        in_ring3 user_fetch
        end_try
        expect  dword [fault_vector], VEC_PF, "4 KiB XD page at CPL 3: a fetch faults"
        expect  dword [fault_error], ERR_FETCH_NX_USER, "4 KiB XD page at CPL 3: error code P|U/S|I/D"
        expect  dword [fault_eip], nx_page, "4 KiB XD page at CPL 3: saved EIP is the target"

        ; Without XD the same page runs.
        mov     ebx, [nx_pte]
        and     dword [ebx + 4], ~PTE_XD_HIGH
        invlpg  [nx_page]
        mov     eax, 0
        call    nx_page
        expect  eax, MAGIC, "4 KiB page with XD clear: the code runs"

; ------------------------------------------------------------------ a 2 MiB XD page
; The same physical 2 MiB twice: at LARGE_EXEC it runs, at LARGE_NX it
; may be read but not executed.
        mov     eax, 0
        call    LARGE_EXEC
        expect  eax, MAGIC, "2 MiB page without XD: the code runs"

        try     .fetch2m_done
        mov     eax, LARGE_NX
        jmp     eax
.fetch2m_done:
        end_try
        expect  dword [fault_vector], VEC_PF, "2 MiB XD page: a fetch faults"
        expect  dword [fault_error], ERR_FETCH_NX, "2 MiB XD page: error code P|I/D"
        expect  dword [fault_cr2], LARGE_NX, "2 MiB XD page: CR2"

        try     .read2m_done
        mov     eax, [LARGE_NX]
.read2m_done:
        end_try
        expect  dword [fault_vector], NO_FAULT, "2 MiB XD page: a read is allowed"
        expect  eax, dword [routine], "2 MiB XD page: the read sees the routine"

; ------------------------------------------------------------------ a not-present page
; A fetch from nowhere: P clear, I/D set since PAE and NXE are on.
        try     .absent_done
        mov     eax, ABSENT_LINEAR
        jmp     eax
.absent_done:
        end_try
        expect  dword [fault_vector], VEC_PF, "not-present page: a fetch faults"
        expect  dword [fault_error], ERR_FETCH_ABSENT, "not-present page: error code I/D only"
        expect  dword [fault_cr2], ABSENT_LINEAR, "not-present page: CR2"

        jmp     verdict

; ------------------------------------------------------------------ build_pae_tables
; The PDPT (32-byte aligned), one page directory, one page table, all with
; 64-bit entries: the low dword holds the address and flags, the high
; dword the XD bit (and address bits above 4 GiB, none here).
build_pae_tables:
        pushad
        mov     dword [pdpt], page_dir + PDPTE_FLAGS    ; 0-1 GiB; the rest not present

        ; Directory entry 0: the page table; 1: the 2 MiB page; 2: the same
        ; with XD; 3: not present (zero, like all of .bss).
        mov     dword [page_dir + 0 * 8], page_table + PAGE_FLAGS
        mov     dword [page_dir + 1 * 8], LARGE_PHYSICAL + PAGE_FLAGS + PTE_PS
        mov     dword [page_dir + 2 * 8], LARGE_PHYSICAL + PAGE_FLAGS + PTE_PS
        mov     dword [page_dir + 2 * 8 + 4], PTE_XD_HIGH

        ; The page table maps 0-2 MiB one to one ...
        mov     edi, page_table
        mov     eax, PAGE_FLAGS
        mov     ecx, PAE_ENTRIES
.pte:
        mov     [edi], eax
        mov     dword [edi + 4], 0
        add     eax, PAGE_SIZE
        add     edi, 8
        loop    .pte
        ; ... and nx_page is execute-disabled.
        mov     eax, nx_page
        shr     eax, 12                         ; its page number = its entry's index
        lea     ebx, [page_table + eax * 8]
        mov     [nx_pte], ebx
        or      dword [ebx + 4], PTE_XD_HIGH
        popad
        ret

; ------------------------------------------------------------------ code that gets copied and run
routine:
        mov     eax, MAGIC
        ret
routine_end:

; user_fetch: at CPL 3, jump to EAX.
user_fetch:
        jmp     eax
.resume:
        ret

no_pae: db      "no PAE (CPUID.1:EDX bit 6 clear)", 0
no_nx:  db      "no execute-disable bit (CPUID.80000001H:EDX bit 20 clear)", 0

        align   16
image_end:

; ------------------------------------------------------------------ bss
section .bss
        alignb  PAGE_SIZE
page_dir:       resq PAE_ENTRIES
page_table:     resq PAE_ENTRIES
nx_page:        resb PAGE_SIZE          ; a page of its own: its PTE gets XD
pdpt:           resq PDPT_ENTRIES       ; 32-byte aligned (here page-aligned)
nx_pte:         resd 1                  ; the address of nx_page's entry
bss_end:
