// test/support/iced.ts — iced-x86, a second decoder to read back what was assembled.
//
// NASM tells us which bytes are right; iced-x86 (a disassembler written
// without reference to either assembler) tells us what those bytes mean. A
// byte string decoded here must be the instruction the source line wrote, so
// tools/asm is checked even where NASM is not installed.
//
// The adapter turns iced's Instruction into plain data in NASM's vocabulary:
// lower-case mnemonics and register names, displacements and immediates
// reduced to the address or operand width, near-branch targets relative to
// the instruction's first byte (it is decoded at ip 0). Operands the source
// never writes are left out: the DS:(E)SI and ES:(E)DI memory of string
// instructions with their accumulator or DX, and the [(E)BX+AL] of XLAT.
// Operand and address size are what the 66 and 67 prefixes make of the
// bitness, which is exactly what an assembler decides when it emits them.
//
// iced objects live in WebAssembly memory and must be freed by hand.

import { Code, Decoder, DecoderOptions, Formatter, FormatterSyntax, MemorySizeExt, Mnemonic, OpKind, Register, type Instruction } from "iced-x86";

export type Bits = 16 | 32;

export type DecodedOperand =
  | { kind: "reg"; reg: string }
  /** `size` is the bytes accessed, 0 where nothing is (LEA, INVLPG). */
  | { kind: "mem"; base?: string; index?: string; scale: number; disp: number; size: number }
  | { kind: "imm"; value: number }
  /** `target` is the branch target with the instruction at address 0. */
  | { kind: "rel"; target: number }
  | { kind: "far"; selector: number; offset: number };

export interface Decoded {
  /** iced found no valid instruction (it decodes one as `(bad)`). */
  invalid: boolean;
  /** iced's mnemonic, lower case: `je`, `pushfd`, `int1`, `xlatb`. */
  mnemonic: string;
  /** iced's Code name (`Add_rm32_imm8`), to say which form was decoded. */
  code: string;
  operands: DecodedOperand[];
  length: number;
  /** The legacy prefix bytes in front of the opcode, in order. */
  prefixes: number[];
  /** The bitness, flipped by a 66 prefix. */
  operandSize: Bits;
  /** The bitness, flipped by a 67 prefix. */
  addressSize: Bits;
  /** A segment-override prefix, explicit even where it names the default segment. */
  segment?: string;
  lock: boolean;
  /** F3 (REP/REPE) or F2 (REPNE). */
  rep?: "f3" | "f2";
  /** iced's NASM-syntax disassembly, for failure messages. */
  text: string;
}

/** MOV to and from TR3–TR7 and UMOV are off in iced unless asked for. */
const OPTIONS = DecoderOptions.MovTr | DecoderOptions.Umov;

const LEGACY_PREFIXES = new Set([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]);

/** Operand kinds that stand for the implicit memory of string instructions. */
const STRING_MEMORY = new Set<OpKind>([
  OpKind.MemorySegSI, OpKind.MemorySegESI, OpKind.MemorySegRSI,
  OpKind.MemorySegDI, OpKind.MemorySegEDI, OpKind.MemorySegRDI,
  OpKind.MemoryESDI, OpKind.MemoryESEDI, OpKind.MemoryESRDI,
]);

let formatter: Formatter | undefined;

function registerName(r: Register): string | undefined {
  return r === Register.None ? undefined : Register[r].toLowerCase();
}

function mask(value: bigint, bits: number): number {
  return Number(BigInt.asUintN(bits, value));
}

