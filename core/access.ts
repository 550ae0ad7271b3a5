// core/access.ts — reading and writing linear memory through the MMU.
//
// An access that crosses a 4 KiB page boundary is two translations; both
// must succeed before a single byte is written, so a #PF on the second page
// leaves memory as it was (SDM Vol. 3A 6.5: a fault is restartable).
// Callers pass the access kind (core/mmu.ts ACCESS_*) and check faulted()
// after the call; on a fault the value read is meaningless.

import { faulted } from "./fault";
import { physRead8, physRead16, physRead32, physWrite8, physWrite16, physWrite32 } from "./memory";
import { ACCESS_WRITE, translate } from "./mmu";

export function readLinear8(linear: u32, access: i32): u32 {
  const pa = translate(linear, access);
  if (faulted()) return 0;
  return physRead8(pa);
}

export function readLinear16(linear: u32, access: i32): u32 {
  if ((linear & 0xfff) != 0xfff) {
    const pa = translate(linear, access);
    if (faulted()) return 0;
    return physRead16(pa);
  }
  const lo = translate(linear, access);
  if (faulted()) return 0;
  const hi = translate(linear + 1, access);
  if (faulted()) return 0;
  return physRead8(lo) | (physRead8(hi) << 8);
}

export function readLinear32(linear: u32, access: i32): u32 {
  if ((linear & 0xfff) <= 0xffc) {
    const pa = translate(linear, access);
    if (faulted()) return 0;
    return physRead32(pa);
  }
  let v: u32 = 0;
  for (let i: u32 = 0; i < 4; i++) {
    const pa = translate(linear + i, access);
    if (faulted()) return 0;
    v |= physRead8(pa) << (i << 3);
  }
  return v;
}

export function writeLinear8(linear: u32, v: u32, access: i32): void {
  const pa = translate(linear, access | ACCESS_WRITE);
  if (faulted()) return;
  physWrite8(pa, v);
}

export function writeLinear16(linear: u32, v: u32, access: i32): void {
  if ((linear & 0xfff) != 0xfff) {
    const pa = translate(linear, access | ACCESS_WRITE);
    if (faulted()) return;
    physWrite16(pa, v);
    return;
  }
  const lo = translate(linear, access | ACCESS_WRITE);
  if (faulted()) return;
  const hi = translate(linear + 1, access | ACCESS_WRITE);
  if (faulted()) return;
  physWrite8(lo, v);
  physWrite8(hi, v >> 8);
}

export function writeLinear32(linear: u32, v: u32, access: i32): void {
  if ((linear & 0xfff) <= 0xffc) {
    const pa = translate(linear, access | ACCESS_WRITE);
    if (faulted()) return;
    physWrite32(pa, v);
    return;
  }
  // Translate the first byte of each page before writing anything.
  const first = translate(linear, access | ACCESS_WRITE);
  if (faulted()) return;
  const second = translate((linear | 0xfff) + 1, access | ACCESS_WRITE);
  if (faulted()) return;
  const split = 0x1000 - (linear & 0xfff);
  for (let i: u32 = 0; i < 4; i++) {
    if (i < split) physWrite8(first + i, v >> (i << 3));
    else physWrite8(second + (i - split), v >> (i << 3));
  }
}
