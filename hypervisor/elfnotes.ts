// hypervisor/elfnotes.ts — what a PV kernel says about itself in its Xen ELF notes.
//
// A PV kernel tells the domain builder how to set it up through notes named
// "Xen" in its PT_NOTE segments (XEN-ABI.md 7.1): where to enter, where the
// hypercall page goes, the virtual base of its image, which paging mode it
// wants and which Xen interface it speaks. The builder refuses what Xen's
// libxenguest refuses: an XEN_VERSION that does not start with "xen-3.0", a
// LOADER other than "generic" unless GUEST_OS starts with "linux", and (we
// only offer xen-3.0-x86_32p, XEN-ABI.md 1.1) a PAE_MODE that is not PAE.
// Every value is read from the file with bounds checks: a kernel image is
// untrusted input, and a bad one is refused with the reason, never a crash.

import {
  XEN_ELFNOTE_ENTRY, XEN_ELFNOTE_FEATURES, XEN_ELFNOTE_GUEST_OS, XEN_ELFNOTE_HYPERCALL_PAGE, XEN_ELFNOTE_KINDS,
  XEN_ELFNOTE_LOADER, XEN_ELFNOTE_NAME, XEN_ELFNOTE_PADDR_OFFSET, XEN_ELFNOTE_PAE_MODE, XEN_ELFNOTE_VIRT_BASE,
  XEN_ELFNOTE_XEN_VERSION, XEN_ELFNOTE_XEN_VERSION_PREFIX, XEN_PAE_MODES_PAE,
} from "./abi/elfnote.js";
import { LoadError } from "./platform/boot.js";

const PT_NOTE = 4;

/** The notes the builder uses, with XEN-ABI.md 7.1's defaults applied. */
export interface KernelNotes {
  /** Virtual entry point (ENTRY, else e_entry). */
  entry: number;
  /** Virtual address of the hypercall page, when the kernel wants one. */
  hypercallPage?: number;
  /** VIRT_BASE (default 0) and PADDR_OFFSET (default VIRT_BASE): virtual = physical + VIRT_BASE - PADDR_OFFSET. */
  virtBase: number;
  paddrOffset: number;
  xenVersion: string;
  guestOs: string;
  loader: string;
  paeMode: string;
  features: string;
  /** Every note found, by type: a number or a string as XEN_ELFNOTE_KINDS says, raw bytes otherwise. */
  all: Map<number, number | string | Uint8Array>;
}

/** Reads the Xen notes of an ELF32 image whose header parseElf32 already checked; throws LoadError with the reason. */
export function readKernelNotes(bytes: Uint8Array, eEntry: number): KernelNotes {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (at: number, what: string): number => {
    if (at < 0 || at + 4 > bytes.length) throw new LoadError(`ELF image: ${what} at ${at} is past the end of the file`);
    return view.getUint32(at, true);
  };
  const phoff = u32(28, "e_phoff");
  const phentsize = view.getUint16(42, true);
  const phnum = view.getUint16(44, true);
  const all = new Map<number, number | string | Uint8Array>();
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (u32(ph, `program header ${i}`) !== PT_NOTE) continue;
    const offset = u32(ph + 4, "p_offset");
    const size = u32(ph + 16, "p_filesz");
    if (offset + size > bytes.length) throw new LoadError(`ELF image: note segment ${i} runs past the end of the file`);
    readNotes(bytes.subarray(offset, offset + size), all);
  }
  if (all.size === 0) throw new LoadError("ELF image: no Xen ELF notes (a PV kernel needs at least XEN_VERSION)");
  const str = (type: number, fallback: string): string => {
    const v = all.get(type);
    return typeof v === "string" ? v : fallback;
  };
  const num = (type: number): number | undefined => {
    const v = all.get(type);
    return typeof v === "number" ? v : undefined;
  };
  const notes: KernelNotes = {
    entry: num(XEN_ELFNOTE_ENTRY) ?? eEntry,
    hypercallPage: num(XEN_ELFNOTE_HYPERCALL_PAGE),
    virtBase: num(XEN_ELFNOTE_VIRT_BASE) ?? 0,
    paddrOffset: num(XEN_ELFNOTE_PADDR_OFFSET) ?? num(XEN_ELFNOTE_VIRT_BASE) ?? 0,
    xenVersion: str(XEN_ELFNOTE_XEN_VERSION, ""),
    guestOs: str(XEN_ELFNOTE_GUEST_OS, ""),
    loader: str(XEN_ELFNOTE_LOADER, ""),
    paeMode: str(XEN_ELFNOTE_PAE_MODE, "no"),
    features: str(XEN_ELFNOTE_FEATURES, ""),
    all,
  };
  if (!notes.xenVersion.startsWith(XEN_ELFNOTE_XEN_VERSION_PREFIX)) {
    throw new LoadError(`ELF image: XEN_VERSION note is "${notes.xenVersion}", which does not start with "${XEN_ELFNOTE_XEN_VERSION_PREFIX}"`);
  }
  if (notes.loader !== "generic" && !notes.guestOs.toLowerCase().startsWith("linux")) {
    throw new LoadError(`ELF image: LOADER note is "${notes.loader}"; only "generic" is accepted (or a GUEST_OS starting with "linux")`);
  }
  if (!XEN_PAE_MODES_PAE.includes(notes.paeMode)) {
    throw new LoadError(`ELF image: PAE_MODE note is "${notes.paeMode}"; only PAE kernels (xen-3.0-x86_32p: "yes", "bimodal") can run`);
  }
  return notes;
}

/** Parses one note segment: namesz, descsz, type, the name and the payload, each padded to 4 bytes. */
function readNotes(seg: Uint8Array, into: Map<number, number | string | Uint8Array>): void {
  const view = new DataView(seg.buffer, seg.byteOffset, seg.byteLength);
  let at = 0;
  while (at + 12 <= seg.length) {
    const namesz = view.getUint32(at, true);
    const descsz = view.getUint32(at + 4, true);
    const type = view.getUint32(at + 8, true);
    const nameAt = at + 12;
    const descAt = nameAt + align4(namesz);
    const next = descAt + align4(descsz);
    if (namesz > seg.length || descsz > seg.length || next > seg.length) throw new LoadError("ELF image: a note runs past the end of its segment");
    const name = new TextDecoder().decode(seg.subarray(nameAt, nameAt + namesz)).replace(/\0+$/, "");
    if (name === XEN_ELFNOTE_NAME) into.set(type, noteValue(type, seg.subarray(descAt, descAt + descsz)));
    at = next;
  }
}

function noteValue(type: number, desc: Uint8Array): number | string | Uint8Array {
  const kind = XEN_ELFNOTE_KINDS[type];
  if (kind === "string") {
    const end = desc.indexOf(0);
    return new TextDecoder().decode(end < 0 ? desc : desc.subarray(0, end));
  }
  if (kind === "number") {
    const view = new DataView(desc.buffer, desc.byteOffset, desc.byteLength);
    if (desc.length === 4) return view.getUint32(0, true);
    if (desc.length === 8) {
      // A 32-bit guest's addresses fit in the low half.
      if (view.getUint32(4, true) !== 0) throw new LoadError(`ELF image: note ${type} holds a number above 4 GiB`);
      return view.getUint32(0, true);
    }
    throw new LoadError(`ELF image: note ${type} holds ${desc.length} bytes, not a 4- or 8-byte number`);
  }
  return desc.slice();
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
