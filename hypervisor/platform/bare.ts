// hypervisor/platform/bare.ts — the bare machine: one CPU, RAM, a ROM and the PC's legacy devices.
//
// This is a PC with nothing virtual about it: the CPU runs in NATIVE mode
// (DESIGN.md, "core/ — the CPU"), interrupts and exceptions go through the
// guest's own IDT, and the host's only work is what a chipset does — answer
// I/O ports, route device interrupts through the 8259s to the CPU's INTR
// pin, keep time. The devices and their ports and IRQs are the PC's:
//
//   0x20-0x21, 0xA0-0xA1  8259A master and slave (pic8259.ts)
//   0x40-0x43, IRQ 0      8254 PIT (pit8254.ts)
//   0x61                  system control port B: PIT counter 2 gate and output (port61.ts)
//   0x70-0x71, IRQ 8      MC146818 CMOS clock (cmos.ts)
//   0x92                  fast A20 and reset (port92.ts)
//   0xE9                  debug console (debugcon.ts)
//   0xF4-0xF7             isa-debug-exit (debug-exit.ts)
//   0x3F8-0x3FF, IRQ 4    16550 UART, COM1 (uart16550.ts)
//
// The run loop calls the core's run(budget) in slices. In deterministic
// mode a slice ends exactly at the next timer's deadline (one instruction is
// one virtual ns), so a timer interrupt arrives at the same instruction in
// every run. After each slice the loop completes the exit (an IN or OUT goes
// to the port map), fires due timers, and drives INTR from the PIC: it
// asserts INTR_PENDING with the vector the PIC would give, and when the core
// has cleared INTR_PENDING (it took the interrupt) performs the PIC's
// acknowledge. A halted CPU with interrupts enabled waits for the next timer
// (deterministic: time jumps there) or for host input; with interrupts off
// nothing can wake it, and the run ends. With the core's trace on
// (coreTrace), each slice is short enough for the trace ring to hold all it
// records, and the ring is read as soon as the slice returns.
//
// Host input for COM1 is an event on the clock like a timer (DESIGN.md:
// "host input is injected at recorded instruction counts"). A chunk queued
// with `receiveAt` reaches the UART at the start of the first step whose
// clock time has reached the chunk's time; slices end there and a halted CPU
// skips there, exactly as for a deadline. Keys typed at a terminal
// (`receive`) are queued, in deterministic mode, for the point the run has
// reached when they arrive: the next step boundary, or a few nanoseconds on
// when a replay could not stop there (the slice just run ended at an exit,
// or events used some of its budget; see `reach`). `onInput` reports each
// chunk with the time it reached the UART; queuing the same chunks at the
// same times in a new run repeats it bit for bit, slice for slice, which is
// `xenoscope run --record/--replay`. The key is virtual time, not the
// instruction count alone, because a halted CPU's count stands still while
// its time moves: without a timer it would never reach a later count.
//
// How a run ends, as DESIGN.md's command-line conventions number it: the
// guest writes v to isa-debug-exit ((v << 1) | 1); halts for good (4);
// triple-faults (2); resets itself through port 0x92 (6, "reboot"); or the
// host's timeout passes (124).

import { Clock, hostTime, type ClockMode } from "../clock.js";
import { Cmos, CMOS_DATA_PORT, CMOS_INDEX_PORT, RTC_IRQ } from "../devices/cmos.js";
import { DebugConsole, DEBUGCON_PORT } from "../devices/debugcon.js";
import { DebugExit, debugExitStatus, DEBUG_EXIT_PORT, DEBUG_EXIT_PORTS } from "../devices/debug-exit.js";
import type { IoSize } from "../devices/io.js";
import { Pic8259 } from "../devices/pic8259.js";
import { Pit8254, PIT_PORT_BASE } from "../devices/pit8254.js";
import { Port61, PORT61 } from "../devices/port61.js";
import { Port92, PORT92 } from "../devices/port92.js";
import { COM1_BASE, COM1_IRQ, Uart16550 } from "../devices/uart16550.js";
import { EXIT_BUDGET, EXIT_EXCEPTION, EXIT_HLT, EXIT_IO, EXIT_MMIO, EXIT_SHUTDOWN, REG_TSC, RUN_BUDGET } from "../../core/layout.js";
import { hex, type BootPlan, type PhysicalMemory, type ProtectedModeEntry } from "./boot.js";
import { Cpu, type TraceOptions, type TraceRead } from "./cpu.js";
import { loadImage, type ImageFormat } from "./loaders.js";
import { PortMap } from "./ports.js";
import { haltingRom } from "./rom.js";

