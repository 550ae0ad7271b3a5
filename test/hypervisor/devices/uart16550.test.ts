// test/hypervisor/devices/uart16550.test.ts — COM1 as a driver sees it through ports 0x3F8-0x3FF
// (PC16550D data sheet: registers, IIR priorities, FIFO triggers, loopback).

import { describe, expect, it } from "vitest";
import { Uart16550 } from "../../../hypervisor/devices/uart16550.js";
import { PortMap } from "../../../hypervisor/platform/ports.js";
import { testClock } from "../../support/clock.js";

const COM1 = 0x3f8;
const [THR, IER, IIR, LCR, MCR, LSR, MSR, SCR] = [0, 1, 2, 3, 4, 5, 6, 7].map((r) => COM1 + r) as [
  number, number, number, number, number, number, number, number,
];
const FCR = IIR;

/** COM1 as a driver leaves it after setting it up: RTS asserted, so the host may send. */
function com1() {
  const c = rawCom1();
  c.out(MCR, 0x0b); // DTR, RTS, OUT2
  return c;
}

function rawCom1() {
  const { clock, advance } = testClock();
  const sent: number[] = [];
  let irq = false;
  const uart = new Uart16550("com1", COM1, clock, (b) => sent.push(b), (level) => (irq = level));
  const ports = new PortMap();
  ports.register(COM1, COM1 + 7, uart);
  const out = (port: number, value: number) => ports.write(port, 1, value);
  const inb = (port: number) => ports.read(port, 1);
  return { uart, out, inb, sent, advance, irq: () => irq };
}

