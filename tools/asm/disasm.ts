// tools/asm/disasm.ts — a disassembler for display whose every line is NASM
// source that our assembler turns back into exactly the same bytes.
//
// Decoding reads the instruction table the assembler encodes from (isa.ts):
// the bytes after the legacy prefixes pick the rows whose opcode bytes,
// /digit, +r and mandatory prefix they carry, and each row's encoding steps
// say how to read the rest (ModRM, SIB and displacement of the address size,
// immediates of the operand size; Intel SDM vol. 2, chapter 2 and appendix
// A). A row is a template for meaning, so it is read the way the CPU reads
// the bytes, not the way NASM writes them.
//
// Spelling is the other half, and the one rule that makes it work: one
// instruction can be written many ways, and NASM encodes a line with the
// FIRST form that matches it, so `add eax, 1` is 83 /0 even where the bytes
// were 81 /0 with a dword 1. A spelling is therefore only accepted when the
// encoder (encode.ts, the same table) turns it back into the same bytes. The
// spellings are tried from the plainest to the most explicit: size keywords
// on immediates and `short`/`near` on jumps, then `strict`; the displacement
// size (`[byte eax+0x0]`), `nosplit`, `o16`/`a32` and segment words follow
// from the bytes directly. Bytes that are an instruction NASM has no spelling
// for (8B C1, the second MOV reg,reg form; a SIB byte where none is needed; a
// repeated prefix) become a `db` line of the whole instruction with its
// meaning in a comment; bytes that are no instruction at all, or one the CPU
// refuses with #UD (LOCK on a register, MOV to CS), become `db` of one byte.
//
// Nothing here touches Node: it runs in the CLI, the browser and the trap
// and trace views alike.

import { encode } from "./encode.js";
import { INSTRUCTIONS, SIZE_BITS, type EncodingStep, type ImmForm, type InstructionForm, type OperandPattern } from "./isa.js";
import type { EncodeRequest, ImmOperand, MemOperand, Operand, RegTerm, Size } from "./operand.js";

export type Bits = 16 | 32;

export interface DisasmOptions {
  bits: Bits;
  /** The address of the first byte of `code` (NASM's `org`); 0 by default. */
  org?: number;
}

/** An operand as the CPU sees it. */
export type DisasmOperand =
  | { kind: "reg"; reg: string }
  /** `size`: bytes accessed, 0 where nothing is (LEA, INVLPG); `disp` is reduced to the address size. */
  | { kind: "mem"; base?: string; index?: string; scale: number; disp: number; segment?: string; size: number }
  /** `value` is what the instruction uses: a sign-extended imm8 is widened to the operand size. */
  | { kind: "imm"; value: number; bits: 8 | 16 | 32 }
  /** The branch target, an absolute address (org included), reduced to the operand size as the CPU does. */
  | { kind: "rel"; target: number }
  | { kind: "far"; selector: number; offset: number };

/**
 * "instruction": `text` is the instruction. "unspellable": the bytes are an
 * instruction NASM has no way to write, `text` is a `db` line of all of them
 * with the instruction in a comment. "invalid": no instruction starts here,
 * `text` is `db` of one byte.
 */
export type DecodedKind = "instruction" | "unspellable" | "invalid";

export interface DecodedInstruction {
  address: number;
  length: number;
  bytes: Uint8Array;
  /** NASM syntax that assembles back to `bytes`: `mov eax, [ebx+esi*4+0x10]`. */
  text: string;
  /** The table's mnemonic (`jz`, `pushfd`, `xlatb`), or `db` when no instruction starts here. */
  mnemonic: string;
  kind: DecodedKind;
  /** Every operand written in `text`, including fixed ones (`al`, the 1 of `shl eax, 1`, the `cx` of `loop x, cx`). */
  operands: DisasmOperand[];
  /** The bitness, flipped by a 66 prefix. */
  operandSize: Bits;
  /** The bitness, flipped by a 67 prefix. */
  addressSize: Bits;
  /** Legacy prefixes in effect (a mandatory F3, as in PAUSE, is part of the opcode, not a rep). */
  prefixes: { lock: boolean; rep?: "f3" | "f2"; segment?: string };
  /** The isa.ts row the instruction was decoded with. */
  row?: string;
}

// ---------------------------------------------------------------- registers and prefixes

const GPR: Record<8 | 16 | 32, readonly string[]> = {
  8: ["al", "cl", "dl", "bl", "ah", "ch", "dh", "bh"],
  16: ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"],
  32: ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"],
};
const SREG = ["es", "cs", "ss", "ds", "fs", "gs"];

/** The 16-bit ModRM.rm addresses (SDM vol. 2, table 2-1): base, index. */
const MEM16: readonly [string | undefined, string | undefined][] = [
  ["bx", "si"], ["bx", "di"], ["bp", "si"], ["bp", "di"], [undefined, "si"], [undefined, "di"], ["bp", undefined], ["bx", undefined],
];

