// core/index.ts — the CPU's entry points, compiled by asc to build/core.wasm.
//
// The machine is created once (RAM allocated below nothing that could move
// it) and comes out of reset in the state the SDM gives for power-up (Vol. 3A
// 9.1.1, Table 9-1): real mode, CS:EIP = F000:FFF0 with the CS base at
// FFFF0000, so the first fetch is at the top of 4 GiB, where the ROM is.
// `run` (core/run.ts) executes from there; the host reads and writes the
// state block (core/layout.ts) directly and calls the services of
// core/host.ts for guest memory and the TLB, and `hostEmulateOne`
// (core/emulate.ts) to complete a fault by executing one instruction.

import { forgetCodePages } from "./codepages";
import {
  STATE_SIZE, REG_EAX, REG_EDX, REG_EIP, REG_EFLAGS, REG_CR0, REG_CR2, REG_CR3, REG_CR4, REG_CPL, REG_DR0, REG_DR6,
  REG_DR7, SEG_CS, SEG_LDTR, SEG_TR, REG_GDTR_BASE, REG_GDTR_LIMIT, REG_IDTR_BASE, REG_IDTR_LIMIT, MACHINE_RAM_BASE,
  MACHINE_RAM_SIZE, MACHINE_ROM_BASE, MACHINE_ROM_SIZE, CPU_SIGNATURE, A20_ENABLED, MSR_SYSENTER_CS, REG_TSC,
  HALTED, INTERRUPT_SHADOW, INTR_PENDING, IO_LOG_COUNT, IO_LOG_AWAITING,
} from "./layout";
import { attachMemory } from "./memory";
import { setSegment } from "./state";
import { flushTlbAll } from "./mmu";
import { invalidateFetch } from "./decode";

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
  forgetCodePages();
  reset();
  return base;
}

/**
 * Allocates the ROM (a multiple of 64 KiB, at most 1 MiB) once and returns
 * where its bytes go in linear memory; the host copies the image there. It
 * answers reads below 4 GiB and, for its last 64 KiB, at 0xF0000 (core/memory.ts).
 * 0 if a ROM exists or the size is wrong. The memory may grow: views are rebuilt.
 */
export function allocateRom(romBytes: u32): usize {
  if (load<u32>(MACHINE_ROM_SIZE) != 0 || romBytes == 0 || (romBytes & 0xffff) != 0 || romBytes > 0x100000) return 0;
  const raw = heap.alloc(<usize>romBytes + 0x1000);
  const base = (raw + 0xfff) & ~(<usize>0xfff);
  memory.fill(base, 0xff, romBytes);
  store<u32>(MACHINE_ROM_BASE, <u32>base);
  store<u32>(MACHINE_ROM_SIZE, romBytes);
  attachMemory();
  flushTlbAll();
  invalidateFetch();
  return base;
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
  store<u32>(REG_CPL, 0);
  for (let i = 0; i < 8; i++) store<u32>(REG_DR0 + i * 4, 0);
  store<u32>(REG_DR6, 0xffff0ff0);
  store<u32>(REG_DR7, 0x400);
  // SYSENTER_CS/ESP/EIP, EFER and the TSC start at zero.
  memory.fill(MSR_SYSENTER_CS, 0, REG_TSC + 8 - MSR_SYSENTER_CS);
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
  store<u32>(HALTED, 0);
  store<u32>(INTERRUPT_SHADOW, 0);
  store<u32>(INTR_PENDING, 0);
  store<u32>(IO_LOG_COUNT, 0);
  store<u32>(IO_LOG_AWAITING, 0);
  flushTlbAll();
  invalidateFetch();
}

export { run } from "./run";
export { hostEmulateOne } from "./emulate";
export { traceAllocate } from "./trace";
export * from "./host";
