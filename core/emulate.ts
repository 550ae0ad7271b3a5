// core/emulate.ts — one instruction for the host: the faults a hypervisor completes.
//
// A hypervisor completes some faults of its guest by executing the faulting
// instruction for it with one rule relaxed, and never decodes x86 itself
// (DESIGN.md, "core/ — the CPU"). Xen PV lets a kernel use the ports its
// virtual IOPL allows though its real IOPL is 0; takes the writes a kernel
// makes to its page tables, which it may only read, validates each new
// entry and writes it itself ("writable page tables", XEN-ABI.md 1.4); and
// answers CPUID behind the forced-emulation prefix `ud2; .ascii "xen"`
// (XEN-ABI.md 1.8). `hostEmulateOne(flags)` executes the one instruction at
// CS:EIP in the current mode, relaxing what the flags (core/layout.ts
// EMULATE_*) say:
//
// - EMULATE_IO_PERMITTED: IN, OUT, INS and OUTS skip the IOPL and I/O
//   bitmap checks (core/io.ts) and exit as EXIT_IO as usual.
// - EMULATE_WRITES_TO_HOST: a write the paging refuses only because R/W is
//   clear (the page present, U/S allowing it, no reserved bit) translates
//   anyway (core/mmu.ts) and, instead of reaching RAM, exits with
//   EXIT_WRITE_INTERCEPT: EXIT_ADDRESS (physical), EXIT_LINEAR, EXIT_SIZE,
//   EXIT_DATA. A write that crosses into a second read-only page exits once
//   per page, each part with its own page's physical address; a part on a
//   writable page goes to RAM as usual. CMPXCHG8B's qword is one exit of
//   size 8 with its high dword in EXIT_DATA_HIGH, never two halves: a PAE
//   entry validated half-written is neither the old entry nor the new one.
// - EMULATE_CPUID_EXIT: CPUID exits with EXIT_CPUID before it changes
//   anything; the leaf is in EAX, the subleaf in ECX.
//
// The rule that makes it small: it is run(1) with every event exiting. The
// instruction goes through the run loop (core/run.ts) with a budget of one,
// the INTR line held low and HALTED clear, so it retires exactly as there
// (EIP, INSN_COUNT and the TSC by one, RF, the interrupt shadow, data
// breakpoints) and its exits are completed as run()'s are (core/layout.ts,
// "The I/O log"): the host answers and calls hostEmulateOne again with the
// same flags, and the instruction runs again from its first byte, replaying
// from the log what the host already did. For the new exits that means:
// after EXIT_WRITE_INTERCEPT the host has written the bytes itself (or
// refused to), and the second execution counts the write as done without
// touching RAM; after EXIT_CPUID the host has written EAX, EBX, ECX and
// EDX, and the second execution retires the CPUID leaving them. (A VT-x
// VMM moves EIP past a CPUID itself; completing through the core instead
// counts the instruction and handles RF, the shadow and single-step as for
// any other.) A host that abandons the instruction — it bounces a fault to
// the guest, or moves EIP past the CPUID itself — sets IO_LOG_COUNT to 0.
//
// Every event the instruction raises exits instead of being delivered
// (core/run.ts takeEvent): nothing goes through the IDT, and no external
// interrupt is taken. A fault returns EXIT_EXCEPTION with vector, error code
// and (#PF) linear address in the exit block and nothing changed — EIP on
// the instruction, CR2 unwritten, RAM as it was; only the interrupt shadow
// ends, as at any fault. A trap returns EXIT_EXCEPTION with the instruction
// retired, as EXCEPTION_EXIT_BITMAP exits do: INT n (any vector, with no
// gate checked: the host owns the decision), INT3, INTO, INT1, single-step
// and data breakpoints; INSN_COUNT tells them from faults, since it moved.
// HLT retires and returns EXIT_HLT with HALTED set; it never waits. Other
// outcomes: EXIT_BUDGET, the instruction retired (one iteration, for a REP
// string instruction, which leaves EIP on itself until its count runs out,
// as in run()), and the exits EXIT_IO, EXIT_MMIO, EXIT_WRITE_INTERCEPT and
// EXIT_CPUID.
//
// The reads of a read-modify-write whose write goes to the host (XCHG,
// CMPXCHG, CMPXCHG8B, ADD, BTS, ...) come from RAM, the page being
// readable, and are logged (IO_LOG_RECALL): by the second execution the
// host has written the new value, and XCHG must still return the old one
// and CMPXCHG compare as it did. Only the reads made for the write are
// logged; an instruction that also read the same bytes plainly (a MOVS onto
// itself) would see the host's value the second time, which no page-table
// update does.
//
// The flags are module globals, false outside hostEmulateOne: the paths
// they change (the walk's refusal, the slow paths of core/access.ts, CPUID,
// the I/O permission check, takeEvent) test one global, and the TLB fast
// path never sees them, since the TLB grants no write the paging refused.