const SEGMENT_PREFIXES: ReadonlyMap<number, string> = new Map([[0x26, "es"], [0x2e, "cs"], [0x36, "ss"], [0x3e, "ds"], [0x64, "fs"], [0x65, "gs"]]);
const LEGACY_PREFIXES: ReadonlySet<number> = new Set([...SEGMENT_PREFIXES.keys(), 0x66, 0x67, 0xf0, 0xf2, 0xf3]);

/** SDM vol. 2, 2.3.11: an instruction longer than 15 bytes raises #GP. */
const MAX_LENGTH = 15;

const DATA_SIZE_MASK = SIZE_BITS[8] | SIZE_BITS[16] | SIZE_BITS[32] | SIZE_BITS[64];
const BYTES_OF_SIZE: Record<number, number> = { [SIZE_BITS[8]]: 1, [SIZE_BITS[16]]: 2, [SIZE_BITS[32]]: 4, [SIZE_BITS[64]]: 8 };
const SIZE_KEYWORD: Record<number, string> = { 1: "byte", 2: "word", 4: "dword", 8: "qword" };
const KEYWORD_SIZE: Record<string, Size> = { byte: 8, word: 16, dword: 32, qword: 64 };

/** The section name the assembler gives code without a `section` line (`$` is relative to it). */
const TEXT_SECTION = ".text";

interface Prefixes {
  /** Prefix bytes in order. */
  bytes: number[];
  o66: boolean;
  a67: boolean;
  lock: boolean;
  /** The last of F2/F3, as the CPU takes it. */
  rep?: 0xf2 | 0xf3;
  /** The last segment override. */
  segment?: string;
}

// ---------------------------------------------------------------- the table, indexed by opcode byte

interface Entry {
  form: InstructionForm;
  /** ND: a form that is not printed by choice (a duplicate form of a printed mnemonic, or an alias). */
  nd: boolean;
  /** ND and no row of its mnemonic is printed: a second name (`jnae`, `sal`, `retn`), tried last of all. */
  alias: boolean;
  order: number;
  /** The index in `form.encoding` of a leading F3 that is part of the opcode (PAUSE), or -1. */
  mandatory: number;
  /** A MOV to or from a control, debug or test register: ModRM.mod is ignored (SDM vol. 2B, MOV—Move to/from Control Registers). */
  ignoresMod: boolean;
  /** SETcc: ModRM.reg is ignored (SDM vol. 2B, SETcc), though NASM writes 0 there. */
  ignoresDigit: boolean;
  /**
   * The index in `form.encoding` of a literal byte that is really a ModRM
   * whose rm field the CPU ignores: LFENCE, MFENCE and SFENCE are 0F AE /5,
   * /6, /7 with mod 11 and any rm (SDM vol. 2A, LFENCE), NASM writes rm 0.
   * They are "NP" opcodes: with 66, F2 or F3 in front they are other
   * instructions (CLWB, TPAUSE, ...), which this table does not hold.
   */
  ignoredRm: number;
}

/** Rows that decode the three kinds of system register MOV (their ModRM.mod is ignored). */
const SYSTEM_REGISTERS: ReadonlySet<string> = new Set(["creg", "dreg", "treg"]);

/** For each first opcode byte (after any mandatory prefix), the rows that may start with it, in table order. */
const BY_OPCODE: readonly Entry[][] = (() => {
  const index: Entry[][] = Array.from({ length: 256 }, () => []);
  const printed = new Set(INSTRUCTIONS.filter((f) => !f.flags.has("ND")).map((f) => f.mnemonic));
  INSTRUCTIONS.forEach((form, order) => {
    // POP CS (0F) and UD0 without ModRM are 8086- and AMD-isms: an Intel CPU
    // in 16/32-bit mode reads 0F as the two-byte escape and UD0 with a ModRM
    // (SDM vol. 2B, UD), so these rows would decode the wrong length.
    if (form.flags.has("OBSOLETE") || form.flags.has("LONG")) return;
    // `jmp far symbol` needs a segment base, which flat binaries do not have.
    if (form.encoding.some((s) => s.op === "segbase")) return;
    const emitting = form.encoding.map((s, i) => ({ s, i })).filter(({ s }) => s.op === "byte" || s.op === "plusreg" || s.op === "wait");
    if (emitting.length === 0) return;
    let mandatory = -1;
    let first = emitting[0];
    if (first.s.op === "byte" && LEGACY_PREFIXES.has(first.s.value) && emitting.length > 1) {
      mandatory = first.i;
      first = emitting[1];
    }
    const entry: Entry = {
      form, nd: form.flags.has("ND"), alias: !printed.has(form.mnemonic), order, mandatory,
      ignoresMod: form.mnemonic === "mov" && form.operands.some((p) => SYSTEM_REGISTERS.has(p.regClass ?? "")),
      ignoresDigit: form.mnemonic.startsWith("set"),
      ignoredRm: /^[lms]fence$/.test(form.mnemonic) ? emitting[emitting.length - 1].i : -1,
    };
    const s = first.s;
    if (s.op === "plusreg") for (let r = 0; r < 8; r++) index[s.base + r].push(entry);
    else if (s.op === "wait") index[0x9b].push(entry);
    else if (s.op === "byte") index[s.value].push(entry);
  });
  return index;
})();

