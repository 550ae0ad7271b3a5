// test/hypervisor/mm/pin.test.ts — pinning and base pointers: one pin per table,
// unpinning drops exactly that reference, and a CR3 holds its L3 like a pin.

import { describe, expect, it } from "vitest";
import { EBUSY, EINVAL } from "../../../hypervisor/abi/errno.js";
import {
  PGT_l1_page_table,
  PGT_l2_page_table,
  PGT_l3_page_table,
  PGT_writable_page,
} from "../../../hypervisor/mm/pagetype.js";
import { newGuestCr3, pinTable, unpinTable } from "../../../hypervisor/mm/pin.js";
import { DATA_RW, addressSpace, audit, changes, machine } from "./fixture.js";

function refused(m: ReturnType<typeof machine>, rc: number, attempt: () => number): void {
  const before = m.snapshot();
  expect(attempt()).toBe(rc);
  expect(changes(before, m.snapshot())).toEqual([]);
}

describe("pinning", () => {
  it("pins each level once: a second pin is -EINVAL and changes nothing", () => {
    const m = machine();
    const as = addressSpace(m, 1);
    for (const [mfn, type] of [[as.l1, PGT_l1_page_table], [as.l2, PGT_l2_page_table], [as.l3, PGT_l3_page_table]] as const) {
      expect(pinTable(m.types, 1, mfn, type)).toBe(0);
      expect(m.types.isPinned(mfn)).toBe(true);
      refused(m, -EINVAL, () => pinTable(m.types, 1, mfn, type));
    }
    expect(audit(m)).toEqual([]);
  });

  it("refuses to pin a type that is not a 32-bit guest's table (-EINVAL)", () => {
    const m = machine();
    const [page] = m.alloc(1, 1) as [number];
    refused(m, -EINVAL, () => pinTable(m.types, 1, page, PGT_writable_page));
    refused(m, -EINVAL, () => pinTable(m.types, 1, page, 4));
  });

  it("refuses to pin another domain's frame, the hypervisor's, or one past RAM (-EINVAL)", () => {
    const m = machine();
    const [theirs] = m.alloc(2, 1) as [number];
    refused(m, -EINVAL, () => pinTable(m.types, 1, theirs, PGT_l1_page_table));
    refused(m, -EINVAL, () => pinTable(m.types, 1, m.m2p.l1Mfns[0]!, PGT_l1_page_table));
    refused(m, -EINVAL, () => pinTable(m.types, 1, 1 << 20, PGT_l1_page_table));
  });

  it("refuses to pin the special L2 as an ordinary L2 while its L3 holds it (-EINVAL)", () => {
    const m = machine();
    const as = addressSpace(m, 1);
    pinTable(m.types, 1, as.l3, PGT_l3_page_table);
    refused(m, -EINVAL, () => pinTable(m.types, 1, as.l2x, PGT_l2_page_table));
  });

  it("makes a pinned table impossible to free (-EBUSY)", () => {
    const m = machine();
    const as = addressSpace(m, 1);
    pinTable(m.types, 1, as.l1, PGT_l1_page_table);
    refused(m, -EBUSY, () => m.frames.free(1, as.l1));
    refused(m, -EBUSY, () => m.frames.free(1, as.data));
  });
});

describe("unpinning", () => {
  it("refuses to unpin a table that is not pinned, or not the domain's (-EINVAL)", () => {
    const m = machine();
    const as = addressSpace(m, 1);
    pinTable(m.types, 1, as.l3, PGT_l3_page_table);
    refused(m, -EINVAL, () => unpinTable(m.types, 1, as.l1));
    refused(m, -EINVAL, () => unpinTable(m.types, 2, as.l3));
    refused(m, -EINVAL, () => unpinTable(m.types, 1, as.spare));
    refused(m, -EINVAL, () => unpinTable(m.types, 1, 1 << 20));
  });

  it("unpins a table still in use as Xen does (0), and it stays a validated table nobody may write", () => {
    const m = machine();
    const as = addressSpace(m, 1);
    pinTable(m.types, 1, as.l1, PGT_l1_page_table);
    pinTable(m.types, 1, as.l3, PGT_l3_page_table);
    expect(m.types.typeCountOf(as.l1)).toBe(2);
    expect(unpinTable(m.types, 1, as.l1)).toBe(0);
    expect([m.types.typeCountOf(as.l1), m.types.isValidated(as.l1), m.types.isPinned(as.l1)]).toEqual([1, true, false]);
    expect(m.types.getPageAndType(as.l1, 1, PGT_writable_page)).toBe(-EINVAL);
    expect(m.types.typeCountOf(as.data)).toBe(1);
    refused(m, -EINVAL, () => unpinTable(m.types, 1, as.l1));
    expect(audit(m)).toEqual([]);
  });
});

describe("base pointers", () => {
  it("takes an L3 reference on the new base pointer before dropping the old one's", () => {
    const m = machine();
    const a = addressSpace(m, 1);
    const b = addressSpace(m, 1);
    expect(newGuestCr3(m.types, 1, a.l3, null)).toBe(0);
    expect(audit(m, [a.l3])).toEqual([]);
    expect(newGuestCr3(m.types, 1, b.l3, a.l3)).toBe(0);
    expect([m.types.typeCountOf(a.l3), m.types.typeCountOf(b.l3)]).toEqual([0, 1]);
    expect(m.types.typeCountOf(a.data)).toBe(0);
    expect(audit(m, [b.l3])).toEqual([]);
    expect(newGuestCr3(m.types, 1, b.l3, b.l3)).toBe(0);
    expect(m.types.typeCountOf(b.l3)).toBe(1);
  });

  it("keeps the old base pointer when the new one is not a valid L3 of the domain", () => {
    const m = machine();
    const a = addressSpace(m, 1);
    newGuestCr3(m.types, 1, a.l3, null);
    const [bad] = m.alloc(1, 1) as [number];
    m.setEntry(bad, 3, a.data, DATA_RW);
    refused(m, -EINVAL, () => newGuestCr3(m.types, 1, bad, a.l3));
    refused(m, -EINVAL, () => newGuestCr3(m.types, 1, a.l1, a.l3));
    const [theirs] = m.alloc(2, 1) as [number];
    refused(m, -EINVAL, () => newGuestCr3(m.types, 1, theirs, a.l3));
    expect(audit(m, [a.l3])).toEqual([]);
  });
});
