// core/flags.ts — the arithmetic flags and the condition codes.
//
// An operation produces its six status flags (SDM Vol. 1 3.4.3.1) from the
// operands and the result, reduced to the operand width; the width is given
// as the index of its sign bit (7, 15 or 31), so one formula serves all
// three sizes: carry out of the sign bit is ((a & b) | ((a | b) & ~r)),
// borrow is ((~a & b) | ((~a | b) & r)), signed overflow is the sign of
// ((a ^ r) & (b ^ r)) for addition and ((a ^ b) & (a ^ r)) for subtraction,
// and AF is bit 4 of (a ^ b ^ r). Conditions are the SDM's Jcc table
// (Vol. 2A, "Jcc", and Appendix B.1.4.7).
//
// The flags are lazy (DESIGN.md allows it): the common operations do not
// compute them but record what they need (the kind of operation, its
// width, operands and result) in a few globals, and most flags are never
// read before the next operation replaces them. A condition reads the one
// flag it tests from the record (ZF is "result is zero" for every kind).
// IMUL, MUL and the rotates write only CF and OF: their record keeps the
// one before it underneath (LAZY_CF_OF), so they need not work it out.
// Everything else that reads EFLAGS calls state.ts `eflags()`, which first
// works the record out into the state block (`materializeFlags`); writing
// EFLAGS drops the record. run() materializes before it returns, so the
// host and saved state always see exact flags. The other bits of EFLAGS
// are never lazy: `controlFlags()` reads them without materializing.

import {
  FLAG_AF, FLAG_CF, FLAG_OF, FLAG_PF, FLAG_SF, FLAG_ZF, controlFlags, eflags, setControlFlags, setEflags,
} from "./state";

// What the lazy record holds (lazyKind): LAZY_NONE, the state block is exact.
export const LAZY_NONE: u32 = 0;
/** ADD, ADC: lazyA + lazyB (+ CF) = lazyR. */
export const LAZY_ADD: u32 = 1;
/** SUB, SBB, CMP, NEG: lazyA - lazyB (- CF) = lazyR. */
export const LAZY_SUB: u32 = 2;
/** INC: lazyA + 1 = lazyR; lazyB is the CF that INC keeps (0 or 1). */
export const LAZY_INC: u32 = 3;
/** DEC: lazyA - 1 = lazyR; lazyB is the CF that DEC keeps. */
export const LAZY_DEC: u32 = 4;
/** Logic ops and shifts: SF ZF PF from lazyR; lazyB holds CF, OF and AF as they are in EFLAGS. */
export const LAZY_RESULT: u32 = 5;
/**
 * Multiplies and rotates, which write only CF and OF: lazyB holds them as
 * they are in EFLAGS, and the other four are those of the record kept in
 * prev* (or of EFLAGS when prevKind is LAZY_NONE). lazyR stays zero exactly
 * when ZF is set, so a condition on ZF reads it as for every other kind.
 */
export const LAZY_CF_OF: u32 = 6;

export let lazyKind: u32 = LAZY_NONE;
let lazySb: u32 = 31;
let lazyA: u32 = 0;
let lazyB: u32 = 0;
let lazyR: u32 = 0;
// The record under a LAZY_CF_OF one.
let prevKind: u32 = LAZY_NONE;
let prevSb: u32 = 31;
let prevA: u32 = 0;
let prevB: u32 = 0;
let prevR: u32 = 0;

// @ts-ignore: decorator
@inline export function dropLazyFlags(): void {
  lazyKind = LAZY_NONE;
}

// @ts-ignore: decorator
@inline function record(kind: u32, a: u32, b: u32, r: u32, sb: u32): void {
  lazyKind = kind;
  lazyA = a;
  lazyB = b;
  lazyR = r;
  lazySb = sb;
}

/** The status flags the lazy record stands for (lazyKind is not LAZY_NONE). */
function lazyStatus(): u32 {
  if (lazyKind == LAZY_CF_OF) {
    const under = prevKind == LAZY_NONE ? controlFlags() : recordStatus(prevKind, prevA, prevB, prevR, prevSb);
    return (under & (STATUS_FLAGS & ~(FLAG_CF | FLAG_OF))) | lazyB;
  }
  return recordStatus(lazyKind, lazyA, lazyB, lazyR, lazySb);
}

