// hypervisor/abi/hvm/params.ts — HVM parameters, mirroring xen/include/public/hvm/params.h.
//
// What a PV guest reads from start_info, an HVM guest reads as parameters:
// the xenstore and console ring frames and their event channels, and how
// event upcalls reach it. XEN-ABI.md 4 (hvm_op) and 10.

export const HVM_PARAM_CALLBACK_IRQ = 0;
export const HVM_PARAM_STORE_PFN = 1;
export const HVM_PARAM_STORE_EVTCHN = 2;
export const HVM_PARAM_PAE_ENABLED = 4;
export const HVM_PARAM_CONSOLE_PFN = 17;
export const HVM_PARAM_CONSOLE_EVTCHN = 18;
export const HVM_PARAM_NESTEDHVM = 24;

/** CALLBACK_IRQ's value: bits 63-56 say how the upcall is delivered. */
export const HVM_PARAM_CALLBACK_IRQ_TYPE_SHIFT = 56n;
/** A GSI in the low bits. */
export const HVM_PARAM_CALLBACK_TYPE_GSI = 0;
/** A PCI INTx line: domain 47-32, bus 31-16, devfn 15-8, INTx pin 1-0. */
export const HVM_PARAM_CALLBACK_TYPE_PCI_INTX = 1;
/** A vector in bits 7-0, delivered straight to the vCPU. */
export const HVM_PARAM_CALLBACK_TYPE_VECTOR = 2;

/** The delivery type a CALLBACK_IRQ value names. */
export function callbackIrqType(value: bigint): number {
  return Number((value >> HVM_PARAM_CALLBACK_IRQ_TYPE_SHIFT) & 0xffn);
}
