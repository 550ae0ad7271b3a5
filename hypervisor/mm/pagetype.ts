// hypervisor/mm/pagetype.ts — page types: why a PV guest can never write its own page tables.
//
// Every frame a domain owns is used in at most one way at a time: as an L1,
// L2 or L3 page table, as a writable page, as a page of segment descriptors
// (a GDT or LDT frame), or not at all (XEN-ABI.md 1.4, 5.1).
// The type count says how many uses hold the current type: for a page table,
// how many table entries, pins and CR3s point at it; for a writable page, how
// many L1 entries map it with RW. A frame changes type only when its count
// is zero. So a frame mapped writable anywhere cannot become a page table,
// and a page table cannot be mapped writable, which is the whole of the
// safety argument for direct paging: the core walks tables whose entries
// were all checked here, and nobody can change them behind our back.
//
// A page table is validated when its count leaves zero: each present entry
// must reach a frame the table's owner owns and take a reference on it (a
// typed one for the next level down, a writable one for an RW L1 entry).
// When the count returns to zero it is devalidated: all those references
// are dropped again. The L2 under L3 slot 3 is special (PGT_pae_xen_l2):
// from slot 428 up it holds the hypervisor's entries (the read-only M2P
// window), which the guest can neither supply nor change, and it may hang
// under one L3 only (XEN-ABI.md 1.3). Errors are Xen's (arch/x86/mm.c,
// facts only): -EINVAL for bad flags, frames not owned and type conflicts
// in tables; -EBUSY for an L1 entry reaching a frame it may not map that
// way; -EPERM for an L1 entry past RAM (MMIO, which a domU has no right
// to). A failed validation leaves every count and every byte as it was.

import { EBUSY, EINVAL, EPERM } from "../abi/errno.js";
import { validateSegDescFrame } from "../x86/descriptor.js";
import type { FrameTable } from "./frames.js";
import type { MachineMemory } from "./memory.js";
import {
  COMPAT_L2_PAGETABLE_FIRST_XEN_SLOT,
  COMPAT_L2_PAGETABLE_XEN_SLOTS,
  L1_DISALLOW_MASK,
  L1_PAGETABLE_ENTRIES,
  L2_DISALLOW_MASK,
  L2_PAGETABLE_ENTRIES,
  L3_DISALLOW_MASK_PV32,
  L3_FORCED_FLAGS_PV32,
  L3_GUEST_ENTRIES,
  L3_PAGETABLE_ENTRIES,
  L3_XEN_SLOT,
  PAGE_SIZE,
  _PAGE_PRESENT,
  _PAGE_RW,
  pteFlags,
  pteMfn,
} from "./pte.js";

export const PGT_none = 0;
export const PGT_l1_page_table = 1;
export const PGT_l2_page_table = 2;
export const PGT_l3_page_table = 3;
/**
 * A frame of segment descriptors in use as (part of) a GDT or LDT (Xen's
 * PGT_seg_desc_page): validated whole by hypervisor/x86/descriptor.ts when
 * it takes the type, so never writable while a descriptor table holds it.
 */
export const PGT_seg_desc_page = 5;
export const PGT_writable_page = 7;
export const PGT_type_mask = 7;
/** With PGT_l2_page_table: the L2 under L3 slot 3, carrying the hypervisor's entries. */
export const PGT_pae_xen_l2 = 8;

/** typeFlags: the frame's entries were checked and hold their references. */
export const PGT_validated = 1;
/** typeFlags: a pin holds one type reference (MMUEXT_PIN_*). */
export const PGT_pinned = 2;

const PAGE_TABLE_TYPES = new Set([PGT_l1_page_table, PGT_l2_page_table, PGT_l3_page_table]);

export class PageTypes {
  readonly frames: FrameTable;
  private readonly mem: MachineMemory;
  private readonly xenL2Slots: Uint32Array;

