// hypervisor/time.ts — Xen's time for PV guests: system time, the wallclock, vCPU timers, runstate.
//
// A PV guest never programs a timer chip. It reads the time from memory
// the hypervisor keeps true, and asks for timer events on VIRQ_TIMER:
//   - vcpu_time_info, in each vcpu_info (XEN-ABI.md 6.1): system time (ns
//     since the hypervisor started) at a TSC stamp, and the scale that
//     turns TSC ticks into ns, so the guest extrapolates from RDTSC:
//     time = system_time + ((tsc - tsc_timestamp) << shift) * mul >> 32.
//     The version is a seqlock: odd while the hypervisor rewrites it.
//   - the wallclock in shared_info: wc_sec/wc_nsec are the calendar time
//     at system time 0, so wall time = wallclock + system time.
//   - a single-shot timer (set_timer_op, VCPUOP_set_singleshot_timer) and
//     a periodic one, 10 ms from the start for a PV vCPU. As in Xen's
//     scheduler (xen/common/sched/core.c), the periodic timer runs only
//     while its vCPU is on the CPU: it stops when the vCPU is switched out
//     (blocked included) and on the way back in delivers the tick it missed.
//     A kernel that blocks sets a single-shot timer to be woken.
//
// The TSC is the clock. The core adds one per instruction; in
// deterministic mode that is the clock itself, and when an idle machine
// skips ahead to its next timer, or in real time when the host is slower
// than one instruction per ns, the hypervisor moves the TSC up to the
// clock before a vCPU runs (DESIGN.md, "Time and determinism"; the bare
// machine does the same). So the TSC counts nanoseconds in both modes, the
// honest scale is exactly 1 GHz (tsc_shift 1, tsc_to_system_mul 2^31, as
// Xen's set_time_scale works it out), and the relation never drifts: the
// guest's extrapolation never runs ahead of the clock.

import { RUNSTATE_offline, type RunstateInfo } from "./abi/vcpu.js";
import {
  XEN_PVCLOCK_TSC_STABLE_BIT, __HYPERVISOR_set_timer_op, shared_info, vcpu_info, vcpu_time_info,
} from "./abi/xen.js";
import type { Clock, Timer } from "./clock.js";
import { NS_PER_SECOND } from "./clock.js";
import { defineHypercall } from "./hypercall.js";

/** Xen's default timer for a PV vCPU: "PV guests by default have a 100Hz ticker". */
export const PV_DEFAULT_PERIOD_NS = 10_000_000;
/** Shortest period VCPUOP_set_periodic_timer takes: MILLISECS(1). */
export const MIN_PERIOD_NS = 1_000_000;
/** set_timer_op: a timeout this far ahead (2^50 ns, about 13 days) or wrapped negative is taken as 100 ms. */
const SET_TIMER_HUGE = 1n << 50n;
const SET_TIMER_HUGE_FALLBACK_NS = 100_000_000;
/** wc_sec_hi, the upper half of the seconds, in shared_info's x86_32 arch part (XEN-ABI.md 6.3). */
const SHARED_INFO_WC_SEC_HI = 2340;

/** A tsc_to_system_mul and tsc_shift pair (XEN-ABI.md 6.1). */
export interface TimeScale {
  mul: number;
  shift: number;
}

/**
 * Xen's set_time_scale: the shift that brings the tick rate into (1e9,
 * 2e9], and mul = 2^32 * 1e9 / (rate shifted), so that
 * ns = ((ticks << shift) * mul) >> 32.
 */
export function timeScale(ticksPerSecond: number): TimeScale {
  if (!(ticksPerSecond >= 1)) throw new RangeError(`a TSC rate of ${ticksPerSecond} Hz cannot be scaled`);
  let tps = BigInt(Math.round(ticksPerSecond));
  const second = BigInt(NS_PER_SECOND);
  let shift = 0;
  while (tps > second * 2n) {
    tps >>= 1n;
    shift--;
  }
  while (tps <= second) {
    tps <<= 1n;
    shift++;
  }
  return { mul: Number((second << 32n) / tps), shift };
}

