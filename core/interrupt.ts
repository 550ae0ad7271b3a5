// core/interrupt.ts — delivering interrupts and exceptions.
//
// Real mode takes the handler's CS:IP from the interrupt vector table at
// IDTR.base + vector * 4 and pushes FLAGS, CS, IP (SDM Vol. 3A 20.1.4).
// Protected mode reads an 8-byte gate from the IDT (Vol. 3A 6.10-6.12):
// an interrupt or trap gate names a code segment whose DPL may be lower than
// CPL, in which case the processor switches to the stack the TSS holds for
// that level and pushes the old SS:ESP first; from virtual-8086 mode it also
// pushes GS, FS, DS, ES and clears them; a task gate switches tasks. The
// checks and their error codes are the pseudocode of Vol. 2A "INT n/INTO/
// INT3/INT1" line by line: an error code names the IDT entry (vector * 8 +
// 2) or a selector, plus EXT (bit 0) when the event came from outside the
// program (an external interrupt or a processor exception).
//
// Nothing changes until every check passed and every push can be made: the
// new stack is checked against its limit and its pages are probed first, so
// a fault during delivery leaves the state exactly as before it, ready for
// the fault to be delivered in turn (or to become #DF, core/run.ts).
//
// The common case (a system call, a page fault, a timer interrupt: a 32-bit
// gate, descriptors already accessed, tables and frame on pages the TLB
// holds) first tries deliverFast, one pass with one TLB lookup per table
// entry and one for the frame; it changes nothing unless all of it holds,
// and the generic code below stays the reference for everything else.

import {
  REG_IDTR_BASE, REG_IDTR_LIMIT, SEG_CS, SEG_SS, SEG_DS, SEG_ES, SEG_FS, SEG_GS, SEG_TR,
  SEG_ATTR_UNUSABLE,
} from "./layout";
import {
  ATTR_DB, ATTR_EXPAND_DOWN, FLAG_AC, FLAG_IF, FLAG_NT, FLAG_RF, FLAG_TF, FLAG_VM, cpl, eflags, eip,
  reg32, segAttr, segBase, segLimit, segSelector, setCpl, setEflags, setEip, setReg16, setReg32,
} from "./state";
import { EXC_GP, EXC_NP, EXC_SS, EXC_TS, faulted, raise } from "./fault";
import { ACCESS_USER } from "./mmu";
import { directWriteAddress, readLinear16, writeLinear16, writeLinear32 } from "./access";
import {
  DESC_ACCESSED, DESC_C_E, DESC_CODE, DESC_P, DESC_R_W, DESC_S, descAddr, descAttr, descBase, descDpl, descHi,
  descLimit, descLo, descPresent, descType, gdtDirect, loadCache, loadNull, loadRealSegment, markAccessed, protectedMode, readDescriptor, readSystem16, readSystem32,
  refreshAlignmentCheck, systemDirect8,
} from "./segment";
import { probePushPages, stack32, stackTop } from "./stack";
import { TASK_INT, switchTask } from "./task";

/** Kinds of event, as the SDM distinguishes them for checks and error codes. */
export const EVENT_EXTERNAL: i32 = 0; // INTR from the host
export const EVENT_EXCEPTION: i32 = 1; // detected by the processor
export const EVENT_SOFTWARE: i32 = 2; // INT n
export const EVENT_SOFT_EXCEPTION: i32 = 3; // INT3, INTO
export const EVENT_ICEBP: i32 = 4; // INT1 (F1)

/** Exceptions that are faults: the saved EIP is the faulting instruction and the pushed EFLAGS has RF set (SDM Vol. 3A 6.5, 18.3.1.1). */
export function isFaultVector(vector: u32): bool {
  return vector == 0 || (vector >= 5 && vector <= 7) || (vector >= 10 && vector <= 14) || vector == 16 ||
    vector == 17 || vector == 19;
}

/** True when every byte of [off, off + len1] is inside a segment of these attributes and limit. */
export function offsetsValid(attr: u32, limit: u32, off: u32, len1: u32): bool {
  if ((attr & SEG_ATTR_UNUSABLE) != 0) return false;
  if ((attr & 0x18) == 0x10 && (attr & ATTR_EXPAND_DOWN) != 0) {
    const upper: u32 = (attr & ATTR_DB) != 0 ? 0xffffffff : 0xffff;
    return off > limit && off <= upper && upper - off >= len1;
  }
  return off <= limit && limit - off >= len1;
}

