// test/tools/asm/disasm.test.ts — the disassembler reads every corpus encoding back, in words our assembler agrees with.
//
// Two checks over the whole corpus (corpus.ts), at both widths, on the bytes
// our assembler writes for each line:
//   round trip   disassembleOne's text, assembled again at the address it
//                was decoded at, is the same bytes, and its length is theirs;
//   iced-x86     the instruction decoded is the one iced-x86 decodes: the
//                mnemonic (under iced's name), operands, operand and address
//                size, prefixes and length. The text may differ.
// Then a few hand-written cases that read as documentation.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { assemble } from "../../../tools/asm/index.js";
import { type DecodedInstruction, type DisasmOperand, disassemble, disassembleOne } from "../../../tools/asm/disasm.js";
import { disasmCommand, formatListing } from "../../../tools/asm/disasm-cli.js";
import { decode, icedMnemonic, type Decoded, type DecodedOperand } from "../../support/iced.js";
import { hex } from "../../support/nasm.js";
import { type Bits, type CorpusLine, corpus } from "./corpus.js";

/** Where the round trip puts each instruction: a boot sector's address, and one above 1 MiB. */
const ORG: Record<Bits, number> = { 16: 0x7c00, 32: 0x100000 };

const REPORT_LINES = 20;

function bytesOf(text: string): Uint8Array {
  return Uint8Array.from(text.split(/\s+/).filter(Boolean).map((b) => parseInt(b, 16)));
}

/** Our assembler on one line; `problems` holds its errors and warnings. */
function assembleLine(source: string, bits: Bits, org = 0): { bytes: Uint8Array; problems: string[] } {
  const r = assemble(`bits ${bits}\norg ${org}\n${source}\n`, { file: "disasm.asm" });
  const problems = r.diagnostics.filter((d) => d.severity === "error" || d.severity === "warning").map((d) => d.message);
  if (!r.ok && problems.length === 0) problems.push("not ok");
  return { bytes: r.ok ? r.bytes : new Uint8Array(0), problems };
}

interface Encoding {
  line: CorpusLine;
  bytes: Uint8Array;
}

const encodings = new Map<Bits, Encoding[]>();

/** Each distinct encoding our assembler writes for the corpus, with the first line that wrote it. */
function corpusEncodings(bits: Bits): Encoding[] {
  let list = encodings.get(bits);
  if (!list) {
    const seen = new Set<string>();
    list = [];
    for (const line of corpus(bits)) {
      const { bytes, problems } = assembleLine(line.source, bits);
      if (problems.length || bytes.length === 0 || seen.has(hex(bytes))) continue;
      seen.add(hex(bytes));
      list.push({ line, bytes });
    }
    encodings.set(bits, list);
  }
  return list;
}

function report(failures: { e: Encoding; why: string }[], total: number): string[] {
  if (failures.length === 0) return [];
  const byGroup = new Map<string, number>();
  for (const f of failures) byGroup.set(f.e.line.group, (byGroup.get(f.e.line.group) ?? 0) + 1);
  const groups = [...byGroup].sort((a, b) => b[1] - a[1]).map(([g, n]) => `${g} ${n}`).join(", ");
  return [
    `${failures.length} of ${total} encodings (${groups})`,
    ...failures.slice(0, REPORT_LINES).map((f) => `bits ${f.e.line.bits}: ${hex(f.e.bytes)} (${f.e.line.source}) — ${f.why}`),
  ];
}

// ---------------------------------------------------------------- comparing with iced-x86

/** Our mnemonics iced spells otherwise, beyond icedMnemonic's NASM aliases. */
const SIZED_RETURNS: Record<string, string> = { retw: "ret", retd: "ret", retfw: "retf", retfd: "retf" };

/** Instructions whose 16-bit selector operand iced names at the operand size (`mov ds, eax`, `lldt eax`). */
const SELECTOR_SLOT = new Set(["lldt", "ltr", "verr", "verw", "lmsw", "arpl"]);

const GPR16 = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"];
const GPR32 = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];

function gprNumber(name: string): number {
  const i = GPR16.indexOf(name);
  return i >= 0 ? i : GPR32.indexOf(name);
}

function sortKey(op: DisasmOperand | DecodedOperand): string {
  return op.kind === "reg" ? "0" + op.reg : "1" + op.kind;
}

