// core/segment.ts — segmentation: checked accesses, descriptors, segment loads.
//
// Every memory operand is a segment and an offset. Before the linear address
// (base + offset) goes to the paging unit, the access is checked against the
// hidden descriptor cache (SDM Vol. 3A 5.3, 5.4): the register must hold a
// usable segment, a write needs a writable data segment, a read through CS a
// readable code segment, and every byte must lie inside the limit — for an
// expand-down segment, above the limit and below 64 KiB or 4 GiB by its B
// flag. A violation is #SS(0) through SS and #GP(0) through any other
// register. At CPL 3 with CR0.AM and EFLAGS.AC set, a misaligned access
// raises #AC(0) (Vol. 3A 6.15, interrupt 17).
//
// Loading a segment register reads the descriptor from the GDT or LDT with
// supervisor accesses, checks it as MOV, POP and LDS do (Vol. 2A "MOV",
// Vol. 3A 5.5-5.8) with the error code naming the selector, sets the
// descriptor's accessed bit and fills the cache. Real mode and virtual-8086
// mode make the base selector * 16 (Vol. 3A 20.1.1); real mode keeps the
// cached limit and size (so "big real mode" works as on hardware), virtual-8086
// mode forces a 64 KiB, 16-bit, DPL 3 data segment.

import {
  EXEC_MODE, EXEC_PV, SEG_CS, SEG_SS, SEG_DS, SEG_ES, SEG_FS, SEG_GS, SEG_LDTR, SEG_ATTR_UNUSABLE, REG_GDTR_BASE,
  REG_GDTR_LIMIT,
} from "./layout";
import {
  ATTR_CODE, ATTR_DB, ATTR_EXPAND_DOWN, ATTR_PRESENT, ATTR_WRITABLE, CR0_AM, CR0_PE, FLAG_AC, FLAG_VM, cpl, cr0,
  controlFlags, eflags, segAttr, segBase, segLimit, segSelector, setSegment,
} from "./state";
import { EXC_AC, EXC_GP, EXC_NP, EXC_SS, faulted, raise } from "./fault";
import { ACCESS_READ, ACCESS_WRITE } from "./mmu";
import {
  directReadAddress, readLinear8, readLinear16, readLinear32, writeLinear8, writeLinear16, writeLinear32,
} from "./access";
import { userAccess } from "./decode";
import { dataBreakpoints, noteDataAccess } from "./debug";
import { physRamAddress, physRead16, physRead32, physWrite8, physWrite16, physWrite32 } from "./memory";

/** True when CR0.AM, EFLAGS.AC and CPL 3 make misaligned data accesses fault. Refreshed by `refreshAlignmentCheck`. */
let alignCheck: bool = false;

/** True while misaligned data accesses fault (#AC): fast paths that skip the alignment test check this first. */
// @ts-ignore: decorator
@inline export function alignmentChecked(): bool {
  return alignCheck;
}

/** Recomputes the #AC condition after CR0, EFLAGS or CPL may have changed. */
export function refreshAlignmentCheck(): void {
  alignCheck = (cr0() & CR0_AM) != 0 && (controlFlags() & FLAG_AC) != 0 && cpl() == 3;
}

// @ts-ignore: decorator
@inline export function protectedMode(): bool {
  return (cr0() & CR0_PE) != 0;
}

// @ts-ignore: decorator
@inline export function v86Mode(): bool {
  return (controlFlags() & FLAG_VM) != 0;
}

/** Protected mode outside virtual-8086 mode: where descriptors and privilege apply. */
// @ts-ignore: decorator
@inline export function pmNotV86(): bool {
  return (cr0() & CR0_PE) != 0 && (controlFlags() & FLAG_VM) == 0;
}

/** #SS(0) for SS, #GP(0) for the others. */
function segFault(seg: i32): void {
  raise(seg == SEG_SS ? EXC_SS : EXC_GP, 0);
}

/**
 * Checks an access of len1 + 1 bytes at `off` through segment register
 * `seg`; raises the fault and returns false when it is not allowed.
 */
