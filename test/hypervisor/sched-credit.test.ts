// test/hypervisor/sched-credit.test.ts — the credit scheduler: weights, caps, slices, boost, yield.
//
// Most tests drive hypervisor/sched-credit.ts alone on a deterministic
// clock, with vCPUs that are only names: a loop asks the scheduler who
// runs, lets that vCPU "run" until the decision's end, and counts the time
// each got. That makes ten simulated seconds cheap, so shares can be
// checked tightly. The last tests boot real spinning PV kernels on the
// hypervisor to show the same shares come out of Hypervisor.step.

import { describe, expect, it } from "vitest";
import { Clock } from "../../hypervisor/clock.js";
import type { Domain } from "../../hypervisor/domain.js";
import { EINVAL } from "../../hypervisor/abi/errno.js";
import {
  CreditScheduler, DEFAULT_WEIGHT, PRI_BOOST, PRI_UNDER, RATELIMIT_NS, TSLICE_NS, type SchedParams,
} from "../../hypervisor/sched-credit.js";
import type { Vcpu } from "../../hypervisor/vcpu.js";
import { bootPvDomains, pvKernel } from "../support/pv.js";

const MS = 1_000_000;

interface FakeVcpu {
  id: number;
  name: string;
  domain: FakeDomain;
  runState: "runnable" | "blocked" | "offline";
}
interface FakeDomain {
  domid: number;
  vcpus: FakeVcpu[];
  isRunnable(): boolean;
}

/** A scheduler on a clock the test moves, and domains of named vCPUs. */
function machine() {
  let now = 0;
  const clock = new Clock({ mode: "deterministic", instructions: () => now });
  const sched = new CreditScheduler(clock, (v) => v.runState === "runnable" && v.domain.isRunnable());
  let domid = 1;
  const addDomain = (params: Partial<SchedParams> = {}, nrVcpus = 1): Vcpu[] => {
    const domain: FakeDomain = { domid: domid++, vcpus: [], isRunnable: () => true };
    sched.addDomain(domain as unknown as Domain, params);
    for (let id = 0; id < nrVcpus; id++) {
      const v: FakeVcpu = { id, name: `d${domain.domid}v${id}`, domain, runState: "runnable" };
      domain.vcpus.push(v);
      sched.addVcpu(v as unknown as Vcpu);
    }
    for (const v of domain.vcpus) sched.wake(v as unknown as Vcpu);
    return domain.vcpus as unknown as Vcpu[];
  };
  const ran = new Map<Vcpu, number>();
  let idle = 0;
  /** Runs for `ns`; `onRun(vcpu, from, to)` may block the vCPU (it then stops at `to`). */
  const run = (ns: number, onRun?: (v: Vcpu, from: number, to: number) => number | void) => {
    const end = now + ns;
    while (now < end) {
      clock.fireDue();
      const d = sched.schedule();
      if (!d) {
        const next = Math.min(clock.nextDeadline(), end);
        idle += next - now;
        now = next;
        continue;
      }
      let to = Math.max(now + 1, Math.min(d.until, end, clock.nextDeadline()));
      const stop = onRun?.(d.vcpu, now, to);
      if (typeof stop === "number") to = Math.max(now + 1, stop);
      ran.set(d.vcpu, (ran.get(d.vcpu) ?? 0) + (to - now));
      now = to;
    }
  };
  const share = (vs: Vcpu[]) => vs.reduce((sum, v) => sum + (ran.get(v) ?? 0), 0) / now;
  return { clock, sched, addDomain, run, ran, share, idle: () => idle / now, now: () => now };
}

describe("shares by weight", () => {
  it("gives two CPU-bound domains of equal weight half the CPU each", () => {
    const m = machine();
    const a = m.addDomain();
    const b = m.addDomain();
    m.run(10_000 * MS);
    expect(m.share(a)).toBeCloseTo(0.5, 1);
    expect(m.share(b)).toBeCloseTo(0.5, 1);
  });

  it("gives weight 512 twice the CPU of weight 256", () => {
    const m = machine();
    const a = m.addDomain({ weight: 256 });
    const b = m.addDomain({ weight: 512 });
    m.run(10_000 * MS);
    expect(Math.abs(m.share(a) - 1 / 3)).toBeLessThan(0.03);
    expect(Math.abs(m.share(b) - 2 / 3)).toBeLessThan(0.03);
  });

  it("counts weight per vCPU: a domain's two busy vCPUs get twice a one-vCPU domain's share", () => {
    const m = machine();
    const a = m.addDomain({}, 2);
    const b = m.addDomain({}, 1);
    m.run(10_000 * MS);
    expect(Math.abs(m.share(a) - 2 / 3)).toBeLessThan(0.03);
    expect(Math.abs(m.share(b) - 1 / 3)).toBeLessThan(0.03);
  });

  it("is work-conserving: a lone low-weight domain gets the whole CPU", () => {
    const m = machine();
    const a = m.addDomain({ weight: 1 });
    m.run(1_000 * MS);
    expect(m.share(a)).toBe(1);
  });
});

