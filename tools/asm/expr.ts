// tools/asm/expr.ts — NASM's expressions: grammar, evaluation, and what a
// value is relative to.
//
// The grammar is the NASM manual's 3.5, lowest precedence first: `?:`, `||`,
// `^^`, `&&`, the comparisons, `|`, `^`, `&`, the shifts, `+ -`, `* / // %
// %%`, and the unary `- + ~ !`. Arithmetic is 64-bit two's complement; `/`,
// `%` and `>>` are unsigned, `//`, `%%` and `>>>` signed, as in NASM.
//
// A value is a number plus what it is relative to, like NASM's expression
// vectors (eval.c): each label, `$` or `$$` is one section-relative term,
// and only `+` and `-` may combine such terms, so `end - start` is a plain
// number again and `2*label` is an error. Inside a memory operand register
// names are terms too, each with a scale, and may only be scaled by and
// added to plain numbers. A symbol not defined yet is "unknown": it counts
// as 0 and makes the whole value unknown, and then nothing is an error that
// could be fine once its value is known — the assembler runs another pass.

import type { Token } from "./lex.js";
import { registerInfo } from "./operand.js";

export interface ExprValue {
  /** BigInt.asIntN(64, ...) always. */
  value: bigint;
  /** Net count of section-relative terms: a label or `$` or `$$` is +1, `a - b`
   * subtracts; 0 means not relative ("simple" if also !unknown). */
  relocs: number;
  /** When relocs === 1: the section of that term. */
  section?: string;
  /** Some symbol was not (yet) defined; its value counted as 0. */
  unknown: boolean;
  /** Register terms in written order, equal registers merged (eax+eax*2 →
   * eax scale 3); empty for plain expressions. */
  regs: { reg: string; scale: bigint }[];
  /** NASM's base-register hint (eval.c): the first register written, and
   * whether it was multiplied (`ecx*1`, `2*(ecx+1)`), in which case NASM
   * makes it the index rather than the base: `[nosplit ecx*1]` is an index
   * without base, `[eax*1+ebx]` has base ebx. Absent without registers. */
  hint?: { reg: string; notBase: boolean };
  /** NASM's EAH_SUMMED: somewhere a `+` or `-` added two terms of the same
   * kind (two constants, or a register to itself) to a non-zero sum. NASM
   * then ignores the first-register hint (`[ecx+ebx+1+2]` has base ebx,
   * `[ecx+ebx+3]` base ecx). */
  summed?: boolean;
}

export interface SymbolValue {
  value: bigint;
  relocs: number;
  section?: string;
}

export interface ExprContext {
  /** undefined → unknown (value 0, unknown=true). */
  lookup(name: string): SymbolValue | undefined;
  /** `$` (undefined → using $ is an error). */
  here?: SymbolValue;
  /** `$$`. */
  sectionStart?: SymbolValue;
  /** Memory operands: register names become register terms; otherwise a
   * register name is an error. */
  allowRegisters?: boolean;
}

/** A value while it is being computed: relocations are kept per section so
 * that `a - b + c` knows which section the one remaining term belongs to. */
interface Val {
  value: bigint;
  sections: Map<string, number>;
  unknown: boolean;
  regs: { reg: string; scale: bigint }[];
  /** NASM's vector has a constant (EXPR_SIMPLE) term: every number, label and
   * `$` brings one, and a sum that cancels it to zero removes it. */
  hasConst: boolean;
}

class ExprError extends Error {}

const wrap = (v: bigint): bigint => BigInt.asIntN(64, v);
const unsigned = (v: bigint): bigint => BigInt.asUintN(64, v);

function relocCount(v: Val): number {
  let n = 0;
  for (const c of v.sections.values()) n += c;
  return n;
}

function isScalar(v: Val): boolean {
  return v.regs.length === 0 && relocCount(v) === 0 && [...v.sections.values()].every((c) => c === 0);
}

function scalar(value: bigint, unknown = false): Val {
  return { value: wrap(value), sections: new Map(), unknown, regs: [], hasConst: !unknown };
}

/** Sections with a section-less term use this key (a SymbolValue with
 * relocs but no section name). */
const NO_SECTION = "";

function fromSymbol(s: SymbolValue): Val {
  const sections = new Map<string, number>();
  if (s.relocs !== 0) sections.set(s.section ?? NO_SECTION, s.relocs);
  return { value: wrap(s.value), sections, unknown: false, regs: [], hasConst: true };
}

/** `a + b` or `a - b` term by term, as NASM's add_vectors; `onSummed` hears
 * when two terms of one kind met with a non-zero sum. */