// @ts-ignore: decorator
@inline export function segCheck(seg: i32, off: u32, len1: u32, write: bool): bool {
  const attr = segAttr(seg);
  if ((attr & (SEG_ATTR_UNUSABLE | ATTR_EXPAND_DOWN | ATTR_CODE)) == 0 && (!write || (attr & ATTR_WRITABLE) != 0)) {
    const limit = segLimit(seg);
    if (limit == 0xffffffff) return true;
    if (off <= limit && limit - off >= len1) return true;
    segFault(seg);
    return false;
  }
  return segCheckSlow(seg, attr, off, len1, write);
}

function segCheckSlow(seg: i32, attr: u32, off: u32, len1: u32, write: bool): bool {
  if ((attr & SEG_ATTR_UNUSABLE) != 0) {
    segFault(seg);
    return false;
  }
  const limit = segLimit(seg);
  if ((attr & ATTR_CODE) != 0) {
    // Code: never writable; readable only with the R bit (conforming or not).
    if (write || (attr & ATTR_WRITABLE) == 0) {
      segFault(seg);
      return false;
    }
  } else if (write && (attr & ATTR_WRITABLE) == 0) {
    segFault(seg);
    return false;
  } else if ((attr & ATTR_EXPAND_DOWN) != 0) {
    const upper: u32 = (attr & ATTR_DB) != 0 ? 0xffffffff : 0xffff;
    if (off <= limit || off > upper || upper - off < len1) {
      segFault(seg);
      return false;
    }
    return true;
  }
  if (limit == 0xffffffff) return true;
  if (off <= limit && limit - off >= len1) return true;
  segFault(seg);
  return false;
}

// @ts-ignore: decorator
@inline function checkAlignment(linear: u32, len1: u32): bool {
  if (alignCheck && (linear & len1) != 0) {
    raise(EXC_AC, 0);
    return false;
  }
  return true;
}

/** Tells the debug registers about a data access (core/debug.ts), when any data breakpoint is on. */
// @ts-ignore: decorator
@inline function watch(linear: u32, len1: u32, write: bool): void {
  if (dataBreakpoints) noteDataAccess(linear, len1, write);
}

export function readMem8(seg: i32, off: u32): u32 {
  if (!segCheck(seg, off, 0, false)) return 0;
  const linear = segBase(seg) + off;
  watch(linear, 0, false);
  return readLinear8(linear, userAccess());
}

export function readMem16(seg: i32, off: u32): u32 {
  if (!segCheck(seg, off, 1, false)) return 0;
  const linear = segBase(seg) + off;
  if (!checkAlignment(linear, 1)) return 0;
  watch(linear, 1, false);
  return readLinear16(linear, userAccess());
}

export function readMem32(seg: i32, off: u32): u32 {
  if (!segCheck(seg, off, 3, false)) return 0;
  const linear = segBase(seg) + off;
  if (!checkAlignment(linear, 3)) return 0;
  watch(linear, 3, false);
  return readLinear32(linear, userAccess());
}

export function writeMem8(seg: i32, off: u32, v: u32): void {
  if (!segCheck(seg, off, 0, true)) return;
  const linear = segBase(seg) + off;
  watch(linear, 0, true);
  writeLinear8(linear, v, userAccess());
}

export function writeMem16(seg: i32, off: u32, v: u32): void {
  if (!segCheck(seg, off, 1, true)) return;
  const linear = segBase(seg) + off;
  if (!checkAlignment(linear, 1)) return;
  watch(linear, 1, true);
  writeLinear16(linear, v, userAccess());
}

export function writeMem32(seg: i32, off: u32, v: u32): void {
  if (!segCheck(seg, off, 3, true)) return;
  const linear = segBase(seg) + off;
  if (!checkAlignment(linear, 3)) return;
  watch(linear, 3, true);
  writeLinear32(linear, v, userAccess());
}

/** Reads 1, 2 or 4 bytes (size 0, 1, 2 as a power of two). */
// @ts-ignore: decorator
@inline export function readMem(size: u32, seg: i32, off: u32): u32 {
  if (size == 2) return readMem32(seg, off);
  if (size == 1) return readMem16(seg, off);
  return readMem8(seg, off);
}

