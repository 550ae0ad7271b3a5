// tools/asm/encode.ts — turns one instruction into bytes exactly as NASM 2.16
// does with its default -Ox optimisation.
//
// NASM's rule, which this file follows step by step: walk the forms of the
// mnemonic in table order (isa.ts) and take the FIRST that matches. A form
// matches when every operand is of its class, and sizes agree: an operand
// that carries a size must have the form's size; one without a size takes
// the size the form's flags give it (SB, SW, SD, SIZE, or the other operands
// under SM). If no form matches only because a size is missing, and every
// such form agrees on that operand's size, the size is filled in and the
// walk repeats ("fuzzy" matching: `shl eax, 5` finds imm8 this way). The
// sign-extended imm8 forms come first but require an immediate that is a
// known number, fits, and is not `strict`; the short jump forms come first
// but require a target in this section within -128..127 (or still unknown).
//
// Effective addresses follow NASM's process_ea: base and index are chosen
// from the registers as written (the first one written is preferred as base,
// esp is never an index, eax*2 becomes eax+eax unless `nosplit`), and the
// displacement is dropped or shortened only when it is a known number.
// Intel SDM vol. 2, section 2.1 (prefixes, ModRM, SIB) gives the bit layout.
//
// Nothing here throws on bad input: every rejection is an EncodeResult error
// worded as NASM words it.

import { FORMS_BY_MNEMONIC, SIZE_BITS } from "./isa.js";
import type { InstructionForm, OperandPattern, RegClass } from "./isa.js";
import { registerInfo } from "./operand.js";
import type { EncodeRequest, EncodeResult, MemOperand, Operand, Size } from "./operand.js";

/** Words that may stand before a mnemonic. */
export const PREFIXES: ReadonlySet<string> = new Set([
  "rep", "repe", "repz", "repne", "repnz", "lock", "o16", "o32", "a16", "a32",
  "es", "cs", "ss", "ds", "fs", "gs",
]);

export function isMnemonic(name: string): boolean {
  return FORMS_BY_MNEMONIC.has(name);
}

// ---------------------------------------------------------------- operands as NASM sees them

/** An effective address after NASM's parse_mref: base, index and scale chosen. */
interface EffectiveAddress {
  base: string | null;
  index: string | null;
  scale: number;
  /** The displacement as written, 64-bit two's complement. */
  disp: bigint;
  /** The displacement is a known number (NASM: segment == NO_SEG and not a forward reference). */
  dispKnown: boolean;
  dispSize?: 8 | 16 | 32;
  nosplit: boolean;
  /** NASM's base hint: the first register written, and what became of it. */
  hintReg: string | null;
  hintType: "makebase" | "notbase" | "summed";
  /** No base and no index: a bare displacement (NASM's MEM_OFFS). */
  offsOnly: boolean;
}

interface InsnOperand {
  kind: "reg" | "mem" | "imm" | "far";
  /** SIZE_BITS written or implied; the fuzzy pass adds to it. */
  size: number;
  // registers
  regName?: string;
  regClass?: RegClass;
  regNum?: number;
  // immediates and far pointers (value is the offset of a far pointer)
  value: bigint;
  selector?: bigint;
  simple: boolean;
  unknown: boolean;
  section?: string;
  strict: boolean;
  unity: boolean;
  sbyteword: boolean;
  sbytedword: boolean;
  // memory
  ea?: EffectiveAddress;
  /** MEM_OFFS survives only if the displacement size fits the address size. */
  memOffs: boolean;
}

const SIZE_OF: Record<Size, number> = {
  8: SIZE_BITS[8],
  16: SIZE_BITS[16],
  32: SIZE_BITS[32],
  48: SIZE_BITS[48],
  64: SIZE_BITS[64],
  80: SIZE_BITS[80],
};

const GPR_CLASS: Record<string, RegClass> = { r8: "gpr", r16: "gpr", r32: "gpr" };

const MASK64 = (1n << 64n) - 1n;

/** Value as NASM's int64_t. */
function s64(v: bigint): bigint {
  return BigInt.asIntN(64, v);
}

class EncodeError extends Error {}

function fail(message: string): never {
  throw new EncodeError(message);
}

