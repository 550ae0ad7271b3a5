// hypervisor/devices/debugcon.ts — the port 0xE9 debug console (Bochs's "port E9 hack", QEMU's debugcon).
//
// The simplest console an emulator offers a guest: every byte written to
// port 0xE9 is printed by the host, with no status to poll and no setup.
// Reading the port returns 0xE9 itself, which is how a guest detects the
// console (Bochs and QEMU both answer so; real hardware has nothing there
// and reads 0xFF).
//
// Source: Bochs user manual, "port 0xE9 hack"; QEMU hw/char/debugcon.c
// (readback value 0xE9).

import type { IoSize, PortDevice } from "./io.js";

export const DEBUGCON_PORT = 0xe9;

export class DebugConsole implements PortDevice {
  readonly name = "debugcon";

  constructor(private readonly output: (byte: number) => void) {}

  read(_port: number, _size: IoSize): number {
    return DEBUGCON_PORT;
  }

  write(_port: number, _size: IoSize, value: number): void {
    this.output(value & 0xff);
  }
}
