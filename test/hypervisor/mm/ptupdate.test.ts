// test/hypervisor/mm/ptupdate.test.ts — changing entries of live tables through
// mmu_update and update_va_mapping: the new entry is checked and referenced
// before the old one is released, and a refused change writes nothing.

import { describe, expect, it } from "vitest";
import { EBUSY, EINVAL, EPERM } from "../../../hypervisor/abi/errno.js";
import { HYPERVISOR_VIRT_START } from "../../../hypervisor/abi/arch_x86_32.js";
import {
  PGT_l1_page_table,
  PGT_l2_page_table,
  PGT_l3_page_table,
  PGT_writable_page,
} from "../../../hypervisor/mm/pagetype.js";
import { pinTable } from "../../../hypervisor/mm/pin.js";
import {
  COMPAT_L2_PAGETABLE_FIRST_XEN_SLOT,
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_GLOBAL,
  _PAGE_PCD,
  _PAGE_PRESENT,
  _PAGE_RW,
  _PAGE_USER,
  entryAddress,
  pteFlags,
  pteHi,
  pteLo,
} from "../../../hypervisor/mm/pte.js";
import {
  l1eAddressOfVa,
  modL3Entry,
  updatePageTableEntry,
  updateVaMapping,
} from "../../../hypervisor/mm/ptupdate.js";
import { DATA_RO, DATA_RW, TABLE, addressSpace, audit, changes, machine, type AddressSpace } from "./fixture.js";

function refused(m: ReturnType<typeof machine>, rc: number, attempt: () => number): void {
  const before = m.snapshot();
  expect(attempt()).toBe(rc);
  expect(changes(before, m.snapshot())).toEqual([]);
}

/** A live address space of domain 1, its L3 pinned as the builder leaves it. */
function live(): { m: ReturnType<typeof machine>; as: AddressSpace } {
  const m = machine();
  const as = addressSpace(m, 1);
  expect(pinTable(m.types, 1, as.l3, PGT_l3_page_table)).toBe(0);
  return { m, as };
}

/** mmu_update(MMU_NORMAL_PT_UPDATE) of entry `index` of `table` to `mfn` with `flags`. */
function update(m: ReturnType<typeof machine>, domid: number, table: number, index: number, mfn: number, flags: number, preserveAd = false): number {
  return updatePageTableEntry(m.types, domid, entryAddress(table, index), pteLo(mfn, flags), pteHi(mfn, flags), preserveAd);
}

