// hypervisor/platform/multiboot.ts — the multiboot v1 loader, as QEMU's -kernel and GRUB run it.
//
// A multiboot kernel carries a header in its first 8 KiB, 4-byte aligned:
// the magic 0x1BADB002, flags, and a checksum making the three sum to 0.
// Flag bits 0-15 are requirements the loader must meet or refuse the
// kernel; bit 16, the "a.out kludge", says the header itself holds the load
// addresses, so a flat binary needs no ELF parser:
//   header_addr    where the header's first byte is loaded (this maps file offsets to addresses)
//   load_addr      where loading starts (<= header_addr)
//   load_end_addr  where the loaded bytes end (0: the end of the file)
//   bss_end_addr   zero from load_end_addr up to here (0: no bss)
//   entry_addr     where to jump
// Without bit 16 the kernel must be an ELF file, loaded by its program
// headers (elf32.ts). Either way the kernel starts in flat 32-bit protected
// mode with EAX = 0x2BADB002 and EBX = the information structure
// (multiboot-info.ts).
//
// Source: Multiboot Specification version 0.6.96, section 3.1 (OS image
// format: header layout, magic fields, address fields).

import { checkLoadRange, hex, ImageReader, LoadError, type BootPlan, type PhysicalMemory } from "./boot.js";
import { isElf, loadElfSegments, parseElf32 } from "./elf32.js";
import { enterLikeMultiboot, type MultibootOptions } from "./multiboot-info.js";

export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
/** The header must lie entirely within the image's first 8 KiB. */
export const MULTIBOOT_SEARCH = 8192;
const HEADER_BASE_SIZE = 12; // magic, flags, checksum
const HEADER_AOUT_SIZE = 32; // ... and the five address fields

export const MB_PAGE_ALIGN = 1 << 0;
export const MB_MEMORY_INFO = 1 << 1;
export const MB_VIDEO_MODE = 1 << 2;
export const MB_AOUT_KLUDGE = 1 << 16;
/** Requirement bits this loader meets: 0 (no modules to align), 1 (memory info), 2 (accepted without a framebuffer, as QEMU does). */
const MB_KNOWN_REQUIREMENTS = MB_PAGE_ALIGN | MB_MEMORY_INFO | MB_VIDEO_MODE;

export interface MultibootHeader {
  /** File offset of the header. */
  offset: number;
  flags: number;
}

/** File offsets, 4-byte aligned within the first 8 KiB, where a whole base header could start. */
function* headerCandidates(bytes: Uint8Array): Generator<number> {
  const last = Math.min(MULTIBOOT_SEARCH, bytes.length) - HEADER_BASE_SIZE;
  for (let offset = 0; offset <= last; offset += 4) yield offset;
}

