// test/core/flags.test.ts — lazy flags read back the way the hardware left them.
//
// The core keeps the status flags lazily (core/flags.ts): an operation
// records its operands and result, a condition reads the one flag it needs
// from the record, and anything else works the record out into EFLAGS.
// The hardware vectors check each instruction's flags alone, as worked out
// at the end of a run; these tests check the lazy readers inside a run
// against the same sequence with the record forced out after every
// instruction (PUSHFD; POPFD reads EFLAGS whole and writes it back):
// all sixteen SETcc conditions, the CF that ADC, SBB, RCL, INC and DEC
// take from whatever operation came before, and the SF ZF PF AF that
// IMUL, MUL and the rotates keep (they write only CF and OF).

import { describe, expect, it } from "vitest";
import { runSnippet } from "../support/snippet.js";

const VALUES = [0, 1, 2, 0x0f, 0x10, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

/** Operations on eax with ebx (or a constant), at each width; the first writes some CF for the second to use. */
const OPS = [
  "add eax, ebx", "adc eax, ebx", "sub eax, ebx", "sbb eax, ebx", "cmp eax, ebx", "and eax, ebx", "or eax, ebx",
  "xor eax, ebx", "test eax, ebx", "neg eax", "inc eax", "dec eax", "shl eax, 3", "shr eax, 1", "sar eax, 5",
  "rol eax, 1", "rcl eax, 1", "shld eax, ebx, 4",
  "add ax, bx", "sub ax, bx", "adc ax, bx", "inc ax", "dec ax", "shl ax, 1", "sar ax, 1",
  "add al, bl", "sub al, bl", "sbb al, bl", "cmp al, bl", "inc al", "dec al", "and al, bl", "shr al, 1",
  "ror eax, 1", "ror eax, 7", "rcr eax, 1", "rol ax, 3", "imul eax, ebx", "imul eax, ebx, 3", "imul ax, bx",
  "imul ebx", "mul ebx", "mul bl",
];

/** Operations that write only CF and OF, run first: the flags they keep come from the record before them. */
const CARRY_OVERFLOW_FIRSTS = ["imul eax, ebx", "ror eax, 1", "mul ebx"];

const CONDITIONS = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"];

/** A program that runs `first` then `second` on each pair of values and stores SETcc x16 and EFLAGS per case. */
function program(cases: [number, number, string, string][], forced: boolean): string {
  const force = forced ? "pushfd\n popfd\n" : "";
  const lines = ["mov edi, 0x400000"];
  for (const [a, b, first, second] of cases) {
    lines.push(`mov eax, ${a}`, `mov ebx, ${b}`, first, force + second, force);
    CONDITIONS.forEach((cc, i) => lines.push(`set${cc} [edi + ${i}]`));
    lines.push("pushfd", "pop dword [edi + 16]", "add edi, 20");
  }
  lines.push("hlt");
  return lines.join("\n");
}

describe("lazy flags", () => {
  it("every condition and every carry-in reads as it would with EFLAGS worked out after each instruction", () => {
    const cases: [number, number, string, string][] = [];
    for (const second of OPS) {
      for (const a of VALUES) {
        for (const b of [0, 1, 0x80, 0xffffffff]) {
          cases.push([a, b, b & 1 ? "cmp eax, ebx" : "add eax, ebx", second]);
        }
        for (const first of CARRY_OVERFLOW_FIRSTS) cases.push([a, 0x80, `test eax, 0x81\n ${first}`, second]);
      }
    }
    const lazy = runSnippet(program(cases, false), { budget: 10_000_000, ram: 8 << 20 });
    const exact = runSnippet(program(cases, true), { budget: 10_000_000, ram: 8 << 20 });
    expect(lazy.exit).toBe(exact.exit);
    for (let i = 0; i < cases.length; i++) {
      const at = 0x400000 + i * 20;
      const got = { conditions: Array.from({ length: 16 }, (_, c) => lazy.u8(at + c)), eflags: lazy.u32(at + 16) };
      const want = { conditions: Array.from({ length: 16 }, (_, c) => exact.u8(at + c)), eflags: exact.u32(at + 16) };
      expect({ case: cases[i], ...got }).toEqual({ case: cases[i], ...want });
    }
  });

  it("a condition after a logic op reads ZF, SF and PF from the result and CF = OF = 0", () => {
    const m = runSnippet(`
      stc
      mov eax, 0x80000003
      test eax, eax       ; SF = 1, ZF = 0, PF = 1 (0x03 has two bits), CF = OF = 0
      sets bl
      setz bh
      setp cl
      setc ch
      seto dl
      setl dh             ; SF != OF
      hlt
    `);
    expect(m.ebx & 0xffff).toBe(0x0001);
    expect(m.ecx & 0xffff).toBe(0x0001);
    expect(m.edx & 0xffff).toBe(0x0100);
  });
});
