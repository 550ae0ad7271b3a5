// hypervisor/abi/sched.ts — scheduler operations, mirroring xen/include/public/sched.h.
//
// sched_op(cmd, arg) yields, blocks until an event is pending (clearing
// evtchn_upcall_mask as it does), polls a set of ports, or shuts the domain
// down with a reason the toolstack acts on. Numbers and layouts: XEN-ABI.md 4.

export const SCHEDOP_yield = 0;
export const SCHEDOP_block = 1;
export const SCHEDOP_shutdown = 2;
export const SCHEDOP_poll = 3;
export const SCHEDOP_remote_shutdown = 4;
export const SCHEDOP_shutdown_code = 5;
export const SCHEDOP_watchdog = 6;
export const SCHEDOP_pin_override = 7;

export const SHUTDOWN_poweroff = 0;
export const SHUTDOWN_reboot = 1;
export const SHUTDOWN_suspend = 2;
export const SHUTDOWN_crash = 3;
export const SHUTDOWN_watchdog = 4;
export const SHUTDOWN_soft_reset = 5;

/** Shutdown reasons by number, as xl prints them. */
export const SHUTDOWN_NAMES: Readonly<Record<number, string>> = {
  [SHUTDOWN_poweroff]: "poweroff",
  [SHUTDOWN_reboot]: "reboot",
  [SHUTDOWN_suspend]: "suspend",
  [SHUTDOWN_crash]: "crash",
  [SHUTDOWN_watchdog]: "watchdog",
  [SHUTDOWN_soft_reset]: "soft_reset",
};

/** (4) reason. */
export const sched_shutdown = { sizeof: 4, reason: 0 } as const;
/** (16) ports: pointer to an array of u32 ports; nr_ports; timeout: u64 absolute system time, 0 = none. */
export const sched_poll = { sizeof: 16, ports: 0, nr_ports: 4, timeout: 8 } as const;
/** (8) domain_id u16; reason. */
export const sched_remote_shutdown = { sizeof: 8, domain_id: 0, reason: 4 } as const;

export interface SchedPoll {
  ports: number;
  nr_ports: number;
  timeout: bigint;
}

export function readSchedPoll(view: DataView, at: number): SchedPoll {
  return {
    ports: view.getUint32(at + sched_poll.ports, true),
    nr_ports: view.getUint32(at + sched_poll.nr_ports, true),
    timeout: view.getBigUint64(at + sched_poll.timeout, true),
  };
}