  /**
   * `xenL2Slots` holds the hypervisor's entries for slots 428-511 of every
   * PGT_pae_xen_l2 table, as (lo, hi) pairs (m2p.ts makes them).
   */
  constructor(frames: FrameTable, xenL2Slots: Uint32Array) {
    if (xenL2Slots.length !== 2 * COMPAT_L2_PAGETABLE_XEN_SLOTS) {
      throw new RangeError(`the hypervisor's L2 slots are ${COMPAT_L2_PAGETABLE_XEN_SLOTS} entries, not ${xenL2Slots.length / 2}`);
    }
    this.frames = frames;
    this.mem = frames.mem;
    this.xenL2Slots = xenL2Slots;
  }

  typeOf(mfn: number): number {
    return this.frames.type[mfn]!;
  }

  typeCountOf(mfn: number): number {
    return this.frames.typeCount[mfn]!;
  }

  isValidated(mfn: number): boolean {
    return (this.frames.typeFlags[mfn]! & PGT_validated) !== 0;
  }

  isPinned(mfn: number): boolean {
    return (this.frames.typeFlags[mfn]! & PGT_pinned) !== 0;
  }

  /** True when `mfn` is an L1, L2 or L3 in use: its entries are live and hold references. */
  isLivePageTable(mfn: number): boolean {
    const f = this.frames;
    return f.typeCount[mfn]! > 0 && (f.typeFlags[mfn]! & PGT_validated) !== 0 && PAGE_TABLE_TYPES.has(f.type[mfn]! & PGT_type_mask);
  }

  // ------------------------------------------------------------ type references

  /**
   * Takes a reference of `type` on a frame the caller holds a general
   * reference to (Xen's get_page_type). A frame with no typed users takes
   * the new type, and a page table is validated then; a frame in use as
   * something else refuses with -EINVAL.
   */
  getPageType(mfn: number, type: number): number {
    const f = this.frames;
    const count = f.typeCount[mfn]!;
    if (count === 0) {
      if (f.type[mfn] !== type) {
        f.flushTlbIfStale(mfn);
        f.type[mfn] = type;
        f.typeFlags[mfn] = type === PGT_writable_page ? PGT_validated : 0;
      }
    } else if (f.type[mfn] !== type || (f.typeFlags[mfn]! & PGT_validated) === 0) {
      // A type conflict, or a table reached again while its own validation runs.
      return -EINVAL;
    }
    f.typeCount[mfn] = count + 1;
    if ((f.typeFlags[mfn]! & PGT_validated) === 0) {
      const rc = this.validateTable(mfn, type);
      if (rc < 0) {
        f.typeCount[mfn] = 0;
        f.type[mfn] = PGT_none;
        f.typeFlags[mfn] = 0;
        return rc;
      }
      f.typeFlags[mfn]! |= PGT_validated;
    }
    return 0;
  }

  /** Drops a type reference; the last one on a page table devalidates it (Xen's put_page_type). */
  putPageType(mfn: number): void {
    const f = this.frames;
    const count = f.typeCount[mfn]!;
    if (count === 0) throw new Error(`frame ${mfn}: type count underflow`);
    f.typeCount[mfn] = count - 1;
    if (count > 1) return;
    const type = f.type[mfn]!;
    if (PAGE_TABLE_TYPES.has(type & PGT_type_mask) && (f.typeFlags[mfn]! & PGT_validated) !== 0) {
      f.typeFlags[mfn] = 0;
      this.releaseTable(mfn, type);
      f.type[mfn] = type & PGT_type_mask;
    }
    f.stampTlb(mfn);
  }

  /** A general and a type reference together; -EINVAL when `domid` does not own the frame. */
  getPageAndType(mfn: number, domid: number, type: number): number {
    if (!this.frames.getPage(mfn, domid)) return -EINVAL;
    const rc = this.getPageType(mfn, type);
    if (rc < 0) this.frames.putPage(mfn);
    return rc;
  }

  putPageAndType(mfn: number): void {
    this.putPageType(mfn);
    this.frames.putPage(mfn);
  }

  // ------------------------------------------------------------ single entries

