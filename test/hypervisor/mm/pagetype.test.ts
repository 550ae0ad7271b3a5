// test/hypervisor/mm/pagetype.test.ts — validating page tables: a table becomes
// live only if every entry maps what its owner may map in the way it may map
// it, and a refused table leaves every count and every byte as it was.

import { describe, expect, it } from "vitest";
import { EBUSY, EINVAL, EPERM } from "../../../hypervisor/abi/errno.js";
import { MACH2PHYS_VIRT_START } from "../../../hypervisor/abi/arch_x86_32.js";
import {
  PGT_l1_page_table,
  PGT_l2_page_table,
  PGT_l3_page_table,
  PGT_none,
  PGT_pae_xen_l2,
  PGT_writable_page,
} from "../../../hypervisor/mm/pagetype.js";
import { pinTable, unpinTable } from "../../../hypervisor/mm/pin.js";
import {
  COMPAT_L2_PAGETABLE_FIRST_XEN_SLOT,
  _PAGE_AVAIL,
  _PAGE_GLOBAL,
  _PAGE_NX,
  _PAGE_PAT,
  _PAGE_PCD,
  _PAGE_PRESENT,
  _PAGE_PSE,
  _PAGE_PWT,
  _PAGE_RW,
  _PAGE_USER,
  pteFlags,
  pteMfn,
} from "../../../hypervisor/mm/pte.js";
import { DATA_RO, DATA_RW, TABLE, addressSpace, audit, changes, machine } from "./fixture.js";

/** Runs `attempt`, which must fail with `rc`, and checks that nothing at all changed. */
function refused(m: ReturnType<typeof machine>, rc: number, attempt: () => number): void {
  const before = m.snapshot();
  expect(attempt()).toBe(rc);
  expect(changes(before, m.snapshot())).toEqual([]);
}

describe("a whole address space", () => {
  it("validates every table when the L3 is pinned: one type reference each, a reference per mapping", () => {
    const m = machine();
    const as = addressSpace(m, 1);
    expect(pinTable(m.types, 1, as.l3, PGT_l3_page_table)).toBe(0);
    const t = m.types;
    expect([t.typeOf(as.l3), t.typeOf(as.l2), t.typeOf(as.l2x), t.typeOf(as.l1), t.typeOf(as.data)])
      .toEqual([PGT_l3_page_table, PGT_l2_page_table, PGT_l2_page_table | PGT_pae_xen_l2, PGT_l1_page_table, PGT_writable_page]);
    expect([as.l3, as.l2, as.l2x, as.l1, as.data, as.ro].map((f) => t.typeCountOf(f))).toEqual([1, 1, 1, 1, 1, 0]);
    expect(m.frames.count[as.l3]).toBe(2);
    expect(m.frames.count[as.ro]).toBe(1);
    expect(audit(m)).toEqual([]);
  });

  it("gives the special L2 the read-only M2P window from slot 428, over whatever the guest left there", () => {
    const m = machine();
    const as = addressSpace(m, 1);
    m.setEntry(as.l2x, 500, as.spare, DATA_RW);
    expect(pinTable(m.types, 1, as.l3, PGT_l3_page_table)).toBe(0);
    const [lo, hi] = m.entry(as.l2x, COMPAT_L2_PAGETABLE_FIRST_XEN_SLOT);
    expect(pteMfn(lo, hi)).toBe(m.m2p.l1Mfns[0]);
    expect(pteFlags(lo, hi) & (_PAGE_PRESENT | _PAGE_RW | _PAGE_USER)).toBe(_PAGE_PRESENT | _PAGE_USER);
    expect(m.entry(as.l2x, 500)).toEqual([0, 0]);
    expect(m.frames.count[as.spare]).toBe(0);
    expect((MACH2PHYS_VIRT_START - 0xc0000000) >>> 21).toBe(COMPAT_L2_PAGETABLE_FIRST_XEN_SLOT);
  });

  it("forces RW and US on in present L3 entries and clears entries 4-511", () => {
    const m = machine();
    const as = addressSpace(m, 1);
    m.setEntry(as.l3, 0, as.l2, _PAGE_PRESENT);
    m.setEntry(as.l3, 7, as.spare, 0);
    m.view.setUint32(as.l3 * 4096 + 511 * 8 + 4, 0xdead, true);
    expect(pinTable(m.types, 1, as.l3, PGT_l3_page_table)).toBe(0);
    expect(pteFlags(...m.entry(as.l3, 0))).toBe(_PAGE_PRESENT | _PAGE_RW | _PAGE_USER);
    expect(m.entry(as.l3, 7)).toEqual([0, 0]);
    expect(m.entry(as.l3, 511)).toEqual([0, 0]);
  });

  it("drops every reference of the tree when the last reference to its L3 goes", () => {
    const m = machine();
    const as = addressSpace(m, 1);
    pinTable(m.types, 1, as.l3, PGT_l3_page_table);
    expect(unpinTable(m.types, 1, as.l3)).toBe(0);
    for (const f of [as.l3, as.l2, as.l2x, as.l1, as.data, as.ro]) {
      expect([m.frames.count[f], m.types.typeCountOf(f), m.types.isValidated(f) && m.types.typeOf(f) !== PGT_writable_page])
        .toEqual([0, 0, false]);
    }
    expect(m.types.typeOf(as.l2x)).toBe(PGT_l2_page_table);
    expect(audit(m)).toEqual([]);
  });

  it("lets a table's frames be written again once nothing holds the table", () => {
    const m = machine();
    const as = addressSpace(m, 1);
    pinTable(m.types, 1, as.l1, PGT_l1_page_table);
    expect(m.types.getPageAndType(as.l1, 1, PGT_writable_page)).toBe(-EINVAL);
    unpinTable(m.types, 1, as.l1);
    expect(m.types.getPageAndType(as.l1, 1, PGT_writable_page)).toBe(0);
  });
});