import {
  A20_ENABLED, EMULATE_CPUID_EXIT, EMULATE_IO_PERMITTED, EMULATE_WRITES_TO_HOST, EXIT_LINEAR, HALTED,
  INTR_PENDING, IO_LOG_CPUID, IO_LOG_HOST_WRITE, IO_LOG_RECALL, RUN_BUDGET, SEG_CS,
} from "./layout";
import { segBase } from "./state";
import { faulted } from "./fault";
import { translate } from "./mmu";
import { physRead8, physRead16, physRead32, physWrite8, physWrite16, physWrite32 } from "./memory";
import { ioAccess, ioLogRecall } from "./iolog";
import { insnEip } from "./decode";
import { run } from "./run";

/** True while hostEmulateOne runs its instruction: every event exits (core/run.ts takeEvent). */
export let emulating: bool = false;
/** EMULATE_IO_PERMITTED is on (core/io.ts ioPermitted). */
export let ioPermittedByHost: bool = false;
/** EMULATE_WRITES_TO_HOST is on (core/mmu.ts walk, core/access.ts slow paths, CMPXCHG8B in core/exec0f.ts). */
export let writesToHost: bool = false;
/** EMULATE_CPUID_EXIT is on (CPUID in core/exec0f.ts). */
export let cpuidExits: bool = false;

/** The last translation let through a write that R/W refused (set by core/mmu.ts). */
let readOnlyWrite: bool = false;

/** Called by the walk when it lets a write refused only for R/W through. */
export function noteReadOnlyWrite(): void {
  readOnlyWrite = true;
}

/**
 * Executes the instruction at CS:EIP with the rules `flags` relax and
 * returns the outcome (an EXIT_* reason, also left in EXIT_REASON). The
 * INTR line and RUN_BUDGET are as the host left them afterwards.
 */
export function hostEmulateOne(flags: u32): u32 {
  const intr = load<u32>(INTR_PENDING);
  const budget = load<u32>(RUN_BUDGET);
  store<u32>(INTR_PENDING, 0);
  // The host asked for an instruction, so a halted CPU runs it (and is halted after only if it is HLT).
  store<u32>(HALTED, 0);
  ioPermittedByHost = (flags & EMULATE_IO_PERMITTED) != 0;
  writesToHost = (flags & EMULATE_WRITES_TO_HOST) != 0;
  cpuidExits = (flags & EMULATE_CPUID_EXIT) != 0;
  emulating = true;
  const reason = run(1);
  emulating = false;
  ioPermittedByHost = false;
  writesToHost = false;
  cpuidExits = false;
  readOnlyWrite = false;
  store<u32>(INTR_PENDING, intr);
  store<u32>(RUN_BUDGET, budget);
  return reason;
}

/** Translates `linear` for `access`, noting in readOnlyWrite whether R/W refused it. */
function translateNoting(linear: u32, access: i32): u32 {
  readOnlyWrite = false;
  return translate(linear, access);
}

/** A physical address as memory.ts applies it: address line 20 forced to 0 while the A20 gate is closed. */
// @ts-ignore: decorator
@inline function physical(pa: u32): u32 {
  return load<u32>(A20_ENABLED) != 0 ? pa : pa & ~(<u32>1 << 20);
}