function addVals(a: Val, b: Val, sign: 1n | -1n, onSummed?: () => void): Val {
  const sections = new Map(a.sections);
  for (const [sec, n] of b.sections) {
    const had = sections.get(sec);
    const sum = (had ?? 0) + (sign === 1n ? n : -n);
    if (had !== undefined && sum !== 0) onSummed?.();
    if (sum === 0) sections.delete(sec);
    else sections.set(sec, sum);
  }
  const regs = a.regs.map((r) => ({ ...r }));
  for (const r of b.regs) {
    const same = regs.find((x) => x.reg === r.reg);
    if (same) {
      same.scale += sign * r.scale;
      if (same.scale !== 0n) onSummed?.();
    } else regs.push({ reg: r.reg, scale: sign * r.scale });
  }
  const value = wrap(a.value + sign * b.value);
  const bothConst = a.hasConst && b.hasConst;
  if (bothConst && value !== 0n) onSummed?.();
  return {
    value,
    sections,
    unknown: a.unknown || b.unknown,
    regs: regs.filter((r) => r.scale !== 0n),
    hasConst: bothConst ? value !== 0n : a.hasConst || b.hasConst,
  };
}

/** Scales a register/relocatable value by a plain number, as NASM's
 * scalar_mult: registers scale, section terms only by 1. */
function scaleVal(v: Val, k: bigint, unknown: boolean): Val {
  if (relocCount(v) !== 0 && k !== 1n && !(unknown || v.unknown)) {
    throw new ExprError("unable to multiply a relocatable value");
  }
  return {
    value: wrap(v.value * k),
    sections: new Map(v.sections),
    unknown: v.unknown || unknown,
    regs: v.regs.map((r) => ({ reg: r.reg, scale: r.scale * k })).filter((r) => r.scale !== 0n || unknown),
    hasConst: v.hasConst,
  };
}

function truthy(v: Val): boolean {
  return v.value !== 0n;
}

function charConstant(bytes: Uint8Array): bigint {
  let v = 0n;
  const n = Math.min(bytes.length, 8);
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  return wrap(v);
}

const COMPARISONS = new Set(["=", "==", "!=", "<>", "<", "<=", ">", ">=", "<=>"]);
const SHIFTS = new Set(["<<", ">>", "<<<", ">>>"]);
const MULTIPLICATIVE = new Set(["*", "/", "//", "%", "%%"]);

class Parser {
  private depth = 0;
  hint?: { reg: string; notBase: boolean };
  summed = false;

  constructor(private readonly tokens: Token[], public pos: number, private readonly ctx: ExprContext) {}

  private peek(): Token | undefined {
    return this.tokens[this.pos];
  }

  private peekOp(): string | undefined {
    const t = this.tokens[this.pos];
    return t?.kind === "op" ? t.text : undefined;
  }

  /** `c ? a : b`, right-associative, lowest precedence. */
  conditional(): Val {
    const cond = this.logical(0);
    if (this.peekOp() !== "?") return cond;
    this.pos++;
    const yes = this.conditional();
    if (this.peekOp() !== ":") throw new ExprError("expecting `:'");
    this.pos++;
    const no = this.conditional();
    if (!isScalar(cond) && !cond.unknown) throw new ExprError("`?' operator may only be applied to scalar values");
    const pick = truthy(cond) ? yes : no;
    return cond.unknown ? { ...pick, unknown: true } : pick;
  }

  /** `||` (level 0), `^^` (1), `&&` (2), then the comparisons. */
  private logical(level: number): Val {
    const op = ["||", "^^", "&&"][level]!;
    const next = (): Val => (level < 2 ? this.logical(level + 1) : this.comparison());
    let left = next();
    while (this.peekOp() === op) {
      this.pos++;
      const right = next();
      this.requireScalar(left, right, `\`${op}' operator`);
      const a = truthy(left), b = truthy(right);
      const r = op === "||" ? a || b : op === "^^" ? a !== b : a && b;
      left = scalar(r ? 1n : 0n, left.unknown || right.unknown);
    }
    return left;
  }

  private comparison(): Val {
    let left = this.bitwise(0);
    for (let op = this.peekOp(); op !== undefined && COMPARISONS.has(op); op = this.peekOp()) {
      this.pos++;
      const right = this.bitwise(0);
      const unknown = left.unknown || right.unknown;
      let r: bigint;
      if (op === "=" || op === "==" || op === "!=" || op === "<>") {
        // Equality also holds between equal relocatable values (`a == a`).
        const diff = addVals(left, right, -1n);
        if (!isScalar(diff) && !unknown) throw new ExprError("comparison operator may only be applied to scalar values");
        const equal = diff.value === 0n;
        r = (op === "=" || op === "==") === equal ? 1n : 0n;
      } else {
        this.requireScalar(left, right, "comparison operator");
        const a = left.value, b = right.value;
        if (op === "<=>") r = a < b ? -1n : a > b ? 1n : 0n;
        else r = (op === "<" ? a < b : op === "<=" ? a <= b : op === ">" ? a > b : a >= b) ? 1n : 0n;
      }
      left = scalar(r, unknown);
    }
    return left;
  }

