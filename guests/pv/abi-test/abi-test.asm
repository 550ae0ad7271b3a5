; guests/pv/abi-test/abi-test.asm — an XTF-style test kernel for the memory and CPU hypercalls.
;
; What it shows: how a 32-bit PV kernel manages memory and the CPU without
; ring 0. Its page tables hold machine frames and are read-only to it, so
; it asks the hypervisor to change them (mmu_update, update_va_mapping,
; mmuext_op) or, once it turns on vm_assist(writable_pagetables), writes an
; L1 entry directly and lets the hypervisor check and complete the faulting
; write. Its GDT and LDT are frames the hypervisor validated (set_gdt,
; update_descriptor, MMUEXT_SET_LDT), its CR0.TS is a hypercall
; (fpu_taskswitch), its memory grows and shrinks by whole frames
; (memory_op), its port I/O depends on a virtual IOPL (physdev_op), and a
; batch of hypercalls costs one trap (multicall). Last, the console's event
; channel in start_info is checked to be a real port.
;
; Every hypercall is tried on the way that works and on the ways that must
; fail, with Xen's error numbers (XEN-ABI.md 2.3): a bad value is -EINVAL,
; a pointer the guest may not name (the hypervisor hole from 0xF5800000 up)
; -EFAULT, a foreign domain -EPERM or -ESRCH, an unknown operation
; -ENOSYS. The hostile cases are the ones a broken hypervisor would let
; through: mapping a page table writable, mapping a frame the domain does
; not own or one past the end of RAM, pointing the hypervisor into its own
; hole. Like an XTF test, each failed check prints a line as it happens,
; and the kernel ends with "Test result: SUCCESS", or "Test result:
; FAILURE" and the names of the failing checks, then powers off.
;
; Layout (XEN-ABI.md 7.2): the builder maps a region from VA 0 one-to-one
; with the domain's first pfns, the kernel at 1 MiB, so the pages below
; 1 MiB are free for this test's scratch frames. The bootstrap page tables
; are inside the region too, mapped read-only, and a table's VA is its pfn
; times 4 KiB; the pfn of a machine frame is read from the read-only M2P
; at 0xF5800000 (mfn_to_virt, as XTF does it).
;
; Read next: XEN-ABI.md 1 (why 32-bit PV is hard), 4 (the structures),
; 5.1 (descriptors) and 7.2 (the start of day); hypervisor/x86/mm.ts.

bits 32
%include "xen.inc"              ; hypercall numbers, struc layouts
%include "xen-elf.inc"          ; ELF header and the Xen notes, by hand
%include "pv-pagetable.inc"
org XEN_ELF_BASE

        xen_elf_header
        xen_notes

; ------------------------------------------------------------------ constants
; Page-table entry flags (SDM Vol. 3A 4.4): present, writable, user, accessed, dirty.
PTE_P           equ 0x001
PTE_RW          equ 0x002
PTE_U           equ 0x004
PTE_A           equ 0x020
PTE_D           equ 0x040
PTE_DATA        equ PTE_P | PTE_RW | PTE_A          ; a writable kernel page
PTE_RO          equ PTE_P | PTE_A                   ; a read-only kernel page
PTE_TABLE       equ PTE_P | PTE_RW | PTE_U | PTE_A | PTE_D ; how L2 entries point at L1s

; Xen's errors, as the negative numbers a hypercall returns in EAX.
EPERM           equ -1
ESRCH           equ -3
EACCES          equ -13
EFAULT          equ -14
EBUSY           equ -16
EINVAL          equ -22
ENOSYS          equ -38
EOPNOTSUPP      equ -95

; Addresses the test uses: shared_info, then scratch pages below the kernel.
SHARED_VA       equ 0x1000          ; shared_info, mapped by setup
PAGE_A          equ 0x10000         ; scratch pages, each its own frame
PAGE_B          equ 0x11000
PAGE_C          equ 0x12000
PAGE_D          equ 0x13000
PAGE_E          equ 0x14000
PAGE_F          equ 0x15000
HOLE            equ 0xF5800000      ; HYPERVISOR_VIRT_START: the guest may name nothing here
NOT_A_DOMAIN    equ 0x1234          ; a domid no domain has
PAST_RAM_MFN    equ 0xFFFFF         ; a frame far beyond this machine's RAM
XEN_MFN         equ 0               ; frame 0 belongs to the hypervisor
EMPTY_L2_SLOT   equ 100             ; an L2 entry of the first GiB no bootstrap mapping uses
MAX_FAILURES    equ 32              ; failing checks remembered for the verdict

; Exception vectors the handlers record.
VEC_UD          equ 6
VEC_NM          equ 7
VEC_GP          equ 13
VEC_PF          equ 14

; ------------------------------------------------------------------ macros
; check "name", expected: compares EAX with the expected value. A mismatch
; prints "Failure: name: got X, expected Y" and is remembered for the end,
; as XTF's xtf_failure does. Keeps every register.
%macro check 2
        push    dword %%name
        push    dword %2
        call    check_eax
        jmp     %%over
%%name: db      %1, 0
%%over:
%endmacro

; say "text": prints a string on the console (keeps every register).
%macro say 1+
        push    dword %%text
        call    print_string
        jmp     %%over
%%text: db      %1, 0
%%over:
%endmacro

; expect_fault LABEL: the next exception is recorded (vector, error code,
; CR2) and the kernel resumes at LABEL instead of the faulting instruction.
%macro expect_fault 1
        mov     dword [fault_resume], %1
        mov     dword [fault_vector], -1
%endmacro

; One-request wrappers for the batch hypercalls (see the routines below);
; the arguments may be registers, memory or constants.
%macro mmu1 3                   ; mmu_update: ptr, val_lo, val_hi
        push    dword %3
        push    dword %2
        push    dword %1
        call    mmu_update_one
%endmacro

%macro ext1 3                   ; mmuext_op: cmd, arg1, arg2
        push    dword %3
        push    dword %2
        push    dword %1
        call    mmuext_one
%endmacro

%macro uvm 3                    ; update_va_mapping: va, pte_lo, flags (pte_hi 0)
        mov     ebx, %1
        mov     ecx, %2
        xor     edx, edx
        mov     esi, %3
        hypercall __HYPERVISOR_update_va_mapping
%endmacro

