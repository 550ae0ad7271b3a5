// tools/asm/isa.ts — the integer x86 instructions NASM 2.16 assembles in 16-
// and 32-bit code, as a table of forms.
//
// One row is one form: a mnemonic, the operand patterns it accepts, how it is
// encoded, and flags. The rows are NASM's insns.dat idea (its operand classes,
// its encoding words, its flags) rewritten for the forms this project needs;
// the facts were checked byte for byte against `nasm -f bin`. Order is
// meaning: NASM encodes an instruction with the FIRST form that matches, so
// the sign-extended imm8 forms come before the full-size ones and the short
// jump before the near one, and the encoder walks the rows in the order
// written here. A disassembler reads the same rows and skips those flagged ND
// (aliases and duplicate forms that must never be printed).
//
// Row syntax:   mnemonic  operands  [roles: encoding]  flags
//
// operands  comma-separated patterns, `void` for none:
//   reg8 reg16 reg32       a general register of that width
//   reg32na                a 32-bit register other than eax
//   reg_al reg_ax reg_eax reg_cl reg_cx reg_ecx reg_dx   exactly that register
//   sreg reg_es reg_cs reg_ss reg_ds reg_fs reg_gs       segment registers
//   creg dreg treg         control, debug, test registers
//   rm8 rm16 rm32          a general register or memory of that size
//   mem mem8 mem16 mem32 mem64   memory, of any size or of that size
//   mem_offs               memory addressed by a displacement alone (moffs)
//   imm imm8 imm16 imm32   an immediate, of any size or written with that size
//   unity                  the immediate 1 (shift by one)
//   sbyteword sbytedword   an immediate that fits a sign-extended byte as a
//                          word / dword (sbyteword16, sbytedword32 also
//                          require the size to have been written)
//   imm:imm imm16:imm imm32:imm   a far pointer seg:offset, any / o16 / o32
//   |short |near |far      suffix: the jump distance keyword must be written
// roles     per operand: m = ModRM.rm, r = ModRM.reg or +r, i = first
//           immediate (or the far pointer), j = second immediate, - = implied;
//           r+m = both (`imul eax, 5` is `imul eax, eax, 5`)
// encoding  hex bytes; o16 o32 = operand size (0x66 when it differs from the
//           mode); odf = the mode's operand size; a16 a32 adf likewise for the
//           address size (0x67); b8+r = byte plus register number; /r = ModRM
//           with the reg operand; /0../7 = ModRM with that digit; ib ib,s ib,u
//           iw id = immediate of that size (s: sign-extended, u: unsigned);
//           iwd = word or dword by operand size; iwdq = moffs address of the
//           address size; rel8 rel = jump displacement (rel: 16/32 by size);
//           seg16 = segment word of a far pointer; segbase = segment of a
//           symbol (not available in flat binaries); short = this form only
//           matches when a short jump reaches (NASM's jmp8/jcc8); wait = 9B
// flags     CPU level (8086 186 286 386 486 PENT P6), and:
//   ND        not for the disassembler
//   SM SM2    operand sizes must agree (all operands / the first two)
//   SB SW SD  an operand without a size is taken as byte/word/dword
//   AR0..AR2  the SB/SW/SD/SIZE rule applies to that operand only
//   SIZE      an operand without a size is taken as the mode's size
//   ANYSIZE   a memory operand of any written size is accepted (LEA)
//   LOCK      a LOCK prefix is allowed (with a memory destination)
//   REP REPE  a REP / REPE-REPNE prefix is meaningful (string instructions)
//   BND       a jump or call (REPNE is rejected on it, as NASM does)
//   UNDOC PRIV PROT OBSOLETE   undocumented, ring 0, protected mode, removed
//   LONG      64-bit mode only: known, and refused here with NASM's message
//   (the SDM volume 2 opcode tables give the same encodings)

export type RegClass = "gpr" | "sreg" | "creg" | "dreg" | "treg";

/** Operand size bits, as NASM keeps them: the jump distance keywords are sizes too. */
export const SIZE_BITS = {
  8: 1,
  16: 2,
  32: 4,
  48: 8,
  64: 16,
  80: 32,
  far: 64,
  near: 128,
  short: 256,
} as const;

export interface OperandPattern {
  text: string;
  kind: "reg" | "rm" | "mem" | "imm" | "far";
  regClass?: RegClass;
  /** Exactly this register (`reg_al` → "al"). */
  register?: string;
  /** Any register of the class except the accumulator (`reg32na`). */
  notAccumulator?: boolean;
  /** SIZE_BITS required (0: any size). */
  size: number;
  memOffs?: boolean;
  immClass?: "unity" | "sbyteword" | "sbytedword";
}

export type ImmForm = "ib" | "ib,s" | "ib,u" | "iw" | "id" | "iwd" | "iwdq";

export type EncodingStep =
  | { op: "byte"; value: number }
  | { op: "plusreg"; base: number }
  | { op: "modrm"; digit: number | null }
  | { op: "imm"; form: ImmForm; role: "i" | "j" }
  | { op: "rel"; form: "rel8" | "rel" }
  | { op: "seg16" }
  | { op: "segbase" }
  | { op: "osize"; size: 16 | 32 | null }
  | { op: "asize"; size: 16 | 32 | null }
  | { op: "short" }
  | { op: "wait" };

export type Role = "m" | "r" | "i" | "j" | "-" | "r+m";

export interface InstructionForm {
  mnemonic: string;
  operands: OperandPattern[];
  roles: Role[];
  encoding: EncodingStep[];
  flags: ReadonlySet<string>;
  /** The row as written, for messages and for the disassembler's tests. */
  row: string;
}

// ---------------------------------------------------------------- the rows

/** Condition codes in opcode order (SDM vol. 2, appendix B.1.4.7), every NASM alias. */
const CONDITIONS: readonly (readonly string[])[] = [
  ["o"], ["no"], ["c", "b", "nae"], ["nc", "ae", "nb"], ["z", "e"], ["nz", "ne"],
  ["na", "be"], ["a", "nbe"], ["s"], ["ns"], ["pe", "p"], ["po", "np"],
  ["l", "nge"], ["nl", "ge"], ["ng", "le"], ["g", "nle"],
];

function hex(n: number): string {
  return n.toString(16).padStart(2, "0");
}

/** One row per condition alias; the first name of each code is the one a disassembler prints. */
function conditional(prefix: string, rows: string[]): string[] {
  const out: string[] = [];
  CONDITIONS.forEach((names, cc) => {
    names.forEach((name, alias) => {
      for (const row of rows) {
        let r = row.replace(/^cc/, prefix + name).replace(/([0-9a-f]{2})\+c/, (_m, b: string) => hex(parseInt(b, 16) + cc));
        if (alias > 0 && !/\bND\b/.test(r)) r += r.endsWith("]") ? "\tND" : ",ND";
        out.push(r);
      }
    });
  });
  return out;
}

