// test/hypervisor/devices/pit8254.test.ts — the 8254 timer through ports 0x40-0x43 and 0x61,
// on a deterministic clock (Intel 8254 data sheet: modes, latch, read-back, status).

import { describe, expect, it } from "vitest";
import { Clock } from "../../../hypervisor/clock.js";
import { PIT_HZ, Pit8254, ticksToNs } from "../../../hypervisor/devices/pit8254.js";
import { Port61 } from "../../../hypervisor/devices/port61.js";
import { PortMap } from "../../../hypervisor/platform/ports.js";
import { testClock } from "../../support/clock.js";

function pc() {
  const { clock, advance } = testClock();
  const edges: number[] = [];
  let level = true; // OUT is taken as high at power-up
  const pit = new Pit8254(clock, (l) => {
    if (l && !level) edges.push(clock.now());
    level = l;
  });
  const ports = new PortMap();
  ports.register(0x40, 0x43, pit);
  ports.register(0x61, 0x61, new Port61(clock, pit));
  const out = (port: number, value: number) => ports.write(port, 1, value);
  const inb = (port: number) => ports.read(port, 1);
  /** Reads counter `ch` through a counter-latch command, LSB then MSB. */
  const latched = (ch: number) => {
    out(0x43, ch << 6);
    return inb(0x40 + ch) | (inb(0x40 + ch) << 8);
  };
  return { clock, advance, pit, out, inb, edges, latched, irq0: () => level };
}