/** True when `bytes` bytes can be pushed below `top` on a stack of these attributes and limit. */
export function stackRoom(attr: u32, limit: u32, top: u32, bytes: u32): bool {
  const big = (attr & ATTR_DB) != 0;
  const low = big ? top - bytes : (top - bytes) & 0xffff;
  if (!big && low + bytes > 0x10000) {
    const first = 0x10000 - low;
    return offsetsValid(attr, limit, low, first - 1) && offsetsValid(attr, limit, 0, bytes - first - 1);
  }
  return offsetsValid(attr, limit, low, bytes - 1);
}

/**
 * Writes `count` values from `frame` (highest address first) below `top` on
 * a stack with base `base`; `size` 4 or 2 bytes each. The caller probed it.
 */
function writeFrame(base: u32, top: u32, big: bool, size: u32, count: i32, level: u32): u32 {
  const access = level == 3 ? ACCESS_USER : 0;
  let at = top;
  for (let i = 0; i < count; i++) {
    at = big ? at - size : (at - size) & 0xffff;
    const v = load<u32>(frameAt(i));
    if (size == 4) writeLinear32(base + at, v, access);
    else writeLinear16(base + at, v, access);
  }
  return at;
}

// Scratch space for a frame of up to 10 values, in the module's
// static data so building it allocates nothing.
const frameBuffer = memory.data(40);

// @ts-ignore: decorator
@inline function frameAt(i: i32): usize {
  return frameBuffer + (<usize>i << 2);
}

/** Probes and writes a frame of `count` values on the stack SS:top; returns the new top. */
function pushFrame(ssBase: u32, ssAttr: u32, top: u32, size: u32, count: i32, level: u32): u32 {
  const big = (ssAttr & ATTR_DB) != 0;
  if (!probePushPages(ssBase, top, big, size, <u32>count, level == 3 ? ACCESS_USER : 0)) return 0;
  return writeFrame(ssBase, top, big, size, count, level);
}

/**
 * Delivers `vector` as an event of `kind`. `returnEip` is the EIP saved for
 * the handler (the faulting instruction for a fault, the next one for a
 * trap or an interrupt). On failure a fault is raised and nothing changed.
 */
export function deliverEvent(vector: u32, kind: i32, errorCode: u32, hasCode: bool, returnEip: u32): void {
  if (!protectedMode()) {
    deliverReal(vector, returnEip);
    return;
  }
  deliverProtected(vector, kind, errorCode, hasCode, returnEip);
}

/** Real-address mode: through the IVT (SDM Vol. 3A 20.1.4). */
function deliverReal(vector: u32, returnEip: u32): void {
  const entry = vector << 2;
  if (entry + 3 > load<u32>(REG_IDTR_LIMIT)) {
    raise(EXC_GP, 0);
    return;
  }
  const ivt = load<u32>(REG_IDTR_BASE) + entry;
  const offset = readLinear16(ivt, 0);
  if (faulted()) return;
  const selector = readLinear16(ivt + 2, 0);
  if (faulted()) return;
  const top = stackTop();
  if (!stackRoom(segAttr(SEG_SS), segLimit(SEG_SS), top, 6)) {
    raise(EXC_SS, 0);
    return;
  }
  const flags = eflags();
  store<u32>(frameAt(0), flags & 0xffff);
  store<u32>(frameAt(1), segSelector(SEG_CS));
  store<u32>(frameAt(2), returnEip & 0xffff);
  const newTop = pushFrame(segBase(SEG_SS), segAttr(SEG_SS), top, 2, 3, 0);
  if (faulted()) return;
  if (stack32()) setReg32(4, newTop);
  else setReg16(4, newTop);
  setEflags(flags & ~(FLAG_IF | FLAG_TF | FLAG_AC | FLAG_RF));
  loadRealSegment(SEG_CS, selector);
  setEip(offset);
  refreshAlignmentCheck();
}

/** The inner-level stack for `level` from the current TSS (SDM Vol. 3A 7.2.1, 6.12.1). */
let tssSs: u32 = 0;
let tssEsp: u32 = 0;

