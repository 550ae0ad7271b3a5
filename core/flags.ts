// core/flags.ts — the arithmetic flags and the condition codes.
//
// EFLAGS is kept exact in the state block after every instruction, so the
// host, PUSHF and interrupt delivery all read it directly. An operation
// produces its six status flags (SDM Vol. 1 3.4.3.1) from the operands and
// the result, reduced to the operand width; the width is given as the index
// of its sign bit (7, 15 or 31), so one formula serves all three sizes:
// carry out of the sign bit is ((a & b) | ((a | b) & ~r)), borrow is
// ((~a & b) | ((~a | b) & r)), signed overflow is the sign of
// ((a ^ r) & (b ^ r)) for addition and ((a ^ b) & (a ^ r)) for subtraction,
// and AF is bit 4 of (a ^ b ^ r). Conditions are the SDM's Jcc table
// (Vol. 2A, "Jcc", and Appendix B.1.4.7).

import { FLAG_AF, FLAG_CF, FLAG_OF, FLAG_PF, FLAG_SF, FLAG_ZF, eflags, setEflags } from "./state";

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
  setEflags((eflags() & ~mask) | bits);
}

// @ts-ignore: decorator
@inline export function carry(): u32 {
  return eflags() & FLAG_CF;
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
  let f: u32;
  switch (op) {
    case 0: // ADD
      r = (a + b) & mask;
      f = addFlags(a, b, r, sb);
      break;
    case 1: // OR
      r = a | b;
      f = szpFlags(r, sb);
      break;
    case 2: // ADC
      r = (a + b + carry()) & mask;
      f = addFlags(a, b, r, sb);
      break;
    case 3: // SBB
      r = (a - b - carry()) & mask;
      f = subFlags(a, b, r, sb);
      break;
    case 4: // AND
      r = a & b;
      f = szpFlags(r, sb);
      break;
    case 6: // XOR
      r = a ^ b;
      f = szpFlags(r, sb);
      break;
    default: // SUB, CMP
      r = (a - b) & mask;
      f = subFlags(a, b, r, sb);
  }
  putFlags(STATUS_FLAGS, f);
  return r;
}

/** INC and DEC: ADD and SUB of 1 that leave CF alone (SDM Vol. 2A "INC", "DEC"). */
export function incDec(a: u32, dec: bool, sb: u32): u32 {
  const mask = widthMask(sb);
  const r = dec ? (a - 1) & mask : (a + 1) & mask;
  const f = dec ? subFlags(a, 1, r, sb) : addFlags(a, 1, r, sb);
  putFlags(STATUS_FLAGS & ~FLAG_CF, f & ~FLAG_CF);
  return r;
}

/** SF, ZF, PF from the result; CF, OF and AF cleared (AND OR XOR TEST; AF is undefined and reads 0). */
export function logicFlags(r: u32, sb: u32): void {
  putFlags(STATUS_FLAGS, szpFlags(r, sb));
}

/** The condition cc (0-15: O NO B AE E NE BE A S NS P NP L GE LE G). */
export function condition(cc: u32): bool {
  const f = eflags();
  let t: u32;
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
  return (t != 0) != ((cc & 1) != 0);
}

export { FLAG_AF, FLAG_CF, FLAG_OF, FLAG_PF, FLAG_SF, FLAG_ZF };
