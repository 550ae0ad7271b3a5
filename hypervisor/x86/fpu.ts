// hypervisor/x86/fpu.ts — fpu_taskswitch: the guest kernel's CR0.TS, and the #NM it causes.
//
// A PV kernel cannot write CR0, yet lazy FPU switching needs CR0.TS: set
// it at a task switch, take #NM at the next FPU instruction, load that
// task's FPU state, clear it. fpu_taskswitch(set) is Xen's way to do the
// setting (XEN-ABI.md 3): 1 sets TS, 0 clears it (any non-zero value
// sets, as in Xen's do_fpu_taskswitch). The virtual TS is the vCPU's real
// CR0.TS here, saved and restored with its registers.
//
// The core has no FPU: an x87 instruction raises #NM while CR0.TS is set
// and #UD otherwise (DESIGN.md). So the #NM a guest gets is always the one
// its TS asked for. Xen bounces it to the guest and clears the virtual TS
// in the same step (do_device_not_available), so that the guest's handler
// can use the FPU without a second hypercall; deviceNotAvailable does that
// clearing, when hypervisor/xen.ts bounces #NM.

import { __HYPERVISOR_fpu_taskswitch } from "../abi/xen.js";
import type { Cpu } from "../platform/cpu.js";
import { defineHypercall } from "../hypercall.js";

/** CR0.TS, "task switched". */
const CR0_TS = 1 << 3;

/** The #NM being bounced to the guest ends its virtual TS, as Xen ends it. */
export function deviceNotAvailable(cpu: Cpu): void {
  cpu.cr0 = cpu.cr0 & ~CR0_TS;
}

defineHypercall(__HYPERVISOR_fpu_taskswitch, (ctx, set) => {
  ctx.cpu.cr0 = set !== 0 ? ctx.cpu.cr0 | CR0_TS : ctx.cpu.cr0 & ~CR0_TS;
  return 0;
});
