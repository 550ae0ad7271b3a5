// hypervisor/sched-credit.ts — Xen's credit scheduler, for the one physical CPU.
//
// Every domain has a weight (its share when CPUs are contended, 256 by
// default) and a cap (the most CPU it may use, in percent of one CPU; 0: no
// cap). Each vCPU holds credits. The one that runs burns 10 credits per
// millisecond; every 30 ms accounting hands out 300 credits (one CPU's
// worth) among the vCPUs that have been running lately ("active"), in
// proportion to their domains' weights. A vCPU with credit left is UNDER,
// one in debt is OVER; the run queue is ordered BOOST, UNDER, OVER, first
// come first served within a priority, and the head runs for a 30 ms slice.
// A vCPU that wakes from blocking while UNDER is BOOSTed ahead of the
// others and preempts the running one (its next 10 ms tick takes the boost
// away), which is why I/O-bound domains get low latency. A capped domain
// whose vCPU falls further into debt than its cap allows is parked: it does
// not run, even with the CPU idle, until accounting brings it back to
// credit. Unlike SEDF or a cap-less design, an uncapped OVER vCPU still
// runs when nobody else wants the CPU: the scheduler is work-conserving.
//
// The constants, the accounting arithmetic, parking, the boost, the yield
// rule (a yielding vCPU goes behind one lower-priority vCPU) and the 1 ms
// rate limit are those of xen/common/sched/credit.c (Xen 4.x defaults:
// sched_credit_tslice_ms=30, sched_ratelimit_us=1000). What a single CPU
// needs no longer is left out: load balancing and affinity.
//
// Time is the clock's (hypervisor/clock.ts): virtual ns, so in
// deterministic mode the same guests are scheduled the same way every run.
// The 10 ms tick and the 30 ms accounting are done when the scheduler next
// runs (at least every slice of hypervisor/xen.ts), not by timers that would
// keep an idle machine awake; only while a vCPU is parked is a timer armed,
// so that an idle CPU wakes for the accounting that unparks it.

import type { Clock, Timer } from "./clock.js";
import type { Domain } from "./domain.js";
import type { Vcpu } from "./vcpu.js";
import { EINVAL } from "./abi/errno.js";

const MS = 1_000_000;
/** CSCHED_DEFAULT_WEIGHT. */
export const DEFAULT_WEIGHT = 256;
/** The weight range `xl sched-credit -w` accepts. */
export const MIN_WEIGHT = 1;
export const MAX_WEIGHT = 65535;
/** The time slice (sched_credit_tslice_ms). */
export const TSLICE_NS = 30 * MS;
/** CSCHED_MSECS_PER_TICK: the running vCPU is accounted every tick. */
export const TICK_NS = 10 * MS;
/** CSCHED_TICKS_PER_ACCT ticks: credits are handed out every 30 ms. */
export const ACCT_NS = 3 * TICK_NS;
/** sched_ratelimit_us: a vCPU runs at least this long before a wake-up may preempt it. */
export const RATELIMIT_NS = 1 * MS;
/** CSCHED_CREDITS_PER_MSEC. */
export const CREDITS_PER_MSEC = 10;
/** Credits one slice is worth; also the most a vCPU may hold or owe. */
export const CREDITS_PER_TSLICE = CREDITS_PER_MSEC * (TSLICE_NS / MS);
/** Credits one accounting period hands out for one physical CPU. */
export const CREDITS_PER_ACCT = CREDITS_PER_MSEC * (ACCT_NS / MS);

/** CSCHED_PRI_TS_*: higher runs first. */
export const PRI_BOOST = 0;
export const PRI_UNDER = -1;
export const PRI_OVER = -2;

export interface SchedParams {
  weight: number;
  /** Percent of one CPU; 0 means no cap. */
  cap: number;
}

/** What the scheduler keeps per domain (Xen's csched_dom). */
interface CreditDomain {
  readonly domain: Domain;
  weight: number;
  cap: number;
  /** Its vCPUs on the active list, which accounting pays. */
  activeVcpus: number;
}

