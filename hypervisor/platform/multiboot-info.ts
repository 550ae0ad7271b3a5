// hypervisor/platform/multiboot-info.ts — the multiboot information structure a loader leaves for the kernel.
//
// A multiboot v1 kernel starts with EAX = 0x2BADB002 (proof that a
// compliant loader ran) and EBX = the physical address of this structure. Its
// first word is a set of flags, one per group of fields that are valid; we
// fill the memory sizes (mem_lower: KiB from 0, mem_upper: KiB from 1 MiB),
// the command line, an empty module list, the BIOS-style memory map, and
// the loader's name. The memory map is the one a PC BIOS reports through
// INT 15h E820 on this machine: conventional memory, the legacy hole from
// 640 KiB to 1 MiB (video memory and ROMs on a PC; the ROM window here),
// RAM above 1 MiB, and the ROM just below 4 GiB.
//
// Source: Multiboot Specification version 0.6.96, sections 3.2 (machine
// state) and 3.3 (boot information format).

import {
  BOOT_AREA_END,
  flatProtectedModeEntry,
  LoadError,
  MULTIBOOT_INFO,
  type PhysicalMemory,
  type ProtectedModeEntry,
} from "./boot.js";

/** What the loader tells the kernel in EAX. */
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;

// Information flags (section 3.3).
export const MBI_MEMORY = 1 << 0;
export const MBI_CMDLINE = 1 << 2;
export const MBI_MODULES = 1 << 3;
export const MBI_MMAP = 1 << 6;
export const MBI_LOADER_NAME = 1 << 9;

// Field offsets.
const MBI_FLAGS = 0;
const MBI_MEM_LOWER = 4;
const MBI_MEM_UPPER = 8;
const MBI_CMDLINE_ADDR = 16;
const MBI_MODS_COUNT = 20;
const MBI_MODS_ADDR = 24;
const MBI_MMAP_LENGTH = 44;
const MBI_MMAP_ADDR = 48;
const MBI_LOADER_NAME_ADDR = 64;
/** The structure with the framebuffer fields of 0.6.96, all of which we leave zero. */
const MBI_SIZE = 120;

/** A memory-map entry: size (of the rest, 20), base_addr (u64), length (u64), type. */
const MMAP_ENTRY_SIZE = 24;
export const MMAP_AVAILABLE = 1;
export const MMAP_RESERVED = 2;

// Where the pieces go inside the boot area.
const MMAP_ADDR = MULTIBOOT_INFO + 0x80;
const LOADER_NAME_ADDR = MULTIBOOT_INFO + 0x100;
const CMDLINE_ADDR = MULTIBOOT_INFO + 0x120;
const CMDLINE_MAX = BOOT_AREA_END - CMDLINE_ADDR - 1;

const LOADER_NAME = "xenoscope";
const KiB = 1024;
const MiB = 1024 * KiB;
const CONVENTIONAL_END = 640 * KiB;

export interface MultibootOptions {
  /** The kernel command line (section 3.3: a C string); QEMU passes the kernel's file name. */
  cmdline?: string;
  /** Bytes of ROM mapped just below 4 GiB, reported as reserved. */
  romBytes: number;
}

export interface MemoryRegion {
  base: number;
  length: number;
  type: number;
}

/** The memory map of a machine with `ramBytes` of RAM and `romBytes` of ROM. */
export function memoryMap(ramBytes: number, romBytes: number): MemoryRegion[] {
  const map: MemoryRegion[] = [
    { base: 0, length: Math.min(ramBytes, CONVENTIONAL_END), type: MMAP_AVAILABLE },
    { base: CONVENTIONAL_END, length: MiB - CONVENTIONAL_END, type: MMAP_RESERVED },
  ];
  if (ramBytes > MiB) map.push({ base: MiB, length: ramBytes - MiB, type: MMAP_AVAILABLE });
  if (romBytes > 0) map.push({ base: 2 ** 32 - romBytes, length: romBytes, type: MMAP_RESERVED });
  return map;
}

/** Writes the information structure into the boot area; returns its address (the kernel's EBX). */
export function writeMultibootInfo(memory: PhysicalMemory, options: MultibootOptions): number {
  const cmdline = new TextEncoder().encode(options.cmdline ?? "");
  if (cmdline.length > CMDLINE_MAX) throw new LoadError(`the kernel command line is longer than ${CMDLINE_MAX} bytes`);
  const mbi = new DataView(new ArrayBuffer(MBI_SIZE));
  let flags = MBI_MEMORY | MBI_MODULES | MBI_MMAP | MBI_LOADER_NAME;
  mbi.setUint32(MBI_MEM_LOWER, Math.min(memory.ramBytes, CONVENTIONAL_END) / KiB, true);
  mbi.setUint32(MBI_MEM_UPPER, Math.max(memory.ramBytes - MiB, 0) / KiB, true);
  mbi.setUint32(MBI_MODS_COUNT, 0, true);
  mbi.setUint32(MBI_MODS_ADDR, 0, true);

  const map = memoryMap(memory.ramBytes, options.romBytes);
  const entries = new DataView(new ArrayBuffer(map.length * MMAP_ENTRY_SIZE));
  map.forEach((region, i) => {
    const at = i * MMAP_ENTRY_SIZE;
    entries.setUint32(at, MMAP_ENTRY_SIZE - 4, true);
    entries.setBigUint64(at + 4, BigInt(region.base), true);
    entries.setBigUint64(at + 12, BigInt(region.length), true);
    entries.setUint32(at + 20, region.type, true);
  });
  memory.write(MMAP_ADDR, new Uint8Array(entries.buffer));
  mbi.setUint32(MBI_MMAP_LENGTH, entries.byteLength, true);
  mbi.setUint32(MBI_MMAP_ADDR, MMAP_ADDR, true);

  memory.write(LOADER_NAME_ADDR, new TextEncoder().encode(`${LOADER_NAME}\0`));
  mbi.setUint32(MBI_LOADER_NAME_ADDR, LOADER_NAME_ADDR, true);

  if (options.cmdline !== undefined) {
    memory.write(CMDLINE_ADDR, cmdline);
    memory.fill(CMDLINE_ADDR + cmdline.length, 1, 0);
    mbi.setUint32(MBI_CMDLINE_ADDR, CMDLINE_ADDR, true);
    flags |= MBI_CMDLINE;
  }
  mbi.setUint32(MBI_FLAGS, flags, true);
  memory.write(MULTIBOOT_INFO, new Uint8Array(mbi.buffer));
  return MULTIBOOT_INFO;
}

/** The state a multiboot loader enters a kernel with at `eip`: information structure, GDT, flat segments. */
export function enterLikeMultiboot(memory: PhysicalMemory, eip: number, options: MultibootOptions): ProtectedModeEntry {
  const mbi = writeMultibootInfo(memory, options);
  return flatProtectedModeEntry(memory, eip, MULTIBOOT_BOOTLOADER_MAGIC, mbi);
}
