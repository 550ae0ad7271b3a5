// test/hypervisor/devices/cmos.test.ts — the MC146818A clock and the PC's CMOS bytes through
// ports 0x70/0x71, on a deterministic clock whose calendar starts where the test says.

import { describe, expect, it } from "vitest";
import { Cmos } from "../../../hypervisor/devices/cmos.js";
import { PortMap } from "../../../hypervisor/platform/ports.js";
import { testClock } from "../../support/clock.js";

const MiB = 1024 * 1024;

function cmos(epoch = Date.UTC(2024, 1, 29, 23, 59, 58), ramBytes = 128 * MiB) {
  const { clock, advance } = testClock(epoch);
  let irq = false;
  const rtc = new Cmos(clock, { ramBytes, irq: (level) => (irq = level) });
  const ports = new PortMap();
  ports.register(0x70, 0x71, rtc);
  const read = (reg: number) => {
    ports.write(0x70, 1, reg);
    return ports.read(0x71, 1);
  };
  const write = (reg: number, value: number) => {
    ports.write(0x70, 1, reg);
    ports.write(0x71, 1, value);
  };
  const time = () => [9, 8, 7, 4, 2, 0].map(read); // year month date hour minute second
  return { rtc, read, write, advance, time, irq: () => irq, ports };
}

describe("CMOS real-time clock", () => {
  it("reads the clock's calendar in BCD, 24-hour, with the century at 0x32", () => {
    const { read, time } = cmos();
    expect(time()).toEqual([0x24, 0x02, 0x29, 0x23, 0x59, 0x58]);
    expect(read(0x32)).toBe(0x20);
    expect(read(0x06)).toBe(0x05); // Thursday (1 = Sunday)
  });

  it("advances with virtual time and rolls over a leap day", () => {
    const { advance, time } = cmos();
    advance(2e9);
    expect(time()).toEqual([0x24, 0x03, 0x01, 0x00, 0x00, 0x00]);
  });

  it("reads binary and 12-hour values when register B asks for them", () => {
    const { read, write } = cmos(Date.UTC(2024, 5, 1, 15, 4, 5));
    write(0x0b, 0x04); // DM = binary, 12-hour
    expect(read(0x04)).toBe(0x80 | 3); // 3 PM
    expect(read(0x02)).toBe(4);
    write(0x0b, 0x00); // BCD, 12-hour
    expect(read(0x04)).toBe(0x83);
  });

  it("holds the calendar while SET is on and lets the guest set it", () => {
    const { read, write, advance, time } = cmos();
    write(0x0b, 0x82); // SET, 24-hour, BCD
    write(0x09, 0x99);
    write(0x08, 0x12);
    write(0x07, 0x31);
    write(0x04, 0x23);
    write(0x02, 0x59);
    write(0x00, 0x59);
    write(0x32, 0x19);
    advance(5e9);
    expect(time()).toEqual([0x99, 0x12, 0x31, 0x23, 0x59, 0x59]);
    write(0x0b, 0x02); // clear SET: updates resume
    advance(1e9);
    expect(time()).toEqual([0x00, 0x01, 0x01, 0x00, 0x00, 0x00]);
    expect(read(0x32)).toBe(0x20);
  });

  it("shows update-in-progress for the 244 us before each second", () => {
    const { read, advance } = cmos(Date.UTC(2024, 0, 1));
    expect(read(0x0a) & 0x80).toBe(0);
    advance(1e9 - 200_000);
    expect(read(0x0a) & 0x80).toBe(0x80);
    advance(200_000);
    expect(read(0x0a) & 0x80).toBe(0);
  });

  it("raises IRQ 8 for the periodic interrupt and lowers it when register C is read", () => {
    const { read, write, advance, irq } = cmos();
    write(0x0a, 0x26); // 1024 Hz
    write(0x0b, 0x42); // PIE
    expect(irq()).toBe(false);
    advance(976_563);
    expect(irq()).toBe(true);
    expect(read(0x0c)).toBe(0xc0); // IRQF | PF
    expect(irq()).toBe(false);
    expect(read(0x0c)).toBe(0x00);
  });

  it("sets the update-ended flag every second, and the alarm flag when the alarm matches", () => {
    const { read, write, advance, irq } = cmos(Date.UTC(2024, 0, 1, 10, 0, 0));
    write(0x01, 0x03); // alarm at hh:mm:03
    write(0x03, 0xff); // any minute
    write(0x05, 0xff); // any hour
    write(0x0b, 0x22); // AIE
    advance(1.5e9);
    expect(irq()).toBe(false);
    expect(read(0x0c) & 0x10).toBe(0x10); // UF, not enabled, no IRQ
    advance(2e9);
    expect(irq()).toBe(true);
    expect(read(0x0c) & 0xb0).toBe(0x80 | 0x20 | 0x10); // PF runs too, at the default 1024 Hz
  });

  it("keeps the NMI mask bit of the index port apart from the register number", () => {
    const { rtc, ports, read } = cmos();
    ports.write(0x70, 1, 0x80 | 0x0d);
    expect(rtc.nmiMasked).toBe(true);
    expect(ports.read(0x71, 1)).toBe(0x80); // register D: valid RAM
    read(0x0d);
    expect(rtc.nmiMasked).toBe(false);
  });

  it("stores the BIOS memory sizes and their checksum", () => {
    const { read } = cmos(undefined, 128 * MiB);
    expect(read(0x15) | (read(0x16) << 8)).toBe(640);
    expect(read(0x17) | (read(0x18) << 8)).toBe(0xffff); // capped: 127 MiB does not fit in 16 bits of KiB
    expect(read(0x30) | (read(0x31) << 8)).toBe(0xffff);
    expect(read(0x34) | (read(0x35) << 8)).toBe((128 - 16) * 16);
    let sum = 0;
    for (let r = 0x10; r < 0x2e; r++) sum += read(r);
    expect((read(0x2e) << 8) | read(0x2f)).toBe(sum);
    const small = cmos(undefined, 8 * MiB);
    expect(small.read(0x17) | (small.read(0x18) << 8)).toBe(7 * 1024);
    expect(small.read(0x34)).toBe(0);
  });

  it("keeps general NVRAM bytes, and ignores writes to registers C and D", () => {
    const { read, write } = cmos();
    write(0x40, 0xab);
    expect(read(0x40)).toBe(0xab);
    write(0x0d, 0x00);
    expect(read(0x0d)).toBe(0x80);
  });
});