; ------------------------------------------------------------------ entry
; ESI = start_info, ring 1, flat segments, events masked (XEN-ABI.md 7.2).
entry:
        mov     [start_info_ptr], esi
        say     "abi-test: memory and CPU hypercalls of a 32-bit PV guest", 10

        ; Exceptions go to the handlers of a trap table (XEN-ABI.md 5.2).
        mov     ebx, trap_table
        hypercall __HYPERVISOR_set_trap_table
        check   "set_trap_table", 0

        ; shared_info is given by machine address; a PV guest maps it itself
        ; (vcpu_info[0].arch.cr2 there tells a #PF handler the address).
        mov     esi, [start_info_ptr]
        mov     ecx, [esi + start_info.shared_info]
        or      ecx, PTE_DATA
        uvm     SHARED_VA, ecx, UVMF_INVLPG
        check   "update_va_mapping maps shared_info", 0

        call    test_vm_assist
        call    test_mmu_update
        call    test_update_va_mapping
        call    test_writable_pagetables
        call    test_pins
        call    test_baseptr
        call    test_mmuext_misc
        call    test_ldt
        call    test_descriptors
        call    test_fpu
        call    test_multicall
        call    test_memory_op
        call    test_physdev
        call    test_console_evtchn
        jmp     finish

; ------------------------------------------------------------------ vm_assist
; vm_assist(cmd, type) turns an assist on or off for the domain. A 32-bit
; guest may use types 0-5 (XEN-ABI.md 4); m2p_strict (32) is 64-bit only.
test_vm_assist:
        mov     ebx, VMASST_CMD_enable
        mov     ecx, VMASST_TYPE_writable_pagetables
        hypercall __HYPERVISOR_vm_assist
        check   "vm_assist enable writable_pagetables", 0
        mov     ebx, VMASST_CMD_disable
        mov     ecx, VMASST_TYPE_writable_pagetables
        hypercall __HYPERVISOR_vm_assist
        check   "vm_assist disable writable_pagetables", 0
        mov     ebx, VMASST_CMD_enable
        mov     ecx, 32                         ; VMASST_TYPE_m2p_strict
        hypercall __HYPERVISOR_vm_assist
        check   "vm_assist m2p_strict is not for a 32-bit guest", EINVAL
        mov     ebx, 7                          ; no such command
        mov     ecx, VMASST_TYPE_writable_pagetables
        hypercall __HYPERVISOR_vm_assist
        check   "vm_assist unknown command", ENOSYS
        ret

; ------------------------------------------------------------------ mmu_update
; mmu_update names an entry by its machine address: the frame of the table
; times 4096 plus the entry's offset, with the command in the low bits.
test_mmu_update:
        ; Point PAGE_A's entry at PAGE_B's frame: PAGE_A becomes an alias.
        mov     dword [PAGE_B], 0x600DF00D
        mov     eax, PAGE_B
        call    mfn_of
        mov     [mfn_b], eax
        mov     eax, PAGE_A
        call    pte_ma
        mov     [pte_a_ma], eax
        mov     ecx, [mfn_b]
        shl     ecx, 12
        or      ecx, PTE_DATA
        mmu1    [pte_a_ma], ecx, 0
        check   "mmu_update writes an L1 entry", 0
        call    flush_tlb
        mov     eax, [PAGE_A]
        check   "the alias reads the other frame", 0x600DF00D

        ; PRESERVE_AD keeps the A and D bits the entry had: write without D
        ; over an entry with D, and D survives.
        mov     ecx, [mfn_b]
        shl     ecx, 12
        or      ecx, PTE_DATA | PTE_D
        mmu1    [pte_a_ma], ecx, 0
        mov     ecx, [mfn_b]
        shl     ecx, 12
        or      ecx, PTE_P | PTE_RW
        mov     eax, [pte_a_ma]
        or      eax, MMU_PT_UPDATE_PRESERVE_AD
        mmu1    eax, ecx, 0
        check   "mmu_update PRESERVE_AD", 0
        mov     eax, PAGE_A
        call    pte_va
        mov     eax, [eax]
        and     eax, 0xFFF
        check   "PRESERVE_AD kept A and D", PTE_P | PTE_RW | PTE_A | PTE_D

        ; MMU_MACHPHYS_UPDATE sets the M2P entry of one of the domain's
        ; frames: the guest's own record of which pfn it uses it for.
        mov     eax, [mfn_b]
        shl     eax, 12
        or      eax, MMU_MACHPHYS_UPDATE
        mmu1    eax, 0x4242, 0
        check   "MMU_MACHPHYS_UPDATE of an own frame", 0
        mov     eax, [mfn_b]
        mov     eax, [MACH2PHYS_VIRT_START + eax * 4]
        check   "the M2P shows the new pfn", 0x4242
        mov     eax, [mfn_b]
        shl     eax, 12
        or      eax, MMU_MACHPHYS_UPDATE
        mmu1    eax, PAGE_B >> 12, 0
        mmu1    MMU_MACHPHYS_UPDATE | (XEN_MFN << 12), 1, 0
        check   "MMU_MACHPHYS_UPDATE of the hypervisor's frame", EINVAL

        ; Hostile: an entry mapping a page table writable (the L3 itself)
        ; would let the guest rewrite its own tables.
        mov     esi, [start_info_ptr]
        mov     eax, [esi + start_info.pt_base]
        call    mfn_of
        mov     [l3_mfn], eax
        mov     ecx, eax
        shl     ecx, 12
        or      ecx, PTE_DATA
        mmu1    [pte_a_ma], ecx, 0
        check   "mmu_update mapping a page table writable", EBUSY
        mmu1    [pte_a_ma], (XEN_MFN << 12) | PTE_DATA, 0
        check   "mmu_update mapping the hypervisor's frame", EBUSY
        mmu1    [pte_a_ma], (PAST_RAM_MFN << 12) | PTE_DATA, 0
        check   "mmu_update mapping a frame past RAM", EPERM
        mmu1    (XEN_MFN << 12), PTE_DATA, 0
        check   "mmu_update writing into the hypervisor's frame", EINVAL
        mov     eax, [pte_a_ma]
        or      eax, 5
        mmu1    eax, 0, 0
        check   "mmu_update command 5", ENOSYS

        ; A batch stops at the first refused request; *done counts the rest.
        mov     ecx, [mfn_b]
        shl     ecx, 12
        or      ecx, PTE_DATA
        mov     eax, [pte_a_ma]
        mov     [reqs + mmu_update.ptr], eax
        mov     [reqs + mmu_update.val], ecx
        mov     dword [reqs + mmu_update_size + mmu_update.ptr], XEN_MFN << 12
        mov     dword [reqs + mmu_update_size + mmu_update.val], 0
        mov     ebx, reqs
        mov     ecx, 2
        mov     edx, done
        mov     esi, DOMID_SELF
        hypercall __HYPERVISOR_mmu_update
        check   "a batch with a bad second request", EINVAL
        mov     eax, [done]
        check   "done counts the first request", 1

        ; Pointers and domains the guest may not name.
        mov     ebx, HOLE
        mov     ecx, 1
        mov     edx, done
        mov     esi, DOMID_SELF
        hypercall __HYPERVISOR_mmu_update
        check   "mmu_update requests in the hypervisor hole", EFAULT
        mov     ebx, reqs
        mov     ecx, 1
        mov     edx, done
        mov     esi, DOMID_XEN
        hypercall __HYPERVISOR_mmu_update
        check   "mmu_update for DOMID_XEN's pages", EPERM
        mov     ebx, reqs
        mov     ecx, 1
        mov     edx, done
        mov     esi, NOT_A_DOMAIN
        hypercall __HYPERVISOR_mmu_update
        check   "mmu_update for a domain that does not exist", ESRCH
        ret

; ------------------------------------------------------------------ update_va_mapping
; update_va_mapping(va, pte_lo, pte_hi, flags) writes the L1 entry that maps
; va in the current address space; the flags ask for a TLB flush.
test_update_va_mapping:
        mov     dword [PAGE_C], 0xC0FFEE
        mov     eax, PAGE_C
        call    mfn_of
        mov     ecx, eax
        shl     ecx, 12
        or      ecx, PTE_DATA
        uvm     PAGE_A, ecx, UVMF_INVLPG
        check   "update_va_mapping with UVMF_INVLPG", 0
        mov     eax, [PAGE_A]
        check   "the new mapping is in effect", 0xC0FFEE
        mov     eax, PAGE_A
        call    mfn_of
        mov     ecx, eax
        shl     ecx, 12
        or      ecx, PTE_DATA
        uvm     PAGE_A, ecx, UVMF_TLB_FLUSH | UVMF_ALL
        check   "update_va_mapping with UVMF_TLB_FLUSH|UVMF_ALL", 0

        ; A va in the hole has no L1 of the guest's; a mask pointer in the
        ; hole cannot be read.
        uvm     HOLE, PTE_DATA, UVMF_INVLPG
        check   "update_va_mapping of a va in the hole", EINVAL
        mov     ecx, [mfn_b]
        shl     ecx, 12
        or      ecx, PTE_DATA
        uvm     PAGE_A, ecx, UVMF_INVLPG | HOLE
        check   "update_va_mapping with a vCPU mask in the hole", EFAULT
        mov     ecx, [l3_mfn]
        shl     ecx, 12
        or      ecx, PTE_DATA
        uvm     PAGE_A, ecx, UVMF_INVLPG
        check   "update_va_mapping mapping the L3 writable", EBUSY

        ; The other-domain flavour: a domU names only itself.
        mov     ebx, PAGE_A
        mov     ecx, PTE_DATA
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        mov     edi, DOMID_XEN
        hypercall __HYPERVISOR_update_va_mapping_otherdomain
        check   "update_va_mapping_otherdomain DOMID_XEN", EPERM
        mov     ebx, PAGE_A
        mov     ecx, PTE_DATA
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        mov     edi, NOT_A_DOMAIN
        hypercall __HYPERVISOR_update_va_mapping_otherdomain
        check   "update_va_mapping_otherdomain of no domain", ESRCH
        ret

; ------------------------------------------------------------------ writable page tables
; With vm_assist(writable_pagetables) a kernel writes its L1 entries like
; ordinary memory. The write faults (the table is read-only to it); the
; hypervisor checks the new entry, writes it, and the instruction retires.
test_writable_pagetables:
        mov     eax, PAGE_A
        call    pte_va
        mov     [pte_a_va], eax

        ; Without the assist the write is a #PF with P and W in the error
        ; code, at the address of the entry.
        mov     ebx, VMASST_CMD_disable
        mov     ecx, VMASST_TYPE_writable_pagetables
        hypercall __HYPERVISOR_vm_assist
        mov     edi, [pte_a_va]
        expect_fault .no_assist
        mov     dword [edi], 0
.no_assist:
        mov     eax, [fault_vector]
        check   "a PTE write without the assist faults", VEC_PF
        mov     eax, [fault_error]
        check   "with P and W in the error code", 3
        mov     eax, [fault_cr2]
        check   "at the PTE's address", [pte_a_va]

        mov     ebx, VMASST_CMD_enable
        mov     ecx, VMASST_TYPE_writable_pagetables
        hypercall __HYPERVISOR_vm_assist

        ; MOV: PAGE_A becomes an alias of PAGE_C, one dword at a time.
        mov     eax, PAGE_C
        call    mfn_of
        shl     eax, 12
        or      eax, PTE_DATA
        mov     edi, [pte_a_va]
        mov     dword [edi + 4], 0
        mov     [edi], eax
        call    flush_tlb
        mov     eax, [PAGE_A]
        check   "a MOV to the L1 entry takes effect", 0xC0FFEE

        ; CMPXCHG8B: the whole entry at once, compared and exchanged.
        mov     eax, PAGE_B
        call    mfn_of
        shl     eax, 12
        or      eax, PTE_DATA
        mov     ebx, eax                        ; new entry, low half
        xor     ecx, ecx                        ; new entry, high half
        mov     edi, [pte_a_va]
        mov     eax, [edi]                      ; expected old entry
        mov     edx, [edi + 4]
        lock cmpxchg8b [edi]
        setz    al
        movzx   eax, al
        check   "CMPXCHG8B on the L1 entry succeeds", 1
        call    flush_tlb
        mov     eax, [PAGE_A]
        check   "and the alias follows", 0x600DF00D

        ; Hostile: a direct write that would map the L3 writable is
        ; refused, and the guest gets the #PF as if there were no assist.
        mov     eax, [l3_mfn]
        shl     eax, 12
        or      eax, PTE_DATA
        mov     edi, [pte_a_va]
        expect_fault .refused
        mov     [edi], eax
.refused:
        mov     eax, [fault_vector]
        check   "a refused PTE write is a #PF", VEC_PF
        mov     eax, [fault_cr2]
        check   "at the PTE's address", [pte_a_va]
        mov     eax, [edi]
        shr     eax, 12
        check   "and the entry is unchanged", [mfn_b]

        ; Xen emulates writes to L1 tables only: an L2 entry stays a #PF.
        mov     esi, [start_info_ptr]
        mov     eax, [esi + start_info.pt_base]
        mov     eax, [eax]                      ; L3 slot 0: the L2 of the first GiB
        shr     eax, 12
        mov     eax, [MACH2PHYS_VIRT_START + eax * 4]
        shl     eax, 12
        lea     edi, [eax + EMPTY_L2_SLOT * 8]
        expect_fault .l2
        mov     dword [edi], 0
.l2:    mov     eax, [fault_vector]
        check   "a direct write to an L2 entry is a #PF", VEC_PF

        ; Put PAGE_A back on its own frame.
        mov     eax, PAGE_A
        call    own_frame_entry
        mov     edi, [pte_a_va]
        mov     [edi], eax
        call    flush_tlb
        ret

; ------------------------------------------------------------------ pins
; A pinned table stays validated with nothing else pointing at it. A frame
; mapped writable cannot become a table; once a table, it cannot be mapped
; writable; unpinning a table still in use leaves it a table (Xen: 0).
test_pins:
        mov     edi, PAGE_D                     ; an empty L1: all entries not present
        mov     ecx, 1024
        xor     eax, eax
        rep stosd
        mov     eax, PAGE_D
        call    mfn_of
        mov     [mfn_d], eax
        ext1    MMUEXT_PIN_L1_TABLE, [mfn_d], 0
        check   "pinning a frame mapped writable", EINVAL

        mov     ecx, [mfn_d]
        shl     ecx, 12
        or      ecx, PTE_RO
        uvm     PAGE_D, ecx, UVMF_INVLPG
        ext1    MMUEXT_PIN_L1_TABLE, [mfn_d], 0
        check   "MMUEXT_PIN_L1_TABLE", 0
        ext1    MMUEXT_PIN_L1_TABLE, [mfn_d], 0
        check   "pinning it twice", EINVAL
        ext1    MMUEXT_PIN_L2_TABLE, [mfn_d], 0
        check   "pinning an L1 as an L2", EINVAL
        mov     ecx, [mfn_d]
        shl     ecx, 12
        or      ecx, PTE_DATA
        uvm     PAGE_D, ecx, UVMF_INVLPG
        check   "mapping a pinned L1 writable", EBUSY

        ; Hook the L1 into an empty L2 slot, then unpin: it is still in use.
        mov     esi, [start_info_ptr]
        mov     eax, [esi + start_info.pt_base]
        mov     eax, [eax]
        and     eax, 0xFFFFF000                 ; the L2's machine address
        add     eax, EMPTY_L2_SLOT * 8
        mov     [l2_slot_ma], eax
        mov     ecx, [mfn_d]
        shl     ecx, 12
        or      ecx, PTE_TABLE
        mmu1    [l2_slot_ma], ecx, 0
        check   "an L2 entry pointing at the L1", 0
        ext1    MMUEXT_UNPIN_TABLE, [mfn_d], 0
        check   "unpinning a table in use", 0
        ext1    MMUEXT_UNPIN_TABLE, [mfn_d], 0
        check   "unpinning it again", EINVAL
        mov     ecx, [mfn_d]
        shl     ecx, 12
        or      ecx, PTE_DATA
        uvm     PAGE_D, ecx, UVMF_INVLPG
        check   "it is still a table: not writable", EBUSY

        ; Take it out of the L2: now nothing holds it, and it is a page again.
        mmu1    [l2_slot_ma], 0, 0
        check   "clearing the L2 entry", 0
        mov     ecx, [mfn_d]
        shl     ecx, 12
        or      ecx, PTE_DATA
        uvm     PAGE_D, ecx, UVMF_INVLPG
        check   "the frame is writable again", 0

        ext1    MMUEXT_PIN_L1_TABLE, XEN_MFN, 0
        check   "pinning the hypervisor's frame", EINVAL
        ext1    MMUEXT_UNPIN_TABLE, [l3_mfn], 0
        check   "unpinning the bootstrap L3 while CR3 holds it", 0
        ext1    MMUEXT_PIN_L3_TABLE, [l3_mfn], 0
        check   "pinning the bootstrap L3 again after unpinning it", 0
        ext1    MMUEXT_PIN_L4_TABLE, [l3_mfn], 0
        check   "MMUEXT_PIN_L4_TABLE is a no-op for a 32-bit guest", 0
        ret

; ------------------------------------------------------------------ base pointer
; MMUEXT_NEW_BASEPTR switches CR3. A new L3 needs a new L2 under slot 3,
; since the L2 carrying the hypervisor's entries may hang under one L3 only
; (XEN-ABI.md 1.3). Both are made as copies, made read-only, and the switch
; validates them.
test_baseptr:
        mov     eax, PAGE_E
        call    mfn_of
        mov     [mfn_e], eax
        mov     eax, PAGE_F
        call    mfn_of
        mov     [mfn_f], eax
        mov     esi, [start_info_ptr]
        mov     eax, [esi + start_info.pt_base]
        mov     eax, [eax + 3 * 8]
        shr     eax, 12
        mov     [mfn_l2x], eax                  ; the L2 under slot 3
        ext1    MMUEXT_COPY_PAGE, [mfn_e], [l3_mfn]
        check   "MMUEXT_COPY_PAGE of the L3", 0
        ext1    MMUEXT_COPY_PAGE, [mfn_f], [mfn_l2x]
        check   "MMUEXT_COPY_PAGE of the L2 under slot 3", 0
        mov     eax, [mfn_f]
        shl     eax, 12
        mov     ecx, [PAGE_E + 3 * 8]
        and     ecx, 0xFFF
        or      eax, ecx
        mov     [PAGE_E + 3 * 8], eax           ; the copy's slot 3 names the new L2

        ; Still writable: the switch must refuse it.
        ext1    MMUEXT_NEW_BASEPTR, [mfn_e], 0
        check   "NEW_BASEPTR to a frame mapped writable", EINVAL
        mov     ecx, [mfn_e]
        shl     ecx, 12
        or      ecx, PTE_RO
        uvm     PAGE_E, ecx, UVMF_INVLPG
        mov     ecx, [mfn_f]
        shl     ecx, 12
        or      ecx, PTE_RO
        uvm     PAGE_F, ecx, UVMF_INVLPG
        ext1    MMUEXT_NEW_BASEPTR, [mfn_e], 0
        check   "MMUEXT_NEW_BASEPTR to the copy", 0
        mov     eax, cr3_probe
        mov     eax, [eax]
        check   "the kernel runs on in the new address space", 0xCAFE
        mov     eax, [l3_mfn]
        mov     eax, [MACH2PHYS_VIRT_START + eax * 4]
        mov     esi, [start_info_ptr]
        mov     ecx, [esi + start_info.pt_base]
        shr     ecx, 12
        cmp     eax, ecx
        sete    al
        movzx   eax, al
        check   "the new L2 carries the hypervisor's M2P window", 1

        ext1    MMUEXT_NEW_BASEPTR, [l3_mfn], 0
        check   "MMUEXT_NEW_BASEPTR back to the bootstrap L3", 0
        ; Nothing holds the copies now: they are ordinary pages again.
        mov     ecx, [mfn_e]
        shl     ecx, 12
        or      ecx, PTE_DATA
        uvm     PAGE_E, ecx, UVMF_INVLPG
        check   "the old L3 copy is writable again", 0
        mov     ecx, [mfn_f]
        shl     ecx, 12
        or      ecx, PTE_DATA
        uvm     PAGE_F, ecx, UVMF_INVLPG
        check   "and so is its L2", 0

        mov     eax, PAGE_C
        call    mfn_of
        ext1    MMUEXT_NEW_BASEPTR, eax, 0
        check   "NEW_BASEPTR to a data page", EINVAL
        ext1    MMUEXT_NEW_BASEPTR, XEN_MFN, 0
        check   "NEW_BASEPTR to the hypervisor's frame", EINVAL
        ret

; ------------------------------------------------------------------ other mmuext_op commands
test_mmuext_misc:
        ext1    MMUEXT_TLB_FLUSH_LOCAL, 0, 0
        check   "MMUEXT_TLB_FLUSH_LOCAL", 0
        ext1    MMUEXT_INVLPG_LOCAL, PAGE_A, 0
        check   "MMUEXT_INVLPG_LOCAL", 0
        ext1    MMUEXT_TLB_FLUSH_ALL, 0, 0
        check   "MMUEXT_TLB_FLUSH_ALL", 0
        ext1    MMUEXT_INVLPG_ALL, PAGE_A, 0
        check   "MMUEXT_INVLPG_ALL", 0
        mov     dword [vcpu_mask], 1
        ext1    MMUEXT_TLB_FLUSH_MULTI, 0, vcpu_mask
        check   "MMUEXT_TLB_FLUSH_MULTI", 0
        ext1    MMUEXT_TLB_FLUSH_MULTI, 0, HOLE
        check   "MMUEXT_TLB_FLUSH_MULTI with a mask in the hole", EINVAL
        ext1    MMUEXT_FLUSH_CACHE, 0, 0
        check   "MMUEXT_FLUSH_CACHE without device access", EACCES
        ext1    MMUEXT_NEW_USER_BASEPTR, [l3_mfn], 0
        check   "MMUEXT_NEW_USER_BASEPTR is 64-bit only", EINVAL
        ext1    MMUEXT_MARK_SUPER, [mfn_b], 0
        check   "MMUEXT_MARK_SUPER", EOPNOTSUPP
        ext1    99, 0, 0
        check   "an unknown mmuext command", ENOSYS

        ; CLEAR_PAGE and COPY_PAGE work on frames the domain may write.
        mov     dword [PAGE_C + 8], 0x12345678
        mov     eax, PAGE_C
        call    mfn_of
        ext1    MMUEXT_CLEAR_PAGE, eax, 0
        check   "MMUEXT_CLEAR_PAGE", 0
        mov     eax, [PAGE_C + 8]
        check   "the page is zero", 0
        mov     eax, PAGE_C
        call    mfn_of
        ext1    MMUEXT_COPY_PAGE, eax, [mfn_b]
        check   "MMUEXT_COPY_PAGE", 0
        mov     eax, [PAGE_C]
        check   "the copy holds the source's bytes", 0x600DF00D
        ext1    MMUEXT_CLEAR_PAGE, [l3_mfn], 0
        check   "MMUEXT_CLEAR_PAGE of the L3", EINVAL
        ext1    MMUEXT_COPY_PAGE, [mfn_b], XEN_MFN
        check   "MMUEXT_COPY_PAGE from the hypervisor's frame", EINVAL

        ; A batch: the first operation done, the second refused.
        mov     dword [ops + mmuext_op.cmd], MMUEXT_TLB_FLUSH_LOCAL
        mov     dword [ops + mmuext_op_size + mmuext_op.cmd], MMUEXT_UNPIN_TABLE
        mov     dword [ops + mmuext_op_size + mmuext_op.arg1], XEN_MFN
        mov     ebx, ops
        mov     ecx, 2
        mov     edx, done
        mov     esi, DOMID_SELF
        hypercall __HYPERVISOR_mmuext_op
        check   "an mmuext_op batch with a bad second operation", EINVAL
        mov     eax, [done]
        check   "done counts the first operation", 1
        mov     ebx, HOLE
        mov     ecx, 1
        mov     edx, done
        mov     esi, DOMID_SELF
        hypercall __HYPERVISOR_mmuext_op
        check   "mmuext_op operations in the hypervisor hole", EFAULT
        ret

; ------------------------------------------------------------------ the LDT
; MMUEXT_SET_LDT(linear address, entries): the LDT's frames must be the
; domain's and read-only, like the GDT's; its selectors have TI = 1.
test_ldt:
        mov     edi, PAGE_C
        mov     ecx, 1024
        xor     eax, eax
        rep stosd
        mov     dword [PAGE_C + 8], 0x0000FFFF    ; entry 1: flat data, DPL 1
        mov     dword [PAGE_C + 12], 0x00CFB200
        mov     eax, PAGE_C
        call    mfn_of
        mov     ecx, eax
        shl     ecx, 12
        or      ecx, PTE_RO
        uvm     PAGE_C, ecx, UVMF_INVLPG
        ext1    MMUEXT_SET_LDT, PAGE_C, 2
        check   "MMUEXT_SET_LDT", 0
        mov     ax, 0x0D                        ; LDT entry 1, RPL 1
        mov     fs, ax
        mov     eax, [fs:PAGE_B]
        check   "a data segment from the LDT", 0x600DF00D
        mov     ax, FLAT_RING1_DS
        mov     fs, ax
        ext1    MMUEXT_SET_LDT, PAGE_C + 8, 2
        check   "MMUEXT_SET_LDT at an unaligned address", EINVAL
        ext1    MMUEXT_SET_LDT, PAGE_C, 8193
        check   "MMUEXT_SET_LDT with more than 8192 entries", EINVAL
        ext1    MMUEXT_SET_LDT, 0, 0
        check   "MMUEXT_SET_LDT with no entries", 0
        mov     eax, PAGE_C
        call    own_frame_entry
        uvm     PAGE_C, eax, UVMF_INVLPG
        check   "the LDT's frame is writable again once unused", 0
        ret

; ------------------------------------------------------------------ GDT and descriptors
; update_descriptor(ma_lo, ma_hi, desc_lo, desc_hi) writes one descriptor
; after Xen's checks (XEN-ABI.md 5.1); set_gdt(frames, entries) makes
; read-only frames the GDT. Descriptors are (lo, hi) dwords.
test_descriptors:
        mov     edi, PAGE_D
        mov     ecx, 1024
        xor     eax, eax
        rep stosd
        mov     eax, PAGE_D
        call    mfn_of
        mov     [mfn_d], eax
        shl     eax, 12
        mov     [desc_ma], eax

        ; A flat data segment with DPL 0: ring compression makes it DPL 1.
        mov     ebx, [desc_ma]
        add     ebx, 8                          ; entry 1
        xor     ecx, ecx
        mov     edx, 0x0000FFFF
        mov     esi, 0x00CF9200                 ; present, DPL 0, data RW, 4 GiB
        hypercall __HYPERVISOR_update_descriptor
        check   "update_descriptor of a data segment", 0
        mov     eax, [PAGE_D + 12]
        check   "its DPL 0 became 1", 0x00CFB200

        ; A flat code segment whose limit stops at 0xF6800000 (older PAE
        ; Linux) is widened to 4 GiB, past the hole.
        mov     ebx, [desc_ma]
        add     ebx, 16
        xor     ecx, ecx
        mov     edx, 0x000067FF                 ; limit 0xF67FF pages
        mov     esi, 0x00CF9A00                 ; present, DPL 0, code, G: limit in pages
        hypercall __HYPERVISOR_update_descriptor
        check   "update_descriptor of a code segment", 0
        mov     eax, [PAGE_D + 16]
        check   "its limit widened to 4 GiB", 0x0000FFFF

        ; A call gate to the kernel's code: DPL forced to 0, its DPL kept in
        ; the target selector's RPL.
        mov     ebx, [desc_ma]
        add     ebx, 24
        xor     ecx, ecx
        mov     edx, (FLAT_RING1_CS << 16) | 0x1234
        mov     esi, 0x0000EC00                 ; present, DPL 3, 32-bit call gate
        hypercall __HYPERVISOR_update_descriptor
        check   "update_descriptor of a call gate", 0
        mov     eax, [PAGE_D + 28]
        check   "the gate's DPL is 0", 0x00008C00
        mov     eax, [PAGE_D + 24]
        check   "the gate's selector carries DPL 3", ((FLAT_RING1_CS | 3) << 16) | 0x1234
        ; Xen checks a frame's descriptors again when it becomes a GDT page,
        ; and a gate's target must then be FLAT_RING1_CS exactly: this one,
        ; with RPL 3, would now be refused. Clear it (not present is safe).
        mov     ebx, [desc_ma]
        add     ebx, 24
        xor     ecx, ecx
        xor     edx, edx
        xor     esi, esi
        hypercall __HYPERVISOR_update_descriptor
        check   "update_descriptor of a not-present descriptor", 0

        ; Refused descriptors.
        mov     ebx, [desc_ma]
        add     ebx, 4
        xor     ecx, ecx
        mov     edx, 0x0000FFFF
        mov     esi, 0x00CF9200
        hypercall __HYPERVISOR_update_descriptor
        check   "update_descriptor at an unaligned address", EINVAL
        mov     ebx, [desc_ma]
        add     ebx, 32
        xor     ecx, ecx
        mov     edx, 0x0000FFFF
        mov     esi, 0x00AF9A00                 ; a 64-bit code segment (L = 1)
        hypercall __HYPERVISOR_update_descriptor
        check   "update_descriptor of a 64-bit code segment", EINVAL
        mov     ebx, [desc_ma]
        add     ebx, 32
        xor     ecx, ecx
        mov     edx, 0x00000067
        mov     esi, 0x00008900                 ; an available 32-bit TSS
        hypercall __HYPERVISOR_update_descriptor
        check   "update_descriptor of a TSS descriptor", EINVAL
        mov     ebx, [desc_ma]
        add     ebx, 32
        xor     ecx, ecx
        mov     edx, (FLAT_RING3_CS << 16)
        mov     esi, 0x0000EC00
        hypercall __HYPERVISOR_update_descriptor
        check   "update_descriptor of a gate to Xen's ring-3 segment", EINVAL
        mov     ebx, XEN_MFN << 12
        xor     ecx, ecx
        mov     edx, 0x0000FFFF
        mov     esi, 0x00CF9200
        hypercall __HYPERVISOR_update_descriptor
        check   "update_descriptor into the hypervisor's frame", EINVAL

        ; set_gdt: refused while the frame is mapped writable.
        mov     eax, [mfn_d]
        mov     [gdt_frames], eax
        mov     ebx, gdt_frames
        mov     ecx, 4
        hypercall __HYPERVISOR_set_gdt
        check   "set_gdt of a frame mapped writable", EINVAL
        mov     ecx, [mfn_d]
        shl     ecx, 12
        or      ecx, PTE_RO
        uvm     PAGE_D, ecx, UVMF_INVLPG
        mov     ebx, gdt_frames
        mov     ecx, 4
        hypercall __HYPERVISOR_set_gdt
        check   "set_gdt of a read-only frame", 0
        mov     ax, 0x09                        ; GDT entry 1, RPL 1
        mov     gs, ax
        mov     eax, [gs:PAGE_B]
        check   "a data segment from the guest's GDT", 0x600DF00D

        ; update_descriptor on a frame in use: the GDT sees it at once.
        ; Entry 1 becomes a data segment based at PAGE_B.
        mov     ebx, [desc_ma]
        add     ebx, 8
        xor     ecx, ecx
        mov     edx, ((PAGE_B & 0xFFFF) << 16) | 0xFFFF
        mov     esi, 0x00CF9200 | ((PAGE_B >> 16) & 0xFF)
        hypercall __HYPERVISOR_update_descriptor
        check   "update_descriptor of a live GDT entry", 0
        mov     ax, 0x09
        mov     gs, ax
        mov     eax, [gs:0]
        check   "the reloaded segment has the new base", 0x600DF00D
        mov     ax, FLAT_RING1_DS
        mov     gs, ax

        ; Hostile: the GDT frame may not be mapped writable now.
        mov     ecx, [mfn_d]
        shl     ecx, 12
        or      ecx, PTE_DATA
        uvm     PAGE_D, ecx, UVMF_INVLPG
        check   "mapping a GDT frame writable", EBUSY
        mov     ebx, gdt_frames
        mov     ecx, 7169                       ; past FIRST_RESERVED_GDT_ENTRY
        hypercall __HYPERVISOR_set_gdt
        check   "set_gdt with too many entries", EINVAL
        mov     ebx, HOLE
        mov     ecx, 4
        hypercall __HYPERVISOR_set_gdt
        check   "set_gdt with a frame list in the hole", EFAULT
        mov     dword [gdt_frames + 4], XEN_MFN
        mov     ebx, gdt_frames
        mov     ecx, 1024
        hypercall __HYPERVISOR_set_gdt
        check   "set_gdt with the hypervisor's frame", EINVAL

        ; An empty GDT lets the frame go.
        mov     ebx, gdt_frames
        xor     ecx, ecx
        hypercall __HYPERVISOR_set_gdt
        check   "set_gdt with no entries", 0
        mov     ecx, [mfn_d]
        shl     ecx, 12
        or      ecx, PTE_DATA
        uvm     PAGE_D, ecx, UVMF_INVLPG
        check   "the old GDT frame is writable again", 0

        mov     ebx, 0
        mov     ecx, 0
        hypercall __HYPERVISOR_set_segment_base
        check   "set_segment_base is 64-bit only", ENOSYS
        ret

; ------------------------------------------------------------------ fpu_taskswitch
; The guest's CR0.TS is virtual: fpu_taskswitch(1) sets it, and the next
; x87 instruction raises #NM, whose delivery clears it again (as Xen's
; does). This CPU has no FPU, so with TS clear an x87 instruction is #UD.
test_fpu:
        mov     ebx, 1
        hypercall __HYPERVISOR_fpu_taskswitch
        check   "fpu_taskswitch(1)", 0
        expect_fault .nm
        db      0xD9, 0xD0                      ; fnop
