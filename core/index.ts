// core/index.ts — the CPU's entry points, compiled by asc to build/core.wasm.
//
// For now the machine can be created and reset: RAM is allocated once, below
// nothing that could move it, and the registers take the values the SDM gives
// for power-up (Vol. 3A 9.1.1, Table 9-1). The interpreter arrives with the
// CPU issue and runs from exactly this state: real mode, CS:EIP = F000:FFF0
// with the CS base at FFFF0000, so the first fetch is at the top of 4 GiB.

import {
  STATE_SIZE, REG_EAX, REG_EDX, REG_EIP, REG_EFLAGS, REG_CR0, REG_CR2, REG_CR3, REG_CR4,
  SEG_BASE, SEG_RECORD_SIZE, SEG_CS, SEG_LDTR, SEG_TR, SEG_SELECTOR, SEG_BASE_ADDR, SEG_LIMIT,
  SEG_ATTR, REG_GDTR_BASE, REG_GDTR_LIMIT, REG_IDTR_BASE, REG_IDTR_LIMIT,
  MACHINE_RAM_BASE, MACHINE_RAM_SIZE, CPU_SIGNATURE, A20_ENABLED,
} from "./layout";
import { attachMemory } from "./memory";

/** Offset of the state block, for the host's typed-array views (always 0). */
export function stateBase(): usize {
  return 0;
}

/** Bytes of the state block. */
export function stateSize(): u32 {
  return STATE_SIZE;
}

/**
 * Allocates machine RAM (a whole number of 4 KiB frames) once, page-aligned
 * in linear memory, and returns its offset; 0 if it was already allocated or
 * the size is not a multiple of 4 KiB.
 */
export function createMachine(ramBytes: u32): usize {
  if (load<u32>(MACHINE_RAM_BASE) != 0 || ramBytes == 0 || (ramBytes & 0xfff) != 0) return 0;
  const raw = heap.alloc(<usize>ramBytes + 0x1000);
  const base = (raw + 0xfff) & ~(<usize>0xfff);
  memory.fill(base, 0, ramBytes);
  store<u32>(MACHINE_RAM_BASE, <u32>base);
  store<u32>(MACHINE_RAM_SIZE, ramBytes);
  store<u32>(A20_ENABLED, 1);
  attachMemory();
  reset();
  return base;
}

function setSegment(sreg: i32, selector: u32, base: u32, limit: u32, attr: u32): void {
  const rec = SEG_BASE + sreg * SEG_RECORD_SIZE;
  store<u32>(rec + SEG_SELECTOR, selector);
  store<u32>(rec + SEG_BASE_ADDR, base);
  store<u32>(rec + SEG_LIMIT, limit);
  store<u32>(rec + SEG_ATTR, attr);
}

/** The power-up state of SDM Vol. 3A Table 9-1. RAM is left as it is. */
export function reset(): void {
  for (let off = REG_EAX; off <= REG_EFLAGS; off += 4) store<u32>(off, 0);
  store<u32>(REG_EDX, CPU_SIGNATURE);
  store<u32>(REG_EIP, 0xfff0);
  store<u32>(REG_EFLAGS, 0x2);
  store<u32>(REG_CR0, 0x60000010);
  store<u32>(REG_CR2, 0);
  store<u32>(REG_CR3, 0);
  store<u32>(REG_CR4, 0);
  // Data segments: selector 0, base 0, limit FFFF, present read/write accessed.
  for (let sreg = 0; sreg < 6; sreg++) setSegment(sreg, 0, 0, 0xffff, 0x93);
  // Code segment: selector F000 with the base at FFFF0000 until the first far jump.
  setSegment(SEG_CS, 0xf000, 0xffff0000, 0xffff, 0x9b);
  setSegment(SEG_LDTR, 0, 0, 0xffff, 0x82);
  setSegment(SEG_TR, 0, 0, 0xffff, 0x8b);
  store<u32>(REG_GDTR_BASE, 0);
  store<u32>(REG_GDTR_LIMIT, 0xffff);
  store<u32>(REG_IDTR_BASE, 0);
  store<u32>(REG_IDTR_LIMIT, 0xffff);
}

export * from "./host";
