// hypervisor/builder.ts — the PV domain builder: a 32-bit PAE kernel's memory, first page tables and start_info.
//
// Before a PV kernel runs its first instruction, Xen's toolstack (libxenguest,
// xg_dom_*.c) has done what a boot loader and the kernel's own early paging
// code would do on hardware, because a PV kernel starts with paging on and
// can never write a page table directly. It gives the domain nr_pages frames
// as pfns 0..nr_pages-1, loads the ELF image at its physical addresses moved
// by VIRT_BASE - PADDR_OFFSET, and lays out one contiguous virtual region
// from VIRT_BASE, 1:1 with the first pfns, each element on its own pages
// (XEN-ABI.md 7.2):
//
//   kernel image | initrd | P2M list | start_info | xenstore | console | page tables | stack
//
// The page tables map the whole region, which ends on a 4 MiB boundary with
// at least 512 KiB free after the stack for the kernel's early allocations.
// Every page is mapped writable for ring 1 only, except the page tables
// themselves, which a PV guest may only ever see read-only (XEN-ABI.md 1.4).
// The top table is the PAE L3, always with an L2 under slot 3: that L2
// carries the hypervisor's read-only M2P window at 0xF5800000 (XEN-ABI.md
// 1.3, 1.5), written by pagetype.ts when the L3 is validated. The L3 is
// pinned and held by the first vCPU's CR3, as libxenguest's
// MMUEXT_PIN_L3_TABLE and the first vCPU context leave it.
//
// A bad image or an impossible layout is refused with a LoadError giving the
// reason, and every frame taken by then is given back. Failing to pin the
// tables it built is a bug in the builder, not in the image, and is thrown
// as one.

import {
  DOMID_FIRST_RESERVED,
  HYPERCALL_PAGE_SLOTS,
  HYPERCALL_STUB_SIZE,
  START_INFO_MAGIC_X86_32P,
  __HYPERVISOR_iret,
  sharedInfoVcpuOffset,
  start_info,
  vcpu_info,
  writeStartInfo,
  type StartInfo,
} from "./abi/xen.js";
import { HYPERCALL_VECTOR, HYPERVISOR_VIRT_START, XEN_LEGACY_MAX_VCPUS } from "./abi/arch_x86_32.js";
import { readKernelNotes, type KernelNotes } from "./elfnotes.js";
import type { FrameTable } from "./mm/frames.js";
import { INVALID_M2P_ENTRY, type M2P } from "./mm/m2p.js";
import type { MachineMemory } from "./mm/memory.js";
import { INVALID_MFN, P2M } from "./mm/p2m.js";
import { PGT_l3_page_table, PGT_writable_page, type PageTypes } from "./mm/pagetype.js";
import { newGuestCr3, pinTable, unpinTable } from "./mm/pin.js";
import {
  L1_PAGETABLE_ENTRIES,
  L2_PAGETABLE_ENTRIES,
  L2_PAGETABLE_SHIFT,
  L3_PAGETABLE_SHIFT,
  L3_XEN_SLOT,
  PAGE_SIZE,
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_PRESENT,
  _PAGE_RW,
  _PAGE_USER,
  entryAddress,
  pteHi,
  pteLo,
} from "./mm/pte.js";
import { LoadError, hex } from "./platform/boot.js";
import { parseElf32, type Elf32 } from "./platform/elf32.js";

/** The machine-memory layer a domain is built on (hypervisor/mm). */
export interface BuilderEnv {
  frames: FrameTable;
  m2p: M2P;
  types: PageTypes;
  mem: MachineMemory;
}

export interface BuildOptions {
  /** The domain's memory: nr_pages = memoryMiB * 256. */
  memoryMiB: number;
  /** start_info.cmd_line, cut to 1023 bytes and NUL-terminated. */
  cmdline: string;
  /** An initrd, mapped after the kernel (start_info.mod_start / mod_len); none when absent or empty. */
  ramdisk?: Uint8Array;
  /**
   * Event channel ports for start_info; the caller allocates them. The
   * hypervisor binds the console's and the store's ports only once the
   * domain's event channels exist, after the build, and writes them in with
   * writeConsoleEvtchn and writeStoreEvtchn.
   */
  consoleEvtchn: number;
  storeEvtchn: number;
  /** start_info.flags (SIF_*): 0 for a domU. */
  flags?: number;
}

