// core/trace.ts — the trace: a ring of the instructions executed and the events taken.
//
// For debugging and teaching, the host can have the CPU write down what it
// does: each instruction (the count at which it ran, CS:EIP, its bytes as
// fetched, whether it retired, faulted or stopped for an exit), and each
// event (an external interrupt taken, an exception or software interrupt
// delivered, a HLT, an exit to the host). Entries are TRACE_ENTRY_SIZE
// bytes in a ring in linear memory (core/layout.ts describes the format);
// the host turns recording on through TRACE_ENABLE and reads the ring
// through a typed array between runs, with no call per entry. TRACE_WRITTEN
// counts every entry ever written, so the host knows how many it has not
// read and how many the ring overwrote before it did.
//
// The one rule that makes it cheap: with the trace off the run loop pays
// one predictable test of a global per instruction (core/run.ts calls
// traceInstruction instead of beginInstruction when `traceInsns` is set);
// everything else sits on paths that are already slow (faults, events,
// exits). An instruction's entry is reserved before it executes, so the
// events it causes (INT n, a fault) come after it in the ring, and is
// completed once its outcome is known; a retired one is completed lazily,
// when the next instruction starts or run() returns, which is when its
// length (decode.ts insnLen) is still at hand and nothing on the retire
// path has to look.
//
// Recording changes nothing the guest can see, and the bytes are those
// fetched, even by an instruction that overwrites itself: they are copied
// before it executes, from the code page the decoder is about to read
// (decode.ts instructionWindow) or through the very translation its first
// fetch is about to make; bytes on the next page, when the TLB holds it
// then or else just after the instruction fetched from it. Only when the
// instruction crosses onto a page the TLB held neither before nor after it
// (it flushed the TLB itself, or a data access took the slot) are the
// second page's bytes not captured, and the entry says how many were.

import {
  SEG_CS, TRACE_BUFFER, TRACE_CAPACITY, TRACE_ENABLE, TRACE_ENTRY_SIZE, TRACE_EVENTS, TRACE_INSTRUCTIONS,
  TRACE_MAX_ENTRIES, TRACE_MIN_ENTRIES, TRACE_WRITTEN, TRACE_COUNT, TRACE_KIND, TRACE_STATUS, TRACE_CS, TRACE_EIP,
  TRACE_LENGTH, TRACE_BYTES, TRACE_ARG0, TRACE_ARG1, TRACE_ARG2, TRACE_ARG3, TRACE_INSN, TRACE_RETIRED, TRACE_CODE32,
  TRACE_EXIT, TRACE_HLT, EXIT_IO, EXIT_MMIO, EXIT_EXCEPTION, EXIT_SHUTDOWN, EXIT_VECTOR, EXIT_ERROR_CODE, EXIT_PORT,
  EXIT_ADDRESS, EXIT_SIZE, EXIT_DIRECTION, EXIT_DATA,
} from "./layout";
import { CR0_PG, cpl, cr0, eip, segBase, segLimit, segSelector } from "./state";
import * as D from "./decode";
import { clearFault, faulted } from "./fault";
import { ACCESS_EXEC, ACCESS_USER, TLB_PAGE, tlbSlot, translate } from "./mmu";
import { physPagePointer } from "./memory";
import { codeBreakpoints } from "./debug";

/** Record instructions / events: refreshed from TRACE_ENABLE when run() starts. */
export let traceInsns: bool = false;
export let traceEvents: bool = false;

/** The ring as traceAllocate made it: the host cannot move it. */
let ringBase: usize = 0;
let ringAllocated: u32 = 0;
let ringMask: u32 = 0;

/** The entry of the instruction in progress (0: none), and what capturing its bytes needs. */
let pendingSlot: usize = 0;
let pendingSeq: u64 = 0;
let pendingLinear: u32 = 0;
let pendingAccess: i32 = 0;
let pendingPaging: bool = false;
let pendingCaptured: u32 = 0;
let pendingCode32: bool = false;

/** The most linear memory the core may have (asconfig.json maximumMemory, in 64 KiB pages). */
const MAX_MEMORY_PAGES: u64 = 16384;

/**
 * Makes the ring: `entries` (a power of two from TRACE_MIN_ENTRIES to
 * TRACE_MAX_ENTRIES) of TRACE_ENTRY_SIZE bytes, allocated once; a later call
 * for no more entries than that reuses it. Returns its address, or 0 when
 * the size is wrong, larger than the ring already made, or more than the
 * memory the core may still grow into (checked first, so the allocator
 * never fails). The memory may grow: the host rebuilds its views.
 */
