// hypervisor/devices/uart16550.ts — a 16550A UART, the PC's serial port (COM1 at 0x3F8, IRQ 4).
//
// Eight registers at base+0..7; the Divisor Latch Access Bit (LCR bit 7)
// turns base+0/1 from the data and interrupt-enable registers into the baud
// divisor. A byte written to the transmit holding register (THR) goes
// straight to the host: transmission takes no time, so THR and the
// transmitter are always empty (LSR bits 5 and 6). The host side is a
// terminal with RTS/CTS flow control: its bytes wait in an unbounded queue
// and move into the receive buffer (one byte, or a 16-byte FIFO once FCR
// enables it) only while the guest asserts RTS (MCR bit 1) and the buffer
// has room. So the host never overruns the guest, and input typed (or
// piped) before the guest has set the UART up is not lost to the FIFO reset
// of its initialization.
//
// Interrupts, by priority, as IIR reports them: receiver line status (LSR
// errors), received data (the FIFO reached its trigger level), character
// timeout (data below the trigger level, unread for four character times),
// THR empty, and modem status. The IRQ line is asserted while any enabled
// one is pending. Loopback (MCR bit 4) wires the transmitter to the receiver
// and the modem outputs to the modem inputs: drivers use it to probe for
// the chip.
//
// Source: National Semiconductor / TI PC16550D data sheet (SNLS378):
// register set (Table 2), IIR priorities (Table 4), FIFO triggers. The IRQ
// is not gated by MCR OUT2 (a PC board detail), matching QEMU's
// hw/char/serial.c, so guests written against QEMU see the same interrupts;
// like QEMU the modem inputs idle with CTS, DSR and DCD asserted.

import type { Clock, Timer } from "../clock.js";
import { unconnectedIrq, type IoSize, type IrqLine, type PortDevice } from "./io.js";

export const COM1_BASE = 0x3f8;
export const COM1_IRQ = 4;

// Registers (offsets from the base).
const RBR_THR = 0;
const IER = 1;
const IIR_FCR = 2;
const LCR = 3;
const MCR = 4;
const LSR = 5;
const MSR = 6;
// 7: SCR, the scratch register (the `default` of the switches below)

const IER_RDA = 0x01; // received data available
const IER_THRE = 0x02; // THR empty
const IER_RLS = 0x04; // receiver line status
const IER_MS = 0x08; // modem status

const IIR_NONE = 0x01;
const IIR_RLS = 0x06;
const IIR_RDA = 0x04;
const IIR_TIMEOUT = 0x0c;
const IIR_THRE = 0x02;
const IIR_MS = 0x00;
const IIR_FIFO_ENABLED = 0xc0;

const FCR_ENABLE = 0x01;
const FCR_CLEAR_RX = 0x02;
const FCR_TRIGGER = [1, 4, 8, 14];

const LCR_DLAB = 0x80;

const MCR_DTR = 0x01;
const MCR_RTS = 0x02;
const MCR_OUT1 = 0x04;
const MCR_OUT2 = 0x08;
const MCR_LOOP = 0x10;

const LSR_DR = 0x01;
const LSR_OE = 0x02;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;

const MSR_DCTS = 0x01;
const MSR_DDSR = 0x02;
const MSR_TERI = 0x04;
const MSR_DDCD = 0x08;
const MSR_CTS = 0x10;
const MSR_DSR = 0x20;
const MSR_RI = 0x40;
const MSR_DCD = 0x80;
/** The modem inputs with nothing attached, as QEMU presents them. */
const MSR_IDLE = MSR_CTS | MSR_DSR | MSR_DCD;

const FIFO_SIZE = 16;
/** The baud rate with divisor 1: the 1.8432 MHz crystal divided by 16. */
const BAUD_BASE = 115_200;

