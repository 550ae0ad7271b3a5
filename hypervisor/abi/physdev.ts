// hypervisor/abi/physdev.ts — physical-device operations, mirroring xen/include/public/physdev.h.
//
// A PV guest runs with IOPL 0; physdev_op(set_iopl) gives it a virtual IOPL
// that the hypervisor honours when it emulates the faulting in/out. Only the
// commands XEN-ABI.md 4 (physdev_op) names are here.

export const PHYSDEVOP_irq_status_query = 5;
export const PHYSDEVOP_set_iopl = 6;
export const PHYSDEVOP_set_iobitmap = 7;
export const PHYSDEVOP_eoi = 12;

/** (4) iopl: 0-3. */
export const physdev_set_iopl = { sizeof: 4, iopl: 0 } as const;