describe("what an L1 may map", () => {
  it("refuses an L1 that maps a page table writable (-EBUSY)", () => {
    const m = machine();
    const as = addressSpace(m, 1);
    pinTable(m.types, 1, as.l2, PGT_l2_page_table);
    const l1 = m.alloc(1, 1)[0]!;
    m.setEntry(l1, 0, as.l2, DATA_RW);
    refused(m, -EBUSY, () => pinTable(m.types, 1, l1, PGT_l1_page_table));
  });

  it("refuses an L1 that maps itself writable (-EBUSY)", () => {
    const m = machine();
    const [l1] = m.alloc(1, 1) as [number];
    m.setEntry(l1, 5, l1, DATA_RW);
    refused(m, -EBUSY, () => pinTable(m.types, 1, l1, PGT_l1_page_table));
  });

  it("allows an L1 to map page tables, itself included, read-only", () => {
    const m = machine();
    const [l1] = m.alloc(1, 1) as [number];
    m.setEntry(l1, 5, l1, DATA_RO);
    expect(pinTable(m.types, 1, l1, PGT_l1_page_table)).toBe(0);
    expect(m.frames.count[l1]).toBe(2);
  });

  it("refuses a frame of another domain, of the hypervisor, or a free one (-EBUSY)", () => {
    const m = machine();
    const [l1] = m.alloc(1, 1) as [number];
    const [theirs] = m.alloc(2, 1) as [number];
    const free = m.frames.nrFrames - 1;
    for (const target of [theirs, m.m2p.tableMfns[0]!, 0, free]) {
      m.setEntry(l1, 9, target, DATA_RO);
      refused(m, -EBUSY, () => pinTable(m.types, 1, l1, PGT_l1_page_table));
    }
  });

  it("refuses a frame past RAM, which would be MMIO space a domU has no right to (-EPERM)", () => {
    const m = machine();
    const [l1] = m.alloc(1, 1) as [number];
    m.setEntry(l1, 0, 0xfee00, DATA_RW);
    refused(m, -EPERM, () => pinTable(m.types, 1, l1, PGT_l1_page_table));
    m.setEntry(l1, 0, 0x1_00000, DATA_RO);
    refused(m, -EPERM, () => pinTable(m.types, 1, l1, PGT_l1_page_table));
  });

  it("refuses cache attributes (PWT, PCD, PAT), which only a domain with I/O memory may choose (-EINVAL)", () => {
    const m = machine();
    const [l1, page] = m.alloc(1, 2) as [number, number];
    for (const bit of [_PAGE_PWT, _PAGE_PCD, _PAGE_PAT]) {
      m.setEntry(l1, 0, page, DATA_RW | bit);
      refused(m, -EINVAL, () => pinTable(m.types, 1, l1, PGT_l1_page_table));
    }
  });

  it("accepts G, NX and the software bits in an L1 entry", () => {
    const m = machine();
    const [l1, page] = m.alloc(1, 2) as [number, number];
    m.setEntry(l1, 0, page, DATA_RW | _PAGE_GLOBAL | _PAGE_NX | _PAGE_AVAIL);
    expect(pinTable(m.types, 1, l1, PGT_l1_page_table)).toBe(0);
  });

  it("undoes the references of the entries before a refused one", () => {
    const m = machine();
    const [l1, a, b] = m.alloc(1, 3) as [number, number, number];
    const [theirs] = m.alloc(2, 1) as [number];
    m.setEntry(l1, 0, a, DATA_RW);
    m.setEntry(l1, 1, b, DATA_RO);
    m.setEntry(l1, 2, theirs, DATA_RO);
    refused(m, -EBUSY, () => pinTable(m.types, 1, l1, PGT_l1_page_table));
    expect([m.frames.count[a], m.types.typeCountOf(a), m.types.typeOf(l1)]).toEqual([0, 0, PGT_none]);
  });
});

