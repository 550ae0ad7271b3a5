// test/hypervisor/mm-hypercalls.test.ts — the memory and CPU hypercalls, each tried by a tiny PV kernel.
//
// Every test boots a kernel of a few lines in ring 1 (test/support/pv.ts)
// with the small library of test/support/pv-mm.ts: `call setup` installs
// trap handlers and maps shared_info, `call print_hex` prints EAX, and a
// fault announced with `on_fault` prints its vector (and error code and
// CR2) before the kernel goes on. What is checked is what the guest sees —
// the values hypercalls return (Xen's negative errnos printed as 32-bit
// hex), what its memory reads after a mapping changed, which faults it
// takes — and, for the hostile cases, that nothing reaches the host or
// another domain.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { pvKernel } from "../support/pv.js";
import { MM_LIBRARY, MM_MACROS, bootDomains } from "../support/pv-mm.js";
import { SHUTDOWN_poweroff, SHUTDOWN_reboot } from "../../hypervisor/abi/sched.js";
import { PGT_seg_desc_page } from "../../hypervisor/mm/pagetype.js";
import type { Hypervisor } from "../../hypervisor/xen.js";
import { audit, type Machine } from "./mm/fixture.js";

/** Xen's errors as the guest prints them (XEN-ABI.md 2.3, negated, 32-bit hex). */
const EPERM = "ffffffff";
const ESRCH = "fffffffd";
const EACCES = "fffffff3";
const EFAULT = "fffffff2";
const EBUSY = "fffffff0";
const EINVAL = "ffffffea";
const ENOSYS = "ffffffda";
const EOPNOTSUPP = "ffffffa1";
const OK = "00000000";

/**
 * Every reference count of the machine checked against what holds it
 * (test/hypervisor/mm/fixture.ts audit): validated tables, pins, and the
 * hypervisor's own holds — each vCPU's CR3, GDT frames and LDT frames.
 */
function auditHypervisor(xen: Hypervisor): string[] {
  const view = new DataView(xen.cpu.ram.buffer, xen.cpu.ram.byteOffset, xen.cpu.ram.byteLength);
  const machine = {
    frames: xen.frames,
    types: xen.types,
    entry: (mfn: number, i: number): [number, number] => [view.getUint32(mfn * 4096 + 8 * i, true), view.getUint32(mfn * 4096 + 8 * i + 4, true)],
  } as unknown as Machine;
  const held: number[] = [];
  for (const domain of xen.domains.values()) {
    for (const v of domain.vcpus) held.push(v.cr3Mfn, ...v.gdtFrames, ...v.ldtFrames.filter((mfn) => mfn >= 0));
    // The hypervisor's own holds: shared_info (Xen's share_xen_page_with_guest) and the console's and xenstore's ring frames.
    held.push(domain.built.sharedInfoMfn);
    if (xen.events.consoleRingOf(domain)) held.push(domain.built.consoleMfn);
    if (xen.events.storeRingOf(domain)) held.push(domain.built.storeMfn);
  }
  return audit(machine, held);
}

/** Boots `body` (which starts at `entry:`) with the library, alone; returns its console as lines. */
async function run(body: string, memoryMiB = 16): Promise<string[]> {
  const kernel = pvKernel(`${MM_MACROS}\n${body}\n${MM_LIBRARY}`);
  const { consoles, domains } = await bootDomains([{ name: "test", kernel, memoryMiB }]);
  expect(domains[0]!.state).toBe("shutdown");
  expect(domains[0]!.crashMessage).toBe("");
  return consoles.test!.split("\n").filter((l) => l !== "");
}

/** Data every test kernel may use: batch buffers, a done count. */
const DATA = `
        align   4
req:    times 4 * mmu_update_size db 0
ops:    times 4 * mmuext_op_size db 0
done:   dd 0
scratch: dd 0, 0, 0, 0
`;

/** Calls mmu_update on `req` with ECX requests, for the domain itself, then prints the result and *done. */
const MMU_UPDATE = `
        mov     ebx, req
        mov     edx, done
        mov     esi, DOMID_SELF
        hypercall __HYPERVISOR_mmu_update
        call    print_hex_sp
        mov     eax, [done]
        call    print_hex
`;

/** Calls mmuext_op on `ops` with ECX operations, for the domain itself, then prints the result. */
const MMUEXT_OP = `
        mov     ebx, ops
        mov     edx, done
        mov     esi, DOMID_SELF
        hypercall __HYPERVISOR_mmuext_op
        call    print_hex
`;

describe("mmu_update", () => {
  it("writes an L1 entry named by its machine address and reports one request done", async () => {
    const out = await run(`
entry:  call    setup
        mov     dword [0x11000], 0xA11A5
        mov     eax, 0x10000
        call    pte_ma
        mov     [req + mmu_update.ptr], eax         ; the entry that maps 0x10000
        mov     eax, 0x11000
        call    mfn_of
        shl     eax, 12
        or      eax, PTE_P | PTE_RW | PTE_A
        mov     [req + mmu_update.val], eax         ; now: 0x11000's frame
        mov     ecx, 1
        ${MMU_UPDATE}
        mov     eax, [0x10000]                      ; 0x10000 is an alias now
        call    print_hex
        shutdown SHUTDOWN_poweroff
${DATA}`);
    expect(out).toEqual([`${OK} 00000001`, "000a11a5"]);
  });

  it("keeps the entry's A and D bits with MMU_PT_UPDATE_PRESERVE_AD", async () => {
    const out = await run(`
entry:  call    setup
        mov     eax, 0x10000
        call    pte_ma
        or      eax, MMU_PT_UPDATE_PRESERVE_AD
        mov     [req + mmu_update.ptr], eax
        mov     eax, 0x10000
        call    mfn_of
        shl     eax, 12
        or      eax, PTE_P | PTE_RW                 ; no A, no D
        mov     [req + mmu_update.val], eax
        mov     ecx, 1
        ${MMU_UPDATE}
        mov     eax, 0x10000
        call    pte_va
        mov     eax, [eax]
        and     eax, 0xFFF
        call    print_hex                           ; A was set by the builder: it stays
        shutdown SHUTDOWN_poweroff
${DATA}`);
    expect(out).toEqual([`${OK} 00000001`, "00000023"]);
  });

  it("MMU_MACHPHYS_UPDATE rewrites the M2P entry of the domain's own frame, and of no other", async () => {
    const out = await run(`
entry:  call    setup
        mov     eax, 0x10000
        call    mfn_of
        mov     [scratch], eax
        shl     eax, 12
        or      eax, MMU_MACHPHYS_UPDATE
        mov     [req + mmu_update.ptr], eax
        mov     dword [req + mmu_update.val], 0x777
        mov     ecx, 1
        ${MMU_UPDATE}
        mov     ebx, [scratch]
        mov     eax, [MACH2PHYS_VIRT_START + ebx * 4]
        call    print_hex                           ; what the guest reads in the M2P
        mov     dword [req + mmu_update.ptr], MMU_MACHPHYS_UPDATE ; frame 0: the hypervisor's
        mov     ecx, 1
        ${MMU_UPDATE}
        shutdown SHUTDOWN_poweroff
${DATA}`);
    expect(out).toEqual([`${OK} 00000001`, "00000777", `${EINVAL} 00000000`]);
  });

  it("stops a batch at the first refused request, and *done counts the ones before it", async () => {
    const out = await run(`
entry:  call    setup
        mov     eax, 0x10000
        call    pte_ma
        mov     [req + mmu_update.ptr], eax         ; 1: unchanged entry, fine
        mov     [req + mmu_update_size + mmu_update.ptr], eax ; 2: fine
        mov     eax, 0x10000
        call    pte_va
        mov     eax, [eax]
        mov     [req + mmu_update.val], eax
        mov     [req + mmu_update_size + mmu_update.val], eax
        mov     dword [req + 2 * mmu_update_size + mmu_update.ptr], 0 ; 3: frame 0 is not ours
        mov     ecx, 4
        ${MMU_UPDATE}
        mov     dword [done], 5                     ; a preempted batch's continuation adds to *done
        mov     ecx, 0x80000002
        ${MMU_UPDATE}
        shutdown SHUTDOWN_poweroff
${DATA}`);
    expect(out).toEqual([`${EINVAL} 00000002`, `${OK} 00000007`]);
  });

  it("answers the commands 4 to 7 in the low bits of ptr with -ENOSYS", async () => {
    const out = await run(`
entry:  call    setup
        mov     edi, 4
.cmd:   mov     eax, 0x10000
        call    pte_ma
        or      eax, edi
        mov     [req + mmu_update.ptr], eax
        mov     ecx, 1
        ${MMU_UPDATE}
        inc     edi
        cmp     edi, 8
        jne     .cmd
        shutdown SHUTDOWN_poweroff
${DATA}`);
    expect(out).toEqual(Array(4).fill(`${ENOSYS} 00000000`));
  });

  it("refuses to map a page table writable (-EBUSY), a frame past RAM (-EPERM), and requests in the hole (-EFAULT)", async () => {
    const out = await run(`
entry:  call    setup
        mov     eax, 0x10000
        call    pte_ma
        mov     [req + mmu_update.ptr], eax
        mov     eax, [esi + start_info.pt_base]     ; the L3's frame, mapped writable
        call    mfn_of
        shl     eax, 12
        or      eax, PTE_P | PTE_RW | PTE_A
        mov     [req + mmu_update.val], eax
        mov     ecx, 1
        ${MMU_UPDATE}
        mov     dword [req + mmu_update.val], (0xFFFFF << 12) | PTE_P | PTE_A
        mov     ecx, 1
        ${MMU_UPDATE}
        mov     ebx, 0xF5800000
        mov     ecx, 1
        mov     edx, done
        mov     esi, DOMID_SELF
        hypercall __HYPERVISOR_mmu_update
        call    print_hex
        mov     ebx, req                            ; *done in the hole: ignored, as Xen ignores it
        mov     ecx, 0
        mov     edx, 0xF5800000
        mov     esi, DOMID_SELF
        hypercall __HYPERVISOR_mmu_update
        call    print_hex
        shutdown SHUTDOWN_poweroff
${DATA}`);
    expect(out).toEqual([`${EBUSY} 00000000`, `${EPERM} 00000000`, EFAULT, OK]);
  });

  it("lets a domU name no other domain in foreigndom: -EPERM for one that exists, -ESRCH otherwise", async () => {
    const out = await run(`
entry:  call    setup
        mov     ebx, req
        mov     ecx, 1
        mov     edx, done
        mov     esi, DOMID_XEN                      ; the pages' owner
        hypercall __HYPERVISOR_mmu_update
        call    print_hex
        mov     ebx, req
        mov     ecx, 0
        mov     edx, done
        mov     esi, 0x1234                         ; no such domain
        hypercall __HYPERVISOR_mmu_update
        call    print_hex
        mov     ebx, req
        mov     ecx, 0
        mov     edx, done
        mov     esi, (0x1234 + 1) << 16 | DOMID_SELF ; the tables' owner, plus one
        hypercall __HYPERVISOR_mmu_update
        call    print_hex
        shutdown SHUTDOWN_poweroff
${DATA}`);
    expect(out).toEqual([EPERM, ESRCH, ESRCH]);
  });
});