.nm:    mov     eax, [fault_vector]
        check   "an x87 instruction with TS set is #NM", VEC_NM
        expect_fault .ud
        db      0xD9, 0xD0                      ; fnop
.ud:    mov     eax, [fault_vector]
        check   "the #NM cleared TS: now #UD (no FPU)", VEC_UD
        mov     ebx, 1
        hypercall __HYPERVISOR_fpu_taskswitch
        mov     ebx, 0
        hypercall __HYPERVISOR_fpu_taskswitch
        check   "fpu_taskswitch(0)", 0
        expect_fault .ud2
        db      0xD9, 0xD0                      ; fnop
.ud2:   mov     eax, [fault_vector]
        check   "with TS cleared an x87 instruction is #UD", VEC_UD
        ret

; ------------------------------------------------------------------ multicall
; multicall(list, nr): each entry's result is written back into the entry.
test_multicall:
        mov     dword [calls + 0 * multicall_entry_size + multicall_entry.op], __HYPERVISOR_xen_version
        mov     dword [calls + 0 * multicall_entry_size + multicall_entry.args], XENVER_version
        mov     dword [calls + 1 * multicall_entry_size + multicall_entry.op], 60
        mov     dword [calls + 2 * multicall_entry_size + multicall_entry.op], __HYPERVISOR_multicall
        mov     dword [calls + 2 * multicall_entry_size + multicall_entry.args], calls
        mov     dword [calls + 2 * multicall_entry_size + multicall_entry.args + 4], 1
        mov     dword [calls + 3 * multicall_entry_size + multicall_entry.op], __HYPERVISOR_vm_assist
        mov     dword [calls + 3 * multicall_entry_size + multicall_entry.args], VMASST_CMD_enable
        mov     dword [calls + 3 * multicall_entry_size + multicall_entry.args + 4], VMASST_TYPE_writable_pagetables
        mov     ebx, calls
        mov     ecx, 4
        hypercall __HYPERVISOR_multicall
        check   "multicall", 0
        mov     ebx, XENVER_version
        hypercall __HYPERVISOR_xen_version
        check   "the first entry's result is xen_version's", [calls + 0 * multicall_entry_size + multicall_entry.result]
        mov     eax, [calls + 1 * multicall_entry_size + multicall_entry.result]
        check   "an unknown hypercall in a multicall", ENOSYS
        mov     eax, [calls + 2 * multicall_entry_size + multicall_entry.result]
        check   "a multicall inside a multicall", EINVAL
        mov     eax, [calls + 3 * multicall_entry_size + multicall_entry.result]
        check   "the entry after it still runs", 0
        mov     ebx, HOLE
        mov     ecx, 1
        hypercall __HYPERVISOR_multicall
        check   "multicall with its list in the hole", EFAULT
        ret

