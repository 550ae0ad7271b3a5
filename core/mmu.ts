// core/mmu.ts — linear to physical: the paging unit and its TLB.
//
// With CR0.PG clear a linear address is the physical address. With paging
// on, the tables CR3 points at are walked as SDM Vol. 3A chapter 4 says:
// 32-bit paging (4.3) with 4 KiB pages and, under CR4.PSE, 4 MiB pages; or
// PAE paging (4.4) under CR4.PAE, with 64-bit entries, 2 MiB pages, the four
// PDPTEs held in registers loaded at MOV CR3, and the execute-disable bit
// once EFER.NXE is set. Every translation names its access kind, so the
// U/S, R/W (with CR0.WP) and XD checks of 4.6 happen here and nowhere else;
// a failed one raises #PF with the error code of 4.7 and records the linear
// address for delivery to copy into CR2. The accessed and dirty bits are
// set as 4.8 says, and only by a translation that succeeds.
//
// The one rule that makes it fast: a walk's product is a TLB entry, and the
// entry holds, for each of the eight access kinds, whether that kind may use
// it. A lookup is then one slot of a direct-mapped table, one AND and one
// compare, which core/access.ts inlines into every memory access. Write kinds
// are granted only once the dirty bit is set, so the first write to a clean
// page misses and walks to set it. The TLB follows 4.10's rules for what
// must be dropped (MOV CR3 keeps global pages, INVLPG drops one page, a
// #PF drops the faulting page, changes of CR0.PG/WP, CR4.PAE/PSE/PGE and
// EFER.NXE drop everything) and, as hardware may, keeps a stale
// translation until one of them happens.
//
// The translation source (layout TRANSLATION) is plain: the walk above.
// Xen PV's direct paging is this same walk; its PAE flavour, 32-on-64,
// reads the four L3 entries from memory on each walk as ordinary entries
// (RW/US/A/D honoured) instead of from the PDPTE registers, and the shadow
// and hap sources of later issues choose their walk in `walk` below.
//
// While the host emulates an instruction with EMULATE_WRITES_TO_HOST
// (core/emulate.ts), a write refused only because R/W is clear (the U/S
// check passed) does not fault: the walk completes as the read the access
// may be, with the A bit set as for a read and no write right in the TLB,
// and notes the refusal, so the write goes to the host instead of RAM.

import { MSR_EFER, REG_CR0, REG_CR4, A20_ENABLED, MACHINE_ROM_SIZE, MMIO_COUNT, MMIO_RANGES } from "./layout";
import { CR0_PG, CR0_WP, CR0_CD, CR0_NW, CR4_PAE, CR4_PSE, CR4_PGE, cr0, cr3, cr4, writeCr3Raw } from "./state";
import { raisePageFault } from "./fault";
import { physRead32, physWrite32, ramBase, ramSize } from "./memory";
import { isCodePage } from "./codepages";
import * as E from "./emulate";
import { pvMode } from "./pv";

/** Access kinds, OR-ed: a write, from user mode (CPL 3), an instruction fetch. */
export const ACCESS_READ: i32 = 0;
export const ACCESS_WRITE: i32 = 1;
export const ACCESS_USER: i32 = 2;
export const ACCESS_EXEC: i32 = 4;

/** IA32_EFER.NXE (SDM Vol. 4 Table 2-2): enables the XD bit of PAE entries. */
export const EFER_NXE: u32 = 1 << 11;

/**
 * The physical-address width, MAXPHYADDR (SDM Vol. 3A 4.1.4), which CPUID
 * 80000008H must report: 32, as on the Pentium M, a PAE and NX processor
 * whose physical addresses fit in 32 bits. So in PAE entries every address
 * bit from 32 up is reserved, and a 4 MiB PDE has no PSE-36 address bits.
 */
export const MAXPHYADDR: u32 = 32;

// Page-fault error code (SDM Vol. 3A 4.7, Figure 4-12).
export const PF_P: u32 = 1 << 0;
export const PF_W: u32 = 1 << 1;
export const PF_U: u32 = 1 << 2;
export const PF_RSVD: u32 = 1 << 3;
export const PF_ID: u32 = 1 << 4;

