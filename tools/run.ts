// tools/run.ts — `xenoscope run`: boot one image with its console on the terminal.
//
// DESIGN.md, "Command-line conventions": `run` is the one-process shortcut,
// a machine in this process with the guest's console attached: stdout shows
// what the guest writes, stdin goes to the guest (raw mode only when stdin
// is a TTY; Ctrl-] detaches, as in `xl console`), and the exit status says
// how the guest ended. The machine is the bare one
// (hypervisor/platform/bare.ts) or, with `--machine xen`, the hypervisor
// running the image as a PV domain (tools/run-xen.ts).
//
// In deterministic mode what reaches COM1 is part of the run's input as
// much as the image: each chunk arrives at a virtual time (the machine
// queues typed keys for the point the run has reached), `--record` writes
// the chunks and their times to a file, and `--replay` gives them back at
// the same times, so a session typed once repeats bit for bit
// (hypervisor/platform/bare.ts, `receiveAt` and `onInput`).
//
// The console is COM1 plus port 0xE9. Many guests write every byte to both
// (hello, bench.asm), so text on one port that repeats what the other has
// just printed is printed once: `ConsoleMerge` below.

import { runXen } from "./run-xen.js";
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import type { ClockMode } from "../hypervisor/clock.js";
import { createBareMachine, type BareMachine } from "../hypervisor/platform/bare.js";
import { LoadError } from "../hypervisor/platform/boot.js";
import { IMAGE_FORMATS, type ImageFormat } from "../hypervisor/platform/loaders.js";
import type { TraceEntry, TraceInstruction, TraceRead } from "../hypervisor/platform/cpu.js";
import { EXIT_EXCEPTION, EXIT_IO, EXIT_MMIO, EXIT_SHUTDOWN } from "../core/layout.js";
import { disassembleOne } from "./asm/disasm.js";

/** The first line of an input record (`--record`, `--replay`): the format's name and version. */
export const INPUT_RECORD_HEADER = "xenoscope-input 1";

export const RUN_HELP = `usage: xenoscope run [options] IMAGE

Boots IMAGE on an emulated machine with its console on this terminal:
what the guest writes to COM1 or to port 0xE9 appears on stdout (a byte
that repeats what the other port has just printed appears once), and
what you type goes to COM1. In a terminal, Ctrl-] detaches and ends the run.

IMAGE is a multiboot v1 kernel (a.out kludge or ELF), an ELF32 executable
(loaded at its physical addresses and entered like a multiboot kernel), or
a raw ROM image of at most 1 MiB started at the reset vector.

  --machine MACHINE   bare (the default: one CPU and PC devices) or xen: the
                      hypervisor, running IMAGE as a 32-bit PAE PV domain
                      (an ELF kernel with Xen notes) whose console_io output
                      is stdout; --mem is then the domain's memory
  --mem MiB           RAM size (default 128)
  --clock MODE        realtime (default): time follows the host;
                      deterministic: one instruction is one ns of virtual
                      time, so a run repeats exactly (stdin, when not a
                      terminal, is read to its end first and given to COM1
                      at the start; keys typed in a terminal reach COM1 at
                      the point the run has reached when they arrive)
  --record FILE       with --clock deterministic: write every chunk of input
                      COM1 receives to FILE, with the virtual time it
                      arrived at (the format is below)
  --replay FILE       with --clock deterministic: give COM1 the chunks FILE
                      holds, each at its time, instead of stdin, so the
                      recorded run repeats exactly (in a terminal, Ctrl-]
                      still detaches)
  --format FORMAT     multiboot, elf or rom instead of detecting it
  --timeout S         end the run after S seconds on the run's clock
  --trace FILE        write each exit, interrupt, halt and chunk of input to
                      FILE, one a line, prefixed with the instruction count
  --trace-insns       with --trace: also write every instruction executed,
                      one a line (instruction count, CS:EIP, bytes in hex,
                      disassembly), and the CPU's own events (\`cpu ...\`:
                      interrupts taken, exceptions, exits, halts), all in
                      instruction-count order
  --stats             print instructions executed and MIPS to stderr
  --port-log PORT     print every byte written to PORT on stderr, in hex,
                      one line each (repeatable; PORT in decimal or 0x hex)
  --help              this text

An input record (--record, --replay) is text. Its first line is
\`${INPUT_RECORD_HEADER}' (the format and its version); then one chunk a
line, \`TIME HEXBYTES': TIME is the virtual time in ns at which COM1
received the chunk (instructions executed plus the time a halted CPU
skipped: the count --trace lines begin with, until the first skip),
HEXBYTES the bytes, two hex digits each. Times never decrease; chunks with
the same time arrive in file order. Blank lines and lines starting with #
are ignored. Example:
  ${INPUT_RECORD_HEADER}
  0 6563686f0a
  1523377 657869740a

Exit status: (v << 1) | 1 when the guest writes v to isa-debug-exit (port
0xF4); 4 when it halts for good; 2 when it triple-faults; 6 when it resets
the machine; 124 on --timeout; 0 when you detach; 64 for bad arguments, an
image that cannot be read or loaded, or a --replay file that is not an
input record (the line and what is wrong with it are printed). With
--machine xen: 0 when the domain powers off, 2 when it crashes (the reason
is printed), 6 for the other shutdown reasons, 4 when no vCPU can ever run
again.`;