describe("mmuext_op", () => {
  it("pins an L1 once, and unpinning it while an L2 points at it leaves it a table", async () => {
    const out = await run(`
entry:  call    setup
        mov     eax, 0x12000                        ; an empty L1, read-only
        call    mfn_of
        mov     edi, eax
        shl     eax, 12
        or      eax, PTE_P | PTE_A
        mov     ebx, 0x12000
        mov     ecx, eax
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        mov     dword [ops + mmuext_op.cmd], MMUEXT_PIN_L1_TABLE
        mov     [ops + mmuext_op.arg1], edi
        mov     ecx, 1
        ${MMUEXT_OP}                                ; pinned
        mov     ecx, 1
        ${MMUEXT_OP}                                ; twice: -EINVAL
        mov     esi, [start_info_ptr]
        mov     eax, [esi + start_info.pt_base]
        mov     eax, [eax]                          ; the first GiB's L2
        and     eax, 0xFFFFF000
        add     eax, 100 * 8                        ; an unused slot
        mov     [req + mmu_update.ptr], eax
        mov     eax, edi
        shl     eax, 12
        or      eax, 0x67                           ; P|RW|US|A|D, as the builder's L2 entries
        mov     [req + mmu_update.val], eax
        mov     ecx, 1
        ${MMU_UPDATE}
        mov     dword [ops + mmuext_op.cmd], MMUEXT_UNPIN_TABLE
        mov     ecx, 1
        ${MMUEXT_OP}                                ; unpinned, still in use: Xen says 0
        mov     ecx, 1
        ${MMUEXT_OP}                                ; not pinned any more: -EINVAL
        mov     ebx, 0x12000                        ; a table still: not writable
        mov     ecx, edi
        shl     ecx, 12
        or      ecx, PTE_P | PTE_RW | PTE_A
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        call    print_hex
        mov     dword [req + mmu_update.val], 0     ; out of the L2: an ordinary page again
        mov     ecx, 1
        ${MMU_UPDATE}
        mov     ebx, 0x12000
        mov     ecx, edi
        shl     ecx, 12
        or      ecx, PTE_P | PTE_RW | PTE_A
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        call    print_hex
        shutdown SHUTDOWN_poweroff
${DATA}`);
    expect(out).toEqual([OK, EINVAL, `${OK} 00000001`, OK, EINVAL, EBUSY, `${OK} 00000001`, OK]);
  });

  it("refuses to pin shared_info or the console ring as a table: the hypervisor writes into both", async () => {
    const out = await run(`
entry:  call    setup
        mov     esi, [start_info_ptr]
        mov     eax, [esi + start_info.shared_info]
        shr     eax, 12
        mov     dword [ops + mmuext_op.cmd], MMUEXT_PIN_L1_TABLE
        mov     [ops + mmuext_op.arg1], eax
        mov     ecx, 1
        ${MMUEXT_OP}                                ; event bits would forge its entries: -EINVAL
        mov     esi, [start_info_ptr]
        mov     edi, [esi + start_info.console_mfn]
        mov     ebx, [MACH2PHYS_VIRT_START + edi * 4]
        shl     ebx, 12                             ; the ring's VA (the region is 1:1 from 0)
        xor     ecx, ecx                            ; unmapped, so no mapping of the guest's holds its type
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        call    print_hex
        mov     [ops + mmuext_op.arg1], edi
        mov     ecx, 1
        ${MMUEXT_OP}                                ; the backend holds it writable: -EINVAL
        shutdown SHUTDOWN_poweroff
${DATA}`);
    expect(out).toEqual([EINVAL, OK, EINVAL]);
  });

  it("switches CR3 to a validated copy of the L3 with NEW_BASEPTR, and back", async () => {
    const out = await run(`
entry:  call    setup
        mov     eax, [esi + start_info.pt_base]
        mov     ebx, [eax + 3 * 8]
        shr     ebx, 12                             ; the L2 under slot 3
        call    mfn_of
        mov     [l3], eax
        mov     eax, 0x13000
        call    mfn_of
        mov     [new_l3], eax
        mov     eax, 0x14000
        call    mfn_of
        mov     [new_l2], eax
        mov     dword [ops + mmuext_op.cmd], MMUEXT_COPY_PAGE
        mov     dword [ops + mmuext_op_size + mmuext_op.cmd], MMUEXT_COPY_PAGE
        mov     eax, [new_l3]
        mov     [ops + mmuext_op.arg1], eax
        mov     eax, [l3]
        mov     [ops + mmuext_op.arg2], eax
        mov     eax, [new_l2]
        mov     [ops + mmuext_op_size + mmuext_op.arg1], eax
        mov     [ops + mmuext_op_size + mmuext_op.arg2], ebx
        mov     ecx, 2
        ${MMUEXT_OP}                                ; both copied
        mov     eax, [new_l2]                       ; the copy's slot 3: the new L2
        shl     eax, 12
        or      eax, 0x67
        mov     [0x13000 + 3 * 8], eax
        mov     eax, [new_l3]
        mov     ecx, 0x13000
        call    make_read_only
        mov     eax, [new_l2]
        mov     ecx, 0x14000
        call    make_read_only
        mov     dword [ops + mmuext_op.cmd], MMUEXT_NEW_BASEPTR
        mov     eax, [new_l3]
        mov     [ops + mmuext_op.arg1], eax
        mov     ecx, 1
        ${MMUEXT_OP}                                ; running on the copy now
        mov     eax, [marker]
        call    print_hex
        mov     eax, [l3]
        mov     [ops + mmuext_op.arg1], eax
        mov     ecx, 1
        ${MMUEXT_OP}                                ; and back
        mov     eax, [new_l3]                       ; the copy is held by nothing: writable again
        shl     eax, 12
        or      eax, PTE_P | PTE_RW | PTE_A
        mov     ebx, 0x13000
        mov     ecx, eax
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        call    print_hex
        mov     dword [ops + mmuext_op.arg1], 0     ; frame 0: not the domain's
        mov     ecx, 1
        ${MMUEXT_OP}
        shutdown SHUTDOWN_poweroff

make_read_only:                                     ; EAX = mfn, ECX = va
        shl     eax, 12
        or      eax, PTE_P | PTE_A
        mov     ebx, ecx
        mov     ecx, eax
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        ret
l3:     dd 0
new_l3: dd 0
new_l2: dd 0
marker: dd 0x5EE
${DATA}`);
    expect(out).toEqual([OK, OK, "000005ee", OK, OK, EINVAL]);
  });

  it("makes a changed entry visible only when the guest flushes: INVLPG_LOCAL and TLB_FLUSH_ALL", async () => {
    const out = await run(`
entry:  call    setup
        mov     dword [0x10000], 0xAAAA
        mov     dword [0x11000], 0xBBBB
        mov     eax, [0x10000]                      ; the translation is in the TLB now
        mov     eax, 0x10000
        call    pte_ma
        mov     [req + mmu_update.ptr], eax
        mov     eax, 0x11000
        call    mfn_of
        shl     eax, 12
        or      eax, PTE_P | PTE_RW | PTE_A
        mov     [req + mmu_update.val], eax
        mov     ecx, 1
        ${MMU_UPDATE}
        mov     eax, [0x10000]
        call    print_hex                           ; stale: mmu_update does not flush
        mov     dword [ops + mmuext_op.cmd], MMUEXT_INVLPG_LOCAL
        mov     dword [ops + mmuext_op.arg1], 0x10000
        mov     ecx, 1
        ${MMUEXT_OP}
        mov     eax, [0x10000]
        call    print_hex
        mov     eax, [start_info_ptr]               ; back to its own frame (pfn 0x10)
        mov     eax, [eax + start_info.mfn_list]
        mov     eax, [eax + 0x10 * 4]
        shl     eax, 12
        or      eax, PTE_P | PTE_RW | PTE_A
        mov     [req + mmu_update.val], eax
        mov     ecx, 1
        ${MMU_UPDATE}
        mov     dword [ops + mmuext_op.cmd], MMUEXT_TLB_FLUSH_ALL
        mov     ecx, 1
        ${MMUEXT_OP}
        mov     eax, [0x10000]
        call    print_hex
        shutdown SHUTDOWN_poweroff
${DATA}`);
    expect(out).toEqual([`${OK} 00000001`, "0000aaaa", OK, "0000bbbb", `${OK} 00000001`, OK, "0000aaaa"]);
  });

  it("clears and copies the domain's writable frames, and no page table or foreign frame", async () => {
    const out = await run(`
entry:  call    setup
        mov     dword [0x10000], 0x1234
        mov     dword [0x11000 + 4], 0x5678
        mov     eax, 0x11000
        call    mfn_of
        mov     dword [ops + mmuext_op.cmd], MMUEXT_CLEAR_PAGE
        mov     [ops + mmuext_op.arg1], eax
        mov     ecx, 1
        ${MMUEXT_OP}
        mov     eax, [0x11000 + 4]
        call    print_hex                           ; cleared
        mov     dword [ops + mmuext_op.cmd], MMUEXT_COPY_PAGE
        mov     eax, 0x10000
        call    mfn_of
        mov     [ops + mmuext_op.arg2], eax          ; from 0x10000 to 0x11000
        mov     ecx, 1
        ${MMUEXT_OP}
        mov     eax, [0x11000]
        call    print_hex
        mov     dword [ops + mmuext_op.cmd], MMUEXT_CLEAR_PAGE
        mov     esi, [start_info_ptr]
        mov     eax, [esi + start_info.pt_base]
        call    mfn_of
        mov     [ops + mmuext_op.arg1], eax          ; the L3
        mov     ecx, 1
        ${MMUEXT_OP}
        mov     dword [ops + mmuext_op.cmd], MMUEXT_COPY_PAGE
        mov     eax, 0x11000
        call    mfn_of
        mov     [ops + mmuext_op.arg1], eax
        mov     dword [ops + mmuext_op.arg2], 0     ; from the hypervisor's frame 0
        mov     ecx, 1
        ${MMUEXT_OP}
        shutdown SHUTDOWN_poweroff
${DATA}`);
    expect(out).toEqual([OK, "00000000", OK, "00001234", EINVAL, EINVAL]);
  });

  it("answers the commands a 32-bit domU cannot use with Xen's errors", async () => {
    const out = await run(`
entry:  call    setup
        mov     edi, cmds
.next:  mov     eax, [edi]
        cmp     eax, -1
        je      .end
        mov     [ops + mmuext_op.cmd], eax
        mov     eax, [esi + start_info.pt_base]
        call    mfn_of
        mov     [ops + mmuext_op.arg1], eax          ; the L3, for those that take a frame
        mov     dword [ops + mmuext_op.arg2], 0xF5800000 ; a vCPU mask in the hole, for _MULTI
        push    esi
        mov     ecx, 1
        ${MMUEXT_OP}
        pop     esi
        add     edi, 4
        jmp     .next
.end:   shutdown SHUTDOWN_poweroff
cmds:   dd MMUEXT_PIN_L4_TABLE, MMUEXT_NEW_USER_BASEPTR, MMUEXT_TLB_FLUSH_MULTI, MMUEXT_INVLPG_MULTI
        dd MMUEXT_FLUSH_CACHE, 18, MMUEXT_MARK_SUPER, 20, 14, 99, -1
${DATA}`);
    //              PIN_L4  NEW_USER  FLUSH_MULTI INVLPG_MULTI FLUSH_CACHE CACHE_GLOBAL MARK   UNMARK     14      99
    expect(out).toEqual([OK, EINVAL, EINVAL, EINVAL, EACCES, EINVAL, EOPNOTSUPP, EOPNOTSUPP, ENOSYS, ENOSYS]);
  });

  it("loads a read-only frame as the LDT with SET_LDT, and an LDT selector then loads", async () => {
    const out = await run(`
entry:  call    setup
        mov     dword [0x12000 + 8], 0x0000FFFF      ; LDT entry 1: flat data, DPL 1
        mov     dword [0x12000 + 12], 0x00CFB200
        mov     dword [0x10000], 0x1D7
        mov     eax, 0x12000
        call    mfn_of
        shl     eax, 12
        or      eax, PTE_P | PTE_A
        mov     ebx, 0x12000
        mov     ecx, eax
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        mov     dword [ops + mmuext_op.cmd], MMUEXT_SET_LDT
        mov     dword [ops + mmuext_op.arg1], 0x12000
        mov     dword [ops + mmuext_op.arg2], 2
        mov     ecx, 1
        ${MMUEXT_OP}
        mov     ax, 0x0D                            ; entry 1, TI = 1 (the LDT), RPL 1
        mov     es, ax
        mov     eax, [es:0x10000]
        call    print_hex
        sldt    ax
        movzx   eax, ax
        call    print_hex                           ; Xen's LDT selector, 0xE050
        mov     ax, FLAT_RING1_DS
        mov     es, ax
        mov     dword [ops + mmuext_op.arg1], 0x12004 ; not page-aligned
        mov     ecx, 1
        ${MMUEXT_OP}
        mov     dword [ops + mmuext_op.arg1], 0x12000
        mov     dword [ops + mmuext_op.arg2], 8193
        mov     ecx, 1
        ${MMUEXT_OP}
        mov     dword [ops + mmuext_op.arg2], 0     ; no LDT
        mov     ecx, 1
        ${MMUEXT_OP}
        on_fault .gone
        mov     ax, 0x0D
        mov     es, ax
.gone:  shutdown SHUTDOWN_poweroff
${DATA}`);
    expect(out).toEqual([OK, "000001d7", "0000e050", EINVAL, EINVAL, OK, "#GP 0000000c"]);
  });
});

