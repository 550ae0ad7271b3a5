// test/core/reset.test.ts — the core wasm builds, allocates machine RAM once,
// and comes out of reset in the state SDM Vol. 3A Table 9-1 gives.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import loader from "@assemblyscript/loader";
import * as L from "../../core/layout.js";

const WASM = "build/core.wasm";

interface CoreExports {
  memory: WebAssembly.Memory;
  createMachine(ramBytes: number): number;
  reset(): void;
  stateSize(): number;
}

async function instantiate(): Promise<CoreExports> {
  const { exports } = await loader.instantiate<Record<string, unknown>>(readFileSync(WASM), {});
  return exports as unknown as CoreExports;
}

describe("core reset", () => {
  it("allocates page-aligned RAM above the state block and reports it in the layout", async () => {
    const core = await instantiate();
    const base = core.createMachine(L.DEFAULT_RAM_BYTES) >>> 0;
    const state = new Uint32Array(core.memory.buffer, 0, L.STATE_SIZE / 4);
    expect(base % 4096).toBe(0);
    expect(base).toBeGreaterThanOrEqual(L.STATE_SIZE);
    expect(state[L.MACHINE_RAM_BASE / 4] >>> 0).toBe(base);
    expect(state[L.MACHINE_RAM_SIZE / 4] >>> 0).toBe(L.DEFAULT_RAM_BYTES);
    expect(core.memory.buffer.byteLength).toBeGreaterThanOrEqual(base + L.DEFAULT_RAM_BYTES);
    // asconfig sizes the initial memory for the default machine: no growth,
    // so views made before createMachine stay valid.
    expect(core.memory.buffer.byteLength).toBe(2080 * 65536);
    expect(core.createMachine(L.DEFAULT_RAM_BYTES)).toBe(0);
  });

  it("refuses RAM that is not a whole number of 4 KiB frames", async () => {
    const core = await instantiate();
    expect(core.createMachine(4097)).toBe(0);
    expect(core.createMachine(0)).toBe(0);
  });

  it("starts in real mode at F000:FFF0 with the CS base at FFFF0000", async () => {
    const core = await instantiate();
    core.createMachine(1 << 20);
    const state = new Uint32Array(core.memory.buffer, 0, L.STATE_SIZE / 4);
    const seg = (sreg: number, field: number) =>
      state[(L.SEG_BASE + sreg * L.SEG_RECORD_SIZE + field) / 4] >>> 0;
    expect(state[L.REG_EIP / 4]).toBe(0xfff0);
    expect(seg(L.SEG_CS, L.SEG_SELECTOR)).toBe(0xf000);
    expect(seg(L.SEG_CS, L.SEG_BASE_ADDR)).toBe(0xffff0000);
    expect(seg(L.SEG_DS, L.SEG_LIMIT)).toBe(0xffff);
    expect(state[L.REG_EFLAGS / 4]).toBe(0x2);
    expect(state[L.REG_CR0 / 4]).toBe(0x60000010);
    expect(state[L.REG_EDX / 4]).toBe(L.CPU_SIGNATURE);
  });
});
