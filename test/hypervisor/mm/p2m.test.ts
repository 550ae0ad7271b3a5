// test/hypervisor/mm/p2m.test.ts — a domain's P2M and the M2P change together:
// M2P[P2M[pfn]] = pfn for every populated pfn, and a frame leaves the domain
// only when nothing maps it.

import { describe, expect, it } from "vitest";
import { EBUSY, EEXIST, EINVAL, ENOMEM } from "../../../hypervisor/abi/errno.js";
import { INVALID_M2P_ENTRY } from "../../../hypervisor/mm/m2p.js";
import { INVALID_MFN, P2M } from "../../../hypervisor/mm/p2m.js";
import { PGT_l1_page_table } from "../../../hypervisor/mm/pagetype.js";
import { pinTable } from "../../../hypervisor/mm/pin.js";
import { DATA_RO, machine } from "./fixture.js";

function domain(nrFrames = 48, maxPfns = 8) {
  const m = machine(nrFrames);
  const p2m = new P2M(1, m.frames, m.m2p, maxPfns);
  return { m, p2m };
}

describe("the P2M", () => {
  it("populates a pfn with a fresh frame of the domain, recorded both ways", () => {
    const { m, p2m } = domain();
    const mfn = p2m.populate(3);
    expect(mfn).toBeGreaterThan(0);
    expect(m.frames.ownerOf(mfn)).toBe(1);
    expect(p2m.get(3)).toBe(mfn);
    expect(m.m2p.get(mfn)).toBe(3);
    expect(p2m.nrPages).toBe(1);
    expect(p2m.get(2)).toBe(INVALID_MFN);
  });

  it("refuses a pfn out of range (-EINVAL) or already populated (-EEXIST)", () => {
    const { p2m } = domain();
    p2m.populate(0);
    expect(p2m.populate(0)).toBe(-EEXIST);
    expect(p2m.populate(8)).toBe(-EINVAL);
    expect(p2m.populate(-1)).toBe(-EINVAL);
    expect(p2m.nrPages).toBe(1);
  });

  it("runs out of frames with -ENOMEM and records nothing", () => {
    const { m, p2m } = domain(48, 64);
    const free = m.frames.available;
    for (let pfn = 0; pfn < free; pfn++) expect(p2m.populate(pfn)).toBeGreaterThan(0);
    expect(p2m.populate(free)).toBe(-ENOMEM);
    expect(p2m.get(free)).toBe(INVALID_MFN);
  });

  it("sets only frames the domain owns (-EINVAL), at pfns not taken (-EEXIST)", () => {
    const { m, p2m } = domain();
    const [mine, other] = m.alloc(1, 2) as [number, number];
    const [theirs] = m.alloc(2, 1) as [number];
    expect(p2m.set(1, theirs)).toBe(-EINVAL);
    expect(p2m.set(1, m.m2p.tableMfns[0]!)).toBe(-EINVAL);
    expect(p2m.set(1, mine)).toBe(0);
    expect(p2m.set(1, other)).toBe(-EEXIST);
    expect(m.m2p.get(theirs)).toBe(INVALID_M2P_ENTRY);
    expect(m.m2p.get(other)).toBe(INVALID_M2P_ENTRY);
  });

  it("releases a pfn's frame to the free pool and invalidates both entries", () => {
    const { m, p2m } = domain();
    const mfn = p2m.populate(4);
    const free = m.frames.available;
    expect(p2m.release(4)).toBe(0);
    expect([p2m.get(4), m.m2p.get(mfn), m.frames.available, p2m.nrPages]).toEqual([INVALID_MFN, INVALID_M2P_ENTRY, free + 1, 0]);
    expect(p2m.release(4)).toBe(-EINVAL);
  });

  it("refuses to release a frame that is still mapped or typed (-EBUSY), keeping the pfn", () => {
    const { m, p2m } = domain();
    const page = p2m.populate(0);
    const l1 = p2m.populate(1);
    m.setEntry(l1, 0, page, DATA_RO);
    expect(pinTable(m.types, 1, l1, PGT_l1_page_table)).toBe(0);
    expect(p2m.release(0)).toBe(-EBUSY);
    expect(p2m.release(1)).toBe(-EBUSY);
    expect([p2m.get(0), m.m2p.get(page), m.frames.ownerOf(page)]).toEqual([page, 0, 1]);
  });

  it("writes the guest's P2M list, u32 per pfn, into the frames chosen for it", () => {
    const { m, p2m } = domain(48, 1500);
    const a = p2m.populate(0);
    const b = p2m.populate(1200);
    const list = [p2m.populate(1), p2m.populate(2)];
    p2m.writeList(list);
    const at = (pfn: number) => m.view.getUint32(list[pfn >> 10]! * 4096 + (pfn & 1023) * 4, true);
    expect([at(0), at(1), at(3), at(1200), at(1499)]).toEqual([a, list[0], INVALID_MFN, b, INVALID_MFN]);
  });

  it("refuses to write the list into too few frames, a page table, or another domain's frame", () => {
    const { m, p2m } = domain(48, 1500);
    const page = p2m.populate(0);
    expect(() => p2m.writeList([page])).toThrow(RangeError);
    const l1 = p2m.populate(1);
    pinTable(m.types, 1, l1, PGT_l1_page_table);
    expect(() => p2m.writeList([page, l1])).toThrow(/not an ordinary page/);
    const [theirs] = m.alloc(2, 1) as [number];
    expect(() => p2m.writeList([page, theirs])).toThrow(/not an ordinary page/);
  });
});
