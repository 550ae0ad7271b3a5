// hypervisor/platform/rom.ts — the machine's ROM: a raw image started from the reset vector, or our own.
//
// An x86 CPU comes out of reset in real mode with CS:IP = F000:FFF0 and the
// CS base at 0xFFFF0000, so its first instruction is fetched 16 bytes below
// 4 GiB (SDM Vol. 3A 9.1.4). A PC's firmware ROM is therefore mapped at the
// top of the address space, and its last 64 KiB again at 0xF0000-0xFFFFF,
// where real-mode code (the far jump out of the reset vector) finds it
// (core/memory.ts maps both). A raw ROM image is placed so that its last
// byte is at 4 GiB - 1; the core takes ROMs in whole 64 KiB blocks of at
// most 1 MiB, so a smaller image is padded at the front with 0xFF, the
// value of erased flash.
//
// A machine booted from a kernel image still has a ROM: 64 KiB of 0xFF with
// a reset vector that halts with interrupts off, so a guest that jumps to
// the reset vector stops cleanly instead of running open bus.

import { hex, LoadError, type BootPlan } from "./boot.js";

export const ROM_BLOCK = 0x10000;
export const ROM_MAX = 0x100000;
/** Offset of the reset vector from the end of the ROM. */
const RESET_VECTOR_FROM_END = 16;
/** At the reset vector: `cli` (FA), `hlt` (F4), `jmp short` back to the hlt (EB FD). */
const HALT_FOREVER = [0xfa, 0xf4, 0xeb, 0xfd];

/** Pads a raw image at the front to whole 64 KiB blocks, so it ends at 4 GiB. */
export function prepareRom(image: Uint8Array): BootPlan {
  if (image.length === 0) throw new LoadError("ROM image: the file is empty");
  if (image.length > ROM_MAX) throw new LoadError(`ROM image: ${image.length} bytes is more than the 1 MiB a ROM can map`);
  const size = Math.ceil(image.length / ROM_BLOCK) * ROM_BLOCK;
  const rom = new Uint8Array(size).fill(0xff);
  rom.set(image, size - image.length);
  return { kind: "rom", rom, summary: `ROM image, ${image.length} bytes at ${hex(2 ** 32 - image.length)}, started at the reset vector` };
}

/** The ROM of a machine booted from a kernel: a reset vector that halts for good. */
export function haltingRom(): Uint8Array {
  const rom = new Uint8Array(ROM_BLOCK).fill(0xff);
  rom.set(HALT_FOREVER, ROM_BLOCK - RESET_VECTOR_FROM_END);
  return rom;
}
