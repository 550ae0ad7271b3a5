// hypervisor/abi/features.ts — feature flags, mirroring xen/include/public/features.h.
//
// xen_version(XENVER_get_features) reports which of these the hypervisor
// offers; a kernel's FEATURES ELF note names the ones it wants (a leading
// "!" marks a feature it cannot run without). Bits and the set Xen reports
// to a PV domU: XEN-ABI.md 4 (XENFEAT bits) and 7.1.

export const XENFEAT_writable_page_tables = 0;
export const XENFEAT_writable_descriptor_tables = 1;
export const XENFEAT_auto_translated_physmap = 2;
export const XENFEAT_supervisor_mode_kernel = 3;
export const XENFEAT_pae_pgdir_above_4gb = 4;
export const XENFEAT_mmu_pt_update_preserve_ad = 5;
export const XENFEAT_highmem_assist = 6;
export const XENFEAT_gnttab_map_avail_bits = 7;
export const XENFEAT_hvm_callback_vector = 8;
export const XENFEAT_hvm_safe_pvclock = 9;
export const XENFEAT_hvm_pirqs = 10;
export const XENFEAT_dom0 = 11;
export const XENFEAT_grant_map_identity = 12;
export const XENFEAT_memory_op_vnode_supported = 13;
export const XENFEAT_ARM_SMCCC_supported = 14;
export const XENFEAT_linux_rsdp_unrestricted = 15;
export const XENFEAT_not_direct_mapped = 16;
export const XENFEAT_direct_mapped = 17;
export const XENFEAT_runstate_phys_area = 18;
export const XENFEAT_vcpu_time_phys_area = 19;
export const XENFEAT_dm_msix_all_writes = 20;
export const XENFEAT_NR_FEATURES = 21;

/** Feature names as a FEATURES note spells them, by bit. */
export const XENFEAT_NAMES: readonly string[] = [
  "writable_page_tables",
  "writable_descriptor_tables",
  "auto_translated_physmap",
  "supervisor_mode_kernel",
  "pae_pgdir_above_4gb",
  "mmu_pt_update_preserve_ad",
  "highmem_assist",
  "gnttab_map_avail_bits",
  "hvm_callback_vector",
  "hvm_safe_pvclock",
  "hvm_pirqs",
  "dom0",
  "grant_map_identity",
  "memory_op_vnode_supported",
  "ARM_SMCCC_supported",
  "linux_rsdp_unrestricted",
  "not_direct_mapped",
  "direct_mapped",
  "runstate_phys_area",
  "vcpu_time_phys_area",
  "dm_msix_all_writes",
];

/** The submap-0 bits Xen reports to a 32-bit PV domU; pae_pgdir_above_4gb only with pae_extended_cr3. */
export function pvDomUFeatures(paeExtendedCr3: boolean): number {
  let bits = 0;
  for (const f of [
    XENFEAT_mmu_pt_update_preserve_ad,
    XENFEAT_highmem_assist,
    XENFEAT_gnttab_map_avail_bits,
    XENFEAT_memory_op_vnode_supported,
    XENFEAT_direct_mapped,
    XENFEAT_runstate_phys_area,
    XENFEAT_vcpu_time_phys_area,
    XENFEAT_dm_msix_all_writes,
  ]) bits |= 1 << f;
  if (paeExtendedCr3) bits |= 1 << XENFEAT_pae_pgdir_above_4gb;
  return bits >>> 0;
}
