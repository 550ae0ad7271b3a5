// test/hypervisor/descriptor.test.ts — which segment descriptors a PV guest may have, and the descriptor-page type.
//
// checkDescriptor is Xen's check_descriptor (XEN-ABI.md 5.1): each case
// below is one descriptor as a guest would write it, in its two dwords,
// and what the hypervisor stores (or null: refused). The second half runs
// the same rules through the page types of hypervisor/mm on a small test
// machine: a frame becomes a descriptor page (PGT_seg_desc_page) only
// whole, only when nothing maps it writable, and then cannot be mapped
// writable.

import { describe, expect, it } from "vitest";
import { EBUSY, EINVAL } from "../../hypervisor/abi/errno.js";
import { PGT_seg_desc_page, PGT_writable_page } from "../../hypervisor/mm/pagetype.js";
import { pteHi, pteLo } from "../../hypervisor/mm/pte.js";
import { checkDescriptor } from "../../hypervisor/x86/descriptor.js";
import { DATA_RO, DATA_RW, audit, changes, machine } from "./mm/fixture.js";

const DOMID = 1;

describe("checkDescriptor", () => {
  it("accepts any not-present descriptor as it is", () => {
    expect(checkDescriptor(0x12345678, 0x00af1a00)).toEqual([0x12345678, 0x00af1a00]);
  });

  it("raises a code or data segment's DPL 0 to the guest kernel's ring 1 and leaves 1 to 3 alone", () => {
    expect(checkDescriptor(0x00001000, 0x00409200)).toEqual([0x00001000, 0x0040b200]); // data, DPL 0, base 0, 4 KiB
    expect(checkDescriptor(0x00001000, 0x0040da00)).toEqual([0x00001000, 0x0040da00]); // code, DPL 2
    expect(checkDescriptor(0x00001000, 0x0040fa00)).toEqual([0x00001000, 0x0040fa00]); // code, DPL 3
  });

  it("widens a segment based at 0 whose limit reaches past the hypervisor hole to 4 GiB, and no other", () => {
    expect(checkDescriptor(0x000067ff, 0x00cf9a00)).toEqual([0x0000ffff, 0x00cfba00]); // ends at 0xF6800000
    expect(checkDescriptor(0x000057ff, 0x00cf9a00)).toEqual([0x000057ff, 0x00cfba00]); // ends at 0xF5800000: inside
    expect(checkDescriptor(0x000067ff, 0x01cf9a00)).toEqual([0x000067ff, 0x01cfba00]); // based at 16 MiB
  });

  it("refuses a 64-bit code segment", () => {
    expect(checkDescriptor(0x0000ffff, 0x00af9a00)).toBeNull();
  });

  it("keeps a present type-0 system descriptor unchanged (the second half of a call gate)", () => {
    expect(checkDescriptor(0x00000000, 0x00008000)).toEqual([0x00000000, 0x00008000]);
  });

  it("forces a call gate's DPL to 0 and keeps its DPL in the target selector's RPL", () => {
    expect(checkDescriptor(0xe0195678, 0x1234ec02)).toEqual([0xe01b5678, 0x12348c02]); // DPL 3, two parameters
    expect(checkDescriptor(0x00085678, 0x00008c00)).toEqual([0x00095678, 0x00008c00]); // DPL 0 counts as 1
    expect(checkDescriptor(0x000c0000, 0x0000ac00)).toEqual([0x000d0000, 0x00008c00]); // an LDT target
  });

  it("refuses a call gate into Xen's reserved selectors other than FLAT_RING1_CS, or with reserved bits", () => {
    expect(checkDescriptor(0xe02b0000, 0x0000ec00)).toBeNull(); // FLAT_RING3_CS
    expect(checkDescriptor(0xe0400000, 0x0000ac00)).toBeNull(); // the TSS
    expect(checkDescriptor(0xe01b0000, 0x0000ac00)).toBeNull(); // FLAT_RING1_CS with RPL 3: not exactly it
    expect(checkDescriptor(0xe0190000, 0x0000ace0)).toBeNull(); // bits 5-7
  });

  it("refuses every other system descriptor: TSS, LDT, task, interrupt and trap gates, 16-bit gates", () => {
    for (const type of [0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7, 0x9, 0xb, 0xe, 0xf]) {
      expect(checkDescriptor(0x00080000, 0x00008000 | (type << 8))).toBeNull();
    }
  });
});

describe("PGT_seg_desc_page", () => {
  /** A frame of the domain holding `descriptors` from entry 0, as a guest fills a page before set_gdt. */
  function frameWith(m: ReturnType<typeof machine>, descriptors: [number, number][]): number {
    const [mfn] = m.alloc(DOMID, 1);
    descriptors.forEach(([lo, hi], i) => m.mem.write64(mfn! * 4096 + 8 * i, lo, hi));
    return mfn!;
  }

  it("validates a whole frame when it takes the type, storing the fixed-up descriptors", () => {
    const m = machine();
    const mfn = frameWith(m, [[0, 0], [0x0000ffff, 0x00cf9200], [0xe0191000, 0x0000ec00]]);
    expect(m.types.getPageAndType(mfn, DOMID, PGT_seg_desc_page)).toBe(0);
    expect([m.mem.read32(mfn * 4096 + 12), m.mem.read32(mfn * 4096 + 16), m.mem.read32(mfn * 4096 + 20)]).toEqual([
      0x00cfb200, 0xe01b1000, 0x00008c00,
    ]);
  });

  it("refuses a frame with one bad descriptor anywhere in it and changes nothing", () => {
    const m = machine();
    const mfn = frameWith(m, [[0x0000ffff, 0x00cf9200]]);
    m.mem.write64(mfn * 4096 + 8 * 511, 0x00000067, 0x00008900); // a TSS in the last entry
    const before = m.snapshot();
    expect(m.types.getPageAndType(mfn, DOMID, PGT_seg_desc_page)).toBe(-EINVAL);
    expect(changes(before, m.snapshot())).toEqual([]);
  });

  it("cannot be taken by a frame mapped writable, and a descriptor page cannot be mapped writable", () => {
    const m = machine();
    const data = frameWith(m, []);
    expect(m.types.getPageFromL1e(pteLo(data, DATA_RW), pteHi(data, DATA_RW), DOMID)).toBe(0);
    expect(m.types.getPageAndType(data, DOMID, PGT_seg_desc_page)).toBe(-EINVAL);
    const gdt = frameWith(m, []);
    expect(m.types.getPageAndType(gdt, DOMID, PGT_seg_desc_page)).toBe(0);
    expect(m.types.getPageFromL1e(pteLo(gdt, DATA_RW), pteHi(gdt, DATA_RW), DOMID)).toBe(-EBUSY);
    expect(m.types.getPageFromL1e(pteLo(gdt, DATA_RO), pteHi(gdt, DATA_RO), DOMID)).toBe(0);
    m.types.putPageFromL1e(pteLo(gdt, DATA_RO), pteHi(gdt, DATA_RO));
    m.types.putPageAndType(gdt);
    expect(m.types.getPageFromL1e(pteLo(gdt, DATA_RW), pteHi(gdt, DATA_RW), DOMID)).toBe(0);
    expect(m.types.typeOf(gdt)).toBe(PGT_writable_page);
    m.types.putPageFromL1e(pteLo(gdt, DATA_RW), pteHi(gdt, DATA_RW));
    m.types.putPageFromL1e(pteLo(data, DATA_RW), pteHi(data, DATA_RW));
    expect(audit(m)).toEqual([]);
  });
});