export function traceAllocate(entries: u32): usize {
  if (entries < <u32>TRACE_MIN_ENTRIES || entries > <u32>TRACE_MAX_ENTRIES || (entries & (entries - 1)) != 0) return 0;
  if (ringAllocated == 0) {
    const bytes = <u64>entries * <u64>TRACE_ENTRY_SIZE;
    // The allocator takes from the top of what it used, which is below the
    // memory's current end: this much room past the end is always enough.
    if ((<u64>memory.size() << 16) + bytes + 0x10000 > MAX_MEMORY_PAGES << 16) return 0;
    ringBase = heap.alloc(<usize>bytes);
    ringAllocated = entries;
    memory.fill(ringBase, 0, <usize>bytes);
    store<u64>(TRACE_WRITTEN, 0);
  } else if (entries > ringAllocated) {
    return 0;
  }
  ringMask = entries - 1;
  store<u32>(TRACE_BUFFER, <u32>ringBase);
  store<u32>(TRACE_CAPACITY, entries);
  return ringBase;
}

/** At the start of run(): what to record, from TRACE_ENABLE (nothing without a ring). */
export function traceRefresh(): void {
  const enable: u32 = ringBase != 0 ? load<u32>(TRACE_ENABLE) : 0;
  traceInsns = (enable & TRACE_INSTRUCTIONS) != 0;
  traceEvents = (enable & TRACE_EVENTS) != 0;
  pendingSlot = 0;
}

/** The next entry of the ring, counted in TRACE_WRITTEN; the caller fills all of it. */
function reserve(): usize {
  const seq = load<u64>(TRACE_WRITTEN);
  store<u64>(TRACE_WRITTEN, seq + 1);
  return ringBase + <usize>(<u32>seq & ringMask) * TRACE_ENTRY_SIZE;
}

/** An event entry: the common head, then its four arguments. */
function writeEvent(kind: i32, status: u32, count: u64, cs: u32, at: u32, a0: u32, a1: u32, a2: u32, a3: u32): void {
  const slot = reserve();
  store<u64>(slot + TRACE_COUNT, count);
  store<u8>(slot + TRACE_KIND, <u8>kind);
  store<u8>(slot + TRACE_STATUS, <u8>status);
  store<u16>(slot + TRACE_CS, <u16>cs);
  store<u32>(slot + TRACE_EIP, at);
  store<u32>(slot + TRACE_ARG0, a0);
  store<u32>(slot + TRACE_ARG1, a1);
  store<u32>(slot + TRACE_ARG2, a2);
  store<u32>(slot + TRACE_ARG3, a3);
}

/** True when the TLB holds `linear` for `access`: translating it then changes nothing (no walk, no A/D bits). */
function tlbHolds(linear: u32, access: i32): bool {
  const need = <u32>1 << access;
  return (load<u32>(tlbSlot(linear)) & (TLB_PAGE | need)) == ((linear & TLB_PAGE) | need);
}

/**
 * Copies `n` bytes at `linear` (within one page) to `dst` if that is
 * invisible to the guest: paging is off, or the TLB holds the page for this
 * fetch; and the page is memory, not a device. True when it copied.
 */
function copyQuietly(dst: usize, linear: u32, n: u32): bool {
  let pa = linear;
  if (pendingPaging) {
    if (!tlbHolds(linear, pendingAccess)) return false;
    pa = translate(linear, pendingAccess);
  }
  const host = physPagePointer(pa);
  if (host == 0) return false;
  memory.copy(dst, host + (pa & 0xfff), n);
  return true;
}

/**
 * Before the instruction executes: copies to `dst` the bytes it may fetch
 * (15, fewer at the CS limit) from its first page and, where that can be
 * done quietly, from the next; returns how many.
 */
function captureBytes(dst: usize, linear: u32, offset: u32): u32 {
  const limit = segLimit(SEG_CS);
  if (offset > limit) return 0; // the fetch raises #GP(0) before translating
  const room: u32 = <u64>limit - <u64>offset + 1 < 15 ? limit - offset + 1 : 15;
  const pageRoom: u32 = 0x1000 - (linear & 0xfff);
  const n = room < pageRoom ? room : pageRoom;
  const window = D.instructionWindow();
  if (window != 0) {
    memory.copy(dst, window, n);
  } else if (pendingPaging && !codeBreakpoints) {
    // The first fetch makes exactly this translation next (decode.ts
    // fetchSlow), so making it first leaves the same A bits, TLB and fault.
    // (Not so when an instruction breakpoint fires instead of the fetch.)
    const pa = translate(linear, pendingAccess);
    if (faulted()) {
      clearFault();
      return 0;
    }
    const host = physPagePointer(pa);
    if (host == 0) return 0; // device memory: reading it would be an access
    memory.copy(dst, host + (pa & 0xfff), n);
  } else if (!copyQuietly(dst, linear, n)) {
    return 0;
  }
  if (n < room && copyQuietly(dst + n, linear + n, room - n)) return room;
  return n;
}

