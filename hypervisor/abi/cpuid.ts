// hypervisor/abi/cpuid.ts — the hypervisor's CPUID leaves, mirroring xen/include/public/arch-x86/cpuid.h.
//
// A guest finds Xen by scanning leaves 0x40000000 + k*0x100 for the
// signature "XenVMMXenVMM" in EBX, ECX, EDX; the leaves after it give the
// version, the hypercall page MSR and feature bits. A PV guest sees them
// only through the forced-emulation CPUID (XEN-ABI.md 1.8, 2.2).

export const XEN_CPUID_FIRST_LEAF = 0x40000000;
/** Xen's block of leaves may start at any 0x100 step past the first (Viridian takes the first)... */
export const XEN_CPUID_LEAF_STRIDE = 0x100;
/** ...and a guest scans this many of them. */
export const XEN_CPUID_MAX_BASES = 0x100;

/** Leaf i of Xen's block when it starts at the first base. */
export function XEN_CPUID_LEAF(i: number): number {
  return (XEN_CPUID_FIRST_LEAF + i) >>> 0;
}

/** Leaf base+0: EAX the highest Xen leaf; EBX ECX EDX spell "XenVMMXenVMM". */
export const XEN_CPUID_SIGNATURE_EBX = 0x566e6558;
export const XEN_CPUID_SIGNATURE_ECX = 0x65584d4d;
export const XEN_CPUID_SIGNATURE_EDX = 0x4d4d566e;

/** Leaf base+2: ECX bit 0, mmu_update accepts MMU_PT_UPDATE_PRESERVE_AD (PV only). */
export const XEN_CPUID_FEAT1_MMU_PT_UPDATE_PRESERVE_AD = 1 << 0;

/** Leaf base+4 (HVM): EAX feature bits. */
export const XEN_HVM_CPUID_APIC_ACCESS_VIRT = 1 << 0;
export const XEN_HVM_CPUID_X2APIC_VIRT = 1 << 1;
export const XEN_HVM_CPUID_IOMMU_MAPPINGS = 1 << 2;
export const XEN_HVM_CPUID_VCPU_ID_PRESENT = 1 << 3;
export const XEN_HVM_CPUID_DOMID_PRESENT = 1 << 4;
export const XEN_HVM_CPUID_EXT_DEST_ID = 1 << 5;
export const XEN_HVM_CPUID_UPCALL_VECTOR = 1 << 6;

/** The MSR an HVM guest writes the hypercall page's address to (0x40000200 when Viridian is exposed). */
export const XEN_HYPERCALL_MSR = 0x40000000;