describe("what an L2 may point at", () => {
  it("refuses a superpage (PS) and PWT, PCD or G in an L2 entry (-EINVAL)", () => {
    const m = machine();
    const [l2, l1] = m.alloc(1, 2) as [number, number];
    for (const bit of [_PAGE_PSE, _PAGE_PWT, _PAGE_PCD, _PAGE_GLOBAL]) {
      m.setEntry(l2, 3, l1, TABLE | bit);
      refused(m, -EINVAL, () => pinTable(m.types, 1, l2, PGT_l2_page_table));
    }
  });

  it("refuses an L2 entry that reaches an L2: an L2 used as an L1 (-EINVAL)", () => {
    const m = machine();
    const as = addressSpace(m, 1);
    pinTable(m.types, 1, as.l2, PGT_l2_page_table);
    const [other] = m.alloc(1, 1) as [number];
    m.setEntry(other, 0, as.l2, TABLE);
    refused(m, -EINVAL, () => pinTable(m.types, 1, other, PGT_l2_page_table));
  });

  it("refuses an L2 entry that reaches itself (-EINVAL)", () => {
    const m = machine();
    const [l2] = m.alloc(1, 1) as [number];
    m.setEntry(l2, 0, l2, DATA_RO);
    refused(m, -EINVAL, () => pinTable(m.types, 1, l2, PGT_l2_page_table));
  });

  it("refuses an L2 entry that reaches a frame mapped writable (-EINVAL)", () => {
    const m = machine();
    const as = addressSpace(m, 1);
    pinTable(m.types, 1, as.l1, PGT_l1_page_table);
    const [l2] = m.alloc(1, 1) as [number];
    m.setEntry(l2, 0, as.data, TABLE);
    refused(m, -EINVAL, () => pinTable(m.types, 1, l2, PGT_l2_page_table));
  });

  it("refuses an L2 entry that reaches another domain's L1 (-EINVAL)", () => {
    const m = machine();
    const [theirL1] = m.alloc(2, 1) as [number];
    pinTable(m.types, 2, theirL1, PGT_l1_page_table);
    const [l2] = m.alloc(1, 1) as [number];
    m.setEntry(l2, 0, theirL1, TABLE);
    refused(m, -EINVAL, () => pinTable(m.types, 1, l2, PGT_l2_page_table));
  });

  it("lets several L2 entries share one L1", () => {
    const m = machine();
    const [l2, l1] = m.alloc(1, 2) as [number, number];
    m.setEntry(l2, 0, l1, TABLE);
    m.setEntry(l2, 1, l1, TABLE);
    expect(pinTable(m.types, 1, l2, PGT_l2_page_table)).toBe(0);
    expect(m.types.typeCountOf(l1)).toBe(2);
  });
});

