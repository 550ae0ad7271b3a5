// hypervisor/mm/p2m.ts — a PV domain's physical-to-machine map, updated together with the M2P.
//
// A PV guest sees its memory as pseudo-physical frames 0..nr_pages-1 (pfns)
// and must know the machine frame behind each, since its page tables hold
// machine frames. The builder hands it that map as the list start_info
// points at (mfn_list, u32 per pfn; XEN-ABI.md 6.5, 7.2), but the guest can
// rewrite its copy at will, so the hypervisor keeps its own: this P2M, the
// authority on which frames make up the domain's memory (for memory_op,
// save/restore and teardown). Every change here also updates the M2P, so
// M2P[P2M[pfn]] = pfn for every populated pfn. A guest may still point M2P
// entries of its own frames elsewhere with MMU_MACHPHYS_UPDATE (m2p.ts);
// that is its view, not this map.

import { EEXIST, EINVAL, ENOMEM } from "../abi/errno.js";
import type { FrameTable } from "./frames.js";
import { INVALID_M2P_ENTRY, type M2P } from "./m2p.js";
import { PGT_writable_page } from "./pagetype.js";
import { PAGE_SIZE } from "./pte.js";

/** The P2M value of an unpopulated pfn (what a 32-bit guest's list holds there: ~0). */
export const INVALID_MFN = 0xffffffff;

export class P2M {
  readonly domid: number;
  private readonly frames: FrameTable;
  private readonly m2p: M2P;
  private readonly table: Uint32Array;
  private populated = 0;

  /** A map for `maxPfns` pfns of domain `domid`, all unpopulated. */
  constructor(domid: number, frames: FrameTable, m2p: M2P, maxPfns: number) {
    this.domid = domid;
    this.frames = frames;
    this.m2p = m2p;
    this.table = new Uint32Array(maxPfns).fill(INVALID_MFN);
  }

  /** Pfns the map can hold (the domain's maximum). */
  get maxPfns(): number {
    return this.table.length;
  }

  /** Pfns that have a frame. */
  get nrPages(): number {
    return this.populated;
  }

  private inRange(pfn: number): boolean {
    return Number.isInteger(pfn) && pfn >= 0 && pfn < this.table.length;
  }

  /** P2M[pfn], or INVALID_MFN. */
  get(pfn: number): number {
    return this.inRange(pfn) ? this.table[pfn]! : INVALID_MFN;
  }

  /**
   * Puts the domain's frame `mfn` at `pfn`: -EINVAL for a pfn out of range
   * or a frame the domain does not own, -EEXIST when `pfn` already has one.
   */
  set(pfn: number, mfn: number): number {
    if (!this.inRange(pfn) || this.frames.ownerOf(mfn) !== this.domid) return -EINVAL;
    if (this.table[pfn] !== INVALID_MFN) return -EEXIST;
    this.table[pfn] = mfn;
    this.m2p.set(mfn, pfn);
    this.populated++;
    return 0;
  }

  /** Allocates a fresh frame for `pfn`; returns its mfn, or -ENOMEM, -EINVAL, -EEXIST. */
  populate(pfn: number): number {
    if (!this.inRange(pfn)) return -EINVAL;
    if (this.table[pfn] !== INVALID_MFN) return -EEXIST;
    const mfn = this.frames.allocate(this.domid);
    if (mfn < 0) return -ENOMEM;
    this.set(pfn, mfn);
    return mfn;
  }

  /**
   * Gives `pfn`'s frame back to the free pool (decrease_reservation):
   * -EINVAL when the pfn has none, -EBUSY while the frame is still mapped,
   * pinned or typed, in which case nothing changes.
   */
  release(pfn: number): number {
    const mfn = this.get(pfn);
    if (mfn === INVALID_MFN) return -EINVAL;
    const rc = this.frames.free(this.domid, mfn);
    if (rc < 0) return rc;
    this.table[pfn] = INVALID_MFN;
    this.m2p.set(mfn, INVALID_M2P_ENTRY);
    this.populated--;
    return 0;
  }

  /**
   * Writes the map as the guest's P2M list (u32 per pfn, 1024 per frame)
   * into `listMfns`, frames of the domain the builder chose to hold it.
   * They must be the domain's and not in use as page tables: the list is
   * ordinary guest data.
   */
  writeList(listMfns: readonly number[]): void {
    const perFrame = PAGE_SIZE / 4;
    if (listMfns.length * perFrame < this.table.length) {
      throw new RangeError(`a P2M list of ${this.table.length} pfns needs ${Math.ceil(this.table.length / perFrame)} frames, not ${listMfns.length}`);
    }
    for (const mfn of listMfns) {
      const typed = this.frames.typeCount[mfn]! > 0 && this.frames.type[mfn] !== PGT_writable_page;
      if (this.frames.ownerOf(mfn) !== this.domid || typed) {
        throw new Error(`frame ${mfn} cannot hold domain ${this.domid}'s P2M list: it is not an ordinary page of that domain`);
      }
    }
    const mem = this.frames.mem;
    for (let pfn = 0; pfn < this.table.length; pfn++) {
      mem.write32(listMfns[Math.floor(pfn / perFrame)]! * PAGE_SIZE + (pfn % perFrame) * 4, this.table[pfn]!);
    }
  }
}