/** `operandSize` reduces iced's immediates, which it sign-extends to 64 bits (`add ax, -1` has 0xffffffff). */
function operandDifference(mine: DisasmOperand, theirs: DecodedOperand, operandSize: Bits, selectorSlot: boolean): string | undefined {
  const shown = `ours ${JSON.stringify(mine)}, iced ${JSON.stringify(theirs)}`;
  switch (mine.kind) {
    case "reg":
      if (theirs.kind !== "reg") return shown;
      if (mine.reg === theirs.reg) return undefined;
      return selectorSlot && gprNumber(mine.reg) >= 0 && gprNumber(mine.reg) === gprNumber(theirs.reg) ? undefined : shown;
    case "mem":
      if (theirs.kind !== "mem") return shown;
      return mine.base === theirs.base && mine.index === theirs.index && (!mine.index || mine.scale === theirs.scale) &&
        mine.disp === theirs.disp && mine.size === theirs.size ? undefined : shown;
    case "imm":
      return theirs.kind === "imm" && mine.value === (operandSize === 16 ? theirs.value & 0xffff : theirs.value >>> 0) ? undefined : shown;
    case "rel":
      return theirs.kind === "rel" && mine.target === theirs.target ? undefined : shown;
    case "far":
      return theirs.kind === "far" && mine.selector === theirs.selector && mine.offset === theirs.offset ? undefined : shown;
  }
}

/** How our decoding differs from iced-x86's: empty when they are the same instruction. */
function icedDifferences(d: DecodedInstruction, bytes: Uint8Array, bits: Bits): string[] {
  const i: Decoded = decode(bytes, bits);
  if (i.invalid) return [`iced decodes no valid instruction`];
  if (d.kind !== "instruction") return [`ours is ${d.kind}: ${d.text}`];
  const out: string[] = [];
  const name = SIZED_RETURNS[d.mnemonic] ?? d.mnemonic;
  if (icedMnemonic(name, d.operandSize) !== i.mnemonic) out.push(`mnemonic: ours ${d.mnemonic}, iced ${i.mnemonic} (${i.text})`);
  // iced leaves out operands NASM writes but the encoding does not hold:
  // LOOP's counter (the address size says which), and it shows AAD's and
  // AAM's base 10 where NASM lets it be omitted.
  let ours = d.operands;
  if (d.mnemonic.startsWith("loop") && ours.length === 2) ours = ours.slice(0, 1);
  if ((d.mnemonic === "aad" || d.mnemonic === "aam") && ours.length === 0) ours = [{ kind: "imm", value: 10, bits: 8 }];
  let theirs = i.operands;
  if (d.mnemonic === "xchg" || d.mnemonic === "test") {
    ours = [...ours].sort((a, b) => sortKey(a).localeCompare(sortKey(b)));
    theirs = [...theirs].sort((a, b) => sortKey(a).localeCompare(sortKey(b)));
  }
  const selectorSlot = SELECTOR_SLOT.has(d.mnemonic) || (d.mnemonic === "mov" && d.operands.some((o) => o.kind === "reg" && /^[c-gs]s$/.test(o.reg)));
  if (ours.length !== theirs.length) out.push(`operands: ours ${JSON.stringify(ours)}, iced ${JSON.stringify(theirs)} (${i.text})`);
  else ours.forEach((o, k) => {
    const why = operandDifference(o, theirs[k], d.operandSize, selectorSlot);
    if (why) out.push(`operand ${k + 1}: ${why} (${i.text})`);
  });
  if (d.length !== i.length) out.push(`length: ours ${d.length}, iced ${i.length}`);
  if (d.operandSize !== i.operandSize) out.push(`operand size: ours ${d.operandSize}, iced ${i.operandSize}`);
  if (d.addressSize !== i.addressSize) out.push(`address size: ours ${d.addressSize}, iced ${i.addressSize}`);
  if (d.prefixes.segment !== i.segment) out.push(`segment: ours ${d.prefixes.segment ?? "none"}, iced ${i.segment ?? "none"}`);
  if (d.prefixes.lock !== i.lock) out.push(`lock: ours ${d.prefixes.lock}, iced ${i.lock}`);
  // PAUSE's F3 is its opcode to us and a REP prefix to iced.
  if (d.prefixes.rep !== i.rep && d.mnemonic !== "pause") out.push(`rep: ours ${d.prefixes.rep ?? "none"}, iced ${i.rep ?? "none"}`);
  return out;
}