// ---------------------------------------------------------------- decoding one row

interface RegSlot { kind: "reg"; reg: string; pattern: OperandPattern }
interface ImmSlot { kind: "imm"; value: number; shown: number; bits: 8 | 16 | 32; pattern: OperandPattern; unity: boolean }
interface RelSlot { kind: "rel"; disp: number; rel8: boolean; pattern: OperandPattern }
interface FarSlot { kind: "far"; selector: number; offset: number; pattern: OperandPattern }
interface MemSlot {
  kind: "mem";
  base?: string;
  index?: string;
  scale: number;
  /** Signed, as the address size reads it. */
  disp: number;
  /** Displacement bytes in the encoding. */
  dispBytes: 0 | 1 | 2 | 4;
  addressSize: Bits;
  /** Bytes accessed. */
  size: number;
  pattern: OperandPattern;
}
type Slot = RegSlot | ImmSlot | RelSlot | FarSlot | MemSlot;

interface Candidate {
  entry: Entry;
  length: number;
  operandSize: Bits;
  addressSize: Bits;
  slots: Slot[];
  /** A 66 or 67 the row does not imply: written as an `o16`/`a32` word. */
  oWord: boolean;
  aWord: boolean;
  /** The F3 was the row's own opcode byte. */
  repConsumed: boolean;
  /** Registers named at a width other than the operand size (`lar eax, bx` rather than `lar eax, ebx`). */
  widthPenalty: number;
}

/** Reads bytes of one instruction; running past the end or past 15 bytes makes it fail. */
class Reader {
  ok = true;
  constructor(readonly code: Uint8Array, public pos: number, readonly end: number) {}

  u8(): number {
    if (this.pos >= this.end) {
      this.ok = false;
      return 0;
    }
    return this.code[this.pos++];
  }

  u16(): number {
    return this.u8() | (this.u8() << 8);
  }

  u32(): number {
    return (this.u16() | (this.u16() << 16)) >>> 0;
  }

  unsigned(bytes: 1 | 2 | 4): number {
    return bytes === 1 ? this.u8() : bytes === 2 ? this.u16() : this.u32();
  }
}

const s8 = (v: number) => (v << 24) >> 24;
const s16 = (v: number) => (v << 16) >> 16;
const mask = (v: number, bits: number) => (bits === 32 ? v >>> 0 : v & ((1 << bits) - 1));
const other = (bits: Bits): Bits => (bits === 16 ? 32 : 16);

function patternWidth(p: OperandPattern): 8 | 16 | 32 {
  if (p.size & SIZE_BITS[8]) return 8;
  if (p.size & SIZE_BITS[16]) return 16;
  return 32;
}

/** The register a pattern names with register number `n`, or null when the CPU has none (SREG 6, CR1). */
function register(p: OperandPattern, n: number): string | null {
  switch (p.regClass ?? "gpr") {
    case "gpr":
      if (p.notAccumulator && n === 0) return null;
      return GPR[patternWidth(p)][n];
    case "sreg":
      return n < SREG.length ? SREG[n] : null;
    case "creg":
      // CR1 and CR5–CR7 are reserved: MOV with them is #UD (SDM vol. 2B, MOV—Move to/from Control Registers).
      return n === 0 || (n >= 2 && n <= 4) ? `cr${n}` : null;
    case "dreg":
      return `dr${n}`;
    case "treg":
      return `tr${n}`;
  }
}

/** ModRM.rm as memory: SIB and displacement by the address size (SDM vol. 2, tables 2-1 to 2-3). */
function readAddress(rd: Reader, mod: number, rm: number, addressSize: Bits): Omit<MemSlot, "kind" | "size" | "pattern"> {
  if (addressSize === 16) {
    if (mod === 0 && rm === 6) return { scale: 1, disp: s16(rd.u16()), dispBytes: 2, addressSize };
    const [base, index] = MEM16[rm];
    const dispBytes = mod === 1 ? 1 : mod === 2 ? 2 : 0;
    const disp = mod === 1 ? s8(rd.u8()) : mod === 2 ? s16(rd.u16()) : 0;
    // SI or DI alone are the base, as iced-x86 and NASM call them.
    return base ? { base, index, scale: 1, disp, dispBytes, addressSize } : { base: index, scale: 1, disp, dispBytes, addressSize };
  }
  let base: string | undefined;
  let index: string | undefined;
  let scale = 1;
  let noBase = false;
  if (rm === 4) {
    const sib = rd.u8();
    const i = (sib >> 3) & 7;
    // Index 100 is "none"; the scale bits are then ignored.
    if (i !== 4) {
      index = GPR[32][i];
      scale = 1 << (sib >> 6);
    }
    if ((sib & 7) === 5 && mod === 0) noBase = true;
    else base = GPR[32][sib & 7];
  } else if (rm === 5 && mod === 0) {
    noBase = true;
  } else {
    base = GPR[32][rm];
  }
  const dispBytes = noBase || mod === 2 ? 4 : mod === 1 ? 1 : 0;
  const disp = dispBytes === 4 ? rd.u32() | 0 : dispBytes === 1 ? s8(rd.u8()) : 0;
  return { base, index, scale, disp, dispBytes, addressSize };
}

