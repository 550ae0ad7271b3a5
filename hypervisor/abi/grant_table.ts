// hypervisor/abi/grant_table.ts — grant tables v1, mirroring xen/include/public/grant_table.h.
//
// A domain shares a frame by filling a grant entry (frame, the peer's domid,
// then flags, in that order); the peer maps or copies it by reference
// through grant_table_op, and the hypervisor marks the entry reading or
// writing while it is in use. Per-operation status sits in each struct; the
// hypercall itself returns 0 unless the batch failed. XEN-ABI.md 8 and 4.

export const GNTTABOP_map_grant_ref = 0;
export const GNTTABOP_unmap_grant_ref = 1;
export const GNTTABOP_setup_table = 2;
export const GNTTABOP_dump_table = 3;
export const GNTTABOP_transfer = 4;
export const GNTTABOP_copy = 5;
export const GNTTABOP_query_size = 6;
export const GNTTABOP_unmap_and_replace = 7;
export const GNTTABOP_set_version = 8;
export const GNTTABOP_get_status_frames = 9;
export const GNTTABOP_get_version = 10;
export const GNTTABOP_swap_grant_ref = 11;
export const GNTTABOP_cache_flush = 12;

/** struct grant_entry_v1 (8): flags u16; domid u16; frame (an MFN for a PV granter). */
export const grant_entry_v1 = { sizeof: 8, flags: 0, domid: 2, frame: 4 } as const;
/** v1 entries per 4 KiB grant-table frame. */
export const GRANT_ENTRIES_PER_FRAME_V1 = 4096 / grant_entry_v1.sizeof;
/** Refs 0-7 belong to the toolstack: 0 the console ring, 1 the xenstore ring. */
export const GNTTAB_NR_RESERVED_ENTRIES = 8;
export const GNTTAB_RESERVED_CONSOLE = 0;
export const GNTTAB_RESERVED_XENSTORE = 1;

export const GTF_invalid = 0;
export const GTF_permit_access = 1;
export const GTF_accept_transfer = 2;
export const GTF_transitive = 3;
export const GTF_type_mask = 3;
export const GTF_readonly = 1 << 2;
export const GTF_reading = 1 << 3;
export const GTF_writing = 1 << 4;
export const GTF_PWT = 1 << 5;
export const GTF_PCD = 1 << 6;
export const GTF_PAT = 1 << 7;
export const GTF_sub_page = 1 << 8;
/** For accept_transfer entries, bits 2 and 3 mean these instead. */
export const GTF_transfer_committed = 1 << 2;
export const GTF_transfer_completed = 1 << 3;

export const GNTMAP_device_map = 1;
export const GNTMAP_host_map = 2;
export const GNTMAP_readonly = 4;
export const GNTMAP_application_map = 8;
export const GNTMAP_contains_pte = 16;
/** The caller accepts failure of this op without the batch failing (a hint; every op here reports its own status). */
export const GNTMAP_can_fail = 32;
/** Bits 16 and up go into the PTE's available bits 9-11 (with XENFEAT_gnttab_map_avail_bits). */
export const _GNTMAP_guest_avail0 = 16;

export const GNTST_okay = 0;
export const GNTST_general_error = -1;
export const GNTST_bad_domain = -2;
export const GNTST_bad_gntref = -3;
export const GNTST_bad_handle = -4;
export const GNTST_bad_virt_addr = -5;
export const GNTST_bad_dev_addr = -6;
export const GNTST_no_device_space = -7;
export const GNTST_permission_denied = -8;
export const GNTST_bad_page = -9;
export const GNTST_bad_copy_arg = -10;
export const GNTST_address_too_big = -11;
export const GNTST_eagain = -12;
export const GNTST_no_space = -13;

/** gnttab_copy.flags: the source / destination is a grant ref rather than a frame. */
export const GNTCOPY_source_gref = 1;
export const GNTCOPY_dest_gref = 2;
export const GNTCOPY_can_fail = 4;

/**
 * The command is in the low 12 bits of grant_table_op's first argument; the
 * bits above carry continuation state only for cache_flush, and are
 * -EINVAL for every other command (GNTTABOP_CMD_MASK in Xen's grant_table.c).
 */
export const GNTTABOP_CMD_MASK = 0xfff;

/** (16) dom u16; nr_frames; OUT status i16; frame_list pointer (OUT: MFNs). */
export const gnttab_setup_table = { sizeof: 16, dom: 0, nr_frames: 4, status: 8, frame_list: 12 } as const;
/** (32) host_addr u64; flags; ref; dom u16; OUT status i16, handle, dev_bus_addr u64. */
export const gnttab_map_grant_ref = {
  sizeof: 32,
  host_addr: 0,
  flags: 8,
  ref: 12,
  dom: 16,
  status: 18,
  handle: 20,
  dev_bus_addr: 24,
} as const;
/** (24) host_addr u64; dev_bus_addr u64; handle; OUT status i16. */
export const gnttab_unmap_grant_ref = { sizeof: 24, host_addr: 0, dev_bus_addr: 8, handle: 16, status: 20 } as const;
/** (24) source { ref|gmfn, domid u16, offset u16 }, dest { same }, len u16, flags u16, OUT status i16. */
export const gnttab_copy = {
  sizeof: 24,
  source_u: 0,
  source_domid: 4,
  source_offset: 6,
  dest_u: 8,
  dest_domid: 12,
  dest_offset: 14,
  len: 16,
  flags: 18,
  status: 20,
} as const;
/** (16) dom u16; OUT nr_frames, max_nr_frames, status i16. */
export const gnttab_query_size = { sizeof: 16, dom: 0, nr_frames: 4, max_nr_frames: 8, status: 12 } as const;
/** (4) IN/OUT version: 1 or 2; Xen writes back the version in force. */
export const gnttab_set_version = { sizeof: 4, version: 0 } as const;
/** (8) dom u16; pad u16; OUT version. */
export const gnttab_get_version = { sizeof: 8, dom: 0, version: 4 } as const;
/** (12) nr_frames; dom u16; OUT status i16; frame_list pointer (u64 entries; v2 status frames). */
export const gnttab_get_status_frames = { sizeof: 12, nr_frames: 0, dom: 4, status: 6, frame_list: 8 } as const;
/** (12) ref_a; ref_b; OUT status i16. */
export const gnttab_swap_grant_ref = { sizeof: 12, ref_a: 0, ref_b: 4, status: 8 } as const;