// Paging-structure entry bits, the same in the low dword of every format
// (SDM Vol. 3A Tables 4-4 to 4-11).
const PTE_P: u32 = 1 << 0;
const PTE_RW: u32 = 1 << 1;
const PTE_US: u32 = 1 << 2;
const PTE_A: u32 = 1 << 5;
const PTE_D: u32 = 1 << 6;
const PTE_PS: u32 = 1 << 7;
const PTE_G: u32 = 1 << 8;

// Reserved bits (MAXPHYADDR 32). A 4 MiB PDE: 21:13, the PSE-36 address
// bits a 32-bit-address processor lacks (Table 4-4). A 2 MiB PDE: 20:13
// (Table 4-9). Every PAE entry: 62:32 of the high dword, and bit 63 too
// while EFER.NXE is clear (Tables 4-8 to 4-11). PDPTEs: 2:1, 8:5 and all of
// 63:32, XD included (Table 4-8). PAT bits (7 of a PTE, 12 of a large PDE)
// are not checked: the SDM's reserved-bit tables list none there, and the
// memory type they select means nothing to us.
const PDE_4M_RESERVED: u32 = 0x003fe000;
const PDE_2M_RESERVED: u32 = 0x001fe000;
const PAE_RESERVED_HI: u32 = 0x7fffffff;
const PAE_XD_HI: u32 = 0x80000000;
/** Bits 62:52 of a PAE entry, in its high dword: ignored by a long-mode walk (the 32-on-64 flavour), reserved natively. */
const PAE_IGNORED_HI_LONG_MODE: u32 = 0x7ff00000;
const PDPTE_RESERVED: u32 = 0x000001e6;

// The TLB. Slot i holds the translation of one 4 KiB linear page whose
// page number is i modulo TLB_ENTRIES: a tag word and, when the page is
// RAM the fast path may touch directly, the addend that turns a linear
// address into its address in wasm memory; beside them, the physical page.
// Both tables are static data, zero at instantiation, and a zero tag grants
// nothing, so an all-zero table is an empty TLB.
/** Slots in the TLB, a power of two. */
export const TLB_ENTRIES: u32 = 4096;
/** Per slot, 8 bytes: the tag, then the host addend. */
const tlbTags: usize = memory.data(<i32>TLB_ENTRIES * 8, 16);
/** Per slot, 4 bytes: the physical page. */
const tlbPhys: usize = memory.data(<i32>TLB_ENTRIES * 4, 16);

// The tag: linear page in bits 31:12; bit k (0-7) set when access kind k
// may use the entry; the rest below.
export const TLB_PAGE: u32 = 0xfffff000;
/** The physical page is plain RAM: reads may load at linear + addend. */
export const TLB_DIRECT_READ: u32 = 1 << 8;
/**
 * Writes may store at linear + addend. Set together with TLB_DIRECT_READ by
 * `fillTlb`, the single place that decides which writes bypass memory.ts:
 * a page whose writes must be seen (decoded code, the dirty log) will be
 * filled without it, so its writes take the slow path.
 */
export const TLB_DIRECT_WRITE: u32 = 1 << 9;
const TLB_GLOBAL: u32 = 1 << 10;
const TLB_LARGE: u32 = 1 << 11;
/** Access kinds that write: WRITE and USER|WRITE (WRITE|EXEC is no access). */
const WRITE_KINDS: u32 = (1 << ACCESS_WRITE) | (1 << (ACCESS_USER | ACCESS_WRITE));
const EXEC_KINDS: u32 = (1 << ACCESS_EXEC) | (1 << (ACCESS_USER | ACCESS_EXEC));
/** Every access kind there is: all but the two that both write and fetch. */
const ALL_KINDS: u32 = 0xff & ~((1 << (ACCESS_WRITE | ACCESS_EXEC)) | (1 << (ACCESS_USER | ACCESS_WRITE | ACCESS_EXEC)));

/** True once a global entry was filled; lets a non-global flush clear the table in one fill. */
let globalsCached = false;
/** True once a 2/4 MiB page was filled; INVLPG must then drop the large page's other slots. */
let largeCached = false;

/** The four PDPTE registers of native PAE paging (low dwords; their high dwords are zero, being reserved). */
const pdptes: usize = memory.data(16, 16);