/** Bytes a memory operand of this row accesses (what iced-x86 calls the memory size). */
function accessSize(form: InstructionForm, k: number, operandSize: Bits): number {
  const p = form.operands[k];
  const far = (p.size & SIZE_BITS.far) !== 0;
  const data = BYTES_OF_SIZE[p.size & DATA_SIZE_MASK];
  if (data) return data + (far ? 2 : 0);
  if (far) return operandSize / 8 + 2;
  const f = form.flags;
  if (f.has("SB")) return 1;
  if (f.has("SW")) return 2;
  if (f.has("SD")) return 4;
  if (f.has("SM") || f.has("SM2")) {
    for (let j = 0; j < form.operands.length; j++) {
      const q = form.operands[j];
      if (j !== k && q.kind === "reg" && (q.regClass ?? "gpr") === "gpr") return patternWidth(q) / 8;
    }
  }
  switch (form.mnemonic) {
    case "lgdt": case "lidt": case "sgdt": case "sidt":
      return 6;
    case "lds": case "les": case "lfs": case "lgs": case "lss":
      return operandSize / 8 + 2;
    case "bound":
      return operandSize / 4;
    case "lldt": case "ltr": case "verr": case "verw": case "lmsw": case "sldt": case "str": case "smsw":
      return 2;
    case "jmp": case "call":
      return operandSize / 8;
    default:
      return 0;
  }
}

function immBytes(form: ImmForm, operandSize: Bits, addressSize: Bits): 1 | 2 | 4 {
  switch (form) {
    case "ib": case "ib,s": case "ib,u": return 1;
    case "iw": return 2;
    case "id": return 4;
    case "iwd": return operandSize === 16 ? 2 : 4;
    case "iwdq": return addressSize === 16 ? 2 : 4;
  }
}