export interface BuiltDomain {
  p2m: P2M;
  nrPages: number;
  notes: KernelNotes;
  /** Virtual entry EIP. */
  entry: number;
  /** Initial ESP: the virtual address just past the bootstrap stack page. */
  stackTop: number;
  /** ESI at entry. */
  startInfoVa: number;
  startInfoMfn: number;
  /** A zeroed frame the domain owns, outside its P2M, with every vcpu_info's evtchn_upcall_mask set. */
  sharedInfoMfn: number;
  /** The bootstrap L3: pinned, and holding the reference the first vCPU's CR3 owns. */
  l3Mfn: number;
  consoleMfn: number;
  storeMfn: number;
  /** Virtual address of the page filled with hypercall stubs, when the kernel asked for one. */
  hypercallPage?: number;
  /** The bootstrap page-table frames: the L3, then the L2s by L3 slot, then the L1s by address. */
  ptFrames: number[];
  /** The region mapped at entry: VIRT_BASE up to a 4 MiB boundary. */
  virtBase: number;
  virtEnd: number;
}

const MiB = 1 << 20;
const PAGES_PER_MIB = MiB / PAGE_SIZE;
/** The bootstrap region ends on a 4 MiB boundary... */
const REGION_ALIGN = 4 * MiB;
/** ...with at least this much mapped and unused after the stack (xen.h start-of-day, XEN-ABI.md 7.2). */
const REGION_PADDING = 512 * 1024;
/** Bytes of VA one L1 (2 MiB) and one L2 (1 GiB) cover. */
const L1_SPAN = 2 ** L2_PAGETABLE_SHIFT;
const L2_SPAN = 2 ** L3_PAGETABLE_SHIFT;

/**
 * The builder's entry flags (XEN-ABI.md 7.2): kernel pages present,
 * writable and accessed but never user, since the kernel runs in ring 1 and
 * its user processes must not see it; page tables the same minus RW. L2 and
 * L3 entries allow everything (P|RW|A|D|US) so that the L1 alone decides,
 * which the 32-on-64 L3 mask accepts (XEN-ABI.md 1.2).
 */
const L1_PROT = _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED;
const L1_PROT_RO = _PAGE_PRESENT | _PAGE_ACCESSED;
const L2_PROT = _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_USER;
const L3_PROT = L2_PROT;

// The instructions of a hypercall stub (XEN-ABI.md 2.1).
const OP_INT3 = 0xcc;
const OP_MOV_EAX_IMM32 = 0xb8;
const OP_INT_IMM8 = 0xcd;
const OP_RET = 0xc3;
const OP_PUSH_EAX = 0x50;

/** The page tables that map [virtBase, virtEnd): which L3 slots get an L2, which 2 MiB chunks an L1. */
interface BootstrapTables {
  /** L3 slots with an L2, ascending; slot 3 is always one of them. */
  l2Slots: number[];
  /** The first and last 2 MiB chunk (va / 2 MiB) with an L1. */
  firstChunk: number;
  lastChunk: number;
  /** Frames in all: the L3, the L2s, the L1s. */
  count: number;
}

/** Where everything goes, in pfns (va = virtBase + pfn * 4 KiB). */
interface Layout {
  virtBase: number;
  /** Added to an ELF physical address to get its virtual one. */
  virtOffset: number;
  ramdiskPfn: number;
  p2mPfn: number;
  p2mPages: number;
  startInfoPfn: number;
  storePfn: number;
  consolePfn: number;
  ptPfn: number;
  tables: BootstrapTables;
  stackPfn: number;
  virtEnd: number;
  /** The hypercall page's address, page-aligned, when the kernel has the note. */
  hypercallPage?: number;
}

/**
 * Builds a PV domain `domid` from the ELF32 image `kernel`: allocates its
 * memory, loads the image, and prepares everything XEN-ABI.md 7.2 says a
 * 32-bit PAE kernel finds at entry. The caller creates the vCPU with
 * EIP = entry, ESP = stackTop, ESI = startInfoVa and CR3 = l3Mfn (its
 * reference is already taken).
 */
