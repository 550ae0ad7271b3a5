// core/decode.ts — instruction fetch, prefixes, ModRM and SIB.
//
// An instruction is up to 15 bytes (SDM Vol. 2A 2.1; a 16th byte raises
// #GP(0)): legacy prefixes, the opcode, then ModRM, SIB, displacement and
// immediate (Vol. 2A 2.1, Figure 2-1). Bytes are fetched through CS: each
// offset is checked against the CS limit (#GP(0)) and translated with an
// instruction-fetch access, so an instruction may cross a page and fault
// (#PF) on its second page. Fetching keeps a pointer to the current code
// page while the translation holds; the pointer reads memory itself, so
// code that writes its own instructions sees the new bytes at once.
//
// The default operand and address size is CS.D (Vol. 3A 3.4.5): 16 bits in
// real mode unless a descriptor said otherwise, always 16 in virtual-8086
// mode (whose segments carry D = 0); 66h and 67h flip them. Effective
// addresses follow Vol. 2A Tables 2-1 (16-bit) and 2-2/2-3 (32-bit): the
// default segment is SS when the base is BP, EBP or ESP, DS otherwise.

import { ATTR_DB, clearModeChange, cpl, eip, modeChanged, noteModeChange, reg16, reg32, segAttr, segBase, segLimit } from "./state";
import { SEG_CS, SEG_DS, SEG_SS } from "./layout";
import { EXC_GP, EXC_UD, faulted, raise, raiseNoCode } from "./fault";
import { ACCESS_EXEC, ACCESS_USER, translate } from "./mmu";
import { physPagePointer, physRead8 } from "./memory";

/** EIP of the instruction's first byte. */
export let insnEip: u32 = 0;
/** Bytes fetched so far. */
export let insnLen: u32 = 0;
/** CS.D: the default operand and address size is 32 bits. */
export let code32: bool = false;
export let opSize32: bool = false;
export let addrSize32: bool = false;
/** The segment-override prefix (SEG_ES..SEG_GS), or -1. */
export let segOverride: i32 = -1;
/** 0, or the last of F2h (REPNE) and F3h (REP/REPE). */
export let repPrefix: u32 = 0;
export let lockPrefix: bool = false;

/** Where execution continues when the instruction set it (a branch, a REP iteration, a far transfer). */
export let nextEip: u32 = 0;
export let eipSet: bool = false;

/** Continues at `target` (already checked against the CS limit) once the instruction retires. */
// @ts-ignore: decorator
@inline export function jumpTo(target: u32): void {
  nextEip = target;
  eipSet = true;
}

/** The EIP of the next instruction in sequence (valid once every byte was fetched). */
// @ts-ignore: decorator
@inline export function sequentialEip(): u32 {
  return insnEip + insnLen;
}

// Work for the run loop once the instruction retires, as bits of
// retireWork: most instructions leave none, so one test covers them all.
export let retireWork: u32 = 0;
/** The instruction leaves an interrupt shadow (shadowNext says which). */
export const WORK_SHADOW: u32 = 1;
/** HLT executed. */
export const WORK_HALT: u32 = 2;
/** The instruction delivered an event (INT n, INT3, INTO, INT1): no single-step trap after it. */
export const WORK_EVENT: u32 = 4;
/** The instruction loaded EFLAGS as a whole (IRET, a task switch): RF keeps the value loaded. */
export const WORK_KEEP_RF: u32 = 8;
/** A debug trap is due: a data breakpoint was hit, or a task switch entered a TSS with its T flag. */
export const WORK_DEBUG_TRAP: u32 = 16;
/** The instruction asked run() to return (an exception exit of INT3, INTO or INT1). */
export const WORK_EXIT: u32 = 32;

/** The interrupt shadow the instruction leaves (layout INTERRUPT_SHADOW), valid with WORK_SHADOW. */
export let shadowNext: u32 = 0;
/** STI that set IF: interrupts wait one instruction (SDM Vol. 2B "STI"). */
export const SHADOW_STI: u32 = 1;
/** MOV SS or POP SS: interrupts and debug traps wait one instruction (SDM Vol. 3A 6.8.3). */
export const SHADOW_MOV_SS: u32 = 2;

// @ts-ignore: decorator
@inline export function requestWork(bits: u32): void {
  retireWork |= bits;
}

/** The instruction leaves interrupt shadow `kind` (SHADOW_STI or SHADOW_MOV_SS). */
export function leaveShadow(kind: u32): void {
  shadowNext = kind;
  retireWork |= WORK_SHADOW;
}

