// test/tools/asm/passes.test.ts — multi-pass layout: generated programs full
// of forward and backward jumps, `align`, `times`, label immediates and
// late `equ` constants must settle on exactly NASM's layout.
//
// Where sizes depend on each other a layout can have more than one fixed
// point; NASM's is the one its optimism reaches (forward jumps start short,
// unknown immediates start as sign-extended bytes, unknown displacements
// start as disp32). These programs are built so that the choices interact.

import { describe, expect, it } from "vitest";
import { assemble } from "../../../tools/asm/index.js";
import { formatDiagnostic } from "../../../tools/asm/diagnostic.js";
import { firstDifference, hasNasm, nasm } from "../../support/nasm.js";

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
}

const FILLERS = [
  "nop", "times 50 nop", "times 120 nop", "mov eax, 1", "add eax, X", "push L0", "db 1,2,3",
  "times 3 jmp L1", "align 16", "lea eax, [ebx+L2]", "mov al, [L3]", "call L4", "jcxz L1", "loop L2",
  "dd L3 - $", "shl eax, X", "mov eax, [ebx+X]", "cmp ax, X - 2",
];
const JUMPS = ["jmp", "jz", "jnz", "call", "jmp short", "jmp near", "jc"];

/** A program of about 40 lines: labels L0..L5, jumps among them, fillers, and X defined last. */
function program(next: () => number): string {
  const bits = next() % 2 ? 16 : 32;
  const labels = 3 + (next() % 4);
  const lines = [`bits ${bits}`, `org 0x${(next() % 0x10000).toString(16)}`];
  let defined = 0;
  for (let i = 0; i < 40; i++) {
    const r = next() % 10;
    if (r < 2 && defined < labels) lines.push(`L${defined++}:`);
    else if (r < 6) lines.push(`${JUMPS[next() % JUMPS.length]} L${next() % labels}`);
    else lines.push(FILLERS[next() % FILLERS.length]);
  }
  while (defined < 6) lines.push(`L${defined++}: nop`);
  lines.push(`X equ ${next() % 3 ? 5 : 300}`);
  return lines.join("\n") + "\n";
}

describe.skipIf(!hasNasm)("multi-pass layout against NASM", () => {
  it("settles 300 generated programs exactly where NASM does", () => {
    const next = lcg(2026);
    let compared = 0;
    let rejected = 0;
    for (let i = 0; i < 300; i++) {
      const source = program(next);
      const reference = nasm(source);
      const ours = assemble(source, { file: "gen.asm" });
      const errors = ours.diagnostics.filter((d) => d.severity === "error").map(formatDiagnostic);
      if (!reference.ok) {
        // Mostly a `jmp short`, `jcxz` or `loop` that cannot reach: both must refuse.
        expect(errors.length, `NASM rejects program #${i} but we accept it:\n${source}\n${reference.stderr}`).toBeGreaterThan(0);
        rejected++;
        continue;
      }
      expect(errors, `program #${i}:\n${source}`).toEqual([]);
      expect(firstDifference(ours.bytes, reference.bytes), `program #${i}:\n${source}`).toBeNull();
      compared++;
    }
    console.log(`passes: ${compared} generated programs byte-identical with NASM, ${rejected} rejected by both`);
  }, 120_000);
});
