// hypervisor/abi/arch_x86_32.ts — the x86 and x86_32 parts of the ABI, mirroring
// xen/include/public/arch-x86/xen.h and arch-x86/xen-x86_32.h.
//
// A 32-bit PV kernel runs in ring 1 on flat segments that live in Xen's
// reserved part of every GDT, and everything from HYPERVISOR_VIRT_START up
// (the hypervisor hole, which begins with the read-only M2P table) belongs to
// the hypervisor. Only the PAE flavour exists on a modern Xen (XEN-ABI.md
// 1.1), so the PAE values are the ones exported. Offsets are the x86_32
// layouts of XEN-ABI.md 4-6, where u64 is 4-byte aligned and longs are 4 bytes.

// ------------------------------------------------------------ selectors (XEN-ABI.md 5.1)

/** GDT pages a guest may use before Xen's reserved entries: 14 pages of 512 descriptors. */
export const FIRST_RESERVED_GDT_PAGE = 14;
export const FIRST_RESERVED_GDT_BYTE = FIRST_RESERVED_GDT_PAGE * 4096;
export const FIRST_RESERVED_GDT_ENTRY = FIRST_RESERVED_GDT_BYTE / 8;

/** Flat 4 GiB segments Xen provides in every GDT; RPL says the ring. */
export const FLAT_RING1_CS = 0xe019;
export const FLAT_RING1_DS = 0xe021;
export const FLAT_RING1_SS = 0xe021;
export const FLAT_RING3_CS = 0xe02b;
export const FLAT_RING3_DS = 0xe033;
export const FLAT_RING3_SS = 0xe033;
export const FLAT_KERNEL_CS = FLAT_RING1_CS;
export const FLAT_KERNEL_DS = FLAT_RING1_DS;
export const FLAT_KERNEL_SS = FLAT_RING1_SS;
export const FLAT_USER_CS = FLAT_RING3_CS;
export const FLAT_USER_DS = FLAT_RING3_DS;
export const FLAT_USER_SS = FLAT_RING3_SS;

// ------------------------------------------------------------ the hypervisor hole (XEN-ABI.md 1.5, 7.3)

/** The hole starts here for PAE guests; a guest may map nothing at or above it. */
export const HYPERVISOR_VIRT_START_PAE = 0xf5800000;
/** The read-only M2P table: one u32 PFN per MFN, readable by the guest. */
export const MACH2PHYS_VIRT_START_PAE = 0xf5800000;
/** End of the M2P window the header names (16 MiB); 64-bit Xen's compat M2P may run on to 0xFFE00000. */
export const MACH2PHYS_VIRT_END_PAE = 0xf6800000;
export const HYPERVISOR_VIRT_START = HYPERVISOR_VIRT_START_PAE;
export const MACH2PHYS_VIRT_START = MACH2PHYS_VIRT_START_PAE;
export const MACH2PHYS_VIRT_END = MACH2PHYS_VIRT_END_PAE;
/** M2P entries the header window holds: 4 Mi u32 values. */
export const MACH2PHYS_NR_ENTRIES = (MACH2PHYS_VIRT_END - MACH2PHYS_VIRT_START) >>> 2;

// ------------------------------------------------------------ CR3 (XEN-ABI.md 7.2)

/** A PAE guest's CR3 as Xen packs it, so that an L3 above 4 GiB still fits 32 bits. */
export function xen_pfn_to_cr3(pfn: number): number {
  return ((pfn << 12) | (pfn >>> 20)) >>> 0;
}

export function xen_cr3_to_pfn(cr3: number): number {
  return ((cr3 >>> 12) | (cr3 << 20)) >>> 0;
}

// ------------------------------------------------------------ hypercall entry (XEN-ABI.md 2.1, 1.8)

/** `int 0x82` enters the hypervisor; EAX is the number, EBX ECX EDX ESI EDI the arguments. */
export const HYPERCALL_VECTOR = 0x82;

/** `ud2; .ascii "xen"`: the prefix that makes the next instruction (CPUID) trap to Xen. */
export const XEN_EMULATE_PREFIX: readonly number[] = [0x0f, 0x0b, 0x78, 0x65, 0x6e];
/** The forced-emulation CPUID: the prefix, then `cpuid`. */
export const XEN_CPUID: readonly number[] = [...XEN_EMULATE_PREFIX, 0x0f, 0xa2];

// ------------------------------------------------------------ trap_info (XEN-ABI.md 4, 5.2)

/** struct trap_info (8 bytes): one entry of set_trap_table's array, ended by address 0. */
export const trap_info = { sizeof: 8, vector: 0, flags: 1, cs: 2, address: 4 } as const;

/** flags bits 0-1: the highest ring that may raise the vector with `int n`. */
export function TI_GET_DPL(flags: number): number {
  return flags & 3;
}

/** flags bit 2: deliver with events masked, like an interrupt gate clearing IF. */
export function TI_GET_IF(flags: number): boolean {
  return (flags & 4) !== 0;
}

export interface TrapInfo {
  vector: number;
  flags: number;
  cs: number;
  address: number;
}

export function readTrapInfo(view: DataView, at: number): TrapInfo {
  return {
    vector: view.getUint8(at + trap_info.vector),
    flags: view.getUint8(at + trap_info.flags),
    cs: view.getUint16(at + trap_info.cs, true),
    address: view.getUint32(at + trap_info.address, true),
  };
}

// ------------------------------------------------------------ shared structures (XEN-ABI.md 6.2, 6.3)

/** vcpu_info slots in shared_info: vCPUs beyond them must register their own (VCPUOP_register_vcpu_info). */
export const XEN_LEGACY_MAX_VCPUS = 32;

/** struct arch_vcpu_info (24 bytes): CR2 of the last page fault bounced to the guest. */
export const arch_vcpu_info = { sizeof: 24, cr2: 0, pad: 4 } as const;

/** struct arch_shared_info (28 bytes), at shared_info.arch; offsets within it. */
export const arch_shared_info = {
  sizeof: 28,
  max_pfn: 0,
  pfn_to_mfn_frame_list_list: 4,
  nmi_reason: 8,
  p2m_cr3: 12,
  p2m_vaddr: 16,
  p2m_generation: 20,
  wc_sec_hi: 24,
} as const;