export function buildPvDomain(env: BuilderEnv, domid: number, kernel: Uint8Array, options: BuildOptions): BuiltDomain {
  if (!Number.isInteger(domid) || domid < 0 || domid >= DOMID_FIRST_RESERVED) {
    throw new RangeError(`domain builder: ${domid} is not a domid a guest can have`);
  }
  const nrPages = options.memoryMiB * PAGES_PER_MIB;
  if (!Number.isInteger(nrPages) || nrPages <= 0) {
    throw new LoadError(`domain memory: ${options.memoryMiB} MiB is not a positive whole number of 4 KiB pages`);
  }
  const elf = parseElf32(kernel);
  const notes = readKernelNotes(kernel, elf.entry);
  const ramdisk = options.ramdisk && options.ramdisk.length > 0 ? options.ramdisk : undefined;
  const layout = planLayout(elf, notes, nrPages, ramdisk?.length ?? 0);
  if ((layout.virtEnd - layout.virtBase) / PAGE_SIZE > nrPages) {
    throw new LoadError(
      `domain memory: ${options.memoryMiB} MiB (${nrPages} pages) cannot hold the initial mapping ` +
        `${hex(layout.virtBase)}-${hex(layout.virtEnd)} (${(layout.virtEnd - layout.virtBase) / PAGE_SIZE} pages); give the domain more memory`,
    );
  }

  const { frames, mem } = env;
  const p2m = new P2M(domid, frames, env.m2p, nrPages);
  let sharedInfoMfn: number | null = null;
  try {
    for (let pfn = 0; pfn < nrPages; pfn++) {
      if (p2m.populate(pfn) < 0) {
        throw new LoadError(`machine memory: a domain of ${options.memoryMiB} MiB needs ${nrPages + 1} frames; only ${pfn + frames.available} were free`);
      }
    }
    sharedInfoMfn = allocateSharedInfo(env, domid, options.memoryMiB);

    const va = (pfn: number) => layout.virtBase + pfn * PAGE_SIZE;
    const mfnAt = (pfn: number) => p2m.get(pfn);
    const writeAt = (virt: number, bytes: Uint8Array) =>
      forEachGuestPage(p2m, layout.virtBase, virt, bytes.length, (pa, done, chunk) => writeBytes(mem, pa, bytes.subarray(done, done + chunk)));
    const zeroAt = (virt: number, length: number) =>
      forEachGuestPage(p2m, layout.virtBase, virt, length, (pa, _done, chunk) => mem.fill(pa, chunk, 0));

    // The image: each PT_LOAD segment at its physical address moved to the
    // kernel's virtual one, and its bss zeroed (XEN-ABI.md 7.1).
    for (const seg of elf.segments) {
      const at = seg.paddr + layout.virtOffset;
      writeAt(at, kernel.subarray(seg.offset, seg.offset + seg.filesz));
      zeroAt(at + seg.filesz, seg.memsz - seg.filesz);
    }
    if (ramdisk) writeAt(va(layout.ramdiskPfn), ramdisk);
    // The console ring starts empty and connected: xencons_interface all
    // zero (io/console.h), as libxenguest clears the page
    // (alloc_magic_pages_pv in xg_dom_x86.c).
    mem.fill(mfnAt(layout.consolePfn) * PAGE_SIZE, PAGE_SIZE, 0);
    // So does the xenstore ring: xenstore_domain_interface all zero, both
    // rings empty, XENSTORE_CONNECTED, no error (io/xs_wire.h; the same
    // clearing in alloc_magic_pages_pv).
    mem.fill(mfnAt(layout.storePfn) * PAGE_SIZE, PAGE_SIZE, 0);
    if (layout.hypercallPage !== undefined) writeAt(layout.hypercallPage, hypercallStubs());

    const p2mListMfns: number[] = [];
    for (let i = 0; i < layout.p2mPages; i++) p2mListMfns.push(mfnAt(layout.p2mPfn + i));
    p2m.writeList(p2mListMfns);

    const ptFrames: number[] = [];
    for (let i = 0; i < layout.tables.count; i++) ptFrames.push(mfnAt(layout.ptPfn + i));
    writeBootstrapTables(mem, p2m, layout, ptFrames);
    const l3Mfn = ptFrames[0]!;

    const info: StartInfo = {
      magic: START_INFO_MAGIC_X86_32P,
      nr_pages: nrPages,
      shared_info: sharedInfoMfn * PAGE_SIZE,
      flags: options.flags ?? 0,
      store_mfn: mfnAt(layout.storePfn),
      store_evtchn: options.storeEvtchn,
      console_mfn: mfnAt(layout.consolePfn),
      console_evtchn: options.consoleEvtchn,
      pt_base: va(layout.ptPfn),
      nr_pt_frames: layout.tables.count,
      mfn_list: va(layout.p2mPfn),
      mod_start: ramdisk ? va(layout.ramdiskPfn) : 0,
      mod_len: ramdisk?.length ?? 0,
      cmd_line: options.cmdline,
      // libxenguest fills these only for a P2M mapped outside the region
      // (the INIT_P2M note, 64-bit guests); here they name the pfns of the
      // list in the region, which is what the fields say (XEN-ABI.md 6.5).
      first_p2m_pfn: layout.p2mPfn,
      nr_p2m_frames: layout.p2mPages,
    };
    const startInfo = new Uint8Array(start_info.sizeof);
    writeStartInfo(new DataView(startInfo.buffer), 0, info);
    writeAt(va(layout.startInfoPfn), startInfo);

    // Validate everything by pinning the top table, then give it to the
    // first vCPU's CR3. The builder made every entry, so a refusal here is
    // its own bug.
    let rc = pinTable(env.types, domid, l3Mfn, PGT_l3_page_table);
    if (rc < 0) throw new Error(`domain builder: pinning the bootstrap L3 (mfn ${l3Mfn}) failed with errno ${-rc}`);
    rc = newGuestCr3(env.types, domid, l3Mfn, null);
    if (rc < 0) throw new Error(`domain builder: taking the CR3 reference on the bootstrap L3 (mfn ${l3Mfn}) failed with errno ${-rc}`);

    return {
      p2m,
      nrPages,
      notes,
      entry: notes.entry,
      stackTop: va(layout.stackPfn + 1),
      startInfoVa: va(layout.startInfoPfn),
      startInfoMfn: mfnAt(layout.startInfoPfn),
      sharedInfoMfn,
      l3Mfn,
      consoleMfn: mfnAt(layout.consolePfn),
      storeMfn: mfnAt(layout.storePfn),
      hypercallPage: layout.hypercallPage,
      ptFrames,
      virtBase: layout.virtBase,
      virtEnd: layout.virtEnd,
    };
  } catch (err) {
    const problems = releaseDomainMemory(env, p2m, sharedInfoMfn, []);
    if (problems.length > 0) {
      throw new Error(`${(err as Error).message}; then freeing the domain's memory failed: ${problems.join("; ")}`, { cause: err });
    }
    throw err;
  }
}