export class Uart16550 implements PortDevice {
  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  /** LSR bits 1-4 (overrun, parity, framing, break); only loopback can overrun here. */
  private lsrErrors = 0;
  /** Modem status inputs (bits 4-7) and their change flags (bits 0-3). */
  private msr = MSR_IDLE;
  private scr = 0;
  /** The divisor latch; 12 (9600 baud) until the guest sets it, as after QEMU's reset. */
  private divisor = 12;
  private fifoEnabled = false;
  private triggerLevel = 1;
  /** The receive buffer: the RBR alone, or the 16-byte FIFO. */
  private readonly rx: number[] = [];
  private rbr = 0;
  /** Bytes from the host not yet in the receive buffer. */
  private readonly hostQueue: number[] = [];
  private thrEmptyPending = false;
  private timeoutPending = false;
  private irqLevel = false;
  private readonly timeoutTimer: Timer;

  constructor(
    readonly name: string,
    readonly base: number,
    clock: Clock,
    /** Receives every byte the guest transmits (not in loopback). */
    private readonly output: (byte: number) => void,
    private readonly irq: IrqLine = unconnectedIrq,
  ) {
    this.timeoutTimer = clock.timer(`${name}-rx-timeout`, () => {
      if (this.rx.length > 0) this.timeoutPending = true;
      this.update();
    });
  }

  /** Host input: bytes typed at the terminal (or injected by a test) for the guest to receive. */
  receive(bytes: Iterable<number>): void {
    for (const b of bytes) this.hostQueue.push(b & 0xff);
    this.fillReceiver();
    this.update();
  }

  private get capacity(): number {
    return this.fifoEnabled ? FIFO_SIZE : 1;
  }

  /** Moves host bytes into the receive buffer while the guest asserts RTS (and is not looping back). */
  private fillReceiver(): void {
    if ((this.mcr & (MCR_RTS | MCR_LOOP)) !== MCR_RTS) return;
    let moved = false;
    while (this.rx.length < this.capacity && this.hostQueue.length > 0) {
      this.rx.push(this.hostQueue.shift()!);
      moved = true;
    }
    if (moved) this.restartTimeout();
  }

  /** Nanoseconds one character takes on the line: start bit, data bits, parity, stop bits. */
  private characterNs(): number {
    const dataBits = 5 + (this.lcr & 3);
    const parity = this.lcr & 0x08 ? 1 : 0;
    const stop = this.lcr & 0x04 ? 2 : 1;
    const baud = BAUD_BASE / (this.divisor || 0x10000);
    return Math.ceil(((1 + dataBits + parity + stop) * 1e9) / baud);
  }

  /** The character timeout: four character times after the last receive or read, with data waiting. */
  private restartTimeout(): void {
    this.timeoutPending = false;
    if (this.fifoEnabled && this.rx.length > 0) this.timeoutTimer.armIn(4 * this.characterNs());
    else this.timeoutTimer.cancel();
  }

  /** The highest-priority enabled interrupt, as IIR bits 3-0. */
  private interruptId(): number {
    if (this.ier & IER_RLS && this.lsrErrors) return IIR_RLS;
    if (this.ier & IER_RDA && this.rx.length >= (this.fifoEnabled ? this.triggerLevel : 1)) return IIR_RDA;
    if (this.ier & IER_RDA && this.timeoutPending && this.rx.length > 0) return IIR_TIMEOUT;
    if (this.ier & IER_THRE && this.thrEmptyPending) return IIR_THRE;
    if (this.ier & IER_MS && this.msr & 0x0f) return IIR_MS;
    return IIR_NONE;
  }