; ------------------------------------------------------------------ memory_op
; A PV domain's memory is whole machine frames: it gives some back
; (decrease_reservation) and gets new ones (populate_physmap,
; increase_reservation), up to the maximum its configuration gave it.
; Reservation calls return how many extents were done.
test_memory_op:
        mov     word [domid], DOMID_SELF
        mov     ebx, XENMEM_current_reservation
        mov     ecx, domid
        hypercall __HYPERVISOR_memory_op
        mov     esi, [start_info_ptr]
        check   "current_reservation is nr_pages", [esi + start_info.nr_pages]
        mov     ebx, XENMEM_maximum_reservation
        mov     ecx, domid
        hypercall __HYPERVISOR_memory_op
        mov     esi, [start_info_ptr]
        check   "maximum_reservation is nr_pages too", [esi + start_info.nr_pages]
        mov     ebx, XENMEM_maximum_ram_page
        xor     ecx, ecx
        hypercall __HYPERVISOR_memory_op
        cmp     eax, [l3_mfn]
        seta    al
        movzx   eax, al
        check   "maximum_ram_page lies past the domain's frames", 1
        mov     ebx, XENMEM_machphys_mapping
        mov     ecx, mapping
        hypercall __HYPERVISOR_memory_op
        check   "machphys_mapping", 0
        mov     eax, [mapping + xen_machphys_mapping.v_start]
        check   "the M2P starts at the hole", MACH2PHYS_VIRT_START

        ; At the maximum, nothing more is given.
        mov     dword [reservation + xen_memory_reservation.extent_start], extents
        mov     dword [reservation + xen_memory_reservation.nr_extents], 1
        mov     dword [reservation + xen_memory_reservation.extent_order], 0
        mov     dword [reservation + xen_memory_reservation.mem_flags], 0
        mov     word [reservation + xen_memory_reservation.domid], DOMID_SELF
        mov     ebx, XENMEM_increase_reservation
        mov     ecx, reservation
        hypercall __HYPERVISOR_memory_op
        check   "increase_reservation at the maximum", 0

        ; Give PAGE_F's frame back, unmapped first as a balloon driver does.
        mov     eax, PAGE_F
        call    mfn_of
        mov     [extents], eax
        uvm     PAGE_F, 0, UVMF_INVLPG
        mov     ebx, XENMEM_decrease_reservation
        mov     ecx, reservation
        hypercall __HYPERVISOR_memory_op
        check   "decrease_reservation of an unmapped frame", 1
        mov     ebx, XENMEM_current_reservation
        mov     ecx, domid
        hypercall __HYPERVISOR_memory_op
        inc     eax
        mov     esi, [start_info_ptr]
        check   "one frame fewer", [esi + start_info.nr_pages]
        mov     ebx, XENMEM_decrease_reservation
        mov     ecx, reservation
        hypercall __HYPERVISOR_memory_op
        check   "decrease_reservation of a frame already given back", 0

        ; populate_physmap: a new frame for pfn PAGE_F >> 12, its mfn written
        ; over the pfn, and the M2P saying so.
        mov     dword [extents], PAGE_F >> 12
        mov     ebx, XENMEM_populate_physmap
        mov     ecx, reservation
        hypercall __HYPERVISOR_memory_op
        check   "populate_physmap", 1
        mov     eax, [extents]
        mov     eax, [MACH2PHYS_VIRT_START + eax * 4]
        check   "the M2P names the pfn asked for", PAGE_F >> 12
        mov     ecx, [extents]
        shl     ecx, 12
        or      ecx, PTE_DATA
        uvm     PAGE_F, ecx, UVMF_INVLPG
        check   "the new frame can be mapped", 0
        mov     dword [PAGE_F], 0x5A5A5A5A
        mov     eax, [PAGE_F]
        check   "and used", 0x5A5A5A5A
        mov     eax, [PAGE_F + 4]
        check   "and it came zeroed", 0

        ; Hostile and odd requests: all end with 0 extents done, as in Xen.
        mov     ebx, XENMEM_increase_reservation
        mov     ecx, HOLE
        hypercall __HYPERVISOR_memory_op
        check   "a reservation in the hole", 0
        mov     word [reservation + xen_memory_reservation.domid], DOMID_XEN
        mov     ebx, XENMEM_populate_physmap
        mov     ecx, reservation
        hypercall __HYPERVISOR_memory_op
        check   "populate_physmap for DOMID_XEN", 0
        mov     word [reservation + xen_memory_reservation.domid], DOMID_SELF
        mov     dword [reservation + xen_memory_reservation.extent_start], HOLE
        mov     ebx, XENMEM_decrease_reservation
        mov     ecx, reservation
        hypercall __HYPERVISOR_memory_op
        check   "an extent list in the hole", 0
        mov     dword [reservation + xen_memory_reservation.extent_start], extents
        mov     dword [reservation + xen_memory_reservation.extent_order], 10
        mov     ebx, XENMEM_decrease_reservation
        mov     ecx, reservation
        hypercall __HYPERVISOR_memory_op
        check   "an extent order above 9", 0
        mov     word [domid], NOT_A_DOMAIN
        mov     ebx, XENMEM_current_reservation
        mov     ecx, domid
        hypercall __HYPERVISOR_memory_op
        check   "current_reservation of no domain", ESRCH
        mov     ebx, XENMEM_current_reservation
        mov     ecx, HOLE
        hypercall __HYPERVISOR_memory_op
        check   "current_reservation with its domid in the hole", EFAULT
        mov     ebx, XENMEM_current_reservation | (1 << 6)
        mov     ecx, domid
        hypercall __HYPERVISOR_memory_op
        check   "current_reservation with a start extent", EINVAL
        mov     ebx, 9                          ; XENMEM_memory_map: none was set
        mov     ecx, mapping
        hypercall __HYPERVISOR_memory_op
        check   "memory_map with no map set", ENOSYS
        ret