describe("update_va_mapping", () => {
  it("maps a frame at an address; a va in the hole is -EINVAL, an unreadable vCPU mask -EFAULT", async () => {
    const out = await run(`
entry:  call    setup
        mov     dword [0x11000], 0xF00
        mov     eax, 0x11000
        call    mfn_of
        shl     eax, 12
        or      eax, PTE_P | PTE_RW | PTE_A
        mov     edi, eax
        mov     ebx, 0x10000
        mov     ecx, edi
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        call    print_hex
        mov     eax, [0x10000]
        call    print_hex
        mov     ebx, 0xF5800000
        mov     ecx, edi
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        call    print_hex
        mov     ebx, 0x10000
        mov     ecx, edi
        xor     edx, edx
        mov     esi, UVMF_TLB_FLUSH | 0xF5800000    ; UVMF_MULTI: a mask pointer, in the hole
        hypercall __HYPERVISOR_update_va_mapping
        call    print_hex
        mov     ebx, 0x10000
        mov     ecx, edi
        xor     edx, edx
        mov     esi, scratch                        ; a readable mask
        or      esi, UVMF_TLB_FLUSH
        hypercall __HYPERVISOR_update_va_mapping
        call    print_hex
        shutdown SHUTDOWN_poweroff
${DATA}`);
    expect(out).toEqual([OK, "00000f00", EINVAL, EFAULT, OK]);
  });

  it("update_va_mapping_otherdomain: a present entry for another owner is -EPERM, an unknown domain -ESRCH", async () => {
    const out = await run(`
entry:  call    setup
        mov     eax, 0x10000
        call    mfn_of
        shl     eax, 12
        or      eax, PTE_P | PTE_RW | PTE_A
        mov     ebp, eax
        mov     ebx, 0x10000
        mov     ecx, ebp
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        mov     edi, DOMID_XEN
        hypercall __HYPERVISOR_update_va_mapping_otherdomain
        call    print_hex
        mov     ebx, 0x10000
        mov     ecx, ebp
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        mov     edi, 0x1234
        hypercall __HYPERVISOR_update_va_mapping_otherdomain
        call    print_hex
        mov     ebx, 0x10000
        mov     ecx, ebp
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        mov     edi, DOMID_SELF
        hypercall __HYPERVISOR_update_va_mapping_otherdomain
        call    print_hex
        shutdown SHUTDOWN_poweroff
${DATA}`);
    expect(out).toEqual([EPERM, ESRCH, OK]);
  });
});

describe("vm_assist", () => {
  it("accepts the PV32 types 0 to 5, enable and disable, and nothing else", async () => {
    const out = await run(`
entry:  call    setup
        xor     edi, edi
.type:  mov     ebx, VMASST_CMD_enable
        mov     ecx, edi
        hypercall __HYPERVISOR_vm_assist
        call    print_hex_sp
        mov     ebx, VMASST_CMD_disable
        mov     ecx, edi
        hypercall __HYPERVISOR_vm_assist
        call    print_hex
        inc     edi
        cmp     edi, 7
        jne     .type
        mov     ebx, VMASST_CMD_enable
        mov     ecx, 32                             ; m2p_strict: 64-bit guests only
        hypercall __HYPERVISOR_vm_assist
        call    print_hex
        mov     ebx, 2                              ; no such command
        mov     ecx, 0
        hypercall __HYPERVISOR_vm_assist
        call    print_hex
        shutdown SHUTDOWN_poweroff
${DATA}`);
    expect(out).toEqual([...Array(6).fill(`${OK} ${OK}`), `${EINVAL} ${EINVAL}`, EINVAL, ENOSYS]);
  });
});

