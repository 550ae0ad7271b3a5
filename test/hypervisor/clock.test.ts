// test/hypervisor/clock.test.ts — the one clock: deterministic time is instructions
// plus halted time, real time is the host's, and timers fire in deadline order.

import { describe, expect, it } from "vitest";
import { Clock, DETERMINISTIC_EPOCH_MS, mulDiv, mulDivCeil, type HostTime } from "../../hypervisor/clock.js";

describe("deterministic clock", () => {
  it("reads one nanosecond per instruction executed", () => {
    let insns = 0;
    const clock = new Clock({ mode: "deterministic", instructions: () => insns });
    expect(clock.now()).toBe(0);
    insns = 12345;
    expect(clock.now()).toBe(12345);
  });

  it("skips forward to a deadline while halted, and never backward", () => {
    let insns = 100;
    const clock = new Clock({ mode: "deterministic", instructions: () => insns });
    clock.skipTo(5000);
    expect(clock.now()).toBe(5000);
    clock.skipTo(10);
    expect(clock.now()).toBe(5000);
    insns = 150; // 50 more instructions after the halt
    expect(clock.now()).toBe(5050);
  });

  it("starts its calendar on 2000-01-01 so the CMOS time repeats too", () => {
    const clock = new Clock({ mode: "deterministic" });
    expect(clock.epochMs).toBe(DETERMINISTIC_EPOCH_MS);
    expect(new Date(clock.wallMs()).toISOString()).toBe("2000-01-01T00:00:00.000Z");
  });

  it("fires due timers in deadline order, ties in arming order, with their deadlines", () => {
    let insns = 0;
    const clock = new Clock({ mode: "deterministic", instructions: () => insns });
    const fired: string[] = [];
    const a = clock.timer("a", (d) => fired.push(`a@${d}`));
    const b = clock.timer("b", (d) => fired.push(`b@${d}`));
    const c = clock.timer("c", (d) => fired.push(`c@${d}`));
    c.arm(300);
    b.arm(200);
    a.arm(200);
    expect(clock.nextDeadline()).toBe(200);
    insns = 250;
    expect(clock.fireDue()).toBe(2);
    expect(fired).toEqual(["b@200", "a@200"]);
    expect(clock.nextDeadline()).toBe(300);
    c.cancel();
    expect(clock.nextDeadline()).toBe(Infinity);
  });

  it("runs a timer re-armed by its own callback when it is already due", () => {
    let insns = 1000;
    const clock = new Clock({ mode: "deterministic", instructions: () => insns });
    const at: number[] = [];
    const t = clock.timer("periodic", (d) => {
      at.push(d);
      if (d < 1000) t.arm(d + 300);
    });
    t.arm(100);
    clock.fireDue();
    expect(at).toEqual([100, 400, 700, 1000]);
  });
});

describe("real-time clock", () => {
  it("follows the host's monotonic clock from its creation", () => {
    let ns = 5e9;
    const host: HostTime = { monotonicNs: () => ns, wallMs: () => 1_700_000_000_000 };
    const clock = new Clock({ mode: "realtime", host });
    expect(clock.now()).toBe(0);
    ns += 2_500_000;
    expect(clock.now()).toBe(2_500_000);
    expect(clock.wallMs()).toBe(1_700_000_000_002);
    clock.skipTo(1e12); // a halted CPU sleeps instead in real time
    expect(clock.now()).toBe(2_500_000);
  });
});

describe("mulDiv", () => {
  it("converts long times to ticks without losing precision past 2^53", () => {
    const ns = 3600 * 1e9 + 123_456_789; // an hour
    expect(mulDiv(ns, 1_193_182, 1e9)).toBe(Number((BigInt(ns) * 1_193_182n) / 1_000_000_000n));
    const ticks = 9_876_543_210;
    const ceil = (BigInt(ticks) * 1_000_000_000n + 1_193_181n) / 1_193_182n;
    expect(mulDivCeil(ticks, 1e9, 1_193_182)).toBe(Number(ceil));
  });
});