// ModRM.
export let mod: u32 = 0;
export let regf: u32 = 0;
export let rm: u32 = 0;
/** Memory operand: its segment and its offset (already reduced to the address size). */
export let eaSeg: i32 = SEG_DS;
export let eaOff: u32 = 0;

// The code page being executed, seen from EIP: the EIPs from fetchLo to
// fetchLo + fetchSpan - 1 are inside the CS limit and on one page whose
// bytes are plain memory, the byte of EIP e at fetchBias + e. Valid while
// CS base and limit, user-or-supervisor fetches and paging stay as they
// were (invalidateFetch, and switchCodePage after a CS or CPL change).
export let fetchLo: u32 = 0;
export let fetchSpan: u32 = 0;
export let fetchBias: usize = 0;
// The bytes of this instruction readable without checks: window[0] is the
// instruction's first byte, bytes from winStart to winEnd are in the page.
export let winBase: usize = 0;
export let winEnd: u32 = 0;
export let winStart: u32 = 0;
/** A prefix was decoded since the prefix state was last reset. */
let prefixSeen: bool = true;

// The code page of the mode before the last CS or CPL change, kept so that
// a round trip (INT and IRET between two rings) finds its page again: it
// holds for the same CS base, CS limit and user-or-supervisor fetches.
let fetchBase: u32 = 0;
let fetchLimit: u32 = 0;
let fetchUser: i32 = 0;
let otherBase: u32 = 0;
let otherLimit: u32 = 0;
let otherUser: i32 = 0;
let otherLo: u32 = 0;
let otherSpan: u32 = 0;
let otherBias: usize = 0;

/** Forgets the cached code pages (paging changed, or the host may have changed anything). */
export function invalidateFetch(): void {
  fetchSpan = 0;
  otherSpan = 0;
  winEnd = 0;
  noteModeChange();
}

/**
 * ACCESS_USER when the instruction runs at CPL 3, else 0: page-level
 * privilege follows CPL (SDM Vol. 3A 4.6). Fixed when the instruction
 * starts; the instructions that change CPL make their later accesses with
 * the new level's access kind explicitly.
 */
let dataAccess: i32 = 0;

// @ts-ignore: decorator
@inline export function userAccess(): i32 {
  return dataAccess;
}

/**
 * Starts decoding at CS:EIP. What depends on CS and CPL (the default
 * sizes, the access kind, the code page) is worked out again only after
 * they changed (state.ts modeChanged), and the prefix state is reset only
 * after an instruction had prefixes.
 */
// @ts-ignore: decorator
@inline export function beginInstruction(): void {
  const at = eip();
  insnEip = at;
  insnLen = 0;
  eipSet = false;
  retireWork = 0;
  if (prefixSeen || modeChanged) refreshDecode();
  winStart = 0;
  const d = at - fetchLo;
  if (d < fetchSpan) {
    winBase = fetchBias + at;
    const room = fetchSpan - d;
    winEnd = room < 15 ? room : 15;
  } else {
    winEnd = 0;
  }
}

/**
 * Starts the instruction at EIP `at`, of `len` bytes, for the
 * decoded-instruction cache (core/icache.ts), which runs instructions in a
 * row without `beginInstruction`: they leave CS, CPL and the prefix state
 * as they were, and nothing fetches their bytes again.
 */
// @ts-ignore: decorator
@inline export function startCached(at: u32, len: u32): void {
  insnEip = at;
  insnLen = len;
  eipSet = false;
}

function refreshDecode(): void {
  if (modeChanged) {
    clearModeChange();
    code32 = (segAttr(SEG_CS) & ATTR_DB) != 0;
    dataAccess = cpl() == 3 ? ACCESS_USER : 0;
    switchCodePage(segBase(SEG_CS), segLimit(SEG_CS), dataAccess);
  }
  prefixSeen = false;
  opSize32 = code32;
  addrSize32 = code32;
  segOverride = -1;
  repPrefix = 0;
  lockPrefix = false;
}

/**
 * After a CS or CPL change: keeps the code page of the mode left as the
 * other one, and takes the other one's if it is of the mode entered.
 */
function switchCodePage(base: u32, limit: u32, user: i32): void {
  if (base == fetchBase && limit == fetchLimit && user == fetchUser) return;
  const lo = fetchLo;
  const span = fetchSpan;
  const bias = fetchBias;
  const oldBase = fetchBase;
  const oldLimit = fetchLimit;
  const oldUser = fetchUser;
  if (base == otherBase && limit == otherLimit && user == otherUser) {
    fetchLo = otherLo;
    fetchSpan = otherSpan;
    fetchBias = otherBias;
  } else {
    fetchSpan = 0;
  }
  fetchBase = base;
  fetchLimit = limit;
  fetchUser = user;
  otherBase = oldBase;
  otherLimit = oldLimit;
  otherUser = oldUser;
  otherLo = lo;
  otherSpan = span;
  otherBias = bias;
}