/** Reads the bytes after the prefixes as one row; null when they are not that row. */
function decodeWith(entry: Entry, code: Uint8Array, start: number, end: number, bits: Bits, px: Prefixes): Candidate | null {
  const { form } = entry;
  if (entry.ignoredRm >= 0 && (px.o66 || px.rep !== undefined)) return null;
  // 90 is NOP, not XCHG (E)AX,(E)AX (SDM vol. 2B, NOP), though the rows for
  // `xchg ax, reg16` and `xchg eax, eax` hold it.
  if (form.mnemonic === "xchg" && code[start] === 0x90) return null;
  const rd = new Reader(code, start, Math.min(end, start - px.bytes.length + MAX_LENGTH));
  const operandSize = px.o66 ? other(bits) : bits;
  const addressSize = px.a67 ? other(bits) : bits;
  let oWord = false;
  let aWord = false;
  let sawOsize = false;
  let sawAsize = false;
  let plusreg = -1;
  let modrm: { mod: number; reg: number; rm: number } | null = null;
  let address: ReturnType<typeof readAddress> | null = null;
  const imms: { step: Extract<EncodingStep, { op: "imm" }>; value: number }[] = [];
  let rel: { disp: number; rel8: boolean } | null = null;
  let selector = -1;
  let repConsumed = false;

  for (let k = 0; k < form.encoding.length && rd.ok; k++) {
    const step = form.encoding[k];
    switch (step.op) {
      // o16/o32 rows hold one operand size; an odf row, or a row with no
      // size at all, takes a 66 only as a written `o16`/`o32` word.
      case "osize":
        sawOsize = true;
        if (step.size === null) oWord = px.o66;
        else if (step.size !== operandSize) return null;
        break;
      case "asize":
        sawAsize = true;
        if (step.size === null) aWord = px.a67;
        else if (step.size !== addressSize) return null;
        break;
      case "byte":
        if (k === entry.mandatory) {
          if (px.rep !== step.value) return null;
          repConsumed = true;
        } else if (k === entry.ignoredRm) {
          if ((rd.u8() & 0xf8) !== step.value) return null;
        } else if (rd.u8() !== step.value) return null;
        break;
      case "wait":
        if (rd.u8() !== 0x9b) return null;
        break;
      case "plusreg":
        plusreg = rd.u8() - step.base;
        if (plusreg < 0 || plusreg > 7) return null;
        break;
      case "modrm": {
        const m = rd.u8();
        modrm = { mod: m >> 6, reg: (m >> 3) & 7, rm: m & 7 };
        if (step.digit !== null && modrm.reg !== step.digit && !entry.ignoresDigit) return null;
        if (modrm.mod !== 3 && !entry.ignoresMod) address = readAddress(rd, modrm.mod, modrm.rm, addressSize);
        break;
      }
      case "imm":
        imms.push({ step, value: rd.unsigned(immBytes(step.form, operandSize, addressSize)) });
        break;
      case "rel":
        if (step.form === "rel8") rel = { disp: s8(rd.u8()), rel8: true };
        else rel = { disp: operandSize === 16 ? s16(rd.u16()) : rd.u32() | 0, rel8: false };
        break;
      case "seg16":
        selector = rd.u16();
        break;
      case "short":
        break;
      case "segbase":
        return null;
    }
  }
  if (!rd.ok) return null;

  const slots: Slot[] = [];
  let widthPenalty = 0;
  for (let k = 0; k < form.operands.length; k++) {
    const p = form.operands[k];
    const role = form.roles[k];
    let slot: Slot;
    if (role === "m") {
      if (!modrm) return null;
      if (address) {
        if (p.kind !== "mem" && p.kind !== "rm") return null;
        slot = { kind: "mem", ...address, size: 0, pattern: p };
      } else {
        if (p.kind !== "reg" && p.kind !== "rm") return null;
        const reg = register(p, modrm.rm);
        if (!reg) return null;
        slot = { kind: "reg", reg, pattern: p };
      }
    } else if (role === "r" || role === "r+m") {
      const n = plusreg >= 0 ? plusreg : modrm?.reg;
      if (n === undefined) return null;
      // `imul eax, 5` is `imul eax, eax, 5`: the same register in both fields.
      if (role === "r+m" && (!modrm || modrm.mod !== 3 || modrm.rm !== modrm.reg)) return null;
      const reg = register(p, n);
      if (!reg) return null;
      slot = { kind: "reg", reg, pattern: p };
    } else if (role === "-") {
      if (p.register) slot = { kind: "reg", reg: p.register, pattern: p };
      else if (p.immClass === "unity") slot = { kind: "imm", value: 1, shown: 1, bits: 8, pattern: p, unity: true };
      else return null;
    } else if (p.kind === "far") {
      if (imms.length === 0 || selector < 0) return null;
      slot = { kind: "far", selector, offset: imms[0].value, pattern: p };
    } else if (role === "i" && rel) {
      slot = { kind: "rel", disp: rel.disp, rel8: rel.rel8, pattern: p };
    } else {
      const imm = imms.find((x) => x.step.role === role);
      if (!imm) return null;
      if (p.memOffs) {
        const width = immBytes(imm.step.form, operandSize, addressSize);
        slot = { kind: "mem", scale: 1, disp: imm.value, dispBytes: width, addressSize, size: 0, pattern: p };
      } else {
        slot = immediate(imm.step.form, imm.value, operandSize, p);
      }
    }
    if (slot.kind === "reg" && !p.register && (p.regClass ?? "gpr") === "gpr") {
      const w = patternWidth(p);
      if (w !== 8 && w !== operandSize) widthPenalty++;
    }
    slots.push(slot);
  }
  // The CPU refuses these with #UD, so they are no instruction at all:
  // LOCK on anything but a lockable instruction writing memory (SDM vol. 2A,
  // LOCK), and MOV to CS (SDM vol. 2B, MOV).
  if (px.lock && !(form.flags.has("LOCK") && slots[0]?.kind === "mem")) return null;
  if (form.mnemonic === "mov" && slots[0]?.kind === "reg" && slots[0].reg === "cs") return null;
  slots.forEach((s, k) => {
    if (s.kind === "mem") s.size = accessSize(form, k, operandSize);
  });
  const hasMemory = slots.some((s) => s.kind === "mem");
  if (!sawOsize && px.o66) oWord = true;
  if (!sawAsize && px.a67 && !hasMemory) aWord = true;
  return {
    entry, length: rd.pos - (start - px.bytes.length), operandSize, addressSize, slots,
    oWord, aWord, repConsumed, widthPenalty,
  };
}

function immediate(form: ImmForm, raw: number, operandSize: Bits, p: OperandPattern): ImmSlot {
  switch (form) {
    case "ib,s": {
      const v = s8(raw);
      return { kind: "imm", value: mask(v, operandSize), shown: v, bits: 8, pattern: p, unity: false };
    }
    case "ib": case "ib,u":
      return { kind: "imm", value: raw, shown: raw, bits: 8, pattern: p, unity: false };
    case "iw":
      return { kind: "imm", value: raw, shown: raw, bits: 16, pattern: p, unity: false };
    case "id":
      return { kind: "imm", value: raw, shown: raw, bits: 32, pattern: p, unity: false };
    case "iwd": case "iwdq":
      return { kind: "imm", value: raw, shown: raw, bits: operandSize, pattern: p, unity: false };
  }
}

// ---------------------------------------------------------------- spelling

/** How explicit a spelling is: 0 plain, 1 with immediate sizes and jump distances, 2 with `strict`. */
type Level = 0 | 1 | 2;
const LEVELS: readonly Level[] = [0, 1, 2];

interface Context {
  bits: Bits;
  address: number;
  px: Prefixes;
}

interface Spelled {
  text: string;
  operand: Operand;
}

