// core/iolog.ts — I/O and MMIO accesses the host completes, replayed from a log.
//
// The core has no devices: a port access (IN, OUT, INS, OUTS) or a physical
// access inside a range the host claimed as MMIO leaves run() so the host
// can perform it. The rule that makes this simple is the one faults already
// follow (SDM Vol. 3A 6.5): the instruction stops before it changes any
// architectural state, and is executed again from its first byte when run()
// resumes. Each access the host completed is appended to a log in the state
// block (core/layout.ts, "The I/O log", describes the protocol); on the next
// execution the accesses are answered from the log in order, so the
// instruction runs to the end without exiting twice for the same access,
// and an input sees exactly the value the host supplied.
//
// Re-execution is deterministic because nothing architectural changed in
// between: the same instruction at the same EIP with the same registers
// makes the same accesses in the same order. If it does not (the host
// changed the state between the exit and the next run), the first access
// that disagrees with the log truncates the log there and exits afresh.
//
// hostEmulateOne (core/emulate.ts) completes its own exits with the same
// log: a write the host performs instead of the core, a CPUID the host
// answers, and the reads of RAM those instructions made, kept so that the
// second execution reads what the first one did even though the host has
// written memory in between. A write of 8 bytes (CMPXCHG8B) takes two
// entries, the second holding its high dword.

import {
  IO_LOG, IO_LOG_AWAITING, IO_LOG_COUNT, IO_LOG_ENTRY_SIZE, IO_LOG_INPUT, IO_LOG_MAX, IO_LOG_MMIO,
  IO_LOG_HOST_WRITE, IO_LOG_CPUID, IO_LOG_HIGH, IO_LOG_SIZE, EXIT_PORT, EXIT_ADDRESS, EXIT_SIZE, EXIT_DIRECTION,
  EXIT_DATA, EXIT_DATA_HIGH, EXIT_IO, EXIT_MMIO, EXIT_CPUID, EXIT_WRITE_INTERCEPT,
} from "./layout";
import { FAULT_EXIT, faulted, raiseNoCode } from "./fault";

/** The next log entry the instruction in progress must match. */
let logPos: u32 = 0;

/** True while the log may hold entries: saves a load per instruction when it does not. */
export let logInUse: bool = false;

/** EXIT_IO, EXIT_MMIO, EXIT_WRITE_INTERCEPT or EXIT_CPUID for the access that stopped the instruction. */
export let exitKind: u32 = 0;

/** Starts an instruction (or a REP iteration): its accesses match the log from the first entry. */
// @ts-ignore: decorator
@inline export function ioLogRewind(): void {
  logPos = 0;
}

/** The instruction (or iteration) retired or faulted: its accesses are done. */
// @ts-ignore: decorator
@inline export function ioLogClear(): void {
  if (logInUse) {
    store<u32>(IO_LOG_COUNT, 0);
    store<u32>(IO_LOG_AWAITING, 0);
    logInUse = false;
  }
}

/** True while an instruction stopped at an I/O exit waits to be executed again. */
export function ioLogBusy(): bool {
  return load<u32>(IO_LOG_COUNT) != 0;
}

/** At the start of run(): notes whether the log holds entries, and an input the host answered takes its value from EXIT_DATA. */
export function ioLogTakeInput(): void {
  logInUse = load<u32>(IO_LOG_COUNT) != 0;
  if (load<u32>(IO_LOG_AWAITING) == 0) return;
  const n = load<u32>(IO_LOG_COUNT);
  if (n != 0) {
    const entry = IO_LOG + (n - 1) * IO_LOG_ENTRY_SIZE;
    const size = load<u32>(entry + 4) & 7;
    const mask: u32 = size == 4 ? 0xffffffff : (<u32>1 << (size << 3)) - 1;
    store<u32>(entry + 8, load<u32>(EXIT_DATA) & mask);
  }
  store<u32>(IO_LOG_AWAITING, 0);
}

/**
 * One access the host performs: `where` is a port, a physical address or
 * (IO_LOG_CPUID) a linear one, `kind` the size OR-ed with the IO_LOG_* bits,
 * `data` the value of an output and `dataHigh` the high dword of an 8-byte
 * one. Returns the input value when the log already holds this access;
 * otherwise records it, fills the exit info and raises FAULT_EXIT (the
 * return value is then meaningless).
 */