function readTssStack(level: u32, ext: u32): bool {
  const base = segBase(SEG_TR);
  const limit = segLimit(SEG_TR);
  const trSel = segSelector(SEG_TR) & 0xfffc;
  if ((segAttr(SEG_TR) & 8) != 0) {
    const at = (level << 3) + 4;
    if (at + 5 > limit) {
      raise(EXC_TS, trSel | ext);
      return false;
    }
    tssEsp = readSystem32(base + at);
    if (faulted()) return false;
    tssSs = readSystem16(base + at + 4);
  } else {
    const at = (level << 2) + 2;
    if (at + 3 > limit) {
      raise(EXC_TS, trSel | ext);
      return false;
    }
    tssEsp = readSystem16(base + at);
    if (faulted()) return false;
    tssSs = readSystem16(base + at + 2);
  }
  return !faulted();
}

/**
 * Checks the stack segment `ss` the TSS gave for privilege `level`
 * (#TS for a bad selector or descriptor, #SS when not present); leaves its
 * descriptor in descLo/descHi.
 */
export function checkInnerStack(ss: u32, level: u32, ext: u32): bool {
  if ((ss & 0xfffc) == 0) {
    raise(EXC_TS, ext);
    return false;
  }
  if (!readDescriptor(ss, EXC_TS, ext)) return false;
  if ((ss & 3) != level || descDpl(descHi) != level || (descType(descHi) & 0x1a) != 0x12) {
    raise(EXC_TS, (ss & 0xfffc) | ext);
    return false;
  }
  if (!descPresent(descHi)) {
    raise(EXC_SS, (ss & 0xfffc) | ext);
    return false;
  }
  return true;
}

