// test/hypervisor/devices/pic8259.test.ts — the cascaded 8259A pair, driven through its ports
// as a BIOS or kernel programs it (Intel 8259A data sheet: ICW1-4, OCW1-3).

import { describe, expect, it } from "vitest";
import { Pic8259 } from "../../../hypervisor/devices/pic8259.js";
import { PortMap } from "../../../hypervisor/platform/ports.js";

/** A PIC pair on its PC ports, initialized the way Linux and most BIOSes do unless told otherwise. */
function pc(options: { icw1?: number; icw4?: number; init?: boolean } = {}) {
  const pic = new Pic8259();
  const ports = new PortMap();
  ports.register(0x20, 0x21, pic.master);
  ports.register(0xa0, 0xa1, pic.slave);
  const out = (port: number, value: number) => ports.write(port, 1, value);
  const inb = (port: number) => ports.read(port, 1);
  if (options.init !== false) {
    const icw1 = options.icw1 ?? 0x11; // edge-triggered, cascade, ICW4 follows
    const icw4 = options.icw4 ?? 0x01; // 8086 mode, normal EOI
    out(0x20, icw1);
    out(0x21, 0x20); // ICW2: master vectors 0x20-0x27
    out(0x21, 0x04); // ICW3: a slave on IR2
    out(0x21, icw4);
    out(0xa0, icw1);
    out(0xa1, 0x28); // slave vectors 0x28-0x2f
    out(0xa1, 0x02); // its identity: cascade line 2
    out(0xa1, icw4);
  }
  const pulse = (n: number) => {
    pic.irq(n)(true);
    pic.irq(n)(false);
  };
  const readIsr = (command: number) => {
    out(command, 0x0b); // OCW3: read ISR
    const isr = inb(command);
    out(command, 0x0a); // back to IRR
    return isr;
  };
  return { pic, out, inb, pulse, readIsr };
}

