// hypervisor/devices/pit8254.ts — the 8254 Programmable Interval Timer.
//
// Three 16-bit down-counters clocked at 1.193182 MHz (the PC's 14.31818 MHz
// crystal divided by 12), at ports 0x40-0x42, with a control port at 0x43.
// A control word picks a counter's mode, its access (LSB, MSB, or LSB then
// MSB) and binary or BCD counting; a count written to the counter port
// starts it. Counter 0's output drives IRQ 0 (the system timer); counter 2's
// gate and output are wired to port 0x61 (the speaker and the calibration
// loops of every OS); counter 1 once refreshed DRAM.
//
// The counters are never stepped: a counter remembers the virtual time its
// count was loaded, and its count and OUT pin are computed from the clock
// when read (ticks = elapsed ns x 1193182 / 10^9). For counter 0 the next
// change of OUT is armed as a clock timer, so IRQ 0 rises at exactly the
// right instruction in deterministic mode.
//
// Source: Intel 8254 Programmable Interval Timer data sheet (order 231164):
// the control word, counter latch and read-back commands, the status byte,
// and the six modes. Where the data sheet leaves room QEMU's
// hw/timer/i8254.c is followed: a count is loaded when written (not at the
// next CLK edge), and a new count in modes 2 and 3 restarts the period.

import { mulDiv, mulDivCeil, NS_PER_SECOND, type Clock, type Timer } from "../clock.js";
import { fromBcd, unconnectedIrq, type IoSize, type IrqLine, type PortDevice } from "./io.js";

/** The input clock of every counter, in Hz. */
export const PIT_HZ = 1_193_182;

export const PIT_PORT_BASE = 0x40;
const PIT_CONTROL = 3;

// Control word (data sheet, "Control Word Format").
const RW_LATCH = 0;
const RW_LSB = 1;
const RW_MSB = 2;
const RW_WORD = 3;
const SC_READ_BACK = 3;
const READ_BACK_NOT_COUNT = 0x20;
const READ_BACK_NOT_STATUS = 0x10;
const STATUS_OUT = 0x80;
const STATUS_NULL_COUNT = 0x40;

/** Ticks of the 1.193182 MHz clock in `ns` nanoseconds. */
export function nsToTicks(ns: number): number {
  return mulDiv(ns, PIT_HZ, NS_PER_SECOND);
}

/** The first nanosecond at which `ticks` ticks have elapsed. */
export function ticksToNs(ticks: number): number {
  return mulDivCeil(ticks, NS_PER_SECOND, PIT_HZ);
}

function toBcd16(value: number): number {
  let out = 0;
  for (let shift = 0; shift < 16; shift += 4) {
    out |= (value % 10) << shift;
    value = Math.floor(value / 10);
  }
  return out;
}

/** One of the three counters. */
export class PitChannel {
  mode = 0;
  rw = RW_WORD;
  bcd = false;
  gate: boolean;
  /** The initial count as a number of ticks (0 written means 65536, or 10000 in BCD). */
  count = 0x10000;
  /** True once a count has been written and counting has begun. */
  private running = false;
  /** Modes 1 and 5: true once the gate has triggered the count. */
  private triggered = false;
  /** Virtual time (ns) the count was loaded, or triggered (modes 1, 5), or when counting resumed. */
  private loadTime = 0;
  /** Gate low in modes 0 and 4: the tick count at which counting was suspended. */
  private heldTicks = 0;
  /** The count register as written so far (LSB then MSB needs two writes). */
  private writeLsbNext = true;
  private pendingLsb = 0;
  /** Reads in LSB-then-MSB access alternate; a latched count is read the same way. */
  private readLsbNext = true;
  private latchedCount: number | undefined;
  private latchedCountMsbNext = false;
  private latchedStatus: number | undefined;
  private nullCount = true;

  constructor(
    private readonly clock: Clock,
    gate: boolean,
    /** Called when OUT may change without a port access (a new count, a gate edge). */
    private readonly reprogrammed: () => void,
  ) {
    this.gate = gate;
  }

  /** True when the gate controls counting (modes 0, 2, 3, 4); in modes 1 and 5 it only triggers. */
  private get gateHolds(): boolean {
    return this.mode !== 1 && this.mode !== 5;
  }

  /** Ticks since the count was loaded (frozen while a low gate holds the counter). */
  private elapsed(now: number): number {
    if (!this.gate && this.gateHolds) return this.heldTicks;
    return nsToTicks(now - this.loadTime);
  }

  private get modulus(): number {
    return this.bcd ? 10000 : 0x10000;
  }