/**
 * What the bare machine needs from the CPU: the core's run/exit protocol
 * (core/layout.ts) and a few state accesses. hypervisor/platform/cpu.ts
 * provides all of it; tests may stand in a scripted CPU.
 */
export interface BareCpu extends PhysicalMemory {
  /** Executes at most `budget` instructions; returns an EXIT_* reason (core/layout.ts). */
  run(budget: number): number;
  /** What the last run left of its budget (RUN_BUDGET): instructions and events delivered through the IDT each use one. */
  budgetLeft(): number;
  /** Instructions retired since the CPU was created. */
  instructions(): number;
  /** The exit-info block of the last exit. */
  exitPort(): number;
  exitSize(): IoSize;
  /** True for IN (the host supplies EXIT_DATA), false for OUT. */
  exitIsInput(): boolean;
  exitData(): number;
  setExitData(value: number): void;
  exitVector(): number;
  exitAddress(): number;
  /** The INTR line (INTR_PENDING, INTR_VECTOR): the core clears it when it takes the interrupt. */
  intrPending(): boolean;
  setIntr(pending: boolean, vector: number): void;
  halted(): boolean;
  /** EFLAGS.IF. */
  interruptsEnabled(): boolean;
  setA20(enabled: boolean): void;
  /** Maps a ROM (whole 64 KiB blocks, at most 1 MiB) below 4 GiB and at 0xF0000. */
  loadRom(rom: Uint8Array): void;
  /** Power-up state (SDM Vol. 3A Table 9-1): the next instruction is the reset vector's. */
  reset(): void;
  /** The state a loader leaves: flat protected mode at the entry point. */
  enterProtectedMode(entry: ProtectedModeEntry): void;
  /** The time-stamp counter; the core advances it by one per instruction, the machine by the time that passes otherwise. */
  tsc(): bigint;
  setTsc(value: bigint): void;
  /** The core's trace ring (hypervisor/platform/cpu.ts): needed only for the coreTrace option. */
  enableTrace?(options: TraceOptions): void;
  readTrace?(): TraceRead;
}

export interface MachineEnd {
  /** The process exit status DESIGN.md assigns. */
  status: number;
  reason: "debug-exit" | "halted" | "triple-fault" | "reset" | "exception" | "timeout" | "detached";
  /** One line for the user (empty for a debug-exit, the normal way a guest ends). */
  message: string;
}

export interface BareMachineOptions {
  cpu: BareCpu;
  clock: Clock;
  /** Bytes COM1 transmits. */
  onSerial?: (byte: number) => void;
  /** Bytes written to port 0xE9. */
  onDebugConsole?: (byte: number) => void;
  /**
   * Every chunk of host input as it reaches COM1, with the clock time it
   * arrived at: giving the same chunks to `receiveAt` at the same times
   * repeats a deterministic run (`xenoscope run --record`).
   */
  onInput?: (at: number, bytes: Uint8Array) => void;
  /** One line per exit, interrupt, halt and chunk of input, for `--trace`. */
  trace?: (line: string) => void;
  /**
   * The core's own trace (core/trace.ts): what to record, and where each
   * slice's entries go, handed over as soon as the slice returns, before
   * any `trace` line about its exit, so the two interleave in instruction
   * order.
   */
  coreTrace?: { instructions?: boolean; events?: boolean; sink: (read: TraceRead) => void };
}