function convertOperand(op: Operand, prefixes: Slots, bits: 16 | 32): InsnOperand {
  const base: InsnOperand = {
    kind: "imm", size: 0, value: 0n, simple: false, unknown: false, strict: false,
    unity: false, sbyteword: false, sbytedword: false, memOffs: false,
  };
  if (op.kind === "reg") {
    const info = registerInfo(op.name);
    if (!info) fail(`unknown register \`${op.name}'`);
    return {
      ...base, kind: "reg", regName: op.name.toLowerCase(), regClass: GPR_CLASS[info.cls] ?? (info.cls as RegClass),
      regNum: info.num, size: SIZE_OF[info.size],
    };
  }
  if (op.kind === "imm") {
    let size = op.size ? SIZE_OF[op.size] : 0;
    if (op.jump) size |= SIZE_BITS[op.jump];
    const value = op.unknown ? 0n : s64(op.value);
    const simple = op.simple && !op.unknown;
    // NASM's parser: a known number gets UNITY if it is 1 and, unless
    // `strict`, SBYTEWORD/SBYTEDWORD if it is a sign-extended byte modulo
    // 2^16/2^32. A value still unknown (a forward reference in an early
    // pass) is taken optimistically as all three, again unless `strict`:
    // its form can only grow in later passes, like a short jump's.
    const u = BigInt.asUintN(64, value);
    const fits = (width: bigint) => ((u + 128n) & ((1n << width) - 1n)) <= 255n;
    const optimistic = op.unknown && !op.strict;
    return {
      ...base, kind: op.segment !== undefined ? "far" : "imm", size, value,
      selector: op.segment, simple, unknown: op.unknown, section: op.section, strict: op.strict,
      unity: optimistic || (simple && u === 1n),
      sbyteword: optimistic || (simple && !op.strict && fits(16n)),
      sbytedword: optimistic || (simple && !op.strict && fits(32n)),
    };
  }
  let size = op.size ? SIZE_OF[op.size] : 0;
  if (op.jump) size |= SIZE_BITS[op.jump];
  if (op.segment !== undefined) {
    const seg = op.segment.toLowerCase();
    if (!["es", "cs", "ss", "ds", "fs", "gs"].includes(seg)) fail("invalid segment override");
    if (prefixes.seg !== null) fail("instruction has conflicting segment overrides");
    prefixes.seg = seg;
  }
  const ea = parseMref(op, bits);
  return { ...base, kind: "mem", size, ea, memOffs: ea.offsOnly };
}

/**
 * NASM's parse_mref: the registers in NASM's register-number order (which is
 * alphabetical), a scale-1 general register becomes the base, the other the
 * index. process_ea may swap them later following the hint.
 */
function parseMref(op: MemOperand, bits: 16 | 32): EffectiveAddress {
  const terms = op.regs.filter((t) => t.scale !== 0n).map((t) => ({ reg: t.reg.toLowerCase(), scale: t.scale }));
  if (terms.length > 2) fail("invalid effective address: too many registers");
  for (const t of terms) {
    const info = registerInfo(t.reg);
    if (!info) fail(`unknown register \`${t.reg}'`);
    if (info.cls !== "r16" && info.cls !== "r32" && info.cls !== "r8") invalidEA(bits);
  }
  const sorted = [...terms].sort((a, b) => (a.reg < b.reg ? -1 : a.reg > b.reg ? 1 : 0));
  let base: string | null = null;
  let index: string | null = null;
  let scale = 0;
  for (const t of sorted) {
    const first = base === null && index === null;
    if ((first || base === null) && t.scale === 1n) {
      base = t.reg;
    } else if (first || base !== null) {
      index = t.reg;
      scale = Number(BigInt.asIntN(32, t.scale));
    } else {
      fail("invalid effective address: two index registers");
    }
  }
  const hasRegs = terms.length > 0;
  const dispKnown = !op.hasDisp || (op.dispSimple && !op.dispUnknown);
  return {
    base, index, scale,
    disp: op.hasDisp && !op.dispUnknown ? s64(op.disp) : 0n,
    dispKnown,
    dispSize: op.dispSize,
    nosplit: op.nosplit,
    hintReg: hasRegs ? op.regs[0].reg.toLowerCase() : null,
    hintType: op.eaHint ?? "makebase",
    offsOnly: !hasRegs,
  };
}