describe("writable page tables", () => {
  /** Enables the assist and leaves the VA of 0x10000's L1 entry in EDI. */
  const ENABLE = `
        mov     ebx, VMASST_CMD_enable
        mov     ecx, VMASST_TYPE_writable_pagetables
        hypercall __HYPERVISOR_vm_assist
        mov     eax, 0x10000
        call    pte_va
        mov     edi, eax
        mov     dword [0x10000], 0xAAAA
        mov     dword [0x11000], 0xBBBB
        mov     eax, 0x11000
        call    mfn_of
        shl     eax, 12
        or      eax, PTE_P | PTE_RW | PTE_A
        mov     ebp, eax                            ; an entry for 0x11000's frame
`;

  it("without the assist, a write to an L1 entry is a #PF the guest gets, at the entry's address", async () => {
    const out = await run(`
entry:  call    setup
        mov     eax, 0x10000
        call    pte_va
        mov     edi, eax
        call    print_hex
        on_fault .next
        mov     dword [edi], 0
.next:  shutdown SHUTDOWN_poweroff
${DATA}`);
    expect(out).toHaveLength(2);
    expect(out[1]).toBe(`#PF 00000003 ${out[0]}`);
  });

  it("completes a MOV to an L1 entry after validating it", async () => {
    const out = await run(`
entry:  call    setup
        ${ENABLE}
        mov     [edi], ebp                          ; 0x10000 now maps 0x11000's frame
        call    flush_tlb
        mov     eax, [0x10000]
        call    print_hex
        mov     eax, [edi]
        and     eax, 0xFFF
        call    print_hex
        shutdown SHUTDOWN_poweroff
${DATA}`);
    expect(out).toEqual(["0000bbbb", "00000023"]);
  });

  it("completes a LOCK CMPXCHG8B of a whole L1 entry, and a failed compare changes nothing", async () => {
    const out = await run(`
entry:  call    setup
        ${ENABLE}
        mov     eax, [edi]                          ; expected: the entry as it is
        mov     edx, [edi + 4]
        mov     ebx, ebp                            ; new: 0x11000's frame
        xor     ecx, ecx
        lock cmpxchg8b [edi]
        setz    al
        movzx   eax, al
        call    print_hex
        call    flush_tlb
        mov     eax, [0x10000]
        call    print_hex
        xor     eax, eax                            ; a wrong expectation
        xor     edx, edx
        mov     ebx, PTE_P
        xor     ecx, ecx
        lock cmpxchg8b [edi]
        setz    al
        movzx   eax, al
        call    print_hex
        call    flush_tlb
        mov     eax, [0x10000]
        call    print_hex
        shutdown SHUTDOWN_poweroff
${DATA}`);
    expect(out).toEqual(["00000001", "0000bbbb", "00000000", "0000bbbb"]);
  });

  it("merges a one-byte write into the whole entry: clearing RW makes the page read-only", async () => {
    const out = await run(`
entry:  call    setup
        ${ENABLE}
        mov     byte [edi], PTE_P | PTE_A           ; the flags byte: RW cleared, the frame kept
        mov     dword [ops + mmuext_op.cmd], MMUEXT_INVLPG_LOCAL
        mov     dword [ops + mmuext_op.arg1], 0x10000
        mov     ecx, 1
        ${MMUEXT_OP}
        mov     eax, [0x10000]
        call    print_hex                           ; still the same frame
        on_fault .ro
        mov     dword [0x10000], 0
.ro:    shutdown SHUTDOWN_poweroff
${DATA}`);
    expect(out).toEqual([OK, "0000aaaa", "#PF 00000003 00010000"]);
  });

  it("refuses an entry that would map a page table writable: the guest gets the #PF and the entry stays", async () => {
    const out = await run(`
entry:  call    setup
        ${ENABLE}
        mov     eax, [esi + start_info.pt_base]
        call    mfn_of
        shl     eax, 12
        or      eax, PTE_P | PTE_RW | PTE_A
        mov     ebx, [edi]
        on_fault .refused
.write: mov     [edi], eax
.refused:
        mov     eax, [edi]
        cmp     eax, ebx
        sete    al
        movzx   eax, al
        call    print_hex
        mov     eax, [fault_eip]                    ; the #PF names the write itself
        sub     eax, .write
        call    print_hex
        mov     eax, edi
        call    print_hex
        shutdown SHUTDOWN_poweroff
${DATA}`);
    expect(out).toHaveLength(4);
    expect(out[0]).toBe(`#PF 00000003 ${out[3]}`);
    expect(out.slice(1, 3)).toEqual(["00000001", "00000000"]);
  });
});

describe("multicall", () => {
  it("runs each entry through the hypercall table and writes its result; a nested multicall is -EINVAL", async () => {
    const out = await run(`
entry:  call    setup
        mov     ebx, calls
        mov     ecx, 4
        hypercall __HYPERVISOR_multicall
        call    print_hex
        mov     edi, calls + multicall_entry.result
        mov     ecx, 4
.res:   mov     eax, [edi]
        call    print_hex
        add     edi, multicall_entry_size
        loop    .res
        on_fault .unmapped                          ; the update_va_mapping entry took effect
        mov     eax, [0x10000]
.unmapped:
        mov     ebx, 0xF5800000
        mov     ecx, 1
        hypercall __HYPERVISOR_multicall
        call    print_hex
        shutdown SHUTDOWN_poweroff
        align   4
calls:  dd __HYPERVISOR_xen_version, 0xDEAD, XENVER_version, 0, 0, 0, 0, 0
        dd 60, 0xDEAD, 0, 0, 0, 0, 0, 0
        dd __HYPERVISOR_multicall, 0xDEAD, calls, 1, 0, 0, 0, 0
        dd __HYPERVISOR_update_va_mapping, 0xDEAD, 0x10000, SHARED_VA_ENTRY, 0, UVMF_INVLPG, 0, 0
SHARED_VA_ENTRY equ 0                               ; unmap 0x10000
${DATA}`);
    expect(out[0]).toBe(OK);
    expect(out.slice(1, 5)).toEqual(["00040013", ENOSYS, EINVAL, OK]);
    expect(out.slice(5)).toEqual(["#PF 00000000 00010000", EFAULT]);
  });

  it("runs nothing after an entry that shut the domain down", async () => {
    const { consoles, domains } = await bootDomains([{ name: "test", kernel: pvKernel(`${MM_MACROS}
entry:  call    setup
        mov     ebx, calls
        mov     ecx, 3
        hypercall __HYPERVISOR_multicall
        say     "the multicall returned"
        shutdown SHUTDOWN_crash
        align   4
calls:  dd __HYPERVISOR_console_io, 0, CONSOLEIO_write, 6, before, 0, 0, 0
        dd __HYPERVISOR_sched_op, 0, SCHEDOP_shutdown, reason, 0, 0, 0, 0
        dd __HYPERVISOR_console_io, 0, CONSOLEIO_write, 5, after, 0, 0, 0
reason: dd SHUTDOWN_reboot
before: db "before"
after:  db "after"
${MM_LIBRARY}`) }]);
    expect(consoles.test).toBe("before");
    expect(domains[0]!.shutdownReason).toBe(SHUTDOWN_reboot);
  });

  it("ends at an iret entry: the vCPU leaves through the frame on its stack, and later entries never run", async () => {
    const out = await run(`
entry:  call    setup
        mov     [saved_esp], esp
        push    0x2                                 ; EFLAGS with IF clear: events stay masked
        push    FLAT_RING1_CS
        push    .target
        mov     ebx, calls
        mov     ecx, 2
        hypercall __HYPERVISOR_multicall            ; iret's frame starts at the return address the call pushed
.after: say     "the multicall returned"
        shutdown SHUTDOWN_crash
.target:
        sub     eax, .after                         ; iret restored EAX from the frame's first word
        call    print_hex
        mov     eax, esp
        sub     eax, [saved_esp]                    ; and popped the frame (ring 1: 16 bytes)
        call    print_hex
        mov     eax, [calls + multicall_entry.result]
        sub     eax, .after                         ; its result is that EAX, as Xen's compat_iret returns it
        call    print_hex
        mov     eax, [calls + multicall_entry_size + multicall_entry.result]
        call    print_hex
        shutdown SHUTDOWN_poweroff
        align   4
calls:  dd __HYPERVISOR_iret, 0xDEAD, 0, 0, 0, 0, 0, 0
        dd __HYPERVISOR_xen_version, 0xDEAD, 0, 0, 0, 0, 0, 0
saved_esp: dd 0
${DATA}`);
    expect(out).toEqual(["00000000", "00000000", "00000000", "0000dead"]);
  });
});