// ---------------------------------------------------------------- the corpus

for (const bits of [16, 32] as const) {
  describe(`bits ${bits}`, () => {
    it("every corpus encoding disassembles to text our assembler turns back into the same bytes", () => {
      const list = corpusEncodings(bits);
      const org = ORG[bits];
      const failures: { e: Encoding; why: string }[] = [];
      for (const e of list) {
        const d = disassembleOne(e.bytes, 0, { bits, org });
        if (d.kind !== "instruction") {
          failures.push({ e, why: `${d.kind}: ${d.text}` });
          continue;
        }
        if (d.length !== e.bytes.length) failures.push({ e, why: `decoded ${d.length} of ${e.bytes.length} bytes: ${d.text}` });
        const back = assembleLine(d.text, bits, org);
        if (back.problems.length) failures.push({ e, why: `\`${d.text}': ${back.problems.join("; ")}` });
        else if (hex(back.bytes) !== hex(e.bytes)) failures.push({ e, why: `\`${d.text}' assembles to ${hex(back.bytes)}` });
      }
      console.log(`disasm bits ${bits}: round-tripped ${list.length - failures.length} of ${list.length} encodings at org 0x${org.toString(16)}`);
      expect(report(failures, list.length)).toEqual([]);
    }, 60_000);

    it("every corpus encoding decodes to the instruction iced-x86 decodes", () => {
      const list = corpusEncodings(bits);
      const failures: { e: Encoding; why: string }[] = [];
      for (const e of list) {
        for (const why of icedDifferences(disassembleOne(e.bytes, 0, { bits }), e.bytes, bits)) failures.push({ e, why });
      }
      console.log(`disasm bits ${bits}: compared ${list.length} encodings with iced-x86, ${list.length - new Set(failures.map((f) => f.e)).size} agree`);
      expect(report(failures, list.length)).toEqual([]);
    }, 60_000);
  });
}

// ---------------------------------------------------------------- by hand

function one(hexText: string, bits: Bits = 32, org = 0): DecodedInstruction {
  return disassembleOne(bytesOf(hexText), 0, { bits, org });
}

describe("disassembleOne", () => {
  it("reads VMCALL, the hypercall instruction of an HVM guest", () => {
    expect(one("0f 01 c1")).toMatchObject({ text: "vmcall", mnemonic: "vmcall", length: 3, kind: "instruction" });
  });

  it("writes addresses with base, scaled index and displacement", () => {
    expect(one("8b 44 b3 10").text).toBe("mov eax, [ebx+esi*4+0x10]");
    expect(one("8b 40 f0", 16).text).toBe("mov ax, [bx+si-0x10]");
  });

  it("keeps an index without a base an index with `nosplit`, and sizes a bare displacement of the other width", () => {
    expect(one("8b 04 4d 00 00 00 00").text).toBe("mov eax, [nosplit ecx*2]");
    expect(one("8b 04 8d 10 00 00 00").text).toBe("mov eax, [ecx*4+0x10]");
    expect(one("67 a1 10 00").text).toBe("mov eax, [word 0x10]");
  });

  it("reads far pointers, and names LOOP's counter when the address size is not the mode's", () => {
    expect(one("ea 00 7c 00 00 08 00").text).toBe("jmp 0x8:0x7c00");
    expect(one("67 e2 fd", 32, 0x1000).text).toBe("loop 0x1000, cx");
  });

  it("prints jump targets as addresses at the org, with `short` where NASM would otherwise pick near", () => {
    // A boot sector's first jump over its BIOS parameter block.
    expect(one("eb 3c", 16, 0x7c00).text).toBe("jmp short 0x7c3e");
    expect(one("e9 0b 00", 16, 0x7c00).text).toBe("jmp 0x7c0e");
    expect(one("74 0e", 32, 0x7c00)).toMatchObject({ text: "jz short 0x7c10", operands: [{ kind: "rel", target: 0x7c10 }] });
  });

  it("writes a target that would wrap below address 0 as $-N, which assembles the same at any org", () => {
    const d = one("eb f0", 16, 0);
    expect(d.text).toBe("jmp short $-0xe");
    expect(d.operands).toEqual([{ kind: "rel", target: 0xfff2 }]);
  });

  it("writes `strict` where NASM would pick the sign-extended imm8 form", () => {
    expect(one("81 c3 01 00 00 00").text).toBe("add ebx, strict dword 1");
    expect(one("83 c3 01").text).toBe("add ebx, 1");
    expect(one("68 ff ff ff ff").text).toBe("push strict dword 0xffffffff");
  });

  it("forces the displacement size NASM would shorten or drop", () => {
    expect(one("8b 40 00").text).toBe("mov eax, [byte eax+0]");
    expect(one("8b 80 10 00 00 00").text).toBe("mov eax, [dword eax+0x10]");
  });

  it("spells prefixes: segment inside the brackets, lock and rep in front, o16 where the form has no size", () => {
    expect(one("f0 64 01 08").text).toBe("lock add [fs:eax], ecx");
    expect(one("f3 a4").text).toBe("rep movsb");
    expect(one("66 90").text).toBe("o16 nop");
    expect(one("f3 90").text).toBe("pause");
  });

  it("turns an instruction NASM has no spelling for into a db line with its meaning in a comment", () => {
    // 8B /r with two registers is MOV too, but NASM always writes 89 /r.
    expect(one("8b c1")).toMatchObject({ text: "db 0x8b, 0xc1 ; mov eax, ecx", kind: "unspellable", length: 2, mnemonic: "mov" });
    // A repeated operand-size prefix is legal and idle; NASM writes one.
    expect(one("66 66 90")).toMatchObject({ kind: "unspellable", length: 3 });
  });

  it("turns bytes that are no instruction into db of one byte, and disassemble resumes after it", () => {
    expect(one("0f 04")).toMatchObject({ text: "db 0x0f", mnemonic: "db", kind: "invalid", length: 1 });
    expect(disassemble(bytesOf("0f 04 00 90"), { bits: 32 }).map((d) => d.text)).toEqual(["db 0x0f", "add al, 0", "nop"]);
  });

  it("never reads past the end of the code", () => {
    expect(one("b8 01 00")).toMatchObject({ text: "db 0xb8", kind: "invalid" });
  });
});