/**
 * Caches the code page that byte `index` of the instruction was just
 * fetched from (linear `linear`, the byte at `hostByte` in linear memory)
 * and lets the rest of the instruction read it directly.
 */
function cacheCodePage(linear: u32, hostByte: usize, index: u32): void {
  const eipAt = insnEip + index; // within the CS limit: fetchSlow checked
  const pageEip = eipAt - (linear & 0xfff); // the EIP of the page's first byte, mod 2^32
  let lo: u32;
  let hi: u64;
  if (pageEip <= eipAt) {
    lo = pageEip;
    hi = <u64>pageEip + 0x1000;
  } else {
    // The page starts "before" EIP 0 (a CS base that is not page aligned): keep the part from 0.
    lo = 0;
    hi = <u64>(pageEip + 0x1000);
  }
  const end = <u64>segLimit(SEG_CS) + 1;
  if (hi > end) hi = end;
  fetchLo = lo;
  fetchSpan = <u32>(hi - <u64>lo);
  fetchBias = hostByte - eipAt;
  winBase = fetchBias + insnEip;
  winStart = index;
  const room = <u32>(hi - <u64>eipAt);
  winEnd = room < 15 - index ? index + room : 15;
}

/** The next instruction byte. On a fault (limit, page, length) it returns 0 with the fault raised. */
// @ts-ignore: decorator
@inline export function fetch8(): u32 {
  const i = insnLen;
  if (i < winEnd && i >= winStart) {
    insnLen = i + 1;
    return <u32>load<u8>(winBase + i);
  }
  return fetchSlow();
}

function fetchSlow(): u32 {
  if (faulted()) return 0;
  const i = insnLen;
  if (i >= 15) {
    raise(EXC_GP, 0);
    return 0;
  }
  const offset = insnEip + i;
  if (offset > segLimit(SEG_CS)) {
    raise(EXC_GP, 0);
    return 0;
  }
  const linear = segBase(SEG_CS) + offset;
  const user = userAccess();
  const pa = translate(linear, ACCESS_EXEC | user);
  if (faulted()) return 0;
  const host = physPagePointer(pa);
  insnLen = i + 1;
  if (host != 0) {
    cacheCodePage(linear, host + (pa & 0xfff), i);
    return <u32>load<u8>(host + (pa & 0xfff));
  }
  return physRead8(pa);
}

export function fetch16(): u32 {
  const i = insnLen;
  if (i + 2 <= winEnd && i >= winStart) {
    insnLen = i + 2;
    return <u32>load<u16>(winBase + i);
  }
  const lo = fetch8();
  return lo | (fetch8() << 8);
}

export function fetch32(): u32 {
  const i = insnLen;
  if (i + 4 <= winEnd && i >= winStart) {
    insnLen = i + 4;
    return load<u32>(winBase + i);
  }
  const lo = fetch16();
  return lo | (fetch16() << 16);
}

/** An immediate of the operand size (Iv / Iz). */
// @ts-ignore: decorator
@inline export function fetchImmV(): u32 {
  return opSize32 ? fetch32() : fetch16();
}

/** A sign-extended 8-bit immediate or displacement (Ib / Jb). */
// @ts-ignore: decorator
@inline export function fetchS8(): u32 {
  return <u32><i32><i8>fetch8();
}

// The legacy prefix bytes (26 2E 36 3E 64 65 66 67 F0 F2 F3), one bit each.
const PREFIX_BITS = memory.data<u8>([
  0, 0, 0, 0, 0x40, 0x40, 0x40, 0x40, 0, 0, 0, 0, 0xf0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0d, 0,
]);

// @ts-ignore: decorator
@inline function isPrefix(b: u32): bool {
  return (<u32>load<u8>(PREFIX_BITS + (b >> 3)) & (<u32>1 << (b & 7))) != 0;
}

/**
 * Reads the legacy prefixes and returns the first opcode byte. A prefix
 * repeated or redundant is allowed (only the length limit applies); the
 * last segment override and the last of F2/F3 win. Most instructions have
 * none: one table test, and the loop is out of line.
 */