/** The slot of `linear` in the TLB: its tag at +0, its host addend at +4. */
// @ts-ignore: decorator
@inline export function tlbSlot(linear: u32): usize {
  return tlbTags + (<usize>((linear >>> 12) & (TLB_ENTRIES - 1)) << 3);
}

// @ts-ignore: decorator
@inline function efer(): u32 {
  return load<u32>(MSR_EFER);
}

// @ts-ignore: decorator
@inline function paePaging(cr0Value: u32, cr4Value: u32): bool {
  return (cr0Value & CR0_PG) != 0 && (cr4Value & CR4_PAE) != 0;
}

/**
 * The physical address of `linear` for an access of kind `access`. On a
 * failed translation it raises #PF (see core/fault.ts) and returns 0.
 */
export function translate(linear: u32, access: i32): u32 {
  const slot = tlbSlot(linear);
  const need = <u32>1 << access;
  if ((load<u32>(slot) & (TLB_PAGE | need)) == ((linear & TLB_PAGE) | need)) {
    return load<u32>(tlbPhys + ((slot - tlbTags) >> 1)) | (linear & 0xfff);
  }
  return translateMiss(linear, access);
}

function translateMiss(linear: u32, access: i32): u32 {
  if ((cr0() & CR0_PG) == 0) {
    // Paging off: the identity, which every access kind may use.
    fillTlb(linear, linear & TLB_PAGE, ALL_KINDS, true, false, false);
    return linear;
  }
  if (!walk(linear, access)) return 0;
  return load<u32>(tlbPhys + ((tlbSlot(linear) - tlbTags) >> 1)) | (linear & 0xfff);
}

/**
 * Walks the paging structures for `linear`, and on success sets the A/D
 * bits and fills the TLB slot; on failure raises #PF. Here the translation
 * source is chosen: plain paging, 32-bit or PAE by CR4.PAE.
 */
function walk(linear: u32, access: i32): bool {
  return (cr4() & CR4_PAE) != 0 ? walkPae(linear, access) : walk32(linear, access);
}

/** 32-bit paging (SDM Vol. 3A 4.3): a page directory, then a page table unless the PDE maps 4 MiB. */
function walk32(linear: u32, access: i32): bool {
  const pdeAddr = (cr3() & 0xfffff000) | ((linear >>> 20) & 0xffc);
  const pde = readEntry(pdeAddr);
  if ((pde & PTE_P) == 0) return pageFault(linear, access, 0);
  let write = (access & ACCESS_WRITE) != 0;
  if ((pde & PTE_PS) != 0 && (cr4() & CR4_PSE) != 0) {
    if ((pde & PDE_4M_RESERVED) != 0) return pageFault(linear, access, PF_P | PF_RSVD);
    const kinds = allowedKinds(pde, false);
    if ((kinds & (<u32>1 << access)) == 0) {
      if (!writeGoesToHost(pde, access)) return pageFault(linear, access, PF_P);
      write = false;
    }
    setEntryBits(pdeAddr, pde, write ? PTE_A | PTE_D : PTE_A);
    fillTlb(linear, (pde & 0xffc00000) | (linear & 0x003ff000), kinds, write || (pde & PTE_D) != 0, isGlobal(pde), true);
    return true;
  }
  const pteAddr = (pde & 0xfffff000) | ((linear >>> 10) & 0xffc);
  const pte = readEntry(pteAddr);
  if ((pte & PTE_P) == 0) return pageFault(linear, access, 0);
  const kinds = allowedKinds(pde & pte, false);
  if ((kinds & (<u32>1 << access)) == 0) {
    if (!writeGoesToHost(pde & pte, access)) return pageFault(linear, access, PF_P);
    write = false;
  }
  setEntryBits(pdeAddr, pde, PTE_A);
  setEntryBits(pteAddr, pte, write ? PTE_A | PTE_D : PTE_A);
  fillTlb(linear, pte & 0xfffff000, kinds, write || (pte & PTE_D) != 0, isGlobal(pte), false);
  return true;
}

/**
 * PAE paging (SDM Vol. 3A 4.4): a PDPTE register chosen by bits 31:30, a
 * page directory, then a page table unless the PDE maps 2 MiB. PDPTEs have
 * no R/W, U/S, XD or A bits, so only the PDE and PTE grant rights.
 */