describe("set_gdt and update_descriptor", () => {
  /** Calls update_descriptor(EBX = machine address, EDX:ESI... as lo = EDX, hi = ESI) and prints the result. */
  const UPDATE_DESCRIPTOR = `
        xor     ecx, ecx
        hypercall __HYPERVISOR_update_descriptor
        call    print_hex
`;

  it("update_descriptor raises DPL 0 to 1, widens a flat segment past the hole, and forces a call gate to DPL 0", async () => {
    const out = await run(`
entry:  call    setup
        mov     eax, 0x10000
        call    mfn_of
        shl     eax, 12
        mov     [ma], eax
        mov     ebx, [ma]
        add     ebx, 8
        mov     edx, 0x0000FFFF
        mov     esi, 0x00CF9200                     ; data, DPL 0, base 0, 4 GiB
        ${UPDATE_DESCRIPTOR}
        mov     ebx, [ma]
        add     ebx, 16
        mov     edx, 0x000067FF
        mov     esi, 0x00CF9A00                     ; code, DPL 0, limit 0xF67FF pages: ends past the hole
        ${UPDATE_DESCRIPTOR}
        mov     ebx, [ma]
        add     ebx, 24
        mov     edx, (FLAT_RING1_CS << 16) | 0x5678
        mov     esi, 0x1234EC00                     ; call gate, DPL 3, to FLAT_RING1_CS:0x12345678
        ${UPDATE_DESCRIPTOR}
        mov     edi, 0x10000 + 8
        mov     ecx, 6
.show:  mov     eax, [edi]
        call    print_hex
        add     edi, 4
        loop    .show
        shutdown SHUTDOWN_poweroff
ma:     dd 0
${DATA}`);
    expect(out).toEqual([
      OK, OK, OK,
      "0000ffff", "00cfb200", // DPL 1
      "0000ffff", "00cfba00", // DPL 1, limit 4 GiB
      "e01b5678", "12348c00", // DPL 0; the target selector's RPL keeps DPL 3
    ]);
  });

  it("update_descriptor refuses 64-bit code, system descriptors, gates into Xen's segments, unaligned and foreign addresses", async () => {
    const out = await run(`
entry:  call    setup
        mov     eax, 0x10000
        call    mfn_of
        shl     eax, 12
        mov     [ma], eax
        mov     ebx, [ma]
        mov     edx, 0x0000FFFF
        mov     esi, 0x00AF9A00                     ; L = 1
        ${UPDATE_DESCRIPTOR}
        mov     ebx, [ma]
        mov     edx, 0x00000067
        mov     esi, 0x00008900                     ; a TSS
        ${UPDATE_DESCRIPTOR}
        mov     ebx, [ma]
        mov     edx, 0x00000000
        mov     esi, 0x00008E00                     ; an interrupt gate
        ${UPDATE_DESCRIPTOR}
        mov     ebx, [ma]
        mov     edx, FLAT_RING3_CS << 16
        mov     esi, 0x0000EC00                     ; a call gate into Xen's ring-3 segment
        ${UPDATE_DESCRIPTOR}
        mov     ebx, [ma]
        mov     edx, FLAT_RING1_CS << 16
        mov     esi, 0x0000ECE0                     ; a call gate with reserved bits set
        ${UPDATE_DESCRIPTOR}
        mov     ebx, [ma]
        add     ebx, 4                              ; not 8-byte aligned
        mov     edx, 0x0000FFFF
        mov     esi, 0x00CF9200
        ${UPDATE_DESCRIPTOR}
        mov     ebx, 8                              ; in frame 0, the hypervisor's
        mov     edx, 0x0000FFFF
        mov     esi, 0x00CF9200
        ${UPDATE_DESCRIPTOR}
        mov     esi, [start_info_ptr]               ; a page table
        mov     eax, [esi + start_info.pt_base]
        call    mfn_of
        shl     eax, 12
        mov     ebx, eax
        mov     edx, 0
        mov     esi, 0
        ${UPDATE_DESCRIPTOR}
        mov     eax, [0x10000]                      ; nothing was written
        or      eax, [0x10000 + 4]
        call    print_hex
        shutdown SHUTDOWN_poweroff
ma:     dd 0
${DATA}`);
    expect(out).toEqual([EINVAL, EINVAL, EINVAL, EINVAL, EINVAL, EINVAL, EINVAL, EINVAL, "00000000"]);
  });

  it("set_gdt takes only read-only frames of the domain; a selector of the new GDT then loads", async () => {
    const out = await run(`
entry:  call    setup
        mov     dword [0x10000 + 8], 0x0000FFFF      ; entry 1: flat data, DPL 0
        mov     dword [0x10000 + 12], 0x00CF9200
        mov     dword [0x11000], 0x6D7
        mov     eax, 0x10000
        call    mfn_of
        mov     [frames], eax
        mov     ebx, frames
        mov     ecx, 2
        hypercall __HYPERVISOR_set_gdt
        call    print_hex                           ; still mapped writable: -EINVAL
        mov     eax, [frames]
        shl     eax, 12
        or      eax, PTE_P | PTE_A
        mov     ebx, 0x10000
        mov     ecx, eax
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        mov     ebx, frames
        mov     ecx, 2
        hypercall __HYPERVISOR_set_gdt
        call    print_hex
        mov     eax, [0x10000 + 12]
        call    print_hex                           ; the frame was fixed up: DPL 1
        mov     ax, 0x09                            ; entry 1, RPL 1
        mov     ds, ax
        mov     eax, [0x11000]
        call    print_hex
        mov     ax, FLAT_RING1_DS
        mov     ds, ax
        mov     ebx, frames
        mov     ecx, 7169                           ; past the guest's part of the GDT
        hypercall __HYPERVISOR_set_gdt
        call    print_hex
        mov     ebx, 0xF5800000
        mov     ecx, 2
        hypercall __HYPERVISOR_set_gdt
        call    print_hex
        mov     dword [frames + 4], 0               ; a second frame: the hypervisor's
        mov     ebx, frames
        mov     ecx, 513
        hypercall __HYPERVISOR_set_gdt
        call    print_hex
        mov     ax, 0x09                            ; the refused calls left the GDT as it was
        mov     ds, ax
        mov     eax, [0x11000]
        call    print_hex
        mov     ax, FLAT_RING1_DS
        mov     ds, ax
        shutdown SHUTDOWN_poweroff
frames: dd 0, 0
${DATA}`);
    expect(out).toEqual([EINVAL, OK, "00cfb200", "000006d7", EINVAL, EFAULT, EINVAL, "000006d7"]);
  });

  it("keeps a GDT frame from being mapped writable, and a descriptor changed in it takes effect at the next load", async () => {
    const run1 = await bootDomains([{ name: "test", kernel: pvKernel(`${MM_MACROS}
entry:  call    setup
        mov     dword [0x10000 + 8], 0x0000FFFF
        mov     dword [0x10000 + 12], 0x00CFB200
        mov     dword [0x11000], 0x11
        mov     dword [0x12000], 0x12
        mov     eax, 0x10000
        call    mfn_of
        mov     [frames], eax
        shl     eax, 12
        mov     [ma], eax
        or      eax, PTE_P | PTE_A
        mov     ebx, 0x10000
        mov     ecx, eax
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        mov     ebx, frames
        mov     ecx, 2
        hypercall __HYPERVISOR_set_gdt
        mov     ax, 0x09
        mov     fs, ax
        mov     eax, [frames]                       ; writable while in the GDT: -EBUSY
        shl     eax, 12
        or      eax, PTE_P | PTE_RW | PTE_A
        mov     ebx, 0x10000
        mov     ecx, eax
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        call    print_hex
        mov     ebx, [ma]                           ; entry 1 now based at 0x1000
        add     ebx, 8
        xor     ecx, ecx
        mov     edx, 0x1000FFFF
        mov     esi, 0x00CFB200
        hypercall __HYPERVISOR_update_descriptor
        call    print_hex
        mov     eax, [fs:0x11000]                   ; FS keeps its cached descriptor, as on hardware
        call    print_hex
        mov     ax, 0x09
        mov     fs, ax
        mov     eax, [fs:0x11000]                   ; reloaded: base 0x1000
        call    print_hex
        shutdown SHUTDOWN_poweroff
frames: dd 0, 0
ma:     dd 0
${DATA}
${MM_LIBRARY}`) }]);
    expect(run1.consoles.test!.split("\n").filter(Boolean)).toEqual([EBUSY, OK, "00000011", "00000012"]);
    const vcpu = run1.domains[0]!.vcpus[0]!;
    expect(vcpu.gdtFrames).toHaveLength(1);
    expect(run1.xen.types.typeOf(vcpu.gdtFrames[0]!)).toBe(PGT_seg_desc_page);
  });
});

describe("fpu_taskswitch", () => {
  it("sets the virtual CR0.TS: the next x87 instruction is #NM, which clears it, so the one after is #UD (no FPU)", async () => {
    const out = await run(`
entry:  call    setup
        mov     ebx, 1
        hypercall __HYPERVISOR_fpu_taskswitch
        call    print_hex
        on_fault .nm
        db      0xD9, 0xD0                          ; fnop
.nm:    on_fault .ud
        db      0xD9, 0xD0
.ud:    mov     ebx, 1
        hypercall __HYPERVISOR_fpu_taskswitch
        mov     ebx, 0
        hypercall __HYPERVISOR_fpu_taskswitch
        call    print_hex
        on_fault .ud2
        db      0xD9, 0xD0
.ud2:   shutdown SHUTDOWN_poweroff
${DATA}`);
    expect(out).toEqual([OK, "#NM", "#UD", OK, "#UD"]);
  });
});