// ---------------------------------------------------------------- prefixes

/** NASM's prefix slots, emitted in this order. */
interface Slots {
  wait: string | null;
  rep: string | null;
  lock: string | null;
  seg: string | null;
  osize: string | null;
  asize: string | null;
}

const SLOT_OF: Record<string, keyof Slots> = {
  rep: "rep", repe: "rep", repz: "rep", repne: "rep", repnz: "rep", lock: "lock",
  o16: "osize", o32: "osize", a16: "asize", a32: "asize",
  es: "seg", cs: "seg", ss: "seg", ds: "seg", fs: "seg", gs: "seg",
};

const SEGMENT_PREFIX: Record<string, number> = { es: 0x26, cs: 0x2e, ss: 0x36, ds: 0x3e, fs: 0x64, gs: 0x65 };

function prefixBytes(slots: Slots, bits: 16 | 32): number[] {
  const out: number[] = [];
  if (slots.wait) out.push(0x9b);
  if (slots.rep) out.push(slots.rep === "repne" || slots.rep === "repnz" ? 0xf2 : 0xf3);
  if (slots.lock) out.push(0xf0);
  if (slots.seg) out.push(SEGMENT_PREFIX[slots.seg]);
  if ((slots.osize === "o16" && bits !== 16) || (slots.osize === "o32" && bits === 16)) out.push(0x66);
  if ((slots.asize === "a16" && bits !== 16) || (slots.asize === "a32" && bits === 16)) out.push(0x67);
  return out;
}

// ---------------------------------------------------------------- address size (NASM's add_asp)

function regBits(name: string): number {
  return registerInfo(name)?.size ?? 0;
}

function chooseAddressSize(ops: InsnOperand[], slots: Slots, bits: 16 | 32): 16 | 32 {
  let valid = 16 | 32;
  if (slots.asize === "a16") valid &= 16;
  if (slots.asize === "a32") valid &= 32;
  for (const op of ops) {
    if (op.kind !== "mem" || !op.ea) continue;
    const { base, index, dispSize } = op.ea;
    if (base === null && index === null) {
      if (dispSize !== undefined && dispSize > 8) valid &= dispSize;
    } else {
      for (const r of [base, index]) {
        if (r === null) continue;
        const b = regBits(r);
        if (b === 16) valid &= 16;
        if (b === 32) valid &= 32;
      }
    }
  }
  let addrSize: 16 | 32;
  if (valid & bits) {
    addrSize = bits;
  } else if (valid & (bits === 32 ? 16 : 32)) {
    addrSize = bits === 32 ? 16 : 32;
    slots.asize = addrSize === 16 ? "a16" : "a32";
  } else {
    fail("impossible combination of address sizes");
  }
  for (const op of ops) {
    if (op.kind === "mem" && op.memOffs && (op.ea?.dispSize ?? (addrSize === 16 ? 16 : 32)) !== addrSize) {
      op.memOffs = false;
    }
  }
  return addrSize;
}

// ---------------------------------------------------------------- matching (NASM's matches / find_match)

/** Match results, worst to best, as NASM orders them (the best failure is reported). */
const enum Match {
  InvalidOperands,
  SizeMissing,
  SizeMismatch,
  BadMode,
  BadRepne,
  Jump,
  Good,
}

const MATCH_MESSAGE: Record<number, string> = {
  [Match.InvalidOperands]: "invalid combination of opcode and operands",
  [Match.SizeMissing]: "operation size not specified",
  [Match.SizeMismatch]: "mismatch in operand sizes",
};

const ALL_SIZES = 0x1ff;

function classMatches(p: OperandPattern, op: InsnOperand): boolean {
  switch (p.kind) {
    case "reg":
      if (op.kind !== "reg" || op.regClass !== p.regClass) return false;
      if (p.register !== undefined && op.regName !== p.register) return false;
      if (p.notAccumulator && op.regNum === 0) return false;
      return true;
    case "rm":
      return op.kind === "mem" || (op.kind === "reg" && op.regClass === "gpr");
    case "mem":
      return op.kind === "mem" && (!p.memOffs || op.memOffs);
    case "imm":
      if (op.kind !== "imm") return false;
      if (p.immClass === "unity") return op.unity;
      if (p.immClass === "sbyteword") return op.sbyteword;
      if (p.immClass === "sbytedword") return op.sbytedword;
      return true;
    case "far":
      return op.kind === "far";
  }
}