/** The status flags of a record of kind LAZY_ADD..LAZY_RESULT. */
function recordStatus(kind: u32, a: u32, b: u32, r: u32, sb: u32): u32 {
  switch (kind) {
    case LAZY_ADD: return addFlags(a, b, r, sb);
    case LAZY_SUB: return subFlags(a, b, r, sb);
    case LAZY_INC: return (addFlags(a, 1, r, sb) & ~FLAG_CF) | b;
    case LAZY_DEC: return (subFlags(a, 1, r, sb) & ~FLAG_CF) | b;
    default: return szpFlags(r, sb) | b;
  }
}

/** Works the lazy record out into EFLAGS in the state block. */
export function materializeFlags(): void {
  if (lazyKind == LAZY_NONE) return;
  const f = lazyStatus();
  lazyKind = LAZY_NONE;
  setControlFlags((controlFlags() & ~STATUS_FLAGS) | f);
}

/**
 * Replaces CF and OF with `bits` (FLAG_CF and FLAG_OF as in EFLAGS) and
 * keeps the other status flags, without working them out: the current
 * record moves under a LAZY_CF_OF one.
 */
export function putCarryOverflow(bits: u32): void {
  const kind = lazyKind;
  if (kind != LAZY_CF_OF) {
    if (kind == LAZY_NONE) {
      lazyR = (controlFlags() & FLAG_ZF) != 0 ? 0 : 1;
    } else {
      prevA = lazyA;
      prevB = lazyB;
      prevR = lazyR;
      prevSb = lazySb;
    }
    prevKind = kind;
    lazyKind = LAZY_CF_OF;
  }
  lazyB = bits;
}

// Saved across a read-modify-write whose write may not complete (core/exec.ts writeModify).
let savedKind: u32 = 0;
let savedSb: u32 = 0;
let savedA: u32 = 0;
let savedB: u32 = 0;
let savedR: u32 = 0;
let savedEflags: u32 = 0;
let savedPrevKind: u32 = 0;
let savedPrevSb: u32 = 0;
let savedPrevA: u32 = 0;
let savedPrevB: u32 = 0;
let savedPrevR: u32 = 0;

/** Remembers the flags as they are, record and all. */
export function saveFlags(): void {
  savedKind = lazyKind;
  savedSb = lazySb;
  savedA = lazyA;
  savedB = lazyB;
  savedR = lazyR;
  savedEflags = controlFlags();
  if (lazyKind != LAZY_CF_OF) return;
  savedPrevKind = prevKind;
  savedPrevSb = prevSb;
  savedPrevA = prevA;
  savedPrevB = prevB;
  savedPrevR = prevR;
}

/** Puts back the flags `saveFlags` remembered. */
export function restoreFlags(): void {
  setControlFlags(savedEflags);
  record(savedKind, savedA, savedB, savedR, savedSb);
  if (savedKind != LAZY_CF_OF) return;
  prevKind = savedPrevKind;
  prevSb = savedPrevSb;
  prevA = savedPrevA;
  prevB = savedPrevB;
  prevR = savedPrevR;
}

/** CF PF AF ZF SF OF. */
export const STATUS_FLAGS: u32 = 0x8d5;

/** The operand mask for a sign-bit index (7 → 0xFF, 15 → 0xFFFF, 31 → 0xFFFFFFFF). */
// @ts-ignore: decorator
@inline export function widthMask(sb: u32): u32 {
  return (<u32>2 << sb) - 1;
}

/** PF: set when the low byte of the result has an even number of one bits. */
// @ts-ignore: decorator
@inline export function parityFlag(r: u32): u32 {
  const x = (r ^ (r >> 4)) & 0xf;
  return ((<u32>0x9669 >> x) & 1) << 2;
}

/** SF, ZF and PF of a result already reduced to the width. */
// @ts-ignore: decorator
@inline export function szpFlags(r: u32, sb: u32): u32 {
  return parityFlag(r) | (r == 0 ? FLAG_ZF : 0) | (((r >> sb) & 1) << 7);
}

/** Replaces the flags in `mask` with `bits`. */
// @ts-ignore: decorator
@inline export function putFlags(mask: u32, bits: u32): void {
  if ((mask & STATUS_FLAGS) == STATUS_FLAGS) setEflags((controlFlags() & ~mask) | bits);
  else setEflags((eflags() & ~mask) | bits);
}

/** CF, 0 or 1. */
export function carry(): u32 {
  const a = lazyA;
  const b = lazyB;
  const r = lazyR;
  switch (lazyKind) {
    case LAZY_NONE: return controlFlags() & FLAG_CF;
    case LAZY_ADD: return (((a & b) | ((a | b) & ~r)) >> lazySb) & 1;
    case LAZY_SUB: return (((~a & b) | ((~a | b) & r)) >> lazySb) & 1;
    default: return b & FLAG_CF;
  }
}