function walkPae(linear: u32, access: i32): bool {
  const nxe = (efer() & EFER_NXE) != 0;
  const pv = pvMode();
  let reservedHi = nxe ? PAE_RESERVED_HI : PAE_RESERVED_HI | PAE_XD_HI;
  // Under the 32-on-64 flavour the walk is a long-mode one, which ignores
  // bits 62:52 of its entries (SDM Vol. 3A 4.5, Table 4-19): Xen lets guests use them.
  if (pv) reservedHi &= ~PAE_IGNORED_HI_LONG_MODE;
  let write = (access & ACCESS_WRITE) != 0;
  let pdpte: u32;
  // What the L3 entry adds to the rights: nothing natively (PDPTEs have no R/W, U/S or XD).
  let l3Rights: u32 = PTE_RW | PTE_US;
  let l3Xd = false;
  if (pv) {
    // Xen's 32-on-64 flavour (core/pv.ts): the L3 entry is read now, like a
    // long-mode PDPTE (SDM Vol. 3A 4.5): its R/W, U/S and XD count, it gets
    // the A bit, and PS is reserved (no 1 GiB pages here).
    const l3Addr = (cr3() & 0xffffffe0) | ((linear >>> 27) & 0x18);
    const l3 = readEntry(l3Addr);
    if ((l3 & PTE_P) == 0) return pageFault(linear, access, 0);
    const l3Hi = readEntry(l3Addr + 4);
    if ((l3Hi & reservedHi) != 0 || (l3 & PTE_PS) != 0) return pageFault(linear, access, PF_P | PF_RSVD);
    l3Rights = l3;
    l3Xd = nxe && (l3Hi & PAE_XD_HI) != 0;
    pdpte = l3;
    setEntryBits(l3Addr, l3, PTE_A);
  } else {
    pdpte = load<u32>(pdptes + ((linear >>> 30) << 2));
    if ((pdpte & PTE_P) == 0) return pageFault(linear, access, 0);
  }

  const pdeAddr = (pdpte & 0xfffff000) | ((linear >>> 18) & 0xff8);
  const pde = readEntry(pdeAddr);
  if ((pde & PTE_P) == 0) return pageFault(linear, access, 0);
  const pdeHi = readEntry(pdeAddr + 4);
  if ((pdeHi & reservedHi) != 0) return pageFault(linear, access, PF_P | PF_RSVD);
  if ((pde & PTE_PS) != 0) {
    if ((pde & PDE_2M_RESERVED) != 0) return pageFault(linear, access, PF_P | PF_RSVD);
    const kinds = allowedKinds(l3Rights & pde, l3Xd || (nxe && (pdeHi & PAE_XD_HI) != 0));
    if ((kinds & (<u32>1 << access)) == 0) {
      if (!writeGoesToHost(l3Rights & pde, access)) return pageFault(linear, access, PF_P);
      write = false;
    }
    setEntryBits(pdeAddr, pde, write ? PTE_A | PTE_D : PTE_A);
    fillTlb(linear, (pde & 0xffe00000) | (linear & 0x001ff000), kinds, write || (pde & PTE_D) != 0, isGlobal(pde), true);
    return true;
  }

  const pteAddr = (pde & 0xfffff000) | ((linear >>> 9) & 0xff8);
  const pte = readEntry(pteAddr);
  if ((pte & PTE_P) == 0) return pageFault(linear, access, 0);
  const pteHi = readEntry(pteAddr + 4);
  if ((pteHi & reservedHi) != 0) return pageFault(linear, access, PF_P | PF_RSVD);
  const kinds = allowedKinds(l3Rights & pde & pte, l3Xd || (nxe && ((pdeHi | pteHi) & PAE_XD_HI) != 0));
  if ((kinds & (<u32>1 << access)) == 0) {
    if (!writeGoesToHost(l3Rights & pde & pte, access)) return pageFault(linear, access, PF_P);
    write = false;
  }
  setEntryBits(pdeAddr, pde, PTE_A);
  setEntryBits(pteAddr, pte, write ? PTE_A | PTE_D : PTE_A);
  fillTlb(linear, pte & 0xfffff000, kinds, write || (pte & PTE_D) != 0, isGlobal(pte), false);
  return true;
}

