// test/tools/asm/corpus.ts — every instruction form the CPU runs, one source line each.
//
// tools/asm is right when it writes NASM's bytes. This file writes the
// source side of that comparison: each mnemonic the CPU implements (the
// complete i386/i486 integer set, and the later instructions the hypervisor
// and its guests use: CPUID, RDTSC, RDMSR/WRMSR, RDPMC, CMPXCHG8B, CMOVcc,
// SYSENTER/SYSEXIT, UD2, VMCALL, ...) with each operand kind, every register
// of each class, immediates on both sides of the imm8/imm16/imm32 limits,
// every 16- and 32-bit addressing form with displacements on both sides of
// the disp8 limit, prefixes, size specifiers and `strict`, for `bits 16` and
// `bits 32`. An address or operand of the other width is what makes the
// assembler emit the 67 and 66 prefixes, so both widths appear in both modes.
//
// It is built from its own small tables, not from tools/asm's: an oracle
// that shares the assembler's tables shares its bugs. Beside its source each
// line carries what it means — mnemonic, registers, the parts of a memory
// operand, immediate values, branch targets, operand and address size — and
// iced-x86 must read exactly that back from the bytes (test/support/iced.ts).
// Where NASM rewrites an address (`[eax*2]` is `[eax+eax]`, `[eax+esp]` puts
// ESP in the base) the description is the address NASM encodes.
//
// Branch targets are written `$+N` from the instruction's own first byte, so
// a line assembles to the same bytes alone or anywhere in a file.

import { decode, icedMnemonic, type DecodedOperand } from "../../support/iced.js";

export type Bits = 16 | 32;

export type CorpusOperand =
  /**
   * `anyWidth`: the slot is a 16-bit selector or segment value in a register
   * slot (MOV Sreg,r; LLDT; ARPL). NASM accepts AX or EAX there and decoders
   * name the register by operand size, so only the register number counts.
   */
  | { kind: "reg"; name: string; anyWidth?: boolean }
  /** `size`: bytes accessed (0 for LEA and INVLPG); `disp` as written, possibly negative. */
  | { kind: "mem"; base?: string; index?: string; scale: number; disp: number; segment?: string; size: number }
  /** `bits`: the width the value is taken at (the operand size, or 8 for a shift count). */
  | { kind: "imm"; value: number; bits: 8 | 16 | 32 }
  /** The branch target as an offset from the instruction's first byte. */
  | { kind: "rel"; offset: number }
  | { kind: "far"; selector: number; offset: number };

export type RepPrefix = "rep" | "repe" | "repz" | "repne" | "repnz";

export interface CorpusLine {
  bits: Bits;
  /** The instruction family, for reports: "alu", "jcc", "string", ... */
  group: string;
  /** One line of NASM source, without the `bits` directive. */
  source: string;
  /** The mnemonic as written (NASM's spelling: `jnae`, `sal`, `pushf`). */
  mnemonic: string;
  operands: CorpusOperand[];
  /** The operand-size attribute the encoding must have (a 66 prefix flips the bitness). */
  operandSize: Bits;
  /** The address-size attribute the encoding must have (a 67 prefix flips the bitness). */
  addressSize: Bits;
  lock: boolean;
  rep?: RepPrefix;
  /** A segment override written on an instruction without a memory operand (MOVSB, XLATB). */
  segment?: string;
}

const R8 = ["al", "cl", "dl", "bl", "ah", "ch", "dh", "bh"];
const R16 = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"];
const R32 = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];
const GPR: Record<8 | 16 | 32, string[]> = { 8: R8, 16: R16, 32: R32 };
const SREGS = ["es", "cs", "ss", "ds", "fs", "gs"];
const CREGS = ["cr0", "cr2", "cr3", "cr4"];
const DREGS = ["dr0", "dr1", "dr2", "dr3", "dr4", "dr5", "dr6", "dr7"];
const TREGS = ["tr3", "tr4", "tr5", "tr6", "tr7"];

/** Every spelling NASM accepts for the sixteen conditions. */
const CONDITIONS = [
  "o", "no", "b", "c", "nae", "nb", "nc", "ae", "e", "z", "ne", "nz", "be", "na", "nbe", "a",
  "s", "ns", "p", "pe", "np", "po", "l", "nge", "nl", "ge", "le", "ng", "nle", "g",
];

/** The immediate spread: both sides of every signed and unsigned width limit. */
const IMMEDIATES = [
  0, 1, 0x7f, 0x80, -1, -128, -129, 0xff, 0x100, 0x7fff, 0x8000, 0xff80, 0xffff, 0x10000, 0x7fffffff, 0x80000000,
  0xffffff7f, 0xffffff80, 0xffffffff,
];

/** The immediates NASM takes at a width without a range warning. */
function immediates(bits: 8 | 16 | 32): number[] {
  const low = -(2 ** (bits - 1));
  const high = 2 ** bits - 1;
  return IMMEDIATES.filter((v) => v >= low && v <= high);
}

const SIZE_KEYWORD: Record<number, string> = { 1: "byte", 2: "word", 4: "dword", 8: "qword" };

/** One operand: its source text, its meaning, and what it says about the operand and address size. */
interface Op {
  text: string;
  desc: CorpusOperand;
  /** Register or memory data width; the first operand with one sets the operand size. */
  width?: 8 | 16 | 32;
  /** Address size of a memory operand. */
  addr?: Bits;
}

/** A memory address before it gets a data size. */
interface Address {
  text: string;
  base?: string;
  index?: string;
  scale: number;
  disp: number;
  segment?: string;
  addr: Bits;
}