/** The longest slice in instructions: how often the loop looks at timers and the host when nothing else stops the CPU. */
const SLICE = 1_000_000;
/** Real-time mode: a slice short enough that a timer is served within about a millisecond. */
const REALTIME_SLICE = 20_000;
/** The run loop lets the host's event loop in (terminal input, signals) at least this often. */
const YIELD_NS = 10_000_000;
/**
 * The core's trace ring, in entries (4 MiB), and the longest slice while it
 * records: one budget unit (an instruction or an event) writes an entry or
 * two, and a fault on top can add the exceptions it turns into (#DF), so an
 * eighth of the ring per slice is never overwritten before it is read.
 */
const CORE_TRACE_ENTRIES = 1 << 17;
const CORE_TRACE_SLICE = CORE_TRACE_ENTRIES / 8;

export class BareMachine {
  readonly cpu: BareCpu;
  readonly clock: Clock;
  readonly ports = new PortMap();
  readonly pic = new Pic8259();
  readonly pit: Pit8254;
  readonly uart: Uart16550;
  readonly cmos: Cmos;
  /** Exits handled and interrupts delivered, for `--stats`. */
  exits = 0;
  interrupts = 0;
  /** True while host input may still arrive (a terminal or an open pipe): a halted guest may be woken by it. */
  inputOpen = false;
  /** Where the run ends on the clock (ns), if anywhere: `--timeout`. */
  timeoutNs = Infinity;
  private ended: MachineEnd | undefined;
  private intrAsserted = false;
  private intrVector = 0;
  private readonly trace: ((line: string) => void) | undefined;
  private readonly coreTraceSink: ((read: TraceRead) => void) | undefined;
  private wakeIdle: (() => void) | undefined;
  private readonly onInput: ((at: number, bytes: Uint8Array) => void) | undefined;
  /** Host input for COM1 waiting for its time, in delivery order (times never decrease). */
  private readonly inputQueue: { at: number; bytes: Uint8Array }[] = [];
  /**
   * Clock time at which a step last gave COM1 its due input: a chunk due at
   * this time or earlier that is queued now would arrive a step late, so
   * live input goes after it and `receiveAt` refuses it.
   */
  private inputChecked = -1;
  /**
   * The latest clock time a slice run so far could have stopped at had its
   * budget been cut there: its start, plus the budget units it used (events
   * use units but not time), plus one when it stopped for an exit, whose
   * instruction needs a unit to start. Live input is queued no earlier, so
   * a replay, which knows the input's time from the beginning and cuts its
   * slices there, slices the run exactly as the live run did.
   */
  private reach = 0;
  /** Clock time and instruction count when the TSC was last brought up to the clock. */
  private tscClock = 0;
  private tscInstructions = 0;

  constructor(options: BareMachineOptions) {
    const { cpu, clock } = options;
    this.cpu = cpu;
    this.clock = clock;
    this.trace = options.trace;
    this.onInput = options.onInput;
    if (options.coreTrace) {
      const { instructions, events, sink } = options.coreTrace;
      if (!cpu.enableTrace || !cpu.readTrace) throw new Error("coreTrace needs a CPU with a trace ring");
      cpu.enableTrace({ capacity: CORE_TRACE_ENTRIES, instructions, events });
      this.coreTraceSink = sink;
    }
    const ports = this.ports;
    ports.register(0x20, 0x21, this.pic.master);
    ports.register(0xa0, 0xa1, this.pic.slave);
    this.pit = new Pit8254(clock, this.pic.irq(0));
    ports.register(PIT_PORT_BASE, PIT_PORT_BASE + 3, this.pit);
    ports.register(PORT61, PORT61, new Port61(clock, this.pit));
    this.cmos = new Cmos(clock, { ramBytes: cpu.ramBytes, irq: this.pic.irq(RTC_IRQ) });
    ports.register(CMOS_INDEX_PORT, CMOS_DATA_PORT, this.cmos);
    ports.register(PORT92, PORT92, new Port92((on) => cpu.setA20(on), () => this.resetRequested(), true));
    ports.register(DEBUGCON_PORT, DEBUGCON_PORT, new DebugConsole(options.onDebugConsole ?? (() => {})));
    ports.register(DEBUG_EXIT_PORT, DEBUG_EXIT_PORT + DEBUG_EXIT_PORTS - 1, new DebugExit((v) => this.debugExit(v)), { wide: true });
    this.uart = new Uart16550("com1", COM1_BASE, clock, options.onSerial ?? (() => {}), this.pic.irq(COM1_IRQ));
    ports.register(COM1_BASE, COM1_BASE + 7, this.uart);
  }