describe("8259A pair", () => {
  it("turns a rising edge on IRQ 0 into vector ICW2+0 and moves it from IRR to ISR at acknowledge", () => {
    const { pic, inb, pulse, readIsr } = pc();
    expect(pic.pendingVector()).toBeUndefined();
    pulse(0);
    expect(inb(0x20) & 1).toBe(1); // IRR, the register OCW3 selects after ICW1
    expect(pic.pendingVector()).toBe(0x20);
    expect(pic.acknowledge()).toBe(0x20);
    expect(inb(0x20) & 1).toBe(0);
    expect(readIsr(0x20)).toBe(0x01);
    expect(pic.pendingVector()).toBeUndefined();
  });

  it("holds a masked request in IRR and delivers it when OCW1 unmasks the line", () => {
    const { pic, out, inb, pulse } = pc();
    out(0x21, 0x02); // mask IRQ 1
    expect(inb(0x21)).toBe(0x02);
    pulse(1);
    expect(pic.pendingVector()).toBeUndefined();
    out(0x21, 0x00);
    expect(pic.pendingVector()).toBe(0x21);
  });

  it("blocks equal and lower priorities while a line is in service, and lets a higher one nest", () => {
    const { pic, pulse } = pc();
    pulse(3);
    expect(pic.acknowledge()).toBe(0x23);
    pulse(5);
    expect(pic.pendingVector()).toBeUndefined(); // IRQ 5 waits behind IRQ 3
    pulse(1);
    expect(pic.acknowledge()).toBe(0x21); // IRQ 1 outranks IRQ 3
  });

  it("clears the highest-priority in-service line on a non-specific EOI", () => {
    const { pic, out, pulse, readIsr } = pc();
    pulse(3);
    pic.acknowledge();
    pulse(1);
    pic.acknowledge();
    expect(readIsr(0x20)).toBe(0x0a);
    out(0x20, 0x20); // OCW2: non-specific EOI
    expect(readIsr(0x20)).toBe(0x08);
  });

  it("clears exactly the named line on a specific EOI", () => {
    const { pic, out, pulse, readIsr } = pc();
    pulse(3);
    pic.acknowledge();
    pulse(1);
    pic.acknowledge();
    out(0x20, 0x63); // OCW2: specific EOI for IR3
    expect(readIsr(0x20)).toBe(0x02);
  });

  it("delivers a slave line through the cascade on IR2 with the slave's vector", () => {
    const { pic, out, pulse, readIsr } = pc();
    pulse(12);
    expect(pic.pendingVector()).toBe(0x2c);
    expect(pic.acknowledge()).toBe(0x2c);
    expect(readIsr(0x20)).toBe(0x04); // the master has its cascade line in service
    expect(readIsr(0xa0)).toBe(0x10);
    out(0xa0, 0x20); // EOI to the slave, then to the master, as a handler must
    out(0x20, 0x20);
    expect(readIsr(0x20)).toBe(0);
    expect(readIsr(0xa0)).toBe(0);
  });

  it("requests once per rising edge in edge mode: a line held high does not repeat", () => {
    const { pic, out } = pc();
    const line = pic.irq(4);
    line(true);
    expect(pic.acknowledge()).toBe(0x24);
    out(0x20, 0x20);
    expect(pic.pendingVector()).toBeUndefined();
    line(false);
    line(true);
    expect(pic.pendingVector()).toBe(0x24);
  });

  it("follows the line in level mode (ICW1 LTIM): the request lasts while the line is high", () => {
    const { pic, out } = pc({ icw1: 0x19 });
    const line = pic.irq(4);
    line(true);
    expect(pic.acknowledge()).toBe(0x24);
    out(0x20, 0x20);
    expect(pic.pendingVector()).toBe(0x24); // still high: requests again
    line(false);
    expect(pic.pendingVector()).toBeUndefined();
  });

  it("leaves nothing in service in automatic-EOI mode (ICW4 AEOI)", () => {
    const { pic, pulse, readIsr } = pc({ icw4: 0x03 });
    pulse(0);
    expect(pic.acknowledge()).toBe(0x20);
    expect(readIsr(0x20)).toBe(0);
    pulse(0);
    expect(pic.pendingVector()).toBe(0x20);
  });

  it("makes the serviced line the lowest priority on a rotating EOI", () => {
    const { pic, out, pulse } = pc();
    pulse(0);
    pic.acknowledge();
    out(0x20, 0xa0); // OCW2: rotate on non-specific EOI
    pulse(0);
    pulse(5);
    expect(pic.acknowledge()).toBe(0x25); // IR0 is now the lowest priority
  });

  it("sets the lowest-priority line with the set-priority command", () => {
    const { pic, out, pulse } = pc();
    out(0x20, 0xc4); // OCW2: IR4 lowest, so IR5 highest
    pulse(1);
    pulse(6);
    expect(pic.acknowledge()).toBe(0x26);
  });

  it("answers a poll command with 0x80 | line and acknowledges it", () => {
    const { out, inb, pulse, readIsr } = pc();
    pulse(6);
    out(0x20, 0x0c); // OCW3: poll
    expect(inb(0x20)).toBe(0x86);
    expect(readIsr(0x20)).toBe(0x40);
    out(0x20, 0x0c);
    expect(inb(0x20)).toBe(0); // nothing requested
  });

  it("answers an acknowledge with nothing requested with IR7's vector and nothing in service", () => {
    const { pic, readIsr } = pc();
    expect(pic.acknowledge()).toBe(0x27);
    expect(readIsr(0x20)).toBe(0);
  });

  it("lets lower priorities through a masked in-service line in special mask mode", () => {
    const { pic, out, pulse } = pc();
    pulse(1);
    pic.acknowledge();
    out(0x21, 0x02); // mask the line being serviced
    out(0x20, 0x68); // OCW3: set special mask mode
    pulse(5);
    expect(pic.pendingVector()).toBe(0x25);
    out(0x20, 0x48); // reset special mask mode
    expect(pic.pendingVector()).toBeUndefined();
  });

  it("re-initializes on ICW1: masks, in-service bits and requests are cleared", () => {
    const { pic, out, inb, pulse, readIsr } = pc();
    out(0x21, 0xf0);
    pulse(0);
    pic.acknowledge();
    out(0x20, 0x11);
    out(0x21, 0x08);
    out(0x21, 0x04);
    out(0x21, 0x01);
    expect(inb(0x21)).toBe(0);
    expect(readIsr(0x20)).toBe(0);
    pulse(0);
    expect(pic.pendingVector()).toBe(0x08); // the new ICW2
  });

  it("reports INT output changes to the machine", () => {
    const { pic, pulse } = pc();
    let changes = 0;
    pic.onChange = () => changes++;
    pulse(0);
    expect(changes).toBeGreaterThan(0);
  });

  it("refuses to let a device drive the cascade line IRQ 2", () => {
    const { pic } = pc();
    expect(() => pic.irq(2)).toThrow(/IRQ 2/);
  });
});
