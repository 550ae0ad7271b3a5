// test/guests/bench.test.ts — ../shared/bench/bench.asm, built by tools/asm with small counts,
// boots on the bare machine and prints exactly the line structure of expected.txt: every
// workload's BEGIN and END in order, the same instruction count and checksum in both passes,
// DONE, then isa-debug-exit — and the very same lines (tsc= aside) as v86 booting the same
// binary in the same test. (The full-size counts are `npm run bench`'s, not a test's.)

import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { assemble } from "../../tools/asm/index.js";
import { nodeResolver } from "../../tools/asm/node.js";
import { boot } from "../support/machine.js";
import { hasV86, runInV86 } from "../../tools/oracles/v86.js";

const BENCH = "../shared/bench/bench.asm";
const EXPECTED = "../shared/bench/expected.txt";
const haveShared = existsSync(BENCH) && existsSync(EXPECTED);
if (!haveShared) console.warn(`guests/bench.test: ${BENCH} is absent; skipping (CI has ../shared)`);

const SMALL = { ALU_ITERS: "1000", MEM_REPS: "1", FIB_N: "10", FIB_REPS: "1", PG_ROUNDS: "2", SYS_ITERS: "100" };

/** A line of expected.txt as a pattern: its numbers may differ with the counts, its shape may not. */
function shape(line: string): RegExp {
  if (line.startsWith("BENCH ")) return /^BENCH v1 passes=2 alu_iters=1000 mem_reps=1 fib=10x1 pg_rounds=2x1024 sys_iters=100$/;
  const escaped = line.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^${escaped.replace(/insns=\d+/, "insns=\\d+").replace(/csum=0x[0-9a-f]{8}/, "csum=0x[0-9a-f]{8}")}( tsc=\\d+)?$`);
}

describe.skipIf(!haveShared)("bench.asm on the bare machine", () => {
  it("prints expected.txt's lines in order, each pass agreeing with the other, and exits with status 1", async () => {
    const built = assemble(readFileSync(BENCH, "utf8"), { file: BENCH, defines: SMALL, resolver: nodeResolver() });
    expect(built.ok).toBe(true);
    const { serial, debug, end } = await boot(built.bytes);
    expect(end.status).toBe(1);
    expect(debug).toBe(serial);
    const lines = serial.trimEnd().split("\n");
    const expected = readFileSync(EXPECTED, "utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(expected.length);
    lines.forEach((line, i) => expect(line).toMatch(shape(expected[i]!)));
    // Both passes of a workload run the same instructions to the same checksum.
    const ends = lines.filter((l) => l.startsWith("END ")).map((l) => l.replace(/#\d/, "").replace(/ tsc=\d+/, ""));
    for (let i = 0; i < ends.length; i += 2) expect(ends[i + 1]).toBe(ends[i]);
    // Deterministic time: the TSC advances one per instruction, so a workload's tsc is its
    // insns plus the runner's 5 instructions inside the RDTSC window (bench/README.md).
    for (const l of lines.filter((l) => l.startsWith("END "))) {
      const [, insns, tsc] = /insns=(\d+) .* tsc=(\d+)/.exec(l)!;
      expect(Number(tsc)).toBe(Number(insns) + 5);
    }
    if (!hasV86()) return;
    const v86 = await runInV86(built.bytes, { timeoutMs: 90_000 });
    expect(v86.finished).toBe(true);
    const strip = (text: string) => text.replace(/ tsc=\d+/g, "");
    expect(strip(serial)).toBe(strip(v86.output));
  }, 120_000);
});