/** What the scheduler keeps per vCPU (Xen's csched_unit). */
interface CreditVcpu {
  readonly vcpu: Vcpu;
  readonly sdom: CreditDomain;
  credit: number;
  pri: number;
  /** On the active list: it ran at a tick since accounting last found it idle. */
  active: boolean;
  /** Capped out: it may not run until accounting brings it back to credit. */
  parked: boolean;
  /** SCHEDOP_yield: at its next requeue it goes behind one lower-priority vCPU. */
  yielded: boolean;
  queued: boolean;
  /** Where burning credits has got to (Xen's start_time): the remainder of a credit carries over. */
  burnedTo: number;
  /** When it last started running, for the rate limit. */
  ranSince: number;
}

/** The answer to schedule(): who runs, and until when at most (the end of its slice, its next tick, or the rate limit). */
export interface Decision {
  vcpu: Vcpu;
  until: number;
}

export interface CreditVcpuInfo {
  credit: number;
  pri: number;
  active: boolean;
  parked: boolean;
}

export class CreditScheduler {
  private readonly domains = new Map<Domain, CreditDomain>();
  private readonly vcpus = new Map<Vcpu, CreditVcpu>();
  /** Runnable vCPUs waiting for the CPU, highest priority first (Xen's per-pCPU runq). */
  private readonly runq: CreditVcpu[] = [];
  private current: CreditVcpu | null = null;
  private sliceEnd = 0;
  private nextTick = 0;
  private nextAcct: number;
  /** The running vCPU must give the CPU up at the next decision (a tickle, a yield, a park). */
  private preempt = false;
  /** Wakes an idle CPU for the accounting that unparks a capped vCPU. */
  private readonly acctTimer: Timer;

  constructor(
    private readonly clock: Clock,
    /** Whether the hypervisor lets the vCPU run (not blocked, down, paused or shut down). */
    private readonly runnable: (vcpu: Vcpu) => boolean,
  ) {
    this.nextAcct = clock.now() + ACCT_NS;
    this.acctTimer = clock.timer("credit accounting", () => this.accountIfDue(this.clock.now()));
  }

  // ------------------------------------------------------------ domains and vCPUs

  addDomain(domain: Domain, params: Partial<SchedParams> = {}): number {
    const sdom: CreditDomain = { domain, weight: DEFAULT_WEIGHT, cap: 0, activeVcpus: 0 };
    this.domains.set(domain, sdom);
    return this.setParams(domain, params);
  }

  /** A vCPU joins; it is queued once the hypervisor says it is runnable (wake). */
  addVcpu(vcpu: Vcpu): void {
    const sdom = this.domains.get(vcpu.domain);
    if (!sdom) throw new Error(`domain ${vcpu.domain.domid} is not known to the scheduler`);
    const now = this.clock.now();
    this.vcpus.set(vcpu, {
      vcpu, sdom, credit: 0, pri: PRI_UNDER, active: false, parked: false, yielded: false, queued: false, burnedTo: now, ranSince: now,
    });
  }

  removeDomain(domain: Domain): void {
    for (const v of domain.vcpus) {
      const svc = this.vcpus.get(v);
      if (!svc) continue;
      this.dequeue(svc);
      this.deactivate(svc);
      if (this.current === svc) this.current = null;
      this.vcpus.delete(v);
    }
    this.domains.delete(domain);
    this.armAcctTimer();
  }

  /** `xl sched-credit -w/-c`: -EINVAL for a weight outside 1-65535 or a cap outside 0-100 per vCPU. */
  setParams(domain: Domain, params: Partial<SchedParams>): number {
    const sdom = this.domains.get(domain);
    if (!sdom) return -EINVAL;
    const { weight = sdom.weight, cap = sdom.cap } = params;
    if (!Number.isInteger(weight) || weight < MIN_WEIGHT || weight > MAX_WEIGHT) return -EINVAL;
    if (!Number.isInteger(cap) || cap < 0 || cap > 100 * Math.max(1, domain.vcpus.length)) return -EINVAL;
    sdom.weight = weight;
    sdom.cap = cap;
    return 0;
  }

  params(domain: Domain): SchedParams {
    const sdom = this.domains.get(domain);
    if (!sdom) throw new Error(`domain ${domain.domid} is not known to the scheduler`);
    return { weight: sdom.weight, cap: sdom.cap };
  }

  info(vcpu: Vcpu): CreditVcpuInfo {
    const svc = this.svc(vcpu);
    return { credit: svc.credit, pri: svc.pri, active: svc.active, parked: svc.parked };
  }

  private svc(vcpu: Vcpu): CreditVcpu {
    const svc = this.vcpus.get(vcpu);
    if (!svc) throw new Error(`${vcpu.name} is not known to the scheduler`);
    return svc;
  }

