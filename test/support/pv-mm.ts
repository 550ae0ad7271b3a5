// test/support/pv-mm.ts — the little kernel library the memory and CPU hypercall tests share, and a boot of several domains.
//
// A test kernel built with pvKernel (test/support/pv.ts) starts with
// `call setup` and then makes its hypercalls, printing what it sees with
// `call print_hex` (EAX as 8 hex digits and a newline). A fault it expects
// is announced with `on_fault LABEL`: the trap handlers print the vector
// (and the error code, and for a #PF the faulting address the hypervisor
// put in vcpu_info.arch.cr2) and resume at LABEL. An unexpected fault
// prints "unexpected" and crashes the domain; `fault_eip` keeps the EIP the
// last fault's frame held. `pte_va` finds the L1 entry
// mapping an address by walking the page tables through the read-only M2P
// (mfn_to_virt(mfn) = M2P[mfn] << 12, as XTF does), since the bootstrap
// tables are mapped read-only 1:1 with their pfns.
//
// Layout the tests rely on (XEN-ABI.md 7.2): the bootstrap region is
// mapped from VA 0 1:1 with pfns, the kernel at 1 MiB, so the pages below
// 1 MiB are free scratch pages; setup maps shared_info over one of them.

import { readFileSync } from "node:fs";
import { Hypervisor } from "../../hypervisor/xen.js";
import type { Domain } from "../../hypervisor/domain.js";

/** Where setup maps shared_info, and free scratch pages below the kernel. */
export const SHARED_VA = 0x2000;

/** Macros: print a string, shut down, announce an expected fault. */
export const MM_MACROS = `
SHARED_VA       equ ${SHARED_VA}
PTE_P           equ 1
PTE_RW          equ 2
PTE_A           equ 0x20

; print LABEL: console_io of the NUL-terminated string at LABEL (registers kept)
%macro print 1
        pushad
        mov     edi, %1
        xor     ecx, ecx
%%len:  cmp     byte [edi + ecx], 0
        je      %%go
        inc     ecx
        jmp     %%len
%%go:   mov     ebx, CONSOLEIO_write
        mov     edx, %1
        hypercall __HYPERVISOR_console_io
        popad
%endmacro

; say "text": prints an inline string (registers kept)
%macro say 1
        jmp     %%over
%%text: db      %1, 0
%%over: print   %%text
%endmacro

%macro shutdown 1
        mov     dword [shutdown_reason], %1
        mov     ebx, SCHEDOP_shutdown
        mov     ecx, shutdown_reason
        hypercall __HYPERVISOR_sched_op
        ud2
%endmacro

; on_fault LABEL: the next fault prints itself and resumes at LABEL
%macro on_fault 1
        mov     dword [fault_resume], %1
%endmacro
`;