  /** OUT at virtual time `now`. */
  out(now: number): boolean {
    const n = this.count;
    switch (this.mode) {
      case 0: // interrupt on terminal count: low until the count reaches 0
        return this.running && this.elapsed(now) >= n;
      case 1: // hardware retriggerable one-shot: low from the trigger to terminal count
        return !(this.running && this.triggered && this.elapsed(now) < n);
      case 2: {
        // rate generator: low for one tick as the count passes 1, every n ticks
        if (!this.running || !this.gate || n < 2) return true;
        return this.elapsed(now) % n !== n - 1;
      }
      case 3: {
        // square wave: high for ceil(n/2) ticks, low for floor(n/2)
        if (!this.running || !this.gate || n < 2) return true;
        return this.elapsed(now) % n < (n + 1) >> 1;
      }
      default: // modes 4 and 5: strobe, low for the one tick at terminal count
        if (!this.running || (this.mode === 5 && !this.triggered)) return true;
        return this.elapsed(now) !== n;
    }
  }

  /** The counting element's value at `now`, as the count register would read it (binary). */
  currentCount(now: number): number {
    if (!this.running || ((this.mode === 1 || this.mode === 5) && !this.triggered)) return this.count % this.modulus;
    const d = this.elapsed(now);
    const n = this.count;
    switch (this.mode) {
      case 2:
        return n - (d % n);
      case 3:
        // counts down by two through each half period
        return n - ((2 * d) % n);
      default:
        // modes 0, 1, 4, 5 keep counting down past terminal count and wrap
        return (((n - d) % this.modulus) + this.modulus) % this.modulus;
    }
  }

  /** The length of one period of OUT in modes 2 and 3 (ns), Infinity in the one-shot modes. */
  periodNs(): number {
    return this.mode === 2 || this.mode === 3 ? ticksToNs(this.count) : Infinity;
  }

  /** Virtual time of OUT's next change after `now`, or undefined when OUT will not change by itself. */
  nextTransition(now: number): number | undefined {
    if (!this.running) return undefined;
    const d = this.elapsed(now);
    const n = this.count;
    let tick: number | undefined;
    switch (this.mode) {
      case 0:
        tick = d < n ? n : undefined;
        break;
      case 1:
        tick = this.triggered && d < n ? n : undefined;
        break;
      case 2:
      case 3: {
        if (n < 2) return undefined;
        const fall = this.mode === 2 ? n - 1 : (n + 1) >> 1;
        const phase = d % n;
        tick = phase < fall ? d - phase + fall : d - phase + n;
        break;
      }
      default:
        if (this.mode === 5 && !this.triggered) return undefined;
        tick = d < n ? n : d === n ? n + 1 : undefined;
    }
    if (tick === undefined || (!this.gate && this.gateHolds)) return undefined;
    return this.loadTime + ticksToNs(tick);
  }

  writeControl(value: number): void {
    const rw = (value >> 4) & 3;
    if (rw === RW_LATCH) {
      this.latchCount();
      return;
    }
    this.rw = rw;
    this.mode = (value >> 1) & 7;
    if (this.mode > 5) this.mode -= 4; // 6 and 7 are aliases of 2 and 3
    this.bcd = (value & 1) !== 0;
    // A control word stops the counter until a count is written, and sets
    // OUT to its initial state: low in mode 0, high in every other mode.
    this.running = false;
    this.triggered = false;
    this.nullCount = true;
    this.writeLsbNext = true;
    this.readLsbNext = true;
    this.latchedCount = undefined;
    this.latchedStatus = undefined;
    this.reprogrammed();
  }

  /** Counter latch command: the count is held for reading until it has been read. */
  latchCount(): void {
    if (this.latchedCount !== undefined) return; // a second latch before the read is ignored
    this.latchedCount = this.formatCount(this.currentCount(this.clock.now()));
    this.latchedCountMsbNext = false;
  }

  /** Read-back status latch. */
  latchStatus(): void {
    if (this.latchedStatus !== undefined) return;
    const modeBits = this.mode;
    this.latchedStatus =
      (this.out(this.clock.now()) ? STATUS_OUT : 0) |
      (this.nullCount ? STATUS_NULL_COUNT : 0) |
      (this.rw << 4) |
      (modeBits << 1) |
      (this.bcd ? 1 : 0);
  }

  private formatCount(value: number): number {
    return this.bcd ? toBcd16(value) : value & 0xffff;
  }

  readCounter(): number {
    if (this.latchedStatus !== undefined) {
      const s = this.latchedStatus;
      this.latchedStatus = undefined;
      return s;
    }
    if (this.latchedCount !== undefined) {
      const v = this.latchedCount;
      if (this.rw === RW_LSB) {
        this.latchedCount = undefined;
        return v & 0xff;
      }
      if (this.rw === RW_MSB) {
        this.latchedCount = undefined;
        return v >> 8;
      }
      if (!this.latchedCountMsbNext) {
        this.latchedCountMsbNext = true;
        return v & 0xff;
      }
      this.latchedCount = undefined;
      return v >> 8;
    }
    const v = this.formatCount(this.currentCount(this.clock.now()));
    if (this.rw === RW_LSB) return v & 0xff;
    if (this.rw === RW_MSB) return v >> 8;
    const lsb = this.readLsbNext;
    this.readLsbNext = !lsb;
    return lsb ? v & 0xff : v >> 8;
  }

