// test/tools/asm/expr.test.ts — NASM's expression grammar and what a value
// is relative to. Expected numbers were checked against `nasm -f bin` 2.16.01.

import { describe, expect, it } from "vitest";
import { evaluate, parseExpression, type ExprContext, type ExprValue, type SymbolValue } from "../../../tools/asm/expr.js";
import { tokenize } from "../../../tools/asm/lex.js";

const symbols: Record<string, SymbolValue> = {
  start: { value: 0x100000n, relocs: 1, section: ".text" },
  entry: { value: 0x100010n, relocs: 1, section: ".text" },
  buf: { value: 0x200000n, relocs: 1, section: ".bss" },
  FOUR: { value: 4n, relocs: 0 },
};

const ctx: ExprContext = {
  lookup: (name) => symbols[name],
  here: { value: 0x100020n, relocs: 1, section: ".text" },
  sectionStart: { value: 0x100000n, relocs: 1, section: ".text" },
};

function ev(text: string, c: ExprContext = ctx): ExprValue {
  const t = tokenize(text);
  expect(t.error).toBeUndefined();
  const r = evaluate(t.tokens, c);
  expect(r.error).toBeUndefined();
  return r.value!;
}

function val(text: string): bigint {
  const v = ev(text);
  expect(v.relocs).toBe(0);
  expect(v.unknown).toBe(false);
  return v.value;
}

function err(text: string, c: ExprContext = ctx): string {
  const r = evaluate(tokenize(text).tokens, c);
  expect(r.error).toBeDefined();
  return r.error!;
}

const mem: ExprContext = { ...ctx, allowRegisters: true };

describe("arithmetic", () => {
  it("follows NASM's precedence", () => {
    expect(val("1 + 2 * 3")).toBe(7n);
    expect(val("1 | 2 ^ 3 & 1")).toBe(3n);
    expect(val("3 & 2 == 2")).toBe(1n);
    expect(val("1 << 2 + 1")).toBe(8n);
    expect(val("1 < 2 < 3")).toBe(1n);
    expect(val("1 + 1 ? 7 : 8")).toBe(7n);
    expect(val("0 || 1 && 0")).toBe(0n);
  });

  it("divides unsigned with / and % and signed with // and %%", () => {
    expect(val("-7 / 2")).toBe(0x7ffffffffffffffcn);
    expect(val("-7 // 2")).toBe(-3n);
    expect(val("-7 %% 2")).toBe(-1n);
    expect(val("-7 % 2")).toBe(1n);
  });

  it("shifts >> logically and >>> arithmetically, counts modulo 64", () => {
    expect(val("-1 >> 65")).toBe(0x7fffffffffffffffn);
    expect(val("-1 >>> 65")).toBe(-1n);
    expect(val("1 << 64")).toBe(1n);
    expect(val("1 << -1")).toBe(-0x8000000000000000n);
  });

  it("wraps to signed 64 bits", () => {
    expect(val("0xFFFFFFFFFFFFFFFF")).toBe(-1n);
    expect(val("0x7FFFFFFFFFFFFFFF + 1")).toBe(-0x8000000000000000n);
  });

  it("compares signed, with <=> giving -1, 0 or 1", () => {
    expect(val("-1 < 1")).toBe(1n);
    expect([val("3 <=> 5"), val("5 <=> 5"), val("5 <=> 3")]).toEqual([-1n, 0n, 1n]);
    expect([val("3 = 3"), val("3 <> 3"), val("3 == 4"), val("3 != 4")]).toEqual([1n, 0n, 0n, 1n]);
  });

  it("applies the unary operators", () => {
    expect([val("!5"), val("!0"), val("~0"), val("-(-3)"), val("+4"), val("- - -1")]).toEqual([0n, 1n, -1n, 3n, 4n, -1n]);
  });

  it("evaluates logical operators to 0 or 1", () => {
    expect([val("3 ^^ 0"), val("3 ^^ 3"), val("2 && 0"), val("0 || 4")]).toEqual([1n, 0n, 0n, 1n]);
  });

  it("nests ?: to the right", () => {
    expect(val("1 ? 2 : 3 ? 4 : 5")).toBe(2n);
    expect(val("0 ? 2 : 0 ? 4 : 5")).toBe(5n);
    expect(val("1 ? 0 ? 6 : 7 : 8")).toBe(7n);
  });

  it("reads character constants little-endian", () => {
    expect(val("'ab'")).toBe(0x6261n);
    expect(val("`\\n`")).toBe(10n);
    expect(val("'abcdefgh'")).toBe(0x6867666564636261n);
  });

  it("reports division by zero", () => {
    expect(err("5 / 0")).toBe("division by zero");
    expect(err("5 %% (2 - 2)")).toBe("division by zero");
  });
});

