// test/hypervisor/platform/bare.test.ts — the bare machine's run loop: I/O dispatch, INTR from
// the PIC with the acknowledge protocol of core/layout.ts, HLT and virtual time, and how a run
// ends. A scripted CPU stands in for the core here, so each behaviour of the loop is checked on
// its own; test/hypervisor/platform/boot-guests.test.ts runs real guests on the real core.

import { describe, expect, it } from "vitest";
import { Clock } from "../../../hypervisor/clock.js";
import type { IoSize } from "../../../hypervisor/devices/io.js";
import { ticksToNs } from "../../../hypervisor/devices/pit8254.js";
import type { ProtectedModeEntry } from "../../../hypervisor/platform/boot.js";
import { BareMachine, type BareCpu } from "../../../hypervisor/platform/bare.js";
import { EXIT_BUDGET, EXIT_HLT, EXIT_IO, EXIT_SHUTDOWN } from "../../../core/layout.js";

/** One step of a scripted guest. */
type Op =
  | { run: number } // that many ordinary instructions
  | { out: number; value: number; size?: IoSize }
  | { in: number; size?: IoSize }
  | { sti: true }
  | { hlt: true }
  | { tripleFault: true };

/**
 * A CPU that plays a script, keeping the core's contract: an I/O exit
 * leaves the instruction unretired until the next run; INTR is taken at an
 * instruction boundary when IF is set, clearing INTR_PENDING and waking a
 * halted CPU; run() on a halted CPU with nothing to take returns EXIT_HLT.
 * The budget counts down as core/run.ts counts it: one unit for each
 * instruction and each interrupt taken, and what is left stays readable.
 */
class ScriptedCpu implements BareCpu {
  readonly ramBytes = 16 << 20;
  count = 0;
  private pc = 0;
  private left: number | undefined;
  private pendingIo: Op | undefined;
  private exit = { port: 0, size: 1 as IoSize, input: false, data: 0 };
  private intr = false;
  private vector = 0;
  private isHalted = false;
  private ifFlag = false;
  private unused = 0;
  /** Vectors taken, with the instruction count at which each was taken. */
  readonly taken: [number, number][] = [];
  readonly inputs: number[] = [];
  readonly a20: boolean[] = [];

  constructor(private readonly script: Op[]) {}

  run(budget: number): number {
    this.unused = budget;
    if (this.pendingIo) {
      // The core runs the instruction again with the exit's result, before any interrupt.
      if ("in" in this.pendingIo) this.inputs.push(this.exit.data);
      this.pendingIo = undefined;
      this.retire();
    }
    for (;;) {
      if (this.unused === 0) return EXIT_BUDGET;
      if (this.intr && this.ifFlag) {
        this.intr = false;
        this.isHalted = false;
        this.taken.push([this.vector, this.count]);
        this.unused--;
        continue;
      }
      if (this.isHalted) return EXIT_HLT;
      const op = this.script[this.pc];
      if (!op) throw new Error("the script ran off its end");
      if ("run" in op) {
        this.left ??= op.run;
        const n = Math.min(this.unused, this.left);
        this.count += n;
        this.unused -= n;
        this.left -= n;
        if (this.left === 0) {
          this.left = undefined;
          this.pc++;
        }
      } else if ("out" in op || "in" in op) {
        const isIn = "in" in op;
        this.exit = { port: isIn ? op.in : op.out, size: op.size ?? 1, input: isIn, data: isIn ? 0 : op.value };
        this.pendingIo = op;
        return EXIT_IO;
      } else if ("sti" in op) {
        this.ifFlag = true;
        this.retire();
      } else if ("hlt" in op) {
        this.isHalted = true;
        this.retire();
      } else {
        return EXIT_SHUTDOWN;
      }
    }
  }

  private retire(): void {
    this.count++;
    this.pc++;
    this.unused--;
  }