// @ts-ignore: decorator
@inline export function writeMem(size: u32, seg: i32, off: u32, v: u32): void {
  if (size == 2) writeMem32(seg, off, v);
  else if (size == 1) writeMem16(seg, off, v);
  else writeMem8(seg, off, v);
}

/**
 * A read-modify-write operand: checks the segment for writing and returns
 * the linear address, which readRmw/writeRmw then use. The read is made as
 * a write access, so a read-only page faults before anything is read (the
 * #PF error code says "write", as on hardware for a locked RMW).
 */
export function rmwLinear(size: u32, seg: i32, off: u32): u32 {
  const len1: u32 = (<u32>1 << size) - 1;
  if (!segCheck(seg, off, len1, true)) return 0;
  const linear = segBase(seg) + off;
  checkAlignment(linear, len1);
  watch(linear, len1, true);
  return linear;
}

export function readRmw(size: u32, linear: u32): u32 {
  const access = userAccess() | ACCESS_WRITE;
  if (size == 2) return readLinear32(linear, access);
  if (size == 1) return readLinear16(linear, access);
  return readLinear8(linear, access);
}

export function writeRmw(size: u32, linear: u32, v: u32): void {
  const access = userAccess();
  if (size == 2) writeLinear32(linear, v, access);
  else if (size == 1) writeLinear16(linear, v, access);
  else writeLinear8(linear, v, access);
}

// ---------------------------------------------------------------- descriptors

/** The descriptor most recently read by readDescriptor: low and high dwords. */
export let descLo: u32 = 0;
export let descHi: u32 = 0;
/** Linear address of that descriptor (for setting its accessed or busy bit). */
export let descAddr: u32 = 0;

// Bits of a descriptor's high dword (SDM Vol. 3A 3.4.5, Figure 3-8).
export const DESC_P: u32 = 1 << 15;
export const DESC_S: u32 = 1 << 12;
/** Type bit 3 of a code or data descriptor: code. */
export const DESC_CODE: u32 = 1 << 11;
/** Type bit 2: conforming, for a code segment; expand-down, for a data segment. */
export const DESC_C_E: u32 = 1 << 10;
/** Type bit 1: readable, for a code segment; writable, for a data segment. */
export const DESC_R_W: u32 = 1 << 9;
/** Type bit 0: accessed. */
export const DESC_ACCESSED: u32 = 1 << 8;

// @ts-ignore: decorator
@inline export function descBase(lo: u32, hi: u32): u32 {
  return (lo >> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000);
}

/** The limit in bytes, with the granularity applied. */
// @ts-ignore: decorator
@inline export function descLimit(lo: u32, hi: u32): u32 {
  const raw = (lo & 0xffff) | (hi & 0xf0000);
  return (hi & (1 << 23)) != 0 ? (raw << 12) | 0xfff : raw;
}

/** Descriptor bits 40-47 and 52-55 in the cache's attribute layout. */
// @ts-ignore: decorator
@inline export function descAttr(hi: u32): u32 {
  return (hi >> 8) & 0xf0ff;
}

// @ts-ignore: decorator
@inline export function descDpl(hi: u32): u32 {
  return (hi >> 13) & 3;
}

// @ts-ignore: decorator
@inline export function descPresent(hi: u32): bool {
  return (hi & (1 << 15)) != 0;
}

/** The S bit plus the 4-bit type (0x10 | type for code/data, type alone for system). */
// @ts-ignore: decorator
@inline export function descType(hi: u32): u32 {
  return (hi >> 8) & 0x1f;
}

// The system tables: the GDT, the LDT, the IDT and the TSS. Accesses to
// them are supervisor-mode accesses whatever the CPL (SDM Vol. 3A 4.6).
// Under EXEC_PV ring 0 and these tables belong to the host, which builds
// them in machine memory the guest cannot map (the guest's own GDT and
// trap table reach them only through hypercalls that validate them), so
// their bases are physical addresses and the guest's paging is not used.

// @ts-ignore: decorator
@inline function systemPhysical(): bool {
  return load<u32>(EXEC_MODE) == EXEC_PV;
}

export function readSystem32(linear: u32): u32 {
  if (systemPhysical()) return physRead32(linear);
  return readLinear32(linear, ACCESS_READ);
}

