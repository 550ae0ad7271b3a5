// test/hypervisor/devices/debug-ports.test.ts — the emulator ports: debugcon (0xE9),
// isa-debug-exit (0xF4) and system control port A (0x92).

import { describe, expect, it } from "vitest";
import { DebugConsole } from "../../../hypervisor/devices/debugcon.js";
import { DebugExit, debugExitStatus } from "../../../hypervisor/devices/debug-exit.js";
import { Port92 } from "../../../hypervisor/devices/port92.js";
import { PortMap } from "../../../hypervisor/platform/ports.js";

describe("port 0xE9 debug console", () => {
  it("prints every byte written and reads back 0xE9", () => {
    const bytes: number[] = [];
    const ports = new PortMap();
    ports.register(0xe9, 0xe9, new DebugConsole((b) => bytes.push(b)));
    ports.write(0xe9, 1, 0x4f);
    ports.write(0xe9, 1, 0x4b);
    expect(bytes).toEqual([0x4f, 0x4b]);
    expect(ports.read(0xe9, 1)).toBe(0xe9);
  });
});

describe("isa-debug-exit", () => {
  it("turns the value written into the odd status (v << 1) | 1, as QEMU does", () => {
    expect(debugExitStatus(0)).toBe(1);
    expect(debugExitStatus(1)).toBe(3);
    expect(debugExitStatus(0x41)).toBe(0x83);
    expect(debugExitStatus(0x80)).toBe(1); // truncated to eight bits like any process status
  });

  it("sees a 32-bit OUT whole when registered wide over 0xF4-0xF7", () => {
    const values: number[] = [];
    const ports = new PortMap();
    ports.register(0xf4, 0xf7, new DebugExit((v) => values.push(v)), { wide: true });
    ports.write(0xf4, 1, 0x05);
    ports.write(0xf4, 4, 0x12345678);
    expect(values).toEqual([0x05, 0x12345678]);
  });
});

describe("port 0x92", () => {
  function port92() {
    const a20: boolean[] = [];
    let resets = 0;
    const ports = new PortMap();
    ports.register(0x92, 0x92, new Port92((on) => a20.push(on), () => resets++, true));
    return { ports, a20, resets: () => resets };
  }

  it("reads the A20 gate in bit 1 and switches it when bit 1 changes", () => {
    const { ports, a20 } = port92();
    expect(ports.read(0x92, 1)).toBe(0x02);
    ports.write(0x92, 1, 0x00);
    expect(a20).toEqual([false]);
    expect(ports.read(0x92, 1)).toBe(0x00);
    ports.write(0x92, 1, 0x00); // no change, no call
    ports.write(0x92, 1, 0x02);
    expect(a20).toEqual([false, true]);
  });

  it("resets the CPU when bit 0 is written as 1, and reads that bit back as 0", () => {
    const { ports, resets } = port92();
    ports.write(0x92, 1, 0x03);
    expect(resets()).toBe(1);
    expect(ports.read(0x92, 1)).toBe(0x02);
  });
});
