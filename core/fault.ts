// core/fault.ts — exceptions as return codes.
//
// AssemblyScript has no exceptions (and a wasm trap would kill the host), so
// a fault is a flag: the code that detects it calls `raise`, every caller
// checks `faulted()` after each access that can fail and returns without
// changing architectural state, and the run loop delivers the exception
// from the instruction's first byte (SDM Vol. 3A 6.5: faults restart the
// instruction). The first fault of an instruction wins; delivering it may
// raise another, which the delivery code turns into #DF or a shutdown.

// Exception vectors (SDM Vol. 3A Table 6-1).
export const EXC_DE: i32 = 0;
export const EXC_DB: i32 = 1;
export const EXC_NMI: i32 = 2;
export const EXC_BP: i32 = 3;
export const EXC_OF: i32 = 4;
export const EXC_BR: i32 = 5;
export const EXC_UD: i32 = 6;
export const EXC_NM: i32 = 7;
export const EXC_DF: i32 = 8;
export const EXC_TS: i32 = 10;
export const EXC_NP: i32 = 11;
export const EXC_SS: i32 = 12;
export const EXC_GP: i32 = 13;
export const EXC_PF: i32 = 14;
export const EXC_MF: i32 = 16;
export const EXC_AC: i32 = 17;
export const EXC_MC: i32 = 18;
export const EXC_XM: i32 = 19;

/** Not an exception: the instruction stopped at an I/O or MMIO access the
 * host must complete (core/iolog.ts). Raised like a fault so every caller
 * already backs out without changing state; the run loop turns it into
 * EXIT_IO or EXIT_MMIO instead of delivering anything. */
export const FAULT_EXIT: i32 = 256;

/** The pending exception of the current instruction, or -1. */
export let faultVector: i32 = -1;
export let faultErrorCode: u32 = 0;
export let faultHasCode: bool = false;
/** For #PF: the linear address that failed. Delivery copies it to CR2, so a
 * host-side lookup that faults (core/host.ts) leaves CR2 alone. */
export let faultAddress: u32 = 0;

/** Raises an exception that pushes an error code (#DF #TS #NP #SS #GP #PF #AC). */
export function raise(vector: i32, errorCode: u32): void {
  if (faultVector >= 0) return;
  faultVector = vector;
  faultErrorCode = errorCode;
  faultHasCode = true;
}

/** Raises an exception without an error code (#DE #DB #BP #OF #BR #UD #NM #MF). */
export function raiseNoCode(vector: i32): void {
  if (faultVector >= 0) return;
  faultVector = vector;
  faultErrorCode = 0;
  faultHasCode = false;
}

/** Raises #PF for `linear` with the SDM's error code (Vol. 3A 4.7). */
export function raisePageFault(linear: u32, errorCode: u32): void {
  if (faultVector >= 0) return;
  raise(EXC_PF, errorCode);
  faultAddress = linear;
}

// @ts-ignore: decorator
@inline export function faulted(): bool {
  return faultVector >= 0;
}

export function clearFault(): void {
  faultVector = -1;
  faultErrorCode = 0;
  faultHasCode = false;
}
