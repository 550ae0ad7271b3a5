// tools/vectors.ts — `xenoscope vectors`: run hardware test vectors through the core.
//
// The vectors (../shared/vectors/README.md) were recorded on a real CPU, one
// instruction each, in flat 32-bit protected mode at CPL 3. Each is run the
// way the README prescribes: the instruction's bytes at init.eip, every
// memory region's `before` bytes, the registers and EFLAGS from `init`;
// then exactly one instruction (a REP string instruction runs all its
// iterations, each one a step of the core), and the registers, EIP, the
// defined flags and memory are compared with `final`. Every exception exits
// to the host (EXCEPTION_EXIT_BITMAP), so a vector that expects #DE sees it
// as an exit with nothing changed, and an unexpected fault is reported
// rather than delivered into an empty IDT.
//
// The runner is shared with test/core/vectors.test.ts; one machine runs
// every vector, its state written through the typed views between them.

import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import * as L from "../core/layout.js";
import { CS, Cpu, DS, ES, FS, GS, SS, coreWasmUrl } from "../hypervisor/platform/cpu.js";

const REGS = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"] as const;
/** CF PF AF ZF SF DF OF: the flags a vector checks (README "How undefined flags are masked"). */
const CHECKED_FLAGS = 0x0cd5;
/** A REP string instruction with a huge count still ends: the vectors' counts are small. */
const MAX_STEPS = 1 << 20;

type Regs = Record<(typeof REGS)[number] | "eip" | "eflags", number>;

export interface Vector {
  asm: string;
  bytes: string;
  init: Regs;
  final: Regs | null;
  mem: { addr: number; before: string; after: string }[];
  undef: number;
  undef_regs?: Partial<Record<(typeof REGS)[number], number>>;
  exception: number | null;
}

export interface VectorFile {
  group: string;
  vectors: Vector[];
}

/** Reads a `.jsonl.gz` vector file: its header's group and every vector. */
export function readVectorFile(path: string): VectorFile {
  const lines = gunzipSync(readFileSync(path)).toString("utf8").split("\n");
  const header = JSON.parse(lines[0]) as { group?: string };
  const vectors: Vector[] = [];
  for (let i = 1; i < lines.length; i++) if (lines[i]) vectors.push(JSON.parse(lines[i]) as Vector);
  return { group: header.group ?? basename(path).replace(/\.jsonl\.gz$/, ""), vectors };
}

/** The vector files a path names: the file itself, or every *.jsonl.gz in a directory, sorted. */
export function vectorFiles(path: string): string[] {
  if (statSync(path).isDirectory()) {
    return readdirSync(path)
      .filter((f) => f.endsWith(".jsonl.gz"))
      .sort()
      .map((f) => join(path, f));
  }
  return [path];
}

function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

function hex(n: number): string {
  return "0x" + (n >>> 0).toString(16);
}

/** One machine set up as the vectors expect: flat 32-bit protected mode at CPL 3, paging off. */
export class VectorMachine {
  readonly cpu: Cpu;

  constructor(cpu: Cpu) {
    this.cpu = cpu;
    cpu.reset();
    cpu.cr0 = 0x11; // PE, ET
    const code = { selector: 0x1b, base: 0, limit: 0xffffffff, attr: 0xc0fb };
    const data = { selector: 0x23, base: 0, limit: 0xffffffff, attr: 0xc0f3 };
    cpu.setSegment(CS, code);
    for (const sreg of [ES, SS, DS, FS, GS]) cpu.setSegment(sreg, data);
    cpu.cpl = 3;
    cpu.exceptionExitBitmap = 0xffffffff;
    cpu.core.hostSyncPaging();
  }

  /** Runs one vector; returns what differed (empty when it passed). */
  run(v: Vector): string[] {
    const cpu = this.cpu;
    const ram = cpu.ram;
    const state = cpu.state;
    ram.set(hexBytes(v.bytes), v.init.eip);
    for (const m of v.mem) ram.set(hexBytes(m.before), m.addr);
    for (let i = 0; i < 8; i++) state[i] = v.init[REGS[i]];
    state[L.REG_EIP >>> 2] = v.init.eip;
    state[L.REG_EFLAGS >>> 2] = v.init.eflags;
    state[L.INTERRUPT_SHADOW >>> 2] = 0;
    state[L.HALTED >>> 2] = 0;
    const rep = /^rep/.test(v.asm);
    let reason = cpu.run(1);
    for (let steps = 1; rep && reason === L.EXIT_BUDGET && cpu.eip === v.init.eip && steps < MAX_STEPS; steps++) {
      reason = cpu.run(1);
    }
    const bad: string[] = [];
    if (v.exception !== null) {
      if (reason !== L.EXIT_EXCEPTION || cpu.exitVector() !== v.exception) {
        bad.push(`expected exception ${v.exception}, got ${describeExit(cpu, reason)}`);
        return bad;
      }
      for (let i = 0; i < 8; i++) if (state[i] !== v.init[REGS[i]] >>> 0) bad.push(`${REGS[i]} changed on a fault`);
      if (cpu.eip !== v.init.eip) bad.push("eip moved on a fault");
      for (const m of v.mem) if (!sameBytes(ram, m.addr, m.before)) bad.push(`mem@${hex(m.addr)} changed on a fault`);
      return bad;
    }
    if (reason !== L.EXIT_BUDGET) {
      bad.push(`unexpected ${describeExit(cpu, reason)}`);
      return bad;
    }
    const final = v.final!;
    for (let i = 0; i < 8; i++) {
      const mask = v.undef_regs?.[REGS[i]] ?? 0;
      if (((state[i] ^ final[REGS[i]]) & ~mask) !== 0) bad.push(`${REGS[i]} ${hex(state[i])} != ${hex(final[REGS[i]])}`);
    }
    const flags = cpu.eflags;
    if (((flags ^ final.eflags) & CHECKED_FLAGS & ~v.undef) !== 0) bad.push(`eflags ${hex(flags)} != ${hex(final.eflags)}`);
    if (cpu.eip !== final.eip >>> 0) bad.push(`eip ${hex(cpu.eip)} != ${hex(final.eip)}`);
    for (const m of v.mem) if (!sameBytes(ram, m.addr, m.after)) bad.push(`mem@${hex(m.addr)}`);
    return bad;
  }
}