/** RAM sizes the core can hold: whole MiB, from the 1 MiB a PC needs for its low memory to just under the 1 GiB of wasm memory the core may use. */
export const MIN_MEM_MIB = 1;
export const MAX_MEM_MIB = 1000;

export interface RunArgs {
  image: string;
  machine: "bare" | "xen";
  memMiB: number;
  clock: ClockMode;
  format?: ImageFormat;
  timeoutSeconds?: number;
  trace?: string;
  /** `--trace-insns`: the core's trace of instructions and events goes to the --trace file too. */
  traceInsns?: boolean;
  /** `--record FILE`: the input record to write. */
  record?: string;
  /** `--replay FILE`: the input record to give COM1 instead of stdin. */
  replay?: string;
  stats: boolean;
  portLog: number[];
}

/** Parses `xenoscope run` arguments; returns a one-line reason when they are bad. */
export function parseRunArgs(argv: string[]): RunArgs | { help: true } | { error: string } {
  const args: RunArgs = { image: "", machine: "bare", memMiB: 128, clock: "realtime", stats: false, portLog: [] };
  const images: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.startsWith("--") ? a.indexOf("=") : -1;
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const value = (): string | undefined => (eq > 0 ? a.slice(eq + 1) : argv[++i]);
    switch (flag) {
      case "--help":
      case "-h":
        return { help: true };
      case "--machine": {
        const v = value();
        if (v !== "bare" && v !== "xen") return { error: `--machine: unknown machine \`${v ?? ""}' (bare or xen)` };
        args.machine = v;
        break;
      }
      case "--mem": {
        const v = value();
        const n = Number(v);
        if (!v || !Number.isInteger(n) || n < MIN_MEM_MIB || n > MAX_MEM_MIB) {
          return { error: `--mem needs a whole number of MiB from ${MIN_MEM_MIB} to ${MAX_MEM_MIB} (got \`${v ?? ""}')` };
        }
        args.memMiB = n;
        break;
      }
      case "--clock": {
        const v = value();
        if (v !== "realtime" && v !== "deterministic") return { error: `--clock must be realtime or deterministic (got \`${v ?? ""}')` };
        args.clock = v;
        break;
      }
      case "--format": {
        const v = value();
        if (!IMAGE_FORMATS.includes(v as ImageFormat)) return { error: `--format must be one of ${IMAGE_FORMATS.join(", ")} (got \`${v ?? ""}')` };
        args.format = v as ImageFormat;
        break;
      }
      case "--timeout": {
        const v = value();
        const s = Number(v);
        if (!v || !Number.isFinite(s) || s <= 0) return { error: `--timeout needs a positive number of seconds (got \`${v ?? ""}')` };
        args.timeoutSeconds = s;
        break;
      }
      case "--trace": {
        const v = value();
        if (!v) return { error: "--trace needs a file name" };
        args.trace = v;
        break;
      }
      case "--trace-insns":
        args.traceInsns = true;
        break;
      case "--record":
      case "--replay": {
        const v = value();
        if (!v) return { error: `${flag} needs a file name` };
        args[flag === "--record" ? "record" : "replay"] = v;
        break;
      }
      case "--stats":
        args.stats = true;
        break;
      case "--port-log": {
        const v = value();
        const port = v !== undefined && /^(0x[0-9a-f]+|\d+)$/i.test(v) ? Number(v) : NaN;
        if (!(port >= 0 && port <= 0xffff)) return { error: `--port-log needs a port from 0 to 0xffff (got \`${v ?? ""}')` };
        args.portLog.push(port);
        break;
      }
      default:
        if (a.startsWith("-") && a !== "-") return { error: `unknown option \`${a}'` };
        images.push(a);
    }
  }
  if (images.length !== 1) return { error: images.length ? "more than one image" : "no image to run" };
  if (args.traceInsns && args.trace === undefined) return { error: "--trace-insns needs --trace FILE to write to" };
  for (const [flag, file] of [["--record", args.record], ["--replay", args.replay]] as const) {
    // Only in deterministic mode does a time name one point of the run: in real time the host decides what runs when.
    if (file !== undefined && args.clock !== "deterministic") return { error: `${flag} needs --clock deterministic` };
  }
  if (args.machine === "xen") {
    // The options of the emulated PC's devices and of COM1 input have no meaning for a Xen domain.
    const bareOnly: [string, unknown][] = [
      ["--format", args.format], ["--port-log", args.portLog.length ? args.portLog : undefined], ["--trace-insns", args.traceInsns],
      ["--record", args.record], ["--replay", args.replay],
    ];
    for (const [flag, value] of bareOnly) if (value !== undefined) return { error: `${flag} is for --machine bare only` };
  }
  args.image = images[0]!;
  return args;
}

