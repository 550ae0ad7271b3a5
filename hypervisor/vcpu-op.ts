// hypervisor/vcpu-op.ts — vcpu_op (hypercall 24): vCPUs up and down, their timers, vcpu_info, runstate.
//
// vcpu_op(cmd, vcpuid, arg) acts on one vCPU of the calling domain; a
// vcpuid the domain does not have is -ENOENT before anything else (Xen's
// common_vcpu_op). The timers are the vCPU's own (hypervisor/time.ts): the
// periodic one may be set for any vCPU of the domain, the single-shot one
// only by the vCPU itself (-EINVAL otherwise). A single-shot timeout
// already past raises VIRQ_TIMER at once; the VCPU_SSHOTTMR_future flag is
// ignored, as Xen has done since 4.18. Layouts: XEN-ABI.md 4 (vcpu_op).
//
// VCPUOP_initialise gives a vCPU that has never run its registers and
// tables (hypervisor/x86/context.ts): once only (-EEXIST after, as for
// vCPU 0, which the builder set up); VCPUOP_up before it is -EINVAL.
//
// Not offered yet, and -ENOSYS: the runstate and time memory areas,
// send_nmi, get_physid.

import { EEXIST, EFAULT, EINVAL, ENOENT, ENOSYS } from "./abi/errno.js";
import { readVcpuGuestContext, vcpu_guest_context } from "./abi/arch_x86_32.js";
import { initialiseVcpu } from "./x86/context.js";
import { SHUTDOWN_poweroff } from "./abi/sched.js";
import {
  VCPUOP_down, VCPUOP_get_runstate_info, VCPUOP_initialise, VCPUOP_is_up, VCPUOP_register_vcpu_info, VCPUOP_set_periodic_timer,
  VCPUOP_set_singleshot_timer, VCPUOP_stop_periodic_timer, VCPUOP_stop_singleshot_timer, VCPUOP_up,
  vcpu_register_vcpu_info, vcpu_runstate_info, vcpu_set_periodic_timer, vcpu_set_singleshot_timer, writeRunstateInfo,
} from "./abi/vcpu.js";
import { VIRQ_TIMER, __HYPERVISOR_vcpu_op } from "./abi/xen.js";
import { type HypercallContext, copyFromGuest, copyToGuest, defineHypercall } from "./hypercall.js";
import { MIN_PERIOD_NS } from "./time.js";

/** Xen's STIME_DELTA_MAX: the longest period, chosen so that now + period cannot overflow. */
const STIME_DELTA_MAX = (1n << 62n) - 1n;

function vcpuOp(ctx: HypercallContext, cmd: number, vcpuid: number, arg: number): number {
  const vcpu = Number.isInteger(vcpuid) ? ctx.domain.vcpus[vcpuid] : undefined;
  if (!vcpu) return -ENOENT;
  const events = ctx.xen.events;
  const read = (size: number): DataView | null => {
    const bytes = copyFromGuest(ctx, arg, size);
    return bytes === null ? null : new DataView(bytes.buffer);
  };
  switch (cmd) {
    case VCPUOP_initialise: {
      const bytes = copyFromGuest(ctx, arg, vcpu_guest_context.sizeof);
      if (bytes === null) return -EFAULT;
      if (vcpu.initialised) return -EEXIST;
      return initialiseVcpu(ctx, vcpu, readVcpuGuestContext(new DataView(bytes.buffer)));
    }
    case VCPUOP_up:
      return events.vcpuUp(vcpu);
    case VCPUOP_down:
      return events.vcpuDown(vcpu, () => ctx.xen.shutdownDomain(ctx.domain, SHUTDOWN_poweroff));
    case VCPUOP_is_up:
      return events.isUp(vcpu) ? 1 : 0;
    case VCPUOP_get_runstate_info: {
      const bytes = new Uint8Array(vcpu_runstate_info.sizeof);
      writeRunstateInfo(new DataView(bytes.buffer), 0, events.runstateInfo(vcpu));
      return copyToGuest(ctx, arg, bytes) ? 0 : -EFAULT;
    }
    case VCPUOP_set_periodic_timer: {
      const view = read(vcpu_set_periodic_timer.sizeof);
      if (view === null) return -EFAULT;
      const period = view.getBigUint64(vcpu_set_periodic_timer.period_ns, true);
      if (period < BigInt(MIN_PERIOD_NS) || period > STIME_DELTA_MAX) return -EINVAL;
      events.timersOf(vcpu).setPeriodic(Number(period));
      return 0;
    }
    case VCPUOP_stop_periodic_timer:
      events.timersOf(vcpu).setPeriodic(0);
      return 0;
    case VCPUOP_set_singleshot_timer: {
      if (vcpu !== ctx.vcpu) return -EINVAL;
      const view = read(vcpu_set_singleshot_timer.sizeof);
      if (view === null) return -EFAULT;
      const timeout = view.getBigUint64(vcpu_set_singleshot_timer.timeout_abs_ns, true);
      const timers = events.timersOf(vcpu);
      if (timeout < BigInt(ctx.xen.clock.now())) {
        timers.singleshot.cancel();
        events.channelsOf(ctx.domain).sendVcpuVirq(vcpu.id, VIRQ_TIMER);
      } else timers.setSingleshot(timeout);
      return 0;
    }
    case VCPUOP_stop_singleshot_timer:
      if (vcpu !== ctx.vcpu) return -EINVAL;
      events.timersOf(vcpu).singleshot.cancel();
      return 0;
    case VCPUOP_register_vcpu_info: {
      const view = read(vcpu_register_vcpu_info.sizeof);
      if (view === null) return -EFAULT;
      return events.registerVcpuInfo(
        vcpu,
        view.getBigUint64(vcpu_register_vcpu_info.mfn, true),
        view.getUint32(vcpu_register_vcpu_info.offset, true),
      );
    }
    default:
      return -ENOSYS;
  }
}

defineHypercall(__HYPERVISOR_vcpu_op, (ctx, cmd, vcpuid, arg) => vcpuOp(ctx, cmd, vcpuid, arg));
