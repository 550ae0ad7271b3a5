// hypervisor/mm/frames.ts — the frame table: who owns each machine frame, and the allocator.
//
// Xen keeps a page_info per machine frame (its frame_table); this is ours,
// as parallel typed arrays indexed by mfn (the frame number of the core's
// RAM). Per frame: the owning domid (DOMID_XEN for the hypervisor's own
// frames, DOMID_INVALID while free), a general reference count (every
// mapping by a validated page table, every pin and every CR3 holds one), and
// the type fields that pagetype.ts alone interprets. A frame is handed out
// only from the free list and goes back on it only when nothing references
// it, so it is never given twice, never freed while mapped, and always
// scrubbed before a new owner sees it.
//
// Stale TLB entries are the one way around reference counts: a guest that
// removed a writable mapping without flushing may still write through it.
// Xen stamps a frame when its last typed use ends or it is freed, and
// flushes before the frame changes type or owner if no flush happened since
// (tlbflush_timestamp). We count flushes instead of reading a clock: a stamp
// equal to the current count means "no flush since".

import { EBUSY, EINVAL, ENOMEM } from "../abi/errno.js";
import { DOMID_INVALID, DOMID_XEN } from "../abi/xen.js";
import type { MachineMemory } from "./memory.js";
import { PAGE_SIZE } from "./pte.js";

export interface FrameTableOptions {
  /** Frames the hypervisor keeps for itself from the start (owner DOMID_XEN, never allocated). */
  reserved?: Iterable<number>;
  /** Flushes every TLB that may hold a guest translation (the core's). */
  flushTlb?: () => void;
}

export class FrameTable {
  readonly mem: MachineMemory;
  readonly nrFrames: number;
  /** The owning domid per frame; DOMID_INVALID while the frame is free. */
  readonly owner: Uint16Array;
  /** General references per frame (Xen's count_info, less the allocation's own). */
  readonly count: Uint32Array;
  /** The page type per frame, with its flags and type count (pagetype.ts). */
  readonly type: Uint8Array;
  readonly typeFlags: Uint8Array;
  readonly typeCount: Uint32Array;
  private readonly tlbStamp: Uint32Array;
  private tlbFlushes = 1;
  private readonly flushTlbHook: () => void;
  /** Free frames as a stack; the lowest mfn is handed out first. */
  private readonly freeList: Uint32Array;
  private freeTop = 0;
  private readonly pagesByDomain = new Map<number, number>();
  /**
   * Frames of destroyed domains that another domain still maps through a
   * grant: each is freed by its last putPage (freeWhenUnreferenced).
   */
  private readonly lingering = new Set<number>();

  constructor(mem: MachineMemory, options: FrameTableOptions = {}) {
    this.mem = mem;
    this.nrFrames = Math.floor(mem.bytes / PAGE_SIZE);
    const n = this.nrFrames;
    this.owner = new Uint16Array(n).fill(DOMID_INVALID);
    this.count = new Uint32Array(n);
    this.type = new Uint8Array(n);
    this.typeFlags = new Uint8Array(n);
    this.typeCount = new Uint32Array(n);
    this.tlbStamp = new Uint32Array(n);
    this.flushTlbHook = options.flushTlb ?? (() => {});
    const reserved = new Set<number>();
    for (const mfn of options.reserved ?? []) {
      if (!this.isRam(mfn)) throw new RangeError(`cannot reserve frame ${mfn}: RAM has frames 0-${n - 1}`);
      reserved.add(mfn);
      this.owner[mfn] = DOMID_XEN;
    }
    if (reserved.size > 0) this.pagesByDomain.set(DOMID_XEN, reserved.size);
    this.freeList = new Uint32Array(n);
    for (let mfn = n - 1; mfn >= 0; mfn--) if (!reserved.has(mfn)) this.freeList[this.freeTop++] = mfn;
  }

  /** True when `mfn` is a frame of RAM. */
  isRam(mfn: number): boolean {
    return Number.isInteger(mfn) && mfn >= 0 && mfn < this.nrFrames;
  }

  /** Frames still free. */
  get available(): number {
    return this.freeTop;
  }

  /** Frames a domain owns (its tot_pages). */
  pagesOf(domid: number): number {
    return this.pagesByDomain.get(domid) ?? 0;
  }