describe("symbols and sections", () => {
  it("counts a label as one section-relative term", () => {
    expect(ev("start + 4")).toEqual({ value: 0x100004n, relocs: 1, section: ".text", unknown: false, regs: [] });
  });

  it("makes the difference of two labels a plain number", () => {
    expect(ev("entry - start")).toEqual({ value: 0x10n, relocs: 0, unknown: false, regs: [] });
    expect(val("(entry - start) / 4")).toBe(4n);
  });

  it("knows $ and $$", () => {
    expect(val("$ - $$")).toBe(0x20n);
    expect(ev("$").relocs).toBe(1);
  });

  it("rejects $ where there is no position", () => {
    expect(err("$", { lookup: () => undefined })).toMatch(/\$/);
  });

  it("treats an equ constant as a plain number", () => {
    expect(val("FOUR * 2")).toBe(8n);
  });

  it("rejects operators other than + and - on a relocatable value", () => {
    expect(err("start / 2")).toMatch(/may only be applied to scalar values/);
    expect(err("start << 1")).toMatch(/may only be applied to scalar values/);
    expect(err("start & 0xfff")).toMatch(/may only be applied to scalar values/);
    expect(err("~start")).toMatch(/may only be applied to scalar values/);
    expect(err("start * 2")).toMatch(/multiply/);
  });

  it("makes an undefined symbol unknown, counted as 0", () => {
    expect(ev("later + 5")).toEqual({ value: 5n, relocs: 0, unknown: true, regs: [] });
  });

  it("does not complain about what an unknown value might make fine", () => {
    expect(ev("(later - start) / 4").unknown).toBe(true);
    expect(ev("10 / later").unknown).toBe(true);
    expect(ev("later * start").unknown).toBe(true);
  });

  it("rejects seg and wrt", () => {
    expect(err("seg start")).toMatch(/seg/);
  });

  it("rejects floating-point constants", () => {
    expect(err("1.5")).toMatch(/floating-point/);
  });
});

describe("registers in memory operands", () => {
  it("keeps register terms in written order with their scales", () => {
    expect(ev("ebx + esi*4 - 8", mem)).toEqual({
      value: -8n, relocs: 0, unknown: false,
      regs: [{ reg: "ebx", scale: 1n }, { reg: "esi", scale: 4n }],
      hint: { reg: "ebx", notBase: false },
    });
  });

  it("merges equal registers", () => {
    expect(ev("eax + eax*2", mem).regs).toEqual([{ reg: "eax", scale: 3n }]);
    expect(ev("EAX + 2*eax", mem).regs).toEqual([{ reg: "eax", scale: 3n }]);
  });

  it("distributes a scale over a sum", () => {
    expect(ev("2*(ecx+1)", mem)).toMatchObject({ value: 2n, regs: [{ reg: "ecx", scale: 2n }] });
  });

  it("drops registers that cancel", () => {
    expect(ev("eax - eax + ebx", mem).regs).toEqual([{ reg: "ebx", scale: 1n }]);
  });

  it("adds a label to a register", () => {
    expect(ev("buf + ebx*8", mem)).toMatchObject({ value: 0x200000n, relocs: 1, section: ".bss", regs: [{ reg: "ebx", scale: 8n }] });
  });

  it("rejects registers used non-linearly", () => {
    expect(err("eax * ebx", mem)).toBe("unable to multiply two non-scalar objects");
    expect(err("eax << 2", mem)).toBe("shift operator may only be applied to scalar values");
    expect(err("eax / 2", mem)).toMatch(/scalar|effective address/);
  });

  it("rejects a register outside a memory operand", () => {
    expect(err("eax + 1")).toMatch(/register/);
  });

  it("gives NASM's base hint: the first register, and whether it was multiplied", () => {
    expect(ev("ecx*1", mem).hint).toEqual({ reg: "ecx", notBase: true });
    expect(ev("eax*1+ebx", mem).hint).toEqual({ reg: "eax", notBase: true });
    expect(ev("ebx+eax*1", mem).hint).toEqual({ reg: "ebx", notBase: false });
    expect(ev("2*(ecx+1)", mem).hint).toEqual({ reg: "ecx", notBase: true });
    expect(ev("-ecx", mem).hint).toEqual({ reg: "ecx", notBase: false });
    expect(ev("4+1", mem).hint).toBeUndefined();
  });

  it("marks a sum of two like terms with a non-zero result, as NASM's EAH_SUMMED", () => {
    expect(ev("ecx+ebx+1+2", mem).summed).toBe(true);
    expect(ev("ecx+ebx+3+0", mem).summed).toBe(true);
    expect(ev("eax+eax", mem).summed).toBe(true);
    expect(ev("ecx+ebx+3", mem).summed).toBeUndefined();
    expect(ev("ecx+ebx+1-1", mem).summed).toBeUndefined();
    expect(ev("ecx+ebx-(-3)", mem).summed).toBeUndefined();
    expect(ev("1+2", {}).summed).toBeUndefined();
  });

  it("treats $eax as a symbol even in a memory operand", () => {
    expect(ev("$eax", mem)).toMatchObject({ unknown: true, regs: [] });
  });
});

describe("parseExpression", () => {
  it("stops at a comma, a bracket, an unbalanced parenthesis and a colon", () => {
    const { tokens } = tokenize("1+2, 3] 4) 5:6");
    const a = parseExpression(tokens, 0, ctx);
    expect([a.value?.value, tokens[a.next]!.text]).toEqual([3n, ","]);
    const b = parseExpression(tokens, a.next + 1, ctx);
    expect([b.value?.value, tokens[b.next]!.text]).toEqual([3n, "]"]);
    const c = parseExpression(tokens, b.next + 1, ctx);
    expect([c.value?.value, tokens[c.next]!.text]).toEqual([4n, ")"]);
    const d = parseExpression(tokens, c.next + 1, ctx);
    expect([d.value?.value, tokens[d.next]!.text]).toEqual([5n, ":"]);
  });

  it("reads a far pointer's selector up to the colon", () => {
    const { tokens } = tokenize("0x08:entry");
    const r = parseExpression(tokens, 0, ctx);
    expect(r.value?.value).toBe(8n);
    expect(r.next).toBe(1);
  });

  it("reports a syntax error", () => {
    expect(err("1 +")).toMatch(/syntax/);
    expect(err("(1")).toMatch(/\)/);
    expect(err("1 2")).toMatch(/syntax/);
    expect(err("")).toMatch(/syntax/);
  });
});
