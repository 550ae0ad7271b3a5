// tools/bench.ts — `xenoscope bench` (`npm run bench`): how fast the CPU runs.
//
// Boots ../shared/bench/bench.bin, a multiboot kernel with six timed
// workloads (its README), on the bare machine, stamps every console line
// with the host's clock as its last byte arrives, and prints per workload
// the cold (pass 1) and warm (pass 2) speed in MIPS — instructions per wall
// second, the instruction count being the kernel's own analytic figure —
// plus ns per page touch (tlb) and per system call (syscall). With
// `--vs v86` the same image then boots in v86 with its JIT off, in this
// process, and the table shows our speed over v86's: absolute times drift
// on a shared machine, a ratio measured side by side does not.
//
// The checksums are compared with ../shared/bench/expected.txt: a fast
// wrong CPU is not a result.

import { existsSync, readFileSync } from "node:fs";
import { benchHypervisor, printHypervisorFigures } from "./bench-xen.js";
import { createBareMachine } from "../hypervisor/platform/bare.js";
import { LoadError } from "../hypervisor/platform/boot.js";
import { hasV86, runInV86 } from "./oracles/v86.js";

export const BENCH_HELP = `usage: xenoscope bench [--image FILE] [--vs v86] [--runs N]

Boots the benchmark kernel on the bare machine and prints, per workload,
cold and warm MIPS, plus ns per page touch (tlb) and per system call
(syscall). The kernel's checksums are compared with expected.txt. Then
the hypervisor's costs, in ns and guest instructions per operation: a null
hypercall, a ring-3 int 0x80 with and without the fast trap, an mmu_update
of one entry (guests/pv/xenbench), and an event-channel round trip between
two domains (guests/pv/pingpong).

  --image FILE   the kernel (default ../shared/bench/bench.bin; a build of
                 bench.asm with other counts works too)
  --vs v86       also boot it in v86 with its JIT off, in this process, and
                 print our speed over v86's
  --runs N       boot N times and report each workload's best (default 1)
  --help         this text

Exit status: 0 measured and the checksums match, 1 when the output differs
from expected.txt or the kernel did not finish, 64 for bad arguments.`;

const DEFAULT_IMAGE = "../shared/bench/bench.bin";
const EXPECTED = "../shared/bench/expected.txt";
const WORKLOADS = ["alu", "mem", "call", "tlb", "mem_pg", "syscall"] as const;

interface BenchArgs {
  image: string;
  vsV86: boolean;
  runs: number;
}

function parseArgs(argv: string[]): BenchArgs | { help: true } | { error: string } {
  const args: BenchArgs = { image: DEFAULT_IMAGE, vsV86: false, runs: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--help" || a === "-h") return { help: true };
    if (a === "--image") {
      const v = argv[++i];
      if (!v) return { error: "--image needs a file" };
      args.image = v;
    } else if (a === "--vs") {
      if (argv[++i] !== "v86") return { error: "--vs takes v86 (the only emulator it can run side by side)" };
      args.vsV86 = true;
    } else if (a === "--runs") {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1 || n > 20) return { error: "--runs needs a whole number from 1 to 20" };
      args.runs = n;
    } else {
      return { error: `unknown argument \`${a}'` };
    }
  }
  return args;
}

/** One workload pass as the kernel reported it. */
export interface PassResult {
  workload: string;
  pass: number;
  insns: number;
  csum: string;
  /** Host milliseconds between the BEGIN and END lines. */
  ms: number;
}

export interface BenchOutput {
  header: string;
  passes: PassResult[];
  /** The console text with the machine-dependent `tsc=` fields removed. */
  text: string;
}

/**
 * Reads the kernel's lines with the time each one completed: BEGIN/END pairs
 * become passes (the END line carries insns and csum).
 */
export function parseBenchOutput(lines: { text: string; ms: number }[]): BenchOutput {
  const passes: PassResult[] = [];
  const begun = new Map<string, number>();
  let header = "";
  for (const { text, ms } of lines) {
    if (text.startsWith("BENCH ")) header = text;
    const begin = /^BEGIN (\w+)#(\d+)$/.exec(text);
    if (begin) begun.set(`${begin[1]}#${begin[2]}`, ms);
    const end = /^END (\w+)#(\d+) insns=(\d+) csum=(0x[0-9a-f]+)/.exec(text);
    if (end) {
      const start = begun.get(`${end[1]}#${end[2]}`);
      if (start !== undefined) {
        passes.push({ workload: end[1], pass: Number(end[2]), insns: Number(end[3]), csum: end[4], ms: ms - start });
      }
    }
  }
  const text = lines.map((l) => l.text.replace(/ tsc=\d+$/, "")).join("\n") + "\n";
  return { header, passes, text };
}

/** Boots the image on the bare machine and stamps each console line as it completes. */
async function runOurs(image: Uint8Array): Promise<{ output: BenchOutput; finished: boolean; instructions: number; seconds: number }> {
  const lines: { text: string; ms: number }[] = [];
  let current = "";
  const started = performance.now();
  const machine = await createBareMachine({
    clock: "deterministic",
    onSerial: (byte) => {
      if (byte === 10) {
        lines.push({ text: current, ms: performance.now() - started });
        current = "";
      } else if (byte !== 13) {
        current += String.fromCharCode(byte);
      }
    },
  });
  machine.load(image);
  const end = await machine.run();
  const seconds = (performance.now() - started) / 1000;
  const finished = end.reason === "debug-exit" && lines.some((l) => l.text === "DONE");
  return { output: parseBenchOutput(lines), finished, instructions: machine.cpu.instructions(), seconds };
}

