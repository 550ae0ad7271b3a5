// hypervisor/abi/callback.ts — guest entry points, mirroring xen/include/public/callback.h.
//
// callback_op(CALLBACKOP_register, &cb) tells the hypervisor where events
// (the upcall), failsafe segment-reload failures, and system calls enter the
// guest kernel. XTF registers event, syscall32 and sysenter and panics on
// any error, so all are accepted (XEN-ABI.md 4, callback_register).

export const CALLBACKTYPE_event = 0;
export const CALLBACKTYPE_failsafe = 1;
export const CALLBACKTYPE_syscall = 2;
export const CALLBACKTYPE_sysenter_deprecated = 3;
export const CALLBACKTYPE_nmi = 4;
export const CALLBACKTYPE_sysenter = 5;
export const CALLBACKTYPE_syscall32 = 7;

/** callback_register.flags bit 0: enter with events masked. */
export const CALLBACKF_mask_events = 1;

export const CALLBACKOP_register = 0;
/** Unregistering event, failsafe or syscall is -EINVAL. */
export const CALLBACKOP_unregister = 1;

/** struct callback_register (12): type u16; flags u16; address = { cs u32, eip u32 }. */
export const callback_register = { sizeof: 12, type: 0, flags: 2, address_cs: 4, address_eip: 8 } as const;

export interface CallbackRegister {
  type: number;
  flags: number;
  cs: number;
  eip: number;
}

export function readCallbackRegister(view: DataView, at: number): CallbackRegister {
  return {
    type: view.getUint16(at + callback_register.type, true),
    flags: view.getUint16(at + callback_register.flags, true),
    cs: view.getUint32(at + callback_register.address_cs, true),
    eip: view.getUint32(at + callback_register.address_eip, true),
  };
}
