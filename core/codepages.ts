// core/codepages.ts — which RAM pages hold decoded code, and when it goes stale.
//
// The decoded-instruction cache (core/icache.ts) keeps what it decoded from
// a RAM page until something writes there: self-modifying code must work
// (DESIGN.md). Each 4 KiB page of RAM has a byte of flags here. A page from
// which an instruction was cached is a code page: mmu.ts `fillTlb` gives
// its TLB entries no TLB_DIRECT_WRITE, and the entries filled before it
// became one lose theirs, so every write to it leaves the fast path and
// reaches memory.ts, which calls `noteWrite`. The first write to a code page
// makes every cached instruction stale at once by moving to a new epoch
// (entries carry the epoch they were decoded in) and turns the page back
// into a plain one. A page written that way many times mixes code with
// data the program keeps changing: it stops being cached at all, so its
// writes stay fast.
//
// The host may change RAM through its views without a call (a loader, a
// test), so run() also starts a new epoch each time it is entered.

import { tlbDropDirectWrites } from "./mmu";

/** Pages of RAM the flags cover: the most the core may hold (1 GiB). */
const MAX_PAGES: u32 = 1 << 18;
/** Flags of a page: instructions were cached from it since its last write. */
const PAGE_CODE: u8 = 1;
/** Flags of a page: it was written under cached code too often; never cache from it. */
const PAGE_NO_CACHE: u8 = 2;
/** Writes under cached code after which a page is no longer cached. */
const WRITES_BEFORE_NO_CACHE: u8 = 32;

const pageFlags: usize = memory.data(<i32>MAX_PAGES);
const pageWrites: usize = memory.data(<i32>MAX_PAGES);

/** The current epoch: cache entries of another one are stale. Never 0, so an all-zero entry is empty. */
export let epoch: u32 = 1;

/** Makes every cached instruction stale. */
export function newEpoch(): void {
  epoch++;
  if (epoch == 0) epoch = 1;
}

/** True when the RAM page at offset `ramPage` (a page number) has cached instructions. */
// @ts-ignore: decorator
@inline export function isCodePage(ramPage: u32): bool {
  return ramPage < MAX_PAGES && (load<u8>(pageFlags + ramPage) & PAGE_CODE) != 0;
}

/**
 * Before caching an instruction from RAM page `ramPage` (whose bytes are at
 * `hostPage` in linear memory): false when the page is not to be cached;
 * otherwise it becomes a code page, its writes leaving the TLB fast path.
 */
export function claimCodePage(ramPage: u32, hostPage: usize): bool {
  if (ramPage >= MAX_PAGES) return false;
  const flags = load<u8>(pageFlags + ramPage);
  if ((flags & PAGE_NO_CACHE) != 0) return false;
  if ((flags & PAGE_CODE) == 0) {
    store<u8>(pageFlags + ramPage, flags | PAGE_CODE);
    tlbDropDirectWrites(hostPage);
  }
  return true;
}

/** A write reached RAM page `ramPage` off the fast path: stale code if it was a code page. */
// @ts-ignore: decorator
@inline export function noteWrite(ramPage: u32): void {
  if (isCodePage(ramPage)) codePageWritten(ramPage);
}

function codePageWritten(ramPage: u32): void {
  let flags = load<u8>(pageFlags + ramPage) & ~PAGE_CODE;
  const writes = load<u8>(pageWrites + ramPage) + 1;
  store<u8>(pageWrites + ramPage, writes);
  if (writes >= WRITES_BEFORE_NO_CACHE) flags |= PAGE_NO_CACHE;
  store<u8>(pageFlags + ramPage, flags);
  newEpoch();
}

/** After a reset or new RAM: no page holds cached code, and every page may again. */
export function forgetCodePages(): void {
  memory.fill(pageFlags, 0, <usize>MAX_PAGES);
  memory.fill(pageWrites, 0, <usize>MAX_PAGES);
  newEpoch();
}