describe("memory_op", () => {
  /** Calls memory_op(EBX = sub-op, ECX = arg) and prints the result. */
  const MEMORY_OP = `
        hypercall __HYPERVISOR_memory_op
        call    print_hex
`;
  /** A reservation for the domain itself: extent list `extents`, ECX extents, order 0. */
  const RESERVATION = `
        mov     dword [reservation + xen_memory_reservation.extent_start], extents
        mov     [reservation + xen_memory_reservation.nr_extents], ecx
        mov     dword [reservation + xen_memory_reservation.extent_order], 0
        mov     dword [reservation + xen_memory_reservation.mem_flags], 0
        mov     word [reservation + xen_memory_reservation.domid], DOMID_SELF
`;
  /** Unmaps the scratch page at EAX and gives its frame back; prints the extents done. */
  const GIVE_BACK = `
        push    eax
        call    mfn_of
        mov     [extents], eax
        pop     ebx
        xor     ecx, ecx
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        mov     ecx, 1
        ${RESERVATION}
        mov     ebx, XENMEM_decrease_reservation
        mov     ecx, reservation
        ${MEMORY_OP}
`;
  const MEMORY_DATA = `
        align   4
reservation: times xen_memory_reservation_size db 0
extents: dd 0xDEAD, 0xDEAD, 0xDEAD, 0xDEAD
mapping: times xen_machphys_mapping_size db 0
domid:  dw DOMID_SELF, 0
`;

  it("reports the reservation, the largest frame and where the M2P is", async () => {
    const kernel = pvKernel(`${MM_MACROS}
entry:  call    setup
        mov     ebx, XENMEM_current_reservation
        mov     ecx, domid
        ${MEMORY_OP}
        mov     ebx, XENMEM_maximum_reservation
        mov     ecx, domid
        ${MEMORY_OP}
        mov     ebx, XENMEM_maximum_ram_page
        xor     ecx, ecx
        ${MEMORY_OP}
        mov     ebx, XENMEM_machphys_mapping
        mov     ecx, mapping
        ${MEMORY_OP}
        mov     eax, [mapping + xen_machphys_mapping.v_start]
        call    print_hex
        mov     eax, [mapping + xen_machphys_mapping.v_end]
        call    print_hex
        mov     eax, [mapping + xen_machphys_mapping.max_mfn]
        call    print_hex
        shutdown SHUTDOWN_poweroff
${MEMORY_DATA}
${DATA}
${MM_LIBRARY}`);
    const { xen, consoles } = await bootDomains([{ name: "test", kernel, memoryMiB: 16 }]);
    const hex = (v: number) => v.toString(16).padStart(8, "0");
    expect(consoles.test!.split("\n").filter(Boolean)).toEqual([
      hex(16 * 256), hex(16 * 256), hex(xen.frames.nrFrames),
      OK, "f5800000", hex(xen.m2p.virtEnd), hex(xen.frames.nrFrames - 1),
    ]);
  });

  it("takes a frame back and populates the pfn again with a fresh, zeroed frame recorded in the M2P", async () => {
    const out = await run(`
entry:  call    setup
        mov     dword [0x10000], 0x99
        mov     eax, 0x10000
        ${GIVE_BACK}                                ; 1 extent
        mov     ebx, XENMEM_current_reservation
        mov     ecx, domid
        ${MEMORY_OP}                                ; one page fewer
        mov     ebx, XENMEM_decrease_reservation    ; the same frame again: no longer ours
        mov     ecx, reservation
        ${MEMORY_OP}
        mov     dword [extents], 0x10               ; the pfn to populate
        mov     ebx, XENMEM_populate_physmap
        mov     ecx, reservation
        ${MEMORY_OP}
        mov     eax, [extents]                      ; now the new frame's mfn
        mov     eax, [MACH2PHYS_VIRT_START + eax * 4]
        call    print_hex
        mov     ecx, [extents]
        shl     ecx, 12
        or      ecx, PTE_P | PTE_RW | PTE_A
        mov     ebx, 0x10000
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        call    print_hex
        mov     eax, [0x10000]                      ; zeroed, not the old 0x99
        call    print_hex
        mov     ebx, XENMEM_current_reservation
        mov     ecx, domid
        ${MEMORY_OP}
        shutdown SHUTDOWN_poweroff
${MEMORY_DATA}
${DATA}`);
    expect(out).toEqual(["00000001", "00000fff", "00000000", "00000001", "00000010", OK, "00000000", "00001000"]);
  });

  it("hands out new frames with increase_reservation only up to the domain's maximum", async () => {
    const out = await run(`
entry:  call    setup
        mov     eax, 0x10000
        ${GIVE_BACK}
        mov     eax, 0x11000
        ${GIVE_BACK}
        mov     ecx, 3
        ${RESERVATION}
        mov     ebx, XENMEM_increase_reservation
        mov     ecx, reservation
        ${MEMORY_OP}                                ; 2 of 3: then the maximum
        mov     eax, [extents + 8]
        call    print_hex                           ; the third slot untouched
        mov     ebx, [extents]
        mov     ecx, [extents + 4]
        cmp     ebx, ecx
        setne   al
        movzx   eax, al
        call    print_hex                           ; two different frames
        mov     ecx, ebx
        shl     ecx, 12
        or      ecx, PTE_P | PTE_RW | PTE_A
        mov     ebx, 0x10000
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        call    print_hex                           ; and ours to map
        mov     eax, 0x10000
        ${GIVE_BACK}
        mov     ecx, 1
        ${RESERVATION}
        mov     dword [reservation + xen_memory_reservation.extent_start], 0
        mov     ebx, XENMEM_increase_reservation    ; a null list: allocated, not reported
        mov     ecx, reservation
        ${MEMORY_OP}
        mov     ebx, XENMEM_current_reservation
        mov     ecx, domid
        ${MEMORY_OP}
        shutdown SHUTDOWN_poweroff
${MEMORY_DATA}
${DATA}`);
    expect(out).toEqual(["00000001", "00000001", "00000002", "0000dead", "00000001", OK, "00000001", "00000001", "00001000"]);
  });

  it("ends a reservation with 0 extents for what Xen refuses that way, and queries with Xen's errors", async () => {
    const out = await run(`
entry:  call    setup
        mov     eax, 0x10000
        ${GIVE_BACK}
        mov     ebx, XENMEM_populate_physmap
        mov     ecx, 0xF5800000                     ; the reservation in the hole
        ${MEMORY_OP}
        mov     dword [reservation + xen_memory_reservation.extent_start], 0xF5800000
        mov     ebx, XENMEM_populate_physmap
        mov     ecx, reservation
        ${MEMORY_OP}                                ; the extent list in the hole
        mov     dword [reservation + xen_memory_reservation.extent_start], extents
        mov     dword [reservation + xen_memory_reservation.extent_order], 1
        mov     ebx, XENMEM_populate_physmap
        mov     ecx, reservation
        ${MEMORY_OP}                                ; order 1: two contiguous frames, not available
        mov     dword [reservation + xen_memory_reservation.extent_order], 10
        mov     ebx, XENMEM_decrease_reservation
        mov     ecx, reservation
        ${MEMORY_OP}                                ; above the domU's maximum order 9
        mov     dword [reservation + xen_memory_reservation.extent_order], 0
        mov     dword [reservation + xen_memory_reservation.mem_flags], 12
        mov     ebx, XENMEM_populate_physmap
        mov     ecx, reservation
        ${MEMORY_OP}                                ; address_bits 12: no frame can be that low
        mov     dword [reservation + xen_memory_reservation.mem_flags], 0
        mov     word [reservation + xen_memory_reservation.domid], 0x1234
        mov     ebx, XENMEM_populate_physmap
        mov     ecx, reservation
        ${MEMORY_OP}                                ; a domain that does not exist
        mov     word [reservation + xen_memory_reservation.domid], DOMID_SELF
        mov     ebx, XENMEM_populate_physmap | (3 << 6)
        mov     ecx, reservation
        ${MEMORY_OP}                                ; start extent 3 of 1: returns 3
        mov     dword [extents], 0
        mov     ebx, XENMEM_decrease_reservation
        mov     ecx, reservation
        ${MEMORY_OP}                                ; frame 0 is not the domain's
        mov     dword [reservation + xen_memory_reservation.extent_start], 0
        mov     ebx, XENMEM_decrease_reservation
        mov     ecx, reservation
        ${MEMORY_OP}                                ; no list: nothing to give back
        mov     ebx, XENMEM_current_reservation
        mov     ecx, 0xF5800000
        ${MEMORY_OP}
        mov     word [domid], 0x1234
        mov     ebx, XENMEM_current_reservation
        mov     ecx, domid
        ${MEMORY_OP}
        mov     ebx, XENMEM_maximum_reservation | (1 << 6)
        mov     ecx, domid
        ${MEMORY_OP}
        mov     ebx, 9                              ; XENMEM_memory_map: no map was set
        mov     ecx, mapping
        ${MEMORY_OP}
        mov     ebx, 40
        mov     ecx, mapping
        ${MEMORY_OP}
        mov     ebx, XENMEM_machphys_mapping | (1 << 6) ; an x86 sub-op with start bits: unknown, as in Xen
        mov     ecx, mapping
        ${MEMORY_OP}
        mov     word [domid], DOMID_SELF
        mov     ebx, XENMEM_current_reservation
        mov     ecx, domid
        ${MEMORY_OP}                                ; nothing was given or taken
        shutdown SHUTDOWN_poweroff
${MEMORY_DATA}
${DATA}`);
    expect(out).toEqual([
      "00000001", "00000000", "00000000", "00000000", "00000000", "00000000", "00000000", "00000003", "00000000", "00000000",
      EFAULT, ESRCH, EINVAL, ENOSYS, ENOSYS, ENOSYS, "00000fff",
    ]);
  });
});