function matches(form: InstructionForm, ops: InsnOperand[], bits: 16 | 32, slots: Slots): Match {
  if (form.operands.length !== ops.length) return Match.InvalidOperands;
  const f = form.flags;
  let asize = 0;
  if (f.has("SB")) asize = SIZE_BITS[8];
  else if (f.has("SW")) asize = SIZE_BITS[16];
  else if (f.has("SD")) asize = SIZE_BITS[32];
  else if (f.has("ANYSIZE")) asize = ALL_SIZES;
  else if (f.has("SIZE")) asize = SIZE_BITS[bits];
  const size = new Array<number>(ops.length).fill(0);
  const argument = ["AR0", "AR1", "AR2"].findIndex((a) => f.has(a));
  if (argument >= 0) size[argument] = asize;
  else size.fill(asize);

  let sizeMissing = false;
  for (let k = 0; k < ops.length; k++) {
    const p = form.operands[k];
    const op = ops[k];
    if (!classMatches(p, op)) return Match.InvalidOperands;
    const opSize = op.size || size[k];
    if (p.size && p.size !== opSize) {
      if (opSize) return Match.InvalidOperands;
      // A register's size is never missing; an immediate's or a memory operand's may be.
      if (op.kind !== "reg") sizeMissing = true;
    }
  }
  if (sizeMissing) return Match.SizeMissing;

  if (f.has("SM") || f.has("SM2")) {
    const n = f.has("SM2") ? 2 : ops.length;
    const first = form.operands.slice(0, n).find((p) => p.size);
    if (first) for (let k = 0; k < n; k++) size[k] = first.size;
  }
  for (let k = 0; k < ops.length; k++) {
    if (!form.operands[k].size && ops[k].size & ~size[k]) return Match.SizeMismatch;
  }
  if (f.has("LONG")) return Match.BadMode;
  if (form.encoding.some((s) => s.op === "short")) return Match.Jump;
  if (form.flags.has("BND") && (slots.rep === "repne" || slots.rep === "repnz")) return Match.BadRepne;
  return Match.Good;
}

interface Context {
  req: EncodeRequest;
  ops: InsnOperand[];
  slots: Slots;
  addrSize: 16 | 32;
}

/** NASM's jmp_match: is the short form good for this jump? */
function shortJumpFits(ctx: Context, form: InstructionForm): boolean {
  const target = ctx.ops[0];
  if (target.strict) return false;
  if (target.unknown) return true;
  if (target.section === undefined || target.section !== ctx.req.section) return false;
  const length = assembleForm(ctx, form, true).bytes.length;
  const delta = target.value - (s64(ctx.req.offset) + BigInt(length));
  return delta >= -128n && delta <= 127n;
}

function findForm(ctx: Context, forms: readonly InstructionForm[]): { form?: InstructionForm; result: Match } {
  const { ops, req, slots } = ctx;
  const xsize = ops.map((op) => op.size);
  let best = Match.InvalidOperands;
  let missing = false;
  const walk = (fuzzy: boolean): InstructionForm | undefined => {
    for (const form of forms) {
      let m = matches(form, ops, req.bits, slots);
      if (m === Match.Jump) m = shortJumpFits(ctx, form) ? Match.Good : Match.InvalidOperands;
      else if (!fuzzy && m === Match.SizeMissing) {
        form.operands.forEach((p, k) => (xsize[k] |= p.size));
        missing = true;
      }
      if (m > best) best = m;
      if (best === Match.Good) return form;
    }
    return undefined;
  };
  const form = walk(false);
  if (form) return { form, result: Match.Good };
  if (!missing) return { result: best };
  for (let k = 0; k < ops.length; k++) {
    if (ops[k].kind === "reg") continue;
    if (xsize[k] & (xsize[k] - 1)) return { result: best };
  }
  ops.forEach((op, k) => {
    if (op.kind !== "reg") op.size |= xsize[k];
  });
  const second = walk(true);
  return second ? { form: second, result: Match.Good } : { result: best };
}

