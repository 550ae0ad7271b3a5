// test/hypervisor/platform/cpu.test.ts — the TypeScript face of the core:
// views over the state and RAM, named registers, the ROM, MMIO claims,
// guest-memory helpers, and saving and restoring the architectural state.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CS, Cpu, DS } from "../../../hypervisor/platform/cpu.js";
import * as L from "../../../core/layout.js";

const wasm = readFileSync("build/core.wasm");

describe("Cpu", () => {
  it("named registers read and write the layout words", () => {
    const cpu = Cpu.create(wasm, 1 << 20);
    cpu.eax = 0xdeadbeef;
    cpu.edi = -1;
    cpu.eflags = 0;
    expect(cpu.state[L.REG_EAX / 4]).toBe(0xdeadbeef);
    expect(cpu.edi).toBe(0xffffffff);
    expect(cpu.eflags).toBe(2);
    expect(cpu.registers().eax).toBe(0xdeadbeef);
    cpu.setSegment(DS, { selector: 0x10, base: 0x1000, limit: 0xffff, attr: 0x93 });
    expect(cpu.segment(DS)).toEqual({ selector: 0x10, base: 0x1000, limit: 0xffff, attr: 0x93 });
  });

  it("comes out of reset at F000:FFF0", () => {
    const cpu = Cpu.create(wasm, 1 << 20);
    expect(cpu.eip).toBe(0xfff0);
    expect(cpu.segment(CS).base).toBe(0xffff0000);
    expect(cpu.edx).toBe(L.CPU_SIGNATURE);
  });

  it("writes guest RAM through the core and reads it through the view", () => {
    const cpu = Cpu.create(wasm, 1 << 20);
    cpu.write(0x1234, new Uint8Array([1, 2, 3]));
    cpu.fill(0x2000, 0x20000, 0xaa);
    expect(Array.from(cpu.read(0x1234, 3))).toEqual([1, 2, 3]);
    expect(cpu.ram[0x2000 + 0x1ffff]).toBe(0xaa);
    expect(() => cpu.write((1 << 20) - 1, new Uint8Array(2))).toThrow(/outside RAM/);
    expect(Array.from(cpu.readVirtual(0x1234, 3)!)).toEqual([1, 2, 3]);
    expect(cpu.writeVirtual(0x3000, new Uint8Array([9]))).toBe(true);
    expect(cpu.ram[0x3000]).toBe(9);
  });

  it("loads a ROM that answers at the top of 4 GiB and at 0xF0000", () => {
    const cpu = Cpu.create(wasm, 1 << 20);
    const rom = new Uint8Array(0x20000);
    rom[0x1fff0] = 0xf4; // HLT at the reset vector
    cpu.loadRom(rom);
    expect(cpu.run(10)).toBe(L.EXIT_HLT);
    expect(cpu.eip).toBe(0xfff1);
    expect(() => cpu.loadRom(new Uint8Array(0x10000))).toThrow(/same size/);
    expect(() => Cpu.create(wasm, 1 << 20).loadRom(new Uint8Array(100))).toThrow(/64 KiB/);
  });

  it("claims MMIO ranges above RAM only", () => {
    const cpu = Cpu.create(wasm, 1 << 20);
    expect(() => cpu.claimMmio(0x1000, 0x1fff)).toThrow(/above RAM/);
    cpu.claimMmio(0xfec00000, 0xfec00fff);
    expect(cpu.word(L.MMIO_COUNT)).toBe(1);
  });

  it("saveState and restoreState move a running machine to another instance", () => {
    const a = Cpu.create(wasm, 1 << 20);
    const b = Cpu.create(wasm, 1 << 20);
    // A real-mode loop at 0:0x7c00: inc ax; jmp $-1
    const code = new Uint8Array([0x40, 0xeb, 0xfd]);
    for (const cpu of [a, b]) {
      cpu.write(0x7c00, code);
      cpu.setSegment(CS, { selector: 0, base: 0, limit: 0xffff, attr: 0x9b });
      cpu.eip = 0x7c00;
    }
    a.run(1001);
    const saved = a.saveState();
    expect(saved.length).toBe(L.SAVED_STATE_SIZE);
    b.restoreState(saved);
    expect(b.eax).toBe(a.eax);
    expect(b.instructions()).toBe(1001);
    a.run(500);
    b.run(500);
    expect(b.eax).toBe(a.eax);
    expect(b.eip).toBe(a.eip);
    expect(b.word(L.MACHINE_RAM_BASE)).not.toBe(0);
    expect(() => b.restoreState(new Uint8Array(10))).toThrow(/bytes/);
  });

  it("loads build/core.wasm by itself", async () => {
    const cpu = await Cpu.load(1 << 20);
    expect(cpu.ramBytes).toBe(1 << 20);
  });
});