function deliverProtected(vector: u32, kind: i32, errorCode: u32, hasCode: bool, returnEip: u32): void {
  if (deliverFast(vector, kind, errorCode, hasCode, returnEip)) return;
  const ext: u32 = kind == EVENT_SOFTWARE || kind == EVENT_SOFT_EXCEPTION ? 0 : 1;
  const idtCode = (vector << 3) | 2 | ext;
  if ((vector << 3) + 7 > load<u32>(REG_IDTR_LIMIT)) {
    raise(EXC_GP, idtCode);
    return;
  }
  const gateAddr = load<u32>(REG_IDTR_BASE) + (vector << 3);
  const gateLo = readSystem32(gateAddr);
  if (faulted()) return;
  const gateHi = readSystem32(gateAddr + 4);
  if (faulted()) return;
  const gateType = (gateHi >> 8) & 0x1f;
  if (gateType != 0x05 && gateType != 0x06 && gateType != 0x07 && gateType != 0x0e && gateType != 0x0f) {
    raise(EXC_GP, idtCode);
    return;
  }
  const level = cpl();
  if ((kind == EVENT_SOFTWARE || kind == EVENT_SOFT_EXCEPTION) && ((gateHi >> 13) & 3) < level) {
    raise(EXC_GP, (vector << 3) | 2);
    return;
  }
  if ((gateHi & (1 << 15)) == 0) {
    raise(EXC_NP, idtCode);
    return;
  }
  if (gateType == 0x05) {
    deliverThroughTaskGate(gateLo >> 16, ext, errorCode, hasCode, returnEip);
    return;
  }

  const gate32 = (gateType & 8) != 0;
  const trapGate = (gateType & 1) != 0;
  const csSel = gateLo >> 16;
  const offset = gate32 ? (gateLo & 0xffff) | (gateHi & 0xffff0000) : gateLo & 0xffff;
  if ((csSel & 0xfffc) == 0) {
    raise(EXC_GP, ext);
    return;
  }
  if (!readDescriptor(csSel, EXC_GP, ext)) return;
  const csLo = descLo;
  const csHi = descHi;
  const csAddr = descAddr;
  const csType = descType(csHi);
  const dpl = descDpl(csHi);
  if ((csType & 0x18) != 0x18 || dpl > level) {
    raise(EXC_GP, (csSel & 0xfffc) | ext);
    return;
  }
  if (!descPresent(csHi)) {
    raise(EXC_NP, (csSel & 0xfffc) | ext);
    return;
  }
  const conforming = (csType & 4) != 0;
  const flags = eflags();
  const fromV86 = (flags & FLAG_VM) != 0;
  const size: u32 = gate32 ? 4 : 2;
  let pushedFlags = flags;
  if (kind == EVENT_EXCEPTION && isFaultVector(vector)) pushedFlags |= FLAG_RF;

  if (!conforming && dpl < level) {
    if (fromV86 && dpl != 0) {
      raise(EXC_GP, (csSel & 0xfffc) | ext);
      return;
    }
    // Inter-privilege: the stack for the new level comes from the TSS.
    if (!readTssStack(dpl, ext)) return;
    const newSs = tssSs;
    const newEsp = tssEsp;
    if (!checkInnerStack(newSs, dpl, ext)) return;
    const ssLo = descLo;
    const ssHi = descHi;
    const ssAddr = descAddr;
    const ssAttr = descAttr(ssHi);
    const ssLimit = descLimit(ssLo, ssHi);
    const ssBase = descBase(ssLo, ssHi);
    const count: i32 = (fromV86 ? 9 : 5) + (hasCode ? 1 : 0);
    if (!stackRoom(ssAttr, ssLimit, newEsp, size * <u32>count)) {
      raise(EXC_SS, (newSs & 0xfffc) | ext);
      return;
    }
    if (offset > descLimit(csLo, csHi)) {
      raise(EXC_GP, ext);
      return;
    }
    let i = 0;
    if (fromV86) {
      store<u32>(frameAt(i++), segSelector(SEG_GS));
      store<u32>(frameAt(i++), segSelector(SEG_FS));
      store<u32>(frameAt(i++), segSelector(SEG_DS));
      store<u32>(frameAt(i++), segSelector(SEG_ES));
    }
    store<u32>(frameAt(i++), segSelector(SEG_SS));
    store<u32>(frameAt(i++), reg32(4));
    store<u32>(frameAt(i++), pushedFlags);
    store<u32>(frameAt(i++), segSelector(SEG_CS));
    store<u32>(frameAt(i++), returnEip);
    if (hasCode) store<u32>(frameAt(i++), errorCode);
    const top = pushFrame(ssBase, ssAttr, newEsp, size, count, dpl);
    if (faulted()) return;
    // Commit: the new stack, then the handler's code segment.
    loadCache(SEG_SS, newSs, ssLo, markAccessed(ssAddr, ssHi));
    if ((ssAttr & ATTR_DB) != 0) setReg32(4, top);
    else setReg16(4, top);
    if (fromV86) {
      loadNull(SEG_ES, 0);
      loadNull(SEG_DS, 0);
      loadNull(SEG_FS, 0);
      loadNull(SEG_GS, 0);
    }
    enterHandler(csSel, csLo, csHi, csAddr, dpl, offset, flags, trapGate);
    return;
  }

  if (fromV86) {
    raise(EXC_GP, (csSel & 0xfffc) | ext);
    return;
  }
  // Same privilege (a conforming handler runs at the current CPL).
  const count: i32 = 3 + (hasCode ? 1 : 0);
  const top = stackTop();
  if (!stackRoom(segAttr(SEG_SS), segLimit(SEG_SS), top, size * <u32>count)) {
    raise(EXC_SS, ext);
    return;
  }
  if (offset > descLimit(csLo, csHi)) {
    raise(EXC_GP, ext);
    return;
  }
  store<u32>(frameAt(0), pushedFlags);
  store<u32>(frameAt(1), segSelector(SEG_CS));
  store<u32>(frameAt(2), returnEip);
  if (hasCode) store<u32>(frameAt(3), errorCode);
  const newTop = pushFrame(segBase(SEG_SS), segAttr(SEG_SS), top, size, count, level);
  if (faulted()) return;
  if (stack32()) setReg32(4, newTop);
  else setReg16(4, newTop);
  enterHandler(csSel, csLo, csHi, csAddr, level, offset, flags, trapGate);
}