describe("xenoscope disasm", () => {
  it("lists address, bytes and instruction like ndisasm", () => {
    const code = bytesOf("c7 84 98 78 56 34 12 44 33 22 11 90");
    expect(formatListing(code, 0x7c00, 32)).toBe(
      "00007C00  C784987856341244  mov dword [eax+ebx*4+0x12345678], 0x11223344\n" +
      "         -332211\n" +
      "00007C0B  90                nop\n",
    );
  });

  it("answers --help with its usage and exit status 0", () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      expect(disasmCommand(["--help"])).toBe(0);
      expect(String(log.mock.calls[0][0])).toMatch(/^usage: xenoscope disasm FILE \[--org ADDR\] \[--bits 16\|32\]/);
    } finally {
      log.mockRestore();
    }
  });

  it("reads the file, and exits 64 with one line on bad arguments or an unreadable file", () => {
    const dir = mkdtempSync(join(tmpdir(), "xenoscope-disasm-"));
    const out = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const err = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const file = join(dir, "boot.bin");
      writeFileSync(file, bytesOf("fa eb fe"));
      expect(disasmCommand([file, "--org", "0x7c00", "--bits", "16"])).toBe(0);
      expect(out.mock.calls.map((c) => String(c[0])).join("")).toBe("00007C00  FA                cli\n00007C01  EBFE              jmp short 0x7c01\n");
      out.mockClear();
      expect(disasmCommand([file, "--org=31744", "--bits=16"])).toBe(0);
      expect(out.mock.calls.map((c) => String(c[0])).join("")).toContain("00007C01  EBFE              jmp short 0x7c01\n");
      expect(disasmCommand([file, "--bits", "64"])).toBe(64);
      expect(disasmCommand([file, "--org", "banana"])).toBe(64);
      expect(disasmCommand([join(dir, "missing.bin")])).toBe(64);
      expect(disasmCommand([])).toBe(64);
      expect(err.mock.calls.map((c) => String(c[0]))).toEqual([
        "xenoscope disasm: --bits must be 16 or 32, not `64'",
        "xenoscope disasm: --org: `banana' is not an address (0x... hex or decimal, below 2^32)",
        `xenoscope disasm: cannot read \`${join(dir, "missing.bin")}': ENOENT`,
        "xenoscope disasm: no input file",
      ]);
    } finally {
      out.mockRestore();
      err.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
