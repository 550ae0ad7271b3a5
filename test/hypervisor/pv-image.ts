// test/hypervisor/pv-image.ts — small PV kernel images made by hand, for the domain builder's tests.
//
// An ELF32 executable is a header, program headers and the bytes they point
// at; a PV kernel adds a PT_NOTE segment of "Xen" notes (XEN-ABI.md 7.1).
// elf32Image writes exactly that from a list of segments and notes, and
// pvKernel fills in what a well-behaved 32-bit PAE kernel declares (XTF's
// set), so that each test changes only the one thing it is about.

import {
  XEN_ELFNOTE_ENTRY,
  XEN_ELFNOTE_GUEST_OS,
  XEN_ELFNOTE_GUEST_VERSION,
  XEN_ELFNOTE_HYPERCALL_PAGE,
  XEN_ELFNOTE_LOADER,
  XEN_ELFNOTE_NAME,
  XEN_ELFNOTE_PAE_MODE,
  XEN_ELFNOTE_XEN_VERSION,
} from "../../hypervisor/abi/elfnote.js";

/** A note's payload: a number is written as 4 bytes, a string NUL-terminated, bytes as they are. */
export type NoteValue = number | string | Uint8Array;

export interface SegmentSpec {
  paddr: number;
  /** Defaults to paddr. */
  vaddr?: number;
  /** The file bytes; memsz beyond them is bss. */
  data: Uint8Array;
  memsz?: number;
}

const EHDR_SIZE = 52;
const PHDR_SIZE = 32;
const PT_LOAD = 1;
const PT_NOTE = 4;

const align4 = (n: number) => (n + 3) & ~3;

function noteBytes(value: NoteValue): Uint8Array {
  if (typeof value === "number") {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value >>> 0, true);
    return b;
  }
  if (typeof value === "string") return new TextEncoder().encode(`${value}\0`);
  return value;
}

/** The PT_NOTE payload: for each note namesz, descsz, type, "Xen\0", the value, padded to 4 bytes. */
function notesSegment(notes: ReadonlyArray<readonly [number, NoteValue]>): Uint8Array {
  const name = new TextEncoder().encode(`${XEN_ELFNOTE_NAME}\0`);
  const parts = notes.map(([type, value]) => {
    const desc = noteBytes(value);
    const note = new Uint8Array(12 + align4(name.length) + align4(desc.length));
    const view = new DataView(note.buffer);
    view.setUint32(0, name.length, true);
    view.setUint32(4, desc.length, true);
    view.setUint32(8, type, true);
    note.set(name, 12);
    note.set(desc, 12 + align4(name.length));
    return note;
  });
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** An ELF32 x86 executable: one PT_LOAD per segment, then one PT_NOTE with `notes`. */
export function elf32Image(entry: number, segments: readonly SegmentSpec[], notes: ReadonlyArray<readonly [number, NoteValue]>): Uint8Array {
  const noteData = notesSegment(notes);
  const phnum = segments.length + 1;
  let at = align4(EHDR_SIZE + phnum * PHDR_SIZE);
  const noteOffset = at;
  at = align4(at + noteData.length);
  const offsets = segments.map((s) => {
    const o = at;
    at = align4(at + s.data.length);
    return o;
  });
  const image = new Uint8Array(at);
  const view = new DataView(image.buffer);
  image.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]); // ELF, 32-bit, little-endian, version 1
  view.setUint16(16, 2, true); // ET_EXEC
  view.setUint16(18, 3, true); // EM_386
  view.setUint32(20, 1, true);
  view.setUint32(24, entry >>> 0, true);
  view.setUint32(28, EHDR_SIZE, true);
  view.setUint16(40, EHDR_SIZE, true);
  view.setUint16(42, PHDR_SIZE, true);
  view.setUint16(44, phnum, true);
  const phdr = (i: number, type: number, offset: number, vaddr: number, paddr: number, filesz: number, memsz: number) => {
    const ph = EHDR_SIZE + i * PHDR_SIZE;
    [type, offset, vaddr, paddr, filesz, memsz, 7, 4].forEach((v, k) => view.setUint32(ph + 4 * k, v >>> 0, true));
  };
  segments.forEach((s, i) => {
    phdr(i, PT_LOAD, offsets[i]!, s.vaddr ?? s.paddr, s.paddr, s.data.length, s.memsz ?? s.data.length);
    image.set(s.data, offsets[i]!);
  });
  phdr(segments.length, PT_NOTE, noteOffset, 0, 0, noteData.length, noteData.length);
  image.set(noteData, noteOffset);
  return image;
}

export interface PvKernelOptions {
  /** Physical (and, with no VIRT_BASE note, virtual) load address; 1 MiB by default, as XTF links. */
  base?: number;
  /** File bytes of the image (8 KiB: a code page and the hypercall page). */
  size?: number;
  /** Zeroed bytes after them. */
  bss?: number;
  /** Notes to add or replace; null removes one of the defaults. */
  notes?: Readonly<Record<number, NoteValue | null>>;
}

export interface PvKernel {
  image: Uint8Array;
  /** The loaded bytes (a recognisable pattern). */
  data: Uint8Array;
  base: number;
}

/** A one-segment PAE kernel with XTF's notes: ENTRY at base, HYPERCALL_PAGE at base + 4 KiB. */
export function pvKernel(options: PvKernelOptions = {}): PvKernel {
  const base = options.base ?? 0x100000;
  const size = options.size ?? 0x2000;
  const data = new Uint8Array(size).map((_, i) => (i * 31 + 7) & 0xff);
  const notes = new Map<number, NoteValue | null>([
    [XEN_ELFNOTE_GUEST_OS, "test"],
    [XEN_ELFNOTE_GUEST_VERSION, "0"],
    [XEN_ELFNOTE_LOADER, "generic"],
    [XEN_ELFNOTE_XEN_VERSION, "xen-3.0"],
    [XEN_ELFNOTE_ENTRY, base],
    [XEN_ELFNOTE_HYPERCALL_PAGE, base + 0x1000],
    [XEN_ELFNOTE_PAE_MODE, "yes"],
  ]);
  for (const [type, value] of Object.entries(options.notes ?? {})) notes.set(Number(type), value);
  const present = [...notes].filter((n): n is [number, NoteValue] => n[1] !== null);
  const image = elf32Image(base, [{ paddr: base, data, memsz: size + (options.bss ?? 0) }], present);
  return { image, data, base };
}