describe("16550 UART", () => {
  it("transmits a byte written to THR at once, leaving THR and the transmitter empty", () => {
    const { out, inb, sent } = com1();
    expect(inb(LSR) & 0x60).toBe(0x60);
    out(THR, 0x41);
    out(THR, 0x0a);
    expect(sent).toEqual([0x41, 0x0a]);
    expect(inb(LSR) & 0x60).toBe(0x60);
  });

  it("reaches the divisor latch through ports 0 and 1 while LCR.DLAB is set, without transmitting", () => {
    const { out, inb, sent } = com1();
    out(LCR, 0x80);
    out(THR, 0x01);
    out(IER, 0x00);
    expect(inb(THR)).toBe(0x01);
    expect(inb(IER)).toBe(0x00);
    out(LCR, 0x03); // 8N1, DLAB off
    expect(inb(LCR)).toBe(0x03);
    expect(inb(IER)).toBe(0x00);
    expect(sent).toEqual([]);
  });

  it("delivers host bytes in order through RBR, with LSR.DR set while data waits", () => {
    const { uart, inb } = com1();
    expect(inb(LSR) & 1).toBe(0);
    uart.receive([0x68, 0x69]);
    expect(inb(LSR) & 1).toBe(1);
    expect(inb(THR)).toBe(0x68);
    expect(inb(THR)).toBe(0x69);
    expect(inb(LSR) & 1).toBe(0);
  });

  it("raises its IRQ for received data when IER enables it, and drops it once the data is read", () => {
    const { uart, out, inb, irq } = com1();
    out(IER, 0x01);
    expect(irq()).toBe(false);
    expect(inb(IIR)).toBe(0x01); // no interrupt pending
    uart.receive([0x31]);
    expect(irq()).toBe(true);
    expect(inb(IIR)).toBe(0x04);
    inb(THR);
    expect(irq()).toBe(false);
  });

  it("raises THR empty as soon as IER enables it, clears it on an IIR read, and raises it after each byte", () => {
    const { out, inb, irq } = com1();
    out(IER, 0x02);
    expect(irq()).toBe(true);
    expect(inb(IIR)).toBe(0x02);
    expect(irq()).toBe(false);
    expect(inb(IIR)).toBe(0x01);
    out(THR, 0x2e);
    expect(irq()).toBe(true);
  });

  it("reports received data before THR empty (IIR priority)", () => {
    const { uart, out, inb } = com1();
    out(IER, 0x03);
    uart.receive([0x7a]);
    expect(inb(IIR)).toBe(0x04);
    inb(THR);
    expect(inb(IIR)).toBe(0x02);
  });

  it("waits for the FIFO trigger level, then signals a character timeout after four character times", () => {
    const { uart, out, inb, advance, irq } = com1();
    out(LCR, 0x80);
    out(THR, 1); // 115200 baud
    out(LCR, 0x03); // 8N1: ten bits a character, 86.8 us
    out(FCR, 0x41); // FIFO on, trigger at 4 bytes
    out(IER, 0x01);
    uart.receive([1, 2]);
    expect(inb(IIR)).toBe(0xc1); // FIFOs on, nothing pending yet
    advance(4 * 86_806 - 10);
    expect(irq()).toBe(false);
    advance(20);
    expect(irq()).toBe(true);
    expect(inb(IIR)).toBe(0xcc);
    uart.receive([3, 4]);
    expect(inb(IIR)).toBe(0xc4); // four bytes: the trigger level
  });

  it("never overruns from the host side: bytes beyond the FIFO wait their turn", () => {
    const { uart, out, inb } = com1();
    out(FCR, 0xc7);
    const text = Array.from("a line longer than sixteen bytes\n", (c) => c.charCodeAt(0));
    uart.receive(text);
    const got: number[] = [];
    while (inb(LSR) & 1) got.push(inb(THR));
    expect(got).toEqual(text);
    expect(inb(LSR) & 0x02).toBe(0);
  });

  it("holds host input until the guest asserts RTS, so a FIFO reset during setup loses none of it", () => {
    const { uart, out, inb } = rawCom1();
    uart.receive([0x61, 0x62]);
    expect(inb(LSR) & 1).toBe(0);
    out(FCR, 0x07); // FIFOs on and cleared, as an init sequence does
    out(MCR, 0x0b);
    expect(inb(THR)).toBe(0x61);
    expect(inb(THR)).toBe(0x62);
  });

  it("empties the receive FIFO on FCR's clear bit", () => {
    const { out, inb } = com1();
    out(FCR, 0x01);
    out(MCR, 0x10); // loopback, so the host does not refill it
    out(THR, 0x55);
    expect(inb(LSR) & 1).toBe(1);
    out(FCR, 0x03);
    expect(inb(LSR) & 1).toBe(0);
  });

  it("loops transmitted bytes and modem outputs back in loopback mode, as drivers probe it", () => {
    const { out, inb, sent } = com1();
    out(MCR, 0x1f); // loopback with DTR, RTS, OUT1, OUT2
    expect(inb(MSR) & 0xf0).toBe(0xf0);
    out(MCR, 0x10);
    expect(inb(MSR) & 0xf0).toBe(0x00);
    out(THR, 0xa5);
    expect(sent).toEqual([]);
    expect(inb(THR)).toBe(0xa5);
  });

  it("flags an overrun in LSR when loopback overfills the receiver, and clears it on the LSR read", () => {
    const { out, inb } = com1();
    out(MCR, 0x10);
    out(IER, 0x04);
    out(THR, 1);
    out(THR, 2); // no FIFO: the one-byte RBR is full
    expect(inb(IIR)).toBe(0x06);
    expect(inb(LSR) & 0x03).toBe(0x03);
    expect(inb(LSR) & 0x02).toBe(0);
    expect(inb(THR)).toBe(1);
  });

  it("records modem-line changes in MSR's delta bits and raises a modem-status interrupt", () => {
    const { out, inb, irq } = com1();
    out(IER, 0x08);
    expect(irq()).toBe(false);
    out(MCR, 0x10 | 0x02); // loopback: RTS → CTS, the other idle inputs drop
    expect(irq()).toBe(true);
    expect(inb(IIR)).toBe(0x00);
    expect(inb(MSR)).toBe(0x10 | 0x02 | 0x08); // CTS, and DSR and DCD changed
    expect(inb(MSR) & 0x0f).toBe(0);
    expect(irq()).toBe(false);
  });

  it("idles with CTS, DSR and DCD asserted, and keeps a scratch byte", () => {
    const { out, inb } = com1();
    expect(inb(MSR)).toBe(0xb0);
    out(SCR, 0x5a);
    expect(inb(SCR)).toBe(0x5a);
  });
});