/** The eight ALU operations share one shape (opcode base, /digit of 80/81/83). */
function arith(name: string, base: number, digit: number, lockable: boolean): string[] {
  const b = (k: number) => hex(base + k);
  const L = lockable ? ",LOCK" : "";
  const d = `/${digit}`;
  return [
    `${name} mem,reg8 [mr: ${b(0)} /r] 8086,SM${L}`,
    `${name} reg8,reg8 [mr: ${b(0)} /r] 8086`,
    `${name} mem,reg16 [mr: o16 ${b(1)} /r] 8086,SM${L}`,
    `${name} reg16,reg16 [mr: o16 ${b(1)} /r] 8086`,
    `${name} mem,reg32 [mr: o32 ${b(1)} /r] 386,SM${L}`,
    `${name} reg32,reg32 [mr: o32 ${b(1)} /r] 386`,
    `${name} reg8,mem [rm: ${b(2)} /r] 8086,SM`,
    `${name} reg8,reg8 [rm: ${b(2)} /r] 8086,ND`,
    `${name} reg16,mem [rm: o16 ${b(3)} /r] 8086,SM`,
    `${name} reg16,reg16 [rm: o16 ${b(3)} /r] 8086,ND`,
    `${name} reg32,mem [rm: o32 ${b(3)} /r] 386,SM`,
    `${name} reg32,reg32 [rm: o32 ${b(3)} /r] 386,ND`,
    `${name} rm16,imm8 [mi: o16 83 ${d} ib,s] 8086${L}`,
    `${name} rm32,imm8 [mi: o32 83 ${d} ib,s] 386${L}`,
    `${name} reg_al,imm [-i: ${b(4)} ib] 8086,SM`,
    `${name} reg_ax,sbyteword [mi: o16 83 ${d} ib,s] 8086,SM,ND`,
    `${name} reg_ax,imm [-i: o16 ${b(5)} iw] 8086,SM`,
    `${name} reg_eax,sbytedword [mi: o32 83 ${d} ib,s] 386,SM,ND`,
    `${name} reg_eax,imm [-i: o32 ${b(5)} id] 386,SM`,
    `${name} rm8,imm [mi: 80 ${d} ib] 8086,SM${L}`,
    `${name} rm16,sbyteword [mi: o16 83 ${d} ib,s] 8086,SM,ND${L}`,
    `${name} rm16,imm [mi: o16 81 ${d} iw] 8086,SM${L}`,
    `${name} rm32,sbytedword [mi: o32 83 ${d} ib,s] 386,SM,ND${L}`,
    `${name} rm32,imm [mi: o32 81 ${d} id] 386,SM${L}`,
    `${name} mem,imm8 [mi: 80 ${d} ib] 8086,SM,ND${L}`,
    `${name} mem,sbyteword16 [mi: o16 83 ${d} ib,s] 8086,SM,ND${L}`,
    `${name} mem,imm16 [mi: o16 81 ${d} iw] 8086,SM,ND${L}`,
    `${name} mem,sbytedword32 [mi: o32 83 ${d} ib,s] 386,SM,ND${L}`,
    `${name} mem,imm32 [mi: o32 81 ${d} id] 386,SM,ND${L}`,
    `${name} rm8,imm [mi: 82 ${d} ib] 8086,SM,ND${L}`,
  ];
}

/** Rotates and shifts: by one (D0/D1), by CL (D2/D3), by imm8 (C0/C1). */
function shift(name: string, digit: number, nd: boolean): string[] {
  const N = nd ? ",ND" : "";
  const d = `/${digit}`;
  return [
    `${name} rm8,unity [m-: d0 ${d}] 8086${N}`,
    `${name} rm8,reg_cl [m-: d2 ${d}] 8086${N}`,
    `${name} rm8,imm8 [mi: c0 ${d} ib,u] 186${N}`,
    `${name} rm16,unity [m-: o16 d1 ${d}] 8086${N}`,
    `${name} rm16,reg_cl [m-: o16 d3 ${d}] 8086${N}`,
    `${name} rm16,imm8 [mi: o16 c1 ${d} ib,u] 186${N}`,
    `${name} rm32,unity [m-: o32 d1 ${d}] 386${N}`,
    `${name} rm32,reg_cl [m-: o32 d3 ${d}] 386${N}`,
    `${name} rm32,imm8 [mi: o32 c1 ${d} ib,u] 386${N}`,
  ];
}

/** F6/F7 group one-operand forms (NOT NEG MUL IMUL DIV IDIV). */
function group3(name: string, digit: number, lockable: boolean): string[] {
  const L = lockable ? ",LOCK" : "";
  return [
    `${name} rm8 [m: f6 /${digit}] 8086${L}`,
    `${name} rm16 [m: o16 f7 /${digit}] 8086${L}`,
    `${name} rm32 [m: o32 f7 /${digit}] 386${L}`,
  ];
}

/** reg,r/m forms of the 0F two-byte instructions (BSF, BSR, CMOVcc, IMUL...). */
function regRm(name: string, opcode: string, cpu: string, flags = ""): string[] {
  return [
    `${name} reg16,mem [rm: o16 ${opcode} /r] ${cpu},SM${flags}`,
    `${name} reg16,reg16 [rm: o16 ${opcode} /r] ${cpu}${flags}`,
    `${name} reg32,mem [rm: o32 ${opcode} /r] ${cpu},SM${flags}`,
    `${name} reg32,reg32 [rm: o32 ${opcode} /r] ${cpu}${flags}`,
  ];
}

/** r/m,reg forms (BT family, XADD, CMPXCHG, UMOV stores). */
function rmReg(name: string, op8: string | null, op: string, cpu: string, lockable: boolean): string[] {
  const L = lockable ? ",LOCK" : "";
  const rows: string[] = [];
  if (op8) rows.push(`${name} mem,reg8 [mr: ${op8} /r] ${cpu},SM${L}`, `${name} reg8,reg8 [mr: ${op8} /r] ${cpu}`);
  rows.push(
    `${name} mem,reg16 [mr: o16 ${op} /r] ${cpu},SM${L}`,
    `${name} reg16,reg16 [mr: o16 ${op} /r] ${cpu}`,
    `${name} mem,reg32 [mr: o32 ${op} /r] ${cpu},SM${L}`,
    `${name} reg32,reg32 [mr: o32 ${op} /r] ${cpu}`,
  );
  return rows;
}

