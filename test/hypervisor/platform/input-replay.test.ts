// test/hypervisor/platform/input-replay.test.ts — record and replay of COM1 input on the real core.
//
// guests/demo echoes the lines typed into COM1. Here keys "arrive" between
// steps of the run loop, the way a terminal's do: while the guest is busy
// printing and while it sleeps in HLT. The machine reports each chunk with
// the time it reached COM1; a new machine given those chunks at those times
// must repeat the run exactly: the console, every instruction and CPU event
// of the core's trace, every line of the machine's trace. (The scripted-CPU
// tests in bare.test.ts check the queuing rules one by one.)

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createBareMachine, type BareMachine } from "../../../hypervisor/platform/bare.js";
import { CoreTraceLines } from "../../../tools/run.js";

const wasm = new Uint8Array(readFileSync("build/core.wasm"));
const DEMO = readFileSync("build/guests/demo.bin");

interface Run {
  machine: BareMachine;
  serial: string;
  /** The machine's trace and the core's (`--trace FILE --trace-insns`), in instruction order. */
  trace: string[];
  received: { at: number; bytes: Uint8Array }[];
}

async function demo(): Promise<Run> {
  let serial = "";
  const trace: string[] = [];
  const received: Run["received"] = [];
  const core = new CoreTraceLines((line) => trace.push(line));
  const machine = await createBareMachine({
    wasm,
    ramBytes: 16 << 20,
    clock: "deterministic",
    onSerial: (b) => (serial += String.fromCharCode(b)),
    onInput: (at, bytes) => received.push({ at, bytes }),
    trace: (line) => trace.push(line),
    coreTrace: { instructions: true, events: true, sink: (read) => core.take(read) },
  });
  machine.load(DEMO);
  return { machine, trace, received, get serial() { return serial; } };
}

/** Runs the demo step by step, handing COM1 each key as `receive` (a terminal's way) before the step its number names. */
async function typed(keys: Map<number, string>): Promise<Run> {
  const run = await demo();
  const { machine } = run;
  machine.inputOpen = true;
  const lastKey = Math.max(...keys.keys());
  for (let step = 0; !machine.end && step < 100_000; step++) {
    const key = keys.get(step);
    if (key !== undefined) machine.receive(Buffer.from(key, "latin1"));
    if (step > lastKey) machine.inputOpen = false;
    machine.step();
  }
  return run;
}

/** Runs the demo with its input queued up front, each chunk at its time (`--replay`). */
async function replayed(chunks: { at: number; bytes: Uint8Array }[]): Promise<Run> {
  const run = await demo();
  for (const { at, bytes } of chunks) run.machine.receiveAt(at, bytes);
  await run.machine.run();
  return run;
}

describe("COM1 input recorded and replayed on the demo guest", () => {
  // Step numbers: the greeting is still being printed at step 40 (an exit per byte);
  // by step 3000 the guest has long been asleep, waiting for a key.
  const keys = new Map([[40, "he"], [41, "llo\r"], [3000, "ex"], [3001, "it"], [3200, "\r"]]);

  it("repeats a typed session bit for bit from the chunks and times the machine reported", async () => {
    const live = await typed(keys);
    expect(live.machine.end).toMatchObject({ status: 1 });
    expect(live.serial).toContain("> hello\r\nyou typed: hello\r\n> exit\r\nGoodbye.\r\n");
    expect(live.received.map((c) => Buffer.from(c.bytes).toString("latin1"))).toEqual(["he", "llo\r", "ex", "it", "\r"]);
    expect(live.trace.filter((l) => / cpu interrupt 0x24 /.test(l)).length).toBeGreaterThanOrEqual(3);

    const again = await replayed(live.received);
    expect(again.machine.end).toEqual(live.machine.end);
    expect(again.serial).toBe(live.serial);
    expect(again.received).toEqual(live.received);
    expect(again.trace.length).toBe(live.trace.length);
    expect(again.trace.join("\n")).toBe(live.trace.join("\n"));
    expect([again.machine.cpu.instructions(), again.machine.clock.now()]).toEqual([live.machine.cpu.instructions(), live.machine.clock.now()]);
  }, 60_000);

  it("runs differently when the same bytes come at other times", async () => {
    const live = await typed(keys);
    // A thousand instructions later: the first keys still come while the greeting is printed.
    const shifted = await replayed(live.received.map((c) => ({ at: c.at + 1000, bytes: c.bytes })));
    expect(shifted.serial).toBe(live.serial); // the same text echoed ...
    const interrupts = (run: Run) => run.trace.filter((l) => / cpu interrupt 0x24 /.test(l));
    expect(interrupts(shifted)).not.toEqual(interrupts(live)); // ... by a run interrupted at other instructions
  }, 60_000);
});
