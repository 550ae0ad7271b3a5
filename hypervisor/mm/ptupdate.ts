// hypervisor/mm/ptupdate.ts — changing one entry of a live page table (mmu_update, update_va_mapping).
//
// A guest changes a validated table only through the hypervisor. The new
// entry is checked by the rules of its level, takes its references, is
// written, and only then are the old entry's references dropped, so a
// frame never passes through a moment with too few. A change confined to
// flags that need no check (A, D, US, G, AVL, NX: FASTPATH_FLAG_WHITELIST) is
// written at once. mmu_update's MMU_NORMAL_PT_UPDATE names the entry by
// machine address, and a frame that is not a live table is an ordinary page:
// the write needs (and takes, for its duration) the writable type. Errors
// are Xen's: -EINVAL for a frame not owned or a bad value, -EPERM for the
// hypervisor's slots of the special L2, and what pagetype.ts returns for a
// refused mapping. A refused update changes nothing (XEN-ABI.md 1.4, 4).

import { EINVAL, EPERM } from "../abi/errno.js";
import { HYPERVISOR_VIRT_START } from "../abi/arch_x86_32.js";
import {
  PGT_l1_page_table,
  PGT_l2_page_table,
  PGT_l3_page_table,
  PGT_pae_xen_l2,
  PGT_type_mask,
  PGT_writable_page,
  type PageTypes,
} from "./pagetype.js";
import {
  COMPAT_L2_PAGETABLE_FIRST_XEN_SLOT,
  FASTPATH_FLAG_WHITELIST,
  L1_DISALLOW_MASK,
  L2_DISALLOW_MASK,
  L3_DISALLOW_MASK_PV32,
  L3_FORCED_FLAGS_PV32,
  L3_XEN_SLOT,
  L2_PAGETABLE_SHIFT,
  L3_PAGETABLE_SHIFT,
  PAGE_SHIFT,
  PAGE_SIZE,
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_PRESENT,
  entryAddress,
  pteFlags,
  pteHasChanged,
  pteMfn,
} from "./pte.js";

const RECHECKED_FLAGS = 0xffffff & ~FASTPATH_FLAG_WHITELIST;

/** How one level checks, references and releases an entry. */
interface Level {
  disallow: number;
  get(types: PageTypes, lo: number, hi: number, domid: number): number;
  put(types: PageTypes, lo: number, hi: number): void;
}

const L1: Level = {
  disallow: L1_DISALLOW_MASK,
  get: (t, lo, hi, d) => t.getPageFromL1e(lo, hi, d),
  put: (t, lo, hi) => t.putPageFromL1e(lo, hi),
};
const L2: Level = {
  disallow: L2_DISALLOW_MASK,
  get: (t, lo, hi, d) => t.getPageFromL2e(lo, hi, d),
  put: (t, lo, hi) => t.putPageFromL2e(lo, hi),
};
const L3: Level = {
  disallow: L3_DISALLOW_MASK_PV32,
  get: (t, lo, hi, d) => t.getPageFromL3e(lo, hi, d),
  put: (t, lo, hi) => t.putPageFromL3e(lo, hi),
};

/**
 * Replaces the entry at machine address `pa` of a live table of `level`
 * owned by `domid` (Xen's mod_lN_entry). With `preserveAd` the old entry's
 * A and D bits survive (MMU_PT_UPDATE_PRESERVE_AD).
 */
function modEntry(types: PageTypes, level: Level, pa: number, lo: number, hi: number, domid: number, preserveAd: boolean): number {
  const mem = types.frames.mem;
  const oldLo = mem.read32(pa);
  const oldHi = mem.read32(pa + 4);
  if (preserveAd) lo |= oldLo & (_PAGE_ACCESSED | _PAGE_DIRTY);
  if ((lo & _PAGE_PRESENT) !== 0) {
    if ((pteFlags(lo, hi) & level.disallow) !== 0) return -EINVAL;
    if (!pteHasChanged(oldLo, oldHi, lo, hi, RECHECKED_FLAGS)) {
      mem.write64(pa, lo, hi);
      return 0;
    }
    const rc = level.get(types, lo, hi, domid);
    if (rc < 0) return rc;
  }
  mem.write64(pa, lo, hi);
  level.put(types, oldLo, oldHi);
  return 0;
}

/** Entry `index` of the live L1 in `l1mfn`. */
export function modL1Entry(types: PageTypes, l1mfn: number, index: number, lo: number, hi: number, domid: number, preserveAd = false): number {
  return modEntry(types, L1, entryAddress(l1mfn, index), lo, hi, domid, preserveAd);
}

