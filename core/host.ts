// core/host.ts — services the host calls so it never walks page tables itself.
//
// DESIGN.md: "The host never decodes x86 or walks page tables itself: the
// core exports what the hypervisor needs". Translation of a linear address
// through the current paging, for the host's own reads and writes of guest
// memory (a hypervisor copying a hypercall argument, a debugger, the trace).

import { clearFault, faulted, faultErrorCode } from "./fault";
import { translate } from "./mmu";

/**
 * The physical address of `linear` for an access of kind `access`
 * (core/mmu.ts ACCESS_*), or -1 when the translation faults. A host lookup
 * raises no exception in the guest and leaves CR2 alone.
 */
export function hostTranslate(linear: u32, access: i32): i64 {
  const pa = translate(linear, access);
  if (faulted()) {
    clearFault();
    return -1;
  }
  return <i64>pa;
}

/** The #PF error code of the last failed hostTranslate, for messages. */
export function hostLastFaultCode(): u32 {
  return faultErrorCode;
}
