// test/hypervisor/mm/m2p.test.ts — the M2P table in hypervisor frames, and its
// read-only window at 0xF5800000 in every PV guest: walking a guest's own
// tables from its L3 to that address lands on M2P[mfn].

import { describe, expect, it } from "vitest";
import { EINVAL } from "../../../hypervisor/abi/errno.js";
import { MACH2PHYS_VIRT_START } from "../../../hypervisor/abi/arch_x86_32.js";
import { DOMID_XEN } from "../../../hypervisor/abi/xen.js";
import { INVALID_M2P_ENTRY } from "../../../hypervisor/mm/m2p.js";
import { PGT_l3_page_table } from "../../../hypervisor/mm/pagetype.js";
import { pinTable } from "../../../hypervisor/mm/pin.js";
import { _PAGE_PRESENT, _PAGE_RW, _PAGE_USER, entryAddress, pteFlags, pteMfn } from "../../../hypervisor/mm/pte.js";
import { addressSpace, machine, type Machine } from "./fixture.js";

/**
 * A PAE walk as the core does it in PV mode, for the test only: returns the
 * physical address `va` reaches and whether every level allowed writing
 * and user access, or null when a level is not present.
 */
function walk(m: Machine, l3: number, va: number): { pa: number; rw: boolean; user: boolean } | null {
  let table = l3;
  let rw = true;
  let user = true;
  for (const index of [va >>> 30, (va >>> 21) & 511, (va >>> 12) & 511]) {
    const [lo, hi] = m.entry(table, index);
    if ((lo & _PAGE_PRESENT) === 0) return null;
    rw &&= (lo & _PAGE_RW) !== 0;
    user &&= (lo & _PAGE_USER) !== 0;
    table = pteMfn(lo, hi);
  }
  return { pa: table * 4096 + (va & 0xfff), rw, user };
}

describe("the M2P table", () => {
  it("lives in frames of the hypervisor, every entry invalid until set", () => {
    const m = machine(48);
    expect(m.m2p.tableMfns).toHaveLength(1);
    expect(m.m2p.l1Mfns).toHaveLength(1);
    for (const f of [...m.m2p.tableMfns, ...m.m2p.l1Mfns]) expect(m.frames.ownerOf(f)).toBe(DOMID_XEN);
    expect(m.m2p.get(5)).toBe(INVALID_M2P_ENTRY);
    expect(m.m2p.get(48)).toBe(INVALID_M2P_ENTRY);
    expect(m.m2p.maxMfn).toBe(47);
  });

  it("takes one table frame per 1024 machine frames and one L1 per 512 table frames", () => {
    const m = machine(2048 + 1);
    expect(m.m2p.tableMfns).toHaveLength(3);
    expect(m.m2p.l1Mfns).toHaveLength(1);
    expect(m.m2p.virtEnd).toBe(MACH2PHYS_VIRT_START + 3 * 4096);
    m.m2p.set(2048, 77);
    expect(m.view.getUint32(m.m2p.tableMfns[2]! * 4096, true)).toBe(77);
  });

  it("maps its frames read-only, in order, through the hypervisor's L1", () => {
    const m = machine(2048 + 1);
    m.m2p.tableMfns.forEach((f, j) => {
      const [lo, hi] = m.entry(m.m2p.l1Mfns[0]!, j);
      expect(pteMfn(lo, hi)).toBe(f);
      expect(pteFlags(lo, hi) & (_PAGE_PRESENT | _PAGE_RW)).toBe(_PAGE_PRESENT);
    });
    expect(m.entry(m.m2p.l1Mfns[0]!, 3)).toEqual([0, 0]);
  });

  it("is what a guest reads at 0xF5800000 + 4 * mfn through its own tables, user-readable but never writable", () => {
    const m = machine(48);
    const as = addressSpace(m, 1);
    expect(walk(m, as.l3, MACH2PHYS_VIRT_START)).toBeNull();
    pinTable(m.types, 1, as.l3, PGT_l3_page_table);
    m.m2p.set(as.data, 0x1234);
    const reached = walk(m, as.l3, MACH2PHYS_VIRT_START + 4 * as.data);
    expect(reached).toMatchObject({ rw: false, user: true });
    expect(m.view.getUint32(reached!.pa, true)).toBe(0x1234);
    expect(walk(m, as.l3, m.m2p.virtEnd)).toBeNull();
  });

  it("lets a guest set M2P entries of its own frames only (MMU_MACHPHYS_UPDATE)", () => {
    const m = machine(48);
    const [mine] = m.alloc(1, 1) as [number];
    const [theirs] = m.alloc(2, 1) as [number];
    expect(m.m2p.machphysUpdate(1, mine, 9)).toBe(0);
    expect(m.m2p.get(mine)).toBe(9);
    expect(m.m2p.machphysUpdate(1, theirs, 9)).toBe(-EINVAL);
    expect(m.m2p.machphysUpdate(1, m.m2p.tableMfns[0]!, 9)).toBe(-EINVAL);
    expect(m.m2p.machphysUpdate(1, 1 << 20, 9)).toBe(-EINVAL);
    expect(m.m2p.get(theirs)).toBe(INVALID_M2P_ENTRY);
    expect(m.view.getUint32(entryAddress(m.m2p.tableMfns[0]!, 0), true)).toBe(INVALID_M2P_ENTRY);
  });
});
