// test/core/vectors.test.ts — every hardware test vector of ../shared/vectors/native32
// through the core (../shared/vectors/README.md), one machine for all of them.
//
// A vector fails when a register, EIP, a defined flag or a byte of memory
// differs from what the real CPU recorded. Failures are reported grouped
// by instruction template, a few examples each. Known differences would be
// listed with the SDM's reason in vectors.known.json beside this file; the
// list is empty, and a listed template that passes fails the test too, so
// the list cannot go stale.

import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { formatFailures, readVectorFile, runVectorFile, vectorFiles, vectorMachine } from "../../tools/vectors.js";

const DIR = "../shared/vectors/native32";
const KNOWN = "test/core/vectors.known.json";

/** Templates allowed to fail, each with the reason the SDM gives. */
const known: Record<string, string> = existsSync(KNOWN) ? (JSON.parse(readFileSync(KNOWN, "utf8")) as Record<string, string>) : {};

describe.skipIf(!existsSync(DIR))("hardware vectors (native32)", () => {
  if (!existsSync(DIR)) return;
  const machine = vectorMachine();
  for (const path of vectorFiles(DIR)) {
    it(`passes every vector of ${path.slice(DIR.length + 1)}`, () => {
      const file = readVectorFile(path);
      const result = runVectorFile(machine, file);
      for (const asm of Object.keys(known)) {
        if (result.failures.has(asm)) result.failures.delete(asm);
        else if (file.vectors.some((v) => v.asm === asm)) expect.fail(`${asm} passes now: drop it from ${KNOWN}`);
      }
      const unexpected = [...result.failures.values()].reduce((n, e) => n + e.count, 0);
      expect(unexpected, `${result.group}: ${unexpected} vectors failed\n${formatFailures(result)}`).toBe(0);
      expect(result.passed).toBeGreaterThan(0);
    }, 60_000);
  }
});

it.skipIf(existsSync(DIR))("hardware vectors: skipped, ../shared/vectors/native32 is not there", () => {
  expect(existsSync(DIR)).toBe(false);
});