describe("caps", () => {
  it("holds a lone domain capped at 25% to a quarter of the CPU, idling the rest", () => {
    const m = machine();
    const a = m.addDomain({ cap: 25 });
    m.run(10_000 * MS);
    expect(Math.abs(m.share(a) - 0.25)).toBeLessThan(0.03);
    expect(m.idle()).toBeGreaterThan(0.7);
  });

  it("holds a capped domain to its cap beside an uncapped one, which takes the rest", () => {
    const m = machine();
    const capped = m.addDomain({ cap: 20, weight: 1000 });
    const other = m.addDomain({ weight: 10 });
    m.run(10_000 * MS);
    expect(Math.abs(m.share(capped) - 0.2)).toBeLessThan(0.03);
    expect(Math.abs(m.share(other) - 0.8)).toBeLessThan(0.03);
  });
});

describe("slices, boost and yield", () => {
  it("lets two CPU-bound vCPUs take turns in 30 ms slices", () => {
    const m = machine();
    const [a] = m.addDomain();
    const [b] = m.addDomain();
    const turns: [string, number][] = [];
    m.run(200 * MS, (v, from) => {
      if (turns.at(-1)?.[0] !== v.name) turns.push([v.name, from]);
    });
    expect(turns.slice(0, 4)).toEqual([[a!.name, 0], [b!.name, TSLICE_NS], [a!.name, 2 * TSLICE_NS], [b!.name, 3 * TSLICE_NS]]);
  });

  it("boosts a vCPU that wakes from blocking: it preempts a CPU hog within the 1 ms rate limit", () => {
    const m = machine();
    m.addDomain();
    const [io] = m.addDomain() as unknown as FakeVcpu[];
    const vio = io as unknown as Vcpu;
    // The I/O-bound vCPU runs 50 µs, blocks, and is woken by a timer 5 ms later, again and again.
    const latencies: number[] = [];
    let wokeAt = 0;
    const wake = m.clock.timer("io", (at) => {
      io!.runState = "runnable";
      wokeAt = at;
      m.sched.wake(vio);
    });
    m.run(2_000 * MS, (v, from, to) => {
      if (v !== vio) return;
      if (wokeAt !== 0) latencies.push(from - wokeAt);
      wokeAt = 0;
      const stop = Math.min(to, from + 50_000);
      io!.runState = "blocked";
      wake.arm(stop + 5 * MS);
      return stop;
    });
    expect(latencies.length).toBeGreaterThan(300);
    expect(Math.max(...latencies)).toBeLessThanOrEqual(RATELIMIT_NS);
  });

  it("marks a woken UNDER vCPU BOOST, and takes the boost away at its first tick", () => {
    const m = machine();
    const [a] = m.addDomain();
    expect(m.sched.info(a!).pri).toBe(PRI_BOOST);
    m.run(15 * MS);
    expect(m.sched.info(a!).pri).toBe(PRI_UNDER);
  });

  it("lets a yielding vCPU give the rest of its slice to another", () => {
    const m = machine();
    const [a] = m.addDomain();
    const [b] = m.addDomain();
    const order: string[] = [];
    m.run(10 * MS, (v, from) => {
      order.push(v.name);
      if (v === a) {
        m.sched.yield(a);
        return from + 100_000;
      }
    });
    expect(order.slice(0, 2)).toEqual([a!.name, b!.name]);
  });
});

describe("parameters", () => {
  it("refuses a weight outside 1-65535 and a cap above 100% per vCPU with -EINVAL", () => {
    const m = machine();
    const [a] = m.addDomain({}, 2);
    const domain = a!.domain;
    expect(m.sched.params(domain)).toEqual({ weight: DEFAULT_WEIGHT, cap: 0 });
    expect(m.sched.setParams(domain, { weight: 0 })).toBe(-EINVAL);
    expect(m.sched.setParams(domain, { weight: 65536 })).toBe(-EINVAL);
    expect(m.sched.setParams(domain, { cap: 201 })).toBe(-EINVAL);
    expect(m.sched.setParams(domain, { weight: 1024, cap: 200 })).toBe(0);
    expect(m.sched.params(domain)).toEqual({ weight: 1024, cap: 200 });
  });
});

describe("on the hypervisor", () => {
  const spinner = () => pvKernel(`
entry:
.spin:  inc     dword [count]
        jmp     .spin
count:  dd 0
`);

  it("gives the heavier of two spinning PV domains (weights 256 and 768) more of the CPU", async () => {
    const kernel = spinner();
    const { domains } = await bootPvDomains(
      [{ kernel, sched: { weight: 256 } }, { kernel, sched: { weight: 768 } }],
      { budget: 240 * MS },
    );
    // Eight 30 ms slices are too few for the shares to settle at 3:1 (the simulations above run
    // ten seconds); equal weights would give 4:4, these give the heavier domain 5 of the 8.
    const [a, b] = domains.map((d) => d.vcpus[0]!.instructions);
    expect(b! / (a! + b!)).toBeGreaterThan(0.6);
    expect(b! / (a! + b!)).toBeLessThan(0.8);
  });

  it("holds a spinning PV domain capped at 10% to a tenth of the machine's time", async () => {
    const { domains, xen } = await bootPvDomains([{ kernel: spinner(), sched: { cap: 10 } }], { budget: 600 * MS });
    const ran = domains[0]!.vcpus[0]!.instructions;
    expect(Math.abs(ran / xen.clock.now() - 0.1)).toBeLessThan(0.03);
  });
});