function num(v: number): string {
  if (v > -10 && v < 10) return String(v);
  return v < 0 ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`;
}

function widthOf(name: string): 8 | 16 | 32 | undefined {
  if (R8.includes(name)) return 8;
  if (R16.includes(name)) return 16;
  if (R32.includes(name)) return 32;
  return undefined;
}

function reg(name: string, anyWidth = false): Op {
  return { text: name, desc: anyWidth ? { kind: "reg", name, anyWidth } : { kind: "reg", name }, width: widthOf(name) };
}

function regs(width: 8 | 16 | 32): Op[] {
  return GPR[width].map((r) => reg(r));
}

/** A memory operand of `size` bytes; `explicit` writes the size keyword. */
function mem(a: Address, size: number, explicit: boolean): Op {
  const keyword = explicit ? SIZE_KEYWORD[size] : undefined;
  const width = size === 1 ? 8 : size === 2 ? 16 : size === 4 ? 32 : undefined;
  const { text, addr, ...parts } = a;
  return { text: `${keyword ? keyword + " " : ""}[${text}]`, desc: { kind: "mem", ...parts, size }, width, addr };
}

function imm(value: number, bits: 8 | 16 | 32, keyword = ""): Op {
  return { text: `${keyword}${num(value)}`, desc: { kind: "imm", value, bits } };
}

function rel(offset: number, keyword = ""): Op {
  const text = offset === 0 ? "$" : offset > 0 ? `$+${num(offset)}` : `$-${num(-offset)}`;
  return { text: keyword + text, desc: { kind: "rel", offset } };
}

function far(selector: number, offset: number, keyword = ""): Op {
  return { text: `${keyword}${num(selector)}:${num(offset)}`, desc: { kind: "far", selector, offset } };
}

/** An operand with a keyword in front: `near [eax]`, `far word [bx]`. */
function keyword(word: string, op: Op): Op {
  return { ...op, text: `${word} ${op.text}` };
}

function rot<T>(list: readonly T[], i: number): T {
  return list[((i % list.length) + list.length) % list.length];
}

/** Builds an address from its parts, spelled the plain way unless `text` is given. */
function address(addr: Bits, parts: { base?: string; index?: string; scale?: number; disp?: number; segment?: string }, text?: string): Address {
  const { base, index, scale = 1, disp = 0, segment } = parts;
  if (text === undefined) {
    const terms: string[] = [];
    if (base) terms.push(base);
    if (index) terms.push(scale === 1 ? index : `${index}*${scale}`);
    let spelled = terms.join("+");
    if (disp !== 0 || terms.length === 0) spelled += terms.length === 0 ? num(disp) : disp < 0 ? `-${num(-disp)}` : `+${num(disp)}`;
    text = (segment ? `${segment}:` : "") + spelled;
  }
  return { text, base, index, scale, disp, segment, addr };
}

/** Displacements around the disp8 limit, and large ones both ways. */
const DISP32 = [0, 0x10, -0x10, 0x7f, 0x80, -0x80, -0x81, 0x12345678, -0x12345678];
const DISP16 = [0, 0x10, -0x10, 0x7f, 0x80, -0x80, -0x81, 0x1234, 0x7fff];

/** Every 32-bit addressing form: ModRM bases, SIB with each index and scale, no base, and NASM's rewrites. */
function addresses32(): Address[] {
  const out: Address[] = [];
  for (const base of R32) for (const disp of DISP32) out.push(address(32, { base, disp }));
  const indexes = R32.filter((r) => r !== "esp");
  let k = 0;
  for (const index of indexes) {
    for (const scale of [1, 2, 4, 8]) {
      out.push(address(32, { base: rot(R32, k), index, scale, disp: rot([0, 0x10, -0x20, 0x1000, -0x81], k) }));
      k++;
    }
    for (const scale of [4, 8]) out.push(address(32, { index, scale, disp: rot([0, 0x10, -4], k++) }));
  }
  // The base-and-index forms whose encoding is special: EBP as base needs a
  // disp8 of 0, ESP can only be the base, and NASM moves it there.
  out.push(
    address(32, { base: "ebp", index: "esi", scale: 4 }),
    address(32, { base: "esp", index: "ebp", scale: 2 }),
    address(32, { base: "ebp", index: "eax" }),
    address(32, { base: "eax", index: "ebp" }),
    address(32, { base: "ebp", index: "ebp" }),
    address(32, { base: "esp", index: "eax" }, "eax+esp"),
    address(32, { base: "eax", index: "ebx", scale: 4 }, "ebx*4+eax"),
    address(32, { base: "ecx", disp: 0x10 }, "0x10+ecx"),
    address(32, { base: "edx", index: "esi", disp: 8 }, "edx+8+esi"),
  );
  // A lone index register times 2, 3, 5 or 9 is split into base+index;
  // `nosplit` keeps it an index; times 1 it is a base.
  out.push(
    address(32, { base: "eax", index: "eax" }, "eax*2"),
    address(32, { base: "ecx", index: "ecx", scale: 2 }, "ecx*3"),
    address(32, { base: "edx", index: "edx", scale: 4 }, "edx*5"),
    address(32, { base: "ebx", index: "ebx", scale: 8 }, "ebx*9"),
    address(32, { base: "esi", index: "esi", disp: 0x10 }, "esi*2+0x10"),
    address(32, { base: "ebp", index: "ebp" }, "ebp*2"),
    address(32, { base: "ecx" }, "ecx*1"),
    address(32, { base: "ebp" }, "ebp*1"),
    address(32, { base: "esp" }, "esp*1"),
    address(32, { index: "ebx", scale: 2 }, "nosplit ebx*2"),
    address(32, { index: "ecx", scale: 1 }, "nosplit ecx*1"),
  );
  // `dword` and `byte` force the displacement size.
  out.push(
    address(32, { base: "eax" }, "dword eax"),
    address(32, { base: "ebp", disp: 0x10 }, "dword ebp+0x10"),
    address(32, { base: "esp" }, "dword esp"),
    address(32, { base: "ecx", disp: 0x7f }, "byte ecx+0x7f"),
  );
  for (const [segment, parts] of [
    ["es", { base: "eax" }], ["cs", { base: "ebx", disp: 0x10 }], ["ss", { base: "esp", disp: 4 }],
    ["ds", { base: "ebp", disp: -8 }], ["fs", { base: "esi", index: "edi", scale: 2 }],
    ["gs", { index: "eax", scale: 4, disp: 0x10 }], ["fs", { base: "ebp" }], ["ss", { base: "eax" }], ["ds", { base: "eax" }],
  ] as const) {
    out.push(address(32, { ...parts, segment }));
  }
  return out;
}

const PAIRS16: [string?, string?][] = [
  ["bx", "si"], ["bx", "di"], ["bp", "si"], ["bp", "di"], [undefined, "si"], [undefined, "di"], ["bp", undefined], ["bx", undefined],
];

/** Every 16-bit addressing form: the eight ModRM combinations with no, 8- and 16-bit displacements. */
function addresses16(): Address[] {
  const out: Address[] = [];
  // iced calls SI or DI alone the base, like BX and BP.
  for (const [b, i] of PAIRS16) for (const disp of DISP16) out.push(address(16, b && i ? { base: b, index: i, disp } : { base: b ?? i, disp }));
  out.push(
    address(16, { base: "bx", index: "si" }, "si+bx"),
    address(16, { base: "bx", index: "di", disp: 0x10 }, "di+bx+0x10"),
    address(16, { base: "bp", index: "si" }, "si+bp"),
    address(16, { base: "bp", index: "di", disp: -0x10 }, "di+bp-0x10"),
    address(16, { base: "bx", index: "si", disp: 0x10 }, "bx+0x10+si"),
    address(16, { base: "bp", disp: -0x8000 }, "bp-0x8000"),
    address(16, { base: "bx" }, "word bx"),
    address(16, { base: "bp", disp: 0x10 }, "word bp+0x10"),
    address(16, { base: "bp" }, "byte bp"),
  );
  for (const [segment, parts] of [
    ["es", { base: "bx" }], ["cs", { base: "bp", index: "si", disp: 0x10 }], ["ss", { base: "bp" }],
    ["ds", { base: "bp", index: "di" }], ["fs", { base: "si" }], ["gs", { base: "di", disp: 0x1234 }], ["ss", { base: "bx" }],
  ] as const) {
    out.push(address(16, { ...parts, segment }));
  }
  return out;
}

/** Displacement-only addresses: in the native width, with segment overrides, and forced to the other width. */
function absolutes(bits: Bits): Address[] {
  const other: Bits = bits === 16 ? 32 : 16;
  const native = bits === 16 ? [0x1234, 0, 0x10, 0xffff] : [0x1234, 0, 0x10, 0x12345678, 0xffffffff];
  return [
    ...native.map((disp) => address(bits, { disp })),
    address(bits, { disp: 0x1234, segment: "es" }),
    address(bits, { disp: 0x30, segment: "fs" }),
    address(other, { disp: 0x10 }, `${other === 32 ? "dword" : "word"} 0x10`),
    address(other, { disp: 0x1234 }, `${other === 32 ? "dword" : "word"} 0x1234`),
  ];
}

/** The addresses one corpus width uses: all of them, a handful, and three. */
interface Addressing {
  full: Address[];
  few: Address[];
  tiny: Address[];
}

function addressing(bits: Bits): Addressing {
  const a32 = (text: string, parts: Parameters<typeof address>[1]) => address(32, parts, text);
  const a16 = (text: string, parts: Parameters<typeof address>[1]) => address(16, parts, text);
  const native32 = [
    a32("eax", { base: "eax" }), a32("ebp-0x10", { base: "ebp", disp: -0x10 }), a32("esp+0x12345678", { base: "esp", disp: 0x12345678 }),
    a32("ebx+esi*4+0x10", { base: "ebx", index: "esi", scale: 4, disp: 0x10 }), a32("fs:edi", { base: "edi", segment: "fs" }),
  ];
  const native16 = [
    a16("bx", { base: "bx" }), a16("bp-0x10", { base: "bp", disp: -0x10 }), a16("bx+si+0x1234", { base: "bx", index: "si", disp: 0x1234 }),
    a16("bp+di", { base: "bp", index: "di" }), a16("es:si+0x10", { base: "si", disp: 0x10, segment: "es" }),
  ];
  const other32 = [a32("eax+ebx*2", { base: "eax", index: "ebx", scale: 2 })];
  const other16 = [a16("bx+si+0x10", { base: "bx", index: "si", disp: 0x10 })];
  const absolute = address(bits, { disp: 0x1234 });
  if (bits === 32) {
    return {
      full: [...addresses32(), ...absolutes(32), ...addresses16().filter((_, i) => i % 6 === 0)],
      few: [...native32, absolute, ...other16],
      tiny: [native32[3], native32[1], other16[0]],
    };
  }
  return {
    full: [...addresses16(), ...absolutes(16), ...addresses32().filter((_, i) => i % 6 === 0)],
    few: [...native16, absolute, ...other32],
    tiny: [native16[2], native16[1], other32[0]],
  };
}

interface Extra {
  /** Operand size when the operands do not decide it. */
  opsize?: Bits;
  /** Address size when no memory operand decides it. */
  addr?: Bits;
  /** Source text before the mnemonic: `lock`, `rep`, `o16`, `a32`, `es`. */
  prefix?: string;
  lock?: boolean;
  rep?: RepPrefix;
  segment?: string;
  /** Source text after the operands (`, ecx` on LOOP). */
  suffix?: string;
  /** The operands the instruction has where the source abbreviates them: AAM's base 10, IMUL r,imm as IMUL r,r,imm. */
  means?: CorpusOperand[];
}

class Corpus {
  readonly lines: CorpusLine[] = [];
  private readonly seen = new Set<string>();
  readonly mem: Addressing;

  constructor(readonly bits: Bits) {
    this.mem = addressing(bits);
  }

  get other(): Bits {
    return this.bits === 16 ? 32 : 16;
  }

  add(group: string, mnemonic: string, ops: Op[], x: Extra = {}): void {
    const body = mnemonic + (ops.length ? " " + ops.map((o) => o.text).join(", ") : "") + (x.suffix ?? "");
    const source = x.prefix ? `${x.prefix} ${body}` : body;
    if (this.seen.has(source)) return;
    this.seen.add(source);
    const sized = ops.find((o) => o.width !== undefined);
    const operandSize = x.opsize ?? (sized && sized.width !== 8 ? (sized.width as Bits) : this.bits);
    const addressSize = ops.find((o) => o.addr !== undefined)?.addr ?? x.addr ?? this.bits;
    this.lines.push({
      bits: this.bits, group, source, mnemonic, operands: x.means ?? ops.map((o) => o.desc), operandSize, addressSize,
      lock: x.lock ?? false, ...(x.rep ? { rep: x.rep } : {}), ...(x.segment ? { segment: x.segment } : {}),
    });
  }
}

const ALU = ["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"];

function arithmetic(c: Corpus): void {
  const few = c.mem.few;
  for (const m of ALU) {
    for (const w of [8, 16, 32] as const) {
      const r = regs(w);
      const bytes = w / 8;
      // ADD gets every register pair; the others every register in each slot.
      for (let i = 0; i < 8; i++) {
        for (let j = 0; j < 8; j++) if (m === "add" || j === i || j === (i + 3) % 8) c.add("alu", m, [r[i], r[j]]);
      }
      few.forEach((a, k) => {
        c.add("alu", m, [rot(r, k), mem(a, bytes, false)]);
        c.add("alu", m, [mem(a, bytes, k % 2 === 0), rot(r, k + 3)]);
        c.add("alu", m, [mem(a, bytes, true), imm(rot(immediates(w), k * 3 + 1), w)]);
        if (m !== "cmp") {
          c.add("alu", m, [mem(a, bytes, false), rot(r, k + 5)], { prefix: "lock", lock: true });
          c.add("alu", m, [mem(a, bytes, true), imm(rot(immediates(w), k * 5), w)], { prefix: "lock", lock: true });
        }
      });
      // The accumulator has short forms (04/05); other registers take 80/81/83.
      immediates(w).forEach((v, k) => {
        c.add("alu", m, [r[0], imm(v, w)]);
        c.add("alu", m, [r[1 + (k % 7)], imm(v, w)]);
      });
    }
    // Size specifiers choose between the sign-extended imm8 and the full immediate.
    const a = few[0];
    c.add("alu", m, [reg("eax"), imm(1, 32, "byte ")]);
    c.add("alu", m, [reg("ebx"), imm(-0x80, 32, "byte ")]);
    c.add("alu", m, [reg("ax"), imm(-1, 16, "byte ")]);
    c.add("alu", m, [reg("eax"), imm(1, 32, "strict dword ")]);
    c.add("alu", m, [reg("ecx"), imm(-1, 32, "strict dword ")]);
    c.add("alu", m, [reg("ax"), imm(5, 16, "strict word ")]);
    c.add("alu", m, [reg("dx"), imm(0x7f, 16, "strict byte ")]);
    c.add("alu", m, [reg("esi"), imm(-2, 32, "strict byte ")]);
    c.add("alu", m, [mem(a, 4, true), imm(1, 32, "strict dword ")]);
    c.add("alu", m, [mem(a, 2, true), imm(1, 16, "byte ")]);
    c.add("alu", m, [mem(a, 4, true), imm(-1, 32, "strict byte ")]);
  }

  for (const w of [8, 16, 32] as const) {
    const r = regs(w);
    const bytes = w / 8;
    for (let i = 0; i < 8; i++) {
      c.add("test", "test", [r[i], r[i]]);
      c.add("test", "test", [r[i], r[(i + 5) % 8]]);
    }
    c.mem.few.forEach((a, k) => {
      c.add("test", "test", [mem(a, bytes, false), rot(r, k)]);
      c.add("test", "test", [rot(r, k + 2), mem(a, bytes, false)]);
      c.add("test", "test", [mem(a, bytes, true), imm(rot(immediates(w), k + 2), w)]);
    });
    immediates(w).forEach((v, k) => {
      c.add("test", "test", [r[0], imm(v, w)]);
      c.add("test", "test", [r[1 + (k % 7)], imm(v, w)]);
    });

    for (const m of ["inc", "dec", "neg", "not", "mul", "imul", "div", "idiv"]) {
      for (const x of r) c.add("unary", m, [x]);
      c.mem.few.forEach((a) => c.add("unary", m, [mem(a, bytes, true)]));
      if (["inc", "dec", "neg", "not"].includes(m)) {
        c.mem.tiny.forEach((a) => c.add("unary", m, [mem(a, bytes, true)], { prefix: "lock", lock: true }));
      }
    }
  }

  // IMUL's two- and three-operand forms, with imm8 and full immediates.
  for (const w of [16, 32] as const) {
    const r = regs(w);
    for (let i = 0; i < 8; i++) c.add("imul", "imul", [r[i], rot(r, i + 3)]);
    c.mem.few.forEach((a, k) => c.add("imul", "imul", [rot(r, k), mem(a, w / 8, false)]));
    immediates(w).forEach((v, k) => {
      c.add("imul", "imul", [rot(r, k), rot(r, k + 1), imm(v, w)]);
      const dst = rot(r, k + 2);
      c.add("imul", "imul", [dst, imm(v, w)], { means: [dst.desc, dst.desc, imm(v, w).desc] });
      c.add("imul", "imul", [rot(r, k + 4), mem(rot(c.mem.few, k), w / 8, false), imm(v, w)]);
    });
    c.add("imul", "imul", [r[0], imm(1, w, w === 32 ? "strict dword " : "strict word ")], { means: [r[0].desc, r[0].desc, imm(1, w).desc] });
    c.add("imul", "imul", [r[0], r[3], imm(1, w, "strict byte ")]);
    c.add("imul", "imul", [r[1], r[2], imm(-1, w, w === 32 ? "strict dword " : "strict word ")]);
  }
}

function moves(c: Corpus): void {
  for (const w of [8, 16, 32] as const) {
    const r = regs(w);
    const bytes = w / 8;
    for (const x of r) for (const y of r) c.add("mov", "mov", [x, y]);
    const addresses = w === 16 ? c.mem.few : c.mem.full;
    addresses.forEach((a, k) => {
      if (w === 32) c.add("mov", "mov", [rot(r, k), mem(a, bytes, false)]);
      else c.add("mov", "mov", [mem(a, bytes, k % 3 === 0), rot(r, k)]);
    });
    c.mem.few.forEach((a, k) => {
      c.add("mov", "mov", [mem(a, bytes, false), rot(r, k + 1)]);
      c.add("mov", "mov", [rot(r, k + 2), mem(a, bytes, false)]);
      c.add("mov", "mov", [mem(a, bytes, true), imm(rot(immediates(w), k * 3 + 2), w)]);
    });
    // The accumulator with a displacement-only address has the moffs forms (A0–A3).
    for (const a of absolutes(c.bits)) {
      c.add("mov", "mov", [r[0], mem(a, bytes, false)]);
      c.add("mov", "mov", [mem(a, bytes, false), r[0]]);
    }
    immediates(w).forEach((v, k) => c.add("mov", "mov", [rot(r, k), imm(v, w)]));
    r.forEach((x, k) => c.add("mov", "mov", [x, imm(rot(immediates(w), k + 5), w)]));
  }
  c.add("mov", "mov", [reg("eax"), imm(1, 32, "strict dword ")]);
  c.add("mov", "mov", [mem(c.mem.few[0], 4, true), imm(-1, 32, "strict dword ")]);

  // Segment registers: the selector moves are 16 bits whatever the operand
  // size, so NASM adds no 66 for MOV Sreg,r32 or MOV m16,Sreg.
  const bits = c.bits;
  SREGS.forEach((s, k) => {
    c.add("mov", "mov", [rot(regs(16), k), reg(s)]);
    c.add("mov", "mov", [rot(regs(32), k + 3), reg(s)]);
    c.add("mov", "mov", [mem(rot(c.mem.few, k), 2, k % 2 === 0), reg(s)], { opsize: bits });
    if (s === "cs") return; // loading CS with MOV is #UD
    for (const w of [16, 32] as const) c.add("mov", "mov", [reg(s), reg(rot(GPR[w], k * 3 + w), true)], { opsize: bits });
    c.add("mov", "mov", [reg(s), mem(rot(c.mem.few, k + 2), 2, k % 2 === 1)], { opsize: bits });
  });

  // Control, debug and test registers move to and from 32-bit registers only.
  const system = [...CREGS, ...DREGS, ...TREGS];
  system.forEach((s, k) => {
    c.add("mov-sys", "mov", [reg(rot(R32, k)), reg(s)], { opsize: bits });
    c.add("mov-sys", "mov", [reg(s), reg(rot(R32, k + 5))], { opsize: bits });
  });
  R32.forEach((x, k) => {
    c.add("mov-sys", "mov", [reg(x), reg(rot(CREGS, k))], { opsize: bits });
    c.add("mov-sys", "mov", [reg(rot(DREGS, k + 2)), reg(x)], { opsize: bits });
  });

  for (const w of [8, 16, 32] as const) {
    const r = regs(w);
    for (let i = 0; i < 8; i++) {
      for (let j = 0; j < 8; j++) if (w !== 8 || j === i || j === (i + 1) % 8) c.add("xchg", "xchg", [r[i], r[j]]);
    }
    c.mem.few.forEach((a, k) => {
      c.add("xchg", "xchg", [mem(a, w / 8, false), rot(r, k)]);
      c.add("xchg", "xchg", [rot(r, k + 4), mem(a, w / 8, false)]);
    });
    c.mem.tiny.forEach((a, k) => c.add("xchg", "xchg", [mem(a, w / 8, false), rot(r, k + 1)], { prefix: "lock", lock: true }));

    for (const m of ["xadd", "cmpxchg"]) {
      for (let i = 0; i < 8; i++) c.add(m, m, [r[i], rot(r, i + 3)]);
      c.mem.few.forEach((a, k) => c.add(m, m, [mem(a, w / 8, false), rot(r, k)]));
      c.mem.tiny.forEach((a, k) => c.add(m, m, [mem(a, w / 8, false), rot(r, k + 2)], { prefix: "lock", lock: true }));
    }
  }
  c.mem.few.forEach((a, k) => c.add("cmpxchg8b", "cmpxchg8b", [mem(a, 8, k % 2 === 1)], { opsize: bits }));
  c.mem.tiny.forEach((a) => c.add("cmpxchg8b", "cmpxchg8b", [mem(a, 8, false)], { prefix: "lock", lock: true, opsize: bits }));
  for (const x of R32) c.add("bswap", "bswap", [reg(x)]);

  // MOVSX/MOVZX widen a byte or word; LEA computes any address into a register.
  for (const m of ["movsx", "movzx"]) {
    for (const [dw, sw] of [[16, 8], [32, 8], [32, 16]] as const) {
      GPR[dw].forEach((x, k) => c.add("movx", m, [reg(x), reg(rot(GPR[sw], k + 3))]));
      c.mem.few.forEach((a, k) => c.add("movx", m, [reg(rot(GPR[dw], k)), mem(a, sw / 8, true)]));
    }
  }
  c.mem.full.forEach((a, k) => c.add("lea", "lea", [reg(rot(R32, k)), mem(a, 0, false)]));
  c.mem.few.forEach((a, k) => c.add("lea", "lea", [reg(rot(R16, k)), mem(a, 0, false)]));
}

const SHIFTS = ["rol", "ror", "rcl", "rcr", "shl", "sal", "shr", "sar"];

function shifts(c: Corpus): void {
  const counts = [1, 2, 7, 8, 0x1f, 0xff, 0];
  for (const m of SHIFTS) {
    for (const w of [8, 16, 32] as const) {
      const r = regs(w);
      r.forEach((x, k) => {
        c.add("shift", m, [x, reg("cl")]);
        c.add("shift", m, [x, imm(rot(counts, k), 8)]);
      });
      c.mem.few.forEach((a, k) => {
        c.add("shift", m, [mem(a, w / 8, true), imm(rot(counts, k + w), 8)]);
        c.add("shift", m, [mem(a, w / 8, true), reg("cl")]);
      });
      // `byte 1` asks for the imm8 form (C0/C1) instead of the shift-by-one D0/D1.
      c.add("shift", m, [r[3], imm(1, 8, "byte ")]);
    }
  }
  for (const m of ["shld", "shrd"]) {
    for (const w of [16, 32] as const) {
      const r = regs(w);
      r.forEach((x, k) => {
        c.add("shift", m, [x, rot(r, k + 1), imm(rot(counts, k), 8)]);
        c.add("shift", m, [rot(r, k + 2), x, reg("cl")]);
      });
      c.mem.few.forEach((a, k) => {
        c.add("shift", m, [mem(a, w / 8, false), rot(r, k), imm(rot(counts, k + 1), 8)]);
        c.add("shift", m, [mem(a, w / 8, false), rot(r, k + 3), reg("cl")]);
      });
    }
  }
}

function bits(c: Corpus): void {
  const offsets = [0, 1, 7, 0x1f, 0xff];
  for (const m of ["bt", "bts", "btr", "btc"]) {
    for (const w of [16, 32] as const) {
      const r = regs(w);
      r.forEach((x, k) => {
        c.add("bit", m, [x, rot(r, k + 3)]);
        c.add("bit", m, [x, imm(rot(offsets, k), 8)]);
      });
      c.mem.few.forEach((a, k) => {
        c.add("bit", m, [mem(a, w / 8, false), rot(r, k)]);
        c.add("bit", m, [mem(a, w / 8, true), imm(rot(offsets, k + 2), 8)]);
      });
      if (m !== "bt") {
        c.mem.tiny.forEach((a, k) => {
          c.add("bit", m, [mem(a, w / 8, false), rot(r, k + 1)], { prefix: "lock", lock: true });
          c.add("bit", m, [mem(a, w / 8, true), imm(rot(offsets, k), 8)], { prefix: "lock", lock: true });
        });
      }
    }
  }
  for (const m of ["bsf", "bsr"]) {
    for (const w of [16, 32] as const) {
      const r = regs(w);
      r.forEach((x, k) => c.add("bit", m, [x, rot(r, k + 5)]));
      c.mem.few.forEach((a, k) => c.add("bit", m, [rot(r, k), mem(a, w / 8, false)]));
    }
  }
  CONDITIONS.forEach((cc, k) => {
    for (const x of R8) c.add("setcc", "set" + cc, [reg(x)]);
    c.mem.few.forEach((a, i) => c.add("setcc", "set" + cc, [mem(a, 1, (i + k) % 2 === 0)]));
    for (const w of [16, 32] as const) {
      const r = regs(w);
      c.add("cmovcc", "cmov" + cc, [rot(r, k), rot(r, k + 3)]);
      c.add("cmovcc", "cmov" + cc, [rot(r, k + 5), rot(r, k + 2)]);
      c.add("cmovcc", "cmov" + cc, [rot(r, k + 1), mem(rot(c.mem.few, k), w / 8, false)]);
    }
  });
}

function stack(c: Corpus): void {
  const bits = c.bits;
  for (const w of [16, 32] as const) {
    for (const x of regs(w)) {
      c.add("stack", "push", [x]);
      c.add("stack", "pop", [x]);
    }
    c.mem.few.forEach((a) => {
      c.add("stack", "push", [mem(a, w / 8, true)]);
      c.add("stack", "pop", [mem(a, w / 8, true)]);
    });
  }
  // PUSH imm: 6A takes a sign-extended byte, 68 a full word or dword.
  for (const v of immediates(bits)) c.add("stack", "push", [imm(v, bits)]);
  for (const v of immediates(16)) c.add("stack", "push", [imm(v, 16, "word ")], { opsize: 16 });
  for (const v of immediates(32)) c.add("stack", "push", [imm(v, 32, "dword ")], { opsize: 32 });
  for (const v of [0, 1, 0x7f, -1, -0x80]) {
    c.add("stack", "push", [imm(v, bits, "byte ")]);
    c.add("stack", "push", [imm(v, bits, "strict byte ")]);
  }
  c.add("stack", "push", [imm(1, 16, "strict word ")], { opsize: 16 });
  c.add("stack", "push", [imm(1, 32, "strict dword ")], { opsize: 32 });
  c.add("stack", "push", [imm(-1, 32, "strict dword ")], { opsize: 32 });
  for (const s of SREGS) {
    for (const m of s === "cs" ? ["push"] : ["push", "pop"]) {
      c.add("stack", m, [reg(s)]);
      c.add("stack", m, [reg(s)], { prefix: "o16", opsize: 16 });
      c.add("stack", m, [reg(s)], { prefix: "o32", opsize: 32 });
    }
  }
  for (const m of ["pusha", "popa", "pushf", "popf"]) {
    c.add("stack", m, []);
    c.add("stack", m + "w", [], { opsize: 16 });
    c.add("stack", m + "d", [], { opsize: 32 });
    c.add("stack", m, [], { prefix: "o16", opsize: 16 });
    c.add("stack", m, [], { prefix: "o32", opsize: 32 });
  }
  for (const [frame, level] of [[0, 0], [16, 0], [0x100, 1], [0xffff, 0xff], [8, 31], [0x7fff, 2]]) {
    c.add("stack", "enter", [imm(frame, 16), imm(level, 8)]);
  }
  c.add("stack", "enter", [imm(4, 16), imm(0, 8)], { prefix: "o16", opsize: 16 });
  c.add("stack", "enter", [imm(4, 16), imm(1, 8)], { prefix: "o32", opsize: 32 });
  c.add("stack", "leave", []);
  c.add("stack", "leave", [], { prefix: "o16", opsize: 16 });
  c.add("stack", "leave", [], { prefix: "o32", opsize: 32 });
}

function branches(c: Corpus): void {
  const bits = c.bits;
  const other = c.other;
  const short = [0, 2, 0x10, -0x10, 0x81, -0x7e];
  const near = bits === 32 ? [0x82, -0x7f, 0x1000, -0x1000, 0x12345, -0x12345] : [0x82, -0x7f, 0x1000, -0x1000, 0x7ff0];
  CONDITIONS.forEach((cc, k) => {
    for (const off of [...short, ...near]) c.add("jcc", "j" + cc, [rel(off)]);
    c.add("jcc", "j" + cc, [rel(rot(short, k), "short ")]);
    c.add("jcc", "j" + cc, [rel(rot(short, k + 1), "near ")]);
    c.add("jcc", "j" + cc, [rel(rot(near, k), "near ")]);
    c.add("jcc", "j" + cc, [rel(rot(short, k + 2), "strict near ")]);
  });

  for (const m of ["jmp", "call"]) {
    const offsets = m === "jmp" ? [...short, ...near] : [0, 5, 0x100, -0x100, 0x1000, -0x7f, ...near.slice(4)];
    for (const off of offsets) c.add("jump", m, [rel(off)]);
    if (m === "jmp") {
      for (const off of [0, 5, -0x7e]) c.add("jump", m, [rel(off, "short ")]);
      for (const off of [2, 5, -5]) c.add("jump", m, [rel(off, "strict short ")]);
    }
    for (const off of [3, 5, 0x100]) {
      c.add("jump", m, [rel(off, "near ")]);
      c.add("jump", m, [rel(off, "strict near ")]);
    }
    // A relative branch of the other operand size: 66 E8/E9 with a rel16 or rel32.
    for (const off of [0x100, -0x100, 0x1000]) c.add("jump", m, [rel(off, other === 16 ? "word " : "dword ")], { opsize: other });
    for (const w of [16, 32] as const) {
      for (const x of regs(w)) c.add("jump", m, [x]);
      c.mem.few.forEach((a) => c.add("jump", m, [mem(a, w / 8, true)]));
    }
    c.add("jump", m, [mem(c.mem.few[0], bits / 8, false)]);
    c.add("jump", m, [keyword("near", mem(c.mem.few[2], bits / 8, false))]);
    // Far: a direct selector:offset, or a pointer in memory.
    const targets: [number, number][] = [[8, 0x1234], [0x10, 0], [0xffff, 0xffff], [0x1b, 0x7f]];
    if (bits === 32) targets.push([0x23, 0x12345678]);
    for (const [sel, off] of targets) c.add("far", m, [far(sel, off)]);
    c.add("far", m, [far(0x28, 0x4321, other === 16 ? "word " : "dword ")], { opsize: other });
    c.mem.few.forEach((a) => {
      c.add("far", m, [keyword("far", mem(a, bits === 16 ? 4 : 6, false))], { opsize: bits });
      c.add("far", m, [keyword("far word", mem(a, 4, false))], { opsize: 16 });
      c.add("far", m, [keyword("far dword", mem(a, 6, false))], { opsize: 32 });
    });
  }

  // LOOP and JCXZ count in CX or ECX: the address size picks which, and a
  // 67 prefix makes the instruction a byte longer, which moves the rel8 limits.
  const loops = (length: number) => [0, 2, -2, 0x10, -0x10, length + 0x7f, length - 0x80];
  for (const m of ["loop", "loope", "loopz", "loopne", "loopnz", "jcxz", "jecxz"]) {
    const counter: Bits = m === "jcxz" ? 16 : m === "jecxz" ? 32 : bits;
    loops(counter === bits ? 2 : 3).forEach((off) => c.add("loop", m, [rel(off)], { addr: counter }));
    if (m.startsWith("loop")) {
      for (const counter of [16, 32] as const) {
        loops(counter === bits ? 2 : 3).forEach((off, k) => {
          if (k % 2 === m.length % 2) c.add("loop", m, [rel(off)], { suffix: counter === 16 ? ", cx" : ", ecx", addr: counter });
        });
      }
      loops(3).forEach((off) => c.add("loop", m, [rel(off)], { prefix: bits === 16 ? "a32" : "a16", addr: other }));
    }
  }

  for (const m of ["ret", "retn", "retf"]) {
    c.add("ret", m, []);
    c.add("ret", m, [], { prefix: "o16", opsize: 16 });
    c.add("ret", m, [], { prefix: "o32", opsize: 32 });
    for (const v of immediates(16)) if (v >= 0) c.add("ret", m, [imm(v, 16)]);
    c.add("ret", m, [imm(8, 16)], { prefix: bits === 16 ? "o32" : "o16", opsize: other });
  }
  c.add("ret", "ret", [imm(8, 16, "strict word ")]);
  for (const m of ["iret", "iretw", "iretd"]) {
    c.add("ret", m, [], { opsize: m === "iretw" ? 16 : m === "iretd" ? 32 : bits });
  }
  c.add("ret", "iret", [], { prefix: "o16", opsize: 16 });
  c.add("ret", "iret", [], { prefix: "o32", opsize: 32 });
}

function strings(c: Corpus): void {
  const bits = c.bits;
  const other = c.other;
  // Which string instructions read DS:(E)SI (a segment override applies) and which repeat on a condition.
  const families: [string, boolean, RepPrefix[]][] = [
    ["movs", true, ["rep"]], ["cmps", true, ["repe", "repz", "repne", "repnz", "rep"]], ["lods", true, ["rep"]],
    ["outs", true, ["rep"]], ["stos", false, ["rep"]], ["scas", false, ["repe", "repz", "repne", "repnz"]], ["ins", false, ["rep"]],
  ];
  for (const [stem, source, reps] of families) {
    for (const [suffix, opsize] of [["b", bits], ["w", 16], ["d", 32]] as const) {
      const m = stem + suffix;
      c.add("string", m, [], { opsize });
      for (const rep of reps) c.add("string", m, [], { opsize, prefix: rep, rep });
      c.add("string", m, [], { opsize, prefix: bits === 16 ? "a32" : "a16", addr: other });
      c.add("string", m, [], { opsize, prefix: `${bits === 16 ? "a32" : "a16"} ${reps[0]}`, addr: other, rep: reps[0] });
      if (!source) continue;
      SREGS.forEach((s, k) => {
        c.add("string", m, [], { opsize, prefix: s, segment: s });
        c.add("string", m, [], { opsize, prefix: `${rot(reps, k)} ${s}`, rep: rot(reps, k), segment: s });
      });
    }
  }
  c.add("string", "xlat", []);
  c.add("string", "xlatb", []);
  for (const s of SREGS) c.add("string", "xlatb", [], { prefix: s, segment: s });
  c.add("string", "xlatb", [], { prefix: bits === 16 ? "a32" : "a16", addr: other });
}

function io(c: Corpus): void {
  for (const [acc, w] of [["al", c.bits], ["ax", 16], ["eax", 32]] as const) {
    for (const port of [0, 0x60, 0x80, 0xff]) {
      c.add("io", "in", [reg(acc), imm(port, 8)], { opsize: w });
      c.add("io", "out", [imm(port, 8), reg(acc)], { opsize: w });
    }
    c.add("io", "in", [reg(acc), reg("dx")], { opsize: w });
    c.add("io", "out", [reg("dx"), reg(acc)], { opsize: w });
  }
}

function system(c: Corpus): void {
  const bits = c.bits;
  for (const m of ["lgdt", "lidt", "sgdt", "sidt"]) {
    c.mem.few.forEach((a) => c.add("system", m, [mem(a, 6, false)], { opsize: bits }));
    c.add("system", m, [mem(c.mem.few[1], 6, false)], { prefix: "o16", opsize: 16 });
    c.add("system", m, [mem(c.mem.few[1], 6, false)], { prefix: "o32", opsize: 32 });
  }
  // Selector and machine-status-word operands are 16 bits in any mode.
  for (const m of ["lldt", "ltr", "verr", "verw", "lmsw"]) {
    for (const x of R16) c.add("system", m, [reg(x, true)], { opsize: bits });
    c.mem.few.forEach((a, k) => c.add("system", m, [mem(a, 2, k % 2 === 0)], { opsize: bits }));
  }
  for (const m of ["sldt", "str", "smsw"]) {
    for (const x of [...R16, ...R32]) c.add("system", m, [reg(x)]);
    c.mem.few.forEach((a, k) => c.add("system", m, [mem(a, 2, k % 2 === 1)], { opsize: bits }));
  }
  R16.forEach((x, k) => c.add("system", "arpl", [reg(x, true), reg(rot(R16, k + 3), true)], { opsize: bits }));
  c.mem.few.forEach((a, k) => c.add("system", "arpl", [mem(a, 2, false), reg(rot(R16, k), true)], { opsize: bits }));
  for (const m of ["lar", "lsl"]) {
    for (const w of [16, 32] as const) {
      const r = regs(w);
      r.forEach((x, k) => c.add("system", m, [x, rot(r, k + 2)]));
      c.mem.few.forEach((a, k) => c.add("system", m, [rot(r, k), mem(a, 2, k % 2 === 0)], { opsize: w }));
    }
  }
  c.mem.few.forEach((a) => c.add("system", "invlpg", [mem(a, 0, false)]));
  for (const m of ["lds", "les", "lfs", "lgs", "lss"]) {
    for (const w of [16, 32] as const) c.mem.few.forEach((a, k) => c.add("system", m, [reg(rot(GPR[w], k)), mem(a, w === 16 ? 4 : 6, false)]));
  }
  for (const w of [16, 32] as const) c.mem.few.forEach((a, k) => c.add("system", "bound", [reg(rot(GPR[w], k + 1)), mem(a, w === 16 ? 4 : 8, false)]));

  // UMOV (386/486 ICE): MOV's operand forms on opcodes 0F 10–13.
  for (const w of [8, 16, 32] as const) {
    const r = regs(w);
    r.forEach((x, k) => c.add("umov", "umov", [x, rot(r, k + 1)]));
    c.mem.tiny.forEach((a, k) => {
      c.add("umov", "umov", [mem(a, w / 8, false), rot(r, k)]);
      c.add("umov", "umov", [rot(r, k + 2), mem(a, w / 8, false)]);
    });
  }
  for (const w of [16, 32] as const) {
    const r = regs(w);
    c.add("system", "ud1", [r[0], r[3]]);
    c.add("system", "ud1", [r[6], mem(c.mem.few[0], w / 8, false)]);
  }

  for (const m of [
    "clts", "invd", "wbinvd", "cpuid", "rdtsc", "rdmsr", "wrmsr", "rdpmc", "sysenter", "sysexit", "ud2", "vmcall", "hlt",
    "nop", "wait", "fwait", "clc", "stc", "cmc", "cld", "std", "cli", "sti", "lahf", "sahf", "daa", "das", "aaa", "aas",
    "salc", "int3", "int03", "into", "int1", "int01", "icebp",
  ]) {
    c.add("misc", m, []);
  }
  c.add("misc", "cbw", [], { opsize: 16 });
  c.add("misc", "cwde", [], { opsize: 32 });
  c.add("misc", "cwd", [], { opsize: 16 });
  c.add("misc", "cdq", [], { opsize: 32 });
  // AAM and AAD divide and multiply by an immediate base, 10 when omitted.
  for (const m of ["aam", "aad"]) {
    c.add("misc", m, [], { means: [{ kind: "imm", value: 10, bits: 8 }] });
    for (const v of [0, 2, 0x10, 0xff]) c.add("misc", m, [imm(v, 8)]);
  }
  for (const v of [0, 1, 3, 0x10, 0x21, 0x80, 0xff]) c.add("misc", "int", [imm(v, 8)]);
  c.add("misc", "nop", [], { prefix: "o16", opsize: 16 });
  c.add("misc", "nop", [], { prefix: "o32", opsize: 32 });
}

/** The other ways NASM lets an operand be spelled: expressions, character constants, prefixes in front. */
function spellings(c: Corpus): void {
  const bits = c.bits;
  const constants: [string, string, number, 8 | 16 | 32][] = [
    ["al", "'a'", 0x61, 8], ["ax", "'ab'", 0x6261, 16], ["eax", "'abcd'", 0x64636261, 32], ["ax", "10h", 0x10, 16],
    ["ax", "0b1010", 10, 16], ["eax", "0o17", 15, 32], ["ax", "1 << 15", 0x8000, 16], ["eax", "2*3+1", 7, 32],
    ["eax", "-(0x80)", -0x80, 32], ["eax", "~0", -1, 32], ["ebx", "~0x7f", ~0x7f, 32], ["cx", "0ffh", 0xff, 16],
  ];
  for (const [r, text, value, w] of constants) {
    c.add("spelling", "mov", [reg(r), { text, desc: { kind: "imm", value, bits: w } }]);
    c.add("spelling", "add", [reg(r), { text, desc: { kind: "imm", value, bits: w } }]);
  }
  c.add("spelling", "push", [{ text: "'ab'", desc: { kind: "imm", value: 0x6261, bits } }]);

  const spelled: [string, Address][] = bits === 32
    ? [
      ["4*ebx+eax", address(32, { base: "eax", index: "ebx", scale: 4 })],
      ["eax+ebx*4-0x10+0x20", address(32, { base: "eax", index: "ebx", scale: 4, disp: 0x10 })],
      ["ebx+ecx+8-8", address(32, { base: "ebx", index: "ecx" })],
      ["eax*4+ebx*1", address(32, { base: "ebx", index: "eax", scale: 4 })],
      ["ebx*1+eax*4", address(32, { base: "ebx", index: "eax", scale: 4 })],
      ["eax+0", address(32, { base: "eax" })],
      ["ebp+0", address(32, { base: "ebp" })],
      ["-4", address(32, { disp: -4 })],
      ["fs:0x30", address(32, { disp: 0x30, segment: "fs" })],
    ]
    : [
      ["bp+0", address(16, { base: "bp" })],
      ["-1", address(16, { disp: -1 })],
      ["0x10+bx+si", address(16, { base: "bx", index: "si", disp: 0x10 })],
      ["bx+si+0x20-0x10", address(16, { base: "bx", index: "si", disp: 0x10 })],
      ["4*ebx+eax", address(32, { base: "eax", index: "ebx", scale: 4 })],
    ];
  spelled.forEach(([text, a], k) => {
    const r = regs(k % 2 === 0 ? 32 : 16);
    c.add("spelling", "mov", [rot(r, k), mem({ ...a, text }, k % 2 === 0 ? 4 : 2, false)]);
    c.add("spelling", "mov", [mem({ ...a, text }, 4, true), reg(rot(R32, k + 1))]);
  });

  // A segment register in front of the instruction overrides its memory operand's segment.
  for (const s of SREGS) {
    const a = c.mem.few[0];
    c.add("spelling", "mov", [reg("eax"), mem({ ...a, segment: s }, 4, false)], { prefix: s });
  }
  // The AMD branch-predictor idiom: a REP prefix on RET.
  c.add("spelling", "ret", [], { prefix: "rep", rep: "rep" });
}

/** The corpus for one width: every line NASM must assemble, with what each one means. */
export function corpus(width: Bits): CorpusLine[] {
  const c = new Corpus(width);
  arithmetic(c);
  moves(c);
  shifts(c);
  bits(c);
  stack(c);
  branches(c);
  strings(c);
  io(c);
  system(c);
  spellings(c);
  return c.lines;
}

// Checking bytes against a line. iced decodes them (test/support/iced.ts)
// and every part of the description must come back: the mnemonic under
// iced's name for it, the operands in order (either order for the
// commutative XCHG and TEST), the sizes, the prefixes, and a length that
// uses up exactly the line's bytes.

/** The line as iced will name it: its mnemonic, and its operands in iced's terms. */
function expectation(line: CorpusLine): { mnemonic: string; operands: CorpusOperand[] } {
  const [a, b] = line.operands;
  // XCHG of the accumulator with itself is the one-byte 90, which is NOP.
  if (line.mnemonic === "xchg" && a?.kind === "reg" && b?.kind === "reg" && a.name === b.name && (a.name === "ax" || a.name === "eax")) {
    return { mnemonic: "nop", operands: [] };
  }
  return { mnemonic: icedMnemonic(line.mnemonic, line.operandSize), operands: line.operands };
}

function registerNumber(name: string): number {
  const i = R16.indexOf(name);
  return i >= 0 ? i : R32.indexOf(name);
}

function maskTo(value: number, width: number): number {
  return width === 32 ? value >>> 0 : value & ((1 << width) - 1);
}

function showAddress(base: string | undefined, index: string | undefined, scale: number, disp: number): string {
  const terms = [base, index && `${index}*${scale}`, `0x${disp.toString(16)}`].filter(Boolean);
  return `[${terms.join("+")}]`;
}

/** Why a decoded operand is not the one written, or undefined when it is. */
function operandMismatch(want: CorpusOperand, got: DecodedOperand, line: CorpusLine): string | undefined {
  const shown = JSON.stringify(got);
  switch (want.kind) {
    case "reg":
      if (got.kind !== "reg") return `want register ${want.name}, got ${shown}`;
      if (want.anyWidth ? registerNumber(want.name) === registerNumber(got.reg) : want.name === got.reg) return undefined;
      return `want register ${want.name}, got ${got.reg}`;
    case "mem": {
      if (got.kind !== "mem") return `want memory, got ${shown}`;
      const disp = maskTo(want.disp, line.addressSize);
      const same = got.base === want.base && got.index === want.index && (!want.index || got.scale === want.scale) && got.disp === disp;
      if (!same) return `want ${showAddress(want.base, want.index, want.scale, disp)}, got ${showAddress(got.base, got.index, got.scale, got.disp)}`;
      return got.size === want.size ? undefined : `want a ${want.size}-byte access, got ${got.size}`;
    }
    case "imm":
      if (got.kind !== "imm") return `want immediate ${want.value}, got ${shown}`;
      return maskTo(got.value, want.bits) === maskTo(want.value, want.bits) ? undefined : `want immediate 0x${maskTo(want.value, want.bits).toString(16)}, got 0x${got.value.toString(16)}`;
    case "rel": {
      if (got.kind !== "rel") return `want a branch to $+${want.offset}, got ${shown}`;
      const target = maskTo(want.offset, line.operandSize);
      return got.target === target ? undefined : `want branch target 0x${target.toString(16)}, got 0x${got.target.toString(16)}`;
    }
    case "far":
      if (got.kind !== "far") return `want far pointer, got ${shown}`;
      return got.selector === want.selector && got.offset === want.offset ? undefined : `want ${want.selector}:${want.offset}, got ${got.selector}:${got.offset}`;
  }
}

const COMMUTATIVE = new Set(["xchg", "test"]);

function sortKey(op: CorpusOperand | DecodedOperand): string {
  return op.kind === "reg" ? "0" + ("name" in op ? op.name : op.reg) : "1" + op.kind;
}

/** What is wrong with `bytes` as an encoding of `line`: empty when iced reads back exactly the line. */
export function mismatches(line: CorpusLine, bytes: Uint8Array): string[] {
  const d = decode(bytes, line.bits);
  if (d.invalid) return [`iced decodes no valid instruction`];
  const out: string[] = [];
  const want = expectation(line);
  if (d.length !== bytes.length) out.push(`iced decodes ${d.length} of the ${bytes.length} bytes (${d.text})`);
  if (d.mnemonic !== want.mnemonic) out.push(`want ${want.mnemonic}, iced decodes ${d.mnemonic} (${d.text}, ${d.code})`);
  let wanted = want.operands;
  let got = d.operands;
  if (COMMUTATIVE.has(want.mnemonic)) {
    wanted = [...wanted].sort((x, y) => sortKey(x).localeCompare(sortKey(y)));
    got = [...got].sort((x, y) => sortKey(x).localeCompare(sortKey(y)));
  }
  if (wanted.length !== got.length) out.push(`want ${wanted.length} operands, iced decodes ${got.length} (${d.text})`);
  else wanted.forEach((w, i) => {
    const why = operandMismatch(w, got[i], line);
    if (why) out.push(`operand ${i + 1}: ${why} (${d.text})`);
  });
  if (d.operandSize !== line.operandSize) out.push(`want operand size ${line.operandSize}, got ${d.operandSize}`);
  if (d.addressSize !== line.addressSize) out.push(`want address size ${line.addressSize}, got ${d.addressSize}`);
  const segment = line.segment ?? line.operands.map((o) => (o.kind === "mem" ? o.segment : undefined)).find(Boolean);
  if (d.segment !== segment) out.push(`want segment override ${segment ?? "none"}, got ${d.segment ?? "none"}`);
  if (d.lock !== line.lock) out.push(line.lock ? "LOCK prefix missing" : "unexpected LOCK prefix");
  const rep = line.rep === undefined ? undefined : line.rep === "repne" || line.rep === "repnz" ? "f2" : "f3";
  if (d.rep !== rep) out.push(`want rep prefix ${rep ?? "none"}, got ${d.rep ?? "none"}`);
  // Each of those is one prefix byte; a repeated or idle prefix is a wrong encoding even where the CPU ignores it.
  const prefixes = Number(line.operandSize !== line.bits) + Number(line.addressSize !== line.bits) + Number(segment !== undefined) + Number(line.lock) + Number(rep !== undefined);
  if (d.prefixes.length !== prefixes) out.push(`want ${prefixes} prefix bytes, got ${d.prefixes.length} (${d.prefixes.map((p) => p.toString(16)).join(" ")})`);
  return out;
}

// Assembling the corpus as one file. Each line gets a 32-byte slot (no
// instruction is longer than 15 bytes) whose last byte is the line's
// length, so one NASM run yields every line's bytes.

const SLOT = 32;

/** The corpus as one NASM source, each line in its own slot. */
export function slottedSource(lines: CorpusLine[], width: Bits): string {
  const out = [`bits ${width}`];
  lines.forEach((line, i) => out.push(`s${i}: ${line.source}`, `e${i}: times ${SLOT - 1}-(e${i}-s${i}) db 0`, `db e${i}-s${i}`));
  return out.join("\n") + "\n";
}

/** Each line's bytes out of a slotted binary. */
export function splitSlots(binary: Uint8Array, count: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const slot = binary.subarray(i * SLOT, (i + 1) * SLOT);
    out.push(slot.subarray(0, slot[SLOT - 1]));
  }
  return out;
}