/** The protected-mode 0F 00 / 0F 01 group that takes a word (LLDT, LTR, LMSW, VERR, VERW). */
function systemWord(name: string, opcode: string, cpu: string): string[] {
  return [
    `${name} mem [m: ${opcode}] ${cpu}`,
    `${name} mem16 [m: ${opcode}] ${cpu},ND`,
    `${name} reg16 [m: ${opcode}] ${cpu}`,
  ];
}

/** Stores of a system register (SLDT, STR, SMSW): word to memory, 16 or 32 bits to a register. */
function systemStore(name: string, opcode: string, flags: string): string[] {
  return [
    `${name} mem [m: ${opcode}] 286${flags}`,
    `${name} mem16 [m: ${opcode}] 286${flags},ND`,
    `${name} reg16 [m: o16 ${opcode}] 286${flags}`,
    `${name} reg32 [m: o32 ${opcode}] 386${flags}`,
  ];
}

/** Jumps and calls through an operand or to a far pointer (JMP: FF /4, FF /5, EA). */
function farAndIndirect(name: string, nearDigit: number, farDigit: number, farOpcode: string): string[] {
  return [
    `${name} imm:imm [i: odf ${farOpcode} iwd seg16] 8086`,
    `${name} imm16:imm [i: o16 ${farOpcode} iw seg16] 8086`,
    `${name} imm32:imm [i: o32 ${farOpcode} id seg16] 386`,
    `${name} mem|far [m: odf ff /${farDigit}] 8086`,
    `${name} mem16|far [m: o16 ff /${farDigit}] 8086`,
    `${name} mem32|far [m: o32 ff /${farDigit}] 386`,
    `${name} mem|near [m: odf ff /${nearDigit}] 8086,ND,BND`,
    `${name} rm16|near [m: o16 ff /${nearDigit}] 8086,ND,BND`,
    `${name} rm32|near [m: o32 ff /${nearDigit}] 386,ND,BND`,
    `${name} mem [m: odf ff /${nearDigit}] 8086,BND`,
    `${name} rm16 [m: o16 ff /${nearDigit}] 8086,BND`,
    `${name} rm32 [m: o32 ff /${nearDigit}] 386,BND`,
  ];
}

/** Plain one-byte or fixed-sequence instructions with operand-size variants. */
function sized(name16: string, name32: string, nameDefault: string | null, opcode: string, cpu16: string, flags = ""): string[] {
  const rows: string[] = [];
  if (nameDefault) rows.push(`${nameDefault} void [ odf ${opcode}] ${cpu16}${flags}`);
  rows.push(`${name16} void [ o16 ${opcode}] ${cpu16}${flags}`);
  rows.push(`${name32} void [ o32 ${opcode}] 386${flags}`);
  return rows;
}

