// hypervisor/devices/pic8259.ts — the two cascaded 8259A interrupt controllers of a PC.
//
// Each 8259A takes eight request lines (IR0-7) and raises one INT output to
// the CPU. A request sets its bit in the Interrupt Request Register (IRR);
// the highest-priority request not masked in the IMR and above everything
// in service interrupts the CPU; at the CPU's acknowledge (INTA) its bit
// moves from IRR to the In-Service Register (ISR) and the chip supplies the
// vector (ICW2's base + line). The bit stays in service, blocking that
// line and every lower priority, until the handler writes an End Of
// Interrupt (OCW2) — or, in automatic-EOI mode, is cleared at once.
//
// The PC wires two: the master at ports 0x20-0x21 (IRQ 0-7) and the slave
// at 0xA0-0xA1 (IRQ 8-15), whose INT output drives the master's IR2. An
// acknowledge that the master resolves to IR2 is passed to the slave, which
// supplies the vector.
//
// Source: Intel 8259A Programmable Interrupt Controller data sheet (order
// 231468): ICW1-ICW4 (initialization), OCW1 (mask), OCW2 (EOI, rotation,
// priority), OCW3 (register read, poll, special mask). Behaviour not fixed by
// the data sheet follows QEMU's hw/intc/i8259.c (an IRQ that fires with
// nothing to give yields the spurious vector of IR7).
//
// How the machine uses it: devices call `irq(n)` lines; after every change
// the machine asks `pendingVector()` to assert the CPU's INTR line, and
// calls `acknowledge()` when the CPU has taken the interrupt (the INTA cycle).

import type { IoSize, IrqLine, PortDevice } from "./io.js";

const ICW1 = 0x10; // port 0, bit 4: start initialization
const ICW1_IC4 = 0x01; // an ICW4 follows
const ICW1_SNGL = 0x02; // single chip: no ICW3
const ICW1_LTIM = 0x08; // level-triggered inputs
const OCW3 = 0x08; // port 0, bit 3 (bit 4 clear): OCW3, else OCW2
const OCW3_POLL = 0x04;
const OCW3_READ = 0x02; // bits 1-0 = 1x: select the register reads return
const OCW3_READ_ISR = 0x01;
const OCW3_SMM_SET = 0x40; // bits 6-5 = 1x: change special mask mode
const OCW3_SMM = 0x20;
const ICW4_AEOI = 0x02;
const ICW4_SFNM = 0x10;

/** Where the chip is in its initialization sequence. */
const enum Init {
  Ready,
  Icw2,
  Icw3,
  Icw4,
}

/** One 8259A. */
export class Pic8259Chip implements PortDevice {
  irr = 0;
  isr = 0;
  imr = 0;
  /** Vector base from ICW2 (low three bits are the line number). */
  vectorBase = 0;
  /** Levels of the eight input lines, for edge detection. */
  private lines = 0;
  /** Which line is lowest priority, plus one: 0 means IR0 highest, IR7 lowest. */
  private priorityAdd = 0;
  private readIsr = false;
  private poll = false;
  private specialMask = false;
  private init = Init.Ready;
  private needIcw4 = false;
  private single = false;
  private levelTriggered = false;
  private autoEoi = false;
  private rotateOnAutoEoi = false;
  private specialFullyNested = false;
  /** ICW3: the master's slave mask, or the slave's identity. */
  icw3 = 0;

  constructor(
    readonly name: string,
    /** Called after anything that may change the INT output. */
    private readonly changed: () => void,
    /** On the master, the line the slave is cascaded on (its requests through the slave are exempt from its own in-service block in special fully nested mode). */
    private readonly cascadeLine = -1,
  ) {}

  /** Sets input line `n` (0-7) to `level`. Edge mode latches a rising edge into IRR; level mode follows the line. */
  setLine(n: number, level: boolean): void {
    const bit = 1 << n;
    if (this.levelTriggered) {
      if (level) this.irr |= bit;
      else this.irr &= ~bit;
    } else if (level && !(this.lines & bit)) {
      this.irr |= bit;
    }
    this.lines = level ? this.lines | bit : this.lines & ~bit;
    this.changed();
  }

  /** Relative priority (0 highest) of the best bit set in `mask`, or 8 when none is. */
  private priority(mask: number): number {
    if (mask === 0) return 8;
    let p = 0;
    while (!(mask & (1 << ((p + this.priorityAdd) & 7)))) p++;
    return p;
  }

  /** The line this chip would interrupt the CPU for now, or -1: its INT output. */
  requestedLine(): number {
    const p = this.priority(this.irr & ~this.imr);
    if (p === 8) return -1;
    let inService = this.isr;
    // Special mask mode: a masked line's in-service bit no longer blocks lower priorities.
    if (this.specialMask) inService &= ~this.imr;
    // Special fully nested mode: more requests from the slave may interrupt the slave's handler.
    if (this.specialFullyNested && this.cascadeLine >= 0) inService &= ~(1 << this.cascadeLine);
    return p < this.priority(inService) ? (p + this.priorityAdd) & 7 : -1;
  }