describe("physdev_op and port I/O", () => {
  it("IN and OUT are #GP(0) until set_iopl allows the kernel's ring; then every port reads all ones", async () => {
    const out = await run(`
entry:  call    setup
        on_fault .gp
        in      al, 0x71
.gp:    mov     dword [scratch], 1
        mov     ebx, PHYSDEVOP_set_iopl
        mov     ecx, scratch
        hypercall __HYPERVISOR_physdev_op
        call    print_hex
        xor     eax, eax
        in      al, 0x71
        call    print_hex
        mov     dx, 0x1F0
        in      ax, dx
        call    print_hex
        in      eax, dx
        call    print_hex
        mov     edi, 0x10000
        mov     ecx, 3
        rep insw                                    ; three iterations, each completed for the guest
        mov     eax, [0x10000]
        call    print_hex
        mov     ax, [0x10000 + 4]
        movzx   eax, ax
        call    print_hex
        on_fault .cli                               ; IOPL-sensitive but not I/O: still #GP, at the CLI
.cli_at: cli
.cli:   mov     eax, [fault_eip]
        sub     eax, .cli_at
        call    print_hex
        mov     dword [scratch], 0
        mov     ebx, PHYSDEVOP_set_iopl
        mov     ecx, scratch
        hypercall __HYPERVISOR_physdev_op
        on_fault .off
        out     0x80, al
.off:   shutdown SHUTDOWN_poweroff
${DATA}`);
    expect(out).toEqual([
      "#GP 00000000", OK, "000000ff", "0000ffff", "ffffffff", "ffffffff", "0000ffff", "#GP 00000000", "00000000", "#GP 00000000",
    ]);
  });

  it("drops writes, except the bytes written to the debug port 0xE9, which reach the domain's console", async () => {
    const { consoles } = await bootDomains([{ name: "test", kernel: pvKernel(`${MM_MACROS}
entry:  call    setup
        mov     dword [scratch], 1
        mov     ebx, PHYSDEVOP_set_iopl
        mov     ecx, scratch
        hypercall __HYPERVISOR_physdev_op
        mov     al, 'h'
        out     0xE9, al
        mov     al, 'i'
        out     0xE9, al
        mov     dx, 0xE9
        mov     esi, text
        mov     ecx, text_end - text
        rep outsb
        mov     ax, 0x4141                          ; a word to the port: not a character
        out     dx, ax
        mov     al, 'x'
        out     0x80, al                            ; another port: dropped
        shutdown SHUTDOWN_poweroff
text:   db      " there", 10
text_end:
${DATA}
${MM_LIBRARY}`) }]);
    expect(consoles.test).toBe("hi there\n");
  });

  it("set_iopl refuses a value above 3 and an argument it cannot read; other commands are -ENOSYS", async () => {
    const out = await run(`
entry:  call    setup
        mov     dword [scratch], 4
        mov     ebx, PHYSDEVOP_set_iopl
        mov     ecx, scratch
        hypercall __HYPERVISOR_physdev_op
        call    print_hex
        mov     ebx, PHYSDEVOP_set_iopl
        mov     ecx, 0xF5800000
        hypercall __HYPERVISOR_physdev_op
        call    print_hex
        mov     ebx, 5                              ; irq_status_query: a domU has no IRQs
        mov     ecx, scratch
        hypercall __HYPERVISOR_physdev_op
        call    print_hex
        on_fault .gp
        in      al, 0x80                            ; the refused calls gave no IOPL
.gp:    shutdown SHUTDOWN_poweroff
${DATA}`);
    expect(out).toEqual([EINVAL, EFAULT, ENOSYS, "#GP 00000000"]);
  });

  it("counts the kernel as ring 0 with vm_assist(architectural_iopl): IOPL 0 then lets it do I/O", async () => {
    const out = await run(`
entry:  call    setup
        mov     ebx, VMASST_CMD_enable
        mov     ecx, 4                              ; VMASST_TYPE_architectural_iopl
        hypercall __HYPERVISOR_vm_assist
        call    print_hex
        xor     eax, eax
        in      al, 0x80
        call    print_hex
        shutdown SHUTDOWN_poweroff
${DATA}`);
    expect(out).toEqual([OK, "000000ff"]);
  });

  it("keeps ring 3 out with IOPL 1 and lets it in with IOPL 3", async () => {
    const { consoles } = await bootDomains([{ name: "test", kernel: pvKernel(`${MM_MACROS}
entry:  call    setup
        mov     ebx, ring3_traps                    ; #GP and #UD handlers for this test
        hypercall __HYPERVISOR_set_trap_table
        mov     dword [scratch], 1
        mov     ebx, PHYSDEVOP_set_iopl
        mov     ecx, scratch
        hypercall __HYPERVISOR_physdev_op
        mov     eax, user_code                      ; user code and stack, mapped with U
        mov     ebx, user_code
        call    map_user
        mov     eax, 0x20000
        mov     ebx, 0x20000
        call    map_user
        push    FLAT_RING3_DS                       ; an IRET to ring 3: SS, ESP, EFLAGS, CS, EIP
        push    0x21000
        push    0x202
        push    FLAT_RING3_CS
        push    user_code
        iret
map_user:                                           ; EAX = va: its own frame, with U
        call    mfn_of
        shl     eax, 12
        or      eax, PTE_P | PTE_RW | PTE_A | 4
        mov     ecx, eax
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        ret
ring3_gp:                                           ; IOPL 1 does not cover ring 3
        mov     ax, FLAT_RING1_DS                   ; the IRET to ring 3 left DS and ES null
        mov     ds, ax
        mov     es, ax
        say     "ring 3: #GP"
        say     10
        mov     dword [scratch], 3
        mov     ebx, PHYSDEVOP_set_iopl
        mov     ecx, scratch
        hypercall __HYPERVISOR_physdev_op
        add     esp, 4                              ; the error code; then retry the IN
        iret
ring3_ud:                                           ; the user code got past its IN
        mov     ax, FLAT_RING1_DS
        mov     ds, ax
        mov     es, ax
        mov     eax, ebx
        call    print_hex
        shutdown SHUTDOWN_poweroff
        align   4
ring3_traps:
        db      13, 0
        dw      FLAT_RING1_CS
        dd      ring3_gp
        db      6, 0
        dw      FLAT_RING1_CS
        dd      ring3_ud
        dd      0, 0
        align   4096
user_code:
        xor     eax, eax
        in      al, 0x80
        mov     ebx, eax
        ud2
        align   4096
${DATA}
${MM_LIBRARY}`) }]);
    expect(consoles.test).toBe("ring 3: #GP\n000000ff\n");
  });
});