const ROWS: string[] = [
  // -- decimal arithmetic (SDM: AAA, AAD, AAM, AAS, DAA, DAS)
  "aaa void [ 37] 8086",
  "aad void [ d5 0a] 8086",
  "aad imm [i: d5 ib,u] 8086,SB",
  "aam void [ d4 0a] 8086",
  "aam imm [i: d4 ib,u] 8086,SB",
  "aas void [ 3f] 8086",
  "daa void [ 27] 8086",
  "das void [ 2f] 8086",

  // -- ALU
  ...arith("add", 0x00, 0, true),
  ...arith("or", 0x08, 1, true),
  ...arith("adc", 0x10, 2, true),
  ...arith("sbb", 0x18, 3, true),
  ...arith("and", 0x20, 4, true),
  ...arith("sub", 0x28, 5, true),
  ...arith("xor", 0x30, 6, true),
  ...arith("cmp", 0x38, 7, false),

  "test mem,reg8 [mr: 84 /r] 8086,SM",
  "test reg8,reg8 [mr: 84 /r] 8086",
  "test mem,reg16 [mr: o16 85 /r] 8086,SM",
  "test reg16,reg16 [mr: o16 85 /r] 8086",
  "test mem,reg32 [mr: o32 85 /r] 386,SM",
  "test reg32,reg32 [mr: o32 85 /r] 386",
  "test reg8,mem [rm: 84 /r] 8086,SM,ND",
  "test reg16,mem [rm: o16 85 /r] 8086,SM,ND",
  "test reg32,mem [rm: o32 85 /r] 386,SM,ND",
  "test reg_al,imm [-i: a8 ib] 8086,SM",
  "test reg_ax,imm [-i: o16 a9 iw] 8086,SM",
  "test reg_eax,imm [-i: o32 a9 id] 386,SM",
  "test rm8,imm [mi: f6 /0 ib] 8086,SM",
  "test rm16,imm [mi: o16 f7 /0 iw] 8086,SM",
  "test rm32,imm [mi: o32 f7 /0 id] 386,SM",
  "test mem,imm8 [mi: f6 /0 ib] 8086,SM,ND",
  "test mem,imm16 [mi: o16 f7 /0 iw] 8086,SM,ND",
  "test mem,imm32 [mi: o32 f7 /0 id] 386,SM,ND",

  "inc reg16 [r: o16 40+r] 8086",
  "inc reg32 [r: o32 40+r] 386",
  "inc rm8 [m: fe /0] 8086,LOCK",
  "inc rm16 [m: o16 ff /0] 8086,LOCK",
  "inc rm32 [m: o32 ff /0] 386,LOCK",
  "dec reg16 [r: o16 48+r] 8086",
  "dec reg32 [r: o32 48+r] 386",
  "dec rm8 [m: fe /1] 8086,LOCK",
  "dec rm16 [m: o16 ff /1] 8086,LOCK",
  "dec rm32 [m: o32 ff /1] 386,LOCK",

  ...group3("not", 2, true),
  ...group3("neg", 3, true),
  ...group3("mul", 4, false),
  ...group3("imul", 5, false),
  ...group3("div", 6, false),
  ...group3("idiv", 7, false),
  ...regRm("imul", "0f af", "386"),
  "imul reg16,mem,imm8 [rmi: o16 6b /r ib,s] 186,SM",
  "imul reg16,mem,sbyteword [rmi: o16 6b /r ib,s] 186,SM,ND",
  "imul reg16,mem,imm16 [rmi: o16 69 /r iw] 186,SM",
  "imul reg16,mem,imm [rmi: o16 69 /r iw] 186,SM,ND",
  "imul reg16,reg16,imm8 [rmi: o16 6b /r ib,s] 186",
  "imul reg16,reg16,sbyteword [rmi: o16 6b /r ib,s] 186,SM,ND",
  "imul reg16,reg16,imm16 [rmi: o16 69 /r iw] 186",
  "imul reg16,reg16,imm [rmi: o16 69 /r iw] 186,SM,ND",
  "imul reg32,mem,imm8 [rmi: o32 6b /r ib,s] 386,SM",
  "imul reg32,mem,sbytedword [rmi: o32 6b /r ib,s] 386,SM,ND",
  "imul reg32,mem,imm32 [rmi: o32 69 /r id] 386,SM",
  "imul reg32,mem,imm [rmi: o32 69 /r id] 386,SM,ND",
  "imul reg32,reg32,imm8 [rmi: o32 6b /r ib,s] 386",
  "imul reg32,reg32,sbytedword [rmi: o32 6b /r ib,s] 386,SM,ND",
  "imul reg32,reg32,imm32 [rmi: o32 69 /r id] 386",
  "imul reg32,reg32,imm [rmi: o32 69 /r id] 386,SM,ND",
  "imul reg16,imm8 [r+mi: o16 6b /r ib,s] 186,ND",
  "imul reg16,sbyteword [r+mi: o16 6b /r ib,s] 186,SM,ND",
  "imul reg16,imm16 [r+mi: o16 69 /r iw] 186,ND",
  "imul reg16,imm [r+mi: o16 69 /r iw] 186,SM,ND",
  "imul reg32,imm8 [r+mi: o32 6b /r ib,s] 386,ND",
  "imul reg32,sbytedword [r+mi: o32 6b /r ib,s] 386,SM,ND",
  "imul reg32,imm32 [r+mi: o32 69 /r id] 386,ND",
  "imul reg32,imm [r+mi: o32 69 /r id] 386,SM,ND",

  ...shift("rol", 0, false),
  ...shift("ror", 1, false),
  ...shift("rcl", 2, false),
  ...shift("rcr", 3, false),
  ...shift("shl", 4, false),
  ...shift("sal", 4, true),
  ...shift("shr", 5, false),
  ...shift("sar", 7, false),
  "shld mem,reg16,imm [mri: o16 0f a4 /r ib,u] 386,SM2",
  "shld reg16,reg16,imm [mri: o16 0f a4 /r ib,u] 386,SM2",
  "shld mem,reg32,imm [mri: o32 0f a4 /r ib,u] 386,SM2",
  "shld reg32,reg32,imm [mri: o32 0f a4 /r ib,u] 386,SM2",
  "shld mem,reg16,reg_cl [mr-: o16 0f a5 /r] 386,SM",
  "shld reg16,reg16,reg_cl [mr-: o16 0f a5 /r] 386",
  "shld mem,reg32,reg_cl [mr-: o32 0f a5 /r] 386,SM",
  "shld reg32,reg32,reg_cl [mr-: o32 0f a5 /r] 386",
  "shrd mem,reg16,imm [mri: o16 0f ac /r ib,u] 386,SM2",
  "shrd reg16,reg16,imm [mri: o16 0f ac /r ib,u] 386,SM2",
  "shrd mem,reg32,imm [mri: o32 0f ac /r ib,u] 386,SM2",
  "shrd reg32,reg32,imm [mri: o32 0f ac /r ib,u] 386,SM2",
  "shrd mem,reg16,reg_cl [mr-: o16 0f ad /r] 386,SM",
  "shrd reg16,reg16,reg_cl [mr-: o16 0f ad /r] 386",
  "shrd mem,reg32,reg_cl [mr-: o32 0f ad /r] 386,SM",
  "shrd reg32,reg32,reg_cl [mr-: o32 0f ad /r] 386",

  // -- bits and bytes
  ...rmReg("bt", null, "0f a3", "386", false),
  "bt rm16,imm8 [mi: o16 0f ba /4 ib,u] 386",
  "bt rm32,imm8 [mi: o32 0f ba /4 ib,u] 386",
  ...rmReg("btc", null, "0f bb", "386", true),
  "btc rm16,imm8 [mi: o16 0f ba /7 ib,u] 386,LOCK",
  "btc rm32,imm8 [mi: o32 0f ba /7 ib,u] 386,LOCK",
  ...rmReg("btr", null, "0f b3", "386", true),
  "btr rm16,imm8 [mi: o16 0f ba /6 ib,u] 386,LOCK",
  "btr rm32,imm8 [mi: o32 0f ba /6 ib,u] 386,LOCK",
  ...rmReg("bts", null, "0f ab", "386", true),
  "bts rm16,imm8 [mi: o16 0f ba /5 ib,u] 386,LOCK",
  "bts rm32,imm8 [mi: o32 0f ba /5 ib,u] 386,LOCK",
  ...regRm("bsf", "0f bc", "386"),
  ...regRm("bsr", "0f bd", "386"),
  "bswap reg32 [r: o32 0f c8+r] 486",
  ...conditional("set", ["cc mem [m: 0f 90+c /0] 386,SB", "cc reg8 [m: 0f 90+c /0] 386"]),
  ...conditional("cmov", regRm("cc", "0f 40+c", "P6")),
  "salc void [ d6] 8086,UNDOC",

  // -- data movement
  "mov mem,sreg [mr: 8c /r] 8086,SW",
  "mov reg16,sreg [mr: o16 8c /r] 8086",
  "mov reg32,sreg [mr: o32 8c /r] 386",
  "mov sreg,mem [rm: 8e /r] 8086,SW",
  "mov sreg,reg16 [rm: 8e /r] 8086,ND",
  "mov sreg,reg32 [rm: 8e /r] 386,ND",
  "mov sreg,reg16 [rm: o16 8e /r] 8086,ND",
  "mov sreg,reg32 [rm: o32 8e /r] 386,ND",
  "mov reg_al,mem_offs [-i: a0 iwdq] 8086,SM",
  "mov reg_ax,mem_offs [-i: o16 a1 iwdq] 8086,SM",
  "mov reg_eax,mem_offs [-i: o32 a1 iwdq] 386,SM",
  "mov mem_offs,reg_al [i-: a2 iwdq] 8086,SM",
  "mov mem_offs,reg_ax [i-: o16 a3 iwdq] 8086,SM",
  "mov mem_offs,reg_eax [i-: o32 a3 iwdq] 386,SM",
  "mov reg32,creg [mr: 0f 20 /r] 386,PRIV",
  "mov creg,reg32 [rm: 0f 22 /r] 386,PRIV",
  "mov reg32,dreg [mr: 0f 21 /r] 386,PRIV",
  "mov dreg,reg32 [rm: 0f 23 /r] 386,PRIV",
  "mov reg32,treg [mr: 0f 24 /r] 386",
  "mov treg,reg32 [rm: 0f 26 /r] 386",
  "mov mem,reg8 [mr: 88 /r] 8086,SM",
  "mov reg8,reg8 [mr: 88 /r] 8086",
  "mov mem,reg16 [mr: o16 89 /r] 8086,SM",
  "mov reg16,reg16 [mr: o16 89 /r] 8086",
  "mov mem,reg32 [mr: o32 89 /r] 386,SM",
  "mov reg32,reg32 [mr: o32 89 /r] 386",
  "mov reg8,mem [rm: 8a /r] 8086,SM",
  "mov reg8,reg8 [rm: 8a /r] 8086,ND",
  "mov reg16,mem [rm: o16 8b /r] 8086,SM",
  "mov reg16,reg16 [rm: o16 8b /r] 8086,ND",
  "mov reg32,mem [rm: o32 8b /r] 386,SM",
  "mov reg32,reg32 [rm: o32 8b /r] 386,ND",
  "mov reg8,imm [ri: b0+r ib] 8086,SM",
  "mov reg16,imm [ri: o16 b8+r iw] 8086,SM",
  "mov reg32,imm [ri: o32 b8+r id] 386,SM",
  "mov rm8,imm [mi: c6 /0 ib] 8086,SM",
  "mov rm16,imm [mi: o16 c7 /0 iw] 8086,SM",
  "mov rm32,imm [mi: o32 c7 /0 id] 386,SM",
  "mov mem,imm8 [mi: c6 /0 ib] 8086,SM,ND",
  "mov mem,imm16 [mi: o16 c7 /0 iw] 8086,SM,ND",
  "mov mem,imm32 [mi: o32 c7 /0 id] 386,SM,ND",

  "movsx reg16,mem [rm: o16 0f be /r] 386,SB",
  "movsx reg16,reg8 [rm: o16 0f be /r] 386",
  "movsx reg32,rm8 [rm: o32 0f be /r] 386",
  "movsx reg32,rm16 [rm: o32 0f bf /r] 386",
  "movzx reg16,mem [rm: o16 0f b6 /r] 386,SB",
  "movzx reg16,reg8 [rm: o16 0f b6 /r] 386",
  "movzx reg32,rm8 [rm: o32 0f b6 /r] 386",
  "movzx reg32,rm16 [rm: o32 0f b7 /r] 386",

  "xchg reg_ax,reg16 [-r: o16 90+r] 8086",
  "xchg reg_eax,reg32na [-r: o32 90+r] 386",
  "xchg reg16,reg_ax [r-: o16 90+r] 8086,ND",
  "xchg reg32na,reg_eax [r-: o32 90+r] 386,ND",
  "xchg reg_eax,reg_eax [--: o32 90] 386,ND",
  "xchg reg8,mem [rm: 86 /r] 8086,SM,LOCK,ND",
  "xchg reg8,reg8 [rm: 86 /r] 8086,ND",
  "xchg reg16,mem [rm: o16 87 /r] 8086,SM,LOCK,ND",
  "xchg reg16,reg16 [rm: o16 87 /r] 8086,ND",
  "xchg reg32,mem [rm: o32 87 /r] 386,SM,LOCK,ND",
  "xchg reg32,reg32 [rm: o32 87 /r] 386,ND",
  "xchg mem,reg8 [mr: 86 /r] 8086,SM,LOCK",
  "xchg reg8,reg8 [mr: 86 /r] 8086",
  "xchg mem,reg16 [mr: o16 87 /r] 8086,SM,LOCK",
  "xchg reg16,reg16 [mr: o16 87 /r] 8086",
  "xchg mem,reg32 [mr: o32 87 /r] 386,SM,LOCK",
  "xchg reg32,reg32 [mr: o32 87 /r] 386",
  ...rmReg("xadd", "0f c0", "0f c1", "486", true),
  ...rmReg("cmpxchg", "0f b0", "0f b1", "PENT", true),
  "cmpxchg8b mem64 [m: 0f c7 /1] PENT,LOCK",

  "lea reg16,mem [rm: o16 8d /r] 8086,ANYSIZE",
  "lea reg32,mem [rm: o32 8d /r] 386,ANYSIZE",
  "lds reg16,mem [rm: o16 c5 /r] 8086",
  "lds reg32,mem [rm: o32 c5 /r] 386",
  "les reg16,mem [rm: o16 c4 /r] 8086",
  "les reg32,mem [rm: o32 c4 /r] 386",
  "lfs reg16,mem [rm: o16 0f b4 /r] 386",
  "lfs reg32,mem [rm: o32 0f b4 /r] 386",
  "lgs reg16,mem [rm: o16 0f b5 /r] 386",
  "lgs reg32,mem [rm: o32 0f b5 /r] 386",
  "lss reg16,mem [rm: o16 0f b2 /r] 386",
  "lss reg32,mem [rm: o32 0f b2 /r] 386",

  "cbw void [ o16 98] 8086",
  "cwde void [ o32 98] 386",
  "cwd void [ o16 99] 8086",
  "cdq void [ o32 99] 386",
  "xlatb void [ d7] 8086",
  "xlat void [ d7] 8086,ND",

  // -- stack
  "push reg16 [r: o16 50+r] 8086",
  "push reg32 [r: o32 50+r] 386",
  "push rm16 [m: o16 ff /6] 8086",
  "push rm32 [m: o32 ff /6] 386",
  "push reg_es [-: 06] 8086",
  "push reg_cs [-: 0e] 8086",
  "push reg_ss [-: 16] 8086",
  "push reg_ds [-: 1e] 8086",
  "push reg_fs [-: 0f a0] 386",
  "push reg_gs [-: 0f a8] 386",
  "push imm8 [i: 6a ib,s] 186",
  "push sbyteword16 [i: o16 6a ib,s] 186,AR0,SIZE,ND",
  "push imm16 [i: o16 68 iw] 186,AR0,SIZE",
  "push sbytedword32 [i: o32 6a ib,s] 386,AR0,SIZE,ND",
  "push imm32 [i: o32 68 id] 386,AR0,SIZE",
  "push sbytedword32 [i: o32 6a ib,s] 386,SD,ND",
  "push imm32 [i: o32 68 id] 386,SD,ND",
  "pop reg16 [r: o16 58+r] 8086",
  "pop reg32 [r: o32 58+r] 386",
  "pop rm16 [m: o16 8f /0] 8086",
  "pop rm32 [m: o32 8f /0] 386",
  "pop reg_es [-: 07] 8086",
  "pop reg_cs [-: 0f] 8086,UNDOC,ND,OBSOLETE",
  "pop reg_ss [-: 17] 8086",
  "pop reg_ds [-: 1f] 8086",
  "pop reg_fs [-: 0f a1] 386",
  "pop reg_gs [-: 0f a9] 386",
  ...sized("pushaw", "pushad", "pusha", "60", "186"),
  ...sized("popaw", "popad", "popa", "61", "186"),
  ...sized("pushfw", "pushfd", "pushf", "9c", "8086"),
  ...sized("popfw", "popfd", "popf", "9d", "8086"),
  "enter imm,imm [ij: c8 iw ib,u] 186",
  "leave void [ c9] 186",

  // -- control transfer
  "jmp imm|short [i: eb rel8] 8086",
  "jmp imm [i: short eb rel8] 8086,ND",
  "jmp imm [i: odf e9 rel] 8086,BND",
  "jmp imm|near [i: odf e9 rel] 8086,ND,BND",
  "jmp imm|far [i: odf ea iwd segbase] 8086,ND",
  "jmp imm16 [i: o16 e9 rel] 8086,BND",
  "jmp imm16|near [i: o16 e9 rel] 8086,ND,BND",
  "jmp imm16|far [i: o16 ea iwd segbase] 8086,ND",
  "jmp imm32 [i: o32 e9 rel] 386,BND",
  "jmp imm32|near [i: o32 e9 rel] 386,ND,BND",
  "jmp imm32|far [i: o32 ea iwd segbase] 386,ND",
  ...farAndIndirect("jmp", 4, 5, "ea"),
  "call imm [i: odf e8 rel] 8086,BND",
  "call imm|near [i: odf e8 rel] 8086,ND,BND",
  "call imm|far [i: odf 9a iwd segbase] 8086,ND",
  "call imm16 [i: o16 e8 rel] 8086,BND",
  "call imm16|near [i: o16 e8 rel] 8086,ND,BND",
  "call imm16|far [i: o16 9a iwd segbase] 8086,ND",
  "call imm32 [i: o32 e8 rel] 386,BND",
  "call imm32|near [i: o32 e8 rel] 386,ND,BND",
  "call imm32|far [i: o32 9a iwd segbase] 386,ND",
  ...farAndIndirect("call", 2, 3, "9a"),
  ...conditional("j", [
    "cc imm|near [i: odf 0f 80+c rel] 386,BND",
    "cc imm|short [i: 70+c rel8] 8086,ND,BND",
    "cc imm [i: short 70+c rel8] 8086,ND,BND",
    "cc imm [i: odf 0f 80+c rel] 386,ND,BND",
    "cc imm [i: 70+c rel8] 8086,BND",
  ]),
  "jcxz imm [i: a16 e3 rel8] 8086",
  "jecxz imm [i: a32 e3 rel8] 386",
  "loop imm [i: adf e2 rel8] 8086",
  "loop imm,reg_cx [i-: a16 e2 rel8] 8086",
  "loop imm,reg_ecx [i-: a32 e2 rel8] 386",
  "loope imm [i: adf e1 rel8] 8086",
  "loope imm,reg_cx [i-: a16 e1 rel8] 8086",
  "loope imm,reg_ecx [i-: a32 e1 rel8] 386",
  "loopz imm [i: adf e1 rel8] 8086,ND",
  "loopz imm,reg_cx [i-: a16 e1 rel8] 8086,ND",
  "loopz imm,reg_ecx [i-: a32 e1 rel8] 386,ND",
  "loopne imm [i: adf e0 rel8] 8086",
  "loopne imm,reg_cx [i-: a16 e0 rel8] 8086",
  "loopne imm,reg_ecx [i-: a32 e0 rel8] 386",
  "loopnz imm [i: adf e0 rel8] 8086,ND",
  "loopnz imm,reg_cx [i-: a16 e0 rel8] 8086,ND",
  "loopnz imm,reg_ecx [i-: a32 e0 rel8] 386,ND",
  "ret void [ c3] 8086,BND",
  "ret imm [i: c2 iw] 8086,SW,BND",
  "retf void [ cb] 8086",
  "retf imm [i: ca iw] 8086,SW",
  "retn void [ c3] 8086,BND,ND",
  "retn imm [i: c2 iw] 8086,SW,BND,ND",
  "retw void [ o16 c3] 8086,BND",
  // NASM 2.16 quirk, kept for byte-identical output: `retw n` has no o16 (C2 iw).
  "retw imm [i: c2 iw] 8086,SW,BND,ND",
  "retd void [ o32 c3] 386,BND",
  "retd imm [i: o32 c2 iw] 386,SW,BND",
  "retfw void [ o16 cb] 8086",
  "retfw imm [i: o16 ca iw] 8086,SW",
  "retfd void [ o32 cb] 386",
  "retfd imm [i: o32 ca iw] 386,SW",
  "retnw void [ o16 c3] 8086,BND,ND",
  "retnw imm [i: o16 c2 iw] 8086,SW,BND,ND",
  "retnd void [ o32 c3] 386,BND,ND",
  "retnd imm [i: o32 c2 iw] 386,SW,BND,ND",
  "int imm [i: cd ib,u] 8086,SB",
  "int1 void [ f1] 386",
  "int01 void [ f1] 386,ND",
  "icebp void [ f1] 386,ND",
  "int3 void [ cc] 8086",
  "int03 void [ cc] 8086,ND",
  "into void [ ce] 8086",
  ...sized("iretw", "iretd", "iret", "cf", "8086"),
  "sysenter void [ 0f 34] P6",
  "sysexit void [ 0f 35] P6,PRIV",
  "syscall void [ 0f 05] P6",
  "sysret void [ 0f 07] P6,PRIV",

  // -- flags
  "clc void [ f8] 8086",
  "cld void [ fc] 8086",
  "cli void [ fa] 8086",
  "cmc void [ f5] 8086",
  "stc void [ f9] 8086",
  "std void [ fd] 8086",
  "sti void [ fb] 8086",
  "lahf void [ 9f] 8086",
  "sahf void [ 9e] 8086",

  // -- strings (REP prefixes allowed; CMPS and SCAS take REPE/REPNE)
  "movsb void [ a4] 8086,REP",
  "movsw void [ o16 a5] 8086,REP",
  "movsd void [ o32 a5] 386,REP",
  "cmpsb void [ a6] 8086,REPE",
  "cmpsw void [ o16 a7] 8086,REPE",
  "cmpsd void [ o32 a7] 386,REPE",
  "scasb void [ ae] 8086,REPE",
  "scasw void [ o16 af] 8086,REPE",
  "scasd void [ o32 af] 386,REPE",
  "lodsb void [ ac] 8086,REP",
  "lodsw void [ o16 ad] 8086,REP",
  "lodsd void [ o32 ad] 386,REP",
  "stosb void [ aa] 8086,REP",
  "stosw void [ o16 ab] 8086,REP",
  "stosd void [ o32 ab] 386,REP",
  "insb void [ 6c] 186,REP",
  "insw void [ o16 6d] 186,REP",
  "insd void [ o32 6d] 386,REP",
  "outsb void [ 6e] 186,REP",
  "outsw void [ o16 6f] 186,REP",
  "outsd void [ o32 6f] 386,REP",

  // -- I/O ports
  "in reg_al,imm [-i: e4 ib,u] 8086,SB",
  "in reg_ax,imm [-i: o16 e5 ib,u] 8086,SB",
  "in reg_eax,imm [-i: o32 e5 ib,u] 386,SB",
  "in reg_al,reg_dx [--: ec] 8086",
  "in reg_ax,reg_dx [--: o16 ed] 8086",
  "in reg_eax,reg_dx [--: o32 ed] 386",
  "out imm,reg_al [i-: e6 ib,u] 8086,SB",
  "out imm,reg_ax [i-: o16 e7 ib,u] 8086,SB",
  "out imm,reg_eax [i-: o32 e7 ib,u] 386,SB",
  "out reg_dx,reg_al [--: ee] 8086",
  "out reg_dx,reg_ax [--: o16 ef] 8086",
  "out reg_dx,reg_eax [--: o32 ef] 386",

  // -- system
  "arpl mem,reg16 [mr: 63 /r] 286,PROT,SM",
  "arpl reg16,reg16 [mr: 63 /r] 286,PROT",
  "bound reg16,mem [rm: o16 62 /r] 186",
  "bound reg32,mem [rm: o32 62 /r] 386",
  "clts void [ 0f 06] 286,PRIV",
  "hlt void [ f4] 8086,PRIV",
  "invd void [ 0f 08] 486,PRIV",
  "wbinvd void [ 0f 09] 486,PRIV",
  "invlpg mem [m: 0f 01 /7] 486,PRIV",
  "lgdt mem [m: 0f 01 /2] 286,PRIV",
  "lidt mem [m: 0f 01 /3] 286,PRIV",
  "sgdt mem [m: 0f 01 /0] 286",
  "sidt mem [m: 0f 01 /1] 286",
  ...systemWord("lldt", "0f 00 /2", "286,PROT,PRIV"),
  ...systemWord("ltr", "0f 00 /3", "286,PROT,PRIV"),
  ...systemWord("lmsw", "0f 01 /6", "286,PRIV"),
  ...systemWord("verr", "0f 00 /4", "286,PROT"),
  ...systemWord("verw", "0f 00 /5", "286,PROT"),
  ...systemStore("sldt", "0f 00 /0", ""),
  ...systemStore("str", "0f 00 /1", ",PROT"),
  ...systemStore("smsw", "0f 01 /4", ""),
  "lar reg16,mem [rm: o16 0f 02 /r] 286,PROT,SW",
  "lar reg16,reg16 [rm: o16 0f 02 /r] 286,PROT",
  "lar reg16,reg32 [rm: o16 0f 02 /r] 386,PROT",
  "lar reg32,mem [rm: o32 0f 02 /r] 386,PROT,SW",
  "lar reg32,reg16 [rm: o32 0f 02 /r] 386,PROT",
  "lar reg32,reg32 [rm: o32 0f 02 /r] 386,PROT",
  "lsl reg16,mem [rm: o16 0f 03 /r] 286,PROT,SW",
  "lsl reg16,reg16 [rm: o16 0f 03 /r] 286,PROT",
  "lsl reg16,reg32 [rm: o16 0f 03 /r] 386,PROT",
  "lsl reg32,mem [rm: o32 0f 03 /r] 386,PROT,SW",
  "lsl reg32,reg16 [rm: o32 0f 03 /r] 386,PROT",
  "lsl reg32,reg32 [rm: o32 0f 03 /r] 386,PROT",
  "cpuid void [ 0f a2] PENT",
  "rdtsc void [ 0f 31] PENT",
  "rdtscp void [ 0f 01 f9] P6",
  "rdmsr void [ 0f 32] PENT,PRIV",
  "wrmsr void [ 0f 30] PENT,PRIV",
  "rdpmc void [ 0f 33] P6",
  "rsm void [ 0f aa] PENT",
  "vmcall void [ 0f 01 c1] P6",
  "vmmcall void [ 0f 01 d9] P6",
  "monitor void [ 0f 01 c8] P6",
  "mwait void [ 0f 01 c9] P6",
  "lfence void [ 0f ae e8] P6",
  "mfence void [ 0f ae f0] P6",
  "sfence void [ 0f ae f8] P6",
  "ud0 void [ 0f ff] 186,OBSOLETE",
  "ud1 reg16,rm16 [rm: o16 0f b9 /r] 186",
  "ud1 reg32,rm32 [rm: o32 0f b9 /r] 186",
  "ud1 void [ 0f b9] 186,ND",
  "ud2b void [ 0f b9] 186,ND",
  "ud2 void [ 0f 0b] 186",
  "ud2a void [ 0f 0b] 186,ND",
  "umov mem,reg8 [mr: 0f 10 /r] 386,UNDOC,SM",
  "umov reg8,reg8 [mr: 0f 10 /r] 386,UNDOC",
  "umov mem,reg16 [mr: o16 0f 11 /r] 386,UNDOC,SM",
  "umov reg16,reg16 [mr: o16 0f 11 /r] 386,UNDOC",
  "umov mem,reg32 [mr: o32 0f 11 /r] 386,UNDOC,SM",
  "umov reg32,reg32 [mr: o32 0f 11 /r] 386,UNDOC",
  "umov reg8,mem [rm: 0f 12 /r] 386,UNDOC,SM",
  "umov reg8,reg8 [rm: 0f 12 /r] 386,UNDOC,ND",
  "umov reg16,mem [rm: o16 0f 13 /r] 386,UNDOC,SM",
  "umov reg16,reg16 [rm: o16 0f 13 /r] 386,UNDOC,ND",
  "umov reg32,mem [rm: o32 0f 13 /r] 386,UNDOC,SM",
  "umov reg32,reg32 [rm: o32 0f 13 /r] 386,UNDOC,ND",
  // 64-bit-only mnemonics: NASM knows them and refuses them outside long mode.
  ...["cdqe", "cqo", "iretq", "lodsq", "movsq", "cmpsq", "scasq", "stosq", "popfq", "pushfq", "retq", "retfq", "retnq",
    "swapgs"].map((m) => `${m} void [ ] X86_64,LONG`),
  "nop void [ 90] 8086",
  "nop rm16 [m: o16 0f 1f /0] P6",
  "nop rm32 [m: o32 0f 1f /0] P6",
  "pause void [ f3 90] 8086",
  "wait void [ wait] 8086",
  "fwait void [ wait] 8086,ND",
];