// ---------------------------------------------------------------- effective addresses (NASM's process_ea)

interface ModRM {
  modrm: number;
  sib?: number;
  /** Displacement bytes (0, 1, 2 or 4). */
  dispBytes: number;
}

const REG32_NUM: Record<string, number> = { eax: 0, ecx: 1, edx: 2, ebx: 3, esp: 4, ebp: 5, esi: 6, edi: 7 };
const ESP = 4;
const EBP = 5;

function invalidEA(bits: 16 | 32): never {
  fail(`invalid ${bits}-bit effective address`);
}

function processEA(op: InsnOperand, rfield: number, ctx: Context, warnings: Set<string>): ModRM {
  const bits = ctx.req.bits;
  if (op.kind === "reg") return { modrm: 0xc0 | (rfield << 3) | op.regNum!, dispBytes: 0 };
  const ea = op.ea!;
  const addrbits = ctx.addrSize;
  const byteOffs = ea.dispSize === 8;
  const wordOffs = ea.dispSize === 16 || ea.dispSize === 32;

  if (ea.base === null && ea.index === null) {
    // A bare displacement: mod 00 with rm 101 (32-bit) or 110 (16-bit).
    if (byteOffs || (wordOffs && ea.dispSize !== (addrbits !== 16 ? 32 : 16))) {
      warnings.add("displacement size ignored on absolute address");
    }
    return { modrm: (rfield << 3) | (addrbits !== 16 ? 5 : 6), dispBytes: addrbits !== 16 ? 4 : 2 };
  }

  const known = ea.dispKnown;
  const b = ea.base;
  const i = ea.index;
  const bBits = b ? regBits(b) : 0;
  const iBits = i ? regBits(i) : 0;

  if (bBits === 32 || iBits === 32) {
    const o = BigInt.asIntN(32, ea.disp);
    if (i !== null && iBits !== 32) invalidEA(bits);
    if (b !== null && bBits !== 32) invalidEA(bits);
    if (ea.dispSize === 16) invalidEA(bits);
    if (addrbits === 16) invalidEA(bits);
    let s = ea.scale;
    let it = i !== null ? REG32_NUM[i] : -1;
    let bt = b !== null ? REG32_NUM[b] : -1;
    if (i === null) s = 0;
    const hb = ea.hintReg;
    const ht = ea.hintType;
    if (s === 1 && bt !== it && bt !== -1 && it !== -1 &&
        ((hb === b && ht === "notbase") || (hb === i && ht === "makebase"))) {
      [bt, it] = [it, bt];
    }
    if (bt === -1 && s === 1 && !(hb === i && ht === "notbase")) {
      bt = it;
      it = -1;
    }
    if (((s === 2 && it !== ESP && (!ea.nosplit || ht === "summed")) || s === 3 || s === 5 || s === 9) && bt === -1) {
      bt = it;
      s--;
    }
    if (it === -1 && (bt & 7) !== ESP && ea.nosplit && hb === b && ht === "notbase") {
      it = bt;
      bt = -1;
      s = 1;
    }
    if (s === 1 && it === ESP) [bt, it] = [it, bt];
    if (it === ESP || (s !== 1 && s !== 2 && s !== 4 && s !== 8 && it !== -1)) invalidEA(bits);

    const modFor = (reg: number): number => {
      if (reg !== EBP && o === 0n && known && !byteOffs && !wordOffs) return 0;
      if (!wordOffs && (byteOffs || (o >= -128n && o <= 127n && known))) return 1;
      return 2;
    };
    if (it === -1 && (bt & 7) !== ESP) {
      if (bt === -1) return { modrm: (rfield << 3) | 5, dispBytes: 4 };
      const mod = modFor(bt);
      return { modrm: (mod << 6) | (rfield << 3) | bt, dispBytes: mod === 2 ? 4 : mod };
    }
    const index = it === -1 ? 4 : it;
    if (it === -1) s = 1;
    const scale = ({ 1: 0, 2: 1, 4: 2, 8: 3 } as Record<number, number>)[s];
    if (scale === undefined) invalidEA(bits);
    if (bt === -1) {
      return { modrm: (rfield << 3) | 4, sib: (scale << 6) | (index << 3) | 5, dispBytes: 4 };
    }
    const mod = modFor(bt);
    return { modrm: (mod << 6) | (rfield << 3) | 4, sib: (scale << 6) | (index << 3) | bt, dispBytes: mod === 2 ? 4 : mod };
  }

  // 16-bit addressing: one of the eight base/index pairs of the SDM's table 2-1.
  const o = BigInt.asIntN(16, ea.disp);
  const ok16 = (r: string | null) => r === null || r === "bx" || r === "bp" || r === "si" || r === "di";
  if (!ok16(b) || !ok16(i)) invalidEA(bits);
  if (ea.dispSize === 32) invalidEA(bits);
  let base = b;
  let index = i;
  if (ea.scale !== 1 && index !== null) invalidEA(bits);
  if (base === null && index !== null) [base, index] = [index, base];
  if ((base === "si" || base === "di") && index !== null) [base, index] = [index, base];
  if (base === index) invalidEA(bits);
  if (index !== null && base !== null && (index === "bp" || index === "bx" || base === "si" || base === "di")) {
    invalidEA(bits);
  }
  if (base === null) invalidEA(bits);
  const RM16: Record<string, number> = {
    "bx+si": 0, "bx+di": 1, "bp+si": 2, "bp+di": 3, si: 4, di: 5, bp: 6, bx: 7,
  };
  const rm = RM16[index !== null ? `${base}+${index}` : base];
  if (rm === undefined) invalidEA(bits);
  let mod: number;
  if (o === 0n && known && rm !== 6 && !byteOffs && !wordOffs) mod = 0;
  else if (!wordOffs && (byteOffs || (o >= -128n && o <= 127n && known))) mod = 1;
  else mod = 2;
  return { modrm: (mod << 6) | (rfield << 3) | rm, dispBytes: mod };
}