export function readSystem16(linear: u32): u32 {
  if (systemPhysical()) return physRead16(linear);
  return readLinear16(linear, ACCESS_READ);
}

export function writeSystem32(linear: u32, v: u32): void {
  if (systemPhysical()) physWrite32(linear, v);
  else writeLinear32(linear, v, ACCESS_READ);
}

export function writeSystem16(linear: u32, v: u32): void {
  if (systemPhysical()) physWrite16(linear, v);
  else writeLinear16(linear, v, ACCESS_READ);
}

export function writeSystem8(linear: u32, v: u32): void {
  if (systemPhysical()) physWrite8(linear, v);
  else writeLinear8(linear, v, ACCESS_READ);
}

/**
 * Where the 8 bytes of a system table at `linear` are in linear memory when
 * readSystem32 would read them straight from RAM without translating (a
 * TLB hit on one page, or under EXEC_PV plain RAM), or 0. For the fast
 * paths of delivery and IRET (core/interrupt.ts, core/far.ts), which fall
 * back to readSystem32 and its checks on 0.
 */
// @ts-ignore: decorator
@inline export function systemDirect8(linear: u32): usize {
  if (systemPhysical()) return physRamAddress(linear, 8);
  return directReadAddress(linear, 7, ACCESS_READ);
}

/**
 * Where the GDT descriptor of `sel` is in linear memory for a direct read
 * (systemDirect8), or 0: also for a null selector, an LDT selector and one
 * beyond the GDT limit, which the generic readDescriptor handles.
 */
// @ts-ignore: decorator
@inline export function gdtDirect(sel: u32): usize {
  const index = sel & 0xfff8;
  if (index == 0 || (sel & 4) != 0 || index + 7 > load<u32>(REG_GDTR_LIMIT)) return 0;
  return systemDirect8(load<u32>(REG_GDTR_BASE) + index);
}

/**
 * Reads the descriptor `sel` names from the GDT or the LDT into descLo/descHi.
 * An index beyond the table limit (or an LDT reference with no usable LDT)
 * raises `vector` with the selector as error code (plus `ext`). The caller
 * handles null selectors before calling.
 */
export function readDescriptor(sel: u32, vector: i32, ext: u32): bool {
  let base: u32;
  let limit: u32;
  if ((sel & 4) != 0) {
    if ((segAttr(SEG_LDTR) & SEG_ATTR_UNUSABLE) != 0 || (segSelector(SEG_LDTR) & 0xfffc) == 0) {
      raise(vector, (sel & 0xfffc) | ext);
      return false;
    }
    base = segBase(SEG_LDTR);
    limit = segLimit(SEG_LDTR);
  } else {
    base = load<u32>(REG_GDTR_BASE);
    limit = load<u32>(REG_GDTR_LIMIT);
  }
  const index = sel & 0xfff8;
  if (index + 7 > limit) {
    raise(vector, (sel & 0xfffc) | ext);
    return false;
  }
  descAddr = base + index;
  const lo = readSystem32(descAddr);
  if (faulted()) return false;
  const hi = readSystem32(descAddr + 4);
  if (faulted()) return false;
  descLo = lo;
  descHi = hi;
  return true;
}

/**
 * Sets the accessed bit of the descriptor at linear `addr` whose high dword
 * is `hi` (SDM Vol. 3A 3.4.5.1), if it is clear; returns the updated high dword.
 */
export function markAccessed(addr: u32, hi: u32): u32 {
  if ((hi & (1 << 8)) != 0) return hi;
  writeSystem8(addr + 5, ((hi >> 8) & 0xff) | 1);
  return hi | (1 << 8);
}

/** Fills segment register `sreg` from a descriptor with selector `sel`. */
export function loadCache(sreg: i32, sel: u32, lo: u32, hi: u32): void {
  setSegment(sreg, sel, descBase(lo, hi), descLimit(lo, hi), descAttr(hi));
}

/** A null selector in DS, ES, FS or GS: loadable, but unusable for any access. */
export function loadNull(sreg: i32, sel: u32): void {
  setSegment(sreg, sel, 0, 0, SEG_ATTR_UNUSABLE);
}

