// core/alu.ts — shifts and rotates, double shifts, BCD adjustment.
//
// The flag rules are the SDM's (Vol. 2A "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR",
// "SHLD", "SHRD", "DAA", "DAS", "AAA", "AAS", "AAM", "AAD"). The count is
// masked to 5 bits for every operand size; a masked count of 0 changes
// neither the operand nor a flag. RCL and RCR rotate through CF, so their
// effective count is the masked count mod 9 (bytes) or mod 17 (words);
// ROL and ROR rotate by the masked count mod the width, but a non-zero
// masked count still sets CF from the rotated value. OF is defined for a
// count of 1; for larger counts this core computes it by the same formula,
// which the SDM leaves undefined.

import { FLAG_AF, FLAG_CF, FLAG_OF, STATUS_FLAGS, carry, putCarryOverflow, putFlags, resultFlags, szpFlags, widthMask } from "./flags";
import { eflags, reg8, setReg8 } from "./state";
import { REG_EAX } from "./layout";

/**
 * Group 2 (ModRM reg field: 0 ROL, 1 ROR, 2 RCL, 3 RCR, 4 SHL, 5 SHR,
 * 6 SAL (= SHL), 7 SAR) on a value of sign-bit index sb. Returns the result;
 * the caller writes it back only when `count & 31` is not zero.
 */
export function shiftGroup(op: u32, a: u32, countIn: u32, sb: u32): u32 {
  const count = countIn & 31;
  if (count == 0) return a;
  const w = sb + 1;
  const mask = widthMask(sb);
  let r: u32 = a;
  let cf: u32 = 0;
  let ov: u32 = 0;
  switch (op) {
    case 0: { // ROL
      const n = count % w;
      r = n == 0 ? a : ((a << n) | (a >> (w - n))) & mask;
      cf = r & 1;
      ov = ((r >> sb) ^ cf) & 1;
      putCarryOverflow(cf | (ov << 11));
      return r;
    }
    case 1: { // ROR
      const n = count % w;
      r = n == 0 ? a : ((a >> n) | (a << (w - n))) & mask;
      cf = (r >> sb) & 1;
      ov = ((r >> sb) ^ (r >> (sb - 1))) & 1;
      putCarryOverflow(cf | (ov << 11));
      return r;
    }
    case 2: { // RCL
      const n = w == 32 ? count : count % (w + 1);
      if (n == 0) return a;
      const wide = (<u64>carry() << w) | <u64>a; // w + 1 bits
      const rot = ((wide << n) | (wide >> (w + 1 - n))) & ((<u64>1 << (w + 1)) - 1);
      r = <u32>rot & mask;
      cf = <u32>(rot >> w) & 1;
      ov = ((r >> sb) ^ cf) & 1;
      putCarryOverflow(cf | (ov << 11));
      return r;
    }
    case 3: { // RCR
      const n = w == 32 ? count : count % (w + 1);
      if (n == 0) return a;
      const wide = (<u64>carry() << w) | <u64>a;
      const rot = ((wide >> n) | (wide << (w + 1 - n))) & ((<u64>1 << (w + 1)) - 1);
      r = <u32>rot & mask;
      cf = <u32>(rot >> w) & 1;
      ov = ((r >> sb) ^ (r >> (sb - 1))) & 1;
      putCarryOverflow(cf | (ov << 11));
      return r;
    }
    case 5: // SHR
      r = a >> count;
      cf = (a >> (count - 1)) & 1;
      ov = (a >> sb) & 1;
      break;
    case 7: { // SAR
      const s = (<i32>(a << (31 - sb))) >> (31 - sb); // sign-extended to 32 bits
      r = <u32>(s >> count) & mask;
      cf = <u32>(s >> (count - 1)) & 1;
      ov = 0;
      break;
    }
    default: // SHL, SAL
      r = count < 32 ? (a << count) & mask : 0;
      cf = count <= w ? (a >> (w - count)) & 1 : 0;
      ov = ((r >> sb) ^ cf) & 1;
      break;
  }
  // Shifts set SF ZF PF from the result; AF is undefined (left as 0).
  resultFlags(r, sb, cf | (ov << 11));
  return r;
}

/**
 * SHLD (left = true) and SHRD: shift `dst` by `count & 31`, filling from
 * `src`. Counts above the width (16-bit forms) leave result and flags
 * undefined; this core shifts through the 32-bit concatenation.
 */