; ------------------------------------------------------------------ physdev_op and port I/O
; The guest's real IOPL is 0, so IN and OUT raise #GP(0). PHYSDEVOP_set_iopl
; gives it a virtual IOPL: at 1 the kernel's port I/O is done for it. A
; domU has no devices: every port reads as all ones.
test_physdev:
        expect_fault .gp
        in      al, 0x71
.gp:    mov     eax, [fault_vector]
        check   "IN without a virtual IOPL is #GP", VEC_GP
        mov     eax, [fault_error]
        check   "with error code 0", 0

        mov     dword [iopl], 1
        mov     ebx, PHYSDEVOP_set_iopl
        mov     ecx, iopl
        hypercall __HYPERVISOR_physdev_op
        check   "PHYSDEVOP_set_iopl 1", 0
        xor     eax, eax
        in      al, 0x71
        check   "IN AL from a port with no device", 0xFF
        mov     dx, 0x70
        xor     eax, eax
        in      ax, dx
        check   "IN AX", 0xFFFF
        in      eax, dx
        check   "IN EAX", 0xFFFFFFFF
        mov     eax, 0x42
        out     0x80, al
        check   "OUT completes", 0x42
        mov     edi, PAGE_B + 16
        mov     ecx, 4
        mov     dx, 0x80
        cld
        rep insb
        mov     eax, [PAGE_B + 16]
        check   "REP INSB stores all ones", 0xFFFFFFFF

        mov     dword [iopl], 4
        mov     ebx, PHYSDEVOP_set_iopl
        mov     ecx, iopl
        hypercall __HYPERVISOR_physdev_op
        check   "PHYSDEVOP_set_iopl 4", EINVAL
        mov     ebx, PHYSDEVOP_set_iopl
        mov     ecx, HOLE
        hypercall __HYPERVISOR_physdev_op
        check   "PHYSDEVOP_set_iopl from the hole", EFAULT
        mov     ebx, 99
        mov     ecx, iopl
        hypercall __HYPERVISOR_physdev_op
        check   "an unknown physdev_op", ENOSYS

        mov     dword [iopl], 0
        mov     ebx, PHYSDEVOP_set_iopl
        mov     ecx, iopl
        hypercall __HYPERVISOR_physdev_op
        expect_fault .gp0
        out     0x80, al
