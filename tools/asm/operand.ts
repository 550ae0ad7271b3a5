// tools/asm/operand.ts — an instruction's operands as the parser hands them
// to the encoder, and the x86 register file by NASM's names.
//
// The parser evaluates expressions; the encoder picks the encoding. What the
// encoder needs to choose exactly as NASM does is kept: whether a value is
// "simple" (a known number, not relative to a section: NASM only then
// considers the sign-extended imm8 and disp8 forms), whether it is still
// unknown (a forward reference in an early pass: NASM is optimistic about
// short jumps then), and which size keywords and `strict` were written.

export type Size = 8 | 16 | 32 | 48 | 64 | 80;

export type RegClass = "r8" | "r16" | "r32" | "sreg" | "creg" | "dreg" | "treg";

export interface RegisterInfo {
  cls: RegClass;
  /** The register's number in ModRM.reg / the +r field. */
  num: number;
  /** Width in bits (control, debug and test registers are 32). */
  size: 8 | 16 | 32;
}

function regs(cls: RegClass, size: 8 | 16 | 32, names: string[]): [string, RegisterInfo][] {
  return names.map((name, num) => [name, { cls, num, size }] as [string, RegisterInfo]);
}

/** Every register NASM accepts in 16- and 32-bit code (lowercase names). */
export const REGISTERS: ReadonlyMap<string, RegisterInfo> = new Map([
  ...regs("r8", 8, ["al", "cl", "dl", "bl", "ah", "ch", "dh", "bh"]),
  ...regs("r16", 16, ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"]),
  ...regs("r32", 32, ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"]),
  ...regs("sreg", 16, ["es", "cs", "ss", "ds", "fs", "gs"]),
  ...regs("creg", 32, ["cr0", "cr1", "cr2", "cr3", "cr4", "cr5", "cr6", "cr7"]),
  ...regs("dreg", 32, ["dr0", "dr1", "dr2", "dr3", "dr4", "dr5", "dr6", "dr7"]),
  ...regs("treg", 32, ["tr0", "tr1", "tr2", "tr3", "tr4", "tr5", "tr6", "tr7"]),
]);

export function registerInfo(name: string): RegisterInfo | undefined {
  return REGISTERS.get(name.toLowerCase());
}

export interface RegOperand {
  kind: "reg";
  /** Lowercase register name, a key of REGISTERS. */
  name: string;
}

export interface ImmOperand {
  kind: "imm";
  /** The value, 64-bit two's complement; 0 while unknown. */
  value: bigint;
  /** A known number that is not relative to a section (NASM's is_simple). */
  simple: boolean;
  /** Depends on a symbol not defined yet (a forward reference in an early pass). */
  unknown: boolean;
  /** For a section-relative value: the section it is relative to. */
  section?: string;
  /** `byte`, `word`, `dword`, `qword` written before the value. */
  size?: Size;
  /** `strict` was written: use exactly the size given, never a shorter form. */
  strict: boolean;
  /** `short`, `near` or `far` written before a jump target. */
  jump?: "short" | "near" | "far";
  /** The selector of a `seg:offset` far pointer (`jmp 0x08:entry`); `value` is the offset. */
  segment?: bigint;
}

/** One register term of an effective address as written: `esi*4` is { reg: "esi", scale: 4n }. */
export interface RegTerm {
  reg: string;
  scale: bigint;
}

export interface MemOperand {
  kind: "mem";
  /** `byte`, `word`, `dword`, `fword`, `qword`, `tword` written before the brackets. */
  size?: Size;
  strict: boolean;
  /** Segment override: `[es:di]` or `es:[di]`. */
  segment?: string;
  /** The register terms in the order written, equal registers already summed (`[eax+eax*2]` is eax*3). */
  regs: RegTerm[];
  /** The displacement, 64-bit two's complement; 0 while unknown. */
  disp: bigint;
  /** Whether any displacement was written (`[eax+0]` has one, `[eax]` has none). */
  hasDisp: boolean;
  /** The displacement is a known number not relative to a section (NASM's is_simple). */
  dispSimple: boolean;
  dispUnknown: boolean;
  /** `[byte eax+1]`, `[word bx+1]`, `[dword eax+1]`: the displacement size asked for. */
  dispSize?: 8 | 16 | 32;
  /** `[nosplit eax*2]`: do not rewrite eax*2 as eax+eax. */
  nosplit: boolean;
  /** NASM's base-register hint (its eval.c), which decides base against index
   * in a few addresses: "notbase" when the first register written was
   * multiplied (`[eax*1+ebx]` makes ebx the base, `[nosplit eax*1]` keeps eax
   * an index), "summed" when two like terms were added anywhere in the
   * expression (`[eax+eax]`, `[ecx+ebx+1+2]`). Absent: the first register
   * written is the preferred base. */
  eaHint?: "notbase" | "summed";
  /** `far` written before the operand: `jmp far [eax]`. */
  jump?: "near" | "far";
}

export type Operand = RegOperand | ImmOperand | MemOperand;

/** What the parser asks the encoder to encode. */
export interface EncodeRequest {
  /** Lowercase mnemonic as written (`jz`, `movsb`, `cmove`, `int1`). */
  mnemonic: string;
  operands: Operand[];
  /** Prefixes written before the mnemonic, lowercase, in order: `rep`, `repe`,
   * `repz`, `repne`, `repnz`, `lock`, `o16`, `o32`, `a16`, `a32`, and
   * segment-register names used as prefixes (`es movsb`). */
  prefixes: string[];
  bits: 16 | 32;
  /** Address of the instruction's first byte (for relative jumps). */
  offset: bigint;
  /** The section the instruction is assembled into. */
  section: string;
}

export type EncodeResult =
  | { bytes: Uint8Array; warnings: string[] }
  | { error: string };