// ---------------------------------------------------------------- output (NASM's calcsize / gencode)

function sizeName(bytes: number): string {
  return ({ 1: "byte", 2: "word", 4: "dword", 8: "qword" } as Record<number, string>)[bytes] ?? "???";
}

/** NASM's overflow_general: fits as signed or unsigned. */
function overflowGeneral(v: bigint, bytes: number): boolean {
  if (bytes >= 8) return false;
  const lim = 1n << BigInt(bytes * 8);
  return v < -lim || v > lim - 1n;
}

function overflowSigned(v: bigint, bytes: number): boolean {
  if (bytes >= 8) return false;
  const lim = 1n << BigInt(bytes * 8 - 1);
  return v < -lim || v > lim - 1n;
}

function overflowUnsigned(v: bigint, bytes: number): boolean {
  if (bytes >= 8) return false;
  return v < 0n || v > (1n << BigInt(bytes * 8)) - 1n;
}

function pushLE(out: number[], v: bigint, bytes: number): void {
  let u = BigInt.asUintN(64, v);
  for (let k = 0; k < bytes; k++) {
    out.push(Number(u & 0xffn));
    u >>= 8n;
  }
}

/** Emits an absolute value of `bytes` bytes, warning as NASM's out() does when it does not fit. */
function emitValue(
  out: number[], v: bigint, bytes: number, sign: "wrap" | "signed" | "unsigned",
  known: boolean, bits: 16 | 32, warnings: Set<string>,
): void {
  if (known) {
    const mode = bytes >= bits / 8 ? "wrap" : sign;
    const bad = mode === "signed" ? overflowSigned(v, bytes) : mode === "unsigned" ? overflowUnsigned(v, bytes) : overflowGeneral(v, bytes);
    if (bad) warnings.add(`${sizeName(bytes)} data exceeds bounds`);
  }
  pushLE(out, v, bytes);
}

interface Assembled {
  bytes: number[];
  warnings: Set<string>;
}

function operandWithRole(form: InstructionForm, ops: InsnOperand[], role: "m" | "r" | "i" | "j"): InsnOperand {
  const k = form.roles.findIndex((r) => r === role || (r === "r+m" && (role === "r" || role === "m")));
  return ops[k];
}