  /**
   * Loads an image with the loader its format needs and starts the CPU the
   * way the loader's plan says. A kernel gets the halting ROM; a ROM image is
   * the ROM. Throws LoadError for a bad image.
   */
  load(image: Uint8Array, options: { format?: ImageFormat; cmdline?: string } = {}): BootPlan {
    const rom = haltingRom();
    const plan = loadImage(image, this.cpu, { ...options, romBytes: rom.length });
    if (plan.kind === "rom") {
      this.cpu.loadRom(plan.rom);
      this.cpu.reset();
    } else {
      this.cpu.loadRom(rom);
      this.cpu.enterProtectedMode(plan.entry);
    }
    this.trace?.(`${this.cpu.instructions()} boot ${plan.summary}`);
    return plan;
  }

  /** The run's outcome once it has ended. */
  get end(): MachineEnd | undefined {
    return this.ended;
  }

  /** Ends the run (the first reason given wins). */
  stop(end: MachineEnd): void {
    if (this.ended) return;
    this.ended = end;
    this.trace?.(`${this.cpu.instructions()} end ${end.reason} status ${end.status}`);
    this.wake();
  }

  /**
   * COM1 receives `bytes` when the clock reaches `at` (ns of virtual time;
   * in deterministic mode instructions executed plus the time HLT skipped).
   * Chunks for the same time arrive in the order given. Throws a RangeError
   * for a time before the last chunk queued, or one the run has passed.
   */
  receiveAt(at: number, bytes: Uint8Array): void {
    const last = this.inputQueue.at(-1)?.at ?? -Infinity;
    if (!Number.isSafeInteger(at) || at < last || at <= this.inputChecked) {
      throw new RangeError(`input at ${at} ns: the run is at ${this.inputChecked} ns and input is queued up to ${last} ns`);
    }
    this.inputQueue.push({ at, bytes: Uint8Array.from(bytes) });
    this.wake();
  }

  /**
   * Host input arriving now, from a terminal or a pipe. In real time COM1
   * takes it at once. In deterministic mode it is queued for the point the
   * run has reached (see `reach`), so `onInput` reports a time at which a
   * replay gives it back at the same instruction.
   */
  receive(bytes: Uint8Array): void {
    if (this.clock.mode !== "deterministic") {
      this.deliverInput(bytes);
      this.wake();
      return;
    }
    const last = this.inputQueue.at(-1)?.at ?? 0;
    this.receiveAt(Math.max(this.clock.now(), this.reach, this.inputChecked + 1, last), bytes);
  }

  /** Host input has arrived (or the input closed): a halted CPU waiting for it looks again. */
  wake(): void {
    const wake = this.wakeIdle;
    this.wakeIdle = undefined;
    wake?.();
  }

  private debugExit(value: number): void {
    this.stop({ status: debugExitStatus(value), reason: "debug-exit", message: "" });
  }

  private resetRequested(): void {
    this.stop({ status: 6, reason: "reset", message: "the guest reset the machine (port 0x92 bit 0); a reboot ends the run" });
  }

  /**
   * Drives the CPU's INTR line from the PIC. First, if the core cleared
   * INTR_PENDING since we asserted it, it took the interrupt: that was the
   * INTA cycle, so the PIC moves the request in service. Then the line is
   * asserted with the vector the PIC would give now, or dropped.
   */
  private syncInterrupt(): void {
    if (this.intrAsserted && !this.cpu.intrPending()) {
      this.intrAsserted = false;
      const vector = this.pic.acknowledge();
      this.interrupts++;
      this.trace?.(`${this.cpu.instructions()} interrupt vector ${hex(vector)}`);
    }
    const vector = this.pic.pendingVector();
    if (vector === undefined) {
      if (this.intrAsserted) this.cpu.setIntr(false, 0);
      this.intrAsserted = false;
    } else if (!this.intrAsserted || vector !== this.intrVector) {
      this.cpu.setIntr(true, vector);
      this.intrAsserted = true;
      this.intrVector = vector;
    }
  }