  budgetLeft = () => this.unused;
  instructions = () => this.count;
  exitPort = () => this.exit.port;
  exitSize = () => this.exit.size;
  exitIsInput = () => this.exit.input;
  exitData = () => this.exit.data;
  setExitData = (v: number) => void (this.exit.data = v);
  exitVector = () => 0;
  exitAddress = () => 0;
  intrPending = () => this.intr;
  setIntr = (pending: boolean, vector: number) => void ((this.intr = pending), (this.vector = vector));
  halted = () => this.isHalted;
  interruptsEnabled = () => this.ifFlag;
  setA20 = (on: boolean) => void this.a20.push(on);
  loadRom = () => {};
  reset = () => {};
  enterProtectedMode = (_entry: ProtectedModeEntry) => {};
  write = () => {};
  fill = () => {};
  tscValue = 0n;
  tsc = () => this.tscValue + BigInt(this.count);
  setTsc = (v: bigint) => void (this.tscValue = v - BigInt(this.count));
}

function machine(script: Op[]) {
  const cpu = new ScriptedCpu(script);
  const clock = new Clock({ mode: "deterministic", instructions: () => cpu.count });
  const serial: number[] = [];
  const debug: number[] = [];
  /** Host input as COM1 received it: [clock time, bytes]. */
  const received: [number, number[]][] = [];
  const m = new BareMachine({
    cpu, clock, onSerial: (b) => serial.push(b), onDebugConsole: (b) => debug.push(b),
    onInput: (at, bytes) => received.push([at, [...bytes]]),
  });
  return { m, cpu, clock, serial, debug, received };
}

const out = (port: number, value: number): Op => ({ out: port, value });
/** The PICs programmed as a kernel does: vectors 0x20 and 0x28, automatic EOI so the script need not EOI. */
const initPic: Op[] = [out(0x20, 0x11), out(0x21, 0x20), out(0x21, 0x04), out(0x21, 0x03), out(0xa0, 0x11), out(0xa1, 0x28), out(0xa1, 0x02), out(0xa1, 0x03)];
/** COM1 with RTS (so host bytes move into its receive buffer), OUT2, and the received-data interrupt on. */
const initUart: Op[] = [out(0x3fc, 0x0b), out(0x3f9, 0x01)];
/** PIT counter 0 in mode 2 with count n. */
const pitPeriodic = (n: number): Op[] => [out(0x43, 0x34), out(0x40, n & 0xff), out(0x40, n >> 8)];

describe("bare machine run loop", () => {
  it("sends OUTs to the devices and ends with (v << 1) | 1 when the guest writes v to isa-debug-exit", async () => {
    const { m, serial, debug } = machine([{ run: 10 }, out(0x3f8, 0x48), out(0xe9, 0x48), out(0xf4, 3)]);
    const end = await m.run();
    expect(serial).toEqual([0x48]);
    expect(debug).toEqual([0x48]);
    expect(end).toEqual({ status: 7, reason: "debug-exit", message: "" });
  });

  it("answers an IN from the port map", async () => {
    const { m, cpu } = machine([{ in: 0x3fd }, { in: 0x80 }, { in: 0xe9 }, out(0xf4, 0)]);
    await m.run();
    expect(cpu.inputs).toEqual([0x60, 0xff, 0xe9]); // LSR: THR empty; nobody at 0x80; debugcon's readback
  });

  it("ends with status 4 when the guest halts with interrupts off", async () => {
    const { m } = machine([{ run: 5 }, { hlt: true }]);
    expect(await m.run()).toMatchObject({ status: 4, reason: "halted", message: "the guest halted with interrupts off" });
  });

  it("ends with status 2 on a triple fault", async () => {
    const { m } = machine([{ tripleFault: true }]);
    expect(await m.run()).toMatchObject({ status: 2, reason: "triple-fault" });
  });

  it("switches A20 and ends with status 6 on a reset through port 0x92", async () => {
    const { m, cpu } = machine([out(0x92, 0x00), out(0x92, 0x02), out(0x92, 0x03)]);
    expect(await m.run()).toMatchObject({ status: 6, reason: "reset" });
    expect(cpu.a20).toEqual([false, true]);
  });

  it("delivers IRQ 0 through the PIC at exactly the instruction the PIT period ends at", async () => {
    const n = 1193;
    const { m, cpu } = machine([...initPic, ...pitPeriodic(n), { sti: true }, { run: 3_000_000 }, out(0xf4, 0)]);
    await m.run();
    const loaded = initPic.length + 2; // instructions retired before the OUT that completes the count
    const expected = [1, 2, 3].map((k) => [0x20, loaded + ticksToNs(k * n)]);
    expect(cpu.taken.slice(0, 3)).toEqual(expected);
    expect(m.interrupts).toBe(cpu.taken.length);
  });

  it("moves the acknowledged request in service, so without EOI no second IRQ 0 comes", async () => {
    const { m, cpu } = machine([
      ...initPic.slice(0, 3), out(0x21, 0x01), ...initPic.slice(4), // normal EOI on the master
      ...pitPeriodic(100), { sti: true }, { run: 100_000 }, out(0xf4, 0),
    ]);
    await m.run();
    expect(cpu.taken.map(([v]) => v)).toEqual([0x20]);
    m.ports.write(0x20, 1, 0x0b);
    expect(m.ports.read(0x20, 1)).toBe(0x01); // ISR: IRQ 0 in service
  });

  it("skips virtual time to the next timer when the guest halts with interrupts on", async () => {
    const { m, cpu, clock } = machine([...initPic, ...pitPeriodic(11932), { sti: true }, { hlt: true }, out(0xf4, 0)]);
    await m.run();
    expect(cpu.taken).toEqual([[0x20, cpu.taken[0]![1]]]);
    const loaded = initPic.length + 2;
    expect(clock.now()).toBe(loaded + ticksToNs(11932)); // 10 ms of virtual time for a handful of instructions
    expect(cpu.count).toBeLessThan(100);
    expect(cpu.tsc()).toBe(BigInt(clock.now())); // the TSC skipped with the clock
  });

  it("ends with status 4 when a halted guest waits for an interrupt nothing can raise, timeout or not", async () => {
    const { m } = machine([...initPic, { sti: true }, { hlt: true }]);
    m.timeoutNs = 1e9;
    expect(await m.run()).toMatchObject({ status: 4, message: expect.stringMatching(/no timer armed and no more input/) });
  });

  it("wakes a halted guest with host input on COM1 when it enabled the receive interrupt", async () => {
    const { m, cpu } = machine([...initPic, out(0x3fc, 0x0b), out(0x3f9, 0x01), { sti: true }, { hlt: true }, { in: 0x3f8 }, out(0xf4, 0)]);
    m.inputOpen = true;
    const done = m.run();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(m.end).toBeUndefined(); // waiting for input, not ended
    m.uart.receive([0x79]);
    m.wake();
    expect(await done).toMatchObject({ status: 1 });
    expect(cpu.taken.map(([v]) => v)).toEqual([0x24]);
    expect(cpu.inputs).toEqual([0x79]);
  });

  it("ends with status 124 at the timeout, at the same instruction in every deterministic run", async () => {
    for (let i = 0; i < 2; i++) {
      const { m, cpu } = machine([{ run: 10_000_000 }]);
      m.timeoutNs = 123_456;
      expect(await m.run()).toMatchObject({ status: 124, reason: "timeout" });
      expect(cpu.count).toBe(123_456);
    }
  });

  it("writes a trace line for each exit and interrupt when asked", async () => {
    const cpu = new ScriptedCpu([...initPic.slice(0, 1), { in: 0x21 }, out(0xf4, 1)]);
    const clock = new Clock({ mode: "deterministic", instructions: () => cpu.count });
    const lines: string[] = [];
    const m = new BareMachine({ cpu, clock, trace: (line) => lines.push(line) });
    await m.run();
    expect(lines).toEqual(["0 out 0x20/1 = 0x11", "1 in 0x21/1 = 0x0", "2 out 0xf4/1 = 0x1", "2 end debug-exit status 3"]);
  });
});

describe("bare machine host input", () => {
  it("gives COM1 input queued for a time at exactly that instruction: the slice ends there", async () => {
    const { m, cpu, received } = machine([...initPic, ...initUart, { sti: true }, { run: 1_000_000 }, out(0xf4, 0)]);
    m.receiveAt(5000, Uint8Array.of(0x41));
    m.receiveAt(5000, Uint8Array.of(0x42));
    m.receiveAt(7000, Uint8Array.of(0x43));
    await m.run();
    expect(cpu.taken).toEqual([[0x24, 5000]]); // IRQ 4 at once; the guest reads nothing, so no second edge
    expect(received).toEqual([[5000, [0x41]], [5000, [0x42]], [7000, [0x43]]]); // same time: in the order given
  });

  it("skips a halted CPU's time ahead to queued input instead of ending the run", async () => {
    const { m, cpu, clock, received } = machine([...initPic, ...initUart, { sti: true }, { hlt: true }, { in: 0x3f8 }, out(0xf4, 0)]);
    m.receiveAt(1_000_000, Uint8Array.of(0x79));
    expect(await m.run()).toMatchObject({ status: 1 });
    expect(received).toEqual([[1_000_000, [0x79]]]);
    expect(cpu.inputs).toEqual([0x79]);
    expect(cpu.count).toBeLessThan(20); // a millisecond of virtual time for a handful of instructions
    expect(clock.now() - cpu.count).toBe(1_000_000 - cpu.taken[0]![1]); // the skip: from the HLT to the input
    expect(cpu.tsc()).toBe(BigInt(clock.now()));
  });

  it("queues keys typed during a run where a replay can stop too: past the exit, and the events, of the slice just run", async () => {
    const script = (): Op[] => [...initPic, ...initUart, { run: 50 }, { in: 0x3f8 }, { sti: true }, { hlt: true }];
    const live = machine(script());
    live.m.inputOpen = true;
    while (live.cpu.count < 60) live.m.step(); // stopped for the IN, 60 instructions in
    live.m.receive(Uint8Array.of(0x61));
    while (live.m.step() !== "idle"); // the IN, STI, IRQ 4 taken, HLT: halted, nothing more to come
    expect(live.clock.now()).toBe(63);
    live.m.receive(Uint8Array.of(0x62));
    live.m.inputOpen = false;
    expect(await live.m.run()).toMatchObject({ status: 4 });
    // 61: the IN that stopped the slice at 60 needs one more unit to run; a replay stopped at 60 would
    // give COM1 the byte before it. 65: the slice from 61 used 3 units (STI, the interrupt, HLT) and
    // stopped for the HLT, so it could only have been cut at 61 + 3 + 1.
    expect(live.received).toEqual([[61, [0x61]], [65, [0x62]]]);

    // The same chunks at the same times, queued up front, repeat the run.
    const replay = machine(script());
    for (const [at, bytes] of live.received) replay.m.receiveAt(at, Uint8Array.from(bytes));
    expect(await replay.m.run()).toMatchObject({ status: 4 });
    expect(replay.received).toEqual(live.received);
    expect(replay.cpu.taken).toEqual(live.cpu.taken);
    expect([replay.cpu.count, replay.clock.now()]).toEqual([live.cpu.count, live.clock.now()]);
  });

  it("refuses input queued out of order or for a time the run has passed", () => {
    const { m } = machine([{ run: 1000 }, out(0xf4, 0)]);
    m.receiveAt(10, Uint8Array.of(1));
    expect(() => m.receiveAt(9, Uint8Array.of(2))).toThrow(RangeError);
    m.step();
    m.step(); // the slice ended at 10 for the input; this step gave it to COM1
    expect(() => m.receiveAt(10, Uint8Array.of(3))).toThrow(RangeError);
    expect(() => m.receiveAt(11, Uint8Array.of(3))).not.toThrow();
  });
});