/**
 * Lays out one matched form. With `sizing` set it only needs the length
 * (jump displacements may still be out of range then).
 */
function assembleForm(ctx: Context, form: InstructionForm, sizing: boolean): Assembled {
  const { req, ops } = ctx;
  const bits = req.bits;
  const warnings = new Set<string>();
  const slots: Slots = { ...ctx.slots };

  // Operand- and address-size codes decide prefixes before anything is emitted.
  for (const step of form.encoding) {
    if (step.op === "osize" && step.size !== null) {
      const want = step.size === 16 ? "o16" : "o32";
      if (slots.osize === null) slots.osize = want;
      else if (slots.osize !== want) warnings.add(`invalid operand size prefix, must be ${want}`);
    }
    if (step.op === "wait" && slots.wait === null) slots.wait = "wait";
  }
  if (slots.lock && (!form.flags.has("LOCK") || ops[0]?.kind !== "mem")) warnings.add("instruction is not lockable");
  if (form.flags.has("OBSOLETE")) warnings.add("instruction obsolete and removed from the target CPU");

  const body: number[] = [];
  const rels: { at: number; bytes: number; target: InsnOperand }[] = [];
  for (const step of form.encoding) {
    switch (step.op) {
      case "byte":
        body.push(step.value);
        break;
      case "plusreg":
        body.push(step.base + operandWithRole(form, ops, "r").regNum!);
        break;
      case "modrm": {
        const rm = operandWithRole(form, ops, "m");
        const rfield = step.digit ?? operandWithRole(form, ops, "r").regNum!;
        const ea = processEA(rm, rfield, ctx, warnings);
        body.push(ea.modrm);
        if (ea.sib !== undefined) body.push(ea.sib);
        if (ea.dispBytes) {
          // NASM warns when the displacement does not survive the trip through
          // the address size and the displacement size (gencode, then out()).
          const disp = rm.ea!.disp;
          const asize = ctx.addrSize / 8;
          if (rm.ea!.dispKnown) {
            if (overflowGeneral(disp, asize) ||
                BigInt.asIntN(ctx.addrSize, disp) !== BigInt.asIntN(ea.dispBytes * 8, disp)) {
              warnings.add(`${sizeName(ea.dispBytes)} data exceeds bounds`);
            }
            emitValue(body, disp, ea.dispBytes, asize > ea.dispBytes ? "signed" : "wrap", true, bits, warnings);
          } else {
            pushLE(body, disp, ea.dispBytes);
          }
        }
        break;
      }
      case "imm": {
        const op = operandWithRole(form, ops, step.role);
        immediate(body, step.form, op, slots, ctx, warnings);
        break;
      }
      case "rel": {
        const op = operandWithRole(form, ops, "i");
        const bytes = step.form === "rel8" ? 1 : op.size & SIZE_BITS[16] ? 2 : op.size & SIZE_BITS[32] ? 4 : bits / 8;
        rels.push({ at: body.length, bytes, target: op });
        for (let k = 0; k < bytes; k++) body.push(0);
        break;
      }
      case "seg16":
        pushLE(body, operandWithRole(form, ops, "i").selector ?? 0n, 2);
        break;
      case "segbase":
        fail("binary output format does not support segment base references");
        break;
      case "asize":
        if (step.size === 16 && bits === 32 && slots.asize !== "a16") body.push(0x67);
        if (step.size === 32 && bits !== 32 && slots.asize !== "a32") body.push(0x67);
        break;
      case "osize":
      case "short":
      case "wait":
        break;
    }
  }

  const bytes = [...prefixBytes(slots, bits), ...body];
  const prefixLength = bytes.length - body.length;
  for (const rel of rels) {
    const t = rel.target;
    const delta = t.unknown ? 0n : t.value - (s64(req.offset) + BigInt(bytes.length));
    if (!sizing && !t.unknown) {
      const sameSection = t.section !== undefined && t.section === req.section;
      if (rel.bytes === 1 && (delta < -128n || delta > 127n)) {
        // NASM refuses this only inside one section; to an absolute address or
        // another section it silently truncates, which is kept but said aloud.
        if (sameSection) fail("short jump is out of range");
        warnings.add("short jump is out of range (displacement truncated)");
      } else if (sameSection && rel.bytes > 1) {
        const bad = rel.bytes >= bits / 8 ? overflowGeneral(delta, rel.bytes) : overflowSigned(delta, rel.bytes);
        if (bad) warnings.add(`${sizeName(rel.bytes)} data exceeds bounds`);
      }
    }
    const tmp: number[] = [];
    pushLE(tmp, delta, rel.bytes);
    bytes.splice(prefixLength + rel.at, rel.bytes, ...tmp);
  }
  return { bytes, warnings };
}