  /** `|` (level 0), `^` (1), `&` (2), then the shifts. */
  private bitwise(level: number): Val {
    const op = ["|", "^", "&"][level]!;
    const next = (): Val => (level < 2 ? this.bitwise(level + 1) : this.shift());
    let left = next();
    while (this.peekOp() === op) {
      this.pos++;
      const right = next();
      const name = op === "|" ? "`|' operator" : op === "^" ? "`^' operator" : "`&' operator";
      this.requireScalar(left, right, name);
      const a = left.value, b = right.value;
      left = scalar(op === "|" ? a | b : op === "^" ? a ^ b : a & b, left.unknown || right.unknown);
    }
    return left;
  }

  private shift(): Val {
    let left = this.additive();
    for (let op = this.peekOp(); op !== undefined && SHIFTS.has(op); op = this.peekOp()) {
      this.pos++;
      const right = this.additive();
      this.requireScalar(left, right, "shift operator");
      // The count is taken modulo 64, as the x86 shift NASM compiles to.
      const n = BigInt.asUintN(6, right.value);
      const a = left.value;
      const r = op === "<<" || op === "<<<" ? a << n : op === ">>" ? unsigned(a) >> n : a >> n;
      left = scalar(r, left.unknown || right.unknown);
    }
    return left;
  }

  private additive(): Val {
    let left = this.multiplicative();
    for (let op = this.peekOp(); op === "+" || op === "-"; op = this.peekOp()) {
      this.pos++;
      const right = this.multiplicative();
      left = addVals(left, right, op === "+" ? 1n : -1n, () => (this.summed = true));
    }
    return left;
  }

  private multiplicative(): Val {
    let left = this.unary();
    for (let op = this.peekOp(); op !== undefined && MULTIPLICATIVE.has(op); op = this.peekOp()) {
      this.pos++;
      const right = this.unary();
      if (op === "*") {
        left = this.multiply(left, right);
        continue;
      }
      const unknown = left.unknown || right.unknown;
      if (!unknown && (!isScalar(left) || !isScalar(right))) {
        throw new ExprError(`${op === "%" || op === "%%" ? "modulo" : "division"} operator may only be applied to scalar values`);
      }
      if (left.regs.length > 0 || right.regs.length > 0) throw new ExprError("invalid effective address: registers may only be scaled and added");
      if (right.value === 0n) {
        if (unknown) { left = scalar(0n, true); continue; }
        throw new ExprError("division by zero");
      }
      let r: bigint;
      if (op === "/") r = unsigned(left.value) / unsigned(right.value);
      else if (op === "%") r = unsigned(left.value) % unsigned(right.value);
      else if (op === "//") r = left.value / right.value;
      else r = left.value % right.value;
      left = scalar(r, unknown);
    }
    return left;
  }

  private multiply(a: Val, b: Val): Val {
    const aPlain = a.regs.length === 0 && relocCount(a) === 0 && a.sections.size === 0;
    const bPlain = b.regs.length === 0 && relocCount(b) === 0 && b.sections.size === 0;
    if (aPlain || bPlain) {
      const scaled = aPlain ? b : a;
      if (this.hint && !this.summed && scaled.regs.some((r) => r.reg === this.hint!.reg)) this.hint.notBase = true;
    }
    if (aPlain) return scaleVal(b, a.value, a.unknown);
    if (bPlain) return scaleVal(a, b.value, b.unknown);
    if (a.regs.length > 0 || b.regs.length > 0) throw new ExprError("unable to multiply two non-scalar objects");
    if (a.unknown || b.unknown) return scalar(a.value * b.value, true);
    throw new ExprError("unable to multiply two non-scalar objects");
  }

  private unary(): Val {
    const op = this.peekOp();
    if (op === "-" || op === "+" || op === "~" || op === "!") {
      this.pos++;
      const v = this.unaryDepth();
      if (op === "+") return v;
      if (op === "-") return scaleNegate(v);
      if (!isScalar(v) && !v.unknown) {
        throw new ExprError(`\`${op}' operator may only be applied to scalar values`);
      }
      if (v.regs.length > 0) throw new ExprError("invalid effective address: registers may only be scaled and added");
      return scalar(op === "~" ? ~v.value : v.value === 0n ? 1n : 0n, v.unknown);
    }
    return this.primary();
  }

