// core/access.ts — reading and writing linear memory through the MMU.
//
// The common access is one TLB lookup and one load or store: the slot of
// the linear page (core/mmu.ts) grants this access kind, the page is plain
// RAM (TLB_DIRECT_READ / TLB_DIRECT_WRITE), and the access stays inside the
// page; then the byte is at linear + the slot's host addend. Testing the
// tag against the page of the access's last byte folds the same-page test
// into the tag compare: an access that crosses into the next page asks for
// that page's tag in this page's slot, which can never hold it.
//
// Everything else takes the slow path: translate (which walks and refills
// the slot) and the physical map of core/memory.ts (ROM, open bus, the A20
// gate). An access that crosses a 4 KiB page boundary is two translations;
// both must succeed before a single byte is written, so a #PF on the
// second page leaves memory as it was (SDM Vol. 3A 6.5: a fault is
// restartable). A write reaches RAM either through the fast path, only on
// pages mmu.ts `fillTlb` marked TLB_DIRECT_WRITE, or through memory.ts
// physWrite*: those two are where writes to watched pages (decoded code,
// the dirty log) are caught.
//
// Callers pass the access kind (core/mmu.ts ACCESS_*) and check faulted()
// after the call; on a fault the value read is meaningless.
//
// While the host emulates one instruction with EMULATE_WRITES_TO_HOST, the
// slow paths hand over to core/emulate.ts, which sends writes to read-only
// pages to the host and logs the reads made for them. The fast paths never
// see it: the TLB grants no write to such a page.

import { faulted } from "./fault";
import { physRead8, physRead16, physRead32, physWrite8, physWrite16, physWrite32 } from "./memory";
import { ACCESS_WRITE, TLB_PAGE, TLB_DIRECT_READ, TLB_DIRECT_WRITE, tlbSlot, translate } from "./mmu";
import { readBeforeHostWrite, writeWithHost, writesToHost } from "./emulate";

/**
 * True when the TLB slot `slot` lets this access go straight to RAM: `last`
 * is the access's last byte, `need` the tag bits it requires. The byte at
 * `linear` is then at linear + the slot's addend (slotHostAddress).
 */
// @ts-ignore: decorator
@inline function tlbGrants(slot: usize, last: u32, need: u32): bool {
  return (load<u32>(slot) & (TLB_PAGE | need)) == ((last & TLB_PAGE) | need);
}

// @ts-ignore: decorator
@inline function slotHostAddress(slot: usize, linear: u32): usize {
  return <usize>(linear + load<u32>(slot, 4));
}

// @ts-ignore: decorator
@inline function readNeed(access: i32): u32 {
  return TLB_DIRECT_READ | (<u32>1 << access);
}

// @ts-ignore: decorator
@inline function writeNeed(access: i32): u32 {
  return TLB_DIRECT_WRITE | (<u32>1 << (access | ACCESS_WRITE));
}

/**
 * True when a write of len1 + 1 bytes at `linear` goes straight to RAM by
 * the TLB as it is now, so it cannot fault or leave for the host.
 */
// @ts-ignore: decorator
@inline export function writeIsDirect(linear: u32, len1: u32, access: i32): bool {
  return tlbGrants(tlbSlot(linear), linear + len1, writeNeed(access));
}

/**
 * Where the len1 + 1 bytes at `linear` are in linear memory when the TLB
 * as it is now lets this read of them go straight to RAM (one page, plain
 * RAM, the access kind granted), or 0. Nothing is translated or raised, so
 * a caller that gets 0 can take its ordinary path as if it had not asked.
 */
// @ts-ignore: decorator
@inline export function directReadAddress(linear: u32, len1: u32, access: i32): usize {
  const slot = tlbSlot(linear);
  return tlbGrants(slot, linear + len1, readNeed(access)) ? slotHostAddress(slot, linear) : 0;
}

/** The same for a write: nonzero only when the TLB sends the whole write straight to RAM. */
// @ts-ignore: decorator
@inline export function directWriteAddress(linear: u32, len1: u32, access: i32): usize {
  const slot = tlbSlot(linear);
  return tlbGrants(slot, linear + len1, writeNeed(access)) ? slotHostAddress(slot, linear) : 0;
}

// The fast paths below are inlined into each caller; what misses calls out.