function num(v: number): string {
  if (v < 0) return `-${num(-v)}`;
  return v < 10 ? String(v) : `0x${v.toString(16)}`;
}

function signedNum(v: number): string {
  return v < 0 ? `-${num(-v)}` : `+${num(v)}`;
}

function words(...list: (string | false | undefined)[]): string {
  return list.filter(Boolean).join(" ");
}

const JUMP_DISTANCE = { short: SIZE_BITS.short, near: SIZE_BITS.near, far: SIZE_BITS.far };

function distanceOf(p: OperandPattern): "short" | "near" | "far" | undefined {
  for (const d of ["short", "near", "far"] as const) if (p.size & JUMP_DISTANCE[d]) return d;
  return undefined;
}

function spellReg(s: RegSlot): Spelled {
  return { text: s.reg, operand: { kind: "reg", name: s.reg } };
}

function spellImm(s: ImmSlot, level: Level): Spelled {
  if (s.unity) return { text: "1", operand: { kind: "imm", value: 1n, simple: true, unknown: false, strict: false } };
  const patternBytes = BYTES_OF_SIZE[s.pattern.size & DATA_SIZE_MASK];
  const keyword = level >= 1 ? SIZE_KEYWORD[patternBytes ?? s.bits / 8] : undefined;
  const strict = level >= 2;
  return {
    text: words(strict && "strict", keyword, num(s.shown)),
    operand: {
      kind: "imm", value: BigInt(s.shown), simple: true, unknown: false, strict,
      ...(keyword ? { size: KEYWORD_SIZE[keyword] } : {}),
    },
  };
}

/** A branch target: absolute where the address space holds it unwrapped, else `$±N` from the instruction. */
function spellRel(s: RelSlot, c: Candidate, level: Level, ctx: Context): Spelled {
  const length = c.length;
  const unwrapped = ctx.address + length + s.disp;
  const absolute = unwrapped >= 0 && unwrapped < 2 ** c.operandSize;
  // JMP, CALL and Jcc take a distance keyword; LOOP and JCXZ are short only.
  const jump = /^(call|j(?!e?cxz))/.test(c.entry.form.mnemonic);
  let distance = distanceOf(s.pattern);
  // NASM never makes a jump to a plain number short (it is not in the
  // section), so a short jump to an absolute target says so.
  if (!distance && jump && (level >= 1 || (s.rel8 && absolute))) distance = s.rel8 ? "short" : "near";
  const patternBytes = BYTES_OF_SIZE[s.pattern.size & DATA_SIZE_MASK];
  const keyword = patternBytes ? SIZE_KEYWORD[patternBytes] : undefined;
  const strict = level >= 2 && distance !== undefined;
  const n = length + s.disp;
  const target = absolute ? num(unwrapped) : n === 0 ? "$" : `$${signedNum(n)}`;
  const operand: ImmOperand = absolute
    ? { kind: "imm", value: BigInt(unwrapped), simple: true, unknown: false, strict }
    : { kind: "imm", value: BigInt(ctx.address + n), simple: false, unknown: false, section: TEXT_SECTION, strict };
  if (distance) operand.jump = distance;
  if (keyword) operand.size = KEYWORD_SIZE[keyword];
  return { text: words(strict && "strict", distance, keyword, target), operand };
}

function spellFar(s: FarSlot): Spelled {
  const patternBytes = BYTES_OF_SIZE[s.pattern.size & DATA_SIZE_MASK];
  const keyword = patternBytes ? SIZE_KEYWORD[patternBytes] : undefined;
  return {
    // A selector reads best in hex even when small: 0x8, 0x1b.
    text: words(keyword, `0x${s.selector.toString(16)}:${num(s.offset)}`),
    operand: {
      kind: "imm", value: BigInt(s.offset), segment: BigInt(s.selector), simple: true, unknown: false, strict: false,
      ...(keyword ? { size: KEYWORD_SIZE[keyword] } : {}),
    },
  };
}

/**
 * A memory operand. The registers are written base first, so NASM's
 * base-register hint (the first register written) keeps them where they
 * were; the displacement size is written where NASM would pick another.
 */