/** The TSC runs at 1 GHz of virtual time (see above). */
export const TSC_SCALE: TimeScale = timeScale(NS_PER_SECOND);

/** What the time writers need: reads of machine memory and the one write path into it. */
export interface TimeMemory {
  read32(pa: number): number;
  writePhysical(pa: number, bytes: Uint8Array): void;
}

/** Xen's version_update_begin: odd while an update is under way. */
const versionBegin = (v: number): number => ((v + 1) | 1) >>> 0;
/** version_update_end: even again. */
const versionEnd = (v: number): number => (v + 1) >>> 0;

/** Writes vcpu_time_info at `vcpuInfoMa` + 32 under its seqlock (Xen's update_vcpu_system_time). */
export function writeVcpuTime(mem: TimeMemory, vcpuInfoMa: number, tsc: bigint, systemTime: number, scale = TSC_SCALE): void {
  const at = vcpuInfoMa + vcpu_info.time;
  const version = versionBegin(mem.read32(at + vcpu_time_info.version));
  const u32 = new Uint8Array(4);
  new DataView(u32.buffer).setUint32(0, version, true);
  mem.writePhysical(at + vcpu_time_info.version, u32);
  const body = new Uint8Array(vcpu_time_info.sizeof - vcpu_time_info.tsc_timestamp);
  const view = new DataView(body.buffer);
  const off = (field: number) => field - vcpu_time_info.tsc_timestamp;
  view.setBigUint64(off(vcpu_time_info.tsc_timestamp), BigInt.asUintN(64, tsc), true);
  view.setBigUint64(off(vcpu_time_info.system_time), BigInt(Math.max(0, Math.floor(systemTime))), true);
  view.setUint32(off(vcpu_time_info.tsc_to_system_mul), scale.mul >>> 0, true);
  view.setInt8(off(vcpu_time_info.tsc_shift), scale.shift);
  view.setUint8(off(vcpu_time_info.flags), XEN_PVCLOCK_TSC_STABLE_BIT);
  mem.writePhysical(at + vcpu_time_info.tsc_timestamp, body);
  new DataView(u32.buffer).setUint32(0, versionEnd(version), true);
  mem.writePhysical(at + vcpu_time_info.version, u32);
}

/** Writes the wallclock (calendar time at system time 0) into shared_info under wc_version (update_domain_wallclock_time). */
export function writeWallclock(mem: TimeMemory, sharedInfoMa: number, epochMs: number): void {
  const ms = Math.floor(epochMs);
  const sec = Math.floor(ms / 1000);
  const nsec = (ms - sec * 1000) * 1_000_000;
  const version = versionBegin(mem.read32(sharedInfoMa + shared_info.wc_version));
  const u32 = (pa: number, v: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    mem.writePhysical(pa, b);
  };
  u32(sharedInfoMa + shared_info.wc_version, version);
  u32(sharedInfoMa + shared_info.wc_sec, sec % 2 ** 32);
  u32(sharedInfoMa + shared_info.wc_nsec, nsec);
  u32(sharedInfoMa + SHARED_INFO_WC_SEC_HI, Math.floor(sec / 2 ** 32));
  u32(sharedInfoMa + shared_info.wc_version, versionEnd(version));
}

/**
 * A deadline in ns as a clock timer can hold it, or null for "never": the
 * clock counts in exact integers up to 2^53 ns (104 days), and a timer a
 * guest sets beyond that could only ever fire after the run has ended.
 */
export function reachableDeadline(deadline: bigint | number): number | null {
  const d = typeof deadline === "bigint" ? deadline : BigInt(Math.floor(deadline));
  return d > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(d < 0n ? 0n : d);
}

/**
 * The timers of one vCPU. `timerEvent` raises VIRQ_TIMER on it (Xen's
 * send_timer_event); `pollTimeout` ends a SCHEDOP_poll that waited too long.
 */
