// hypervisor/x86/desc.ts — the host's GDT, IDT and TSS for a PV vCPU.
//
// Under the core's PV mode (core/pv.ts) ring 0 and the system tables belong
// to the hypervisor: the core reads them at physical addresses the guest
// cannot map. Each vCPU has its own set, in 16 consecutive frames the
// hypervisor reserved for it:
//
// - frames 0-14: the GDT. Entries below FIRST_RESERVED_GDT_ENTRY (7168,
//   14 pages) are the guest's, copied in by set_gdt after validation;
//   from 7168 on are Xen's reserved entries, present in every GDT Xen
//   builds: the flat ring-1 and ring-3 segments the ABI names
//   (FLAT_RING1_CS = 0xE019 ... FLAT_RING3_DS = 0xE033, XEN-ABI.md 5.1),
//   then this vCPU's TSS.
// - frame 15: the IDT (256 gates, 2 KiB) and after it the TSS. The IDT
//   matters only for the vectors delivered without an exit (the fast
//   system-call trap); every other event exits to the hypervisor first.
//   The TSS gives the ring-1 stack for that delivery (SS1:ESP1, set by
//   stack_switch) and has no I/O bitmap: every port access from the
//   guest is refused by the CPU and decided by the hypervisor.

import { FLAT_RING1_CS, FLAT_RING1_DS, FLAT_RING3_CS, FLAT_RING3_DS } from "../abi/arch_x86_32.js";
import type { Segment } from "../platform/cpu.js";

export const PAGE_SIZE = 4096;
/** Frames per vCPU: 15 for the GDT, one for the IDT and the TSS. */
export const HOST_TABLE_FRAMES = 16;
/** Guest GDT entries end here (14 pages of 512); Xen's own start. */
export const FIRST_RESERVED_GDT_ENTRY = 7168;
/** This vCPU's TSS, after the four flat segments. */
export const TSS_SELECTOR = (FIRST_RESERVED_GDT_ENTRY + 8) << 3;
/** GDT entries in use: the guest's, then Xen's through the TSS. */
export const GDT_ENTRIES = FIRST_RESERVED_GDT_ENTRY + 9;
const IDT_OFFSET = 15 * PAGE_SIZE;
const TSS_OFFSET = IDT_OFFSET + 256 * 8;
export const TSS_LIMIT = 0x67;

/** Hidden-cache attributes (access byte, then the G/D nibble at bits 12-15) of the flat segments, accessed bit set. */
const FLAT_CODE = (dpl: number): number => 0xc000 | 0x9b | (dpl << 5);
const FLAT_DATA = (dpl: number): number => 0xc000 | 0x93 | (dpl << 5);

/** The flat segments as the core's segment registers hold them. */
export const FLAT_SEGMENTS: Readonly<Record<number, Segment>> = {
  [FLAT_RING1_CS]: { selector: FLAT_RING1_CS, base: 0, limit: 0xffffffff, attr: FLAT_CODE(1) },
  [FLAT_RING1_DS]: { selector: FLAT_RING1_DS, base: 0, limit: 0xffffffff, attr: FLAT_DATA(1) },
  [FLAT_RING3_CS]: { selector: FLAT_RING3_CS, base: 0, limit: 0xffffffff, attr: FLAT_CODE(3) },
  [FLAT_RING3_DS]: { selector: FLAT_RING3_DS, base: 0, limit: 0xffffffff, attr: FLAT_DATA(3) },
};

/** An 8-byte descriptor as two dwords: base, limit (bytes or, with G, pages), the attribute word as above. */
export function descriptor(base: number, limit: number, attr: number): [number, number] {
  const lo = ((base & 0xffff) << 16) | (limit & 0xffff);
  const hi = (base & 0xff000000) | ((attr & 0xf000) << 8) | (limit & 0xf0000) | ((attr & 0xff) << 8) | ((base >>> 16) & 0xff);
  return [lo >>> 0, hi >>> 0];
}

/** Where a vCPU's tables are, in machine memory. */
export class HostTables {
  constructor(readonly baseMfn: number) {}

  get gdtBase(): number {
    return this.baseMfn * PAGE_SIZE;
  }

  get idtBase(): number {
    return this.gdtBase + IDT_OFFSET;
  }

  get tssBase(): number {
    return this.gdtBase + TSS_OFFSET;
  }

  /** The address of GDT entry `index`. */
  entryAddress(index: number): number {
    return this.gdtBase + index * 8;
  }

  /** Fresh tables: an empty guest GDT, Xen's flat segments and the TSS, an IDT with no gate present. */
  build(write: (pa: number, bytes: Uint8Array) => void): void {
    const gdt = new Uint8Array(15 * PAGE_SIZE + PAGE_SIZE);
    const view = new DataView(gdt.buffer);
    const put = (at: number, [lo, hi]: [number, number]): void => {
      view.setUint32(at, lo, true);
      view.setUint32(at + 4, hi, true);
    };
    for (const seg of Object.values(FLAT_SEGMENTS)) put((seg.selector >> 3) * 8, descriptor(0, 0xfffff, seg.attr));
    put((TSS_SELECTOR >> 3) * 8, descriptor(this.tssBase, TSS_LIMIT, 0x8b));
    view.setUint16(TSS_OFFSET + 102, TSS_LIMIT + 1, true); // I/O map base past the limit: no bitmap
    write(this.gdtBase, gdt);
  }

  /** The ring-1 stack of a direct delivery from ring 3 (stack_switch). */
  setKernelStack(write32: (pa: number, v: number) => void, ss: number, esp: number): void {
    write32(this.tssBase + 0x0c, esp >>> 0);
    write32(this.tssBase + 0x10, ss & 0xffff);
  }

  /** A trap gate in the IDT for a vector delivered without an exit, or a not-present one. */
  setGate(write: (pa: number, bytes: Uint8Array) => void, vector: number, gate: { cs: number; eip: number; dpl: number } | null): void {
    const bytes = new Uint8Array(8);
    if (gate) {
      const view = new DataView(bytes.buffer);
      view.setUint16(0, gate.eip & 0xffff, true);
      view.setUint16(2, gate.cs, true);
      view.setUint16(4, (0x8f | (gate.dpl << 5)) << 8, true);
      view.setUint16(6, gate.eip >>> 16, true);
    }
    write(this.idtBase + vector * 8, bytes);
  }
}
