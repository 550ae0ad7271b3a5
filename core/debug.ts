// core/debug.ts — the debug registers: instruction and data breakpoints.
//
// DR0-DR3 hold linear addresses; DR7 enables each (L0-L3, G0-G3) and gives
// its kind and length (R/W and LEN fields); DR6 reports which conditions
// fired (SDM Vol. 3A 18.2). An instruction breakpoint (R/W = 00) is a fault:
// #DB before the instruction at that address executes, unless EFLAGS.RF is
// set, which lets a handler return to the instruction once. A data
// breakpoint (R/W = 01 writes, 11 reads or writes) is a trap: #DB after the
// instruction whose access touched the breakpoint's aligned 1, 2 or 4 bytes
// has completed. I/O breakpoints (R/W = 10) need CR4.DE, which this CPU does
// not have. With DR7.GD set, any MOV to or from a debug register raises #DB
// first (DR6.BD), and delivering #DB clears GD (18.2.4).
//
// Both checks are off the hot path: `refreshBreakpoints` recomputes, on
// every DR7 write and at the start of run(), whether any breakpoint of each
// kind is enabled, and accesses look at that one flag.

import { REG_DR0, REG_DR6, REG_DR7 } from "./layout";
import { WORK_DEBUG_TRAP, requestWork } from "./decode";

/** Any instruction breakpoint enabled. */
export let codeBreakpoints: bool = false;
/** Any data breakpoint enabled. */
export let dataBreakpoints: bool = false;
/** Data breakpoints hit by the instruction in progress (bit n for DRn). */
export let dataHits: u32 = 0;

/** DR6.BD, BS, BT: a debug-register access, a single step, a task switch. */
export const DR6_BD: u32 = 1 << 13;
export const DR6_BS: u32 = 1 << 14;
export const DR6_BT: u32 = 1 << 15;
/** DR7.GD: general detect. */
export const DR7_GD: u32 = 1 << 13;

// @ts-ignore: decorator
@inline function enabled(dr7: u32, n: u32): bool {
  return ((dr7 >> (n << 1)) & 3) != 0;
}

// @ts-ignore: decorator
@inline function kind(dr7: u32, n: u32): u32 {
  return (dr7 >> (16 + (n << 2))) & 3;
}

/** The breakpoint's length in bytes minus one (LEN: 00 1, 01 2, 11 4; 10 is undefined here and taken as 8). */
// @ts-ignore: decorator
@inline function lengthMinusOne(dr7: u32, n: u32): u32 {
  const len = (dr7 >> (18 + (n << 2))) & 3;
  return len == 0 ? 0 : len == 1 ? 1 : len == 3 ? 3 : 7;
}

/** Recomputes which kinds of breakpoint are enabled (after DR7 changes). */
export function refreshBreakpoints(): void {
  const dr7 = load<u32>(REG_DR7);
  codeBreakpoints = false;
  dataBreakpoints = false;
  for (let n: u32 = 0; n < 4; n++) {
    if (!enabled(dr7, n)) continue;
    const k = kind(dr7, n);
    if (k == 0) codeBreakpoints = true;
    else if (k == 1 || k == 3) dataBreakpoints = true;
  }
  dataHits = 0;
}

/** True when an enabled instruction breakpoint is at `linear`; sets its DR6 bits. */
export function codeBreakpointAt(linear: u32): bool {
  const dr7 = load<u32>(REG_DR7);
  let hits: u32 = 0;
  for (let n: u32 = 0; n < 4; n++) {
    if (enabled(dr7, n) && kind(dr7, n) == 0 && load<u32>(REG_DR0 + (n << 2)) == linear) hits |= <u32>1 << n;
  }
  if (hits == 0) return false;
  store<u32>(REG_DR6, (load<u32>(REG_DR6) & ~0xf) | hits);
  return true;
}

/** Notes a data access of len1 + 1 bytes at `linear` against the enabled data breakpoints. */
export function noteDataAccess(linear: u32, len1: u32, write: bool): void {
  const dr7 = load<u32>(REG_DR7);
  for (let n: u32 = 0; n < 4; n++) {
    if (!enabled(dr7, n)) continue;
    const k = kind(dr7, n);
    if (k == 0 || k == 2 || (k == 1 && !write)) continue;
    const size1 = lengthMinusOne(dr7, n);
    const start = load<u32>(REG_DR0 + (n << 2)) & ~size1;
    // Overlap of [linear, linear + len1] with [start, start + size1].
    if (linear - start <= size1 || start - linear <= len1) {
      dataHits |= <u32>1 << n;
      requestWork(WORK_DEBUG_TRAP);
    }
  }
}

/** Clears the hits of an instruction that did not complete. */
export function forgetDataHits(): void {
  dataHits = 0;
}

/** Reports the hits of a completed instruction in DR6; true when #DB must follow. */
export function takeDataHits(): bool {
  if (dataHits == 0) return false;
  store<u32>(REG_DR6, (load<u32>(REG_DR6) & ~0xf) | dataHits);
  dataHits = 0;
  return true;
}
