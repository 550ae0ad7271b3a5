// hypervisor/mm/pte.ts — PAE page-table entries as Xen checks them.
//
// An entry is 64 bits, carried here as two u32 halves (lo, hi) because that
// is how guests hand them over (update_va_mapping's pte_lo/pte_hi, the two
// words of mmu_update.val) and because JavaScript numbers cannot hold 64
// bits. The frame number is bits 12-51. Xen judges an entry by its flags
// packed into 24 bits: bits 0-11 of the entry, then bits 52-63 shifted down
// to 12-23 (so NX, bit 63, is bit 23); the masks below are in that form.
//
// Which flags a guest may set, per level (XEN-ABI.md 1.2, and Xen's
// arch/x86/mm.c for the L1/L2 masks, facts only):
//   L1: P RW US A D G AVL(9-11) AVL-high(52-62) NX. PWT, PCD and PAT are
//       refused: only a domain with I/O memory may choose cache attributes.
//       Bits 52-62 are accepted because Xen's long-mode walk ignores them;
//       the core's PV walk must ignore them too (a native PAE walk would
//       fault on them as reserved).
//   L2: P RW US A D AVL AVL-high NX. PS is refused (no PV superpages), and
//       so are PWT, PCD and G.
//   L3: the 32-on-64 mask 0xFFFFF198: P RW US A D AVL only. Xen forces RW
//       and US on when it installs an L3 entry, since the guest's L3 hangs
//       under a long-mode L4 and is not a set of architectural PDPTEs.

import { HYPERVISOR_VIRT_START } from "../abi/arch_x86_32.js";

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
/** Entries in a PAE L1 or L2 table (8 bytes each). */
export const L1_PAGETABLE_ENTRIES = 512;
export const L2_PAGETABLE_ENTRIES = 512;
/** Entries of an L3 the 32-bit guest uses: one per GiB of its address space. */
export const L3_GUEST_ENTRIES = 4;
/** An L3 is a whole frame; Xen clears entries 4-511, which the long-mode walk would also see. */
export const L3_PAGETABLE_ENTRIES = 512;

export const L2_PAGETABLE_SHIFT = 21;
export const L3_PAGETABLE_SHIFT = 30;

export const _PAGE_PRESENT = 0x001;
export const _PAGE_RW = 0x002;
export const _PAGE_USER = 0x004;
export const _PAGE_PWT = 0x008;
export const _PAGE_PCD = 0x010;
export const _PAGE_ACCESSED = 0x020;
export const _PAGE_DIRTY = 0x040;
/** Bit 7: PAT in an L1 entry, PS (a large page) in an L2 entry. */
export const _PAGE_PAT = 0x080;
export const _PAGE_PSE = 0x080;
export const _PAGE_GLOBAL = 0x100;
/** Bits 9-11: the software's own. */
export const _PAGE_AVAIL = 0xe00;
/** Bits 52-62 in packed form. */
export const _PAGE_AVAIL_HIGH = 0x7ff000;
/** Bit 63 in packed form. */
export const _PAGE_NX = 0x800000;

const PACKED_FLAGS = 0xffffff;

/** What a guest may set in any entry it writes (Xen's base_disallow_mask is the complement). */
const GUEST_FLAGS =
  _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_AVAIL | _PAGE_AVAIL_HIGH | _PAGE_NX;
const BASE_DISALLOW_MASK = PACKED_FLAGS & ~GUEST_FLAGS;

/** Flags refused in an L1 entry of a domain without I/O memory: G is allowed there. */
export const L1_DISALLOW_MASK = BASE_DISALLOW_MASK & ~_PAGE_GLOBAL;
export const L2_DISALLOW_MASK = BASE_DISALLOW_MASK;
/** The 32-on-64 L3 mask (XEN-ABI.md 1.2), within the 24 packed bits. */
export const L3_DISALLOW_MASK_PV32 = 0xfffff198 & PACKED_FLAGS;
/** Flags Xen forces on in a present L3 entry of a 32-bit guest. */
export const L3_FORCED_FLAGS_PV32 = _PAGE_RW | _PAGE_USER;

/**
 * Flags a guest may change in a present entry without the entry being
 * validated again: none of them affects which frame is reached, whether it
 * is writable, or how it is cached.
 */
export const FASTPATH_FLAG_WHITELIST =
  _PAGE_NX | _PAGE_AVAIL_HIGH | _PAGE_AVAIL | _PAGE_GLOBAL | _PAGE_DIRTY | _PAGE_ACCESSED | _PAGE_USER;

/** The L2 slot where the hypervisor's entries start in the L2 under L3 slot 3: 428 for a hole at 0xF5800000. */
export const COMPAT_L2_PAGETABLE_FIRST_XEN_SLOT = ((HYPERVISOR_VIRT_START - 3 * 2 ** L3_PAGETABLE_SHIFT) >>> L2_PAGETABLE_SHIFT);
export const COMPAT_L2_PAGETABLE_XEN_SLOTS = L2_PAGETABLE_ENTRIES - COMPAT_L2_PAGETABLE_FIRST_XEN_SLOT;
/** The L3 slot whose L2 holds the hypervisor's entries. */
export const L3_XEN_SLOT = 3;

/** An entry's flags in Xen's packed 24-bit form. */
export function pteFlags(lo: number, hi: number): number {
  return (lo & 0xfff) | ((hi >>> 8) & 0xfff000);
}

/** An entry's frame number (bits 12-51). */
export function pteMfn(lo: number, hi: number): number {
  return (lo >>> PAGE_SHIFT) + (hi & 0xfffff) * 0x100000;
}

/** The low half of an entry for `mfn` with packed `flags`. */
export function pteLo(mfn: number, flags: number): number {
  return ((mfn << PAGE_SHIFT) | (flags & 0xfff)) >>> 0;
}

/** The high half of an entry for `mfn` with packed `flags`. */
export function pteHi(mfn: number, flags: number): number {
  return ((Math.floor(mfn / 0x100000) & 0xfffff) | ((flags & 0xfff000) << 8)) >>> 0;
}

/**
 * True when two entries differ in their frame or in any of the packed
 * `flags` (Xen's l1e_has_changed).
 */
export function pteHasChanged(oldLo: number, oldHi: number, newLo: number, newHi: number, flags: number): boolean {
  const loMask = 0xfffff000 | (flags & 0xfff);
  const hiMask = 0x000fffff | ((flags & 0xfff000) << 8);
  return ((oldLo ^ newLo) & loMask) !== 0 || ((oldHi ^ newHi) & hiMask) !== 0;
}

/** The machine address of entry `index` of the table in frame `mfn`. */
export function entryAddress(mfn: number, index: number): number {
  return mfn * PAGE_SIZE + index * 8;
}
