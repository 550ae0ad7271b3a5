// hypervisor/platform/boot.ts — what a loader hands the machine: bytes in RAM and a CPU state to start from.
//
// A loader reads an image file, checks every field it uses against the file
// and the machine (a bad image ends with a LoadError naming the field, never
// with a crash or a write outside RAM), copies the image into guest RAM,
// and returns a BootPlan: either a 32-bit protected-mode entry state (the
// multiboot and ELF loaders, which act like a boot loader that has already
// run) or a ROM to map, started from the reset vector. Loaders touch RAM
// only through `PhysicalMemory`, so they run the same against the CPU's
// memory and against a plain array in tests.
//
// The flat protected-mode state is the one the multiboot specification
// (section 3.2, "Machine state") requires and QEMU's -kernel provides:
// CS a 32-bit execute/read code segment and DS, ES, FS, GS, SS 32-bit
// read/write data segments, all with base 0 and limit 4 GiB; CR0.PE set
// and paging off; EFLAGS with IF and VM clear; A20 open. The GDT those
// selectors come from is placed in low RAM by the loader.

/** Guest RAM as a loader sees it. */
export interface PhysicalMemory {
  /** Bytes of RAM from physical address 0. */
  readonly ramBytes: number;
  /** Copies `bytes` to physical address `pa` (the caller has checked the range). */
  write(pa: number, bytes: Uint8Array): void;
  /** Sets `length` bytes from `pa` to `value`. */
  fill(pa: number, length: number, value: number): void;
}

/** A bad image, with a one-line reason the user can act on. */
export class LoadError extends Error {
  override readonly name = "LoadError";
}

/** A segment register with its hidden descriptor cache (core/layout.ts's record). */
export interface SegmentRegister {
  selector: number;
  base: number;
  limit: number;
  /** Descriptor bits 40-55 shifted down by 8: access byte in 0-7, flags nibble in 12-15. */
  attr: number;
}

export interface ProtectedModeEntry {
  eip: number;
  eax: number;
  ebx: number;
  esp: number;
  eflags: number;
  cr0: number;
  gdtr: { base: number; limit: number };
  /** CS. */
  code: SegmentRegister;
  /** DS, ES, FS, GS and SS. */
  data: SegmentRegister;
}

export type BootPlan =
  | { kind: "multiboot" | "elf"; entry: ProtectedModeEntry; summary: string }
  | { kind: "rom"; rom: Uint8Array; summary: string };

// The GDT a loader leaves behind: null, flat code, flat data (the selectors
// GRUB's and QEMU's loaders use differ; the specification fixes none).
export const BOOT_CODE_SELECTOR = 0x08;
export const BOOT_DATA_SELECTOR = 0x10;
/** A present ring-0 execute/read code segment, accessed, 32-bit, 4 KiB granularity. */
const FLAT_CODE_ATTR = 0xc09b;
/** A present ring-0 read/write data segment, accessed, 32-bit, 4 KiB granularity. */
const FLAT_DATA_ATTR = 0xc093;
/** CR0 with protection on, ET set (the 387 interface bit, hard-wired on since the i486), caches enabled. */
const CR0_PE_ET = 0x11;
/** EFLAGS bit 1 always reads 1; everything else clear (IF = 0, VM = 0). */
const EFLAGS_RESET = 0x2;

/**
 * The low-memory area the multiboot and ELF loaders use: the boot stack
 * below BOOT_STACK_TOP, the GDT, and the multiboot information. No image
 * segment may overlap it.
 */
export const BOOT_AREA_START = 0x7000;
export const BOOT_STACK_TOP = 0x8000;
export const BOOT_GDT = 0x8000;
export const MULTIBOOT_INFO = 0x9000;
export const BOOT_AREA_END = 0xa000;

/** The BIOS window of the ROM, mapped over RAM (core/memory.ts). */
export const ROM_WINDOW_START = 0xf0000;
export const ROM_WINDOW_END = 0x100000;