/**
 * The access kinds a translation allows (SDM Vol. 3A 4.6), from the AND of
 * the R/W and U/S bits of its entries and whether any of them has XD set
 * under EFER.NXE. Supervisor reads and fetches are always allowed (no SMAP,
 * no SMEP); supervisor writes need R/W only under CR0.WP; user accesses
 * need U/S, and user writes R/W as well.
 */
function allowedKinds(rights: u32, executeDisable: bool): u32 {
  const rw = (rights & PTE_RW) != 0;
  let kinds: u32 = (1 << ACCESS_READ) | (1 << ACCESS_EXEC);
  if (rw || (cr0() & CR0_WP) == 0) kinds |= 1 << ACCESS_WRITE;
  if ((rights & PTE_US) != 0) {
    kinds |= (1 << ACCESS_USER) | (1 << (ACCESS_USER | ACCESS_EXEC));
    if (rw) kinds |= 1 << (ACCESS_USER | ACCESS_WRITE);
  }
  if (executeDisable) kinds &= ~EXEC_KINDS;
  return kinds;
}

/**
 * For an access that `rights` (the AND of the entries' R/W and U/S bits)
 * refused: true when it is a write refused only for R/W — the read of the
 * same kind would pass, as a supervisor read always does and a user read
 * does with U/S (SDM Vol. 3A 4.6) — and the host takes such writes
 * (core/emulate.ts writesToHost). The refusal is noted for the caller.
 */
function writeGoesToHost(rights: u32, access: i32): bool {
  if (!E.writesToHost || (access & ACCESS_WRITE) == 0) return false;
  if ((access & ACCESS_USER) != 0 && (rights & PTE_US) == 0) return false;
  E.noteReadOnlyWrite();
  return true;
}

/** A leaf entry makes a global translation when its G bit is set and CR4.PGE is on (SDM Vol. 3A 4.10.2.4). */
// @ts-ignore: decorator
@inline function isGlobal(leaf: u32): bool {
  return (leaf & PTE_G) != 0 && (cr4() & CR4_PGE) != 0;
}

/**
 * Reads a paging-structure dword at physical `addr`. Paging structures live
 * in RAM; outside it an entry reads as open bus (all ones) and never as a
 * device register, so a walk has no side effects and cannot exit to the
 * host halfway.
 */
function readEntry(addr: u32): u32 {
  let pa = addr;
  if (load<u32>(A20_ENABLED) == 0) pa &= ~(<u32>1 << 20);
  if (pa >= ramSize || ramSize - pa < 4) return 0xffffffff;
  // Plain RAM outside the ROM's window at 0xF0000 (physRead32 reads the ROM there).
  if (pa >= 0x100000 || pa < 0xefffd) return load<u32>(ramBase + pa);
  return physRead32(addr);
}

/**
 * Sets the A (and D) bits of the entry at `addr` if they are clear; `known`
 * is the entry as the walk read it. Bits are only ever added, so when
 * `known` has them the entry still does. Otherwise it re-reads the entry,
 * so a table that maps itself (a PDE used as a PTE) keeps both updates.
 * The entry was just read, so it is in RAM.
 */
// @ts-ignore: decorator
@inline function setEntryBits(addr: u32, known: u32, bits: u32): void {
  if ((known & bits) != bits) writeEntryBits(addr, bits);
}

function writeEntryBits(addr: u32, bits: u32): void {
  const entry = readEntry(addr);
  if ((entry & bits) != bits) physWrite32(addr, entry | bits);
}

/**
 * Raises #PF for a failed walk. `cause` is what the walk found: 0 for a
 * not-present entry, PF_P for a protection violation, PF_P | PF_RSVD for a
 * reserved bit. The rest of the error code describes the access; I/D only
 * when PAE paging runs with EFER.NXE (SDM Vol. 3A 4.7). A #PF also drops
 * the faulting page's TLB entry (4.10.4.1), so the retry walks again.
 */
function pageFault(linear: u32, access: i32, cause: u32): bool {
  let code = cause;
  if ((access & ACCESS_WRITE) != 0) code |= PF_W;
  if ((access & ACCESS_USER) != 0) code |= PF_U;
  if ((access & ACCESS_EXEC) != 0 && (cr4() & CR4_PAE) != 0 && (efer() & EFER_NXE) != 0) code |= PF_ID;
  store<u32>(tlbSlot(linear), 0);
  raisePageFault(linear, code);
  return false;
}

