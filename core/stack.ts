// core/stack.ts — PUSH and POP through SS:ESP.
//
// The stack-address size is SS.B (SDM Vol. 3A 3.4.5: the B flag of a stack
// segment): 32-bit stacks use ESP, 16-bit stacks use SP and leave ESP's upper
// half alone, wrapping inside 64 KiB. Every stack access is checked against
// SS like any other (a fault is #SS(0)). Instructions that push or pop
// several values read or write at offsets from the current top first and
// move ESP only when all of them succeeded, so a fault part-way leaves ESP
// as it was (Vol. 3A 6.5). `probePushes` checks a sequence of pushes before
// the first byte is written: the whole range against the SS limit, then
// each push's page in the order the pushes would be made, so a #PF reports
// (in CR2) the address of the push that would have faulted.

import { SEG_SS } from "./layout";
import { ATTR_DB, reg16, reg32, segAttr, segBase, setReg16, setReg32 } from "./state";
import { faulted } from "./fault";
import { ACCESS_WRITE, translate } from "./mmu";
import { readMem16, readMem32, segCheck, writeMem16, writeMem32 } from "./segment";
import { opSize32, userAccess } from "./decode";

// @ts-ignore: decorator
@inline export function stack32(): bool {
  return (segAttr(SEG_SS) & ATTR_DB) != 0;
}

/** The stack pointer at the stack-address size. */
// @ts-ignore: decorator
@inline export function stackTop(): u32 {
  return stack32() ? reg32(4) : reg16(4);
}

/** Sets ESP, or only SP on a 16-bit stack. */
// @ts-ignore: decorator
@inline export function setStackTop(v: u32): void {
  if (stack32()) setReg32(4, v);
  else setReg16(4, v);
}

/** `top + delta` wrapped to the stack-address size. */
// @ts-ignore: decorator
@inline export function stackOffset(top: u32, delta: u32): u32 {
  return stack32() ? top + delta : (top + delta) & 0xffff;
}

/** Pushes a word (size 1) or a dword (size 2). Returns false, with ESP unchanged, on a fault. */
export function push(size: u32, v: u32): bool {
  const top = stackOffset(stackTop(), size == 2 ? <u32>-4 : <u32>-2);
  if (size == 2) writeMem32(SEG_SS, top, v);
  else writeMem16(SEG_SS, top, v);
  if (faulted()) return false;
  setStackTop(top);
  return true;
}

/** Pushes at the operand size. */
export function pushV(v: u32): bool {
  return push(opSize32 ? 2 : 1, v);
}

/** Reads the word or dword `delta` bytes above the stack top, without popping it. */
export function readStack(size: u32, delta: u32): u32 {
  const at = stackOffset(stackTop(), delta);
  return size == 2 ? readMem32(SEG_SS, at) : readMem16(SEG_SS, at);
}

/** Writes the word or dword at `delta` bytes from the stack top (delta may be negative). */
export function writeStack(size: u32, delta: u32, v: u32): void {
  const at = stackOffset(stackTop(), delta);
  if (size == 2) writeMem32(SEG_SS, at, v);
  else writeMem16(SEG_SS, at, v);
}

/** Pops a word or dword; ESP moves only when the read succeeded. */
export function pop(size: u32): u32 {
  const v = readStack(size, 0);
  if (faulted()) return 0;
  setStackTop(stackOffset(stackTop(), size == 2 ? 4 : 2));
  return v;
}

/** Pops at the operand size. */
export function popV(): u32 {
  return pop(opSize32 ? 2 : 1);
}

/** Checks that `count` pushes of `size` bytes can be made below the stack top (#SS(0), #PF). */
export function probePushes(count: u32, size: u32): bool {
  const big = stack32();
  const top = stackTop();
  const bytes = count * size;
  if (!probeSegment(SEG_SS, stackOffset(top, 0 - bytes), bytes, !big)) return false;
  return probePushPages(segBase(SEG_SS), top, big, size, count, userAccess());
}

/**
 * Translates, for writing, the bytes of `count` pushes of `size` below
 * `top` on a stack at linear `base`, in push order; false with #PF raised.
 * `access` is ACCESS_USER or 0: the privilege of the pushes.
 */
export function probePushPages(base: u32, top: u32, big: bool, size: u32, count: u32, access: i32): bool {
  const bytes = count * size;
  if (big && top >= bytes) {
    // Most frames lie on one page, which one translation decides for every push.
    const last = base + top - 1;
    const first = last - (bytes - 1);
    if (first <= last && ((first ^ last) & ~(<u32>0xfff)) == 0) {
      translate(base + top - size, access | ACCESS_WRITE);
      return !faulted();
    }
  }
  let at = top;
  for (let i: u32 = 0; i < count; i++) {
    at = big ? at - size : (at - size) & 0xffff;
    if (!probeLinear(base + at, size, access)) return false;
  }
  return true;
}

/** Translates the pages of [linear, linear + bytes) for a write, lowest first; false with #PF raised. */
export function probeLinear(linear: u32, bytes: u32, access: i32): bool {
  translate(linear, access | ACCESS_WRITE);
  if (faulted()) return false;
  const last = linear + bytes - 1;
  for (let page = (linear & ~(<u32>0xfff)) + 0x1000; page != (last & ~(<u32>0xfff)) + 0x1000; page += 0x1000) {
    translate(page, access | ACCESS_WRITE);
    if (faulted()) return false;
  }
  return true;
}

/** Checks that `bytes` bytes at seg:off can be written, segment and pages; `wrap16` wraps offsets at 64 KiB. */
export function probeWrite(seg: i32, off: u32, bytes: u32, wrap16: bool): bool {
  if (!probeSegment(seg, off, bytes, wrap16)) return false;
  if (wrap16 && off + bytes > 0x10000) {
    const first = 0x10000 - off;
    return probeLinear(segBase(seg) + off, first, userAccess()) && probeLinear(segBase(seg), bytes - first, userAccess());
  }
  return probeLinear(segBase(seg) + off, bytes, userAccess());
}

/** The segment checks for writing `bytes` bytes at seg:off (#GP(0) or #SS(0)). */
function probeSegment(seg: i32, off: u32, bytes: u32, wrap16: bool): bool {
  if (bytes == 0) return true;
  if (wrap16 && off + bytes > 0x10000) {
    const first = 0x10000 - off;
    return segCheck(seg, off, first - 1, true) && segCheck(seg, 0, bytes - first - 1, true);
  }
  return segCheck(seg, off, bytes - 1, true);
}
