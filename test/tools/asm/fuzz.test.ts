// test/tools/asm/fuzz.test.ts — hostile input never crashes the assembler.
//
// Sources are stitched together from fragments of real NASM syntax (and
// some of its wrong uses) by a seeded generator, so a failure repeats. Each
// must come back as bytes or diagnostics: an exception here would be a crash
// in the browser's trap lab editor, where students type anything.

import { describe, expect, it } from "vitest";
import { assemble } from "../../../tools/asm/index.js";

const FRAGMENTS = [
  "mov", "add", "jmp", "call", "push", "pop", "lea", "int", "rep", "lock", "movsb", "times", "db", "dw", "dd",
  "dq", "resb", "equ", "org", "bits", "section", ".data", ".bss", "align", "struc", "endstruc", "istruc",
  "at", "iend", "eax", "ax", "al", "esp", "ebp", "bx", "si", "cs", "es", "cr0", "dr7", "tr6", "byte", "word",
  "dword", "strict", "short", "near", "far", "nosplit", "[", "]", "(", ")", ",", ":", "+", "-", "*", "/",
  "//", "%", "<<", ">>", "~", "!", "$", "$$", "0", "1", "-1", "0x7f", "0x80", "0xffffffff", "99999999999999999999",
  "'a'", '"str"', "`x\\n`", "label", ".local", "label:", "..@1.x", "%define", "%macro", "%endmacro",
  "%rep", "%endrep", "%if", "%else", "%endif", "%assign", "%+", "%1", "%%x", "%include", "incbin",
  "?", ";", "\\", "{", "}", "#", "@", "16", "32", "64", "-128", "0b101", "12h", "1.5", "absolute",
];

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

function randomSource(next: () => number): string {
  const lines: string[] = [];
  const nLines = 1 + (next() % 8);
  for (let i = 0; i < nLines; i++) {
    const n = next() % 7;
    const words: string[] = [];
    for (let j = 0; j < n; j++) words.push(FRAGMENTS[next() % FRAGMENTS.length]);
    lines.push(words.join(next() % 3 === 0 ? "" : " "));
  }
  return lines.join("\n") + "\n";
}

describe("assembler fuzz", () => {
  it("returns bytes or diagnostics for 3,000 generated sources, never throws", () => {
    const next = lcg(0x5eed);
    for (let i = 0; i < 3000; i++) {
      const source = randomSource(next);
      let result;
      try {
        result = assemble(source, { file: "fuzz.asm" });
      } catch (err) {
        throw new Error(`assemble threw on source #${i}:\n${source}\n${(err as Error).stack}`);
      }
      expect(result.ok || result.diagnostics.some((d) => d.severity === "error")).toBe(true);
    }
  }, 60_000);
});