/**
 * Fills the slot of `linear`. Write kinds are kept only when the leaf's
 * dirty bit is set, so a write to a clean page walks and sets it.
 */
function fillTlb(linear: u32, physPage: u32, kinds: u32, dirty: bool, global: bool, large: bool): void {
  const slot = tlbSlot(linear);
  let tag = (linear & TLB_PAGE) | (dirty ? kinds : kinds & ~WRITE_KINDS);
  const host = directHostAddress(physPage);
  // A page with cached instructions keeps its writes off the fast path (core/codepages.ts).
  if (host != 0) tag |= isCodePage(<u32>(host - ramBase) >>> 12) ? TLB_DIRECT_READ : TLB_DIRECT_READ | TLB_DIRECT_WRITE;
  if (global) {
    tag |= TLB_GLOBAL;
    globalsCached = true;
  }
  if (large) {
    tag |= TLB_LARGE;
    largeCached = true;
  }
  store<u32>(slot, tag);
  store<u32>(slot, <u32>host - (linear & TLB_PAGE), 4);
  store<u32>(tlbPhys + ((slot - tlbTags) >> 1), physPage);
}

/**
 * Where the 4 KiB physical page `physPage` lives in wasm memory, or 0 when
 * it is not plain RAM: past the end of RAM, under the ROM's window at
 * 0xF0000 (reads there see the ROM), or touching an MMIO range. The A20
 * gate is applied, as memory.ts does.
 */
export function directHostAddress(physPage: u32): usize {
  let pa = physPage & TLB_PAGE;
  if (load<u32>(A20_ENABLED) == 0) pa &= ~(<u32>1 << 20);
  if (pa >= ramSize) return 0;
  if (load<u32>(MACHINE_ROM_SIZE) != 0 && pa >= 0xf0000 && pa < 0x100000) return 0;
  if (pageTouchesMmio(pa)) return 0;
  return ramBase + pa;
}

/** True when any byte of the 4 KiB physical page `physPage` is in a range the host claimed as MMIO. */
export function pageTouchesMmio(physPage: u32): bool {
  const pa = physPage & TLB_PAGE;
  const n = load<u32>(MMIO_COUNT);
  for (let i: u32 = 0; i < n; i++) {
    const first = load<u32>(MMIO_RANGES + (i << 3));
    const last = load<u32>(MMIO_RANGES + (i << 3) + 4);
    if (first <= pa + 0xfff && last >= pa) return true;
  }
  return false;
}

/**
 * Takes TLB_DIRECT_WRITE from every entry whose page is the 4 KiB of linear
 * memory at `hostPage`: it just became a code page (core/codepages.ts).
 */
export function tlbDropDirectWrites(hostPage: usize): void {
  for (let slot = tlbTags; slot < tlbTags + (<usize>TLB_ENTRIES << 3); slot += 8) {
    const tag = load<u32>(slot);
    if ((tag & TLB_DIRECT_WRITE) != 0 && <usize>((tag & TLB_PAGE) + load<u32>(slot, 4)) == hostPage) {
      store<u32>(slot, tag & ~TLB_DIRECT_WRITE);
    }
  }
}

/** Drops every non-global translation (MOV CR3, SDM Vol. 3A 4.10.4.1). */
export function flushTlb(): void {
  if (!globalsCached) {
    flushTlbAll();
    return;
  }
  let globals = false;
  let large = false;
  for (let slot = tlbTags; slot < tlbTags + (<usize>TLB_ENTRIES << 3); slot += 8) {
    const tag = load<u32>(slot);
    if ((tag & TLB_GLOBAL) != 0) {
      globals = true;
      if ((tag & TLB_LARGE) != 0) large = true;
    } else {
      store<u32>(slot, 0);
    }
  }
  globalsCached = globals;
  largeCached = large;
}

/** Drops every translation, global ones too. */
export function flushTlbAll(): void {
  memory.fill(tlbTags, 0, <usize>TLB_ENTRIES << 3);
  globalsCached = false;
  largeCached = false;
}