// ---------------------------------------------------------------- parsing the rows

const REGISTER_PATTERNS: Record<string, Omit<OperandPattern, "text">> = {
  reg8: { kind: "reg", regClass: "gpr", size: SIZE_BITS[8] },
  reg16: { kind: "reg", regClass: "gpr", size: SIZE_BITS[16] },
  reg32: { kind: "reg", regClass: "gpr", size: SIZE_BITS[32] },
  reg32na: { kind: "reg", regClass: "gpr", size: SIZE_BITS[32], notAccumulator: true },
  sreg: { kind: "reg", regClass: "sreg", size: SIZE_BITS[16] },
  creg: { kind: "reg", regClass: "creg", size: SIZE_BITS[32] },
  dreg: { kind: "reg", regClass: "dreg", size: SIZE_BITS[32] },
  treg: { kind: "reg", regClass: "treg", size: SIZE_BITS[32] },
};

const SPECIFIC_REGISTERS: Record<string, [RegClass, number]> = {
  al: ["gpr", 8], ax: ["gpr", 16], eax: ["gpr", 32], cl: ["gpr", 8], cx: ["gpr", 16], ecx: ["gpr", 32],
  dx: ["gpr", 16], es: ["sreg", 16], cs: ["sreg", 16], ss: ["sreg", 16], ds: ["sreg", 16], fs: ["sreg", 16],
  gs: ["sreg", 16],
};

