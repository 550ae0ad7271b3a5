// test/tools/oracles/v86.test.ts — the v86 oracle boots our guests, so its
// console output can stand beside ours as a second opinion. Booting the
// hello guest in another emulator also shows the guest itself is right.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { hasV86, runInV86 } from "../../../tools/oracles/v86.js";

describe.skipIf(!hasV86())("v86 oracle", () => {
  it("boots build/guests/hello.bin by multiboot and reads its greeting from COM1", async () => {
    const run = await runInV86(readFileSync("build/guests/hello.bin"), { timeoutMs: 20_000, disableJit: true });
    expect(run.finished).toBe(true);
    expect(run.debugExit).toBe(0);
    expect(run.output).toBe("Hello from xenoscope's hello guest.\n");
    expect(run.lineTimes).toHaveLength(1);
  }, 30_000);
});