describe("what an L3 may point at", () => {
  it("refuses an L3 whose slot 3 is empty: the hypervisor's entries must have an L2 to live in (-EINVAL)", () => {
    const m = machine();
    const as = addressSpace(m, 1);
    m.setEntry(as.l3, 3, 0, 0);
    refused(m, -EINVAL, () => pinTable(m.types, 1, as.l3, PGT_l3_page_table));
  });

  it("refuses PWT, PCD, PS, G and NX in an L3 entry (-EINVAL)", () => {
    for (const bit of [_PAGE_PWT, _PAGE_PCD, _PAGE_PSE, _PAGE_GLOBAL, _PAGE_NX]) {
      for (const slot of [0, 3]) {
        const m = machine();
        const as = addressSpace(m, 1);
        m.setEntry(as.l3, slot, slot === 0 ? as.l2 : as.l2x, TABLE | bit);
        refused(m, -EINVAL, () => pinTable(m.types, 1, as.l3, PGT_l3_page_table));
      }
    }
  });

  it("refuses an L1 used as an L2 (-EINVAL)", () => {
    const m = machine();
    const as = addressSpace(m, 1);
    pinTable(m.types, 1, as.l1, PGT_l1_page_table);
    m.setEntry(as.l3, 1, as.l1, TABLE);
    refused(m, -EINVAL, () => pinTable(m.types, 1, as.l3, PGT_l3_page_table));
  });

  it("refuses to share the special L2 between two L3s (-EINVAL)", () => {
    const m = machine();
    const as = addressSpace(m, 1);
    pinTable(m.types, 1, as.l3, PGT_l3_page_table);
    const [second] = m.alloc(1, 1) as [number];
    m.setEntry(second, 3, as.l2x, TABLE);
    refused(m, -EINVAL, () => pinTable(m.types, 1, second, PGT_l3_page_table));
  });

  it("refuses the special L2 in a low slot, and an ordinary L2 in slot 3 while it is in use (-EINVAL)", () => {
    const m = machine();
    const as = addressSpace(m, 1);
    pinTable(m.types, 1, as.l3, PGT_l3_page_table);
    const [second, fresh] = m.alloc(1, 2) as [number, number];
    m.setEntry(second, 0, as.l2x, TABLE);
    m.setEntry(second, 3, fresh, TABLE);
    refused(m, -EINVAL, () => pinTable(m.types, 1, second, PGT_l3_page_table));
    m.setEntry(second, 0, 0, 0);
    m.setEntry(second, 3, as.l2, TABLE);
    refused(m, -EINVAL, () => pinTable(m.types, 1, second, PGT_l3_page_table));
    m.setEntry(second, 3, fresh, TABLE);
    expect(pinTable(m.types, 1, second, PGT_l3_page_table)).toBe(0);
  });
});

describe("changing type", () => {
  it("refuses to make a frame that is mapped writable a page table (-EINVAL)", () => {
    const m = machine();
    const as = addressSpace(m, 1);
    pinTable(m.types, 1, as.l1, PGT_l1_page_table);
    refused(m, -EINVAL, () => pinTable(m.types, 1, as.data, PGT_l1_page_table));
  });

  it("refuses to use an L1 in use as an L2 (-EINVAL)", () => {
    const m = machine();
    const as = addressSpace(m, 1);
    pinTable(m.types, 1, as.l1, PGT_l1_page_table);
    refused(m, -EINVAL, () => pinTable(m.types, 1, as.l1, PGT_l2_page_table));
  });

  it("flushes TLBs before a page last mapped writable becomes a page table, and only then", () => {
    const m = machine();
    const as = addressSpace(m, 1);
    pinTable(m.types, 1, as.l1, PGT_l1_page_table);
    unpinTable(m.types, 1, as.l1);
    expect(m.flushes()).toBe(0);
    expect(pinTable(m.types, 1, as.data, PGT_l1_page_table)).toBe(0);
    expect(m.flushes()).toBe(1);
    expect(pinTable(m.types, 1, as.ro, PGT_l1_page_table)).toBe(0);
    expect(m.flushes()).toBe(1);
  });

  it("keeps no type on a frame that failed validation", () => {
    const m = machine();
    const [l1] = m.alloc(1, 1) as [number];
    m.setEntry(l1, 0, l1, DATA_RW);
    pinTable(m.types, 1, l1, PGT_l1_page_table);
    expect([m.types.typeOf(l1), m.types.typeCountOf(l1), m.types.isValidated(l1)]).toEqual([PGT_none, 0, false]);
    expect(m.types.getPageAndType(l1, 1, PGT_writable_page)).toBe(0);
  });

  it("treats a type count underflow as the hypervisor bug it is", () => {
    const m = machine();
    const [page] = m.alloc(1, 1) as [number];
    expect(() => m.types.putPageType(page)).toThrow(/underflow/);
  });
});
