// hypervisor/devices/port92.ts — port 0x92, "system control port A" (fast A20 and fast reset).
//
// The PS/2 chipsets added this port so that software need not go through the
// slow 8042 keyboard controller for two things: bit 1 opens the A20 gate
// (address line 20 follows the address instead of being held at 0, the
// 8086 wrap-around), and writing 1 to bit 0 pulses the CPU's reset line.
// Reads return the A20 bit and 0 in bit 0 (the reset bit reads back as 0
// once the pulse is done).
//
// Source: IBM PS/2 Hardware Interface Technical Reference, "System Control
// Port A"; QEMU hw/i386/pc.c (port92 device).

import type { IoSize, PortDevice } from "./io.js";

export const PORT92 = 0x92;
const FAST_RESET = 0x01;
const A20 = 0x02;

export class Port92 implements PortDevice {
  readonly name = "port92";
  /** Bits other than reset as last written (bit 1 the A20 gate). */
  private value: number;

  constructor(
    /** The A20 gate: called with the new state whenever bit 1 changes. */
    private readonly setA20: (enabled: boolean) => void,
    /** Writing 1 to bit 0: reset the CPU. */
    private readonly reset: () => void,
    a20Enabled: boolean,
  ) {
    this.value = a20Enabled ? A20 : 0;
  }

  read(_port: number, _size: IoSize): number {
    return this.value;
  }

  write(_port: number, _size: IoSize, value: number): void {
    const old = this.value;
    this.value = value & ~FAST_RESET;
    if ((old ^ value) & A20) this.setA20((value & A20) !== 0);
    if (value & FAST_RESET) this.reset();
  }
}
