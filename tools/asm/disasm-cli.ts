// tools/asm/disasm-cli.ts — `xenoscope disasm`: a flat binary back to NASM source.
//
// The listing has ndisasm's shape (address, bytes, instruction; bytes past
// eight continue on a `-` line), and its instruction column is NASM source
// our assembler turns back into the same bytes: `db` lines stand for bytes
// that are no instruction, or one NASM cannot write (tools/asm/disasm.ts).

import { readFileSync } from "node:fs";
import { disassemble } from "./disasm.js";

const HELP = `usage: xenoscope disasm FILE [--org ADDR] [--bits 16|32]

Disassembles a flat binary into NASM syntax, one instruction a line, in
ndisasm's layout: address, bytes, instruction. Every instruction is written
so that \`xenoscope asm\` (and NASM) assembles it back to the same bytes:
\`strict\`, \`short\`/\`near\`, size and prefix words appear where needed, and
bytes NASM has no spelling for come out as \`db\`.

  --org ADDR    address of the file's first byte (0x... hex or decimal; default 0)
  --bits 16|32  code width (default 32)
  --help        this text

Exit status: 0 disassembled, 64 bad arguments or an unreadable FILE.`;

/** ndisasm's layout: this many bytes on the instruction's line, the rest on `-` lines. */
const BYTES_PER_LINE = 8;

export interface DisasmArgs {
  file: string;
  org: number;
  bits: 16 | 32;
}

function parseAddress(text: string): number | null {
  const value = /^0x[0-9a-f]+$/i.test(text) ? parseInt(text.slice(2), 16) : /^[0-9]+$/.test(text) ? Number(text) : NaN;
  return Number.isSafeInteger(value) && value <= 0xffffffff ? value : null;
}

/** Parses the arguments; returns a one-line reason when they are bad. */
export function parseDisasmArgs(argv: string[]): DisasmArgs | { help: true } | { error: string } {
  const args: DisasmArgs = { file: "", org: 0, bits: 32 };
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const value = (): string | null => inline ?? (i + 1 < argv.length ? argv[++i] : null);
    if (flag === "--help" || flag === "-h") return { help: true };
    if (flag === "--org") {
      const v = value();
      if (v === null) return { error: "--org needs an address" };
      const org = parseAddress(v);
      if (org === null) return { error: `--org: \`${v}' is not an address (0x... hex or decimal, below 2^32)` };
      args.org = org;
    } else if (flag === "--bits") {
      const v = value();
      if (v !== "16" && v !== "32") return { error: `--bits must be 16 or 32, not \`${v ?? ""}'` };
      args.bits = v === "16" ? 16 : 32;
    } else if (a.startsWith("-") && a !== "-") {
      return { error: `unknown option \`${a}'` };
    } else {
      files.push(a);
    }
  }
  if (files.length !== 1) return { error: files.length ? "more than one input file" : "no input file" };
  args.file = files[0];
  return args;
}

function hexBytes(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0").toUpperCase()).join("");
}

/** The listing of `code` as `xenoscope disasm` prints it. */
export function formatListing(code: Uint8Array, org: number, bits: 16 | 32): string {
  const lines: string[] = [];
  for (const insn of disassemble(code, { bits, org })) {
    const address = (insn.address >>> 0).toString(16).toUpperCase().padStart(8, "0");
    lines.push(`${address}  ${hexBytes(insn.bytes.subarray(0, BYTES_PER_LINE)).padEnd(2 * BYTES_PER_LINE + 2)}${insn.text}`);
    for (let k = BYTES_PER_LINE; k < insn.bytes.length; k += BYTES_PER_LINE) {
      lines.push(`         -${hexBytes(insn.bytes.subarray(k, k + BYTES_PER_LINE))}`);
    }
  }
  return lines.map((l) => l + "\n").join("");
}

export function disasmCommand(argv: string[]): number {
  const parsed = parseDisasmArgs(argv);
  if ("help" in parsed) {
    console.log(HELP);
    return 0;
  }
  if ("error" in parsed) {
    console.error(`xenoscope disasm: ${parsed.error}`);
    return 64;
  }
  let code: Uint8Array;
  try {
    code = new Uint8Array(readFileSync(parsed.file));
  } catch (err) {
    console.error(`xenoscope disasm: cannot read \`${parsed.file}': ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    return 64;
  }
  process.stdout.write(formatListing(code, parsed.org, parsed.bits));
  return 0;
}
