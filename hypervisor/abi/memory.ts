// hypervisor/abi/memory.ts — memory reservations and the physmap, mirroring xen/include/public/memory.h.
//
// memory_op(cmd, arg) moves whole frames between a domain and the
// hypervisor's free pool (increase/decrease_reservation, populate_physmap),
// answers questions about memory (maximum_ram_page, current and maximum
// reservation, the M2P mapping), and, for HVM guests, places special frames
// in the physmap. Numbers and layouts: XEN-ABI.md 4 (memory_op).

export const XENMEM_increase_reservation = 0;
export const XENMEM_decrease_reservation = 1;
export const XENMEM_maximum_ram_page = 2;
export const XENMEM_current_reservation = 3;
export const XENMEM_maximum_reservation = 4;
export const XENMEM_machphys_mfn_list = 5;
export const XENMEM_populate_physmap = 6;
export const XENMEM_add_to_physmap = 7;
export const XENMEM_exchange = 11;
export const XENMEM_machphys_mapping = 12;
export const XENMEM_maximum_gpfn = 14;
export const XENMEM_add_to_physmap_batch = 23;

/**
 * struct xen_memory_reservation (20): extent_start is a pointer to an array
 * of frame numbers (IN and/or OUT); an extent is 2^extent_order frames.
 * The hypercall returns how many extents it processed.
 */
export const xen_memory_reservation = {
  sizeof: 20,
  extent_start: 0,
  nr_extents: 4,
  extent_order: 8,
  mem_flags: 12,
  address_bits: 12,
  domid: 16,
} as const;

export interface MemoryReservation {
  extent_start: number;
  nr_extents: number;
  extent_order: number;
  mem_flags: number;
  domid: number;
}

export function readMemoryReservation(view: DataView, at: number): MemoryReservation {
  return {
    extent_start: view.getUint32(at + xen_memory_reservation.extent_start, true),
    nr_extents: view.getUint32(at + xen_memory_reservation.nr_extents, true),
    extent_order: view.getUint32(at + xen_memory_reservation.extent_order, true),
    mem_flags: view.getUint32(at + xen_memory_reservation.mem_flags, true),
    domid: view.getUint16(at + xen_memory_reservation.domid, true),
  };
}

/** struct xen_add_to_physmap (16). */
export const xen_add_to_physmap = { sizeof: 16, domid: 0, size: 2, space: 4, idx: 8, gpfn: 12 } as const;

export const XENMAPSPACE_shared_info = 0;
export const XENMAPSPACE_grant_table = 1;
export const XENMAPSPACE_gmfn = 2;
export const XENMAPSPACE_gmfn_range = 3;
export const XENMAPSPACE_gmfn_foreign = 4;
/** OR'ed into idx with XENMAPSPACE_grant_table: a status frame rather than a grant frame. */
export const XENMAPIDX_grant_table_status = 0x80000000;

/** struct xen_machphys_mapping (12): where the read-only M2P is mapped, and the largest MFN it covers. */
export const xen_machphys_mapping = { sizeof: 12, v_start: 0, v_end: 4, max_mfn: 8 } as const;
