// hypervisor/mm/m2p.ts — the machine-to-physical table, kept in machine memory and mapped into every PV guest.
//
// One u32 per machine frame holds the pseudo-physical frame (pfn) its owner
// uses for it, or INVALID_M2P_ENTRY. Guests read it directly at
// MACH2PHYS_VIRT_START (0xF5800000 for PAE guests): XTF's mfn_to_virt() is
// `m2p[mfn]` (XEN-ABI.md 1.5). So, as in Xen, the table lives in frames the
// hypervisor owns (DOMID_XEN), and hypervisor-owned L1 tables map those
// frames read-only; their L2 entries are what pagetype.ts writes into slots
// 428 and up of every guest's special L2, the start of the hypervisor hole
// (XEN-ABI.md 1.3, 7.3). A guest's own L1 can never map these frames (they
// are not its own), and it cannot change the slots: the window is
// read-only by construction. Only the frames this machine has are mapped;
// the rest of the hole stays empty.

import { EINVAL } from "../abi/errno.js";
import { MACH2PHYS_VIRT_END, MACH2PHYS_VIRT_START } from "../abi/arch_x86_32.js";
import { DOMID_XEN } from "../abi/xen.js";
import type { FrameTable } from "./frames.js";
import {
  COMPAT_L2_PAGETABLE_XEN_SLOTS,
  L1_PAGETABLE_ENTRIES,
  PAGE_SIZE,
  _PAGE_ACCESSED,
  _PAGE_PRESENT,
  _PAGE_USER,
  entryAddress,
  pteHi,
  pteLo,
} from "./pte.js";

/** The M2P value of a frame no domain has given a pfn (Xen's INVALID_M2P_ENTRY, ~0 in 32 bits). */
export const INVALID_M2P_ENTRY = 0xffffffff;

/** Present, user-readable, never writable: how the window's tables map it (user too, as on 64-bit Xen). */
const WINDOW_FLAGS = _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED;
const ENTRIES_PER_FRAME = PAGE_SIZE / 4;

export class M2P {
  private readonly frames: FrameTable;
  /** The frames holding the table, in order: entry `mfn` is in tableMfns[mfn / 1024]. */
  readonly tableMfns: readonly number[];
  /** The hypervisor's L1 tables that map the table frames at MACH2PHYS_VIRT_START. */
  readonly l1Mfns: readonly number[];
  /** The hypervisor's entries for L2 slots 428-511 of every special L2, as (lo, hi) pairs. */
  readonly xenL2Slots: Uint32Array;
  /** The end of the mapped part of the window (XENMEM_machphys_mapping's v_end). */
  readonly virtEnd: number;

  /** Takes the table's and the window's frames from `frames` and marks every entry invalid. */
  constructor(frames: FrameTable) {
    this.frames = frames;
    const nrTable = Math.ceil(frames.nrFrames / ENTRIES_PER_FRAME);
    const nrL1 = Math.ceil(nrTable / L1_PAGETABLE_ENTRIES);
    if (nrTable * PAGE_SIZE > MACH2PHYS_VIRT_END - MACH2PHYS_VIRT_START) {
      throw new RangeError(`an M2P for ${frames.nrFrames} frames does not fit the window below 0x${MACH2PHYS_VIRT_END.toString(16)}`);
    }
    if (frames.available < nrTable + nrL1) throw new RangeError(`no room for the M2P: it needs ${nrTable + nrL1} frames`);
    const mem = frames.mem;
    const tableMfns: number[] = [];
    for (let i = 0; i < nrTable; i++) {
      const mfn = frames.allocate(DOMID_XEN);
      mem.fill(mfn * PAGE_SIZE, PAGE_SIZE, 0xff);
      tableMfns.push(mfn);
    }
    const l1Mfns: number[] = [];
    for (let l = 0; l < nrL1; l++) {
      const l1 = frames.allocate(DOMID_XEN);
      for (let j = 0; j < L1_PAGETABLE_ENTRIES && l * L1_PAGETABLE_ENTRIES + j < nrTable; j++) {
        const target = tableMfns[l * L1_PAGETABLE_ENTRIES + j]!;
        mem.write64(entryAddress(l1, j), pteLo(target, WINDOW_FLAGS), pteHi(target, WINDOW_FLAGS));
      }
      l1Mfns.push(l1);
    }
    this.xenL2Slots = new Uint32Array(2 * COMPAT_L2_PAGETABLE_XEN_SLOTS);
    l1Mfns.forEach((l1, k) => {
      this.xenL2Slots[2 * k] = pteLo(l1, WINDOW_FLAGS);
      this.xenL2Slots[2 * k + 1] = pteHi(l1, WINDOW_FLAGS);
    });
    this.tableMfns = tableMfns;
    this.l1Mfns = l1Mfns;
    this.virtEnd = MACH2PHYS_VIRT_START + nrTable * PAGE_SIZE;
  }

  /** The largest mfn the table covers (XENMEM_machphys_mapping's max_mfn). */
  get maxMfn(): number {
    return this.frames.nrFrames - 1;
  }

  private address(mfn: number): number {
    return this.tableMfns[Math.floor(mfn / ENTRIES_PER_FRAME)]! * PAGE_SIZE + (mfn % ENTRIES_PER_FRAME) * 4;
  }

  /** M2P[mfn]; INVALID_M2P_ENTRY for a frame past RAM. */
  get(mfn: number): number {
    return this.frames.isRam(mfn) ? this.frames.mem.read32(this.address(mfn)) : INVALID_M2P_ENTRY;
  }

  /** Sets M2P[mfn] (the hypervisor's own bookkeeping: p2m.ts, the domain builder). */
  set(mfn: number, pfn: number): void {
    if (!this.frames.isRam(mfn)) throw new RangeError(`M2P: frame ${mfn} is past RAM`);
    this.frames.mem.write32(this.address(mfn), pfn);
  }

  /**
   * MMU_MACHPHYS_UPDATE: a guest records which pfn it uses a frame for.
   * Only for a frame the guest owns (-EINVAL otherwise, as in Xen).
   */
  machphysUpdate(domid: number, mfn: number, pfn: number): number {
    if (this.frames.ownerOf(mfn) !== domid || domid === DOMID_XEN) return -EINVAL;
    this.set(mfn, pfn >>> 0);
    return 0;
  }
}