describe("mmu_update on a live L1", () => {
  it("maps a page writable, taking its writable reference, and releases what the entry mapped before", () => {
    const { m, as } = live();
    expect(update(m, 1, as.l1, 2, as.spare, DATA_RW)).toBe(0);
    expect([m.types.typeOf(as.spare), m.types.typeCountOf(as.spare), m.frames.count[as.spare]]).toEqual([PGT_writable_page, 1, 1]);
    expect(m.frames.count[as.ro]).toBe(0);
    expect(audit(m)).toEqual([]);
  });

  it("refuses to map a page table writable (-EBUSY), leaving the entry as it was", () => {
    const { m, as } = live();
    for (const table of [as.l1, as.l2, as.l2x, as.l3]) {
      refused(m, -EBUSY, () => update(m, 1, as.l1, 2, table, DATA_RW));
    }
  });

  it("refuses another domain's frame and the hypervisor's (-EBUSY), and MMIO space (-EPERM)", () => {
    const { m, as } = live();
    const [theirs] = m.alloc(2, 1) as [number];
    refused(m, -EBUSY, () => update(m, 1, as.l1, 2, theirs, DATA_RO));
    refused(m, -EBUSY, () => update(m, 1, as.l1, 2, m.m2p.tableMfns[0]!, DATA_RO));
    refused(m, -EPERM, () => update(m, 1, as.l1, 2, 0xfebc0, DATA_RW));
  });

  it("refuses cache attributes in a new entry (-EINVAL)", () => {
    const { m, as } = live();
    refused(m, -EINVAL, () => update(m, 1, as.l1, 2, as.ro, DATA_RO | _PAGE_PCD));
  });

  it("changes A, D, US and G in place, with no reference taken or dropped", () => {
    const { m, as } = live();
    const counts = [m.frames.count[as.data], m.types.typeCountOf(as.data)];
    expect(update(m, 1, as.l1, 0, as.data, DATA_RW | _PAGE_DIRTY | _PAGE_USER | _PAGE_GLOBAL)).toBe(0);
    expect([m.frames.count[as.data], m.types.typeCountOf(as.data)]).toEqual(counts);
    expect(pteFlags(...m.entry(as.l1, 0))).toBe(DATA_RW | _PAGE_DIRTY | _PAGE_USER | _PAGE_GLOBAL);
  });

  it("drops the writable reference when RW is cleared, so the page may then become a table", () => {
    const { m, as } = live();
    expect(update(m, 1, as.l1, 0, as.data, DATA_RO)).toBe(0);
    expect([m.frames.count[as.data], m.types.typeCountOf(as.data)]).toEqual([1, 0]);
    expect(pinTable(m.types, 1, as.data, PGT_l1_page_table)).toBe(0);
    expect(audit(m)).toEqual([]);
  });

  it("keeps the accessed and dirty bits with MMU_PT_UPDATE_PRESERVE_AD", () => {
    const { m, as } = live();
    update(m, 1, as.l1, 0, as.data, DATA_RW | _PAGE_DIRTY);
    expect(update(m, 1, as.l1, 0, as.data, _PAGE_PRESENT | _PAGE_RW, true)).toBe(0);
    expect(pteFlags(...m.entry(as.l1, 0))).toBe(DATA_RW | _PAGE_DIRTY);
    expect(update(m, 1, as.l1, 0, as.data, _PAGE_PRESENT | _PAGE_RW)).toBe(0);
    expect(pteFlags(...m.entry(as.l1, 0)) & (_PAGE_ACCESSED | _PAGE_DIRTY)).toBe(0);
  });
});

describe("mmu_update on live L2s and L3s", () => {
  it("hooks a new L1 into an L2, validating it, and unhooking it devalidates it", () => {
    const { m, as } = live();
    const [l1, page] = m.alloc(1, 2) as [number, number];
    m.setEntry(l1, 0, page, DATA_RW);
    expect(update(m, 1, as.l2, 1, l1, TABLE)).toBe(0);
    expect([m.types.typeOf(l1), m.types.typeCountOf(l1), m.types.typeCountOf(page)]).toEqual([PGT_l1_page_table, 1, 1]);
    expect(update(m, 1, as.l2, 1, 0, 0)).toBe(0);
    expect([m.types.typeCountOf(l1), m.types.isValidated(l1), m.frames.count[page]]).toEqual([0, false, 0]);
    expect(audit(m)).toEqual([]);
  });

  it("refuses an L1 that would map the new L1 itself writable (-EBUSY)", () => {
    const { m, as } = live();
    const [l1] = m.alloc(1, 1) as [number];
    m.setEntry(l1, 0, l1, DATA_RW);
    refused(m, -EBUSY, () => update(m, 1, as.l2, 1, l1, TABLE));
  });

  it("keeps the hypervisor's slots of the special L2 out of the guest's reach (-EPERM)", () => {
    const { m, as } = live();
    const [l1] = m.alloc(1, 1) as [number];
    for (const slot of [COMPAT_L2_PAGETABLE_FIRST_XEN_SLOT, 511]) {
      refused(m, -EPERM, () => update(m, 1, as.l2x, slot, l1, TABLE));
      refused(m, -EPERM, () => update(m, 1, as.l2x, slot, 0, 0));
    }
    expect(update(m, 1, as.l2x, COMPAT_L2_PAGETABLE_FIRST_XEN_SLOT - 1, l1, TABLE)).toBe(0);
  });

  it("refuses to change L3 slot 3 or slots 4-511 (-EINVAL), but changes slots 0-2 with RW and US forced on", () => {
    const { m, as } = live();
    const [l2] = m.alloc(1, 1) as [number];
    refused(m, -EINVAL, () => update(m, 1, as.l3, 3, l2, TABLE));
    refused(m, -EINVAL, () => update(m, 1, as.l3, 3, 0, 0));
    refused(m, -EINVAL, () => update(m, 1, as.l3, 4, l2, TABLE));
    expect(update(m, 1, as.l3, 2, l2, _PAGE_PRESENT)).toBe(0);
    expect(pteFlags(...m.entry(as.l3, 2))).toBe(_PAGE_PRESENT | _PAGE_RW | _PAGE_USER);
    expect(m.types.typeOf(l2)).toBe(PGT_l2_page_table);
    expect(audit(m)).toEqual([]);
  });

  it("refuses an L1 hung where an L2 belongs, and an L2 in use hung as an L1 (-EINVAL)", () => {
    const { m, as } = live();
    refused(m, -EINVAL, () => update(m, 1, as.l3, 1, as.l1, TABLE));
    refused(m, -EINVAL, () => update(m, 1, as.l2, 5, as.l2, TABLE));
    refused(m, -EINVAL, () => modL3Entry(m.types, as.l3, 1, pteLo(as.l2x, TABLE), 0, 1));
  });
});