  /** Clock time of the next thing the host does to the machine: a timer or queued input. */
  private nextEvent(): number {
    return Math.min(this.clock.nextDeadline(), this.inputQueue[0]?.at ?? Infinity);
  }

  /** Instructions the next slice may run: in deterministic mode, exactly up to the next timer or input. */
  private budget(): number {
    const longest = this.coreTraceSink ? CORE_TRACE_SLICE : SLICE;
    if (this.clock.mode !== "deterministic") return Math.min(REALTIME_SLICE, longest);
    const until = Math.min(this.nextEvent(), this.timeoutNs) - this.clock.now();
    return Math.max(1, Math.min(longest, until));
  }

  /** Gives COM1 every queued chunk that is due: at a step's start, after the timers, before INTR is driven. */
  private deliverDueInput(): void {
    const now = this.clock.now();
    this.inputChecked = now;
    while (this.inputQueue.length > 0 && this.inputQueue[0]!.at <= now) this.deliverInput(this.inputQueue.shift()!.bytes);
  }

  private deliverInput(bytes: Uint8Array): void {
    const n = bytes.length;
    this.trace?.(`${this.cpu.instructions()} input com1 ${n} byte${n === 1 ? "" : "s"} at ${this.clock.now()} ns`);
    this.onInput?.(this.clock.now(), bytes);
    this.uart.receive(bytes);
  }

  /**
   * One step of the machine: fire due timers, run a slice, complete its
   * exit. Returns "idle" when the CPU is halted and only the host (input,
   * or real time passing) can move it on.
   */
  step(): "ran" | "idle" {
    this.clock.fireDue();
    if (this.clock.now() >= this.timeoutNs) {
      this.stop({ status: 124, reason: "timeout", message: "the timeout passed" });
    }
    if (this.ended) return "ran";
    this.deliverDueInput();
    this.syncInterrupt();
    if (this.cpu.halted() && !this.intrAsserted) return this.halted();
    const start = this.clock.now();
    const budget = this.budget();
    const reason = this.cpu.run(budget);
    const used = budget - this.cpu.budgetLeft();
    this.reach = Math.max(this.reach, start + used + (reason === EXIT_BUDGET ? 0 : 1));
    this.coreTraceSink?.(this.cpu.readTrace!());
    this.syncTsc();
    this.syncInterrupt();
    if (reason !== EXIT_BUDGET) this.exits++;
    switch (reason) {
      case EXIT_IO:
        this.completeIo();
        break;
      case EXIT_HLT:
        this.trace?.(`${this.cpu.instructions()} hlt`);
        break;
      case EXIT_SHUTDOWN:
        this.stop({ status: 2, reason: "triple-fault", message: "the guest triple-faulted: the CPU shut down" });
        break;
      case EXIT_EXCEPTION:
        this.stop({ status: 2, reason: "exception", message: `unexpected exception exit, vector ${this.cpu.exitVector()}` });
        break;
      case EXIT_MMIO:
        // No device claims MMIO on the bare machine: reads float to all ones.
        if (this.cpu.exitIsInput()) this.cpu.setExitData(0xffffffff);
        this.trace?.(`${this.cpu.instructions()} mmio ${hex(this.cpu.exitAddress())}`);
        break;
    }
    return "ran";
  }

  private completeIo(): void {
    const port = this.cpu.exitPort();
    const size = this.cpu.exitSize();
    if (this.cpu.exitIsInput()) {
      const value = this.ports.read(port, size);
      this.cpu.setExitData(value);
      this.trace?.(`${this.cpu.instructions()} in ${hex(port)}/${size} = ${hex(value)}`);
    } else {
      const value = this.cpu.exitData();
      this.trace?.(`${this.cpu.instructions()} out ${hex(port)}/${size} = ${hex(value)}`);
      this.ports.write(port, size, value);
    }
  }