function sizeBit(digits: string): number {
  const n = Number(digits) as keyof typeof SIZE_BITS;
  const bit = SIZE_BITS[n];
  if (bit === undefined) throw new Error(`isa: no size ${digits}`);
  return bit;
}

function parsePattern(text: string): OperandPattern {
  const [base, ...distances] = text.split("|");
  let distance = 0;
  for (const d of distances) {
    if (d !== "short" && d !== "near" && d !== "far") throw new Error(`isa: bad pattern ${text}`);
    distance |= SIZE_BITS[d];
  }
  const pattern = ((): Omit<OperandPattern, "text"> => {
    if (base in REGISTER_PATTERNS) return REGISTER_PATTERNS[base];
    let m = /^reg_([a-z]+)$/.exec(base);
    if (m && m[1] in SPECIFIC_REGISTERS) {
      const [regClass, bits] = SPECIFIC_REGISTERS[m[1]];
      return { kind: "reg", regClass, register: m[1], size: sizeBit(String(bits)) };
    }
    if ((m = /^rm(8|16|32)$/.exec(base))) return { kind: "rm", size: sizeBit(m[1]) };
    if (base === "mem") return { kind: "mem", size: 0 };
    if ((m = /^mem(8|16|32|64)$/.exec(base))) return { kind: "mem", size: sizeBit(m[1]) };
    if (base === "mem_offs") return { kind: "mem", size: 0, memOffs: true };
    if (base === "imm") return { kind: "imm", size: 0 };
    if ((m = /^imm(8|16|32)$/.exec(base))) return { kind: "imm", size: sizeBit(m[1]) };
    if (base === "unity") return { kind: "imm", size: 0, immClass: "unity" };
    if ((m = /^sbyte(word|dword)(16|32)?$/.exec(base))) {
      return { kind: "imm", size: m[2] ? sizeBit(m[2]) : 0, immClass: m[1] === "word" ? "sbyteword" : "sbytedword" };
    }
    if ((m = /^imm(16|32)?:imm$/.exec(base))) return { kind: "far", size: m[1] ? sizeBit(m[1]) : 0 };
    throw new Error(`isa: bad pattern ${text}`);
  })();
  return { ...pattern, size: pattern.size | distance, text };
}

