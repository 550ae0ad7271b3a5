// test/support/machine.ts — boot an image on the bare machine in this process and collect its console.
//
// Deterministic clock, so what a test sees is the same on every run and on
// every host: input given here is queued on COM1 before the first
// instruction, and time is the instruction count.

import { readFileSync } from "node:fs";
import { createBareMachine, type BareMachine, type MachineEnd } from "../../hypervisor/platform/bare.js";

/** build/core.wasm, read once for all the machines a test file makes. */
let wasm: Uint8Array | undefined;

export interface Booted {
  machine: BareMachine;
  end: MachineEnd;
  /** What the guest wrote to COM1. */
  serial: string;
  /** What the guest wrote to port 0xE9. */
  debug: string;
  /** The `--trace` lines of the run. */
  trace: string[];
}

export async function boot(image: Uint8Array, options: { input?: string; ramMiB?: number; timeoutNs?: number } = {}): Promise<Booted> {
  wasm ??= new Uint8Array(readFileSync("build/core.wasm"));
  let serial = "";
  let debug = "";
  const trace: string[] = [];
  const machine = await createBareMachine({
    wasm,
    ramBytes: (options.ramMiB ?? 128) * 1024 * 1024,
    clock: "deterministic",
    onSerial: (b) => (serial += String.fromCharCode(b)),
    onDebugConsole: (b) => (debug += String.fromCharCode(b)),
    trace: (line) => trace.push(line),
  });
  machine.load(image);
  if (options.input !== undefined) machine.uart.receive(Buffer.from(options.input, "latin1"));
  if (options.timeoutNs !== undefined) machine.timeoutNs = options.timeoutNs;
  const end = await machine.run();
  return { machine, end, serial, debug, trace };
}