/** Flags of a + b (+ carry-in) = r. */
// @ts-ignore: decorator
@inline export function addFlags(a: u32, b: u32, r: u32, sb: u32): u32 {
  const cf = (((a & b) | ((a | b) & ~r)) >> sb) & 1;
  const ov = ((((a ^ r) & (b ^ r)) >> sb) & 1) << 11;
  return cf | ov | ((a ^ b ^ r) & FLAG_AF) | szpFlags(r, sb);
}

/** Flags of a - b (- borrow-in) = r. */
// @ts-ignore: decorator
@inline export function subFlags(a: u32, b: u32, r: u32, sb: u32): u32 {
  const cf = (((~a & b) | ((~a | b) & r)) >> sb) & 1;
  const ov = ((((a ^ b) & (a ^ r)) >> sb) & 1) << 11;
  return cf | ov | ((a ^ b ^ r) & FLAG_AF) | szpFlags(r, sb);
}

/**
 * The eight classic ALU operations (ADD OR ADC SBB AND SUB XOR CMP, in
 * opcode order: op = bits 5-3 of the opcode or the ModRM reg field of
 * 80-83). Sets the status flags and returns the result reduced to the width;
 * CMP returns the difference, which its caller drops.
 */
export function alu(op: u32, a: u32, b: u32, sb: u32): u32 {
  const mask = widthMask(sb);
  let r: u32;
  switch (op) {
    case 0: // ADD
      r = (a + b) & mask;
      record(LAZY_ADD, a, b, r, sb);
      break;
    case 1: // OR
      r = a | b;
      record(LAZY_RESULT, 0, 0, r, sb);
      break;
    case 2: // ADC
      r = (a + b + carry()) & mask;
      record(LAZY_ADD, a, b, r, sb);
      break;
    case 3: // SBB
      r = (a - b - carry()) & mask;
      record(LAZY_SUB, a, b, r, sb);
      break;
    case 4: // AND
      r = a & b;
      record(LAZY_RESULT, 0, 0, r, sb);
      break;
    case 6: // XOR
      r = a ^ b;
      record(LAZY_RESULT, 0, 0, r, sb);
      break;
    default: // SUB, CMP
      r = (a - b) & mask;
      record(LAZY_SUB, a, b, r, sb);
  }
  return r;
}

/** INC and DEC: ADD and SUB of 1 that leave CF alone (SDM Vol. 2A "INC", "DEC"). */
export function incDec(a: u32, dec: bool, sb: u32): u32 {
  const mask = widthMask(sb);
  const cf = carry();
  const r = dec ? (a - 1) & mask : (a + 1) & mask;
  record(dec ? LAZY_DEC : LAZY_INC, a, cf, r, sb);
  return r;
}

/** SF, ZF, PF from the result; CF, OF and AF cleared (AND OR XOR TEST; AF is undefined and reads 0). */
// @ts-ignore: decorator
@inline export function logicFlags(r: u32, sb: u32): void {
  record(LAZY_RESULT, 0, 0, r, sb);
}

/** SF, ZF, PF from the result `r` (reduced to the width); CF, OF and AF as given in `cfOfAf`. */
// @ts-ignore: decorator
@inline export function resultFlags(r: u32, sb: u32, cfOfAf: u32): void {
  record(LAZY_RESULT, 0, cfOfAf, r, sb);
}

/** The condition cc (0-15: O NO B AE E NE BE A S NS P NP L GE LE G). */
export function condition(cc: u32): bool {
  let t: u32;
  if (lazyKind != LAZY_NONE && (cc >> 1) == 2) {
    t = lazyR == 0 ? 1 : 0;
  } else if (lazyKind != LAZY_NONE && (cc >> 1) == 1) {
    t = carry();
  } else {
    const f = lazyKind != LAZY_NONE ? lazyStatus() : controlFlags();
    switch (cc >> 1) {
      case 0: t = f & FLAG_OF; break;
      case 1: t = f & FLAG_CF; break;
      case 2: t = f & FLAG_ZF; break;
      case 3: t = f & (FLAG_CF | FLAG_ZF); break;
      case 4: t = f & FLAG_SF; break;
      case 5: t = f & FLAG_PF; break;
      case 6: t = ((f >> 7) ^ (f >> 11)) & 1; break;
      default: t = (((f >> 7) ^ (f >> 11)) & 1) | (f & FLAG_ZF); break;
    }
  }
  return (t != 0) != ((cc & 1) != 0);
}

export { FLAG_AF, FLAG_CF, FLAG_OF, FLAG_PF, FLAG_SF, FLAG_ZF };
