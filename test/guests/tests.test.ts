// test/guests/tests.test.ts — the CPU test kernels of guests/tests/, on our bare machine and in v86.
//
// Each kernel checks one corner of the architecture against the SDM and ends
// with a verdict line and an isa-debug-exit byte (guests/tests/README.md):
// `PASS <name>` (byte 0), `FAIL <name>: <n> checks failed` (1) or `SKIP
// <name>: <reason>` (2). On our machine every kernel must PASS, or SKIP
// where README.md says the pinned CPU model lacks the feature. v86 is a
// second opinion on the kernels themselves: it must PASS them too, except
// where README.md documents that v86 departs from the SDM — there the
// kernel must catch the departure, which shows it checks what it claims.

import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { hasV86, runInV86 } from "../../tools/oracles/v86.js";
import { boot } from "../support/machine.js";

/** Every guests/tests/NAME/ folder is a kernel, built to build/guests/tests/NAME.bin. */
const KERNELS = readdirSync("guests/tests", { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

const image = (name: string) => readFileSync(`build/guests/tests/${name}.bin`);

/** The exit byte each verdict writes to isa-debug-exit, and the host status it gives. */
const EXIT_BYTE = { PASS: 0, FAIL: 1, SKIP: 2 } as const;
type Verdict = keyof typeof EXIT_BYTE;

/** The verdict line: the last line of the output, and what it says. */
function verdictOf(output: string): { line: string; verdict: string } {
  const line = output.trimEnd().split("\n").at(-1) ?? "";
  return { line, verdict: line.split(" ")[0] ?? "" };
}

/**
 * Where v86 (0.5.x) departs from the SDM, kernel by kernel: the verdict it
 * earns there and a line of output that shows why (guests/tests/README.md).
 */
const V86_DEPARTURES: Record<string, { verdict: Verdict; shows: string }> = {
  // A #GP whose IDT gate is not present raises #NP during delivery; v86
  // delivers that #NP instead of turning the contributory pair into #DF.
  "double-fault": { verdict: "FAIL", shows: "unexpected exception 11 #NP error 0x0000006a" },
  // v86 ignores the A20 gate: port 0x92 bit 1 reads 0, and FFFF:0610 never wraps.
  realmode: { verdict: "FAIL", shows: "mismatch: A20 closed: FFFF:0610 wraps to physical 0x600" },
  // v86's CPUID 0x80000001 has no NX bit.
  "pae-nx": { verdict: "SKIP", shows: "SKIP pae-nx: no execute-disable bit" },
};

describe("guests/tests on the bare machine", () => {
  for (const name of KERNELS) {
    it(`${name}: PASS, then isa-debug-exit 0 (host status 1)`, async () => {
      const { serial, debug, end } = await boot(image(name), { timeoutNs: 200_000_000 });
      expect(debug).toBe(serial);
      expect(verdictOf(serial).line).toBe(`PASS ${name}`);
      expect(end).toEqual({ status: 1, reason: "debug-exit", message: "" });
    }, 60_000);
  }
});

describe.skipIf(!hasV86())("guests/tests in v86, a second opinion", () => {
  for (const name of KERNELS) {
    const departure = V86_DEPARTURES[name];
    const expected: Verdict = departure?.verdict ?? "PASS";
    it(`${name}: ${expected}${departure ? " (a documented v86 departure)" : ""}`, async () => {
      const run = await runInV86(image(name), { timeoutMs: 30_000, disableJit: true });
      expect(run.finished).toBe(true);
      const { line, verdict } = verdictOf(run.output);
      if (expected === "PASS") expect(line).toBe(`PASS ${name}`);
      else expect(verdict).toBe(expected);
      if (departure) expect(run.output).toContain(departure.shows);
      expect(run.debugExit).toBe(EXIT_BYTE[expected]);
    }, 60_000);
  }
});