/** Entry `index` of the live L2 in `l2mfn`; the special L2's slots from 428 up are the hypervisor's. */
export function modL2Entry(types: PageTypes, l2mfn: number, index: number, lo: number, hi: number, domid: number, preserveAd = false): number {
  if ((types.typeOf(l2mfn) & PGT_pae_xen_l2) !== 0 && index >= COMPAT_L2_PAGETABLE_FIRST_XEN_SLOT) return -EPERM;
  return modEntry(types, L2, entryAddress(l2mfn, index), lo, hi, domid, preserveAd);
}

/**
 * Entry `index` of the live L3 in `l3mfn`. Only slots 0-2 may change: slot 3
 * holds the special L2 for the table's whole life, and 4-511 stay empty.
 */
export function modL3Entry(types: PageTypes, l3mfn: number, index: number, lo: number, hi: number, domid: number, preserveAd = false): number {
  if (index >= L3_XEN_SLOT) return -EINVAL;
  if ((lo & _PAGE_PRESENT) !== 0) lo |= L3_FORCED_FLAGS_PV32;
  return modEntry(types, L3, entryAddress(l3mfn, index), lo, hi, domid, preserveAd);
}

/**
 * MMU_NORMAL_PT_UPDATE (and MMU_PT_UPDATE_PRESERVE_AD): writes the 8-byte
 * entry at machine address `ptr` (the command bits already removed, so
 * 8-byte aligned) in a frame `domid` owns. A live table's entry is changed
 * by its level's rules; any other frame is written as a writable page.
 */
export function updatePageTableEntry(types: PageTypes, domid: number, ptr: number, lo: number, hi: number, preserveAd = false): number {
  const frames = types.frames;
  if (!Number.isInteger(ptr) || ptr < 0 || ptr % 8 !== 0) return -EINVAL;
  const mfn = Math.floor(ptr / PAGE_SIZE);
  if (!frames.getPage(mfn, domid)) return -EINVAL;
  const index = (ptr % PAGE_SIZE) / 8;
  let rc: number;
  if (types.isLivePageTable(mfn)) {
    switch (types.typeOf(mfn) & PGT_type_mask) {
      case PGT_l1_page_table:
        rc = modL1Entry(types, mfn, index, lo, hi, domid, preserveAd);
        break;
      case PGT_l2_page_table:
        rc = modL2Entry(types, mfn, index, lo, hi, domid, preserveAd);
        break;
      default:
        rc = modL3Entry(types, mfn, index, lo, hi, domid, preserveAd);
        break;
    }
  } else if (types.getPageType(mfn, PGT_writable_page) === 0) {
    frames.mem.write64(ptr, lo, hi);
    types.putPageType(mfn);
    rc = 0;
  } else {
    rc = -EINVAL;
  }
  frames.putPage(mfn);
  return rc;
}

/**
 * The L1 entry that maps `va` under the live L3 in `l3mfn`, as its machine
 * address, or -EINVAL when `va` is in the hypervisor hole or no live L1 of
 * `domid` maps it (what update_va_mapping needs before modL1Entry).
 */
export function l1eAddressOfVa(types: PageTypes, domid: number, l3mfn: number, va: number): number {
  const frames = types.frames;
  const mem = frames.mem;
  if (va >>> 0 >= HYPERVISOR_VIRT_START) return -EINVAL;
  if (!isLive(types, domid, l3mfn, PGT_l3_page_table)) return -EINVAL;
  const l3e = entryAddress(l3mfn, va >>> L3_PAGETABLE_SHIFT);
  if ((mem.read32(l3e) & _PAGE_PRESENT) === 0) return -EINVAL;
  const l2mfn = pteMfn(mem.read32(l3e), mem.read32(l3e + 4));
  const l2e = entryAddress(l2mfn, (va >>> L2_PAGETABLE_SHIFT) & 511);
  if ((mem.read32(l2e) & _PAGE_PRESENT) === 0) return -EINVAL;
  const l1mfn = pteMfn(mem.read32(l2e), mem.read32(l2e + 4));
  if (!isLive(types, domid, l1mfn, PGT_l1_page_table)) return -EINVAL;
  return entryAddress(l1mfn, (va >>> PAGE_SHIFT) & 511);
}

function isLive(types: PageTypes, domid: number, mfn: number, type: number): boolean {
  return types.frames.ownerOf(mfn) === domid && types.isLivePageTable(mfn) && (types.typeOf(mfn) & PGT_type_mask) === type;
}

/** update_va_mapping's page-table half: replaces the L1 entry mapping `va` (the caller flushes as the flags say). */
export function updateVaMapping(types: PageTypes, domid: number, l3mfn: number, va: number, lo: number, hi: number): number {
  const pa = l1eAddressOfVa(types, domid, l3mfn, va);
  if (pa < 0) return pa;
  return modL1Entry(types, Math.floor(pa / PAGE_SIZE), (pa % PAGE_SIZE) / 8, lo, hi, domid);
}
