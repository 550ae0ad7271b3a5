// test/hypervisor/platform/ports.test.ts — the I/O port space: claims, the open bus, byte
// splitting of wide accesses, and `--port-log`.

import { describe, expect, it } from "vitest";
import type { IoSize, PortDevice } from "../../../hypervisor/devices/io.js";
import { PortMap } from "../../../hypervisor/platform/ports.js";

/** A device that records what reaches it and reads back its port's low byte. */
function recorder(name: string) {
  const writes: string[] = [];
  const device: PortDevice = {
    name,
    read: (port: number, size: IoSize) => (size === 1 ? port & 0xff : 0x12345678),
    write: (port: number, size: IoSize, value: number) => writes.push(`${port.toString(16)}/${size}=${value.toString(16)}`),
  };
  return { device, writes };
}

describe("port map", () => {
  it("reads all ones from ports nobody claims and drops writes to them", () => {
    const ports = new PortMap();
    expect(ports.read(0x80, 1)).toBe(0xff);
    expect(ports.read(0x80, 2)).toBe(0xffff);
    expect(ports.read(0x80, 4)).toBe(0xffffffff);
    ports.write(0x80, 1, 0x12);
  });

  it("splits a wide access to 8-bit devices into byte accesses at consecutive ports", () => {
    const ports = new PortMap();
    const a = recorder("a");
    ports.register(0x100, 0x101, a.device);
    ports.write(0x101, 2, 0xbbaa); // 0x101 is a's, 0x102 nobody's
    expect(a.writes).toEqual(["101/1=aa"]);
    expect(ports.read(0x100, 4)).toBe(0xffff0100);
  });

  it("hands a wide device the whole access", () => {
    const ports = new PortMap();
    const w = recorder("w");
    ports.register(0x200, 0x203, w.device, { wide: true });
    ports.write(0x200, 4, 0xdeadbeef);
    expect(w.writes).toEqual(["200/4=deadbeef"]);
    expect(ports.read(0x200, 4)).toBe(0x12345678);
  });

  it("refuses overlapping claims", () => {
    const ports = new PortMap();
    ports.register(0x3f8, 0x3ff, recorder("com1").device);
    expect(() => ports.register(0x3f0, 0x3f8, recorder("fdc").device)).toThrow(/overlaps com1/);
  });

  it("logs every byte written to a logged port in hex, one line each, claimed or not", () => {
    const ports = new PortMap();
    const lines: string[] = [];
    ports.logSink = (line) => lines.push(line);
    ports.logWrites(0x80);
    ports.logWrites(0x81);
    ports.write(0x80, 1, 0x0a);
    ports.write(0x80, 2, 0xbeef);
    ports.write(0x82, 1, 0x33);
    expect(lines).toEqual(["port 0x80 <- 0x0a", "port 0x80 <- 0xef", "port 0x81 <- 0xbe"]);
  });
});
