// core/memory.ts — the physical address space: RAM, the ROM, MMIO, and nothing.
//
// Every guest-physical access comes through here and is checked against the
// RAM size: an access past the end of linear memory would trap the wasm
// instance and take the host down with it. The map, as a PC chipset decodes
// it: RAM from 0; the ROM's last 64 KiB also at 0xF0000-0xFFFFF (the BIOS
// area, read-only, over RAM) and the whole ROM just below 4 GiB; ranges the
// host claimed as MMIO, whose accesses stop the instruction and exit to the
// host (core/iolog.ts); and open bus everywhere else (reads all ones, writes
// dropped). With the A20 gate closed, address bit 20 reads as 0 (the 8086
// wrap-around that real-mode software still relies on).

import {
  MACHINE_RAM_BASE, MACHINE_RAM_SIZE, MACHINE_ROM_BASE, MACHINE_ROM_SIZE, A20_ENABLED, MMIO_COUNT,
  MMIO_RANGES,
} from "./layout";
import { mmioRead, mmioWrite } from "./iolog";
import { noteWrite } from "./codepages";

/** Cached from the layout block by `attachMemory` so the hot path reads globals. */
export let ramBase: usize = 0;
export let ramSize: u32 = 0;
let romBase: usize = 0;
let romSize: u32 = 0;
let a20Mask: u32 = 0xffffffff;

/** Re-reads RAM, ROM and A20 settings from the layout block (after createMachine, loadRom, or an A20 change). */
export function attachMemory(): void {
  ramBase = <usize>load<u32>(MACHINE_RAM_BASE);
  ramSize = load<u32>(MACHINE_RAM_SIZE);
  romBase = <usize>load<u32>(MACHINE_ROM_BASE);
  romSize = load<u32>(MACHINE_ROM_SIZE);
  a20Mask = load<u32>(A20_ENABLED) != 0 ? 0xffffffff : ~(<u32>1 << 20);
}

export function setA20(enabled: bool): void {
  store<u32>(A20_ENABLED, enabled ? 1 : 0);
  a20Mask = enabled ? 0xffffffff : ~(<u32>1 << 20);
}

/** True when `pa` falls in a range the host claimed as MMIO. */
export function isMmio(pa: u32): bool {
  const n = load<u32>(MMIO_COUNT);
  for (let i: u32 = 0; i < n; i++) {
    const first = load<u32>(MMIO_RANGES + (i << 3));
    const last = load<u32>(MMIO_RANGES + (i << 3) + 4);
    if (pa >= first && pa <= last) return true;
  }
  return false;
}

/**
 * Where the 4 KiB page holding physical `pa` sits in linear memory when the
 * whole page is plain RAM or ROM (reads only), or 0. Instruction fetch keeps
 * this pointer while it executes from the page.
 */
export function physPagePointer(pa: u32): usize {
  pa = (pa & a20Mask) & ~(<u32>0xfff);
  if (romSize != 0 && ((pa >= 0xf0000 && pa < 0x100000) || pa >= <u32>(0 - romSize))) return readAddress(pa);
  if (pa < ramSize) return ramBase + pa;
  return 0;
}

/** Where the byte at physical `pa` is held in linear memory for reading, or 0 for open bus / MMIO. */
function readAddress(pa: u32): usize {
  if (romSize != 0) {
    if (pa >= 0xf0000 && pa < 0x100000) return romBase + romSize - 0x10000 + (pa - 0xf0000);
    if (pa >= <u32>(0 - romSize)) return romBase + (pa - <u32>(0 - romSize));
  }
  if (pa < ramSize) return ramBase + pa;
  return 0;
}

/** Where the byte at physical `pa` is held for writing, or 0 (ROM, open bus, MMIO). */
function writeAddress(pa: u32): usize {
  if (romSize != 0 && pa >= 0xf0000 && pa < 0x100000) return 0;
  if (pa < ramSize) return ramBase + pa;
  return 0;
}

/**
 * Where the `len` bytes at physical `pa` are in linear memory when all of
 * them are plain RAM that physRead32 would read straight (A20 open, below
 * the RAM size, outside the BIOS window of the ROM), or 0.
 */
// @ts-ignore: decorator
@inline export function physRamAddress(pa: u32, len: u32): usize {
  if (a20Mask != 0xffffffff || <u64>pa + <u64>len > <u64>ramSize) return 0;
  return pa + len <= 0xf0000 || pa >= 0x100000 || romSize == 0 ? ramBase + pa : 0;
}

export function physRead8(pa: u32): u32 {
  pa &= a20Mask;
  if (pa < ramSize && (pa < 0xf0000 || pa >= 0x100000 || romSize == 0)) return <u32>load<u8>(ramBase + pa);
  const at = readAddress(pa);
  if (at != 0) return <u32>load<u8>(at);
  return isMmio(pa) ? mmioRead(pa, 1) : 0xff;
}

export function physRead16(pa: u32): u32 {
  pa &= a20Mask;
  if (<u64>pa + 1 < <u64>ramSize && (pa < 0xeffff || pa >= 0x100000 || romSize == 0)) return <u32>load<u16>(ramBase + pa);
  if (pa >= ramSize && isMmio(pa)) return mmioRead(pa, 2);
  return physRead8(pa) | (physRead8(pa + 1) << 8);
}

export function physRead32(pa: u32): u32 {
  pa &= a20Mask;
  if (<u64>pa + 3 < <u64>ramSize && (pa < 0xefffd || pa >= 0x100000 || romSize == 0)) return load<u32>(ramBase + pa);
  if (pa >= ramSize && isMmio(pa)) return mmioRead(pa, 4);
  return physRead8(pa) | (physRead8(pa + 1) << 8) | (physRead8(pa + 2) << 16) | (physRead8(pa + 3) << 24);
}

export function physWrite8(pa: u32, v: u32): void {
  pa &= a20Mask;
  const at = writeAddress(pa);
  if (at != 0) {
    noteWrite(pa >>> 12);
    store<u8>(at, <u8>v);
  } else if (pa >= ramSize && isMmio(pa)) mmioWrite(pa, 1, v & 0xff);
}

export function physWrite16(pa: u32, v: u32): void {
  pa &= a20Mask;
  if (<u64>pa + 1 < <u64>ramSize && (pa < 0xeffff || pa >= 0x100000 || romSize == 0)) {
    noteWrite(pa >>> 12);
    noteWrite((pa + 1) >>> 12);
    store<u16>(ramBase + pa, <u16>v);
    return;
  }
  if (pa >= ramSize && isMmio(pa)) {
    mmioWrite(pa, 2, v & 0xffff);
    return;
  }
  physWrite8(pa, v);
  physWrite8(pa + 1, v >> 8);
}

export function physWrite32(pa: u32, v: u32): void {
  pa &= a20Mask;
  if (<u64>pa + 3 < <u64>ramSize && (pa < 0xefffd || pa >= 0x100000 || romSize == 0)) {
    noteWrite(pa >>> 12);
    noteWrite((pa + 3) >>> 12);
    store<u32>(ramBase + pa, v);
    return;
  }
  if (pa >= ramSize && isMmio(pa)) {
    mmioWrite(pa, 4, v);
    return;
  }
  physWrite8(pa, v);
  physWrite8(pa + 1, v >> 8);
  physWrite8(pa + 2, v >> 16);
  physWrite8(pa + 3, v >> 24);
}