.gp0:   mov     eax, [fault_vector]
        check   "with IOPL 0 again, OUT is #GP", VEC_GP
        ret

; ------------------------------------------------------------------ the console's event channel
; start_info.console.domU.evtchn is a port the toolstack bound, before the
; kernel started, to the console backend in domain 0 (the ring's other
; end): EVTCHNOP_status says interdomain, with domain 0 at the far end
; (event_channel.h; the backend is hypervisor/console-ring.ts).
EVTCHNSTAT_interdomain  equ 2
test_console_evtchn:
        mov     esi, [start_info_ptr]
        mov     eax, [esi + start_info.console_evtchn]
        mov     [status_arg + 4], eax                   ; evtchn_status.port
        test    eax, eax
        setnz   al
        movzx   eax, al
        check   "start_info names a console event channel", 1
        mov     word [status_arg], DOMID_SELF           ; evtchn_status.dom
        mov     ebx, EVTCHNOP_status
        mov     ecx, status_arg
        hypercall __HYPERVISOR_event_channel_op
        check   "EVTCHNOP_status of the console port", 0
        mov     eax, [status_arg + 8]                   ; .status
        check   "the console port is interdomain", EVTCHNSTAT_interdomain
        movzx   eax, word [status_arg + 16]             ; .u.interdomain.dom
        check   "with domain 0, the backend", 0
        ret