/** The eight-byte descriptor for a flat 4 GiB segment with attributes `attr` (SDM Vol. 3A 3.4.5). */
function flatDescriptor(attr: number): Uint8Array {
  const d = new Uint8Array(8);
  d[0] = 0xff; // limit 15:0 = 0xFFFF (with G and limit 19:16 = 0xF: 4 GiB)
  d[1] = 0xff;
  d[5] = attr & 0xff; // access byte
  d[6] = ((attr >> 8) & 0xf0) | 0x0f; // flags nibble, limit 19:16
  return d;
}

/** Writes the boot GDT into RAM and returns the flat protected-mode entry state at `eip`. */
export function flatProtectedModeEntry(memory: PhysicalMemory, eip: number, eax: number, ebx: number): ProtectedModeEntry {
  const gdt = new Uint8Array(24);
  gdt.set(flatDescriptor(FLAT_CODE_ATTR), BOOT_CODE_SELECTOR);
  gdt.set(flatDescriptor(FLAT_DATA_ATTR), BOOT_DATA_SELECTOR);
  memory.write(BOOT_GDT, gdt);
  const flat = (selector: number, attr: number): SegmentRegister => ({ selector, base: 0, limit: 0xffffffff, attr });
  return {
    eip,
    eax,
    ebx,
    // The specification leaves ESP undefined; a small stack below the GDT
    // keeps a kernel that pushes before setting its own from writing to the
    // top of the address space.
    esp: BOOT_STACK_TOP,
    eflags: EFLAGS_RESET,
    cr0: CR0_PE_ET,
    gdtr: { base: BOOT_GDT, limit: gdt.length - 1 },
    code: flat(BOOT_CODE_SELECTOR, FLAT_CODE_ATTR),
    data: flat(BOOT_DATA_SELECTOR, FLAT_DATA_ATTR),
  };
}

/** `0x`-prefixed lowercase hex of an unsigned 32-bit value, zero-padded to `digits`, for messages. */
export function hex(value: number, digits = 0): string {
  return `0x${(value >>> 0).toString(16).padStart(digits, "0")}`;
}

/**
 * Checks that physical range [start, start + length) can hold image bytes:
 * inside RAM, clear of the boot area and of the ROM window. `what` names the
 * header fields the range came from, for the message.
 */
export function checkLoadRange(memory: PhysicalMemory, start: number, length: number, what: string): void {
  const end = start + length;
  if (end > memory.ramBytes) {
    throw new LoadError(`${what}: ${hex(start)}-${hex(end)} is beyond RAM (${memory.ramBytes / (1024 * 1024)} MiB); try a larger --mem`);
  }
  if (length === 0) return;
  if (start < BOOT_AREA_END && end > BOOT_AREA_START) {
    throw new LoadError(`${what}: ${hex(start)}-${hex(end)} overlaps the loader's boot area ${hex(BOOT_AREA_START)}-${hex(BOOT_AREA_END)}`);
  }
  if (start < ROM_WINDOW_END && end > ROM_WINDOW_START) {
    throw new LoadError(`${what}: ${hex(start)}-${hex(end)} overlaps the ROM at ${hex(ROM_WINDOW_START)}-${hex(ROM_WINDOW_END)}`);
  }
}

/** Little-endian field reads that fail with a LoadError instead of reading past the file. */
export class ImageReader {
  constructor(
    readonly bytes: Uint8Array,
    private readonly what: string,
  ) {}

  private check(offset: number, size: number, field: string): void {
    if (offset < 0 || offset + size > this.bytes.length) {
      throw new LoadError(`${this.what}: ${field} at file offset ${hex(offset)} is past the end of the file (${this.bytes.length} bytes)`);
    }
  }

  u8(offset: number, field: string): number {
    this.check(offset, 1, field);
    return this.bytes[offset]!;
  }

  u16(offset: number, field: string): number {
    this.check(offset, 2, field);
    return this.bytes[offset]! | (this.bytes[offset + 1]! << 8);
  }

  u32(offset: number, field: string): number {
    this.check(offset, 4, field);
    const b = this.bytes;
    return (b[offset]! | (b[offset + 1]! << 8) | (b[offset + 2]! << 16) | (b[offset + 3]! << 24)) >>> 0;
  }
}