  /** The references an L1 entry of `domid`'s table needs: the frame, and its writable type for RW. */
  getPageFromL1e(lo: number, hi: number, domid: number): number {
    if ((lo & _PAGE_PRESENT) === 0) return 0;
    if ((pteFlags(lo, hi) & L1_DISALLOW_MASK) !== 0) return -EINVAL;
    const mfn = pteMfn(lo, hi);
    if (!this.frames.isRam(mfn)) return -EPERM;
    if (!this.frames.getPage(mfn, domid)) return -EBUSY;
    if ((lo & _PAGE_RW) !== 0 && this.getPageType(mfn, PGT_writable_page) < 0) {
      this.frames.putPage(mfn);
      return -EBUSY;
    }
    return 0;
  }

  putPageFromL1e(lo: number, hi: number): void {
    if ((lo & _PAGE_PRESENT) === 0) return;
    const mfn = pteMfn(lo, hi);
    if ((lo & _PAGE_RW) !== 0) this.putPageType(mfn);
    this.frames.putPage(mfn);
  }

  /** An L2 entry points at an L1 of the same domain. */
  getPageFromL2e(lo: number, hi: number, domid: number): number {
    if ((lo & _PAGE_PRESENT) === 0) return 0;
    if ((pteFlags(lo, hi) & L2_DISALLOW_MASK) !== 0) return -EINVAL;
    return this.getPageAndType(pteMfn(lo, hi), domid, PGT_l1_page_table);
  }

  putPageFromL2e(lo: number, hi: number): void {
    if ((lo & _PAGE_PRESENT) !== 0) this.putPageAndType(pteMfn(lo, hi));
  }

  /** An L3 entry in slots 0-2 points at an ordinary L2 of the same domain. */
  getPageFromL3e(lo: number, hi: number, domid: number): number {
    if ((lo & _PAGE_PRESENT) === 0) return 0;
    if ((pteFlags(lo, hi) & L3_DISALLOW_MASK_PV32) !== 0) return -EINVAL;
    return this.getPageAndType(pteMfn(lo, hi), domid, PGT_l2_page_table);
  }

  putPageFromL3e(lo: number, hi: number): void {
    if ((lo & _PAGE_PRESENT) !== 0) this.putPageAndType(pteMfn(lo, hi));
  }

  // ------------------------------------------------------------ whole tables

  private validateTable(mfn: number, type: number): number {
    const domid = this.frames.owner[mfn]!;
    switch (type & PGT_type_mask) {
      case PGT_l1_page_table:
        return this.validateL1(mfn, domid);
      case PGT_l2_page_table:
        return this.validateL2(mfn, domid, (type & PGT_pae_xen_l2) !== 0);
      case PGT_l3_page_table:
        return this.validateL3(mfn, domid);
      case PGT_seg_desc_page:
        return validateSegDescFrame(this.mem, mfn);
    }
    return 0;
  }

  private releaseTable(mfn: number, type: number): void {
    switch (type & PGT_type_mask) {
      case PGT_l1_page_table:
        this.releaseEntries(mfn, L1_PAGETABLE_ENTRIES, (lo, hi) => this.putPageFromL1e(lo, hi));
        break;
      case PGT_l2_page_table:
        this.releaseEntries(mfn, guestL2Slots(type), (lo, hi) => this.putPageFromL2e(lo, hi));
        break;
      case PGT_l3_page_table:
        this.releaseEntries(mfn, L3_GUEST_ENTRIES, (lo, hi) => this.putPageFromL3e(lo, hi));
        break;
    }
  }

  /** Drops the references of entries 0 to upTo - 1 of the table in `mfn`. */
  private releaseEntries(mfn: number, upTo: number, put: (lo: number, hi: number) => void): void {
    const base = mfn * PAGE_SIZE;
    for (let i = 0; i < upTo; i++) put(this.mem.read32(base + 8 * i), this.mem.read32(base + 8 * i + 4));
  }