/**
 * Writes start_info.console.domU.evtchn of a built domain. libxl allocates
 * the port before building; here a domain's event channels live in the
 * shared_info page the builder allocates, so the port is bound after the
 * build and written in before the kernel's first instruction.
 */
export function writeConsoleEvtchn(mem: MachineMemory, built: BuiltDomain, port: number): void {
  mem.write32(built.startInfoMfn * PAGE_SIZE + start_info.console_domU_evtchn, port);
}

/** Writes start_info.store_evtchn of a built domain, bound after the build as the console's port is. */
export function writeStoreEvtchn(mem: MachineMemory, built: BuiltDomain, port: number): void {
  mem.write32(built.startInfoMfn * PAGE_SIZE + start_info.store_evtchn, port);
}

/**
 * Gives back everything buildPvDomain took for domain `domid`: the CR3
 * references in `baseMfns` (one per vCPU: the L3 each holds, which is the
 * builder's until the vCPU switches with MMUEXT_NEW_BASEPTR), every pin the
 * domain holds (the builder's and its own), all its P2M frames and its
 * shared_info. The frames in `grantMapped` are mapped by other domains
 * through grants (hypervisor/gnttab.ts): those still referenced stay the
 * domain's until the last mapping goes (FrameTable.freeWhenUnreferenced),
 * and are returned. Any other frame still referenced is a reference leak:
 * this throws naming it, after freeing everything it could.
 */
export function destroyPvDomainMemory(
  env: BuilderEnv, domid: number, built: BuiltDomain, baseMfns: readonly number[] = [built.l3Mfn], grantMapped: ReadonlySet<number> = new Set(),
): number[] {
  if (built.p2m.domid !== domid) throw new RangeError(`destroying domain ${domid}: the memory given is domain ${built.p2m.domid}'s`);
  const lingering: number[] = [];
  const problems = releaseDomainMemory(env, built.p2m, built.sharedInfoMfn, baseMfns, grantMapped, lingering);
  if (problems.length > 0) throw new Error(`destroying domain ${domid}'s memory: ${problems.join("; ")}`);
  return lingering;
}