  writeCounter(value: number): void {
    let written: number;
    if (this.rw === RW_LSB) {
      written = value;
    } else if (this.rw === RW_MSB) {
      written = value << 8;
    } else if (this.writeLsbNext) {
      this.pendingLsb = value;
      this.writeLsbNext = false;
      return;
    } else {
      written = this.pendingLsb | (value << 8);
      this.writeLsbNext = true;
    }
    this.load(this.bcd ? fromBcd(written >> 8) * 100 + fromBcd(written & 0xff) : written);
  }

  private load(count: number): void {
    this.count = count === 0 ? this.modulus : count;
    this.nullCount = false;
    this.running = true;
    this.loadTime = this.clock.now();
    this.heldTicks = 0;
    this.reprogrammed();
  }

  /** The GATE input (counters 0 and 1 are tied high on a PC; counter 2's is port 0x61 bit 0). */
  setGate(level: boolean): void {
    if (level === this.gate) return;
    const now = this.clock.now();
    if (!level) {
      // A low gate suspends counting in modes 0, 2, 3 and 4 (and forces OUT high in 2 and 3).
      if (this.gateHolds) this.heldTicks = this.elapsed(now);
    } else if (this.mode === 0 || this.mode === 4) {
      // ... modes 0 and 4 resume where they stopped;
      this.loadTime = now - ticksToNs(this.heldTicks);
    } else if (this.running) {
      // ... a rising gate restarts modes 2 and 3 and triggers modes 1 and 5.
      this.triggered = true;
      this.loadTime = now;
    }
    this.gate = level;
    this.reprogrammed();
  }
}

export class Pit8254 implements PortDevice {
  readonly name = "pit";
  readonly channels: PitChannel[];
  private readonly irqTimer: Timer;
  /** Counter 0's OUT as last driven onto IRQ 0. The data sheet leaves OUT undefined at power-up;
   * taking it as high (and not driving the line until it first changes) means that programming
   * any mode but 0 raises no interrupt by itself. */
  private irq0Level = true;

  constructor(
    private readonly clock: Clock,
    private readonly irq0: IrqLine = unconnectedIrq,
  ) {
    this.irqTimer = clock.timer("pit-irq0", (deadline) => this.updateIrq0(deadline));
    this.channels = [
      new PitChannel(clock, true, () => this.updateIrq0(clock.now())),
      new PitChannel(clock, true, () => {}),
      new PitChannel(clock, false, () => {}),
    ];
  }

  /**
   * Drives IRQ 0 with counter 0's OUT as it was at virtual time `at` (a
   * change's own time, even when the timer runs late) and arms the timer for
   * the next change. Every change is replayed in order, so the one-tick low
   * pulse of mode 2 still makes its rising edge when real time has moved
   * past it; a host far behind replays only the last period, since the
   * edge-triggered PIC keeps one request per line anyway.
   */
  private updateIrq0(at: number): void {
    const ch = this.channels[0]!;
    const level = ch.out(at);
    if (level !== this.irq0Level) {
      this.irq0Level = level;
      this.irq0(level);
    }
    const next = ch.nextTransition(Math.max(at, this.clock.now() - ch.periodNs()));
    if (next === undefined) this.irqTimer.cancel();
    else this.irqTimer.arm(next);
  }

  read(port: number, _size: IoSize): number {
    const index = port - PIT_PORT_BASE;
    if (index === PIT_CONTROL) return 0xff; // the control port is write-only
    return this.channels[index]!.readCounter();
  }

  write(port: number, _size: IoSize, value: number): void {
    const index = port - PIT_PORT_BASE;
    if (index !== PIT_CONTROL) {
      this.channels[index]!.writeCounter(value);
      return;
    }
    const sc = value >> 6;
    if (sc !== SC_READ_BACK) {
      this.channels[sc]!.writeControl(value);
      return;
    }
    // Read-back: bits 1-3 select counters 0-2; bit 5 clear latches counts, bit 4 clear latches status.
    for (let i = 0; i < 3; i++) {
      if (!(value & (2 << i))) continue;
      const ch = this.channels[i]!;
      if (!(value & READ_BACK_NOT_STATUS)) ch.latchStatus();
      if (!(value & READ_BACK_NOT_COUNT)) ch.latchCount();
    }
  }
}