/**
 * The console as the terminal shows it: COM1 and port 0xE9 in one stream.
 * Each port remembers the bytes it has shown that the other port has not
 * repeated yet (up to WINDOW). A byte that repeats the oldest of the other
 * port's backlog is held back as a probable mirror; once the backlog is
 * used up the held bytes were mirrors and are dropped. A byte that does not
 * match means the ports carry different text after all: the held bytes are
 * shown, then the byte, and the other port's backlog is forgotten.
 */
export class ConsoleMerge {
  static readonly WINDOW = 256;
  private readonly backlog: [number[], number[]] = [[], []];
  private readonly held: [number[], number[]] = [[], []];

  constructor(private readonly emit: (byte: number) => void) {}

  serial(byte: number): void {
    this.take(byte, 0);
  }

  debugConsole(byte: number): void {
    this.take(byte, 1);
  }

  private take(byte: number, port: 0 | 1): void {
    const other = this.backlog[1 - port]!;
    const held = this.held[port]!;
    if (other.length > 0 && other[0] === byte) {
      other.shift();
      if (other.length === 0) held.length = 0;
      else held.push(byte);
      return;
    }
    other.length = 0;
    for (const b of held) this.show(b, port);
    held.length = 0;
    this.show(byte, port);
  }

  private show(byte: number, port: 0 | 1): void {
    const mine = this.backlog[port]!;
    mine.push(byte);
    if (mine.length > ConsoleMerge.WINDOW) mine.shift();
    this.emit(byte);
  }
}

/** One chunk of COM1 input and the virtual time (ns) at which it arrives. */
export interface InputChunk {
  at: number;
  bytes: Uint8Array;
}

/** One line of an input record: `TIME HEXBYTES`. */
export function formatInputChunk(at: number, bytes: Uint8Array): string {
  return `${at} ${Buffer.from(bytes).toString("hex")}`;
}

/**
 * Reads an input record (the format RUN_HELP describes). A file that is not
 * one gives the number of the first bad line (from 1) and what is wrong
 * with it, so a hand-edited record can be fixed.
 */
export function parseInputRecord(text: string): InputChunk[] | { line: number; error: string } {
  const lines = text.split("\n");
  // A final newline ends the last line; it does not start another.
  if (lines.at(-1) === "") lines.pop();
  if (lines.length === 0) return { line: 1, error: `the file is empty; an input record starts with \`${INPUT_RECORD_HEADER}'` };
  const header = lines[0]!.replace(/\r$/, "");
  if (header !== INPUT_RECORD_HEADER) {
    const version = header.match(/^xenoscope-input (.*)$/)?.[1];
    return {
      line: 1,
      error: version !== undefined ?
        `version \`${version}' of the input record format is not one this xenoscope reads (it reads \`${INPUT_RECORD_HEADER}')` :
        `not an input record: the first line must be \`${INPUT_RECORD_HEADER}'`,
    };
  }
  const chunks: InputChunk[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, "");
    if (line.trim() === "" || line.startsWith("#")) continue;
    const bad = (error: string) => ({ line: i + 1, error });
    const fields = line.split(" ");
    if (fields.length !== 2) return bad(`expected \`TIME HEXBYTES' (two fields, one space between), got ${fields.length} field${fields.length === 1 ? "" : "s"}`);
    const [time, hexBytes] = fields as [string, string];
    if (!/^\d+$/.test(time)) return bad(`the time \`${time}' is not a whole number of ns`);
    const at = Number(time);
    if (!Number.isSafeInteger(at)) return bad(`the time ${time} is too large`);
    const previous = chunks.at(-1)?.at ?? 0;
    if (at < previous) return bad(`the time ${at} is before the previous chunk's ${previous}: times must not decrease`);
    if (!/^([0-9a-fA-F]{2})+$/.test(hexBytes)) return bad(`\`${hexBytes.length > 20 ? `${hexBytes.slice(0, 20)}...` : hexBytes}' is not bytes in hex, two digits each`);
    chunks.push({ at, bytes: Uint8Array.from(Buffer.from(hexBytes, "hex")) });
  }
  return chunks;
}