  private update(): void {
    const level = this.interruptId() !== IIR_NONE;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq(level);
    }
  }

  read(port: number, _size: IoSize): number {
    const reg = port - this.base;
    let value: number;
    switch (reg) {
      case RBR_THR:
        if (this.lcr & LCR_DLAB) return this.divisor & 0xff;
        // With nothing received RBR still holds the last byte, as the chip's latch would.
        if (this.rx.length > 0) this.rbr = this.rx.shift()!;
        value = this.rbr;
        this.fillReceiver();
        this.restartTimeout();
        break;
      case IER:
        return this.lcr & LCR_DLAB ? this.divisor >> 8 : this.ier;
      case IIR_FCR: {
        const id = this.interruptId();
        // Reading IIR while it reports THR empty is what clears that interrupt.
        if (id === IIR_THRE) this.thrEmptyPending = false;
        value = id | (this.fifoEnabled ? IIR_FIFO_ENABLED : 0);
        break;
      }
      case LCR:
        return this.lcr;
      case MCR:
        return this.mcr;
      case LSR:
        value = (this.rx.length > 0 ? LSR_DR : 0) | this.lsrErrors | LSR_THRE | LSR_TEMT;
        this.lsrErrors = 0; // reading LSR clears the error bits
        break;
      case MSR:
        value = this.msr;
        this.msr &= 0xf0; // ... and reading MSR the change bits
        break;
      default:
        return this.scr;
    }
    this.update();
    return value;
  }

  write(port: number, _size: IoSize, value: number): void {
    const reg = port - this.base;
    switch (reg) {
      case RBR_THR:
        if (this.lcr & LCR_DLAB) {
          this.divisor = (this.divisor & 0xff00) | value;
          return;
        }
        this.transmit(value);
        break;
      case IER:
        if (this.lcr & LCR_DLAB) {
          this.divisor = (this.divisor & 0xff) | (value << 8);
          return;
        }
        // Enabling the THR-empty interrupt while THR is empty raises it at once.
        if (value & IER_THRE && !(this.ier & IER_THRE)) this.thrEmptyPending = true;
        this.ier = value & 0x0f;
        break;
      case IIR_FCR:
        this.writeFcr(value);
        break;
      case LCR:
        this.lcr = value;
        return;
      case MCR:
        this.writeMcr(value & 0x1f);
        break;
      case LSR:
      case MSR:
        return; // read-only (factory test registers on the real chip)
      default:
        this.scr = value;
        return;
    }
    this.update();
  }

  private transmit(byte: number): void {
    this.thrEmptyPending = false;
    if (this.mcr & MCR_LOOP) {
      if (this.rx.length < this.capacity) this.rx.push(byte);
      else this.lsrErrors |= LSR_OE;
      this.restartTimeout();
    } else {
      this.output(byte);
    }
    // The byte leaves THR at once, so THR is empty again.
    if (this.ier & IER_THRE) this.thrEmptyPending = true;
  }

  private writeFcr(value: number): void {
    const enable = (value & FCR_ENABLE) !== 0;
    // Turning the FIFOs on or off empties them; so do the clear bits.
    if (enable !== this.fifoEnabled || value & FCR_CLEAR_RX) this.rx.length = 0;
    this.fifoEnabled = enable;
    this.triggerLevel = FCR_TRIGGER[value >> 6]!;
    this.fillReceiver();
    this.restartTimeout();
  }

  private writeMcr(value: number): void {
    const old = this.msr;
    this.mcr = value;
    let inputs: number;
    if (value & MCR_LOOP) {
      // Loopback: RTS→CTS, DTR→DSR, OUT1→RI, OUT2→DCD.
      inputs =
        (value & MCR_RTS ? MSR_CTS : 0) |
        (value & MCR_DTR ? MSR_DSR : 0) |
        (value & MCR_OUT1 ? MSR_RI : 0) |
        (value & MCR_OUT2 ? MSR_DCD : 0);
    } else {
      inputs = MSR_IDLE;
    }
    this.fillReceiver();
    const changed = (old ^ inputs) & 0xf0;
    let deltas = old & 0x0f;
    if (changed & MSR_CTS) deltas |= MSR_DCTS;
    if (changed & MSR_DSR) deltas |= MSR_DDSR;
    if (changed & MSR_DCD) deltas |= MSR_DDCD;
    if (old & MSR_RI && !(inputs & MSR_RI)) deltas |= MSR_TERI; // RI's trailing edge only
    this.msr = inputs | deltas;
  }
}