  /** The CPU is halted and no interrupt is asserted: what can wake it? */
  private halted(): "ran" | "idle" {
    if (!this.cpu.interruptsEnabled()) {
      this.stop({ status: 4, reason: "halted", message: "the guest halted with interrupts off" });
      return "ran";
    }
    const wakeup = this.nextEvent();
    if (wakeup === Infinity && !this.inputOpen) {
      this.stop({
        status: 4,
        reason: "halted",
        message: "the guest halted waiting for an interrupt, with no timer armed and no more input to come",
      });
      return "ran";
    }
    const next = Math.min(wakeup, this.timeoutNs);
    if (this.clock.mode === "deterministic" && next !== Infinity) {
      // DESIGN.md: HLT advances virtual time to the next timer (or input).
      this.clock.skipTo(next);
      this.syncTsc();
      return "ran";
    }
    return "idle";
  }

  /**
   * Keeps the TSC on the clock. The core counts one per instruction; time
   * that passes otherwise (a halted CPU skipping to its timer, or in real
   * time the host being slower than one instruction per ns) is added here,
   * so RDTSC agrees with the PIT and the CMOS clock. A guest's WRMSR to the
   * TSC sets an offset that this keeps.
   */
  private syncTsc(): void {
    const now = this.clock.now();
    const instructions = this.cpu.instructions();
    const unaccounted = now - this.tscClock - (instructions - this.tscInstructions);
    if (unaccounted > 0) this.cpu.setTsc(this.cpu.tsc() + BigInt(unaccounted));
    this.tscClock = now;
    this.tscInstructions = instructions;
  }

  /** Waits, off the CPU, until the next timer (real time) or host input or the end. */
  private idle(): Promise<void> {
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      this.wakeIdle = () => {
        if (timer !== undefined) clearTimeout(timer);
        resolve();
      };
      const next = Math.min(this.nextEvent(), this.timeoutNs);
      if (this.clock.mode === "realtime" && next !== Infinity) {
        timer = setTimeout(() => this.wake(), Math.max(0, (next - this.clock.now()) / 1e6));
      }
    });
  }

  /**
   * Runs the machine until the guest ends the run (or `stop` is called),
   * returning to the host's event loop now and then so terminal input and
   * signals get through.
   */
  async run(): Promise<MachineEnd> {
    while (!this.ended) {
      const until = hostTime.monotonicNs() + YIELD_NS;
      let idle = false;
      while (!this.ended && !idle && hostTime.monotonicNs() < until) idle = this.step() === "idle";
      if (this.ended) break;
      if (idle) {
        await this.idle();
        this.syncTsc();
      } else {
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
    return this.ended!;
  }
}

export interface CreateBareMachineOptions extends Omit<BareMachineOptions, "cpu" | "clock"> {
  /** RAM in bytes (default 128 MiB). */
  ramBytes?: number;
  /** The clock (default real time, the interactive mode). */
  clock?: ClockMode;
  /** build/core.wasm's bytes, when the caller has them (a browser, a test that makes many machines). */
  wasm?: Uint8Array;
}

/** A bare machine with a fresh CPU from build/core.wasm and a clock driven by its instruction count. */
export async function createBareMachine(options: CreateBareMachineOptions = {}): Promise<BareMachine> {
  const ramBytes = options.ramBytes ?? 128 * 1024 * 1024;
  const cpu = options.wasm ? Cpu.create(options.wasm, ramBytes) : await Cpu.load(ramBytes);
  const clock = new Clock({ mode: options.clock ?? "realtime", instructions: () => cpu.instructions() });
  return new BareMachine({ ...options, cpu: asBareCpu(cpu), clock });
}

/** The Cpu with the two accesses the machine needs written through the layout: the budget left and the TSC setter. */
function asBareCpu(cpu: Cpu): BareCpu {
  return Object.assign(cpu, {
    budgetLeft(): number {
      return cpu.word(RUN_BUDGET);
    },
    setTsc(value: bigint): void {
      cpu.setWord(REG_TSC, Number(value & 0xffffffffn));
      cpu.setWord(REG_TSC + 4, Number((value >> 32n) & 0xffffffffn));
    },
  });
}