function immediate(
  out: number[], form: string, op: InsnOperand, slots: Slots, ctx: Context, warnings: Set<string>,
): void {
  const bits = ctx.req.bits;
  const v = op.value;
  switch (form) {
    case "ib":
      emitValue(out, v, 1, "wrap", op.simple, bits, warnings);
      return;
    case "ib,u":
      emitValue(out, v, 1, "unsigned", op.simple, bits, warnings);
      return;
    case "ib,s": {
      // NASM checks the sign-extended byte against the operand size in force.
      if (op.simple) {
        const s = slots.osize === "o16" ? 16 : slots.osize === "o32" ? 32 : bits;
        const uv = BigInt.asUintN(64, v);
        const um = 1n << BigInt(s);
        if (uv > 127n && uv < MASK64 - 127n && (uv < um - 128n || uv > um - 1n)) {
          const what = op.size & SIZE_BITS[8] ? "signed byte" : s === 16 ? "word" : "dword";
          warnings.add(`${what} value exceeds bounds`);
        }
      }
      out.push(Number(BigInt.asUintN(8, v)));
      return;
    }
    case "iw":
      emitValue(out, v, 2, "wrap", op.simple, bits, warnings);
      return;
    case "id":
      emitValue(out, v, 4, "wrap", op.simple, bits, warnings);
      return;
    case "iwd": {
      const bytes = op.size & SIZE_BITS[16] ? 2 : op.size & SIZE_BITS[32] ? 4 : bits / 8;
      emitValue(out, v, bytes, "wrap", op.simple, bits, warnings);
      return;
    }
    case "iwdq": {
      // A moffs operand: the memory operand's displacement, of the address size.
      const disp = op.ea!.disp;
      emitValue(out, disp, ctx.addrSize / 8, "wrap", op.ea!.dispKnown, bits, warnings);
      return;
    }
  }
}

// ---------------------------------------------------------------- entry point

export function encode(req: EncodeRequest): EncodeResult {
  try {
    return encodeOrThrow(req);
  } catch (e) {
    if (e instanceof EncodeError) return { error: e.message };
    throw e;
  }
}

function encodeOrThrow(req: EncodeRequest): EncodeResult {
  const mnemonic = req.mnemonic.toLowerCase();
  const forms = FORMS_BY_MNEMONIC.get(mnemonic);
  if (!forms) fail(`unknown instruction \`${req.mnemonic}'`);

  const slots: Slots = { wait: null, rep: null, lock: null, seg: null, osize: null, asize: null };
  const warnings = new Set<string>();
  for (const p of req.prefixes) {
    const name = p.toLowerCase();
    const slot = SLOT_OF[name];
    if (!slot) fail(`unknown prefix \`${p}'`);
    if (slots[slot] !== null) {
      if (slots[slot] === name) warnings.add("instruction has redundant prefixes");
      else fail("instruction has conflicting prefixes");
    }
    slots[slot] = name;
  }

  const ops = req.operands.map((op) => convertOperand(op, slots, req.bits));
  const addrSize = chooseAddressSize(ops, slots, req.bits);
  const ctx: Context = { req, ops, slots, addrSize };
  const { form, result } = findForm(ctx, forms);
  if (!form) {
    if (result === Match.BadRepne) fail(`${slots.rep} prefix is not allowed`);
    if (result === Match.BadMode) fail(`instruction not supported in ${req.bits}-bit mode`);
    fail(MATCH_MESSAGE[result]);
  }
  const out = assembleForm(ctx, form, false);
  for (const w of out.warnings) warnings.add(w);
  return { bytes: Uint8Array.from(out.bytes), warnings: [...warnings] };
}