export function ioAccess(where: u32, kind: u32, data: u32, dataHigh: u32 = 0): u32 {
  if (faulted()) return 0;
  const input = (kind & IO_LOG_INPUT) != 0;
  const slots: u32 = (kind & IO_LOG_SIZE) == 8 ? 2 : 1;
  const n = load<u32>(IO_LOG_COUNT);
  if (logPos < n) {
    const entry = IO_LOG + logPos * IO_LOG_ENTRY_SIZE;
    if (load<u32>(entry) == where && load<u32>(entry + 4) == kind && (input || load<u32>(entry + 8) == data) &&
        (slots == 1 || (logPos + 1 < n && load<u32>(entry + IO_LOG_ENTRY_SIZE + 8) == dataHigh))) {
      logPos += slots;
      return load<u32>(entry + 8);
    }
    store<u32>(IO_LOG_COUNT, logPos);
  }
  const at = load<u32>(IO_LOG_COUNT);
  // An instruction cannot make more device accesses than the log holds
  // (PUSHA onto an MMIO stack, byte by byte, would be the worst); beyond
  // that the access behaves as open bus rather than exit forever.
  if (at + slots > <u32>IO_LOG_MAX) return input ? 0xffffffff : 0;
  const entry = IO_LOG + at * IO_LOG_ENTRY_SIZE;
  store<u32>(entry, where);
  store<u32>(entry + 4, kind);
  store<u32>(entry + 8, input ? 0 : data);
  if (slots == 2) {
    store<u32>(entry + IO_LOG_ENTRY_SIZE, where);
    store<u32>(entry + IO_LOG_ENTRY_SIZE + 4, IO_LOG_HIGH);
    store<u32>(entry + IO_LOG_ENTRY_SIZE + 8, dataHigh);
  }
  store<u32>(IO_LOG_COUNT, at + slots);
  logInUse = true;
  store<u32>(IO_LOG_AWAITING, input ? 1 : 0);
  const isMmio = (kind & IO_LOG_MMIO) != 0;
  const isWrite = (kind & IO_LOG_HOST_WRITE) != 0;
  const isCpuid = (kind & IO_LOG_CPUID) != 0;
  const isPort = !isMmio && !isWrite && !isCpuid;
  store<u32>(EXIT_PORT, isPort ? where : 0);
  store<u32>(EXIT_ADDRESS, isMmio || isWrite ? where : 0);
  store<u32>(EXIT_SIZE, kind & IO_LOG_SIZE);
  store<u32>(EXIT_DIRECTION, input ? 1 : 0);
  store<u32>(EXIT_DATA, input ? 0 : data);
  store<u32>(EXIT_DATA_HIGH, input ? 0 : dataHigh);
  exitKind = isMmio ? EXIT_MMIO : isWrite ? EXIT_WRITE_INTERCEPT : isCpuid ? EXIT_CPUID : EXIT_IO;
  raiseNoCode(FAULT_EXIT);
  return 0;
}

/**
 * A read the core makes itself but must repeat exactly when the instruction
 * runs again (IO_LOG_RECALL, core/emulate.ts): `value` is what it read now.
 * Returns the value the log holds for this read when it holds one, else
 * logs `value` and returns it. Never exits. A log with no room left keeps
 * nothing, and the read is then made afresh on the next execution.
 */
export function ioLogRecall(where: u32, kind: u32, value: u32): u32 {
  if (faulted()) return value;
  const n = load<u32>(IO_LOG_COUNT);
  if (logPos < n) {
    const entry = IO_LOG + logPos * IO_LOG_ENTRY_SIZE;
    if (load<u32>(entry) == where && load<u32>(entry + 4) == kind) {
      logPos++;
      return load<u32>(entry + 8);
    }
    store<u32>(IO_LOG_COUNT, logPos);
  }
  const at = load<u32>(IO_LOG_COUNT);
  if (at >= <u32>IO_LOG_MAX) return value;
  const entry = IO_LOG + at * IO_LOG_ENTRY_SIZE;
  store<u32>(entry, where);
  store<u32>(entry + 4, kind);
  store<u32>(entry + 8, value);
  store<u32>(IO_LOG_COUNT, at + 1);
  logPos = at + 1;
  logInUse = true;
  return value;
}

/** A load from a claimed MMIO range (core/memory.ts). */
export function mmioRead(pa: u32, size: u32): u32 {
  return ioAccess(pa, size | IO_LOG_INPUT | IO_LOG_MMIO, 0);
}

/** A store to a claimed MMIO range (core/memory.ts). */
export function mmioWrite(pa: u32, size: u32, v: u32): void {
  ioAccess(pa, size | IO_LOG_MMIO, v);
}