  /** The domid owning `mfn`, or DOMID_INVALID for a free frame or one past RAM. */
  ownerOf(mfn: number): number {
    return this.isRam(mfn) ? this.owner[mfn]! : DOMID_INVALID;
  }

  /** Hands a free, zeroed frame to `domid`; returns its mfn, or -ENOMEM when none is left. */
  allocate(domid: number): number {
    if (domid === DOMID_INVALID) throw new RangeError("a frame cannot be allocated to DOMID_INVALID, which marks free frames");
    if (this.freeTop === 0) return -ENOMEM;
    const mfn = this.freeList[--this.freeTop]!;
    this.flushTlbIfStale(mfn);
    this.mem.fill(mfn * PAGE_SIZE, PAGE_SIZE, 0);
    this.owner[mfn] = domid;
    this.count[mfn] = 0;
    this.type[mfn] = 0;
    this.typeFlags[mfn] = 0;
    this.typeCount[mfn] = 0;
    this.pagesByDomain.set(domid, this.pagesOf(domid) + 1);
    return mfn;
  }

  /**
   * Returns `domid`'s frame to the free list: -EINVAL when the domain does
   * not own it, -EBUSY while anything still references it (a mapping, a
   * pin, a CR3), leaving it untouched.
   */
  free(domid: number, mfn: number): number {
    if (!this.isRam(mfn) || this.owner[mfn] !== domid || domid === DOMID_INVALID) return -EINVAL;
    if (this.count[mfn] !== 0) return -EBUSY;
    this.owner[mfn] = DOMID_INVALID;
    this.type[mfn] = 0;
    this.typeFlags[mfn] = 0;
    this.typeCount[mfn] = 0;
    this.stampTlb(mfn);
    this.freeList[this.freeTop++] = mfn;
    const left = this.pagesOf(domid) - 1;
    if (left === 0) this.pagesByDomain.delete(domid);
    else this.pagesByDomain.set(domid, left);
    return 0;
  }

  /**
   * Frees `domid`'s frame now when nothing references it (0), or, when
   * something still does — another domain's grant mapping of a frame whose
   * owner is being destroyed — leaves it allocated to its owner and frees it
   * when the last reference is dropped (1), as Xen keeps a dying domain's
   * page alive by its references. -EINVAL when `domid` does not own it.
   */
  freeWhenUnreferenced(domid: number, mfn: number): number {
    if (!this.isRam(mfn) || this.owner[mfn] !== domid || domid === DOMID_INVALID) return -EINVAL;
    if (this.count[mfn] === 0) return this.free(domid, mfn);
    this.lingering.add(mfn);
    return 1;
  }

  /** Frames waiting, allocated to a destroyed domain, for their last reference to go. */
  get lingeringFrames(): number[] {
    return [...this.lingering];
  }

  /** Takes a general reference on `mfn` if `domid` owns it (Xen's get_page); false otherwise. */
  getPage(mfn: number, domid: number): boolean {
    if (!this.isRam(mfn) || this.owner[mfn] !== domid || domid === DOMID_INVALID) return false;
    this.count[mfn]++;
    return true;
  }

  /** Drops a general reference taken with getPage. */
  putPage(mfn: number): void {
    if (this.count[mfn] === 0) throw new Error(`frame ${mfn}: general reference count underflow`);
    this.count[mfn]--;
    if (this.count[mfn] === 0 && this.lingering.size > 0 && this.lingering.delete(mfn)) this.free(this.owner[mfn]!, mfn);
  }

  /** Records that `mfn` lost a use that a TLB may still remember. */
  stampTlb(mfn: number): void {
    this.tlbStamp[mfn] = this.tlbFlushes;
  }

  /** Flushes TLBs when `mfn` was stamped after the last flush; called before it changes type or owner. */
  flushTlbIfStale(mfn: number): void {
    if (this.tlbStamp[mfn] === this.tlbFlushes) {
      this.flushTlbHook();
      this.tlbFlushed();
    }
  }

  /** Tells the table that every TLB was flushed (by a guest's request or any other reason). */
  tlbFlushed(): void {
    this.tlbFlushes = (this.tlbFlushes + 1) >>> 0 || 1;
  }
}