/** Finds a valid multiboot header (magic and checksum) in the first 8 KiB, or undefined. */
export function findMultibootHeader(bytes: Uint8Array): MultibootHeader | undefined {
  const r = new ImageReader(bytes, "multiboot header");
  for (const offset of headerCandidates(bytes)) {
    if (r.u32(offset, "magic") !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = r.u32(offset + 4, "flags");
    const checksum = r.u32(offset + 8, "checksum");
    if (((MULTIBOOT_HEADER_MAGIC + flags + checksum) >>> 0) === 0) return { offset, flags };
  }
  return undefined;
}

/** The file offset of the first multiboot magic where a header could be, valid or not. */
export function findMultibootMagic(bytes: Uint8Array): number | undefined {
  const r = new ImageReader(bytes, "multiboot header");
  for (const offset of headerCandidates(bytes)) if (r.u32(offset, "magic") === MULTIBOOT_HEADER_MAGIC) return offset;
  return undefined;
}

export function loadMultiboot(bytes: Uint8Array, memory: PhysicalMemory, options: MultibootOptions): BootPlan {
  const header = findMultibootHeader(bytes);
  if (!header) throw new LoadError(`no multiboot header (magic ${hex(MULTIBOOT_HEADER_MAGIC)} with a valid checksum) in the first 8 KiB`);
  const unknown = header.flags & 0xffff & ~MB_KNOWN_REQUIREMENTS;
  if (unknown) throw new LoadError(`multiboot header: flags ${hex(header.flags)} require features this loader does not have (bits ${hex(unknown)})`);

  let eip: number;
  let summary: string;
  if (header.flags & MB_AOUT_KLUDGE) {
    ({ eip, summary } = loadAout(bytes, header.offset, memory));
  } else if (isElf(bytes)) {
    const elf = parseElf32(bytes);
    eip = loadElfSegments(bytes, elf, memory);
    summary = `multiboot ELF, ${elf.segments.length} segment(s), entry ${hex(eip)}`;
  } else {
    throw new LoadError("multiboot header without the a.out kludge (flag 16), and the file is not ELF: nothing says where to load it");
  }
  return { kind: "multiboot", entry: enterLikeMultiboot(memory, eip, options), summary };
}

/** The a.out kludge: the header's address fields say what to load where. */
function loadAout(bytes: Uint8Array, headerOffset: number, memory: PhysicalMemory): { eip: number; summary: string } {
  const what = "multiboot header";
  if (headerOffset + HEADER_AOUT_SIZE > Math.min(bytes.length, MULTIBOOT_SEARCH)) {
    throw new LoadError(`${what}: the a.out kludge's address fields do not fit in the file's first 8 KiB`);
  }
  const r = new ImageReader(bytes, what);
  const headerAddr = r.u32(headerOffset + 12, "header_addr");
  const loadAddr = r.u32(headerOffset + 16, "load_addr");
  const loadEndField = r.u32(headerOffset + 20, "load_end_addr");
  const bssEndField = r.u32(headerOffset + 24, "bss_end_addr");
  const entryAddr = r.u32(headerOffset + 28, "entry_addr");

  if (loadAddr > headerAddr) throw new LoadError(`${what}: load_addr ${hex(loadAddr)} is above header_addr ${hex(headerAddr)}`);
  const loadOffset = headerOffset - (headerAddr - loadAddr);
  if (loadOffset < 0) {
    throw new LoadError(`${what}: header_addr - load_addr = ${hex(headerAddr - loadAddr)} puts load_addr before the start of the file`);
  }
  let loadEnd: number;
  if (loadEndField === 0) {
    loadEnd = loadAddr + (bytes.length - loadOffset);
  } else {
    if (loadEndField <= loadAddr) throw new LoadError(`${what}: load_end_addr ${hex(loadEndField)} is not above load_addr ${hex(loadAddr)}`);
    if (loadEndField - loadAddr > bytes.length - loadOffset) {
      throw new LoadError(`${what}: load_end_addr ${hex(loadEndField)} asks for ${loadEndField - loadAddr} bytes but the file has ${bytes.length - loadOffset} from load_addr`);
    }
    loadEnd = loadEndField;
  }
  if (headerAddr + HEADER_AOUT_SIZE > loadEnd) throw new LoadError(`${what}: header_addr ${hex(headerAddr)} is outside the loaded bytes`);
  const bssEnd = bssEndField === 0 ? loadEnd : bssEndField;
  if (bssEnd < loadEnd) throw new LoadError(`${what}: bss_end_addr ${hex(bssEnd)} is below load_end_addr ${hex(loadEnd)}`);
  if (entryAddr < loadAddr || entryAddr >= loadEnd) {
    throw new LoadError(`${what}: entry_addr ${hex(entryAddr)} is outside the loaded bytes ${hex(loadAddr)}-${hex(loadEnd)}`);
  }
  checkLoadRange(memory, loadAddr, bssEnd - loadAddr, `${what}: load_addr..bss_end_addr`);

  memory.write(loadAddr, bytes.subarray(loadOffset, loadOffset + (loadEnd - loadAddr)));
  memory.fill(loadEnd, bssEnd - loadEnd, 0);
  return {
    eip: entryAddr,
    summary: `multiboot a.out kludge, ${hex(loadAddr)}-${hex(loadEnd)} (bss to ${hex(bssEnd)}), entry ${hex(entryAddr)}`,
  };
}
