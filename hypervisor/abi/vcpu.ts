// hypervisor/abi/vcpu.ts — per-vCPU operations, mirroring xen/include/public/vcpu.h.
//
// vcpu_op(cmd, vcpuid, arg) brings vCPUs up and down, runs their timers
// (every PV vCPU starts with a 10 ms periodic VIRQ_TIMER), moves vcpu_info
// out of shared_info, and reports runstate. Numbers and layouts: XEN-ABI.md 4.

export const VCPUOP_initialise = 0;
export const VCPUOP_up = 1;
export const VCPUOP_down = 2;
export const VCPUOP_is_up = 3;
export const VCPUOP_get_runstate_info = 4;
export const VCPUOP_register_runstate_memory_area = 5;
export const VCPUOP_set_periodic_timer = 6;
export const VCPUOP_stop_periodic_timer = 7;
export const VCPUOP_set_singleshot_timer = 8;
export const VCPUOP_stop_singleshot_timer = 9;
export const VCPUOP_register_vcpu_info = 10;
export const VCPUOP_send_nmi = 11;
export const VCPUOP_get_physid = 12;
export const VCPUOP_register_vcpu_time_memory_area = 13;
export const VCPUOP_register_runstate_phys_area = 14;
export const VCPUOP_register_vcpu_time_phys_area = 15;

/** (8) period_ns u64. */
export const vcpu_set_periodic_timer = { sizeof: 8, period_ns: 0 } as const;

/** (12) timeout_abs_ns u64; flags. */
export const vcpu_set_singleshot_timer = { sizeof: 12, timeout_abs_ns: 0, flags: 8 } as const;
/** Fail with -ETIME instead of firing at once when the timeout is already past. */
export const VCPU_SSHOTTMR_future = 1;

/** (16) mfn u64 of the page that will hold the vcpu_info; offset within it; rsvd. */
export const vcpu_register_vcpu_info = { sizeof: 16, mfn: 0, offset: 8, rsvd: 12 } as const;

/** (44) state; state_entry_time u64; time[4] u64, ns spent in each state. */
export const vcpu_runstate_info = { sizeof: 44, state: 0, state_entry_time: 4, time: 12 } as const;

export const RUNSTATE_running = 0;
export const RUNSTATE_runnable = 1;
export const RUNSTATE_blocked = 2;
export const RUNSTATE_offline = 3;

export interface RunstateInfo {
  state: number;
  state_entry_time: bigint;
  /** Nanoseconds in running, runnable, blocked, offline. */
  time: readonly [bigint, bigint, bigint, bigint];
}

export function writeRunstateInfo(view: DataView, at: number, info: RunstateInfo): void {
  view.setUint32(at + vcpu_runstate_info.state, info.state, true);
  view.setBigUint64(at + vcpu_runstate_info.state_entry_time, info.state_entry_time, true);
  for (let i = 0; i < 4; i++) view.setBigUint64(at + vcpu_runstate_info.time + 8 * i, info.time[i]!, true);
}