/**
 * The `--record` file: the header at once, then a line for each chunk as
 * COM1 receives it, written straight away so a run that is killed keeps
 * what it got.
 */
class InputRecordFile {
  constructor(private readonly fd: number) {
    writeAll(fd, Buffer.from(`${INPUT_RECORD_HEADER}\n`));
  }

  chunk(at: number, bytes: Uint8Array): void {
    writeAll(this.fd, Buffer.from(`${formatInputChunk(at, bytes)}\n`));
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Ctrl-] on a terminal in raw mode: detach, as `xl console` does. */
const DETACH = 0x1d;
const MiB = 1024 * 1024;

/** Guest output for stdout, written in chunks when the run loop lets the event loop in. */
class OutputBuffer {
  private bytes: number[] = [];
  private scheduled = false;

  constructor(private readonly fd: number) {}

  push(byte: number): void {
    this.bytes.push(byte);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.bytes.length === 0) return;
    writeAll(this.fd, Buffer.from(this.bytes));
    this.bytes = [];
  }
}

/** The `--trace` file: lines collected and written in large pieces. */
class TraceFile {
  private lines: string[] = [];
  private size = 0;

  constructor(private readonly fd: number) {}

  line(text: string): void {
    this.lines.push(text);
    this.size += text.length + 1;
    if (this.size > 1 << 16) this.flush();
  }

