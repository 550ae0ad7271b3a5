// hypervisor/x86/grant-mapping.ts — a granted frame in a PV mapper's page tables (Xen's arch/x86/pv/grant_table.c).
//
// A PV domain maps another domain's frame only through a grant: its own
// page tables may hold nothing but its own frames (mm/pagetype.ts refuses
// anything else), so map_grant_ref writes the L1 entry itself, by this
// separate path, after hypervisor/gnttab.ts has checked the grant and taken
// the references the entry needs — a general reference on the frame, and
// its writable type for a writable mapping, exactly what an ordinary RW
// entry of a validated L1 holds. From then on the entry owns them: unmapping
// clears it and drops them, and if the guest overwrites the entry with
// mmu_update, or the L1 stops being a page table, the ordinary rules drop
// them (Xen calls that an implicit unmap; the grant then stays active until
// the mapper dies, and its unmap fails because the entry no longer matches).
//
// host_addr names the entry (grant_table.h, GNTMAP_contains_pte): a linear
// address looked up through the vCPU's current page tables, or with
// GNTMAP_contains_pte the machine address of the entry. Either way it must
// be an entry of a live L1 of the caller, below the hypervisor hole, or the
// op fails with GNTST_general_error, which is what Xen answers for every
// address it cannot use (XEN-ABI.md 1.3, 8).

import { GNTMAP_application_map, GNTMAP_contains_pte, GNTMAP_readonly, GNTST_general_error, GNTST_okay, _GNTMAP_guest_avail0 } from "../abi/grant_table.js";
import { PGT_l1_page_table, PGT_type_mask } from "../mm/pagetype.js";
import { PAGE_SIZE, _PAGE_ACCESSED, _PAGE_DIRTY, _PAGE_NX, _PAGE_PRESENT, _PAGE_RW, _PAGE_USER, pteFlags, pteHi, pteLo, pteMfn } from "../mm/pte.js";
import { l1eAddressOfVa } from "../mm/ptupdate.js";
import type { Vcpu } from "../vcpu.js";
import type { Hypervisor } from "../xen.js";

/** The PTE's available bits 9-11, where GNTMAP_guest_avail bits go (XENFEAT_gnttab_map_avail_bits). */
const PTE_AVAIL_SHIFT = 9;
const PTE_AVAIL_BITS = 7;

/**
 * The flags of the entry a grant mapping installs, in pte.ts's packed form
 * (Xen's grant_to_pte_flags): present, accessed, dirty and never
 * executable; writable unless GNTMAP_readonly; reachable from ring 3 with
 * GNTMAP_application_map; the guest's bits from flags bit 16 up in AVL.
 */
export function grantPteFlags(flags: number): number {
  let pte = _PAGE_PRESENT | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_NX;
  if ((flags & GNTMAP_application_map) !== 0) pte |= _PAGE_USER;
  if ((flags & GNTMAP_readonly) === 0) pte |= _PAGE_RW;
  pte |= ((flags >>> _GNTMAP_guest_avail0) & PTE_AVAIL_BITS) << PTE_AVAIL_SHIFT;
  return pte;
}

/**
 * The machine address of the L1 entry `hostAddr` names for `vcpu`'s domain,
 * or -1: an 8-byte-aligned entry of one of its live L1 tables
 * (GNTMAP_contains_pte), or the entry mapping a linear address below the
 * hole in the vCPU's current address space.
 */
function grantL1eAddress(xen: Hypervisor, vcpu: Vcpu, addrLo: number, addrHi: number, flags: number): number {
  const domid = vcpu.domain.domid;
  // A 32-bit guest names neither addresses nor entries above 4 GiB (the machine has less RAM).
  if (addrHi !== 0) return -1;
  if ((flags & GNTMAP_contains_pte) !== 0) {
    if (addrLo % 8 !== 0) return -1;
    const l1mfn = Math.floor(addrLo / PAGE_SIZE);
    const live = xen.frames.ownerOf(l1mfn) === domid && xen.types.isLivePageTable(l1mfn) &&
      (xen.types.typeOf(l1mfn) & PGT_type_mask) === PGT_l1_page_table;
    return live ? addrLo : -1;
  }
  if (vcpu.cr3Mfn < 0) return -1;
  const pa = l1eAddressOfVa(xen.types, domid, vcpu.cr3Mfn, addrLo >>> 0);
  return pa < 0 ? -1 : pa;
}

/**
 * Installs the entry mapping `mfn` for a grant map (Xen's
 * create_grant_pv_mapping). The caller holds the references the entry
 * takes over. The entry it replaces loses its own references, as an
 * mmu_update would drop them. Returns GNTST_okay or GNTST_general_error.
 */
export function createGrantHostMapping(xen: Hypervisor, vcpu: Vcpu, addrLo: number, addrHi: number, mfn: number, flags: number): number {
  const pa = grantL1eAddress(xen, vcpu, addrLo, addrHi, flags);
  if (pa < 0) return GNTST_general_error;
  const mem = xen.mem;
  const oldLo = mem.read32(pa);
  const oldHi = mem.read32(pa + 4);
  const pte = grantPteFlags(flags);
  mem.write64(pa, pteLo(mfn, pte), pteHi(mfn, pte));
  xen.types.putPageFromL1e(oldLo, oldHi);
  return GNTST_okay;
}

/**
 * Clears the entry of a grant map being unmapped (Xen's
 * replace_grant_pv_mapping with no replacement): it must still map `mfn`,
 * present and with the writability the grant was mapped with; otherwise
 * GNTST_general_error and nothing changes. On success the caller drops
 * the references the entry held.
 */
export function destroyGrantHostMapping(xen: Hypervisor, vcpu: Vcpu, addrLo: number, addrHi: number, mfn: number, flags: number): number {
  const pa = grantL1eAddress(xen, vcpu, addrLo, addrHi, flags);
  if (pa < 0) return GNTST_general_error;
  const mem = xen.mem;
  const lo = mem.read32(pa);
  const hi = mem.read32(pa + 4);
  if (pteMfn(lo, hi) !== mfn || ((pteFlags(lo, hi) ^ grantPteFlags(flags)) & (_PAGE_PRESENT | _PAGE_RW)) !== 0) return GNTST_general_error;
  mem.write64(pa, 0, 0);
  return GNTST_okay;
}
