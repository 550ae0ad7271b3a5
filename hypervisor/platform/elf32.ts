// hypervisor/platform/elf32.ts — loading a 32-bit x86 ELF executable at its physical addresses.
//
// An ELF executable describes what to load in its program headers: each
// PT_LOAD segment copies p_filesz bytes from file offset p_offset and zeroes
// the rest up to p_memsz. A kernel links at its virtual addresses (p_vaddr)
// but, with paging off, must be loaded at physical ones (p_paddr), which is
// what GRUB and QEMU do. The entry point e_entry is a virtual address; when
// it falls inside a segment it is moved by that segment's vaddr-to-paddr
// offset, so a higher-half kernel linked at 0xC0100000 but loaded at 1 MiB
// starts at its physical entry, as GRUB 2 does.
//
// A plain ELF32 image with no multiboot header is entered exactly like a
// multiboot ELF kernel (flat protected mode, EAX = 0x2BADB002, EBX = the
// information structure), so one kernel can be booted either way.
//
// Source: System V ABI, "Object Files" (ELF header, program header) and its
// Intel386 supplement (EM_386, ELFCLASS32, ELFDATA2LSB).

import { checkLoadRange, hex, ImageReader, LoadError, type BootPlan, type PhysicalMemory } from "./boot.js";
import { enterLikeMultiboot, type MultibootOptions } from "./multiboot-info.js";

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46]; // "\x7fELF"
const EI_CLASS = 4;
const EI_DATA = 5;
const EI_VERSION = 6;
const ELFCLASS32 = 1;
const ELFDATA2LSB = 1;
const EV_CURRENT = 1;
const ET_EXEC = 2;
const EM_386 = 3;
const E_TYPE = 16;
const E_MACHINE = 18;
const E_ENTRY = 24;
const E_PHOFF = 28;
const E_PHENTSIZE = 42;
const E_PHNUM = 44;
/** Size of an Elf32_Ehdr and of an Elf32_Phdr. */
const EHDR_SIZE = 52;
const PHDR_SIZE = 32;
/** e_phnum's escape value: the real count is elsewhere (not used by kernels; rejected). */
const PN_XNUM = 0xffff;
const PT_LOAD = 1;

export interface ElfSegment {
  offset: number;
  vaddr: number;
  paddr: number;
  filesz: number;
  memsz: number;
}

export interface Elf32 {
  entry: number;
  segments: ElfSegment[];
}

export function isElf(bytes: Uint8Array): boolean {
  return ELF_MAGIC.every((b, i) => bytes[i] === b);
}

/** Reads and checks the ELF header and the PT_LOAD program headers against the file. */
export function parseElf32(bytes: Uint8Array): Elf32 {
  const what = "ELF image";
  if (!isElf(bytes)) throw new LoadError(`${what}: no ELF magic number`);
  if (bytes.length < EHDR_SIZE) throw new LoadError(`${what}: the file (${bytes.length} bytes) is shorter than an ELF header`);
  const r = new ImageReader(bytes, what);
  if (r.u8(EI_CLASS, "e_ident[EI_CLASS]") !== ELFCLASS32) throw new LoadError(`${what}: not a 32-bit ELF file (EI_CLASS ${bytes[EI_CLASS]})`);
  if (r.u8(EI_DATA, "e_ident[EI_DATA]") !== ELFDATA2LSB) throw new LoadError(`${what}: not little-endian (EI_DATA ${bytes[EI_DATA]})`);
  if (r.u8(EI_VERSION, "e_ident[EI_VERSION]") !== EV_CURRENT) throw new LoadError(`${what}: unknown ELF version ${bytes[EI_VERSION]}`);
  const type = r.u16(E_TYPE, "e_type");
  if (type !== ET_EXEC) throw new LoadError(`${what}: e_type is ${type}, not an executable (ET_EXEC = 2)`);
  const machine = r.u16(E_MACHINE, "e_machine");
  if (machine !== EM_386) throw new LoadError(`${what}: e_machine is ${machine}, not x86 (EM_386 = 3)`);
  const entry = r.u32(E_ENTRY, "e_entry");
  const phoff = r.u32(E_PHOFF, "e_phoff");
  const phentsize = r.u16(E_PHENTSIZE, "e_phentsize");
  const phnum = r.u16(E_PHNUM, "e_phnum");
  if (phnum === 0) throw new LoadError(`${what}: no program headers (e_phnum = 0)`);
  if (phnum === PN_XNUM) throw new LoadError(`${what}: e_phnum = PN_XNUM (extended numbering) is not supported`);
  if (phentsize < PHDR_SIZE) throw new LoadError(`${what}: e_phentsize ${phentsize} is smaller than a program header (${PHDR_SIZE})`);
  if (phoff + phnum * phentsize > bytes.length) {
    throw new LoadError(`${what}: program headers at ${hex(phoff)} (${phnum} x ${phentsize} bytes) run past the end of the file (${bytes.length} bytes)`);
  }
  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (r.u32(ph, `program header ${i} p_type`) !== PT_LOAD) continue;
    const seg: ElfSegment = {
      offset: r.u32(ph + 4, "p_offset"),
      vaddr: r.u32(ph + 8, "p_vaddr"),
      paddr: r.u32(ph + 12, "p_paddr"),
      filesz: r.u32(ph + 16, "p_filesz"),
      memsz: r.u32(ph + 20, "p_memsz"),
    };
    if (seg.filesz > seg.memsz) throw new LoadError(`${what}: segment ${i} has p_filesz ${hex(seg.filesz)} > p_memsz ${hex(seg.memsz)}`);
    if (seg.offset + seg.filesz > bytes.length) {
      throw new LoadError(`${what}: segment ${i} (p_offset ${hex(seg.offset)}, p_filesz ${hex(seg.filesz)}) runs past the end of the file (${bytes.length} bytes)`);
    }
    if (seg.memsz > 0) segments.push(seg);
  }
  if (segments.length === 0) throw new LoadError(`${what}: no PT_LOAD segment with contents`);
  return { entry, segments };
}

/** Copies every segment to its physical address and returns the physical entry point. */
export function loadElfSegments(bytes: Uint8Array, elf: Elf32, memory: PhysicalMemory): number {
  elf.segments.forEach((seg, i) => {
    checkLoadRange(memory, seg.paddr, seg.memsz, `ELF segment ${i} (p_paddr ${hex(seg.paddr)}, p_memsz ${hex(seg.memsz)})`);
  });
  const home = elf.segments.find((s) => elf.entry >= s.vaddr && elf.entry - s.vaddr < s.memsz);
  const entry = home ? home.paddr + (elf.entry - home.vaddr) : elf.entry;
  if (!elf.segments.some((s) => entry >= s.paddr && entry - s.paddr < s.memsz)) {
    throw new LoadError(`ELF image: the entry point ${hex(elf.entry)} is in no loaded segment`);
  }
  for (const seg of elf.segments) {
    memory.write(seg.paddr, bytes.subarray(seg.offset, seg.offset + seg.filesz));
    memory.fill(seg.paddr + seg.filesz, seg.memsz - seg.filesz, 0);
  }
  return entry;
}

/** An ELF32 kernel without a multiboot header, entered as a multiboot loader would enter it. */
export function loadElf32(bytes: Uint8Array, memory: PhysicalMemory, options: MultibootOptions): BootPlan {
  const elf = parseElf32(bytes);
  const eip = loadElfSegments(bytes, elf, memory);
  return {
    kind: "elf",
    entry: enterLikeMultiboot(memory, eip, options),
    summary: `ELF32, ${elf.segments.length} segment(s), entry ${hex(eip)}`,
  };
}
