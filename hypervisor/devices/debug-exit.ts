// hypervisor/devices/debug-exit.ts — QEMU's isa-debug-exit device at port 0xF4.
//
// A guest that writes a value v here ends the emulator with the process exit
// status (v << 1) | 1. The status is always odd, so it can never be confused
// with a normal exit of the emulator (0), and a test guest reports pass or
// fail by the value it writes. DESIGN.md ("Command-line conventions") makes
// this the status of `xenoscope run`, truncated to 8 bits as a process status
// is.
//
// The device is registered as four ports wide (0xF4-0xF7, QEMU's
// `iobase=0xf4,iosize=0x04`) and sees a 16- or 32-bit OUT whole, as QEMU's
// does; reads find nothing there.
//
// Source: QEMU hw/misc/debugexit.c.

import type { IoSize, PortDevice } from "./io.js";

export const DEBUG_EXIT_PORT = 0xf4;
export const DEBUG_EXIT_PORTS = 4;

/** The process exit status for a write of `value`: ((v << 1) | 1) & 0xFF. */
export function debugExitStatus(value: number): number {
  return ((value << 1) | 1) & 0xff;
}

export class DebugExit implements PortDevice {
  readonly name = "debug-exit";

  /** `exit` receives the value written (the machine turns it into a status and stops). */
  constructor(private readonly exit: (value: number) => void) {}

  read(_port: number, size: IoSize): number {
    return size === 4 ? 0xffffffff : (1 << (8 * size)) - 1;
  }

  write(_port: number, _size: IoSize, value: number): void {
    this.exit(value >>> 0);
  }
}