; ------------------------------------------------------------------ the verdict
finish:
        say     "abi-test: "
        mov     eax, [checks]
        call    print_decimal
        say     " checks", 10
        cmp     dword [failures], 0
        jne     .failed
        say     "Test result: SUCCESS", 10
        jmp     .off
.failed:
        say     "Test result: FAILURE", 10
        xor     ebx, ebx
.list:  cmp     ebx, [failures]
        je      .off
        cmp     ebx, MAX_FAILURES
        je      .off
        say     "  failed: "
        push    dword [failed_names + ebx * 4]
        call    print_string
        say     10
        inc     ebx
        jmp     .list
.off:   mov     ebx, SCHEDOP_shutdown
        mov     ecx, poweroff
        hypercall __HYPERVISOR_sched_op
        ud2                                     ; a shutdown that returns is a hypervisor bug

; ------------------------------------------------------------------ helpers
; check_eax(expected, name): the body of `check`; pops its arguments.
check_eax:
        inc     dword [checks]
        cmp     eax, [esp + 4]
        je      .pass
        pushad
        mov     ebx, [failures]
        cmp     ebx, MAX_FAILURES
        jae     .full
        mov     ecx, [esp + 32 + 8]
        mov     [failed_names + ebx * 4], ecx
.full:  inc     dword [failures]
        say     "Failure: "
        push    dword [esp + 32 + 8]
        call    print_string
        say     ": got "
        call    print_hex
        say     ", expected "
        mov     eax, [esp + 32 + 4]
        call    print_hex
        say     10
        popad