/**
 * The common case of deliverProtected in one pass: a present 32-bit
 * interrupt or trap gate in the IDT, naming a present, already accessed
 * code segment in the GDT, entered at the same level or, for a
 * non-conforming handler of lower DPL, on the 32-bit TSS's stack for that
 * level, an expand-up 32-bit stack segment in the GDT, already accessed.
 * Every table entry is read with one TLB lookup (core/segment.ts
 * systemDirect8) and the frame is written with one, when it lies on one
 * page whose writes the TLB sends straight to RAM. Returns false, having
 * changed nothing, when any of that does not hold or a check of the SDM's
 * pseudocode (Vol. 2A "INT n/INTO/INT3/INT1") would fail; deliverProtected
 * then does it all from the start and raises what is due, so every fault
 * and error code stays the generic path's.
 */
function deliverFast(vector: u32, kind: i32, errorCode: u32, hasCode: bool, returnEip: u32): bool {
  if ((vector << 3) + 7 > load<u32>(REG_IDTR_LIMIT)) return false;
  const gate = systemDirect8(load<u32>(REG_IDTR_BASE) + (vector << 3));
  if (gate == 0) return false;
  const gateLo = load<u32>(gate);
  const gateHi = load<u32>(gate, 4);
  // Present, type 0Eh or 0Fh (a 32-bit interrupt or trap gate).
  if ((gateHi & (DESC_P | 0x1e00)) != (DESC_P | 0x0e00)) return false;
  const level = cpl();
  if ((kind == EVENT_SOFTWARE || kind == EVENT_SOFT_EXCEPTION) && ((gateHi >> 13) & 3) < level) return false;
  const csSel = gateLo >> 16;
  const cs = gdtDirect(csSel);
  if (cs == 0) return false;
  const csLo = load<u32>(cs);
  const csHi = load<u32>(cs, 4);
  const codeBits = DESC_P | DESC_S | DESC_CODE | DESC_ACCESSED;
  const dpl = descDpl(csHi);
  if ((csHi & codeBits) != codeBits || dpl > level) return false;
  const offset = (gateLo & 0xffff) | (gateHi & 0xffff0000);
  if (offset > descLimit(csLo, csHi)) return false;
  const flags = eflags();
  if ((flags & FLAG_VM) != 0) return false;
  let pushedFlags = flags;
  if (kind == EVENT_EXCEPTION && isFaultVector(vector)) pushedFlags |= FLAG_RF;
  const trapGate = (gateHi & 0x100) != 0; // type bit 0
  const dataBits = DESC_P | DESC_S | DESC_CODE | DESC_C_E | DESC_R_W | DESC_ACCESSED;
  const stackBits = DESC_P | DESC_S | DESC_R_W | DESC_ACCESSED;

  if ((csHi & DESC_C_E) == 0 && dpl < level) {
    // Inter-privilege (SDM Vol. 3A 6.12.1): SS:ESP for `dpl` from the 32-bit TSS.
    if ((segAttr(SEG_TR) & 8) == 0) return false;
    const at = (dpl << 3) + 4;
    if (at + 5 > segLimit(SEG_TR)) return false;
    const tss = systemDirect8(segBase(SEG_TR) + at);
    if (tss == 0) return false;
    const newEsp = load<u32>(tss);
    const newSs = <u32>load<u16>(tss, 4);
    if ((newSs & 3) != dpl) return false;
    const ss = gdtDirect(newSs);
    if (ss == 0) return false;
    const ssLo = load<u32>(ss);
    const ssHi = load<u32>(ss, 4);
    if ((ssHi & dataBits) != stackBits || descDpl(ssHi) != dpl || (ssHi & (ATTR_DB << 8)) == 0) return false;
    const bytes: u32 = hasCode ? 24 : 20;
    const ssLimit = descLimit(ssLo, ssHi);
    const low = newEsp - bytes;
    if (newEsp < bytes || low > ssLimit || ssLimit - low < bytes - 1) return false;
    // DPL < CPL <= 3: the pushes are supervisor accesses.
    const frame = directWriteAddress(descBase(ssLo, ssHi) + low, bytes - 1, 0);
    if (frame == 0) return false;
    let p = frame;
    if (hasCode) {
      store<u32>(p, errorCode);
      p += 4;
    }
    store<u32>(p, returnEip);
    store<u32>(p, segSelector(SEG_CS), 4);
    store<u32>(p, pushedFlags, 8);
    store<u32>(p, reg32(4), 12);
    store<u32>(p, segSelector(SEG_SS), 16);
    loadCache(SEG_SS, newSs, ssLo, ssHi);
    setReg32(4, low);
    enterAccessedHandler(csSel, csLo, csHi, dpl, offset, flags, trapGate);
    return true;
  }

  // Same privilege: on the current stack, when it is an expand-up 32-bit one.
  const ssAttr = segAttr(SEG_SS);
  if ((ssAttr & (SEG_ATTR_UNUSABLE | ATTR_EXPAND_DOWN | ATTR_DB)) != ATTR_DB) return false;
  const bytes: u32 = hasCode ? 16 : 12;
  const top = reg32(4);
  const ssLimit = segLimit(SEG_SS);
  const low = top - bytes;
  if (top < bytes || low > ssLimit || ssLimit - low < bytes - 1) return false;
  const frame = directWriteAddress(segBase(SEG_SS) + low, bytes - 1, level == 3 ? ACCESS_USER : 0);
  if (frame == 0) return false;
  let p = frame;
  if (hasCode) {
    store<u32>(p, errorCode);
    p += 4;
  }
  store<u32>(p, returnEip);
  store<u32>(p, segSelector(SEG_CS), 4);
  store<u32>(p, pushedFlags, 8);
  setReg32(4, low);
  enterAccessedHandler(csSel, csLo, csHi, level, offset, flags, trapGate);
  return true;
}