export function doubleShift(left: bool, dst: u32, src: u32, countIn: u32, sb: u32): u32 {
  const count = countIn & 31;
  if (count == 0) return dst;
  const w = sb + 1;
  const mask = widthMask(sb);
  let r: u32;
  let cf: u32;
  if (w == 32) {
    if (left) {
      r = (dst << count) | (src >> (32 - count));
      cf = (dst >> (32 - count)) & 1;
    } else {
      r = (dst >> count) | (src << (32 - count));
      cf = (dst >> (count - 1)) & 1;
    }
  } else {
    // 16 bits: shift through dst:src:dst (48 bits), which gives the defined
    // results for counts up to 16 and what Intel parts do beyond.
    const cat = (<u64>dst << 32) | (<u64>src << 16) | <u64>dst;
    if (left) {
      r = <u32>(cat >> (32 - count));
      cf = <u32>(cat >> (48 - count)) & 1;
    } else {
      r = <u32>(cat >> count);
      cf = <u32>(cat >> (count - 1)) & 1;
    }
  }
  r &= mask;
  const ov = ((r ^ dst) >> sb) & 1;
  resultFlags(r, sb, cf | (ov << 11));
  return r;
}

/** DAA: decimal adjust AL after addition. */
export function daa(): void {
  const oldAl = reg8(0);
  const oldCf = carry();
  let al = oldAl;
  let cf: u32 = 0;
  let af: u32 = 0;
  if ((al & 0xf) > 9 || (eflags() & FLAG_AF) != 0) {
    cf = oldCf | ((al + 6) >> 8);
    al = (al + 6) & 0xff;
    af = FLAG_AF;
  }
  if (oldAl > 0x99 || oldCf != 0) {
    al = (al + 0x60) & 0xff;
    cf = 1;
  } else {
    cf = 0;
  }
  setReg8(0, al);
  putFlags(STATUS_FLAGS, cf | af | szpFlags(al, 7));
}

/** DAS: decimal adjust AL after subtraction. */
export function das(): void {
  const oldAl = reg8(0);
  const oldCf = carry();
  let al = oldAl;
  let cf: u32 = 0;
  let af: u32 = 0;
  if ((al & 0xf) > 9 || (eflags() & FLAG_AF) != 0) {
    cf = oldCf | (al < 6 ? 1 : 0);
    al = (al - 6) & 0xff;
    af = FLAG_AF;
  }
  if (oldAl > 0x99 || oldCf != 0) {
    al = (al - 0x60) & 0xff;
    cf = 1;
  }
  setReg8(0, al);
  putFlags(STATUS_FLAGS, cf | af | szpFlags(al, 7));
}

/** AAA (sub = false) and AAS: ASCII adjust AX; only AF and CF are defined. */
export function aaaAas(sub: bool): void {
  let ax = <u32>load<u16>(REG_EAX);
  let f: u32 = 0;
  if ((ax & 0xf) > 9 || (eflags() & FLAG_AF) != 0) {
    if (sub) {
      ax = (ax - 6) & 0xffff;
      ax = (ax - 0x100) & 0xffff;
    } else {
      ax = (ax + 0x106) & 0xffff;
    }
    f = FLAG_AF | FLAG_CF;
  }
  ax &= 0xff0f;
  store<u16>(REG_EAX, <u16>ax);
  // OF SF ZF PF are undefined: this core sets SF ZF PF from AL and clears OF.
  putFlags(STATUS_FLAGS, f | szpFlags(ax & 0xff, 7));
}

/** AAM base (base != 0; AAM 0 is #DE, raised by the caller). */
export function aam(base: u32): void {
  const al = reg8(0);
  const q = al / base;
  const r = al % base;
  store<u16>(REG_EAX, <u16>((q << 8) | r));
  putFlags(STATUS_FLAGS, szpFlags(r, 7));
}

/** AAD base: AL = AL + AH * base, AH = 0. */
export function aad(base: u32): void {
  const ax = <u32>load<u16>(REG_EAX);
  const al = ((ax & 0xff) + (ax >> 8) * base) & 0xff;
  store<u16>(REG_EAX, <u16>al);
  putFlags(STATUS_FLAGS, szpFlags(al, 7));
}