/**
 * Drops the CR3 references, unpins every pinned table among the P2M's
 * frames (the last pin of a table devalidates it, and that releases every
 * table and page below it), then frees the P2M's frames and shared_info.
 * A frame in `grantMapped` that is still referenced is left to be freed by
 * its last reference and pushed to `lingering`. Returns what could not be
 * freed otherwise.
 */
function releaseDomainMemory(
  env: BuilderEnv, p2m: P2M, sharedInfoMfn: number | null, baseMfns: readonly number[],
  grantMapped: ReadonlySet<number> = new Set(), lingering: number[] = [],
): string[] {
  const { frames, types } = env;
  const domid = p2m.domid;
  const problems: string[] = [];
  for (const mfn of baseMfns) types.putPageAndType(mfn);
  for (let pfn = 0; pfn < p2m.maxPfns; pfn++) {
    const mfn = p2m.get(pfn);
    if (mfn !== INVALID_MFN && types.isPinned(mfn)) unpinTable(types, domid, mfn);
  }
  for (let pfn = 0; pfn < p2m.maxPfns; pfn++) {
    const mfn = p2m.get(pfn);
    if (mfn === INVALID_MFN) continue;
    const rc = p2m.release(pfn);
    if (rc < 0 && grantMapped.has(mfn)) linger(mfn);
    else if (rc < 0) problems.push(`pfn ${pfn} (mfn ${mfn}, ${frames.count[mfn]} references) could not be freed: errno ${-rc}`);
  }
  if (sharedInfoMfn !== null) {
    types.putPageAndType(sharedInfoMfn);
    env.m2p.set(sharedInfoMfn, INVALID_M2P_ENTRY);
    const rc = frames.free(domid, sharedInfoMfn);
    if (rc < 0 && grantMapped.has(sharedInfoMfn)) linger(sharedInfoMfn);
    else if (rc < 0) problems.push(`shared_info (mfn ${sharedInfoMfn}, ${frames.count[sharedInfoMfn]} references) could not be freed: errno ${-rc}`);
  }
  return problems;

  function linger(mfn: number): void {
    env.m2p.set(mfn, INVALID_M2P_ENTRY);
    frames.freeWhenUnreferenced(domid, mfn);
    lingering.push(mfn);
  }
}

/**
 * shared_info is the domain's own frame but not one of its pfns: a PV guest
 * maps it by machine address (start_info.shared_info). It starts zeroed with
 * every vcpu_info's evtchn_upcall_mask set, so that no event is delivered
 * before the guest has a callback and unmasks (XEN-ABI.md 6.3, 7.2).
 */
function allocateSharedInfo(env: BuilderEnv, domid: number, memoryMiB: number): number {
  const mfn = env.frames.allocate(domid);
  if (mfn < 0) throw new LoadError(`machine memory: no frame left for the shared_info page of a ${memoryMiB} MiB domain`);
  env.m2p.set(mfn, INVALID_M2P_ENTRY);
  // Xen's share_xen_page_with_guest: the hypervisor keeps a writable type on it for the domain's life, so
  // the guest can never make it a page table whose entries the event bits the hypervisor sets would forge.
  env.types.getPageAndType(mfn, domid, PGT_writable_page);
  for (let i = 0; i < XEN_LEGACY_MAX_VCPUS; i++) {
    writeBytes(env.mem, mfn * PAGE_SIZE + sharedInfoVcpuOffset(i) + vcpu_info.evtchn_upcall_mask, Uint8Array.of(1));
  }
  return mfn;
}

/**
 * Checks the image against the address space and places every element
 * (XEN-ABI.md 7.1-7.3). Throws LoadError with the reason; takes nothing.
 */