/** Real-mode and virtual-8086 load: base = selector * 16 (SDM Vol. 3A 20.1.1). */
export function loadRealSegment(sreg: i32, sel: u32): void {
  sel &= 0xffff;
  if (v86Mode()) {
    setSegment(sreg, sel, sel << 4, 0xffff, sreg == SEG_CS ? 0xfb : 0xf3);
    return;
  }
  const type: u32 = sreg == SEG_CS ? 0x1b : 0x13;
  const attr = (segAttr(sreg) & ~(SEG_ATTR_UNUSABLE | 0x1f)) | ATTR_PRESENT | type;
  setSegment(sreg, sel, sel << 4, segLimit(sreg), attr);
}

/**
 * MOV, POP, LDS/LES/LFS/LGS/LSS into a data or stack segment register
 * (SDM Vol. 2A "MOV": the protected-mode checks). Returns false with the
 * fault raised; nothing is loaded then.
 */
export function loadDataSegment(sreg: i32, sel: u32): bool {
  sel &= 0xffff;
  if (!pmNotV86()) {
    loadRealSegment(sreg, sel);
    return true;
  }
  const level = cpl();
  if ((sel & 0xfffc) == 0) {
    if (sreg == SEG_SS) {
      raise(EXC_GP, 0);
      return false;
    }
    loadNull(sreg, sel);
    return true;
  }
  if (!readDescriptor(sel, EXC_GP, 0)) return false;
  const hi = descHi;
  const type = descType(hi);
  const dpl = descDpl(hi);
  const rpl = sel & 3;
  if (sreg == SEG_SS) {
    // A writable data segment with RPL = DPL = CPL.
    if (rpl != level || (type & 0x1a) != 0x12 || dpl != level) {
      raise(EXC_GP, sel & 0xfffc);
      return false;
    }
    if (!descPresent(hi)) {
      raise(EXC_SS, sel & 0xfffc);
      return false;
    }
  } else {
    // Data, or readable code; privilege applies unless the code is conforming.
    if ((type & 0x10) == 0 || (type & 0x1a) == 0x18) {
      raise(EXC_GP, sel & 0xfffc);
      return false;
    }
    const conformingCode = (type & 0x1c) == 0x1c;
    if (!conformingCode && (rpl > dpl || level > dpl)) {
      raise(EXC_GP, sel & 0xfffc);
      return false;
    }
    if (!descPresent(hi)) {
      raise(EXC_NP, sel & 0xfffc);
      return false;
    }
  }
  const accessed = markAccessed(descAddr, hi);
  if (faulted()) return false;
  loadCache(sreg, sel, descLo, accessed);
  return true;
}

/**
 * After a return to an outer privilege level (RET far, IRET): a data
 * segment register whose segment the new CPL may not use is made null
 * (SDM Vol. 2A "RET", "IRET": the loop over ES, FS, GS and DS).
 */
export function dropInaccessibleSegments(newCpl: u32): void {
  dropIfInaccessible(SEG_ES, newCpl);
  dropIfInaccessible(SEG_DS, newCpl);
  dropIfInaccessible(SEG_FS, newCpl);
  dropIfInaccessible(SEG_GS, newCpl);
}

// @ts-ignore: decorator
@inline function dropIfInaccessible(sreg: i32, newCpl: u32): void {
  const attr = segAttr(sreg);
  if ((attr & SEG_ATTR_UNUSABLE) != 0) return;
  const dataOrNonconforming = (attr & ATTR_CODE) == 0 || (attr & ATTR_EXPAND_DOWN) == 0;
  if (dataOrNonconforming && ((attr >> 5) & 3) < newCpl) loadNull(sreg, 0);
}

/** True when the descriptor is a present-or-not code segment (S = 1, type bit 3). */
// @ts-ignore: decorator
@inline export function isCodeDescriptor(hi: u32): bool {
  return (descType(hi) & 0x18) == 0x18;
}

/** True for a writable data segment descriptor. */
// @ts-ignore: decorator
@inline export function isWritableData(hi: u32): bool {
  return (descType(hi) & 0x1a) == 0x12;
}