describe("mmu_update on frames that are not live tables", () => {
  it("writes a page that is not a table like any writable page, with no references left behind", () => {
    const { m, as } = live();
    expect(update(m, 1, as.spare, 7, as.l3, DATA_RW)).toBe(0);
    expect(m.entry(as.spare, 7)).toEqual([pteLo(as.l3, DATA_RW), 0]);
    expect([m.frames.count[as.spare], m.types.typeCountOf(as.spare), m.frames.count[as.l3]]).toEqual([0, 0, 2]);
  });

  it("refuses a frame the domain does not own, one past RAM, and a misaligned pointer (-EINVAL)", () => {
    const { m, as } = live();
    const [theirs] = m.alloc(2, 1) as [number];
    refused(m, -EINVAL, () => update(m, 1, theirs, 0, as.data, DATA_RO));
    refused(m, -EINVAL, () => update(m, 1, m.m2p.tableMfns[0]!, 0, 0, 0));
    refused(m, -EINVAL, () => updatePageTableEntry(m.types, 1, m.frames.nrFrames * 4096, 0, 0));
    refused(m, -EINVAL, () => updatePageTableEntry(m.types, 1, entryAddress(as.spare, 1) + 4, 0, 0));
  });
});

describe("update_va_mapping", () => {
  it("finds the L1 entry that maps a virtual address through the live tables", () => {
    const { m, as } = live();
    expect(l1eAddressOfVa(m.types, 1, as.l3, 0x2000)).toBe(entryAddress(as.l1, 2));
    expect(l1eAddressOfVa(m.types, 1, as.l3, 0x1ff123)).toBe(entryAddress(as.l1, 511));
  });

  it("replaces the mapping of a virtual address by the L1 rules", () => {
    const { m, as } = live();
    expect(updateVaMapping(m.types, 1, as.l3, 0x3000, pteLo(as.spare, DATA_RW), 0)).toBe(0);
    expect(m.types.typeCountOf(as.spare)).toBe(1);
    refused(m, -EBUSY, () => updateVaMapping(m.types, 1, as.l3, 0x4000, pteLo(as.l1, DATA_RW), 0));
  });

  it("refuses addresses in the hypervisor hole, without an L1, or under a table that is not a live L3 (-EINVAL)", () => {
    const { m, as } = live();
    for (const va of [HYPERVISOR_VIRT_START, 0xffff_f000]) {
      refused(m, -EINVAL, () => updateVaMapping(m.types, 1, as.l3, va, 0, 0));
    }
    refused(m, -EINVAL, () => updateVaMapping(m.types, 1, as.l3, 0x4000_0000, 0, 0));
    refused(m, -EINVAL, () => updateVaMapping(m.types, 1, as.l3, 0x20_0000, 0, 0));
    refused(m, -EINVAL, () => updateVaMapping(m.types, 1, as.l2, 0x1000, 0, 0));
    refused(m, -EINVAL, () => updateVaMapping(m.types, 2, as.l3, 0x1000, 0, 0));
  });
});