  /** Unary operators nest (`- - -1`); the nesting is bounded to keep a
   * hostile line from exhausting the stack. */
  private unaryDepth(): Val {
    if (++this.depth > 1000) throw new ExprError("expression too deeply nested");
    try {
      return this.unary();
    } finally {
      this.depth--;
    }
  }

  private primary(): Val {
    const t = this.peek();
    if (t === undefined) throw new ExprError("expression syntax error: expecting a value");
    this.pos++;
    switch (t.kind) {
      case "num":
        return scalar(t.value!);
      case "str":
        return scalar(charConstant(t.bytes!));
      case "float":
        throw new ExprError(`floating-point constant \`${t.text}' in an integer expression is not supported`);
      case "id":
        return this.identifier(t);
      case "op":
        break;
    }
    if (t.text === "(") {
      if (++this.depth > 1000) throw new ExprError("expression too deeply nested");
      const v = this.conditional();
      this.depth--;
      if (this.peekOp() !== ")") throw new ExprError("expecting `)'");
      this.pos++;
      return v;
    }
    if (t.text === "$") {
      if (this.ctx.here === undefined) throw new ExprError("`$' is not allowed here");
      return fromSymbol(this.ctx.here);
    }
    if (t.text === "$$") {
      if (this.ctx.sectionStart === undefined) throw new ExprError("`$$' is not allowed here");
      return fromSymbol(this.ctx.sectionStart);
    }
    this.pos--;
    throw new ExprError(`expression syntax error: unexpected \`${t.text}'`);
  }

  private identifier(t: Token): Val {
    const name = t.text;
    if (!t.symbol) {
      const lower = name.toLowerCase();
      if (lower === "seg" || lower === "wrt") throw new ExprError(`\`${lower}' is not supported (flat binaries only)`);
      const reg = registerInfo(name);
      if (reg !== undefined) {
        if (!this.ctx.allowRegisters) throw new ExprError(`register \`${lower}' is not allowed in an expression`);
        if (!this.summed) this.hint ??= { reg: lower, notBase: false };
        return { value: 0n, sections: new Map(), unknown: false, regs: [{ reg: lower, scale: 1n }], hasConst: false };
      }
    }
    const sym = this.ctx.lookup(name);
    if (sym === undefined) return scalar(0n, true);
    return fromSymbol(sym);
  }

  private requireScalar(a: Val, b: Val, what: string): void {
    if (a.regs.length > 0 || b.regs.length > 0) {
      throw new ExprError(`${what} may only be applied to scalar values`);
    }
    if (a.unknown || b.unknown) return;
    if (!isScalar(a) || !isScalar(b)) throw new ExprError(`${what} may only be applied to scalar values`);
  }
}

/** Unary minus: NASM's scalar_mult by -1, which leaves the hints alone. */
function scaleNegate(v: Val): Val {
  const sections = new Map<string, number>();
  for (const [sec, n] of v.sections) sections.set(sec, -n);
  return {
    value: wrap(-v.value),
    sections,
    unknown: v.unknown,
    regs: v.regs.map((r) => ({ reg: r.reg, scale: -r.scale })),
    hasConst: v.hasConst,
  };
}

function toExprValue(v: Val): ExprValue {
  const out: ExprValue = { value: wrap(v.value), relocs: relocCount(v), unknown: v.unknown, regs: v.regs };
  if (out.relocs === 1) {
    const positive = [...v.sections.entries()].filter(([, n]) => n !== 0);
    if (positive.length === 1 && positive[0]![0] !== NO_SECTION) out.section = positive[0]![0];
  }
  return out;
}

/**
 * Parses one expression starting at tokens[pos]; stops (without consuming)
 * at `,` `]` an unbalanced `)`, a `:` that does not belong to a `?:`, or the
 * end of the tokens.
 */
export function parseExpression(
  tokens: Token[],
  pos: number,
  ctx: ExprContext,
): { value?: ExprValue; next: number; error?: string } {
  const p = new Parser(tokens, pos, ctx);
  try {
    const v = p.conditional();
    const value = toExprValue(v);
    if (p.hint) value.hint = p.hint;
    if (p.summed && ctx.allowRegisters) value.summed = true;
    return { value, next: p.pos };
  } catch (e) {
    if (e instanceof ExprError) return { next: p.pos, error: e.message };
    throw e;
  }
}

/** Evaluates a whole token list as one expression. */
export function evaluate(tokens: Token[], ctx: ExprContext): { value?: ExprValue; error?: string } {
  if (tokens.length === 0) return { error: "expression syntax error: empty expression" };
  const r = parseExpression(tokens, 0, ctx);
  if (r.error !== undefined) return { error: r.error };
  if (r.next < tokens.length) return { error: `expression syntax error: unexpected \`${tokens[r.next]!.text}'` };
  return { value: r.value! };
}
