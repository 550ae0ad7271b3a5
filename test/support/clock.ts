// test/support/clock.ts — a deterministic clock whose instruction count the test moves by hand.
//
// Devices read time only through the Clock, so a test can stand in for the
// CPU: `advance(ns)` is "the guest executed that many instructions", and any
// timer that came due on the way fires, in deadline order, as the machine's
// run loop would fire it.

import { Clock } from "../../hypervisor/clock.js";

export interface TestClock {
  clock: Clock;
  /** Moves virtual time forward by `ns`, firing every timer due on the way at its exact deadline. */
  advance(ns: number): void;
}

export function testClock(epochMs?: number): TestClock {
  let instructions = 0;
  const clock = new Clock({ mode: "deterministic", instructions: () => instructions, epochMs });
  return {
    clock,
    advance(ns: number) {
      const target = instructions + ns;
      for (;;) {
        const next = clock.nextDeadline();
        if (next > target) break;
        instructions = Math.max(instructions, next);
        clock.fireDue();
      }
      instructions = target;
      clock.fireDue();
    },
  };
}