function spellMem(s: MemSlot, form: InstructionForm, bits: Bits, segment: string | undefined): Spelled {
  const regs: RegTerm[] = [];
  let expr = "";
  let eaHint: MemOperand["eaHint"];
  let nosplit = false;
  if (s.base && s.index && s.base === s.index) {
    // `eax+eax*4` is one term eax*5 to NASM, which splits it back.
    expr = `${s.base}+${s.index}${s.scale > 1 ? `*${s.scale}` : ""}`;
    regs.push({ reg: s.base, scale: BigInt(s.scale + 1) });
    eaHint = "summed";
  } else if (s.base) {
    expr = s.index ? `${s.base}+${s.index}${s.scale > 1 ? `*${s.scale}` : ""}` : s.base;
    regs.push({ reg: s.base, scale: 1n });
    if (s.index) regs.push({ reg: s.index, scale: BigInt(s.scale) });
  } else if (s.index) {
    // An index without a base: NASM would make `ecx*1` a base and split `ecx*2` into ecx+ecx.
    expr = `${s.index}*${s.scale}`;
    regs.push({ reg: s.index, scale: BigInt(s.scale) });
    eaHint = "notbase";
    nosplit = s.scale <= 2;
  }

  let dispSize: 8 | 16 | 32 | undefined;
  if (regs.length === 0) {
    // A bare displacement says its address size by its own size.
    if (s.addressSize !== bits) dispSize = s.addressSize;
  } else {
    const full = s.addressSize === 16 ? 2 : 4;
    const soleBp = s.addressSize === 16 ? s.base === "bp" && !s.index : s.base === "ebp";
    const natural = !s.base ? full : s.disp === 0 && !soleBp ? 0 : s.disp >= -128 && s.disp <= 127 ? 1 : full;
    if (s.dispBytes !== natural) dispSize = s.dispBytes === 1 ? 8 : s.addressSize;
  }
  const dispValue = regs.length === 0 ? mask(s.disp, s.addressSize) : s.disp;
  if (regs.length === 0) expr = num(dispValue);
  else if (s.disp !== 0 || dispSize) expr += signedNum(s.disp);

  const inside = words(dispSize && SIZE_KEYWORD[dispSize / 8], nosplit && "nosplit", `${segment ? segment + ":" : ""}${expr}`);
  const distance = distanceOf(s.pattern);
  const keyword = memKeyword(s, form);
  const operand: MemOperand = {
    kind: "mem", strict: false, regs, disp: BigInt(dispValue), hasDisp: dispValue !== 0 || regs.length === 0,
    dispSimple: true, dispUnknown: false, nosplit,
  };
  if (keyword) operand.size = KEYWORD_SIZE[keyword];
  if (segment) operand.segment = segment;
  if (dispSize) operand.dispSize = dispSize;
  if (eaHint) operand.eaHint = eaHint;
  if (distance === "far" || distance === "near") operand.jump = distance;
  return { text: words(distance, keyword, `[${inside}]`), operand };
}

/** The size keyword a memory operand is written with: the row's size, or the size SB/SW/SD assume. */
function memKeyword(s: MemSlot, form: InstructionForm): string | undefined {
  const data = BYTES_OF_SIZE[s.pattern.size & DATA_SIZE_MASK];
  if (data) return SIZE_KEYWORD[data];
  if (s.pattern.memOffs || (s.pattern.size & SIZE_BITS.far) !== 0) return undefined;
  const f = form.flags;
  return f.has("SB") || f.has("SW") || f.has("SD") ? SIZE_KEYWORD[s.size] : undefined;
}

function spell(c: Candidate, level: Level, ctx: Context): { text: string; request: EncodeRequest } {
  const { form } = c.entry;
  const { px } = ctx;
  const hasMemory = c.slots.some((s) => s.kind === "mem");
  const prefixes: string[] = [];
  if (px.lock) prefixes.push("lock");
  if (px.rep !== undefined && !c.repConsumed) prefixes.push(px.rep === 0xf2 ? "repne" : form.flags.has("REPE") ? "repe" : "rep");
  if (px.segment && !hasMemory) prefixes.push(px.segment);
  if (c.oWord) prefixes.push(c.operandSize === 16 ? "o16" : "o32");
  if (c.aWord) prefixes.push(c.addressSize === 16 ? "a16" : "a32");
  const operands = c.slots.map((s): Spelled => {
    switch (s.kind) {
      case "reg": return spellReg(s);
      case "imm": return spellImm(s, level);
      case "rel": return spellRel(s, c, level, ctx);
      case "far": return spellFar(s);
      case "mem": return spellMem(s, form, ctx.bits, px.segment);
    }
  });
  const body = operands.length ? `${form.mnemonic} ${operands.map((o) => o.text).join(", ")}` : form.mnemonic;
  return {
    text: words(...prefixes, body),
    request: {
      mnemonic: form.mnemonic, operands: operands.map((o) => o.operand), prefixes, bits: ctx.bits,
      offset: BigInt(ctx.address), section: TEXT_SECTION,
    },
  };
}

function sameBytes(a: Uint8Array, code: Uint8Array, start: number): boolean {
  if (start + a.length > code.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== code[start + i]) return false;
  return true;
}

/** The first spelling the encoder turns back into exactly these bytes, without a warning. */
function roundTrip(c: Candidate, code: Uint8Array, start: number, ctx: Context): string | null {
  for (const level of LEVELS) {
    const { text, request } = spell(c, level, ctx);
    const r = encode(request);
    if (!("error" in r) && r.warnings.length === 0 && r.bytes.length === c.length && sameBytes(r.bytes, code, start)) return text;
  }
  return null;
}

// ---------------------------------------------------------------- the interface