function parseRoles(text: string, count: number): Role[] {
  const roles: Role[] = [];
  for (let k = 0; k < text.length; k++) {
    if (text[k + 1] === "+") {
      roles.push("r+m");
      k += 2;
    } else {
      roles.push(text[k] as Role);
    }
  }
  if (roles.length !== count) throw new Error(`isa: roles ${text} for ${count} operands`);
  return roles;
}

function parseEncoding(words: string[]): EncodingStep[] {
  return words.map((w): EncodingStep => {
    let m: RegExpExecArray | null;
    if (/^[0-9a-f]{2}$/.test(w)) return { op: "byte", value: parseInt(w, 16) };
    if ((m = /^([0-9a-f]{2})\+r$/.exec(w))) return { op: "plusreg", base: parseInt(m[1], 16) };
    if (w === "/r") return { op: "modrm", digit: null };
    if ((m = /^\/([0-7])$/.exec(w))) return { op: "modrm", digit: Number(m[1]) };
    if (w === "ib" || w === "ib,s" || w === "ib,u" || w === "iw" || w === "id" || w === "iwd" || w === "iwdq") {
      return { op: "imm", form: w, role: "i" };
    }
    if (w === "rel8" || w === "rel") return { op: "rel", form: w };
    if (w === "seg16") return { op: "seg16" };
    if (w === "segbase") return { op: "segbase" };
    if (w === "o16" || w === "o32") return { op: "osize", size: w === "o16" ? 16 : 32 };
    if (w === "odf") return { op: "osize", size: null };
    if (w === "a16" || w === "a32") return { op: "asize", size: w === "a16" ? 16 : 32 };
    if (w === "adf") return { op: "asize", size: null };
    if (w === "short") return { op: "short" };
    if (w === "wait") return { op: "wait" };
    throw new Error(`isa: bad encoding word ${w}`);
  });
}

