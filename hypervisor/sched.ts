// hypervisor/sched.ts — sched_op: a vCPU gives up the CPU, waits, or ends its domain.
//
// SCHEDOP_yield ends the vCPU's slice; SCHEDOP_block unmasks events and
// sleeps until one is pending for it, SCHEDOP_poll until one of some ports
// is pending or a timeout passes (hypervisor/events.ts); SCHEDOP_shutdown
// ends the domain with one of Xen's reasons (sched.h), after which the
// toolstack decides what happens (on_poweroff, on_crash in the config).
// Before yielding, blocking or polling the rings the domain shares with
// domain 0 are serviced (the console's and the store's): XTF's console
// writer spins in SCHEDOP_yield until the backend has drained it
// (XEN-ABI.md 11), a xenstore client waits the same way for its reply, and
// a reply notifies the port a block or poll waits on.

import { EFAULT, EINVAL, ENOSYS, EPERM } from "./abi/errno.js";
import {
  SCHEDOP_block, SCHEDOP_poll, SCHEDOP_remote_shutdown, SCHEDOP_shutdown, SCHEDOP_shutdown_code, SCHEDOP_yield, SHUTDOWN_NAMES,
} from "./abi/sched.js";
import { __HYPERVISOR_sched_op } from "./abi/xen.js";
import { defineHypercall, readGuestU32 } from "./hypercall.js";

defineHypercall(__HYPERVISOR_sched_op, (ctx, cmd, arg) => {
  switch (cmd) {
    case SCHEDOP_yield:
      ctx.xen.events.serviceBackends(ctx.domain);
      ctx.xen.yieldVcpu(ctx.vcpu);
      return 0;
    case SCHEDOP_block:
      ctx.xen.events.serviceBackends(ctx.domain);
      ctx.xen.events.blockEnableEvents(ctx.vcpu);
      return 0;
    case SCHEDOP_poll:
      ctx.xen.events.serviceBackends(ctx.domain);
      return ctx.xen.events.poll(ctx, arg);
    case SCHEDOP_shutdown: {
      const reason = readGuestU32(ctx, arg);
      if (reason === null) return -EFAULT;
      if (SHUTDOWN_NAMES[reason] === undefined) return -EINVAL;
      ctx.xen.shutdownDomain(ctx.domain, reason);
      return 0;
    }
    case SCHEDOP_shutdown_code: {
      const reason = readGuestU32(ctx, arg);
      if (reason === null) return -EFAULT;
      if (SHUTDOWN_NAMES[reason] === undefined) return -EINVAL;
      ctx.domain.shutdownCode = reason;
      return 0;
    }
    case SCHEDOP_remote_shutdown:
      // Only a privileged domain may shut another down; no guest is privileged yet.
      return -EPERM;
    default:
      return -ENOSYS;
  }
});