  // ------------------------------------------------------------ events from the hypervisor

  /**
   * The vCPU became runnable (created, woken from block or poll, brought
   * up, its domain unpaused): csched_unit_wake. An UNDER vCPU is boosted;
   * if it now outranks the running one, that one is preempted.
   */
  wake(vcpu: Vcpu): void {
    const svc = this.vcpus.get(vcpu);
    if (!svc || svc.queued || svc === this.current || svc.parked) return;
    if (svc.pri === PRI_UNDER) svc.pri = PRI_BOOST;
    this.enqueue(svc);
    if (this.current && svc.pri > this.current.pri) this.preempt = true;
  }

  /** A wake-up or accounting asked for the running vCPU to be preempted (Xen's tickle). */
  wantsPreemption(): boolean {
    return this.preempt;
  }

  /** SCHEDOP_yield: the vCPU gives up the rest of its slice. */
  yield(vcpu: Vcpu): void {
    const svc = this.vcpus.get(vcpu);
    if (!svc) return;
    svc.yielded = true;
    if (svc === this.current) this.preempt = true;
  }

  // ------------------------------------------------------------ the decision

  /**
   * csched_schedule: burns the running vCPU's credits, does the tick and
   * the accounting that are due, and chooses what runs next. Null: the CPU
   * idles (nothing runnable, or only parked vCPUs).
   */
  schedule(): Decision | null {
    const now = this.clock.now();
    const cur = this.current;
    if (cur) {
      this.burn(cur, now);
      if (now >= this.nextTick) this.tick(cur, now);
    }
    this.accountIfDue(now);
    if (cur && this.runnable(cur.vcpu) && !cur.parked) {
      const keep = !this.preempt && now < this.sliceEnd;
      // The rate limit: a vCPU preempted by a wake-up keeps the CPU until it has run 1 ms.
      const limited = this.preempt && !cur.yielded && now - cur.ranSince < RATELIMIT_NS;
      if (keep || limited) {
        const until = limited ? cur.ranSince + RATELIMIT_NS : this.sliceEnd;
        return { vcpu: cur.vcpu, until: Math.min(until, this.nextTick) };
      }
      this.enqueue(cur);
      cur.yielded = false;
    }
    this.preempt = false;
    const next = this.takeHead();
    this.current = next;
    if (!next) return null;
    if (next !== cur) next.ranSince = now;
    next.burnedTo = now;
    this.sliceEnd = now + TSLICE_NS;
    if (this.nextTick <= now) this.nextTick = now + TICK_NS;
    return { vcpu: next.vcpu, until: Math.min(this.sliceEnd, this.nextTick) };
  }

  /** burn_credits: 10 credits per ms run, the remainder carried over. */
  private burn(svc: CreditVcpu, now: number): void {
    const credits = Math.floor(((now - svc.burnedTo) * CREDITS_PER_MSEC) / MS);
    if (credits <= 0) return;
    svc.credit -= credits;
    svc.burnedTo += (credits * MS) / CREDITS_PER_MSEC;
  }

  /** csched_tick for the running vCPU (csched_vcpu_acct): no more boost, and back on the active list. */
  private tick(svc: CreditVcpu, now: number): void {
    if (svc.pri === PRI_BOOST) svc.pri = PRI_UNDER;
    if (!svc.active) {
      svc.active = true;
      svc.sdom.activeVcpus++;
    }
    this.nextTick = now + TICK_NS;
  }

  private accountIfDue(now: number): void {
    if (now < this.nextAcct) return;
    this.account();
    this.nextAcct += ACCT_NS;
    // After a long idle stretch the periods missed are not made up: one accounting, then every 30 ms again.
    if (this.nextAcct <= now) this.nextAcct = now + ACCT_NS;
    this.armAcctTimer();
  }