async function runV86(image: Uint8Array): Promise<{ output: BenchOutput; finished: boolean }> {
  const run = await runInV86(image, { disableJit: true, timeoutMs: 30 * 60 * 1000 });
  const texts = run.output.split("\n");
  const lines = run.lineTimes.map((ms, i) => ({ text: texts[i] ?? "", ms }));
  return { output: parseBenchOutput(lines), finished: run.finished && texts.includes("DONE") };
}

/** Best (shortest) time per workload and pass over several runs. */
function best(runs: BenchOutput[]): Map<string, PassResult> {
  const out = new Map<string, PassResult>();
  for (const run of runs) {
    for (const p of run.passes) {
      const key = `${p.workload}#${p.pass}`;
      const seen = out.get(key);
      if (!seen || p.ms < seen.ms) out.set(key, p);
    }
  }
  return out;
}

function mips(p: PassResult | undefined): number | undefined {
  return p && p.ms > 0 ? p.insns / (p.ms * 1000) : undefined;
}

function fmt(n: number | undefined, digits = 1): string {
  return n === undefined ? "-" : n.toFixed(n >= 100 ? 0 : digits);
}

/** The header's counts: pg_rounds=6000x1024 and sys_iters=1500000, for per-operation costs. */
function counts(header: string): { touches?: number; syscalls?: number } {
  const pg = /pg_rounds=(\d+)x(\d+)/.exec(header);
  const sys = /sys_iters=(\d+)/.exec(header);
  return { touches: pg ? Number(pg[1]) * Number(pg[2]) : undefined, syscalls: sys ? Number(sys[1]) : undefined };
}

export async function benchCommand(argv: string[]): Promise<number> {
  const parsed = parseArgs(argv);
  if ("help" in parsed) {
    console.log(BENCH_HELP);
    return 0;
  }
  if ("error" in parsed) {
    console.error(`xenoscope bench: ${parsed.error}`);
    return 64;
  }
  if (!existsSync(parsed.image)) {
    console.error(`xenoscope bench: cannot read \`${parsed.image}'${parsed.image === DEFAULT_IMAGE ? " (../shared is not beside this checkout)" : ""}`);
    return 64;
  }
  if (parsed.vsV86 && !hasV86()) {
    console.error("xenoscope bench: --vs v86 needs the v86 package (a devDependency: run npm install)");
    return 64;
  }
  const image = new Uint8Array(readFileSync(parsed.image));

  const ours: BenchOutput[] = [];
  for (let r = 1; r <= parsed.runs; r++) {
    process.stderr.write(`bench: xenoscope run ${r}/${parsed.runs} ...\n`);
    let result;
    try {
      result = await runOurs(image);
    } catch (err) {
      if (err instanceof LoadError) {
        console.error(`xenoscope bench: ${err.message}`);
        return 64;
      }
      throw err;
    }
    process.stderr.write(`bench: ${result.instructions} instructions in ${result.seconds.toFixed(1)} s (${(result.instructions / result.seconds / 1e6).toFixed(1)} MIPS overall)\n`);
    if (!result.finished) {
      console.error("xenoscope bench: the kernel did not reach DONE; its output was:\n" + result.output.text);
      return 1;
    }
    ours.push(result.output);
  }

  let status = 0;
  if (parsed.image === DEFAULT_IMAGE && existsSync(EXPECTED)) {
    const expected = readFileSync(EXPECTED, "utf8");
    if (ours[0].text === expected) {
      console.log("output: identical to expected.txt (tsc= fields aside)");
    } else {
      console.log("output: DIFFERS from expected.txt");
      status = 1;
    }
  }

  const v86: BenchOutput[] = [];
  if (parsed.vsV86) {
    for (let r = 1; r <= parsed.runs; r++) {
      process.stderr.write(`bench: v86 (JIT off) run ${r}/${parsed.runs} ...\n`);
      const result = await runV86(image);
      if (!result.finished) {
        console.error("xenoscope bench: v86 did not reach DONE");
        return 1;
      }
      v86.push(result.output);
    }
  }

  const a = best(ours);
  const b = best(v86);
  const header = ["workload", "insns", "cold MIPS", "warm MIPS"];
  if (parsed.vsV86) header.push("v86 cold", "v86 warm", "warm ratio");
  const rows: string[][] = [header];
  for (const w of WORKLOADS) {
    const cold = a.get(`${w}#1`);
    const warm = a.get(`${w}#2`);
    if (!cold && !warm) continue;
    const row = [w, String((warm ?? cold)!.insns), fmt(mips(cold)), fmt(mips(warm))];
    if (parsed.vsV86) {
      const vc = mips(b.get(`${w}#1`));
      const vw = mips(b.get(`${w}#2`));
      const ours = mips(warm);
      row.push(fmt(vc), fmt(vw), ours !== undefined && vw !== undefined ? `${(ours / vw).toFixed(2)}x` : "-");
    }
    rows.push(row);
  }
  const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  "));

  const { touches, syscalls } = counts(ours[0].header);
  const perOp = (p: PassResult | undefined, n: number | undefined) => (p && n ? (p.ms * 1e6) / n : undefined);
  const line = (name: string, ourNs: number | undefined, theirNs: number | undefined) =>
    console.log(`${name}: ${fmt(ourNs)} ns${parsed.vsV86 ? ` (v86 JIT off: ${fmt(theirNs)} ns)` : ""}`);
  line("ns per page touch (tlb, warm)", perOp(a.get("tlb#2"), touches), perOp(b.get("tlb#2"), touches));
  line("ns per syscall (syscall, warm)", perOp(a.get("syscall#2"), syscalls), perOp(b.get("syscall#2"), syscalls));

  process.stderr.write("bench: the hypervisor's figures (guests/pv/xenbench, guests/pv/pingpong) ...\n");
  printHypervisorFigures(await benchHypervisor());
  return status;
}