/**
 * Drops the translation of the page holding `linear`, global or not
 * (INVLPG). The TLB splits a 2 or 4 MiB page into 4 KiB slots, and INVLPG
 * on any address of a large page drops all of it, so while large pages are
 * cached the slots of the surrounding 4 MiB that came from one are dropped
 * too.
 */
export function flushTlbPage(linear: u32): void {
  store<u32>(tlbSlot(linear), 0);
  if (!largeCached) return;
  const region = linear & 0xffc00000;
  for (let page: u32 = 0; page < 0x400; page++) {
    const slot = tlbSlot(region | (page << 12));
    const tag = load<u32>(slot);
    if ((tag & TLB_LARGE) != 0 && (tag & 0xffc00000) == region) store<u32>(slot, 0);
  }
}

/**
 * Loads the four PDPTE registers from the 32-byte table at `cr3Value`
 * (SDM Vol. 3A 4.4.1). Returns false, loading nothing, when a present
 * PDPTE has a reserved bit set: the MOV that asked must raise #GP(0).
 */
export function loadPdptes(cr3Value: u32): bool {
  // The 32-on-64 flavour of PV has no PDPTE registers: the walk reads the L3 (core/pv.ts).
  if (pvMode()) return true;
  const table = cr3Value & 0xffffffe0;
  for (let i: u32 = 0; i < 4; i++) {
    const lo = readEntry(table + (i << 3));
    const hi = readEntry(table + (i << 3) + 4);
    if ((lo & PTE_P) != 0 && ((lo & PDPTE_RESERVED) != 0 || hi != 0)) return false;
  }
  for (let i: u32 = 0; i < 4; i++) store<u32>(pdptes + (i << 2), readEntry(table + (i << 3)));
  return true;
}

/**
 * MOV to CR0 with the value CR0 is to hold (the caller has made its own
 * checks). Returns false and changes nothing when the PDPTEs the write
 * must load are invalid: the caller raises #GP(0). Entering PAE paging, or
 * changing CR0.PG/CD/NW while in it, loads the PDPTEs (SDM Vol. 3A 4.4.1).
 * Changing PG or WP drops the whole TLB: it caches identity translations
 * while paging is off and rights computed with WP.
 */
export function writeCr0(value: u32): bool {
  const changed = cr0() ^ value;
  if (paePaging(value, cr4()) && (changed & (CR0_PG | CR0_CD | CR0_NW)) != 0 && !loadPdptes(cr3())) return false;
  store<u32>(REG_CR0, value);
  if ((changed & (CR0_PG | CR0_WP)) != 0) flushTlbAll();
  return true;
}

/**
 * MOV to CR3, and a task switch's CR3 load. Under PAE paging it loads the
 * PDPTEs from the new table and returns false, changing nothing, when they
 * are invalid (#GP(0)). Drops every non-global translation.
 */
export function writeCr3(value: u32): bool {
  if (paePaging(cr0(), cr4()) && !loadPdptes(value)) return false;
  writeCr3Raw(value);
  flushTlb();
  return true;
}

/**
 * MOV to CR4 with the value CR4 is to hold. Changing PAE, PSE or PGE drops
 * the whole TLB (SDM Vol. 3A 4.10.4.1) and, when PAE paging results, loads
 * the PDPTEs; false (nothing changed) means #GP(0).
 */
export function writeCr4(value: u32): bool {
  const changed = cr4() ^ value;
  const paging = CR4_PAE | CR4_PSE | CR4_PGE;
  if (paePaging(cr0(), value) && (changed & paging) != 0 && !loadPdptes(cr3())) return false;
  store<u32>(REG_CR4, value);
  if ((changed & paging) != 0) flushTlbAll();
  return true;
}

/**
 * WRMSR to IA32_EFER with the value its low dword is to hold (the caller
 * has checked reserved bits; the high dword is all reserved). A change of
 * NXE drops the whole TLB: it caches fetch rights and which XD bits are
 * reserved.
 */
export function writeEfer(value: u32): void {
  const changed = efer() ^ value;
  store<u32>(MSR_EFER, value);
  store<u32>(MSR_EFER + 4, 0);
  if ((changed & EFER_NXE) != 0) flushTlbAll();
}