.pass:  ret     8

; print_string(text): console_io of a NUL-terminated string; pops its argument.
print_string:
        pushad
        mov     edx, [esp + 32 + 4]
        xor     ecx, ecx
.len:   cmp     byte [edx + ecx], 0
        je      .write
        inc     ecx
        jmp     .len
.write: mov     ebx, CONSOLEIO_write
        hypercall __HYPERVISOR_console_io
        popad
        ret     4

; print_hex: EAX as 8 hex digits (keeps every register).
print_hex:
        pushad
        mov     edi, hexbuf + 7
        mov     ecx, 8
.digit: mov     edx, eax
        and     edx, 15
        mov     dl, [hexdigits + edx]
        mov     [edi], dl
        dec     edi
        shr     eax, 4
        loop    .digit
        mov     ebx, CONSOLEIO_write
        mov     ecx, 8
        mov     edx, hexbuf
        hypercall __HYPERVISOR_console_io
        popad
        ret

; print_decimal: EAX in decimal (keeps every register).
print_decimal:
        pushad
        mov     edi, decbuf + 10
        mov     ecx, 10
.digit: xor     edx, edx
        div     ecx
        add     dl, '0'
        dec     edi
        mov     [edi], dl
        test    eax, eax
        jnz     .digit
        mov     ebx, CONSOLEIO_write
        mov     ecx, decbuf + 10
        sub     ecx, edi
        mov     edx, edi
        hypercall __HYPERVISOR_console_io
        popad
        ret

; pte_va, pte_ma and mfn_of (guests/include/pv-pagetable.inc): a VA's L1
; entry, by its VA and by its machine address, and the frame it maps.
        pv_pagetable_routines start_info_ptr

; own_frame_entry: EAX = a scratch page's VA; returns the writable entry
; that maps it to its own pfn's frame (through the P2M).
own_frame_entry:
        shr     eax, 12
        push    edx
        mov     edx, [start_info_ptr]
        mov     edx, [edx + start_info.mfn_list]
        mov     eax, [edx + eax * 4]
        pop     edx
        shl     eax, 12
        or      eax, PTE_DATA
        ret

; flush_tlb: MMUEXT_TLB_FLUSH_LOCAL (keeps every register).
flush_tlb:
        pushad
        ext1    MMUEXT_TLB_FLUSH_LOCAL, 0, 0
        popad
        ret

; mmu_update_one(ptr, val_lo, val_hi): one request for the domain itself; pops its arguments.
mmu_update_one:
        mov     eax, [esp + 4]
        mov     [req + mmu_update.ptr], eax
        mov     dword [req + mmu_update.ptr + 4], 0
        mov     eax, [esp + 8]
        mov     [req + mmu_update.val], eax
        mov     eax, [esp + 12]
        mov     [req + mmu_update.val + 4], eax
        mov     ebx, req
        mov     ecx, 1
        mov     edx, done
        mov     esi, DOMID_SELF
        hypercall __HYPERVISOR_mmu_update
        ret     12

; mmuext_one(cmd, arg1, arg2): one operation for the domain itself; pops its arguments.
mmuext_one:
        mov     eax, [esp + 4]
        mov     [op + mmuext_op.cmd], eax
        mov     eax, [esp + 8]
        mov     [op + mmuext_op.arg1], eax
        mov     eax, [esp + 12]
        mov     [op + mmuext_op.arg2], eax
        mov     ebx, op
        mov     ecx, 1
        mov     edx, done
        mov     esi, DOMID_SELF
        hypercall __HYPERVISOR_mmuext_op
        ret     12

; ------------------------------------------------------------------ exceptions
; Each handler records what happened and resumes where expect_fault said.
; Xen's frame (XEN-ABI.md 5.2): [error code,] EIP, CS, EFLAGS.
trap_ud:
        push    0
        push    VEC_UD
        jmp     trap_record
trap_nm:
        push    0
        push    VEC_NM
        jmp     trap_record
trap_gp:
        push    VEC_GP
        jmp     trap_record
trap_pf:
        push    VEC_PF
trap_record:                                    ; [esp] vector, [esp + 4] error code, then EIP
        push    eax
        mov     eax, [esp + 4]
        mov     [fault_vector], eax
        mov     eax, [esp + 8]
        mov     [fault_error], eax
        mov     eax, [SHARED_VA + 8]            ; vcpu_info[0].arch.cr2
        mov     [fault_cr2], eax
        mov     eax, [fault_resume]
        mov     [esp + 12], eax                 ; return to the resume point
        mov     dword [fault_resume], fault_unexpected
        pop     eax
        add     esp, 8
        iret
fault_unexpected:
        say     "Failure: an unexpected exception, vector "
        mov     eax, [fault_vector]
        call    print_hex
        say     10
        mov     ebx, [failures]
        cmp     ebx, MAX_FAILURES
        jae     .counted
        mov     dword [failed_names + ebx * 4], unexpected_name
.counted:
        inc     dword [failures]
        jmp     finish
unexpected_name: db "an unexpected exception (the test stopped there)", 0

; ------------------------------------------------------------------ data
        align   4
trap_table:                                     ; struct trap_info: vector, flags, cs, address
        db      VEC_UD, 0
        dw      FLAT_RING1_CS
        dd      trap_ud
        db      VEC_NM, 0
        dw      FLAT_RING1_CS
        dd      trap_nm
        db      VEC_GP, 0
        dw      FLAT_RING1_CS
        dd      trap_gp
        db      VEC_PF, 0
        dw      FLAT_RING1_CS
        dd      trap_pf
        dd      0, 0                            ; address 0 ends the table

start_info_ptr: dd 0
checks:         dd 0
failures:       dd 0
failed_names:   times MAX_FAILURES dd 0
fault_resume:   dd fault_unexpected
fault_vector:   dd 0
fault_error:    dd 0
fault_cr2:      dd 0
poweroff:       dd SHUTDOWN_poweroff
done:           dd 0
mfn_b:          dd 0
mfn_d:          dd 0
mfn_e:          dd 0
mfn_f:          dd 0
mfn_l2x:        dd 0
l3_mfn:         dd 0
pte_a_ma:       dd 0
pte_a_va:       dd 0
l2_slot_ma:     dd 0
desc_ma:        dd 0
vcpu_mask:      dd 0
iopl:           dd 0
status_arg:     times 24 db 0                   ; struct evtchn_status
cr3_probe:      dd 0xCAFE
gdt_frames:     dd 0, 0
domid:          dw 0, 0
extents:        dd 0
req:            times mmu_update_size db 0
reqs:           times 2 * mmu_update_size db 0
op:             times mmuext_op_size db 0
ops:            times 2 * mmuext_op_size db 0
calls:          times 4 * multicall_entry_size db 0
reservation:    times xen_memory_reservation_size db 0
mapping:        times xen_machphys_mapping_size db 0
hexdigits:      db "0123456789abcdef"
hexbuf:         db "00000000"
decbuf:         times 10 db 0

; ------------------------------------------------------------------ hypercall page
; The builder fills these 4 KiB with one stub per hypercall (XEN-ABI.md 2.1).
        align   4096, db 0
hypercall_page:
        times   4096 db 0xC3
image_end:

bss_end:
