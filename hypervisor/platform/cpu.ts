// hypervisor/platform/cpu.ts — the CPU as TypeScript sees it: build/core.wasm behind one small class.
//
// The core keeps every register at a fixed offset of its linear memory
// (core/layout.ts) and machine RAM in one flat range of it, so this class is
// mostly views: a Uint32Array over the state block and a Uint8Array over
// RAM, read and written in place, with no call across the wasm boundary. The
// hot path (`run`) calls the export directly. The views are rebuilt whenever
// the wasm memory has grown (allocating a ROM can grow it), since growth
// detaches the old ArrayBuffer. Values read from the Uint32Array are
// unsigned already; values computed with JavaScript's bitwise operators are
// brought back to unsigned with `>>> 0`.
//
// The exit protocol (core/layout.ts, "The I/O log"): run() returns
// EXIT_IO or EXIT_MMIO with the instruction not yet executed; for an input
// the host calls setExitData(value), for an output it performs the write;
// then it calls run() again, which completes the instruction. emulateOne
// (core/emulate.ts) executes one instruction for the host, with the I/O
// permission, read-only pages or CPUID handed to it, and its exits are
// completed the same way (see emulateOne).
//
// Host writes into guest RAM go through the core (hostWritePhysical) so the
// core sees every one; reads may use the RAM view directly.
//
// The trace (core/trace.ts) is read the same way: enableTrace has the core
// make its ring, and readTrace decodes the entries written since the last
// read straight from linear memory, with no call per entry.

import { instantiateSync } from "@assemblyscript/loader";
import * as L from "../../core/layout.js";

/** The exports of build/core.wasm this class uses. */
export interface CoreExports {
  memory: { readonly buffer: ArrayBuffer };
  createMachine(ramBytes: number): number;
  allocateRom(romBytes: number): number;
  reset(): void;
  run(budget: number): number;
  hostScratch(): number;
  hostScratchSize(): number;
  hostTranslate(linear: number, access: number): bigint;
  hostReadVirtual(linear: number, len: number, dst: number, access: number): number;
  hostWriteVirtual(linear: number, len: number, src: number, access: number): number;
  hostWritePhysical(pa: number, len: number, src: number): number;
  hostSyncPaging(): boolean | number;
  hostMemoryMapChanged(): void;
  hostFlushTlbAll(): void;
  traceAllocate(entries: number): number;
  hostEmulateOne(flags: number): number;
}

/** A segment register: selector and hidden descriptor cache (core/layout.ts). */
export interface Segment {
  selector: number;
  base: number;
  limit: number;
  /** Descriptor bits 40-55 shifted down by 8 (access byte in 0-7, flags in 12-15); bit 16: unusable. */
  attr: number;
}

/** The flat protected-mode state a loader leaves (hypervisor/platform/boot.ts ProtectedModeEntry). */
export interface FlatEntry {
  eip: number;
  eax: number;
  ebx: number;
  esp: number;
  eflags: number;
  cr0: number;
  gdtr: { base: number; limit: number };
  code: Segment;
  data: Segment;
}

/** Segment register numbers, in the SDM's order (core/layout.ts SEG_*). */
export const ES = L.SEG_ES, CS = L.SEG_CS, SS = L.SEG_SS, DS = L.SEG_DS, FS = L.SEG_FS, GS = L.SEG_GS;
export const LDTR = L.SEG_LDTR, TR = L.SEG_TR;

const REG_NAMES = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"] as const;

/** The exit reasons of run() and emulateOne by number (core/layout.ts EXIT_*), for messages and traces. */
export const EXIT_REASON_NAMES: Readonly<Record<number, string>> = {
  [L.EXIT_BUDGET]: "budget",
  [L.EXIT_HLT]: "hlt",
  [L.EXIT_IO]: "io",
  [L.EXIT_MMIO]: "mmio",
  [L.EXIT_EXCEPTION]: "exception",
  [L.EXIT_SHUTDOWN]: "shutdown",
  [L.EXIT_CPUID]: "cpuid",
  [L.EXIT_WRITE_INTERCEPT]: "write-intercept",
};

/** The name of an exit reason, or "exit N" for a number the core does not return. */
export function exitReasonName(reason: number): string {
  return EXIT_REASON_NAMES[reason] ?? `exit ${reason}`;
}

// The core's trace (core/trace.ts; the entry format is in core/layout.ts).

/** What every trace entry has: the instructions retired before it, and a CS:EIP. */
interface TraceHead {
  count: number;
  cs: number;
  eip: number;
}

/** An instruction: EIP is its first byte's. */
export interface TraceInstruction extends TraceHead {
  kind: "instruction";
  /** "stopped": it stopped for an I/O or MMIO exit and runs again, from its first byte, on the next run. */
  outcome: "retired" | "faulted" | "stopped";
  /** CS.D was set: 32-bit code (disassemble with bits 32). */
  code32: boolean;
  /** Bytes it fetched (0 when it faulted before its first byte). */
  length: number;
  /** Its bytes as fetched: all `length` of them but in the rare case core/trace.ts explains. */
  bytes: Uint8Array;
}

/** An external interrupt taken (INTR); EIP is where its handler returns to. */
export interface TraceInterrupt extends TraceHead {
  kind: "interrupt";
  vector: number;
  /** False when delivering it faulted: the fault (or #DF) follows. */
  delivered: boolean;
}

/** How the SDM names an exception's source (core/interrupt.ts EVENT_*). */
export type TraceExceptionSource = "exception" | "software-interrupt" | "software-exception" | "int1";
const EXCEPTION_SOURCES: readonly TraceExceptionSource[] = ["exception", "exception", "software-interrupt", "software-exception", "int1"];

/** An exception or software interrupt delivered; EIP is where its handler returns to. */
export interface TraceException extends TraceHead {
  kind: "exception";
  vector: number;
  /** -1 when the exception pushes none. */
  errorCode: number;
  /** For #PF, the faulting linear address (CR2); else 0. */
  address: number;
  source: TraceExceptionSource;
  delivered: boolean;
}

/** run() returned to the host for something it must see (not its budget, not a halt). */
export interface TraceExit extends TraceHead {
  kind: "exit";
  /** core/layout.ts EXIT_IO, EXIT_MMIO, EXIT_EXCEPTION or EXIT_SHUTDOWN. */
  reason: number;
  /** EXIT_EXCEPTION: the vector and error code (-1: none). */
  vector?: number;
  errorCode?: number;
  /** EXIT_IO: the port; EXIT_MMIO: the physical address; with the size, direction and an output's data. */
  port?: number;
  address?: number;
  size?: number;
  input?: boolean;
  data?: number;
}

/** HLT retired; EIP is the one after it. */
export interface TraceHalt extends TraceHead {
  kind: "hlt";
}

export type TraceEntry = TraceInstruction | TraceInterrupt | TraceException | TraceExit | TraceHalt;

export interface TraceRead {
  /** The entries written since the last read, oldest first. */
  entries: TraceEntry[];
  /** Entries the ring overwrote before they were read. */
  lost: number;
}

export interface TraceOptions {
  /** Entries the ring holds, a power of two (default 65536, 2 MiB). */
  capacity?: number;
  /** Record every instruction (default true). */
  instructions?: boolean;
  /** Record interrupts, exceptions, exits and halts (default true). */
  events?: boolean;
}

export const DEFAULT_TRACE_ENTRIES = 1 << 16;

/** One entry of the ring at byte `at` of linear memory (core/layout.ts, "A trace entry"). */
function decodeTraceEntry(view: DataView, bytes: Uint8Array, at: number): TraceEntry {
  const head: TraceHead = {
    count: view.getUint32(at + L.TRACE_COUNT, true) + view.getUint32(at + L.TRACE_COUNT + 4, true) * 2 ** 32,
    cs: view.getUint16(at + L.TRACE_CS, true),
    eip: view.getUint32(at + L.TRACE_EIP, true),
  };
  const status = bytes[at + L.TRACE_STATUS]!;
  const arg = (i: number) => view.getUint32(at + L.TRACE_ARG0 + 4 * i, true);
  const code = (v: number) => (v === 0xffffffff ? -1 : v);
  switch (bytes[at + L.TRACE_KIND]) {
    case L.TRACE_INSN: {
      const outcome = status & 3;
      const length = bytes[at + L.TRACE_LENGTH]!;
      return {
        kind: "instruction", ...head,
        outcome: outcome === L.TRACE_RETIRED ? "retired" : outcome === L.TRACE_FAULTED ? "faulted" : "stopped",
        code32: (status & L.TRACE_CODE32) !== 0,
        length,
        bytes: bytes.slice(at + L.TRACE_BYTES, at + L.TRACE_BYTES + Math.min(length, status >>> 4)),
      };
    }
    case L.TRACE_INTERRUPT:
      return { kind: "interrupt", ...head, vector: arg(0), delivered: status === L.TRACE_DELIVERED };
    case L.TRACE_EXCEPTION:
      return {
        kind: "exception", ...head, vector: arg(0), errorCode: code(arg(1)), address: arg(2),
        source: EXCEPTION_SOURCES[arg(3)] ?? "exception", delivered: status === L.TRACE_DELIVERED,
      };
    case L.TRACE_EXIT: {
      const reason = arg(0);
      if (reason === L.EXIT_EXCEPTION) return { kind: "exit", ...head, reason, vector: arg(1), errorCode: code(arg(2)) };
      if (reason === L.EXIT_IO || reason === L.EXIT_MMIO) {
        const where = reason === L.EXIT_IO ? { port: arg(1) } : { address: arg(1) };
        return { kind: "exit", ...head, reason, ...where, size: arg(2) & 0xff, input: (arg(2) >>> 8) === 1, data: arg(3) };
      }
      return { kind: "exit", ...head, reason };
    }
    case L.TRACE_HLT:
      return { kind: "hlt", ...head };
  }
  throw new Error(`the core's trace ring holds an entry of unknown kind ${bytes[at + L.TRACE_KIND]} at ${at}`);
}

/** Where build/core.wasm is, seen from this module (TypeScript sources or build/js). */
export function coreWasmUrl(): URL {
  const here = import.meta.url;
  return here.includes("/build/js/") ? new URL("../../../core.wasm", here) : new URL("../../build/core.wasm", here);
}

/** Reads build/core.wasm: from the file system under Node, with fetch in a browser. */
export async function readCoreWasm(url: URL = coreWasmUrl()): Promise<Uint8Array> {
  if (url.protocol === "file:") {
    const { readFile } = await import("node:fs/promises");
    return new Uint8Array(await readFile(url));
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot load ${url.href}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

export class Cpu {
  /** emulateOne flags (core/layout.ts EMULATE_*): IN, OUT, INS, OUTS skip the IOPL and I/O-bitmap checks. */
  static readonly EMULATE_IO_PERMITTED = L.EMULATE_IO_PERMITTED;
  /** A write refused only because the page is read-only exits with EXIT_WRITE_INTERCEPT instead of #PF. */
  static readonly EMULATE_WRITES_TO_HOST = L.EMULATE_WRITES_TO_HOST;
  /** CPUID exits with EXIT_CPUID. */
  static readonly EMULATE_CPUID_EXIT = L.EMULATE_CPUID_EXIT;

  readonly core: CoreExports;
  /** Bytes of machine RAM. */
  readonly ramBytes: number;
  private buffer: ArrayBuffer | null = null;
  private stateView!: Uint32Array;
  private ramView!: Uint8Array;
  private ramBase: number;
  /** The trace ring's size as allocated (0: none yet), and TRACE_WRITTEN when the host last read it. */
  private traceAllocated = 0;
  private traceReadUpTo = 0;

  /** Instantiates the core from its wasm bytes and creates a machine with `ramBytes` of RAM (a multiple of 4 KiB). */
  static create(wasm: Uint8Array, ramBytes: number = L.DEFAULT_RAM_BYTES): Cpu {
    const { exports } = instantiateSync<Record<string, unknown>>(wasm, {});
    return new Cpu(exports as unknown as CoreExports, ramBytes);
  }

  /** Reads build/core.wasm (see readCoreWasm) and creates a machine. */
  static async load(ramBytes: number = L.DEFAULT_RAM_BYTES, url?: URL): Promise<Cpu> {
    return Cpu.create(await readCoreWasm(url), ramBytes);
  }

  private constructor(core: CoreExports, ramBytes: number) {
    this.core = core;
    const base = core.createMachine(ramBytes) >>> 0;
    if (base === 0) throw new Error(`cannot create a machine with ${ramBytes} bytes of RAM (a multiple of 4 KiB, once)`);
    this.ramBase = base;
    this.ramBytes = ramBytes;
    this.views();
  }

  /** Rebuilds the views if the wasm memory grew since they were made. */
  private views(): void {
    const buffer = this.core.memory.buffer;
    if (buffer === this.buffer) return;
    this.buffer = buffer;
    this.stateView = new Uint32Array(buffer, 0, L.STATE_SIZE / 4);
    this.ramView = new Uint8Array(buffer, this.ramBase, this.ramBytes);
  }

  /** The state block as 32-bit words: index = layout offset / 4. */
  get state(): Uint32Array {
    this.views();
    return this.stateView;
  }

  /** Machine RAM, from physical address 0; read freely, write through `write`. */
  get ram(): Uint8Array {
    this.views();
    return this.ramView;
  }

  /** The 32-bit word at a layout offset. */
  word(offset: number): number {
    return this.state[offset >>> 2] >>> 0;
  }

  setWord(offset: number, value: number): void {
    this.state[offset >>> 2] = value >>> 0;
  }

  // ------------------------------------------------------------ registers

  get eax(): number { return this.word(L.REG_EAX); }
  set eax(v: number) { this.setWord(L.REG_EAX, v); }
  get ecx(): number { return this.word(L.REG_ECX); }
  set ecx(v: number) { this.setWord(L.REG_ECX, v); }
  get edx(): number { return this.word(L.REG_EDX); }
  set edx(v: number) { this.setWord(L.REG_EDX, v); }
  get ebx(): number { return this.word(L.REG_EBX); }
  set ebx(v: number) { this.setWord(L.REG_EBX, v); }
  get esp(): number { return this.word(L.REG_ESP); }
  set esp(v: number) { this.setWord(L.REG_ESP, v); }
  get ebp(): number { return this.word(L.REG_EBP); }
  set ebp(v: number) { this.setWord(L.REG_EBP, v); }
  get esi(): number { return this.word(L.REG_ESI); }
  set esi(v: number) { this.setWord(L.REG_ESI, v); }
  get edi(): number { return this.word(L.REG_EDI); }
  set edi(v: number) { this.setWord(L.REG_EDI, v); }
  get eip(): number { return this.word(L.REG_EIP); }
  set eip(v: number) { this.setWord(L.REG_EIP, v); }
  /** EFLAGS as stored (bit 1 always set). */
  get eflags(): number { return this.word(L.REG_EFLAGS); }
  set eflags(v: number) { this.setWord(L.REG_EFLAGS, (v | 2) >>> 0); }
  get cr0(): number { return this.word(L.REG_CR0); }
  set cr0(v: number) { this.setWord(L.REG_CR0, v); }
  get cr2(): number { return this.word(L.REG_CR2); }
  set cr2(v: number) { this.setWord(L.REG_CR2, v); }
  get cr3(): number { return this.word(L.REG_CR3); }
  set cr3(v: number) { this.setWord(L.REG_CR3, v); }
  get cr4(): number { return this.word(L.REG_CR4); }
  set cr4(v: number) { this.setWord(L.REG_CR4, v); }
  get cpl(): number { return this.word(L.REG_CPL); }
  set cpl(v: number) { this.setWord(L.REG_CPL, v & 3); }

  /** A general register by its encoding number (0 eax … 7 edi). */
  reg(n: number): number {
    return this.word(L.REG_EAX + n * 4);
  }

  setReg(n: number, v: number): void {
    this.setWord(L.REG_EAX + n * 4, v);
  }

  /** The eight general registers by name, for tests and traces. */
  registers(): Record<(typeof REG_NAMES)[number], number> {
    const out = {} as Record<(typeof REG_NAMES)[number], number>;
    REG_NAMES.forEach((name, i) => (out[name] = this.reg(i)));
    return out;
  }

  segment(sreg: number): Segment {
    const at = L.SEG_BASE + sreg * L.SEG_RECORD_SIZE;
    return {
      selector: this.word(at + L.SEG_SELECTOR),
      base: this.word(at + L.SEG_BASE_ADDR),
      limit: this.word(at + L.SEG_LIMIT),
      attr: this.word(at + L.SEG_ATTR),
    };
  }

  setSegment(sreg: number, seg: Segment): void {
    const at = L.SEG_BASE + sreg * L.SEG_RECORD_SIZE;
    this.setWord(at + L.SEG_SELECTOR, seg.selector);
    this.setWord(at + L.SEG_BASE_ADDR, seg.base);
    this.setWord(at + L.SEG_LIMIT, seg.limit);
    this.setWord(at + L.SEG_ATTR, seg.attr);
  }

  /** GDTR or IDTR. */
  table(idt: boolean): { base: number; limit: number } {
    return idt
      ? { base: this.word(L.REG_IDTR_BASE), limit: this.word(L.REG_IDTR_LIMIT) }
      : { base: this.word(L.REG_GDTR_BASE), limit: this.word(L.REG_GDTR_LIMIT) };
  }

  setTable(idt: boolean, base: number, limit: number): void {
    this.setWord(idt ? L.REG_IDTR_BASE : L.REG_GDTR_BASE, base);
    this.setWord(idt ? L.REG_IDTR_LIMIT : L.REG_GDTR_LIMIT, limit);
  }

  /** Instructions retired since the machine was created (INSN_COUNT). */
  instructions(): number {
    return this.word(L.INSN_COUNT) + this.word(L.INSN_COUNT + 4) * 2 ** 32;
  }

  /** The time-stamp counter. */
  tsc(): bigint {
    return (BigInt(this.word(L.REG_TSC + 4)) << 32n) | BigInt(this.word(L.REG_TSC));
  }

  // ------------------------------------------------------------ running

  /** Power-up state (SDM Vol. 3A Table 9-1); RAM is kept. */
  reset(): void {
    this.core.reset();
  }

  /** Executes at most `budget` instructions; returns the exit reason (core/layout.ts EXIT_*). */
  run(budget: number): number {
    return this.core.run(budget) >>> 0;
  }

  exitReason(): number { return this.word(L.EXIT_REASON); }
  exitVector(): number { return this.word(L.EXIT_VECTOR); }
  /** The exception's error code, or -1 when it has none. */
  exitErrorCode(): number { return this.state[L.EXIT_ERROR_CODE >>> 2] === 0xffffffff ? -1 : this.word(L.EXIT_ERROR_CODE); }
  exitPort(): number { return this.word(L.EXIT_PORT); }
  /** The size of an I/O or MMIO access (an EXIT_WRITE_INTERCEPT write may be 1 to 8 bytes: exitWriteBytes). */
  exitSize(): 1 | 2 | 4 { return this.word(L.EXIT_SIZE) as 1 | 2 | 4; }
  /** True for an input (IN, INS, an MMIO load): the host answers with setExitData before the next run. */
  exitIsInput(): boolean { return this.word(L.EXIT_DIRECTION) === 1; }
  exitData(): number { return this.word(L.EXIT_DATA); }
  setExitData(value: number): void { this.setWord(L.EXIT_DATA, value); }
  /** The physical address of an MMIO exit or a write intercept, or the faulting linear address of a #PF exit. */
  exitAddress(): number { return this.word(L.EXIT_ADDRESS); }
  exitInsnLength(): number { return this.word(L.EXIT_INSN_LENGTH); }
  /** What kind of event an EXIT_EXCEPTION was (core/layout.ts EXIT_EVENT_KIND): 0 external, 1 exception, 2 INT n, 3 INT3/INTO, 4 INT1. */
  exitEventKind(): number { return this.word(L.EXIT_EVENT_KIND); }
  /** The linear address of an EXIT_WRITE_INTERCEPT write. */
  exitLinear(): number { return this.word(L.EXIT_LINEAR); }
  /** The high dword of an 8-byte EXIT_WRITE_INTERCEPT write (CMPXCHG8B). */
  exitDataHigh(): number { return this.word(L.EXIT_DATA_HIGH); }

  /** The bytes an EXIT_WRITE_INTERCEPT write stores at exitAddress(), in memory order (1 to 8 of them). */
  exitWriteBytes(): Uint8Array {
    const size = Math.min(this.word(L.EXIT_SIZE), 8);
    const bytes = new Uint8Array(8);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, this.word(L.EXIT_DATA), true);
    view.setUint32(4, this.word(L.EXIT_DATA_HIGH), true);
    return bytes.subarray(0, size);
  }

  /**
   * Executes the one instruction at CS:EIP for the host, with what `flags`
   * allows beyond the guest's own state (Cpu.EMULATE_*), and returns the
   * outcome (core/emulate.ts):
   * - EXIT_BUDGET: it retired (EIP past it, instructions() and the TSC one
   *   more; a REP string instruction did one iteration). EXIT_HLT: HLT
   *   retired and the CPU is halted.
   * - EXIT_EXCEPTION: exitVector(), exitErrorCode() and, for #PF,
   *   exitAddress(); nothing was delivered. A fault changed nothing (EIP
   *   on the instruction); a trap (INT n, INT3, INTO, INT1, single-step,
   *   a data breakpoint) came after the instruction retired.
   * - EXIT_IO, EXIT_MMIO: as after run(); answer (setExitData for an
   *   input) and call emulateOne again with the same flags.
   * - EXIT_WRITE_INTERCEPT: the guest writes exitWriteBytes() at physical
   *   exitAddress() (linear exitLinear()); RAM is unchanged. Write them,
   *   or what the hypervisor puts there instead, with `write` (or refuse
   *   to), then call emulateOne again with the same flags: the
   *   instruction completes and counts the write as done.
   * - EXIT_CPUID: nothing changed; the leaf is in EAX, the subleaf in ECX.
   *   Set EAX, EBX, ECX and EDX and call emulateOne again with the same
   *   flags: the CPUID retires with those values.
   * To abandon an instruction that exited instead (bounce a fault to the
   * guest, or move EIP past it yourself), call abandonInstruction first.
   */
  emulateOne(flags: number): number {
    return this.core.hostEmulateOne(flags) >>> 0;
  }

  /**
   * Forgets the accesses an exited instruction has made (the I/O log): for
   * a host that completes the instruction itself or will not complete it.
   */
  abandonInstruction(): void {
    this.setWord(L.IO_LOG_COUNT, 0);
    this.setWord(L.IO_LOG_AWAITING, 0);
  }

  /** Bit v set: exception v exits with EXIT_EXCEPTION instead of going through the IDT. */
  get exceptionExitBitmap(): number { return this.word(L.EXCEPTION_EXIT_BITMAP); }
  set exceptionExitBitmap(bits: number) { this.setWord(L.EXCEPTION_EXIT_BITMAP, bits); }

  /** The execution mode (core/layout.ts EXEC_NATIVE, EXEC_PV). */
  get execMode(): number { return this.word(L.EXEC_MODE); }
  set execMode(mode: number) { this.setWord(L.EXEC_MODE, mode); }

  /** Under EXEC_PV: INT `vector` goes through the IDT (true) or exits to the host (false), as core/pv.ts describes. */
  setDirectVector(vector: number, direct: boolean): void {
    const at = L.PV_DIRECT_VECTORS + ((vector & 0xff) >>> 5) * 4;
    const bit = 1 << (vector & 31);
    this.setWord(at, direct ? this.word(at) | bit : this.word(at) & ~bit);
  }

  /** The INTR line: asserted with a vector, dropped by the core when it takes the interrupt. */
  intrPending(): boolean { return this.word(L.INTR_PENDING) !== 0; }
  setIntr(pending: boolean, vector: number): void {
    this.setWord(L.INTR_VECTOR, vector & 0xff);
    this.setWord(L.INTR_PENDING, pending ? 1 : 0);
  }

  halted(): boolean { return this.word(L.HALTED) !== 0; }
  interruptsEnabled(): boolean { return (this.eflags & 0x200) !== 0; }

  // ------------------------------------------------------------ memory map

  /** Opens or closes the A20 gate. */
  setA20(enabled: boolean): void {
    this.setWord(L.A20_ENABLED, enabled ? 1 : 0);
    this.core.hostMemoryMapChanged();
  }

  /** Maps a ROM image (whole 64 KiB blocks, at most 1 MiB, once) below 4 GiB and, its last 64 KiB, at 0xF0000. */
  loadRom(rom: Uint8Array): void {
    const size = this.word(L.MACHINE_ROM_SIZE);
    if (size === 0) {
      if (rom.length === 0 || rom.length % 0x10000 !== 0 || rom.length > 0x100000) {
        throw new Error(`a ROM is whole 64 KiB blocks up to 1 MiB, not ${rom.length} bytes`);
      }
      if (this.core.allocateRom(rom.length) === 0) throw new Error("cannot allocate the ROM");
    } else if (size !== rom.length) {
      throw new Error(`the ROM is ${size} bytes; a new image must be the same size, not ${rom.length}`);
    }
    const base = this.word(L.MACHINE_ROM_BASE);
    this.views();
    new Uint8Array(this.core.memory.buffer, base, rom.length).set(rom);
    this.core.hostMemoryMapChanged();
  }

  /** Claims [first, last] (physical, outside RAM) as MMIO: accesses there exit with EXIT_MMIO. */
  claimMmio(first: number, last: number): void {
    const n = this.word(L.MMIO_COUNT);
    if (n >= L.MMIO_MAX) throw new Error(`at most ${L.MMIO_MAX} MMIO ranges`);
    if (first >>> 0 < this.ramBytes || last >>> 0 < first >>> 0) {
      throw new Error(`an MMIO range lies above RAM: ${first.toString(16)}-${last.toString(16)}`);
    }
    this.setWord(L.MMIO_RANGES + n * 8, first);
    this.setWord(L.MMIO_RANGES + n * 8 + 4, last);
    this.setWord(L.MMIO_COUNT, n + 1);
    this.core.hostMemoryMapChanged();
  }

  // ------------------------------------------------------------ guest memory

  /** Copies `bytes` to physical address `pa` in RAM, through the core. */
  write(pa: number, bytes: Uint8Array): void {
    const scratch = this.core.hostScratch() >>> 0;
    const chunk = this.core.hostScratchSize() >>> 0;
    for (let done = 0; done < bytes.length; done += chunk) {
      const part = bytes.subarray(done, done + chunk);
      new Uint8Array(this.core.memory.buffer, scratch, part.length).set(part);
      if (this.core.hostWritePhysical(pa + done, part.length, scratch) < 0) {
        throw new Error(`physical write outside RAM at ${(pa + done).toString(16)}`);
      }
    }
  }

  /** Sets `length` bytes of RAM from `pa` to `value`. */
  fill(pa: number, length: number, value: number): void {
    const chunk = Math.min(length, this.core.hostScratchSize() >>> 0);
    const block = new Uint8Array(chunk).fill(value);
    for (let done = 0; done < length; done += chunk) this.write(pa + done, block.subarray(0, Math.min(chunk, length - done)));
  }

  /** A copy of `length` bytes of RAM from physical `pa`. */
  read(pa: number, length: number): Uint8Array {
    return this.ram.slice(pa, pa + length);
  }

  /** Reads guest-virtual memory through the current paging; null when a page faults. */
  readVirtual(linear: number, length: number, user = false): Uint8Array | null {
    const scratch = this.core.hostScratch() >>> 0;
    const chunk = this.core.hostScratchSize() >>> 0;
    const out = new Uint8Array(length);
    for (let done = 0; done < length; done += chunk) {
      const n = Math.min(chunk, length - done);
      if (this.core.hostReadVirtual((linear + done) >>> 0, n, scratch, user ? 2 : 0) !== n) return null;
      out.set(new Uint8Array(this.core.memory.buffer, scratch, n), done);
    }
    return out;
  }

  /**
   * The physical address of guest-virtual `linear` for a read or a write with
   * the kernel's rights (or ring 3's, with `user`), through the current
   * paging; null when that access would fault.
   */
  translateVirtual(linear: number, write = false, user = false): number | null {
    const pa = this.core.hostTranslate(linear >>> 0, (write ? 1 : 0) | (user ? 2 : 0));
    return pa < 0n ? null : Number(pa);
  }

  /** Drops every translation the core caches (after the host changed page tables or their types). */
  flushTlb(): void {
    this.core.hostFlushTlbAll();
  }

  /** Writes guest-virtual memory through the current paging; false when a page faults. */
  writeVirtual(linear: number, bytes: Uint8Array, user = false): boolean {
    const scratch = this.core.hostScratch() >>> 0;
    const chunk = this.core.hostScratchSize() >>> 0;
    for (let done = 0; done < bytes.length; done += chunk) {
      const part = bytes.subarray(done, done + chunk);
      new Uint8Array(this.core.memory.buffer, scratch, part.length).set(part);
      if (this.core.hostWriteVirtual((linear + done) >>> 0, part.length, scratch, user ? 2 : 0) !== part.length) return false;
    }
    return true;
  }

  // ------------------------------------------------------------ trace

  /**
   * Starts recording into the core's trace ring (made on the first call,
   * with `capacity` entries; a later call may ask for fewer). Takes effect
   * at the next run; readTrace returns what was recorded from here on.
   */
  enableTrace(options: TraceOptions = {}): void {
    const capacity = options.capacity ?? DEFAULT_TRACE_ENTRIES;
    if (!Number.isInteger(capacity) || capacity < L.TRACE_MIN_ENTRIES || capacity > L.TRACE_MAX_ENTRIES || (capacity & (capacity - 1)) !== 0) {
      throw new Error(`a trace ring holds a power of two from ${L.TRACE_MIN_ENTRIES} to ${L.TRACE_MAX_ENTRIES} entries, not ${capacity}`);
    }
    if (this.traceAllocated !== 0 && capacity > this.traceAllocated) {
      throw new Error(`the trace ring is allocated once, with ${this.traceAllocated} entries: ${capacity} do not fit`);
    }
    if (this.core.traceAllocate(capacity) === 0) {
      throw new Error(`cannot allocate a trace ring of ${capacity} entries: the core's memory would outgrow its maximum`);
    }
    if (this.traceAllocated === 0) this.traceAllocated = capacity;
    this.traceReadUpTo = this.traceWritten();
    this.setWord(L.TRACE_ENABLE, (options.instructions ?? true ? L.TRACE_INSTRUCTIONS : 0) | (options.events ?? true ? L.TRACE_EVENTS : 0));
  }

  /** Stops recording (from the next run); what was recorded can still be read. */
  disableTrace(): void {
    this.setWord(L.TRACE_ENABLE, 0);
  }

  /** Entries the core has written to its trace ring since it was allocated (TRACE_WRITTEN). */
  traceWritten(): number {
    return this.word(L.TRACE_WRITTEN) + this.word(L.TRACE_WRITTEN + 4) * 2 ** 32;
  }

  /** The trace entries written since the last read (or since enableTrace), and how many of them the ring lost. */
  readTrace(): TraceRead {
    const written = this.traceWritten();
    const capacity = this.word(L.TRACE_CAPACITY);
    let from = this.traceReadUpTo;
    this.traceReadUpTo = written;
    if (capacity === 0 || written === from) return { entries: [], lost: 0 };
    const lost = Math.max(0, written - from - capacity);
    from += lost;
    const base = this.word(L.TRACE_BUFFER);
    this.views();
    const buffer = this.core.memory.buffer;
    const view = new DataView(buffer);
    const bytes = new Uint8Array(buffer);
    const entries: TraceEntry[] = [];
    for (let n = from; n < written; n++) {
      const at = base + (n % capacity) * L.TRACE_ENTRY_SIZE;
      entries.push(decodeTraceEntry(view, bytes, at));
    }
    return { entries, lost };
  }

  // ------------------------------------------------------------ whole state

  /** Loads the state a multiboot or ELF loader leaves: flat protected mode at the entry point. */
  enterProtectedMode(entry: FlatEntry): void {
    this.core.reset();
    this.eax = entry.eax;
    this.ebx = entry.ebx;
    this.esp = entry.esp;
    this.eip = entry.eip;
    this.eflags = entry.eflags;
    this.cr0 = entry.cr0;
    this.setTable(false, entry.gdtr.base, entry.gdtr.limit);
    this.setSegment(CS, entry.code);
    for (const sreg of [ES, SS, DS, FS, GS]) this.setSegment(sreg, entry.data);
    this.cpl = entry.code.selector & 3;
    this.core.hostSyncPaging();
  }

  /** The architectural state (SAVED_STATE_SIZE bytes of the state block). */
  saveState(): Uint8Array {
    return new Uint8Array(this.core.memory.buffer, 0, L.SAVED_STATE_SIZE).slice();
  }

  /**
   * Restores a state saveState produced (RAM is the caller's to restore).
   * Where this machine's RAM and ROM live is kept; then the core reloads
   * what it derives from the state (TLB, PDPTE registers, memory map).
   */
  restoreState(bytes: Uint8Array): void {
    if (bytes.length !== L.SAVED_STATE_SIZE) throw new Error(`a saved state is ${L.SAVED_STATE_SIZE} bytes, not ${bytes.length}`);
    const machine = new Uint32Array(4);
    for (let i = 0; i < 4; i++) machine[i] = this.word(L.MACHINE_RAM_BASE + i * 4);
    new Uint8Array(this.core.memory.buffer, 0, L.SAVED_STATE_SIZE).set(bytes);
    for (let i = 0; i < 4; i++) this.setWord(L.MACHINE_RAM_BASE + i * 4, machine[i]);
    this.core.hostMemoryMapChanged();
    this.core.hostSyncPaging();
  }
}