// @ts-ignore: decorator
@inline export function readLinear8(linear: u32, access: i32): u32 {
  const slot = tlbSlot(linear);
  if (tlbGrants(slot, linear, readNeed(access))) return <u32>load<u8>(slotHostAddress(slot, linear));
  return readSlow8(linear, access);
}

function readSlow8(linear: u32, access: i32): u32 {
  if (writesToHost) return readBeforeHostWrite(linear, 1, access);
  const pa = translate(linear, access);
  if (faulted()) return 0;
  return physRead8(pa);
}

// @ts-ignore: decorator
@inline export function readLinear16(linear: u32, access: i32): u32 {
  const slot = tlbSlot(linear);
  if (tlbGrants(slot, linear + 1, readNeed(access))) return <u32>load<u16>(slotHostAddress(slot, linear));
  return readSlow16(linear, access);
}

// @ts-ignore: decorator
@inline export function readLinear32(linear: u32, access: i32): u32 {
  const slot = tlbSlot(linear);
  if (tlbGrants(slot, linear + 3, readNeed(access))) return load<u32>(slotHostAddress(slot, linear));
  return readSlow32(linear, access);
}

// @ts-ignore: decorator
@inline export function writeLinear8(linear: u32, v: u32, access: i32): void {
  const slot = tlbSlot(linear);
  if (tlbGrants(slot, linear, writeNeed(access))) store<u8>(slotHostAddress(slot, linear), <u8>v);
  else writeSlow8(linear, v, access);
}

function writeSlow8(linear: u32, v: u32, access: i32): void {
  if (writesToHost) {
    writeWithHost(linear, v, 0, 1, access | ACCESS_WRITE);
    return;
  }
  const pa = translate(linear, access | ACCESS_WRITE);
  if (faulted()) return;
  physWrite8(pa, v);
}

// @ts-ignore: decorator
@inline export function writeLinear16(linear: u32, v: u32, access: i32): void {
  const slot = tlbSlot(linear);
  if (tlbGrants(slot, linear + 1, writeNeed(access))) {
    store<u16>(slotHostAddress(slot, linear), <u16>v);
    return;
  }
  writeSlow(linear, v, 2, access | ACCESS_WRITE);
}

// @ts-ignore: decorator
@inline export function writeLinear32(linear: u32, v: u32, access: i32): void {
  const slot = tlbSlot(linear);
  if (tlbGrants(slot, linear + 3, writeNeed(access))) {
    store<u32>(slotHostAddress(slot, linear), v);
    return;
  }
  writeSlow(linear, v, 4, access | ACCESS_WRITE);
}

function readSlow16(linear: u32, access: i32): u32 {
  if (writesToHost) return readBeforeHostWrite(linear, 2, access);
  const lo = translate(linear, access);
  if (faulted()) return 0;
  if ((linear & 0xfff) != 0xfff) return physRead16(lo);
  const hi = translate(linear + 1, access);
  if (faulted()) return 0;
  return physRead8(lo) | (physRead8(hi) << 8);
}

function readSlow32(linear: u32, access: i32): u32 {
  if (writesToHost) return readBeforeHostWrite(linear, 4, access);
  const first = translate(linear, access);
  if (faulted()) return 0;
  if ((linear & 0xfff) <= 0xffc) return physRead32(first);
  const second = translate((linear | 0xfff) + 1, access);
  if (faulted()) return 0;
  const split: u32 = 0x1000 - (linear & 0xfff);
  let v: u32 = 0;
  for (let i: u32 = 0; i < 4; i++) {
    v |= physRead8(i < split ? first + i : second + (i - split)) << (i << 3);
  }
  return v;
}

/** A 2- or 4-byte write off the fast path; `access` already has ACCESS_WRITE. */
function writeSlow(linear: u32, v: u32, size: u32, access: i32): void {
  if (writesToHost) {
    writeWithHost(linear, v, 0, size, access);
    return;
  }
  const first = translate(linear, access);
  if (faulted()) return;
  if ((linear & 0xfff) <= 0x1000 - size) {
    if (size == 2) physWrite16(first, v);
    else physWrite32(first, v);
    return;
  }
  // Translate the first byte of each page before writing anything.
  const second = translate((linear | 0xfff) + 1, access);
  if (faulted()) return;
  const split: u32 = 0x1000 - (linear & 0xfff);
  for (let i: u32 = 0; i < size; i++) {
    physWrite8(i < split ? first + i : second + (i - split), v >> (i << 3));
  }
}