  /** The INTA cycle for `line`: it moves to in-service (or is done with, in AEOI mode). */
  acknowledgeLine(line: number): void {
    const bit = 1 << line;
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.priorityAdd = (line + 1) & 7;
    } else {
      this.isr |= bit;
    }
    if (!this.levelTriggered) this.irr &= ~bit;
  }

  read(port: number, _size: IoSize): number {
    if ((port & 1) === 1) return this.imr;
    if (this.poll) {
      // Poll command: the read itself acknowledges the best request.
      this.poll = false;
      const line = this.requestedLine();
      if (line < 0) return 0;
      this.acknowledgeLine(line);
      this.changed();
      return 0x80 | line;
    }
    return this.readIsr ? this.isr : this.irr;
  }

  write(port: number, _size: IoSize, value: number): void {
    if ((port & 1) === 0) this.writeCommand(value);
    else this.writeData(value);
    this.changed();
  }

  private writeCommand(value: number): void {
    if (value & ICW1) {
      // ICW1 resets the chip: masks cleared, IR0 highest, IRR read selected,
      // and the edge detectors re-armed (a line already high must fall and
      // rise again before it requests).
      this.imr = 0;
      this.isr = 0;
      this.irr = 0;
      this.priorityAdd = 0;
      this.readIsr = false;
      this.poll = false;
      this.specialMask = false;
      this.autoEoi = false;
      this.rotateOnAutoEoi = false;
      this.specialFullyNested = false;
      this.needIcw4 = (value & ICW1_IC4) !== 0;
      this.single = (value & ICW1_SNGL) !== 0;
      this.levelTriggered = (value & ICW1_LTIM) !== 0;
      if (this.levelTriggered) this.irr = this.lines;
      this.init = Init.Icw2;
    } else if (value & OCW3) {
      if (value & OCW3_POLL) this.poll = true;
      if (value & OCW3_READ) this.readIsr = (value & OCW3_READ_ISR) !== 0;
      if (value & OCW3_SMM_SET) this.specialMask = (value & OCW3_SMM) !== 0;
    } else {
      this.writeOcw2(value);
    }
  }

  private writeOcw2(value: number): void {
    const level = value & 7;
    switch (value >> 5) {
      case 0b001: // non-specific EOI: the highest priority in service
      case 0b101: {
        // ... and with rotation, that line becomes the lowest priority
        const p = this.priority(this.isr);
        if (p === 8) return;
        const line = (p + this.priorityAdd) & 7;
        this.isr &= ~(1 << line);
        if (value >> 5 === 0b101) this.priorityAdd = (line + 1) & 7;
        return;
      }
      case 0b011: // specific EOI
        this.isr &= ~(1 << level);
        return;
      case 0b111: // rotate on specific EOI
        this.isr &= ~(1 << level);
        this.priorityAdd = (level + 1) & 7;
        return;
      case 0b110: // set priority: `level` becomes the lowest
        this.priorityAdd = (level + 1) & 7;
        return;
      case 0b100: // rotate in automatic EOI mode: set
        this.rotateOnAutoEoi = true;
        return;
      case 0b000: // ... clear
        this.rotateOnAutoEoi = false;
        return;
      default: // 0b010: no operation
        return;
    }
  }

  private writeData(value: number): void {
    switch (this.init) {
      case Init.Ready:
        this.imr = value; // OCW1
        return;
      case Init.Icw2:
        // In 8086 mode the low three bits of the vector are the line number.
        this.vectorBase = value & 0xf8;
        this.init = this.single ? (this.needIcw4 ? Init.Icw4 : Init.Ready) : Init.Icw3;
        return;
      case Init.Icw3:
        this.icw3 = value;
        this.init = this.needIcw4 ? Init.Icw4 : Init.Ready;
        return;
      case Init.Icw4:
        // Bit 0 (8086 mode) is what every PC sets; 8080 call vectors are not modelled.
        this.autoEoi = (value & ICW4_AEOI) !== 0;
        this.specialFullyNested = (value & ICW4_SFNM) !== 0;
        this.init = Init.Ready;
        return;
    }
  }
}

/** The PC's master/slave pair. */
export class Pic8259 {
  readonly master: Pic8259Chip;
  readonly slave: Pic8259Chip;
  /** Called whenever the master's INT output may have changed (the machine re-evaluates the CPU's INTR). */
  onChange: () => void = () => {};

  constructor() {
    this.master = new Pic8259Chip("pic-master", () => this.onChange(), 2);
    this.slave = new Pic8259Chip("pic-slave", () => this.cascade());
  }

  /** The slave's INT output is the master's IR2. */
  private cascade(): void {
    this.master.setLine(2, this.slave.requestedLine() >= 0);
  }

  /** The request line for IRQ `n` (0-15); IRQ 2 is the cascade and cannot be driven. */
  irq(n: number): IrqLine {
    if (n < 0 || n > 15 || n === 2) throw new RangeError(`pic: IRQ ${n} is not a device line`);
    return n < 8 ? (level) => this.master.setLine(n, level) : (level) => this.slave.setLine(n - 8, level);
  }

  /** The vector an acknowledge would return now, or undefined when INT is not asserted. Changes nothing. */
  pendingVector(): number | undefined {
    const line = this.master.requestedLine();
    if (line < 0) return undefined;
    if (line === 2) {
      const slaveLine = this.slave.requestedLine();
      return this.slave.vectorBase + (slaveLine < 0 ? 7 : slaveLine);
    }
    return this.master.vectorBase + line;
  }

  /**
   * The CPU's interrupt acknowledge (two INTA cycles): returns the vector
   * and moves the request in service. With no request (it went away before
   * the acknowledge) the chip answers IR7's vector without setting ISR: the
   * spurious interrupt the data sheet describes.
   */
  acknowledge(): number {
    const line = this.master.requestedLine();
    let vector: number;
    if (line < 0) {
      vector = this.master.vectorBase + 7;
    } else {
      this.master.acknowledgeLine(line);
      if (line === 2) {
        const slaveLine = this.slave.requestedLine();
        if (slaveLine >= 0) this.slave.acknowledgeLine(slaveLine);
        vector = this.slave.vectorBase + (slaveLine < 0 ? 7 : slaveLine);
        this.cascade();
      } else {
        vector = this.master.vectorBase + line;
      }
    }
    this.onChange();
    return vector;
  }
}