  /**
   * csched_acct: one period's credits, 300 per CPU, shared among the
   * active vCPUs by weight; a domain earns at most a slice's worth per
   * active vCPU, and a capped one at most its cap. Then each vCPU's
   * priority follows its credit; a capped vCPU deep in debt is parked, one
   * back in credit unparked; a vCPU hoarding more than a slice's worth
   * leaves the active list with half of it. (Xen also carries a negative
   * system-wide balance into the next period; one CPU never runs one up.)
   */
  private account(): void {
    let weightTotal = 0;
    for (const sdom of this.domains.values()) weightTotal += sdom.weight * sdom.activeVcpus;
    if (weightTotal === 0) return;
    let creditTotal = CREDITS_PER_ACCT;
    let weightLeft = weightTotal;
    for (const sdom of this.domains.values()) {
      const n = sdom.activeVcpus;
      if (n === 0) continue;
      weightLeft -= sdom.weight * n;
      let creditPeak = n * CREDITS_PER_TSLICE;
      let creditCap = 0;
      if (sdom.cap !== 0) {
        creditCap = Math.floor((sdom.cap * CREDITS_PER_TSLICE + 99) / 100);
        if (creditCap < creditPeak) creditPeak = creditCap;
        creditCap = Math.floor((creditCap + n - 1) / n);
      }
      let creditFair = Math.floor((creditTotal * sdom.weight * n + weightTotal - 1) / weightTotal);
      if (creditFair >= creditPeak) {
        // What this domain cannot use goes to the domains still to be paid.
        if (weightLeft !== 0) creditTotal += Math.floor(((creditFair - creditPeak) * weightTotal + weightLeft - 1) / weightLeft);
        creditFair = creditPeak;
      }
      creditFair = Math.floor((creditFair + n - 1) / n);
      for (const svc of this.vcpus.values()) {
        if (svc.sdom !== sdom || !svc.active) continue;
        svc.credit += creditFair;
        if (svc.credit < 0) {
          svc.pri = PRI_OVER;
          if (sdom.cap !== 0 && svc.credit < -creditCap && !svc.parked) this.park(svc);
          if (svc.credit < -CREDITS_PER_TSLICE) svc.credit = -CREDITS_PER_TSLICE;
        } else {
          svc.pri = PRI_UNDER;
          if (svc.parked) this.unpark(svc);
          if (svc.credit > CREDITS_PER_TSLICE) {
            this.deactivate(svc);
            svc.credit = Math.trunc(svc.credit / 2);
          }
        }
      }
    }
    // Priorities changed: the queue is sorted again, keeping the order within a priority (csched_runq_sort).
    const order = this.runq.splice(0);
    for (const svc of order) {
      svc.queued = false;
      this.enqueue(svc);
    }
  }

  private park(svc: CreditVcpu): void {
    svc.parked = true;
    this.dequeue(svc);
    if (svc === this.current) this.preempt = true;
  }

  private unpark(svc: CreditVcpu): void {
    svc.parked = false;
    // Unparked with its priority already UNDER, so it is not boosted (as Xen clears the flag after the unpause).
    if (svc !== this.current && this.runnable(svc.vcpu) && !svc.queued) {
      this.enqueue(svc);
      if (this.current && svc.pri > this.current.pri) this.preempt = true;
    }
  }

  private deactivate(svc: CreditVcpu): void {
    if (!svc.active) return;
    svc.active = false;
    svc.sdom.activeVcpus--;
  }

  /** The accounting timer runs only while something is parked: then an idle CPU must wake to unpark it. */
  private armAcctTimer(): void {
    const anyParked = [...this.vcpus.values()].some((svc) => svc.parked);
    if (anyParked) this.acctTimer.arm(this.nextAcct);
    else this.acctTimer.cancel();
  }

  // ------------------------------------------------------------ the run queue

  /** __runq_insert: after every vCPU of its priority or higher; a yielding one also after one lower (not idle) vCPU. */
  private enqueue(svc: CreditVcpu): void {
    if (svc.queued || svc.parked) return;
    let i = 0;
    while (i < this.runq.length && this.runq[i]!.pri >= svc.pri) i++;
    if (svc.yielded && i < this.runq.length) i++;
    this.runq.splice(i, 0, svc);
    svc.queued = true;
  }

  private dequeue(svc: CreditVcpu): void {
    if (!svc.queued) return;
    const i = this.runq.indexOf(svc);
    if (i >= 0) this.runq.splice(i, 1);
    svc.queued = false;
  }

  /** The first queued vCPU that may run; ones that blocked, went down or were paused while queued leave the queue. */
  private takeHead(): CreditVcpu | null {
    while (this.runq.length > 0) {
      const svc = this.runq.shift()!;
      svc.queued = false;
      if (this.runnable(svc.vcpu) && !svc.parked) {
        svc.yielded = false;
        return svc;
      }
    }
    return null;
  }
}
