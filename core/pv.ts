// core/pv.ts — the PV execution mode: ring 0 belongs to the host.
//
// Under EXEC_PV (DESIGN.md "Three execution modes") a Xen-style
// paravirtualized guest runs its kernel in ring 1 and its processes in
// ring 3; the hypervisor, in TypeScript, plays ring 0. The core changes
// three things and nothing else:
//
// - Events: any delivery that would enter ring 0 leaves run() as
//   EXIT_EXCEPTION instead, with EXIT_EVENT_KIND saying what it was — an
//   exception (a privileged instruction's #GP included), `int 0x82` (Xen's
//   hypercall vector), any other INT n, INT3, INTO, INT1, an external
//   interrupt — and the state as the handler would have seen it (EIP at a
//   fault, after a trap or an INT n; CR2 not written: the host puts the
//   address where XEN-ABI.md 5.2 says). The one exception is an INT n
//   whose vector the host marked in PV_DIRECT_VECTORS: it goes through the
//   IDT as on hardware, to the guest's ring-1 handler the host put in its
//   gate, with the stack switch from the TSS's SS1:ESP1 (Xen's fast
//   system-call trap, `int 0x80` with no exit).
// - System tables: the GDT, LDT, IDT and TSS are the host's, built in
//   machine memory the guest cannot map, so GDTR, LDTR, IDTR and TR hold
//   physical addresses (core/segment.ts readSystem32 and its kin).
// - Paging: PAE in Xen's "32-on-64" flavour (XEN-ABI.md section 1): the four
//   L3 entries are walked on every TLB miss like the entries below them,
//   with their R/W, U/S and A bits taking part, and are never loaded as
//   PDPTE registers at MOV CR3 (core/mmu.ts walkPae). The tables hold
//   machine frames the hypervisor validated before the core walks them.

import { EXEC_MODE, EXEC_PV, PV_DIRECT_VECTORS } from "./layout";
import { EVENT_SOFTWARE } from "./interrupt";

/** True when the host runs this CPU in the PV mode. */
// @ts-ignore: decorator
@inline export function pvMode(): bool {
  return load<u32>(EXEC_MODE) == EXEC_PV;
}

/** Under EXEC_PV: true when the event goes through the IDT (an INT n the host marked direct), false when it exits. */
export function pvDirect(vector: u32, kind: i32): bool {
  return kind == EVENT_SOFTWARE && ((load<u8>(PV_DIRECT_VECTORS + (vector >> 3)) >> (vector & 7)) & 1) != 0;
}
