; guests/pv/xenbench/xenbench.asm — what paravirtualization costs, measured from inside a PV guest.
;
; Four loops, each between a "BEGIN name" and an "END name count" line on
; the console; `xenoscope bench` stamps the lines as they arrive (host time
; and the hypervisor's instruction count) and divides by the count:
;
;   hypercall     a null hypercall (xen_version) round trip: int 0x82 from
;                 ring 1, the hypervisor's dispatch, back to the guest;
;   int80-fast    a null system call from ring 3 through Xen's fast trap:
;                 the trap table's entry for 0x80 has DPL 3 and does not
;                 mask events, so the hypervisor put a real gate in the
;                 IDT and the CPU goes straight to the ring-1 handler;
;   int80-bounce  the same system call through a vector whose entry masks
;                 events: every one exits to the hypervisor, which bounces
;                 it to the handler with Xen's frame;
;   mmu-update    one page-table entry changed through mmu_update, which
;                 the hypervisor validates before writing (the guest may
;                 only read its page tables).
;
; Read next: guests/pv/hello (the start of day), XEN-ABI.md 2.1 and 5.2.

bits 32
%include "xen.inc"
%include "pv-console.inc"
%include "pv-pagetable.inc"
%include "xen-elf.inc"
org XEN_ELF_BASE

        xen_elf_header
        xen_notes

ITERATIONS      equ 100000
PTE_USER        equ 0x67                ; present, writable, user, accessed, dirty
PTE_KERNEL      equ 0x23                ; present, writable, accessed (no user bit)

; say LABEL: prints the NUL-terminated string there (print, guests/include/pv-console.inc)
%macro say 1
        mov     esi, %1
        call    print
%endmacro

; ------------------------------------------------------------------ entry
entry:
        mov     [boot_esp], esp
        mov     [start_info_va], esi
        mov     ebx, trap_table
        hypercall __HYPERVISOR_set_trap_table

        ; Ring 3 needs pages with the user bit: the builder mapped the
        ; kernel for ring 1 only. update_va_mapping rewrites one entry.
        mov     eax, user_code
        mov     ebx, PTE_USER
        call    remap
        mov     eax, user_stack
        mov     ebx, PTE_USER
        call    remap

        ; -------------------------------------------------- null hypercall
        say     begin_hypercall
        mov     ebp, ITERATIONS
.hypercall:
        mov     eax, __HYPERVISOR_xen_version
        xor     ebx, ebx                ; XENVER_version
        int     0x82
        dec     ebp
        jnz     .hypercall
        say     end_hypercall

        ; -------------------------------------------------- int 0x80, fast trap
        say     begin_fast
        mov     dword [user_vector], 0x80
        call    to_user
back_from_fast:
        say     end_fast

        ; -------------------------------------------------- int 0x81, bounced
        say     begin_bounce
        mov     dword [user_vector], 0x81
        call    to_user
back_from_bounce:
        say     end_bounce

        ; -------------------------------------------------- mmu_update
        ; Toggle the writable bit of the scratch page's entry each time.
        mov     eax, scratch
        call    pte_ma
        mov     [request], eax          ; ptr: the entry's machine address | MMU_NORMAL_PT_UPDATE (0)
        mov     eax, scratch
        shr     eax, 12
        call    pfn_to_mfn
        shl     eax, 12
        or      eax, PTE_KERNEL
        mov     [request + 8], eax      ; val, low half
        mov     dword [request + 12], 0
        say     begin_mmu
        mov     ebp, ITERATIONS
.mmu:   xor     dword [request + 8], 2  ; RW on, then off
        mov     ebx, request
        mov     ecx, 1
        xor     edx, edx                ; no success count wanted
        mov     esi, DOMID_SELF
        hypercall __HYPERVISOR_mmu_update
        test    eax, eax
        jnz     failed
        dec     ebp
        jnz     .mmu
        say     end_mmu

        mov     ebx, SCHEDOP_shutdown
        mov     ecx, poweroff
        hypercall __HYPERVISOR_sched_op
        ud2

failed:
        say     failure
        mov     ebx, SCHEDOP_shutdown
        mov     ecx, crash
        hypercall __HYPERVISOR_sched_op
        ud2

; ------------------------------------------------------------------ ring 3
; to_user: runs user_loop in ring 3 with the vector in [user_vector]; the
; loop ends with `int 0x83`, whose handler comes back to the return address.
to_user:
        pop     dword [return_to]
        mov     ecx, [user_vector]
        mov     [user_int + 1], cl      ; patch the INT's vector byte before the page is user code
        push    dword FLAT_RING3_DS         ; SS: the flat ring-3 data segment
        push    dword user_stack + 4096
        push    dword 0x202
        push    dword FLAT_RING3_CS
        push    dword user_loop
        mov     ebp, ITERATIONS
        jmp     hypercall_page + __HYPERVISOR_iret * 32

; Ring-1 handlers. The system call does nothing and returns with a plain
; IRET, which is legal at CPL 1 (XEN-ABI.md 5.3): to ring 3, it cannot
; change IF, and needs no hypercall.
null_syscall:
        iret

; int 0x83 from ring 3: the loop is over. Back on the kernel's stack and segments.
back_to_kernel:
        mov     ax, FLAT_RING1_DS
        mov     ds, ax
        mov     es, ax
        mov     esp, [boot_esp]
        jmp     [return_to]

; ------------------------------------------------------------------ helpers
; pfn_to_mfn: EAX pfn -> EAX mfn, from the P2M list start_info names.
pfn_to_mfn:
        push    ebx
        mov     ebx, [start_info_va]
        mov     ebx, [ebx + start_info.mfn_list]
        mov     eax, [ebx + eax * 4]
        pop     ebx
        ret

; remap: EAX a page's VA, EBX the flags; update_va_mapping(va, (mfn << 12) | flags, 0, INVLPG).
remap:
        push    eax
        shr     eax, 12                 ; VIRT_BASE is 0: pfn = va >> 12
        call    pfn_to_mfn
        shl     eax, 12
        or      eax, ebx
        mov     ecx, eax
        pop     ebx
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        test    eax, eax
        jnz     failed
        ret

; pte_ma (EAX a VA -> EAX the machine address of its L1 entry) and its kin:
; guests/include/pv-pagetable.inc.
        pv_pagetable_routines start_info_va

        pv_console_routines

; ------------------------------------------------------------------ data
begin_hypercall: db "BEGIN hypercall", 10, 0
end_hypercall:   db "END hypercall 100000", 10, 0
begin_fast:      db "BEGIN int80-fast", 10, 0
end_fast:        db "END int80-fast 100000", 10, 0
begin_bounce:    db "BEGIN int80-bounce", 10, 0
end_bounce:      db "END int80-bounce 100000", 10, 0
begin_mmu:       db "BEGIN mmu-update", 10, 0
end_mmu:         db "END mmu-update 100000", 10, 0
failure:         db "xenbench: a hypercall failed", 10, 0

        align 4
poweroff:       dd SHUTDOWN_poweroff
crash:          dd SHUTDOWN_crash
boot_esp:       dd 0
start_info_va:  dd 0
return_to:      dd 0
user_vector:    dd 0
request:        dd 0, 0, 0, 0           ; one mmu_update: ptr (u64), val (u64)

; The trap table (XEN-ABI.md 5.2): vector, flags (DPL in bits 0-1, bit 2
; masks events on entry), CS, handler; ends with a zero handler.
trap_table:
        db 0x80, 3
        dw FLAT_RING1_CS
        dd null_syscall                 ; DPL 3, events not masked: the fast trap
        db 0x81, 3 | 4
        dw FLAT_RING1_CS
        dd null_syscall                 ; DPL 3, masks events: bounced by the hypervisor
        db 0x83, 3 | 4
        dw FLAT_RING1_CS
        dd back_to_kernel
        dd 0, 0

; ------------------------------------------------------------------ user pages
        align 4096, db 0
user_code:
user_loop:
user_int:
        int     0x80                    ; the vector byte is patched by to_user
        dec     ebp
        jnz     user_loop
        int     0x83
        align 4096, db 0
user_stack:
        times 4096 db 0
scratch:
        times 4096 db 0

; ------------------------------------------------------------------ hypercall page
        align   4096, db 0
hypercall_page:
        times   4096 db 0xC3
image_end:
bss_end:
