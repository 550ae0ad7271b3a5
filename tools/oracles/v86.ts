// tools/oracles/v86.ts — boot a multiboot image in v86, another emulator, for
// a second opinion and for speed comparisons.
//
// v86 (npm, a devDependency: never a runtime part of xenoscope) runs the same
// multiboot kernels our bare machine runs, with no BIOS: its `multiboot`
// option loads the image and enters it in flat protected mode as QEMU's
// -kernel does. Tests compare our console output with v86's; `xenoscope
// bench --vs v86` times both in one process, since absolute times on a
// shared machine drift and only ratios measured side by side mean anything.

import { createRequire } from "node:module";
import { dirname, join } from "node:path";

export interface V86Run {
  /** Everything the guest wrote to COM1. */
  output: string;
  /** Host milliseconds at which each output line was complete (for the bench's BEGIN/END stamps). */
  lineTimes: number[];
  /** True when `until` matched or the guest wrote isa-debug-exit; false on timeout. */
  finished: boolean;
  /** The byte the guest wrote to isa-debug-exit (port 0xF4), if it did. */
  debugExit?: number;
}

export interface V86RunOptions {
  /** Run with v86's JIT off (its pure interpreter), as the speed target compares. */
  disableJit?: boolean;
  memoryMiB?: number;
  /** Stop when the output ends with this text (a write to isa-debug-exit stops the run too). */
  until?: string;
  timeoutMs: number;
}

/** True when the v86 package is installed (it is a devDependency). */
export function hasV86(): boolean {
  try {
    createRequire(import.meta.url).resolve("v86");
    return true;
  } catch {
    return false;
  }
}

export async function runInV86(image: Uint8Array, options: V86RunOptions): Promise<V86Run> {
  const require = createRequire(import.meta.url);
  const main = require.resolve("v86");
  const { V86 } = (await import("v86")) as unknown as { V86: new (o: Record<string, unknown>) => V86Emulator };
  const buffer = image.buffer.slice(image.byteOffset, image.byteOffset + image.byteLength);
  const started = performance.now();
  const emulator = new V86({
    wasm_path: join(dirname(main), "v86.wasm"),
    memory_size: (options.memoryMiB ?? 128) * 1024 * 1024,
    multiboot: { buffer },
    autostart: true,
    disable_jit: options.disableJit ?? false,
    disable_keyboard: true,
    disable_mouse: true,
    disable_speaker: true,
  });
  return new Promise((resolve) => {
    let output = "";
    let done = false;
    let debugExit: number | undefined;
    const lineTimes: number[] = [];
    const finish = (finished: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      emulator.stop();
      emulator.destroy();
      resolve({ output, lineTimes, finished, debugExit });
    };
    const timer = setTimeout(() => finish(false), options.timeoutMs);
    // v86's own isa-debug-exit handler throws a string out of its CPU loop,
    // which would surface as an uncaught exception; take the port over.
    emulator.add_listener("emulator-loaded", () => {
      emulator.v86.cpu.io.ports[0xf4].write8 = (value: number) => {
        debugExit = value;
        finish(true);
      };
    });
    emulator.add_listener("serial0-output-byte", (byte: number) => {
      output += String.fromCharCode(byte);
      if (byte === 10) lineTimes.push(performance.now() - started);
      if (options.until !== undefined && output.endsWith(options.until)) finish(true);
    });
  });
}

/** The part of v86's API used here, including the internal port table. */
interface V86Emulator {
  add_listener(event: "serial0-output-byte", listener: (byte: number) => void): void;
  add_listener(event: "emulator-loaded", listener: () => void): void;
  stop(): void;
  destroy(): void;
  v86: { cpu: { io: { ports: { write8: (value: number) => void }[] } } };
}