function planLayout(elf: Elf32, notes: KernelNotes, nrPages: number, ramdiskBytes: number): Layout {
  const { virtBase, paddrOffset } = notes;
  if (virtBase % PAGE_SIZE !== 0) throw new LoadError(`ELF image: VIRT_BASE ${hex(virtBase)} is not page-aligned`);
  const virtOffset = virtBase - paddrOffset;
  const pstart = Math.min(...elf.segments.map((s) => s.paddr));
  const pend = Math.max(...elf.segments.map((s) => s.paddr + s.memsz));
  const kernelStart = pstart + virtOffset;
  const kernelEnd = pend + virtOffset;
  const image = `the kernel image ${hex(kernelStart)}-${hex(kernelEnd)}`;
  if (kernelStart < virtBase) {
    throw new LoadError(`ELF image: ${image} (physical ${hex(pstart)} + ${hex(virtOffset)}) starts below VIRT_BASE ${hex(virtBase)}`);
  }
  if (kernelEnd > HYPERVISOR_VIRT_START) {
    throw new LoadError(`ELF image: ${image} overlaps the hypervisor hole at ${hex(HYPERVISOR_VIRT_START)}`);
  }
  if (notes.entry < kernelStart || notes.entry >= kernelEnd) {
    throw new LoadError(`ELF image: the entry point ${hex(notes.entry)} is outside ${image}`);
  }
  // The hypercall page is the kernel's own page that holds the address (Xen
  // fills the frame behind it); it must be part of the image.
  let hypercallPage: number | undefined;
  if (notes.hypercallPage !== undefined) {
    if (notes.hypercallPage < kernelStart || notes.hypercallPage >= kernelEnd) {
      throw new LoadError(`ELF image: the HYPERCALL_PAGE note ${hex(notes.hypercallPage)} is outside ${image}`);
    }
    hypercallPage = notes.hypercallPage - (notes.hypercallPage % PAGE_SIZE);
  }

  let nextPfn = Math.ceil((kernelEnd - virtBase) / PAGE_SIZE);
  const take = (pages: number): number => {
    const pfn = nextPfn;
    nextPfn += pages;
    return pfn;
  };
  const ramdiskPfn = take(Math.ceil(ramdiskBytes / PAGE_SIZE));
  const p2mPages = Math.ceil((nrPages * 4) / PAGE_SIZE);
  const p2mPfn = take(p2mPages);
  const startInfoPfn = take(1);
  const storePfn = take(1);
  const consolePfn = take(1);

  // The tables map the region they end, so their number depends on where
  // it ends: guess an end, count the tables it needs, and move the end
  // until the tables, the stack and the padding fit, as libxenguest does.
  // Like libxenguest, the guess is the 4 MiB boundary strictly above what
  // the previous count needed (an exact fit still moves up a boundary).
  const allocEnd = virtBase + nextPfn * PAGE_SIZE;
  const extraPages = 1 + REGION_PADDING / PAGE_SIZE;
  let pages = extraPages;
  let virtEnd: number;
  let tables: BootstrapTables;
  for (;;) {
    virtEnd = (Math.floor((allocEnd + pages * PAGE_SIZE) / REGION_ALIGN) + 1) * REGION_ALIGN;
    if (virtEnd > HYPERVISOR_VIRT_START) {
      throw new LoadError(
        `ELF image: the initial mapping ${hex(virtBase)}-${hex(virtEnd)} for ${image} and what follows it reaches the hypervisor hole at ${hex(HYPERVISOR_VIRT_START)}`,
      );
    }
    tables = bootstrapTables(virtBase, virtEnd);
    pages = tables.count + extraPages;
    if (allocEnd + pages * PAGE_SIZE <= virtEnd) break;
  }
  const ptPfn = take(tables.count);
  const stackPfn = take(1);
  return {
    virtBase, virtOffset, ramdiskPfn, p2mPfn, p2mPages, startInfoPfn, storePfn, consolePfn, ptPfn, tables, stackPfn, virtEnd, hypercallPage,
  };
}

/** The tables that map [virtBase, virtEnd), plus the L2 under slot 3 that every PAE L3 must have (XEN-ABI.md 1.3). */
function bootstrapTables(virtBase: number, virtEnd: number): BootstrapTables {
  const last = virtEnd - 1;
  const l2Slots: number[] = [];
  for (let slot = Math.floor(virtBase / L2_SPAN); slot <= Math.floor(last / L2_SPAN); slot++) l2Slots.push(slot);
  if (!l2Slots.includes(L3_XEN_SLOT)) l2Slots.push(L3_XEN_SLOT);
  const firstChunk = Math.floor(virtBase / L1_SPAN);
  const lastChunk = Math.floor(last / L1_SPAN);
  return { l2Slots, firstChunk, lastChunk, count: 1 + l2Slots.length + (lastChunk - firstChunk + 1) };
}

