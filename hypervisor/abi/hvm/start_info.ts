// hypervisor/abi/hvm/start_info.ts — the PVH start info, mirroring xen/include/public/arch-x86/hvm/start_info.h.
//
// A PVH kernel enters at its PHYS32_ENTRY note in 32-bit protected mode with
// paging off and EBX holding the physical address of this structure, which
// points on to the modules, the command line, the RSDP and the memory map.
// XEN-ABI.md 6.6.

export const XEN_HVM_START_MAGIC_VALUE = 0x336ec578;

/** struct hvm_start_info (56). Addresses are physical, u64. */
export const hvm_start_info = {
  sizeof: 56,
  magic: 0,
  version: 4,
  flags: 8,
  nr_modules: 12,
  modlist_paddr: 16,
  cmdline_paddr: 24,
  rsdp_paddr: 32,
  memmap_paddr: 40,
  memmap_entries: 48,
  reserved: 52,
} as const;

/** struct hvm_modlist_entry (32). */
export const hvm_modlist_entry = { sizeof: 32, paddr: 0, size: 8, cmdline_paddr: 16, reserved: 24 } as const;

/** struct hvm_memmap_table_entry (24): an e820-style range. */
export const hvm_memmap_table_entry = { sizeof: 24, addr: 0, size: 8, type: 16, reserved: 20 } as const;

export const XEN_HVM_MEMMAP_TYPE_RAM = 1;
export const XEN_HVM_MEMMAP_TYPE_RESERVED = 2;
export const XEN_HVM_MEMMAP_TYPE_ACPI = 3;
export const XEN_HVM_MEMMAP_TYPE_NVS = 4;
export const XEN_HVM_MEMMAP_TYPE_UNUSABLE = 5;
export const XEN_HVM_MEMMAP_TYPE_DISABLED = 6;
export const XEN_HVM_MEMMAP_TYPE_PMEM = 7;