/**
 * A write of `bytes` (1 to 8) bytes of hi:lo at `linear`, off the TLB fast
 * path while writes go to the host; `access` includes ACCESS_WRITE. Every
 * page it touches is translated before anything is written, as in
 * core/access.ts (SDM Vol. 3A 6.5: a fault leaves memory as it was).
 */
export function writeWithHost(linear: u32, lo: u32, hi: u32, bytes: u32, access: i32): void {
  const first = min(bytes, 0x1000 - (linear & 0xfff));
  const pa1 = translateNoting(linear, access);
  if (faulted()) return;
  const host1 = readOnlyWrite;
  let pa2: u32 = 0;
  let host2 = false;
  if (first < bytes) {
    pa2 = translateNoting(linear + first, access);
    if (faulted()) return;
    host2 = readOnlyWrite;
  }
  if (!host1 && !host2 && first == bytes) {
    // All on one writable page: the stores core/access.ts would make.
    if (bytes == 1) physWrite8(pa1, lo);
    else if (bytes == 2) physWrite16(pa1, lo);
    else {
      physWrite32(pa1, lo);
      if (bytes == 8 && !faulted()) physWrite32(pa1 + 4, hi);
    }
    return;
  }
  const value = (<u64>hi << 32) | <u64>lo;
  writePart(pa1, linear, first, value, host1);
  if (first < bytes && !faulted()) writePart(pa2, linear + first, bytes - first, value >> (<u64>first << 3), host2);
}

/** The part of a write on one page: its low `bytes` bytes of `value`, to the host or, byte by byte, to memory. */
function writePart(pa: u32, linear: u32, bytes: u32, value: u64, toHost: bool): void {
  if (!toHost) {
    for (let i: u32 = 0; i < bytes; i++) physWrite8(pa + i, <u32>(value >> (<u64>i << 3)));
    return;
  }
  const data = bytes == 8 ? value : value & ((<u64>1 << (<u64>bytes << 3)) - 1);
  ioAccess(physical(pa), bytes | IO_LOG_HOST_WRITE, <u32>data, <u32>(data >> 32));
  if (faulted()) store<u32>(EXIT_LINEAR, linear);
}

/**
 * A read of `bytes` (1, 2, 4) at `linear` off the TLB fast path while
 * writes go to the host, made as core/access.ts makes it. When it is the
 * read of a read-modify-write (`access` has ACCESS_WRITE) on a page whose
 * write goes to the host, the value is logged and the next execution gets
 * the logged value, not what the host wrote since.
 */
export function readBeforeHostWrite(linear: u32, bytes: u32, access: i32): u32 {
  const first = min(bytes, 0x1000 - (linear & 0xfff));
  const pa1 = translateNoting(linear, access);
  if (faulted()) return 0;
  let readOnly = readOnlyWrite;
  let pa2: u32 = 0;
  if (first < bytes) {
    pa2 = translateNoting(linear + first, access);
    if (faulted()) return 0;
    readOnly = readOnly || readOnlyWrite;
  }
  let v: u32 = 0;
  if (first == bytes) {
    v = bytes == 1 ? physRead8(pa1) : bytes == 2 ? physRead16(pa1) : physRead32(pa1);
  } else {
    for (let i: u32 = 0; i < bytes; i++) v |= physRead8(i < first ? pa1 + i : pa2 + (i - first)) << (i << 3);
  }
  if (!readOnly || faulted()) return v;
  return ioLogRecall(physical(pa1), bytes | IO_LOG_RECALL, v);
}

/**
 * CPUID while it exits to the host (core/exec0f.ts): the first execution
 * exits with EXIT_CPUID; the one after the host answered finds its log
 * entry and retires, leaving the host's EAX..EDX. The entry is keyed by
 * the instruction's linear address: one left behind by a host that moved
 * EIP itself without clearing the log cannot answer a CPUID elsewhere.
 */
export function cpuidToHost(): void {
  ioAccess(segBase(SEG_CS) + insnEip, IO_LOG_CPUID, 0);
}