  flush(): void {
    if (this.lines.length === 0) return;
    writeAll(this.fd, Buffer.from(`${this.lines.join("\n")}\n`));
    this.lines = [];
    this.size = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

/** Exception mnemonics by vector (SDM Vol. 3A Table 6-1). */
const EXCEPTION_NAMES = ["#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "", "#TS", "#NP", "#SS", "#GP", "#PF", "", "#MF", "#AC", "#MC", "#XM"];
const EXIT_NAMES: Record<number, string> = { [EXIT_IO]: "io", [EXIT_MMIO]: "mmio", [EXIT_EXCEPTION]: "exception", [EXIT_SHUTDOWN]: "shutdown" };

const hex = (v: number) => `0x${v.toString(16)}`;

/**
 * `--trace-insns`: the core's trace entries as lines of the trace file. An
 * instruction is its count, CS:EIP, its bytes and their disassembly by
 * tools/asm (16- or 32-bit as CS.D said), `; faulted` or `; stopped for an
 * exit` after it when it did not retire; an event is its count and `cpu`
 * and what happened. The same bytes at the same address disassemble the same,
 * so loops cost one disassembly per instruction.
 */
export class CoreTraceLines {
  private readonly disassembled = new Map<string, string>();

  constructor(private readonly emit: (line: string) => void) {}

  take(read: TraceRead): void {
    if (read.lost > 0) this.emit(`${read.entries[0]?.count ?? "?"} cpu trace lost ${read.lost} entries here`);
    for (const entry of read.entries) this.emit(this.line(entry));
  }

  line(entry: TraceEntry): string {
    const where = `at ${codeAddress(entry.cs, entry.eip, true)}`;
    switch (entry.kind) {
      case "instruction":
        return this.instruction(entry);
      case "interrupt":
        return `${entry.count} cpu interrupt ${hex(entry.vector)} ${where}${entry.delivered ? "" : " (delivery faulted)"}`;
      case "exception": {
        const name = EXCEPTION_NAMES[entry.vector] || hex(entry.vector);
        const what =
          entry.source === "software-interrupt" ? `int ${hex(entry.vector)}` :
          entry.source === "int1" ? "int1" :
          entry.source === "software-exception" ? `${entry.vector === 3 ? "int3" : "into"} ${name}` :
          `exception ${name}${entry.errorCode >= 0 ? `(${hex(entry.errorCode)})` : ""}${entry.vector === 14 ? ` cr2 ${hex(entry.address)}` : ""}`;
        return `${entry.count} cpu ${what} ${where}${entry.delivered ? "" : " (delivery faulted)"}`;
      }
      case "exit": {
        let what = EXIT_NAMES[entry.reason] ?? `reason ${entry.reason}`;
        if (entry.reason === EXIT_EXCEPTION) what += ` ${EXCEPTION_NAMES[entry.vector!] || hex(entry.vector!)}`;
        if (entry.port !== undefined) what += ` ${entry.input ? "in" : "out"} ${hex(entry.port)}/${entry.size}`;
        if (entry.address !== undefined) what += ` ${entry.input ? "read" : "write"} ${hex(entry.address)}/${entry.size}`;
        return `${entry.count} cpu exit ${what} ${where}`;
      }
      case "hlt":
        return `${entry.count} cpu hlt ${where}`;
    }
  }

  private instruction(e: TraceInstruction): string {
    const bytes = Buffer.from(e.bytes).toString("hex");
    const missing = "??".repeat(e.length - e.bytes.length);
    const key = `${e.code32 ? 32 : 16}:${e.eip}:${bytes}`;
    let text = this.disassembled.get(key);
    if (text === undefined) {
      text = missing ? "(bytes not captured)" : e.length === 0 ? "(nothing fetched)" :
        disassembleOne(e.bytes, 0, { bits: e.code32 ? 32 : 16, org: e.eip }).text;
      if (this.disassembled.size >= 1 << 16) this.disassembled.clear();
      this.disassembled.set(key, text);
    }
    const outcome = e.outcome === "faulted" ? " ; faulted" : e.outcome === "stopped" ? " ; stopped for an exit" : "";
    return `${e.count} ${codeAddress(e.cs, e.eip, e.code32)} ${(bytes + missing).padEnd(30)} ${text}${outcome}`;
  }
}

/** CS:EIP in hex: four digits of selector, eight of EIP (four in 16-bit code that stays below 64 KiB). */
function codeAddress(cs: number, eip: number, code32: boolean): string {
  const width = code32 || eip > 0xffff ? 8 : 4;
  return `${cs.toString(16).padStart(4, "0")}:${eip.toString(16).padStart(width, "0")}`;
}

function writeAll(fd: number, data: Buffer): void {
  for (let done = 0; done < data.length; ) {
    try {
      done += writeSync(fd, data, done);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // Nobody reads any more (`| head`): the guest runs on, its output goes nowhere.
      if (code === "EPIPE") return;
      // A non-blocking terminal or pipe that is momentarily full: try again.
      if (code !== "EAGAIN") throw e;
    }
  }
}

/**
 * Connects stdin to COM1. A terminal goes into raw mode (keys reach the guest
 * as typed, Ctrl-C included) and Ctrl-] detaches. In deterministic mode a
 * stdin that is not a terminal is read to its end first and queued at
 * virtual time 0, so the run does not depend on when the bytes arrive; keys
 * from a terminal are queued by the machine for the point the run has
 * reached, which --record keeps. With `replaying`, COM1's input is already
 * queued from the record: a terminal is watched for Ctrl-] alone and any
 * other stdin is left unread. Returns the function that disconnects it again.
 */
async function attachInput(machine: BareMachine, deterministic: boolean, replaying: boolean): Promise<() => void> {
  const stdin = process.stdin;
  if (!stdin.isTTY && (deterministic || replaying)) {
    if (replaying) return () => {};
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(chunk as Buffer);
    const all = Buffer.concat(chunks);
    if (all.length > 0) machine.receiveAt(0, all);
    return () => {};
  }
  if (stdin.isTTY) stdin.setRawMode(true);
  // A replayed run ends where the record's input leaves it, whatever the terminal does.
  machine.inputOpen = !replaying;
  const onData = (chunk: Buffer) => {
    if (stdin.isTTY && chunk.includes(DETACH)) {
      // The run ends here, so bytes typed before Ctrl-] in the same chunk would never be read.
      machine.stop({ status: 0, reason: "detached", message: "detached (Ctrl-]); the guest is stopped" });
      return;
    }
    if (!replaying) machine.receive(chunk);
  };
  const onEnd = () => {
    machine.inputOpen = false;
    machine.wake();
  };
  stdin.on("data", onData);
  stdin.on("end", onEnd);
  return () => {
    stdin.off("data", onData);
    stdin.off("end", onEnd);
    if (stdin.isTTY) stdin.setRawMode(false);
    stdin.pause();
  };
}

/** `xenoscope run`: returns the exit status DESIGN.md's command-line conventions define. */
export async function runCommand(argv: string[]): Promise<number> {
  const args = parseRunArgs(argv);
  if ("help" in args) {
    console.log(RUN_HELP);
    return 0;
  }
  if ("error" in args) {
    console.error(`xenoscope run: ${args.error}`);
    return 64;
  }
  let image: Uint8Array;
  try {
    image = readFileSync(args.image);
  } catch (e) {
    console.error(`xenoscope run: cannot read ${args.image}: ${(e as Error).message}`);
    return 64;
  }
  if (args.machine === "xen") return runXen(args, image);
  let replay: InputChunk[] | undefined;
  if (args.replay !== undefined) {
    let text: string;
    try {
      text = readFileSync(args.replay, "latin1");
    } catch (e) {
      console.error(`xenoscope run: cannot read the input record ${args.replay}: ${(e as Error).message}`);
      return 64;
    }
    const parsed = parseInputRecord(text);
    if (!Array.isArray(parsed)) {
      console.error(`xenoscope run: ${args.replay}:${parsed.line}: ${parsed.error}`);
      return 64;
    }
    replay = parsed;
  }
  let trace: TraceFile | undefined;
  let record: InputRecordFile | undefined;
  const closeFiles = () => {
    trace?.close();
    record?.close();
  };
  if (args.trace !== undefined) {
    try {
      trace = new TraceFile(openSync(args.trace, "w"));
    } catch (e) {
      console.error(`xenoscope run: cannot write the trace ${args.trace}: ${(e as Error).message}`);
      return 64;
    }
  }
  if (args.record !== undefined) {
    try {
      record = new InputRecordFile(openSync(args.record, "w"));
    } catch (e) {
      closeFiles();
      console.error(`xenoscope run: cannot write the input record ${args.record}: ${(e as Error).message}`);
      return 64;
    }
  }

  const coreTrace = trace && args.traceInsns ? new CoreTraceLines((line) => trace.line(line)) : undefined;
  const stdout = new OutputBuffer(process.stdout.fd);
  const merge = new ConsoleMerge((b) => stdout.push(b));
  let machine: BareMachine;
  try {
    machine = await createBareMachine({
      ramBytes: args.memMiB * MiB,
      clock: args.clock,
      onSerial: (b) => merge.serial(b),
      onDebugConsole: (b) => merge.debugConsole(b),
      onInput: record && ((at, bytes) => record.chunk(at, bytes)),
      trace: trace && ((line) => trace.line(line)),
      coreTrace: coreTrace && { sink: (read) => coreTrace.take(read) },
    });
  } catch (e) {
    closeFiles();
    console.error(`xenoscope run: --mem ${args.memMiB}: ${(e as Error).message}`);
    return 64;
  }
  machine.ports.logSink = (line) => process.stderr.write(`${line}\n`);
  for (const port of args.portLog) machine.ports.logWrites(port);
  try {
    machine.load(image, { format: args.format, cmdline: args.image });
  } catch (e) {
    if (!(e instanceof LoadError)) throw e;
    closeFiles();
    console.error(`xenoscope run: ${args.image}: ${e.message}`);
    return 64;
  }
  if (args.timeoutSeconds !== undefined) machine.timeoutNs = machine.clock.now() + args.timeoutSeconds * 1e9;
  for (const { at, bytes } of replay ?? []) machine.receiveAt(at, bytes);

  const detachInput = await attachInput(machine, args.clock === "deterministic", replay !== undefined);
  const started = performance.now();
  let end;
  try {
    end = await machine.run();
  } finally {
    detachInput();
    stdout.flush();
    closeFiles();
  }
  const seconds = (performance.now() - started) / 1000;
  if (end.message) console.error(`xenoscope: ${end.message} (status ${end.status})`);
  if (args.stats) {
    const instructions = machine.cpu.instructions();
    const mips = seconds > 0 ? instructions / seconds / 1e6 : 0;
    console.error(
      `xenoscope: ${instructions} instructions in ${seconds.toFixed(3)} s: ${mips.toFixed(1)} MIPS ` +
        `(${machine.exits} exits, ${machine.interrupts} interrupts)`,
    );
  }
  return end.status;
}