/**
 * Writes the L3, L2 and L1 entries that map every page of the region to its
 * pfn's frame, page tables read-only (XEN-ABI.md 7.2). The frames are still
 * ordinary pages here; pinning the L3 validates them.
 */
function writeBootstrapTables(mem: MachineMemory, p2m: P2M, layout: Layout, ptFrames: readonly number[]): void {
  const { tables, virtBase, virtEnd } = layout;
  const set = (table: number, index: number, mfn: number, flags: number) => {
    mem.write64(entryAddress(table, index), pteLo(mfn, flags), pteHi(mfn, flags));
  };
  const l3 = ptFrames[0]!;
  const l2Of = new Map<number, number>();
  tables.l2Slots.forEach((slot, k) => {
    l2Of.set(slot, ptFrames[1 + k]!);
    set(l3, slot, ptFrames[1 + k]!, L3_PROT);
  });
  const l1Base = 1 + tables.l2Slots.length;
  const l1Of = (chunk: number) => ptFrames[l1Base + chunk - tables.firstChunk]!;
  for (let chunk = tables.firstChunk; chunk <= tables.lastChunk; chunk++) {
    set(l2Of.get(Math.floor(chunk / L2_PAGETABLE_ENTRIES))!, chunk % L2_PAGETABLE_ENTRIES, l1Of(chunk), L2_PROT);
  }
  const ptFirst = layout.ptPfn;
  const ptEnd = layout.ptPfn + tables.count;
  for (let pfn = 0; pfn < (virtEnd - virtBase) / PAGE_SIZE; pfn++) {
    const va = virtBase + pfn * PAGE_SIZE;
    const flags = pfn >= ptFirst && pfn < ptEnd ? L1_PROT_RO : L1_PROT;
    set(l1Of(Math.floor(va / L1_SPAN)), (va / PAGE_SIZE) % L1_PAGETABLE_ENTRIES, p2m.get(pfn), flags);
  }
}

/**
 * The hypercall page (XEN-ABI.md 2.1): int3 everywhere, then at i * 32 for
 * each i below 128 `mov eax, i; int 0x82; ret`, except iret, which guests
 * jump to with their frame on the stack: `push eax; mov eax, 23; int 0x82`.
 */
function hypercallStubs(): Uint8Array {
  const page = new Uint8Array(PAGE_SIZE).fill(OP_INT3);
  for (let i = 0; i < HYPERCALL_PAGE_SLOTS; i++) {
    const at = i * HYPERCALL_STUB_SIZE;
    const movEax = [OP_MOV_EAX_IMM32, i & 0xff, (i >>> 8) & 0xff, (i >>> 16) & 0xff, i >>> 24];
    if (i === __HYPERVISOR_iret) page.set([OP_PUSH_EAX, ...movEax, OP_INT_IMM8, HYPERCALL_VECTOR], at);
    else page.set([...movEax, OP_INT_IMM8, HYPERCALL_VECTOR, OP_RET], at);
  }
  return page;
}

/**
 * Calls `visit` for each piece of [va, va + length) of the region that lies
 * in one page, with the machine address the P2M puts it at and how far into
 * the range it starts: the region is contiguous for the guest, not in
 * machine memory.
 */
function forEachGuestPage(p2m: P2M, virtBase: number, va: number, length: number, visit: (pa: number, done: number, chunk: number) => void): void {
  let done = 0;
  while (done < length) {
    const at = va + done;
    const offset = at % PAGE_SIZE;
    const chunk = Math.min(PAGE_SIZE - offset, length - done);
    visit(p2m.get(Math.floor((at - virtBase) / PAGE_SIZE)) * PAGE_SIZE + offset, done, chunk);
    done += chunk;
  }
}

/** Writes bytes to machine memory, which takes 32-bit stores: whole words directly, ragged ends read-modify-write. */
function writeBytes(mem: MachineMemory, pa: number, bytes: Uint8Array): void {
  let i = 0;
  while (i < bytes.length) {
    const at = pa + i;
    const lane = at & 3;
    if (lane === 0 && bytes.length - i >= 4) {
      mem.write32(at, bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
      i += 4;
      continue;
    }
    let word = mem.read32(at - lane);
    for (let b = lane; b < 4 && i < bytes.length; b++, i++) {
      word = (word & ~(0xff << (8 * b))) | (bytes[i]! << (8 * b));
    }
    mem.write32(at - lane, word);
  }
}