/** Routines and data: setup, print_hex, pte_va, the trap handlers. */
export const MM_LIBRARY = `
; setup: keeps start_info, installs the trap handlers, maps shared_info at SHARED_VA.
setup:
        mov     [start_info_ptr], esi
        mov     ebx, trap_table
        hypercall __HYPERVISOR_set_trap_table
        mov     ebx, SHARED_VA
        mov     ecx, [esi + start_info.shared_info]
        or      ecx, PTE_P | PTE_RW | PTE_A
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        mov     esi, [start_info_ptr]
        ret

; print_hex: EAX as 8 hex digits and a newline (registers kept)
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
        mov     ecx, 9
        mov     edx, hexbuf
        hypercall __HYPERVISOR_console_io
        popad
        ret

; print_hex_sp: the same, ending with a space
print_hex_sp:
        mov     byte [hexbuf + 8], ' '
        call    print_hex
        mov     byte [hexbuf + 8], 10
        ret

; pte_va, pte_ma, mfn_of: guests/include/pv-pagetable.inc
        pv_pagetable_routines start_info_ptr

; flush_tlb: MMUEXT_TLB_FLUSH_LOCAL (registers kept)
flush_tlb:
        pushad
        mov     dword [flush_op], MMUEXT_TLB_FLUSH_LOCAL
        mov     ebx, flush_op
        mov     ecx, 1
        xor     edx, edx
        mov     esi, DOMID_SELF
        hypercall __HYPERVISOR_mmuext_op
        popad
        ret

; The trap handlers: each prints its vector (and error code, and CR2 for a
; #PF), then resumes where on_fault said.
trap_ud:
        say     "#UD"
        say     10
        push    0
        jmp     trap_resume
trap_nm:
        say     "#NM"
        say     10
        push    0
        jmp     trap_resume
trap_gp:
        say     "#GP "
        push    eax
        mov     eax, [esp + 4]
        call    print_hex
        pop     eax
        jmp     trap_resume
trap_pf:
        say     "#PF "
        push    eax
        mov     eax, [esp + 4]
        call    print_hex_sp
        mov     eax, [SHARED_VA + 8]            ; vcpu_info[0].arch.cr2
        call    print_hex
        pop     eax
trap_resume:                                    ; [esp] error code, then EIP, CS, EFLAGS
        add     esp, 4
        push    eax
        mov     eax, [esp + 4]
        mov     [fault_eip], eax                ; where the fault happened, for the test to check
        mov     eax, [fault_resume]
        mov     [esp + 4], eax
        mov     dword [fault_resume], fault_unexpected
        pop     eax
        iret
fault_unexpected:
        say     "unexpected"
        say     10
        shutdown SHUTDOWN_crash

        align   4
trap_table:
        db      6, 0
        dw      FLAT_RING1_CS
        dd      trap_ud
        db      7, 0
        dw      FLAT_RING1_CS
        dd      trap_nm
        db      13, 0
        dw      FLAT_RING1_CS
        dd      trap_gp
        db      14, 0
        dw      FLAT_RING1_CS
        dd      trap_pf
        dd      0, 0
start_info_ptr: dd 0
shutdown_reason: dd 0
flush_op:       dd 0, 0, 0
fault_resume:   dd fault_unexpected
fault_eip:      dd 0
hexdigits:      db "0123456789abcdef"
hexbuf:         db "00000000", 10
`;

export interface DomainSpec {
  name: string;
  kernel: Uint8Array;
  memoryMiB?: number;
  /** The command line, or a function of the domains created before this one. */
  cmdline?: string | ((earlier: Domain[]) => string);
  /** Created paused: the domain exists (its memory, its domid) but never runs. */
  paused?: boolean;
}

export interface DomainsRun {
  xen: Hypervisor;
  domains: Domain[];
  /** Each domain's console, by name. */
  consoles: Record<string, string>;
}

let wasm: Uint8Array | undefined;

/**
 * Creates the domains in order on one hypervisor (deterministic time),
 * calls `beforeRun` when they all exist, and runs until the last one shuts
 * down or `budget` instructions are spent.
 */
export async function bootDomains(
  specs: DomainSpec[],
  options: { budget?: number; beforeRun?: (xen: Hypervisor, domains: Domain[]) => void } = {},
): Promise<DomainsRun> {
  const budget = options.budget ?? 50_000_000;
  wasm ??= new Uint8Array(readFileSync("build/core.wasm"));
  const total = specs.reduce((sum, s) => sum + (s.memoryMiB ?? 16), 0);
  const xen = await Hypervisor.create({ wasm, memMiB: total + 16, clock: "deterministic" });
  const domains: Domain[] = [];
  const consoles: Record<string, string> = {};
  for (const spec of specs) {
    const cmdline = typeof spec.cmdline === "function" ? spec.cmdline(domains) : spec.cmdline ?? "";
    const domain = xen.createDomain({ name: spec.name, kernel: spec.kernel, memoryMiB: spec.memoryMiB ?? 16, cmdline });
    consoles[spec.name] = "";
    domain.consoleOut = (bytes) => (consoles[spec.name] += new TextDecoder().decode(bytes));
    if (spec.paused) xen.pause(domain);
    domains.push(domain);
  }
  options.beforeRun?.(xen, domains);
  const last = domains[domains.length - 1]!;
  while (last.state !== "shutdown" && xen.cpu.instructions() < budget) {
    if (!xen.step()) break;
  }
  return { xen, domains, consoles };
}