function sameBytes(ram: Uint8Array, addr: number, hexText: string): boolean {
  for (let i = 0; i < hexText.length / 2; i++) {
    if (ram[addr + i] !== parseInt(hexText.substr(i * 2, 2), 16)) return false;
  }
  return true;
}

function describeExit(cpu: Cpu, reason: number): string {
  switch (reason) {
    case L.EXIT_BUDGET: return "no exception";
    case L.EXIT_EXCEPTION: {
      const code = cpu.exitErrorCode();
      return `exception ${cpu.exitVector()}${code >= 0 ? ` (error code ${hex(code)})` : ""}`;
    }
    case L.EXIT_HLT: return "hlt";
    case L.EXIT_IO: return "I/O exit";
    case L.EXIT_MMIO: return "MMIO exit";
    case L.EXIT_SHUTDOWN: return "shutdown";
    default: return `exit ${reason}`;
  }
}

/** The results of one group: counts, and the failures grouped by `asm` template. */
export interface GroupResult {
  group: string;
  passed: number;
  failed: number;
  /** Per failing template: how many failed, and the first few mismatches. */
  failures: Map<string, { count: number; examples: string[] }>;
}

/** Runs every vector of a file on `machine`. */
export function runVectorFile(machine: VectorMachine, file: VectorFile, examples = 3): GroupResult {
  const result: GroupResult = { group: file.group, passed: 0, failed: 0, failures: new Map() };
  for (const v of file.vectors) {
    const bad = machine.run(v);
    if (bad.length === 0) {
      result.passed++;
      continue;
    }
    result.failed++;
    let entry = result.failures.get(v.asm);
    if (!entry) result.failures.set(v.asm, (entry = { count: 0, examples: [] }));
    entry.count++;
    if (entry.examples.length < examples) {
      entry.examples.push(`init ${JSON.stringify(v.init)}: ${bad.join(", ")}`);
    }
  }
  return result;
}

/** A failure report: one paragraph per failing template. */
export function formatFailures(result: GroupResult, maxTemplates = 40): string {
  const lines: string[] = [];
  let shown = 0;
  for (const [asm, entry] of result.failures) {
    if (shown++ === maxTemplates) {
      lines.push(`  ... ${result.failures.size - maxTemplates} more failing templates`);
      break;
    }
    lines.push(`  ${result.group}: \`${asm}' failed ${entry.count} time(s)`);
    for (const e of entry.examples) lines.push(`    ${e}`);
  }
  return lines.join("\n");
}

/** A machine for the vectors: 4 MiB of RAM covers the data window and the code area. */
export function vectorMachine(wasm: Uint8Array = readFileSync(fileURLToPath(coreWasmUrl()))): VectorMachine {
  return new VectorMachine(Cpu.create(wasm, 4 << 20));
}

const HELP = `usage: xenoscope vectors [--quiet] PATH...

Runs hardware test vectors (native32 JSON Lines, gzip'd) through the CPU
core. PATH is a .jsonl.gz file or a directory of them. Prints the failing
templates with a few examples each, then a line per group
("group: N passed, M failed") and a total.

  --quiet       only the summary lines
  --help        this text

Exit status: 0 all passed, 1 some failed, 64 bad arguments or an
unreadable PATH.`;

export function vectorsCommand(argv: string[]): number {
  const paths: string[] = [];
  let quiet = false;
  for (const a of argv) {
    if (a === "--help" || a === "-h") {
      console.log(HELP);
      return 0;
    }
    if (a === "--quiet" || a === "-q") quiet = true;
    else if (a.startsWith("-")) {
      console.error(`xenoscope vectors: unknown option \`${a}' (try --help)`);
      return 64;
    } else paths.push(a);
  }
  if (paths.length === 0) {
    console.error("xenoscope vectors: no vector file or directory given (try --help)");
    return 64;
  }
  const files: string[] = [];
  for (const p of paths) {
    if (!existsSync(p)) {
      console.error(`xenoscope vectors: cannot read \`${p}'`);
      return 64;
    }
    files.push(...vectorFiles(p));
  }
  let machine: VectorMachine;
  try {
    machine = vectorMachine();
  } catch (err) {
    console.error(`xenoscope vectors: cannot load the core (${err instanceof Error ? err.message : String(err)}); run \`npm run build'`);
    return 64;
  }
  let passed = 0;
  let failed = 0;
  for (const f of files) {
    let file: VectorFile;
    try {
      file = readVectorFile(f);
    } catch (err) {
      console.error(`xenoscope vectors: cannot read \`${f}' (${err instanceof Error ? err.message : String(err)})`);
      return 64;
    }
    const result = runVectorFile(machine, file);
    if (!quiet && result.failed > 0) console.log(formatFailures(result));
    console.log(`${result.group}: ${result.passed} passed, ${result.failed} failed`);
    passed += result.passed;
    failed += result.failed;
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}
