// hypervisor/devices/port61.ts — system control port B (0x61): PIT counter 2's gate and output.
//
// On the PC/AT the speaker logic sits at port 0x61. Bit 0 drives the gate of
// 8254 counter 2 and bit 1 lets its output reach the speaker; reads return
// those two bits, the output of counter 2 in bit 5, and in bit 4 a signal
// that toggles with every DRAM refresh request (counter 1 in mode 2, every
// 15.085 us). Operating systems time their calibration loops with it: gate
// counter 2 on, program a one-shot, and poll bit 5 — or count bit 4 edges.
//
// Source: IBM PC/AT Technical Reference, "System Timers" and the port 61h
// description; the refresh period is the BIOS's counter 1 count of 18.

import type { Clock } from "../clock.js";
import type { IoSize, PortDevice } from "./io.js";
import type { Pit8254 } from "./pit8254.js";

export const PORT61 = 0x61;

const GATE2 = 0x01;
const REFRESH_TOGGLE = 0x10;
const OUT2 = 0x20;
/** Refresh requests come every 18 ticks of the 1.193182 MHz clock. */
const REFRESH_PERIOD_NS = 15_085;

export class Port61 implements PortDevice {
  readonly name = "port61";
  /** Bits 0-3 as last written: counter 2's gate, speaker data, and two parity-check enables a PC without parity ignores. */
  private control = 0;

  constructor(
    private readonly clock: Clock,
    private readonly pit: Pit8254,
  ) {}

  read(_port: number, _size: IoSize): number {
    const now = this.clock.now();
    let value = this.control & 0x0f;
    if (Math.floor(now / REFRESH_PERIOD_NS) & 1) value |= REFRESH_TOGGLE;
    if (this.pit.channels[2]!.out(now)) value |= OUT2;
    return value;
  }

  write(_port: number, _size: IoSize, value: number): void {
    this.control = value & 0x0f;
    this.pit.channels[2]!.setGate((value & GATE2) !== 0);
  }
}
