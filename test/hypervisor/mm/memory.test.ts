// test/hypervisor/mm/memory.test.ts — machine memory over a plain buffer and over
// the core's RAM: little-endian words, whole entries, fills, and writes that
// always go through the core.

import { describe, expect, it } from "vitest";
import { bufferMemory, cpuMemory, type CoreRam } from "../../../hypervisor/mm/memory.js";

describe("machine memory over a buffer", () => {
  it("reads and writes little-endian words and 8-byte entries in place", () => {
    const ram = new Uint8Array(64);
    const mem = bufferMemory(ram.subarray(16, 48));
    mem.write32(4, 0x11223344);
    mem.write64(8, 0xaabbccdd, 0x80000001);
    expect([...ram.subarray(20, 24)]).toEqual([0x44, 0x33, 0x22, 0x11]);
    expect([...ram.subarray(24, 32)]).toEqual([0xdd, 0xcc, 0xbb, 0xaa, 0x01, 0x00, 0x00, 0x80]);
    expect(mem.read32(12)).toBe(0x80000001);
    expect(mem.bytes).toBe(32);
  });

  it("fills a range and nothing past it", () => {
    const ram = new Uint8Array(16);
    bufferMemory(ram).fill(4, 8, 0xff);
    expect([...ram]).toEqual([0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0]);
  });
});

describe("machine memory over the core", () => {
  /** A stand-in for Cpu: RAM whose view can be replaced (as when wasm memory grows), and a write log. */
  function fakeCore(bytes: number) {
    const writes: Array<[number, number[]]> = [];
    const core = {
      ramBytes: bytes,
      ram: new Uint8Array(bytes),
      write(pa: number, data: Uint8Array) {
        writes.push([pa, [...data]]);
        core.ram.set(data, pa);
      },
      fill(pa: number, length: number, value: number) {
        writes.push([pa, [length, value]]);
        core.ram.fill(value, pa, pa + length);
      },
    } satisfies CoreRam;
    return { core, writes };
  }

  it("sends every write through the core, an entry as one 8-byte write", () => {
    const { core, writes } = fakeCore(4096);
    const mem = cpuMemory(core);
    mem.write64(0x10, 0x1003, 0);
    mem.write32(0x20, 7);
    mem.fill(0x100, 0x100, 0);
    expect(writes).toEqual([[0x10, [3, 0x10, 0, 0, 0, 0, 0, 0]], [0x20, [7, 0, 0, 0]], [0x100, [0x100, 0]]]);
    expect(mem.read32(0x10)).toBe(0x1003);
  });

  it("reads through the core's current view after it was rebuilt", () => {
    const { core } = fakeCore(4096);
    const mem = cpuMemory(core);
    expect(mem.read32(0)).toBe(0);
    const grown = new Uint8Array(8192).subarray(4096);
    grown[0] = 0x2a;
    core.ram = grown;
    expect(mem.read32(0)).toBe(0x2a);
  });
});