function readPrefixes(code: Uint8Array, offset: number, end: number): Prefixes {
  const px: Prefixes = { bytes: [], o66: false, a67: false, lock: false };
  for (let i = offset; i < end && i - offset < MAX_LENGTH && LEGACY_PREFIXES.has(code[i]); i++) {
    const b = code[i];
    px.bytes.push(b);
    if (b === 0x66) px.o66 = true;
    else if (b === 0x67) px.a67 = true;
    else if (b === 0xf0) px.lock = true;
    else if (b === 0xf2 || b === 0xf3) px.rep = b;
    else px.segment = SEGMENT_PREFIXES.get(b);
  }
  return px;
}

function hexBytes(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => `0x${b.toString(16).padStart(2, "0")}`).join(", ");
}

function publicOperand(s: Slot, c: Candidate, address: number, segment: string | undefined): DisasmOperand {
  switch (s.kind) {
    case "reg":
      return { kind: "reg", reg: s.reg };
    case "imm":
      return { kind: "imm", value: s.value, bits: s.bits };
    case "rel":
      return { kind: "rel", target: mask(address + c.length + s.disp, c.operandSize) };
    case "far":
      return { kind: "far", selector: s.selector, offset: s.offset };
    case "mem": {
      const m: DisasmOperand = { kind: "mem", scale: s.index ? s.scale : 1, disp: mask(s.disp, s.addressSize), size: s.size };
      if (s.base) m.base = s.base;
      if (s.index) m.index = s.index;
      if (segment) m.segment = segment;
      return m;
    }
  }
}

/**
 * Decodes the instruction at `offset`. Never throws: bytes that start no
 * instruction come back as `db` of one byte, and an offset at or past the
 * end as an empty `db` of length 0.
 */
export function disassembleOne(code: Uint8Array, offset: number, options: DisasmOptions): DecodedInstruction {
  const { bits } = options;
  const address = (options.org ?? 0) + offset;
  const end = code.length;
  const px = readPrefixes(code, offset, end);
  const start = offset + px.bytes.length;
  const prefixes = { lock: px.lock, ...(px.rep ? { rep: px.rep === 0xf3 ? "f3" as const : "f2" as const } : {}), ...(px.segment ? { segment: px.segment } : {}) };

  const candidates: Candidate[] = [];
  if (start < end) {
    for (const entry of BY_OPCODE[code[start]]) {
      const c = decodeWith(entry, code, start, end, bits, px);
      if (c) candidates.push(c);
    }
  }
  // An F3 among the prefixes makes 90 PAUSE wherever it stands (SDM vol. 2B,
  // PAUSE): a row that takes it as its opcode byte excludes reading it as REP.
  if (candidates.some((c) => c.repConsumed)) candidates.splice(0, candidates.length, ...candidates.filter((c) => c.repConsumed));
  // The order spellings are tried in: aliases last; then the fewest extra
  // prefix words (`push word 1` rather than `o16 push byte 1`); printed rows
  // before their duplicates; registers named at the operand size (`lar eax,
  // ebx`, as iced-x86 and the SDM name them); the table's order.
  candidates.sort((a, b) =>
    Number(a.entry.alias) - Number(b.entry.alias) ||
    (Number(a.oWord) + Number(a.aWord)) - (Number(b.oWord) + Number(b.aWord)) ||
    Number(a.entry.nd) - Number(b.entry.nd) ||
    a.widthPenalty - b.widthPenalty ||
    a.entry.order - b.entry.order);

  const ctx: Context = { bits, address, px };
  const describe = (c: Candidate, text: string, kind: DecodedKind): DecodedInstruction => ({
    address, length: c.length, bytes: code.slice(offset, offset + c.length), text, mnemonic: c.entry.form.mnemonic, kind,
    operands: c.slots.map((s) => publicOperand(s, c, address, px.segment)),
    operandSize: c.operandSize, addressSize: c.addressSize,
    prefixes: c.repConsumed ? { lock: px.lock, ...(px.segment ? { segment: px.segment } : {}) } : prefixes,
    row: c.entry.form.row,
  });

  for (const c of candidates) {
    const text = roundTrip(c, code, offset, ctx);
    if (text !== null) return describe(c, text, "instruction");
  }
  if (candidates.length > 0) {
    const c = candidates[0];
    const bytes = code.slice(offset, offset + c.length);
    return describe(c, `db ${hexBytes(bytes)} ; ${spell(c, 0, ctx).text}`, "unspellable");
  }
  const bytes = code.slice(offset, Math.min(offset + 1, end));
  return {
    address, length: bytes.length, bytes, text: bytes.length ? `db ${hexBytes(bytes)}` : "", mnemonic: "db", kind: "invalid",
    operands: [], operandSize: bits, addressSize: bits, prefixes: { lock: false },
  };
}

/** Decodes `code` from its first byte to its last, one instruction (or `db` byte) after another. */
export function disassemble(code: Uint8Array, options: DisasmOptions): DecodedInstruction[] {
  const out: DecodedInstruction[] = [];
  for (let offset = 0; offset < code.length;) {
    const insn = disassembleOne(code, offset, options);
    out.push(insn);
    offset += Math.max(1, insn.length);
  }
  return out;
}