function parseRow(row: string): InstructionForm {
  const m = /^(\S+)\s+(\S+)\s+\[\s*(?:([^:\]]*):)?\s*([^\]]*)\]\s*(\S*)$/.exec(row.trim());
  if (!m) throw new Error(`isa: bad row ${row}`);
  const [, mnemonic, operandText, roleText = "", encodingText, flagText] = m;
  const operands = operandText === "void" ? [] : operandText.split(",").map(parsePattern);
  // ENTER's second immediate (role j) is the second immediate word of its encoding.
  const encoding = parseEncoding(encodingText.trim().split(/\s+/).filter((w) => w !== ""));
  const roles = parseRoles(roleText.trim(), operands.length);
  if (roles.includes("j")) {
    const imms = encoding.filter((s): s is Extract<EncodingStep, { op: "imm" }> => s.op === "imm");
    if (imms.length === 2) imms[1].role = "j";
  }
  return { mnemonic, operands, roles, encoding, flags: new Set(flagText ? flagText.split(",") : []), row };
}

/** Every form, in NASM's matching order. */
export const INSTRUCTIONS: readonly InstructionForm[] = ROWS.map(parseRow);

/** The forms of each mnemonic, in matching order. */
export const FORMS_BY_MNEMONIC: ReadonlyMap<string, readonly InstructionForm[]> = (() => {
  const map = new Map<string, InstructionForm[]>();
  for (const form of INSTRUCTIONS) {
    const list = map.get(form.mnemonic) ?? [];
    list.push(form);
    map.set(form.mnemonic, list);
  }
  return map;
})();