/** enterHandler for a code descriptor whose accessed bit is already set (the fast path's). */
// @ts-ignore: decorator
@inline function enterAccessedHandler(
  csSel: u32, csLo: u32, csHi: u32, level: u32, offset: u32, flags: u32, trapGate: bool,
): void {
  loadCache(SEG_CS, (csSel & 0xfffc) | level, csLo, csHi);
  setCpl(level);
  setEip(offset);
  let f = flags & ~(FLAG_TF | FLAG_VM | FLAG_RF | FLAG_NT);
  if (!trapGate) f &= ~FLAG_IF;
  setEflags(f);
  refreshAlignmentCheck();
}

/** Loads the handler's CS:EIP at `level` and clears the flags an interrupt clears. */
function enterHandler(csSel: u32, csLo: u32, csHi: u32, csAddr: u32, level: u32, offset: u32, flags: u32, trapGate: bool): void {
  loadCache(SEG_CS, (csSel & 0xfffc) | level, csLo, markAccessed(csAddr, csHi));
  setCpl(level);
  setEip(offset);
  let f = flags & ~(FLAG_TF | FLAG_VM | FLAG_RF | FLAG_NT);
  if (!trapGate) f &= ~FLAG_IF;
  setEflags(f);
  refreshAlignmentCheck();
}

/** An IDT task gate: switch to the task it names, then push the error code there (SDM Vol. 2A "INT n", TASK-GATE). */
function deliverThroughTaskGate(tssSel: u32, ext: u32, errorCode: u32, hasCode: bool, returnEip: u32): void {
  if ((tssSel & 4) != 0) {
    raise(EXC_GP, (tssSel & 0xfffc) | ext);
    return;
  }
  if (!readDescriptor(tssSel, EXC_GP, ext)) return;
  const type = descType(descHi);
  if (type != 0x01 && type != 0x09) {
    raise(EXC_GP, (tssSel & 0xfffc) | ext);
    return;
  }
  if (!descPresent(descHi)) {
    raise(EXC_NP, (tssSel & 0xfffc) | ext);
    return;
  }
  if (!switchTask(tssSel, descLo, descHi, TASK_INT, returnEip, ext)) return;
  if (hasCode) {
    const size: u32 = (segAttr(SEG_TR) & 8) != 0 ? 4 : 2;
    const top = stackTop();
    if (!stackRoom(segAttr(SEG_SS), segLimit(SEG_SS), top, size)) {
      raise(EXC_SS, ext);
      return;
    }
    store<u32>(frameAt(0), errorCode);
    const newTop = pushFrame(segBase(SEG_SS), segAttr(SEG_SS), top, size, 1, cpl());
    if (faulted()) return;
    if (stack32()) setReg32(4, newTop);
    else setReg16(4, newTop);
  }
  if (eip() > segLimit(SEG_CS)) raise(EXC_GP, ext);
}

