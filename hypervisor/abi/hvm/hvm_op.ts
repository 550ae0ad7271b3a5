// hypervisor/abi/hvm/hvm_op.ts — HVM operations, mirroring xen/include/public/hvm/hvm_op.h.
//
// hvm_op(op, arg) is how an HVM or PVH guest (and the nested "blanket"
// layer) reads the parameters that tell it where xenstore and the console
// are, and how it asks for event delivery. XEN-ABI.md 4 (hvm_op) and 10.

export const HVMOP_set_param = 0;
export const HVMOP_get_param = 1;
export const HVMOP_set_pci_intx_level = 2;
export const HVMOP_set_isa_irq_level = 3;
export const HVMOP_set_pci_link_route = 4;
export const HVMOP_flush_tlbs = 5;
export const HVMOP_pagetable_dying = 9;
export const HVMOP_get_time = 10;
export const HVMOP_get_mem_type = 15;
export const HVMOP_set_evtchn_upcall_vector = 23;
export const HVMOP_altp2m = 25;

/** struct xen_hvm_param (16): domid u16; pad; index u32 (HVM_PARAM_*); value u64. */
export const xen_hvm_param = { sizeof: 16, domid: 0, pad: 2, index: 4, value: 8 } as const;