function operandOf(insn: Instruction, i: number, addressSize: Bits): DecodedOperand | undefined {
  const kind = insn.opKind(i);
  switch (kind) {
    case OpKind.Register:
      return { kind: "reg", reg: registerName(insn.opRegister(i))! };
    case OpKind.NearBranch16:
    case OpKind.NearBranch32:
      return { kind: "rel", target: mask(insn.nearBranchTarget, 32) };
    case OpKind.FarBranch16:
      return { kind: "far", selector: insn.farBranchSelector, offset: insn.farBranch16 };
    case OpKind.FarBranch32:
      return { kind: "far", selector: insn.farBranchSelector, offset: insn.farBranch32 >>> 0 };
    case OpKind.Immediate8:
    case OpKind.Immediate8_2nd:
    case OpKind.Immediate16:
    case OpKind.Immediate32:
    case OpKind.Immediate8to16:
    case OpKind.Immediate8to32:
      return { kind: "imm", value: mask(insn.immediate(i), 32) };
    case OpKind.Memory:
      // XLAT's [(E)BX+AL] is implied by the mnemonic, like the string operands.
      if (insn.mnemonic === Mnemonic.Xlatb) return undefined;
      return {
        kind: "mem",
        base: registerName(insn.memoryBase),
        index: registerName(insn.memoryIndex),
        scale: insn.memoryIndexScale,
        disp: mask(insn.memoryDisplacement, addressSize),
        size: MemorySizeExt.size(insn.memorySize),
      };
    default:
      if (STRING_MEMORY.has(kind)) return undefined;
      throw new Error(`iced operand kind ${OpKind[kind]} is not expected in 16/32-bit integer code`);
  }
}

/** Decodes the one instruction at the start of `bytes`, as the CPU would at `bits`. */
export function decode(bytes: Uint8Array, bits: Bits): Decoded {
  const decoder = new Decoder(bits, bytes, OPTIONS);
  const insn = decoder.decode();
  try {
    const prefixes: number[] = [];
    for (const b of bytes.subarray(0, insn.length)) {
      if (!LEGACY_PREFIXES.has(b)) break;
      prefixes.push(b);
    }
    const operandSize: Bits = prefixes.includes(0x66) ? (bits === 16 ? 32 : 16) : bits;
    const addressSize: Bits = prefixes.includes(0x67) ? (bits === 16 ? 32 : 16) : bits;
    const operands: DecodedOperand[] = [];
    // iced lists a string instruction's accumulator (LODSB's AL, STOSD's
    // EAX) and the port in DX of INS/OUTS; NASM's LODSB and OUTSB name none.
    const implicitRegisters = insn.isStringInstruction;
    for (let i = 0; i < insn.opCount; i++) {
      if (implicitRegisters && insn.opKind(i) === OpKind.Register) continue;
      const op = operandOf(insn, i, addressSize);
      if (op) operands.push(op);
    }
    formatter ??= new Formatter(FormatterSyntax.Nasm);
    return {
      invalid: insn.isInvalid,
      mnemonic: Mnemonic[insn.mnemonic].toLowerCase(),
      code: Code[insn.code],
      operands,
      length: insn.length,
      prefixes,
      operandSize,
      addressSize,
      segment: registerName(insn.segmentPrefix),
      lock: insn.hasLockPrefix,
      rep: insn.hasRepnePrefix ? "f2" : insn.hasRepePrefix ? "f3" : undefined,
      text: formatter.format(insn),
    };
  } finally {
    insn.free();
    decoder.free();
  }
}

/** NASM's condition-code aliases, spelled as iced spells the condition. */
const CONDITION: Record<string, string> = {
  z: "e", nz: "ne", c: "b", nae: "b", nc: "ae", nb: "ae", na: "be", nbe: "a",
  nge: "l", nl: "ge", ng: "le", nle: "g", pe: "p", po: "np",
};

/** NASM names with one iced name whatever the operand size. */
const ALIASES: Record<string, string> = {
  sal: "shl", loopz: "loope", loopnz: "loopne", int01: "int1", icebp: "int1", int03: "int3",
  xlat: "xlatb", retn: "ret", fwait: "wait",
  pushfw: "pushf", popfw: "popf", pushaw: "pusha", popaw: "popa", iretw: "iret",
};

/** NASM names that iced splits by operand size: PUSHF is PUSHFD at 32 bits. */
const SIZED = new Set(["pushf", "popf", "pusha", "popa", "iret"]);

/** The iced mnemonic for a NASM mnemonic at the given operand size. */
export function icedMnemonic(nasm: string, operandSize: Bits): string {
  const name = nasm.toLowerCase();
  if (name in ALIASES) return ALIASES[name];
  if (SIZED.has(name)) return operandSize === 32 ? name + "d" : name;
  for (const stem of ["cmov", "set", "j"]) {
    if (name.startsWith(stem) && name.slice(stem.length) in CONDITION) return stem + CONDITION[name.slice(stem.length)];
  }
  return name;
}
