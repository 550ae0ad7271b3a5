// test/tools/asm/bench.test.ts — ../shared/bench/bench.asm, a 23 KB kernel
// written for NASM by someone else, must assemble to exactly bench.bin.
//
// It exercises what real kernels use: macros with %%local labels, %rep with
// %assign and %+ pasting, %defstr, %if on -D overrides, multiboot header
// arithmetic, forward references resolved over several passes. The -D
// variants are compared with NASM itself where NASM is installed.

import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { assemble } from "../../../tools/asm/index.js";
import { nodeResolver } from "../../../tools/asm/node.js";
import { formatDiagnostic } from "../../../tools/asm/diagnostic.js";
import { firstDifference, hasNasm, nasm } from "../../support/nasm.js";

const BENCH = "../shared/bench/bench.asm";
const haveShared = existsSync(BENCH);
if (!haveShared) console.warn(`bench.test: ${BENCH} is absent; skipping (CI has ../shared)`);
if (haveShared && !hasNasm) console.warn("bench.test: nasm is not on the PATH; comparing the -D variants with NASM is skipped");

function ours(defines: Record<string, string> = {}): Uint8Array {
  const r = assemble(readFileSync(BENCH, "utf8"), { file: BENCH, defines, resolver: nodeResolver() });
  const errors = r.diagnostics.filter((d) => d.severity === "error").map(formatDiagnostic);
  expect(errors).toEqual([]);
  return r.bytes;
}

describe.skipIf(!haveShared)("bench.asm", () => {
  it("assembles to exactly ../shared/bench/bench.bin", () => {
    const expected = new Uint8Array(readFileSync("../shared/bench/bench.bin"));
    const got = ours();
    expect(firstDifference(got, expected)).toBeNull();
  });

  for (const defines of [{ SCALE: "3" }, { ONLY: "5" }, { ONLY: "40", PASSES: "1" }, { ALU_ITERS: "1000", FIB_N: "10" }]) {
    const name = Object.entries(defines).map(([k, v]) => `-D${k}=${v}`).join(" ");
    it.skipIf(!hasNasm)(`assembles with ${name} exactly as NASM does`, () => {
      const reference = nasm({ file: BENCH }, defines);
      expect(reference.ok).toBe(true);
      expect(firstDifference(ours(defines), reference.bytes)).toBeNull();
    });
  }
});