describe("a hostile guest next to a victim domain", () => {
  /** A victim that never runs (paused): its memory must stay exactly as the builder left it. */
  const VICTIM = pvKernel(`${MM_MACROS}
entry:  shutdown SHUTDOWN_crash
${MM_LIBRARY}`);

  it("gets Xen's error for every way to reach another domain's frame, and the victim's memory is untouched", async () => {
    const attacker = pvKernel(`${MM_MACROS}
VICTIM_DOMID    equ 1                               ; the first domain created
entry:  call    setup
        lea     esi, [esi + start_info.cmd_line]    ; the victim's frame: 8 hex digits
        xor     eax, eax
        mov     ecx, 8
.hex:   shl     eax, 4
        movzx   edx, byte [esi]
        inc     esi
        cmp     dl, '9'
        jbe     .digit
        sub     dl, 'a' - 10 - '0'
.digit: sub     dl, '0'
        or      eax, edx
        loop    .hex
        mov     [victim], eax
        shl     eax, 12
        mov     [victim_ma], eax

        mov     ecx, [victim_ma]                    ; map it writable, then read-only
        or      ecx, PTE_P | PTE_RW | PTE_A
        call    map_at_10000
        mov     ecx, [victim_ma]
        or      ecx, PTE_P | PTE_A
        call    map_at_10000
        mov     eax, [victim_ma]                    ; write into it as a table
        mov     [req + mmu_update.ptr], eax
        mov     dword [req + mmu_update.val], 0
        call    one_mmu_update
        mov     eax, [victim_ma]                    ; rewrite its M2P entry
        or      eax, MMU_MACHPHYS_UPDATE
        mov     [req + mmu_update.ptr], eax
        call    one_mmu_update
        mov     eax, MMUEXT_PIN_L1_TABLE            ; pin it, switch to it, clear it, copy from it
        call    one_mmuext_op
        mov     eax, MMUEXT_NEW_BASEPTR
        call    one_mmuext_op
        mov     eax, MMUEXT_CLEAR_PAGE
        call    one_mmuext_op
        mov     eax, 0x11000
        call    mfn_of
        mov     dword [ops + mmuext_op.cmd], MMUEXT_COPY_PAGE
        mov     [ops + mmuext_op.arg1], eax
        mov     eax, [victim]
        mov     [ops + mmuext_op.arg2], eax
        mov     ebx, ops
        mov     ecx, 1
        mov     edx, done
        mov     esi, DOMID_SELF
        hypercall __HYPERVISOR_mmuext_op
        call    print_hex
        mov     ebx, victim                         ; make it our GDT, write a descriptor into it
        mov     ecx, 1
        hypercall __HYPERVISOR_set_gdt
        call    print_hex
        mov     ebx, [victim_ma]
        xor     ecx, ecx
        mov     edx, 0x0000FFFF
        mov     esi, 0x00CFB200
        hypercall __HYPERVISOR_update_descriptor
        call    print_hex
        mov     ebx, 0x10000                        ; name the victim as the owner
        mov     ecx, [victim_ma]
        or      ecx, PTE_P | PTE_A
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        mov     edi, VICTIM_DOMID
        hypercall __HYPERVISOR_update_va_mapping_otherdomain
        call    print_hex
        mov     ebx, req
        mov     ecx, 1
        mov     edx, done
        mov     esi, VICTIM_DOMID
        hypercall __HYPERVISOR_mmu_update
        call    print_hex
        mov     ebx, ops
        mov     ecx, 1
        mov     edx, done
        mov     esi, VICTIM_DOMID
        hypercall __HYPERVISOR_mmuext_op
        call    print_hex
        mov     word [domid], VICTIM_DOMID          ; its reservation, its frames
        mov     ebx, XENMEM_current_reservation
        mov     ecx, domid
        hypercall __HYPERVISOR_memory_op
        call    print_hex
        mov     eax, [victim]
        mov     [extents], eax
        mov     dword [reservation + xen_memory_reservation.extent_start], extents
        mov     dword [reservation + xen_memory_reservation.nr_extents], 1
        mov     word [reservation + xen_memory_reservation.domid], DOMID_SELF
        mov     ebx, XENMEM_decrease_reservation
        mov     ecx, reservation
        hypercall __HYPERVISOR_memory_op
        call    print_hex
        mov     word [reservation + xen_memory_reservation.domid], VICTIM_DOMID
        mov     ebx, XENMEM_decrease_reservation
        mov     ecx, reservation
        hypercall __HYPERVISOR_memory_op
        call    print_hex
        mov     ebx, VMASST_CMD_enable              ; and write a PTE for it directly
        mov     ecx, VMASST_TYPE_writable_pagetables
        hypercall __HYPERVISOR_vm_assist
        mov     eax, 0x10000
        call    pte_va
        mov     edi, eax
        mov     eax, [victim_ma]
        or      eax, PTE_P | PTE_RW | PTE_A
        on_fault .refused
        mov     [edi], eax
.refused:
        shutdown SHUTDOWN_poweroff

map_at_10000:                                       ; ECX = the entry
        mov     ebx, 0x10000
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        call    print_hex
        ret
one_mmu_update:
        mov     ebx, req
        mov     ecx, 1
        mov     edx, done
        mov     esi, DOMID_SELF
        hypercall __HYPERVISOR_mmu_update
        call    print_hex
        ret
one_mmuext_op:                                      ; EAX = the command, on the victim's frame
        mov     [ops + mmuext_op.cmd], eax
        mov     eax, [victim]
        mov     [ops + mmuext_op.arg1], eax
        mov     ebx, ops
        mov     ecx, 1
        mov     edx, done
        mov     esi, DOMID_SELF
        hypercall __HYPERVISOR_mmuext_op
        call    print_hex
        ret
        align   4
victim: dd 0
victim_ma: dd 0
extents: dd 0
domid:  dw 0, 0
reservation: times xen_memory_reservation_size db 0
${DATA}
${MM_LIBRARY}`);
    let victimFrames: number[] = [];
    let before = "";
    const snapshot = (ram: Uint8Array) => victimFrames.map((mfn) => Buffer.from(ram.subarray(mfn * 4096, mfn * 4096 + 4096)).toString("base64")).join();
    const { xen, domains, consoles } = await bootDomains(
      [
        { name: "victim", kernel: VICTIM, paused: true },
        { name: "attacker", kernel: attacker, cmdline: (earlier) => earlier[0]!.built.p2m.get(16).toString(16).padStart(8, "0") },
      ],
      {
        beforeRun: (xen, [victim]) => {
          victimFrames = Array.from({ length: victim!.built.p2m.maxPfns }, (_, pfn) => victim!.built.p2m.get(pfn));
          before = snapshot(xen.cpu.ram);
        },
      },
    );
    const [victim, attacker_] = domains;
    expect(attacker_!.shutdownReason).toBe(SHUTDOWN_poweroff);
    const victimMfn = victim!.built.p2m.get(16);
    const lines = consoles.attacker!.split("\n").filter(Boolean);
    expect(lines.slice(0, 16)).toEqual([
      EBUSY, EBUSY, // update_va_mapping, writable and read-only
      EINVAL, EINVAL, // mmu_update as a table, MMU_MACHPHYS_UPDATE
      EINVAL, EINVAL, EINVAL, EINVAL, // pin, new baseptr, clear, copy
      EINVAL, EINVAL, // set_gdt, update_descriptor
      EPERM, EPERM, EPERM, EPERM, // otherdomain, foreigndom twice, current_reservation
      "00000000", "00000000", // decrease_reservation as ours, as the victim's
    ]);
    // The direct PTE write under writable page tables: refused, the #PF goes to the guest.
    expect(lines.slice(16)).toEqual([expect.stringMatching(/^#PF 00000003 [0-9a-f]{8}$/)]);
    expect(snapshot(xen.cpu.ram)).toBe(before);
    expect(auditHypervisor(xen)).toEqual([]);
    expect(xen.frames.ownerOf(victimMfn)).toBe(victim!.domid);
    expect(xen.frames.pagesOf(victim!.domid)).toBe(victim!.built.p2m.maxPfns + 1);
    expect(xen.m2p.get(victimMfn)).toBe(16);
  });
});

describe("guests/pv/abi-test", () => {
  it("exercises every memory and CPU hypercall and ends with Test result: SUCCESS, every reference accounted for", async () => {
    const { xen, domains, consoles } = await bootDomains([{ name: "abi-test", kernel: new Uint8Array(readFileSync("build/guests/pv/abi-test.bin")) }]);
    const out = consoles["abi-test"]!;
    expect(out).not.toMatch(/Failure/);
    expect(out.endsWith("Test result: SUCCESS\n")).toBe(true);
    const checks = Number(/abi-test: (\d+) checks/.exec(out)?.[1]);
    expect(checks).toBeGreaterThanOrEqual(160);
    expect(domains[0]!.shutdownReason).toBe(SHUTDOWN_poweroff);
    expect(auditHypervisor(xen)).toEqual([]);
  });
});

describe("destroying a domain", () => {
  it("gives back every frame of a domain that switched its base pointer and holds a GDT, an LDT and a pinned table", async () => {
    const kernel = pvKernel(`${MM_MACROS}
entry:  call    setup
        mov     eax, [esi + start_info.pt_base]     ; a copy of the L3 and of its special L2, read-only
        mov     ebx, [eax + 3 * 8]
        shr     ebx, 12
        call    mfn_of
        mov     [ops + mmuext_op.arg2], eax
        mov     eax, 0x13000
        call    mfn_of
        mov     [new_l3], eax
        mov     [ops + mmuext_op.arg1], eax
        mov     eax, 0x14000
        call    mfn_of
        mov     [new_l2], eax
        mov     [ops + mmuext_op_size + mmuext_op.arg1], eax
        mov     [ops + mmuext_op_size + mmuext_op.arg2], ebx
        mov     dword [ops + mmuext_op.cmd], MMUEXT_COPY_PAGE
        mov     dword [ops + mmuext_op_size + mmuext_op.cmd], MMUEXT_COPY_PAGE
        mov     ecx, 2
        ${MMUEXT_OP}
        mov     eax, [new_l2]
        shl     eax, 12
        or      eax, 0x67
        mov     [0x13000 + 3 * 8], eax
        mov     dword [0x15000 + 8], 0x0000FFFF      ; a GDT and an LDT frame with one data segment
        mov     dword [0x15000 + 12], 0x00CFB200
        mov     dword [0x16000 + 8], 0x0000FFFF
        mov     dword [0x16000 + 12], 0x00CFB200
        mov     eax, 0x13000
        call    read_only
        mov     eax, 0x14000
        call    read_only
        mov     eax, 0x15000
        call    read_only
        mov     eax, 0x16000
        call    read_only
        mov     eax, 0x12000                        ; an empty L1 to pin
        call    read_only
        mov     eax, 0x12000
        call    mfn_of
        mov     dword [ops + mmuext_op.cmd], MMUEXT_PIN_L1_TABLE
        mov     [ops + mmuext_op.arg1], eax
        mov     dword [ops + mmuext_op_size + mmuext_op.cmd], MMUEXT_NEW_BASEPTR
        mov     eax, [new_l3]
        mov     [ops + mmuext_op_size + mmuext_op.arg1], eax
        mov     dword [ops + 2 * mmuext_op_size + mmuext_op.cmd], MMUEXT_SET_LDT
        mov     dword [ops + 2 * mmuext_op_size + mmuext_op.arg1], 0x16000
        mov     dword [ops + 2 * mmuext_op_size + mmuext_op.arg2], 2
        mov     ecx, 3
        ${MMUEXT_OP}
        mov     eax, 0x15000
        call    mfn_of
        mov     [frames], eax
        mov     ebx, frames
        mov     ecx, 2
        hypercall __HYPERVISOR_set_gdt
        call    print_hex
        shutdown SHUTDOWN_poweroff
read_only:                                          ; EAX = va
        push    eax
        call    mfn_of
        shl     eax, 12
        or      eax, PTE_P | PTE_A
        mov     ecx, eax
        pop     ebx
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        ret
new_l3: dd 0
new_l2: dd 0
frames: dd 0
${DATA}
${MM_LIBRARY}`);
    const { xen, domains, consoles } = await bootDomains([{ name: "test", kernel }]);
    const domain = domains[0]!;
    expect(consoles.test).toBe(`${OK}\n${OK}\n${OK}\n`);
    expect(domain.vcpus[0]!.cr3Mfn).not.toBe(domain.built.l3Mfn);
    expect(auditHypervisor(xen)).toEqual([]);
    const free = xen.frames.available;
    xen.destroyDomain(domain);
    expect(xen.frames.pagesOf(domain.domid)).toBe(0);
    expect(xen.frames.available).toBe(free + domain.built.p2m.maxPfns + 1);
  });
});