describe("8254 PIT", () => {
  it("raises IRQ 0 once per period in mode 2, at the exact tick", () => {
    const { out, advance, edges } = pc();
    out(0x43, 0x34); // counter 0, LSB then MSB, mode 2, binary
    out(0x40, 1193 & 0xff);
    out(0x40, 1193 >> 8);
    advance(ticksToNs(3 * 1193) + 10);
    expect(edges).toEqual([ticksToNs(1193), ticksToNs(2 * 1193), ticksToNs(3 * 1193)]);
  });

  it("counts down from the written count at 1.193182 MHz", () => {
    const { out, advance, latched } = pc();
    out(0x43, 0x34);
    out(0x40, 0x00);
    out(0x40, 0x10); // 4096
    advance(ticksToNs(96));
    expect(latched(0)).toBe(4000);
  });

  it("holds a latched count until both bytes are read, while the counter goes on", () => {
    const { out, inb, advance } = pc();
    out(0x43, 0x34);
    out(0x40, 0xe8);
    out(0x40, 0x03); // 1000
    advance(ticksToNs(10));
    out(0x43, 0x00); // latch counter 0
    advance(ticksToNs(100));
    expect(inb(0x40) | (inb(0x40) << 8)).toBe(990);
    expect(inb(0x40) | (inb(0x40) << 8)).toBe(890); // unlatched: the live count
  });

  it("keeps OUT low in mode 0 until terminal count, then raises IRQ 0 once", () => {
    const { out, advance, edges, irq0 } = pc();
    out(0x43, 0x30); // counter 0, mode 0
    out(0x40, 100);
    out(0x40, 0);
    advance(ticksToNs(99));
    expect(irq0()).toBe(false);
    advance(ticksToNs(200));
    expect(irq0()).toBe(true);
    expect(edges).toEqual([ticksToNs(100)]);
  });

  it("counts 0 as 65536", () => {
    const { out, advance, latched } = pc();
    out(0x43, 0x34);
    out(0x40, 0);
    out(0x40, 0);
    advance(ticksToNs(1));
    expect(latched(0)).toBe(0xffff);
  });

  it("reads and writes one byte with LSB-only and MSB-only access", () => {
    const { out, inb, advance } = pc();
    out(0x43, 0x54); // counter 1, LSB only, mode 2
    out(0x41, 200);
    advance(ticksToNs(50));
    expect(inb(0x41)).toBe(150);
    out(0x43, 0x64); // counter 1, MSB only, mode 2
    out(0x41, 0x02); // 512
    advance(ticksToNs(256));
    expect(inb(0x41)).toBe(0x01);
  });

  it("counts in BCD when the control word asks: 0x1000 is one thousand ticks", () => {
    const { out, advance, latched } = pc();
    out(0x43, 0x35); // counter 0, mode 2, BCD
    out(0x40, 0x00);
    out(0x40, 0x10);
    advance(ticksToNs(1));
    expect(latched(0)).toBe(0x0999);
  });

  it("latches status and count of several counters with one read-back command", () => {
    const { out, inb, advance } = pc();
    out(0x43, 0x30); // counter 0 mode 0
    out(0x40, 10);
    out(0x40, 0);
    out(0x43, 0xb6); // counter 2, mode 3, LSB then MSB
    advance(ticksToNs(20));
    out(0x43, 0xc2 | 0x08); // read-back: count and status of counters 0 and 2
    // counter 0: status first (OUT high after terminal count, mode 0, word access), then the count
    expect(inb(0x40)).toBe(0x80 | 0x30);
    expect(inb(0x40) | (inb(0x40) << 8)).toBe(0xfff6); // kept counting down past 0
    // counter 2: a control word but no count yet: null count, OUT high in mode 3
    expect(inb(0x42)).toBe(0x80 | 0x40 | 0x30 | 0x06);
  });

  it("gates counter 2 from port 0x61 bit 0 and shows its OUT in bit 5", () => {
    const { out, inb, advance } = pc();
    out(0x43, 0xb0); // counter 2, mode 0: the calibration one-shot
    out(0x42, 100);
    out(0x42, 0);
    advance(ticksToNs(500));
    expect(inb(0x61) & 0x20).toBe(0); // gate low: counting held, OUT still low
    out(0x61, 0x01);
    advance(ticksToNs(99));
    expect(inb(0x61) & 0x20).toBe(0);
    advance(ticksToNs(2));
    expect(inb(0x61) & 0x21).toBe(0x21);
  });

  it("makes a square wave in mode 3: high for half the count, low for the other half", () => {
    const { out, inb, advance } = pc();
    out(0x61, 0x01);
    out(0x43, 0xb6); // counter 2, mode 3
    out(0x42, 100);
    out(0x42, 0);
    advance(ticksToNs(49));
    expect(inb(0x61) & 0x20).toBe(0x20);
    advance(ticksToNs(51) - ticksToNs(49));
    expect(inb(0x61) & 0x20).toBe(0);
    advance(ticksToNs(100) - ticksToNs(51));
    expect(inb(0x61) & 0x20).toBe(0x20);
  });

  it("strobes OUT low for one tick at terminal count in mode 4", () => {
    const { out, advance, edges, irq0 } = pc();
    out(0x43, 0x38); // counter 0, mode 4
    out(0x40, 50);
    out(0x40, 0);
    expect(irq0()).toBe(true);
    advance(ticksToNs(50));
    expect(irq0()).toBe(false);
    advance(ticksToNs(51) - ticksToNs(50));
    expect(irq0()).toBe(true);
    expect(edges).toEqual([ticksToNs(51)]);
  });

  it("starts a one-shot in mode 1 only when the gate rises, and restarts it on a second rise", () => {
    const { out, inb, advance } = pc();
    out(0x43, 0xb2); // counter 2, mode 1
    out(0x42, 100);
    out(0x42, 0);
    advance(ticksToNs(500));
    expect(inb(0x61) & 0x20).toBe(0x20); // not triggered: OUT high
    out(0x61, 0x01);
    advance(ticksToNs(60));
    expect(inb(0x61) & 0x20).toBe(0);
    out(0x61, 0x00);
    out(0x61, 0x01); // retrigger: another full count from here
    advance(ticksToNs(60));
    expect(inb(0x61) & 0x20).toBe(0);
    advance(ticksToNs(41));
    expect(inb(0x61) & 0x20).toBe(0x20);
  });

  it("toggles the refresh bit of port 0x61 every 15 us", () => {
    const { inb, advance } = pc();
    const first = inb(0x61) & 0x10;
    advance(15_085);
    expect(inb(0x61) & 0x10).not.toBe(first);
  });

  it("stops IRQ 0 when a new control word reprograms counter 0", () => {
    const { out, advance, edges } = pc();
    out(0x43, 0x34);
    out(0x40, 100);
    out(0x40, 0);
    advance(ticksToNs(250));
    out(0x43, 0x34); // no count yet: the counter waits
    advance(ticksToNs(1000));
    expect(edges.length).toBe(2);
  });

  it("still raises IRQ 0 when its timer runs late, past mode 2's one-tick low pulse (real time)", () => {
    let now = 0;
    const clock = new Clock({ mode: "deterministic", instructions: () => now });
    const levels: boolean[] = [];
    const pit = new Pit8254(clock, (level) => levels.push(level));
    pit.write(0x43, 1, 0x34);
    pit.write(0x40, 1, 100);
    pit.write(0x40, 1, 0);
    now = ticksToNs(100) + 5_000; // the host looks again only after the pulse is over
    clock.fireDue();
    expect(levels).toEqual([false, true]);
    now += 1e9; // a second late: only the last period is replayed
    clock.fireDue();
    expect(levels.length).toBeLessThanOrEqual(6);
    expect(levels.at(-1)).toBe(true);
  });

  it("runs at the PC's crystal frequency divided by 12", () => {
    expect(PIT_HZ).toBe(Math.round(14_318_180 / 12));
  });
});