// @ts-ignore: decorator
@inline export function decodePrefixes(): u32 {
  const b = fetch8();
  if (!isPrefix(b)) return b;
  return decodePrefixesFrom(b);
}

function decodePrefixesFrom(first: u32): u32 {
  let b = first;
  while (isPrefix(b) && !faulted()) {
    switch (b) {
      case 0x26: segOverride = 0; break;
      case 0x2e: segOverride = 1; break;
      case 0x36: segOverride = 2; break;
      case 0x3e: segOverride = 3; break;
      case 0x64: segOverride = 4; break;
      case 0x65: segOverride = 5; break;
      case 0x66: opSize32 = !code32; break;
      case 0x67: addrSize32 = !code32; break;
      case 0xf0: lockPrefix = true; break;
      case 0xf2: repPrefix = 0xf2; break;
      default: repPrefix = 0xf3; break;
    }
    b = fetch8();
  }
  prefixSeen = true;
  return b;
}

/** The segment of an operand whose default is DS (string sources, XLAT, moffs). */
// @ts-ignore: decorator
@inline export function dataSeg(): i32 {
  return segOverride >= 0 ? segOverride : SEG_DS;
}

/** Reads ModRM (and SIB and displacement) and computes the memory operand's segment and offset. */
// @ts-ignore: decorator
@inline export function decodeModrm(): void {
  const m = fetch8();
  mod = m >> 6;
  regf = (m >> 3) & 7;
  rm = m & 7;
  if (m < 0xc0) decodeEa();
}

/** The memory operand of a ModRM byte whose mod is not 3. */
function decodeEa(): void {
  if (addrSize32) decodeEa32();
  else decodeEa16();
  if (segOverride >= 0) eaSeg = segOverride;
}

// @ts-ignore: decorator
@inline function decodeEa32(): void {
  let off: u32 = 0;
  let seg = SEG_DS;
  if (rm == 4) {
    const sib = fetch8();
    const index = (sib >> 3) & 7;
    const base = sib & 7;
    if (index != 4) off = reg32(index) << (sib >> 6);
    if (base == 5 && mod == 0) {
      off += fetch32();
    } else {
      off += reg32(base);
      if (base == 4 || base == 5) seg = SEG_SS;
    }
  } else if (rm == 5 && mod == 0) {
    off = fetch32();
  } else {
    off = reg32(rm);
    if (rm == 5) seg = SEG_SS;
  }
  if (mod == 1) off += fetchS8();
  else if (mod == 2) off += fetch32();
  eaOff = off;
  eaSeg = seg;
}

function decodeEa16(): void {
  let off: u32 = 0;
  let seg = SEG_DS;
  switch (rm) {
    case 0: off = reg16(3) + reg16(6); break; // bx+si
    case 1: off = reg16(3) + reg16(7); break; // bx+di
    case 2: off = reg16(5) + reg16(6); seg = SEG_SS; break; // bp+si
    case 3: off = reg16(5) + reg16(7); seg = SEG_SS; break; // bp+di
    case 4: off = reg16(6); break; // si
    case 5: off = reg16(7); break; // di
    case 6:
      if (mod == 0) off = fetch16();
      else {
        off = reg16(5);
        seg = SEG_SS;
      }
      break;
    default: off = reg16(3); break; // bx
  }
  if (mod == 1) off += fetchS8();
  else if (mod == 2) off += fetch16();
  eaOff = off & 0xffff;
  eaSeg = seg;
}

/** #UD unless the ModRM operand is memory (LEA, LDS, LGDT, CMPXCHG8B, BOUND, ...). */
// @ts-ignore: decorator
@inline export function requireMemory(): bool {
  if (mod == 3) {
    raiseNoCode(EXC_UD);
    return false;
  }
  return true;
}

/**
 * What decoding an instruction of `len` bytes with this ModRM operand
 * would have left, for an instruction the decoded-instruction cache
 * (core/icache.ts) runs: the operand helpers of core/exec.ts read it.
 */
// @ts-ignore: decorator
@inline export function setDecoded(len: u32, m: u32, r: u32, seg: i32, off: u32): void {
  insnLen = len;
  mod = m;
  regf = r;
  eaSeg = seg;
  eaOff = off;
}

/**
 * For the trace (core/trace.ts), right after beginInstruction: where the
 * instruction's first byte is in linear memory when the cached code page
 * holds it (its bytes up to that page's end or the CS limit, at most 15,
 * follow it there), else 0 (the first fetch will translate).
 */
export function instructionWindow(): usize {
  return winEnd != 0 ? winBase : 0;
}