  private validateL1(mfn: number, domid: number): number {
    const base = mfn * PAGE_SIZE;
    for (let i = 0; i < L1_PAGETABLE_ENTRIES; i++) {
      const rc = this.getPageFromL1e(this.mem.read32(base + 8 * i), this.mem.read32(base + 8 * i + 4), domid);
      if (rc < 0) {
        this.releaseEntries(mfn, i, (lo, hi) => this.putPageFromL1e(lo, hi));
        return rc;
      }
    }
    return 0;
  }

  /** Validates the guest's slots; a PGT_pae_xen_l2 then gets the hypervisor's entries from slot 428 up. */
  private validateL2(mfn: number, domid: number, xenL2: boolean): number {
    const base = mfn * PAGE_SIZE;
    const slots = xenL2 ? COMPAT_L2_PAGETABLE_FIRST_XEN_SLOT : L2_PAGETABLE_ENTRIES;
    for (let i = 0; i < slots; i++) {
      const rc = this.getPageFromL2e(this.mem.read32(base + 8 * i), this.mem.read32(base + 8 * i + 4), domid);
      if (rc < 0) {
        this.releaseEntries(mfn, i, (lo, hi) => this.putPageFromL2e(lo, hi));
        return rc;
      }
    }
    if (xenL2) {
      for (let k = 0; k < COMPAT_L2_PAGETABLE_XEN_SLOTS; k++) {
        const at = base + 8 * (COMPAT_L2_PAGETABLE_FIRST_XEN_SLOT + k);
        this.mem.write64(at, this.xenL2Slots[2 * k]!, this.xenL2Slots[2 * k + 1]!);
      }
    }
    return 0;
  }

  /**
   * Slots 0-2 take ordinary L2s; slot 3 must be present and take an L2 that
   * no other L3 uses. Then present entries get RW and US forced on and
   * entries 4-511 are cleared, as Xen does for a 32-bit guest.
   */
  private validateL3(mfn: number, domid: number): number {
    const base = mfn * PAGE_SIZE;
    const lo = (i: number) => this.mem.read32(base + 8 * i);
    const hi = (i: number) => this.mem.read32(base + 8 * i + 4);
    const undo = (upTo: number) => this.releaseEntries(mfn, upTo, (l, h) => this.putPageFromL3e(l, h));
    for (let i = 0; i < L3_GUEST_ENTRIES; i++) {
      let rc: number;
      if (i === L3_XEN_SLOT) {
        const present = (lo(i) & _PAGE_PRESENT) !== 0;
        rc = present && (pteFlags(lo(i), hi(i)) & L3_DISALLOW_MASK_PV32) === 0
          ? this.getPageAndType(pteMfn(lo(i), hi(i)), domid, PGT_l2_page_table | PGT_pae_xen_l2)
          : -EINVAL;
      } else {
        rc = this.getPageFromL3e(lo(i), hi(i), domid);
      }
      if (rc < 0) {
        undo(i);
        return rc;
      }
    }
    if (this.frames.typeCount[pteMfn(lo(L3_XEN_SLOT), hi(L3_XEN_SLOT))] !== 1) {
      undo(L3_GUEST_ENTRIES);
      return -EINVAL;
    }
    for (let i = 0; i < L3_GUEST_ENTRIES; i++) {
      const l = lo(i);
      if ((l & _PAGE_PRESENT) !== 0 && (l & L3_FORCED_FLAGS_PV32) !== L3_FORCED_FLAGS_PV32) {
        this.mem.write64(base + 8 * i, l | L3_FORCED_FLAGS_PV32, hi(i));
      }
    }
    for (let i = L3_GUEST_ENTRIES; i < L3_PAGETABLE_ENTRIES; i++) {
      if (lo(i) !== 0 || hi(i) !== 0) this.mem.write64(base + 8 * i, 0, 0);
    }
    return 0;
  }
}

/** The slots of an L2 of `type` that belong to the guest. */
export function guestL2Slots(type: number): number {
  return (type & PGT_pae_xen_l2) !== 0 ? COMPAT_L2_PAGETABLE_FIRST_XEN_SLOT : L2_PAGETABLE_ENTRIES;
}