export class VcpuTimers {
  readonly singleshot: Timer;
  readonly periodic: Timer;
  readonly poll: Timer;
  /** ns between periodic ticks; 0 when stopped. */
  periodicPeriod = PV_DEFAULT_PERIOD_NS;
  /** System time of the last periodic tick (Xen starts it at 0). */
  periodicLastEvent = 0;

  constructor(
    private readonly clock: Clock,
    name: string,
    private readonly timerEvent: () => void,
    pollTimeout: () => void,
  ) {
    this.singleshot = clock.timer(`${name} singleshot`, () => timerEvent());
    this.periodic = clock.timer(`${name} periodic`, () => this.periodicWork());
    this.poll = clock.timer(`${name} poll`, () => pollTimeout());
  }

  /** Arms the single-shot timer for system time `deadline`; one in the past fires at once. */
  setSingleshot(deadline: bigint | number): void {
    const at = reachableDeadline(deadline);
    if (at === null) this.singleshot.cancel();
    else this.singleshot.arm(at);
  }

  /**
   * set_timer_op(timeout): 0 cancels; a timeout wrapped negative or more
   * than 2^50 ns ahead is Linux's jiffies wrapping, and Xen answers it
   * with an event in 100 ms (do_set_timer_op).
   */
  setTimerOp(timeout: bigint): void {
    const signed = BigInt.asIntN(64, timeout);
    const offset = signed - BigInt(this.clock.now());
    if (signed === 0n) this.singleshot.cancel();
    else if (signed < 0n || offset >= SET_TIMER_HUGE) this.singleshot.arm(this.clock.now() + SET_TIMER_HUGE_FALLBACK_NS);
    else this.setSingleshot(signed);
  }

  /** vcpu_set_periodic_timer: a new period (0 stops it), counted from the last tick. */
  setPeriodic(period: number): void {
    this.periodic.cancel();
    this.periodicPeriod = period;
    if (period !== 0) this.periodicWork();
  }

  /** vcpu_periodic_timer_work: a tick if a period has passed since the last, then the timer armed for the next. */
  periodicWork(): void {
    if (this.periodicPeriod === 0) return;
    const now = this.clock.now();
    let next = this.periodicLastEvent + this.periodicPeriod;
    if (now >= next) {
      this.timerEvent();
      this.periodicLastEvent = now;
      next = now + this.periodicPeriod;
    }
    const at = reachableDeadline(next);
    if (at === null) this.periodic.cancel();
    else this.periodic.arm(at);
  }

  /** The vCPU left the CPU: its periodic timer waits for it (stop_timer(&prev->periodic_timer)). */
  stopPeriodic(): void {
    this.periodic.cancel();
  }

  /** The domain is gone or shut down: nothing of it may fire any more. */
  stopAll(): void {
    this.singleshot.cancel();
    this.periodic.cancel();
    this.poll.cancel();
  }
}

/** Time a vCPU spent in each runstate (Xen's vcpu_runstate_info), kept on system time. */
export class Runstate {
  state = RUNSTATE_offline;
  entryTime: number;
  readonly time = [0, 0, 0, 0];

  constructor(now: number) {
    this.entryTime = now;
  }

  /** vcpu_runstate_change: the time since the last change goes to the state being left. */
  change(state: number, now: number): void {
    if (state === this.state) return;
    const delta = now - this.entryTime;
    if (delta > 0) {
      this.time[this.state]! += delta;
      this.entryTime = now;
    }
    this.state = state;
  }

  /** vcpu_runstate_get: the totals with the current state counted up to `now`. */
  info(now: number): RunstateInfo {
    const time = this.time.map((t) => BigInt(t)) as [bigint, bigint, bigint, bigint];
    const delta = now - this.entryTime;
    if (delta > 0) time[this.state] = time[this.state]! + BigInt(delta);
    return { state: this.state, state_entry_time: BigInt(this.entryTime), time };
  }
}

/** set_timer_op(lo, hi): the 64-bit absolute system time in two halves (XEN-ABI.md 3). */
defineHypercall(__HYPERVISOR_set_timer_op, (ctx, lo, hi) => {
  ctx.xen.events.timersOf(ctx.vcpu).setTimerOp((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
  return 0;
});