/**
 * Instead of beginInstruction: completes the previous instruction's entry
 * (it retired), starts decoding, and reserves this instruction's entry with
 * `count`, CS:EIP and the bytes it is about to fetch.
 */
export function traceInstruction(count: u64): void {
  if (pendingSlot != 0) finishInstruction(TRACE_RETIRED);
  D.beginInstruction();
  const at = D.insnEip;
  pendingSeq = load<u64>(TRACE_WRITTEN);
  const slot = reserve();
  pendingSlot = slot;
  pendingCode32 = D.code32;
  pendingLinear = segBase(SEG_CS) + at;
  pendingAccess = ACCESS_EXEC | (cpl() == 3 ? ACCESS_USER : 0);
  pendingPaging = (cr0() & CR0_PG) != 0;
  store<u64>(slot + TRACE_COUNT, count);
  store<u8>(slot + TRACE_KIND, <u8>TRACE_INSN);
  store<u16>(slot + TRACE_CS, <u16>segSelector(SEG_CS));
  store<u32>(slot + TRACE_EIP, at);
  pendingCaptured = captureBytes(slot + TRACE_BYTES, pendingLinear, at);
}

/**
 * Completes the pending instruction's entry with its outcome (TRACE_RETIRED,
 * TRACE_FAULTED, TRACE_STOPPED), its length, and the bytes it fetched from
 * a second page. Nothing when none is pending.
 */
export function finishInstruction(outcome: i32): void {
  const slot = pendingSlot;
  if (slot == 0) return;
  pendingSlot = 0;
  // More events since it started than the ring holds: its entry was overwritten.
  if (load<u64>(TRACE_WRITTEN) - pendingSeq > <u64>ringMask + 1) return;
  const length = D.insnLen;
  let captured = pendingCaptured < length ? pendingCaptured : length;
  // Bytes that could not be read before (on a second page, mostly): the
  // fetch has just translated their page, so the TLB normally holds it.
  while (captured < length) {
    const linear = pendingLinear + captured;
    let n: u32 = 0x1000 - (linear & 0xfff);
    if (n > length - captured) n = length - captured;
    if (!copyQuietly(slot + TRACE_BYTES + captured, linear, n)) break;
    captured += n;
  }
  memory.fill(slot + TRACE_BYTES + captured, 0, 15 - captured);
  store<u8>(slot + TRACE_STATUS, <u8>(<u32>outcome | (pendingCode32 ? <u32>TRACE_CODE32 : 0) | (captured << 4)));
  store<u8>(slot + TRACE_LENGTH, <u8>length);
}

/** An external interrupt or an exception delivered (or not: `status`), before delivery changed CS. */
export function traceDelivery(kind: i32, status: u32, count: u64, cs: u32, returnEip: u32, vector: u32, errorCode: u32, address: u32, eventKind: i32): void {
  writeEvent(kind, status, count, cs, returnEip, vector, errorCode, address, <u32>eventKind);
}

/** HLT retired: the processor halts. */
export function traceHalt(count: u64): void {
  writeEvent(TRACE_HLT, 0, count, segSelector(SEG_CS), eip(), 0, 0, 0, 0);
}

/**
 * When run() returns: the last instruction's entry is completed, and an exit
 * for the host's attention (not its budget, not a halt: TRACE_HLT says that)
 * is recorded with what the exit-info block says.
 */
export function traceRunEnd(reason: u32, count: u64): void {
  finishInstruction(TRACE_RETIRED);
  if (!traceEvents) return;
  let a1: u32 = 0;
  let a2: u32 = 0;
  let a3: u32 = 0;
  if (reason == <u32>EXIT_IO || reason == <u32>EXIT_MMIO) {
    a1 = load<u32>(reason == <u32>EXIT_IO ? EXIT_PORT : EXIT_ADDRESS);
    a2 = load<u32>(EXIT_SIZE) | (load<u32>(EXIT_DIRECTION) << 8);
    a3 = load<u32>(EXIT_DATA);
  } else if (reason == <u32>EXIT_EXCEPTION) {
    a1 = load<u32>(EXIT_VECTOR);
    a2 = load<u32>(EXIT_ERROR_CODE);
  } else if (reason != <u32>EXIT_SHUTDOWN) {
    return;
  }
  writeEvent(TRACE_EXIT, 0, count, segSelector(SEG_CS), eip(), reason, a1, a2, a3);
}
