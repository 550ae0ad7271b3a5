// core/far.ts — far JMP, far CALL, far RET and IRET.
//
// In real and virtual-8086 mode a far transfer just loads CS = selector,
// base = selector * 16. In protected mode the selector names a code segment,
// a call gate, a task gate or a TSS, and the checks of SDM Vol. 2A "JMP",
// "CALL", "RET" and "IRET" decide what happens, with the error codes the
// pseudocode gives. A CALL through a call gate to a more privileged
// non-conforming segment switches to the stack the TSS holds for that level
// and copies the gate's parameter count of words or dwords from the old
// stack (Vol. 3A 5.8.5); the matching RET or IRET to an outer level pops the
// old SS:ESP and makes null every data segment register the outer level may
// not use (Vol. 3A 5.8.6). IRET with NT set returns to the task in the back
// link; IRET at CPL 0 with VM set in the popped EFLAGS enters virtual-8086
// mode (Vol. 3A 20.2.5).
//
// As everywhere in the core, the checks come first: the values are read
// from the stack, the new stack is checked and probed, and only then are
// CS, EIP, SS, ESP, CPL and EFLAGS changed together. The common IRETD (the
// end of a system call or an interrupt handler) first tries a one-pass
// path, interruptReturnFast, which changes nothing unless every check of
// the generic code would pass.

import { SEG_ATTR_UNUSABLE, SEG_CS, SEG_SS, SEG_DS, SEG_ES, SEG_FS, SEG_GS, SEG_TR } from "./layout";
import {
  ATTR_CODE, ATTR_DB, ATTR_EXPAND_DOWN, FLAG_AC, FLAG_ID, FLAG_IF, FLAG_IOPL, FLAG_NT, FLAG_RF, FLAG_VIF, FLAG_VIP,
  FLAG_VM, controlFlags, cpl, eip, reg32, segAttr, segBase, segLimit, segSelector, setCpl, setEflags, setEip, setReg16,
  setReg32,
} from "./state";
import { EXC_GP, EXC_NP, EXC_SS, EXC_TS, faulted, raise } from "./fault";
import { ACCESS_USER } from "./mmu";
import {
  DESC_ACCESSED, DESC_C_E, DESC_CODE, DESC_P, DESC_R_W, DESC_S, alignmentChecked, descAddr, descAttr, descBase,
  descDpl, descHi, descLimit, descLo, descPresent, descType, dropInaccessibleSegments, gdtDirect, loadCache,
  loadRealSegment, markAccessed, pmNotV86, readDescriptor, readSystem16, readSystem32, refreshAlignmentCheck,
} from "./segment";
import { probePushPages, readStack, stack32, stackOffset, stackTop, setStackTop } from "./stack";
import { checkInnerStack, stackRoom } from "./interrupt";
import { TASK_CALL, TASK_IRET, TASK_JMP, switchTask } from "./task";
import { invalidateFetch, opSize32, userAccess } from "./decode";
import { directReadAddress, writeLinear16, writeLinear32 } from "./access";
import { dataBreakpoints } from "./debug";

/** Loads CS from a checked code descriptor at privilege `level` and jumps to `offset`. */
function enterCode(sel: u32, lo: u32, hi: u32, addr: u32, level: u32, offset: u32): void {
  loadCache(SEG_CS, (sel & 0xfffc) | level, lo, markAccessed(addr, hi));
  setCpl(level);
  setEip(offset);
  refreshAlignmentCheck();
}

/** Real-mode and virtual-8086 far transfer target check and load. */
function realFar(sel: u32, offset: u32): bool {
  if (offset > segLimit(SEG_CS)) {
    raise(EXC_GP, 0);
    return false;
  }
  loadRealSegment(SEG_CS, sel);
  setEip(offset);
  invalidateFetch();
  return true;
}

/** The task gate or TSS checks shared by JMP and CALL, then the switch. */
function farToTask(sel: u32, source: i32, returnEip: u32): bool {
  const level = cpl();
  const rpl = sel & 3;
  const type = descType(descHi);
  let tssSel = sel;
  if (type == 0x05) {
    // Task gate: its DPL guards it, then it names a TSS in the GDT.
    const dpl = descDpl(descHi);
    if (dpl < level || dpl < rpl) {
      raise(EXC_GP, sel & 0xfffc);
      return false;
    }
    if (!descPresent(descHi)) {
      raise(EXC_NP, sel & 0xfffc);
      return false;
    }
    tssSel = descLo >> 16;
    if ((tssSel & 4) != 0) {
      raise(EXC_GP, tssSel & 0xfffc);
      return false;
    }
    if (!readDescriptor(tssSel, EXC_GP, 0)) return false;
    const tssType = descType(descHi);
    if (tssType != 0x01 && tssType != 0x09) {
      raise(EXC_GP, tssSel & 0xfffc);
      return false;
    }
  } else {
    const dpl = descDpl(descHi);
    if (dpl < level || dpl < rpl) {
      raise(EXC_GP, sel & 0xfffc);
      return false;
    }
  }
  return enterTask(tssSel, source, returnEip);
}

/**
 * A far JMP or CALL straight to a code segment (no gate) stays at the
 * current level (SDM Vol. 2A JMP/CALL, "CONFORMING-CODE-SEGMENT" and
 * "NONCONFORMING-CODE-SEGMENT"): conforming code needs DPL <= CPL,
 * non-conforming code RPL <= CPL and DPL = CPL; and it must be present.
 * The descriptor was read into descLo/descHi by the caller.
 */
function checkDirectCode(sel: u32, type: u32, level: u32): bool {
  const dpl = descDpl(descHi);
  if ((type & 4) != 0 ? dpl > level : ((sel & 3) > level || dpl != level)) {
    raise(EXC_GP, sel & 0xfffc);
    return false;
  }
  if (!descPresent(descHi)) {
    raise(EXC_NP, sel & 0xfffc);
    return false;
  }
  return true;
}

/** JMP ptr16:16/32 and JMP m16:16/32 (SDM Vol. 2A "JMP"). */
export function farJump(sel: u32, offset: u32, returnEip: u32): bool {
  sel &= 0xffff;
  if (!opSize32) offset &= 0xffff;
  if (!pmNotV86()) return realFar(sel, offset);
  if ((sel & 0xfffc) == 0) {
    raise(EXC_GP, 0);
    return false;
  }
  if (!readDescriptor(sel, EXC_GP, 0)) return false;
  const level = cpl();
  const type = descType(descHi);
  if ((type & 0x18) == 0x18) {
    if (!checkDirectCode(sel, type, level)) return false;
    if (offset > descLimit(descLo, descHi)) {
      raise(EXC_GP, 0);
      return false;
    }
    enterCode(sel, descLo, descHi, descAddr, level, offset);
    return true;
  }
  switch (type) {
    case 0x04:
    case 0x0c: {
      // Call gate: JMP may only reach the same privilege level.
      const gateDpl = descDpl(descHi);
      if (gateDpl < level || (sel & 3) > gateDpl) {
        raise(EXC_GP, sel & 0xfffc);
        return false;
      }
      if (!descPresent(descHi)) {
        raise(EXC_NP, sel & 0xfffc);
        return false;
      }
      const gateLo = descLo;
      const gateHi = descHi;
      const cs = gateLo >> 16;
      const target = type == 0x0c ? (gateLo & 0xffff) | (gateHi & 0xffff0000) : gateLo & 0xffff;
      if ((cs & 0xfffc) == 0) {
        raise(EXC_GP, 0);
        return false;
      }
      if (!readDescriptor(cs, EXC_GP, 0)) return false;
      const csType = descType(descHi);
      const dpl = descDpl(descHi);
      if ((csType & 0x18) != 0x18 || ((csType & 4) != 0 ? dpl > level : dpl != level)) {
        raise(EXC_GP, cs & 0xfffc);
        return false;
      }
      if (!descPresent(descHi)) {
        raise(EXC_NP, cs & 0xfffc);
        return false;
      }
      if (target > descLimit(descLo, descHi)) {
        raise(EXC_GP, 0);
        return false;
      }
      enterCode(cs, descLo, descHi, descAddr, level, target);
      return true;
    }
    case 0x05:
    case 0x01:
    case 0x09:
      return farToTask(sel, TASK_JMP, returnEip);
    default:
      raise(EXC_GP, sel & 0xfffc);
      return false;
  }
}

/** CALL ptr16:16/32 and CALL m16:16/32 (SDM Vol. 2A "CALL"). `returnEip` is the next instruction. */
export function farCall(sel: u32, offset: u32, returnEip: u32): bool {
  sel &= 0xffff;
  if (!opSize32) offset &= 0xffff;
  const size: u32 = opSize32 ? 4 : 2;
  if (!pmNotV86()) {
    if (!pushPair(segSelector(SEG_CS), returnEip, size)) return false;
    if (!realFar(sel, offset)) return false;
    setStackTop(stackOffset(stackTop(), 0 - 2 * size));
    return true;
  }
  if ((sel & 0xfffc) == 0) {
    raise(EXC_GP, 0);
    return false;
  }
  if (!readDescriptor(sel, EXC_GP, 0)) return false;
  const level = cpl();
  const type = descType(descHi);
  if ((type & 0x18) == 0x18) {
    if (!checkDirectCode(sel, type, level)) return false;
    const lo = descLo;
    const hi = descHi;
    const addr = descAddr;
    if (!stackRoom(segAttr(SEG_SS), segLimit(SEG_SS), stackTop(), 2 * size)) {
      raise(EXC_SS, 0);
      return false;
    }
    if (offset > descLimit(lo, hi)) {
      raise(EXC_GP, 0);
      return false;
    }
    if (!pushPair(segSelector(SEG_CS), returnEip, size)) return false;
    setStackTop(stackOffset(stackTop(), 0 - 2 * size));
    enterCode(sel, lo, hi, addr, level, offset);
    return true;
  }
  switch (type) {
    case 0x04:
    case 0x0c:
      return callGate(sel, type == 0x0c, returnEip);
    case 0x05:
    case 0x01:
    case 0x09:
      return farToTask(sel, TASK_CALL, returnEip);
    default:
      raise(EXC_GP, sel & 0xfffc);
      return false;
  }
}

/** Writes CS then EIP below the current stack top (not moving ESP); false on a fault. */
function pushPair(cs: u32, ip: u32, size: u32): bool {
  const top = stackTop();
  const big = stack32();
  const atCs = big ? top - size : (top - size) & 0xffff;
  const atIp = big ? top - 2 * size : (top - 2 * size) & 0xffff;
  if (!stackRoom(segAttr(SEG_SS), segLimit(SEG_SS), top, 2 * size)) {
    raise(EXC_SS, 0);
    return false;
  }
  const base = segBase(SEG_SS);
  const access = userAccess();
  if (!probePushPages(base, top, big, size, 2, access)) return false;
  if (size == 4) {
    writeLinear32(base + atCs, cs, access);
    writeLinear32(base + atIp, ip, access);
  } else {
    writeLinear16(base + atCs, cs, access);
    writeLinear16(base + atIp, ip, access);
  }
  return !faulted();
}

/** CALL through a call gate (SDM Vol. 2A "CALL", CALL-GATE and MORE-PRIVILEGE). */
function callGate(sel: u32, gate32: bool, returnEip: u32): bool {
  const level = cpl();
  const gateDpl = descDpl(descHi);
  if (gateDpl < level || (sel & 3) > gateDpl) {
    raise(EXC_GP, sel & 0xfffc);
    return false;
  }
  if (!descPresent(descHi)) {
    raise(EXC_NP, sel & 0xfffc);
    return false;
  }
  const gateLo = descLo;
  const gateHi = descHi;
  const cs = gateLo >> 16;
  const target = gate32 ? (gateLo & 0xffff) | (gateHi & 0xffff0000) : gateLo & 0xffff;
  const params = gateHi & 0x1f;
  if ((cs & 0xfffc) == 0) {
    raise(EXC_GP, 0);
    return false;
  }
  if (!readDescriptor(cs, EXC_GP, 0)) return false;
  const csLo = descLo;
  const csHi = descHi;
  const csAddr = descAddr;
  const csType = descType(csHi);
  const dpl = descDpl(csHi);
  if ((csType & 0x18) != 0x18 || dpl > level) {
    raise(EXC_GP, cs & 0xfffc);
    return false;
  }
  if (!descPresent(csHi)) {
    raise(EXC_NP, cs & 0xfffc);
    return false;
  }
  const size: u32 = gate32 ? 4 : 2;
  const csLimit = descLimit(csLo, csHi);

  if ((csType & 4) == 0 && dpl < level) {
    // More privilege: the TSS gives the new stack.
    const tr = segBase(SEG_TR);
    const trLimit = segLimit(SEG_TR);
    const trSel = segSelector(SEG_TR) & 0xfffc;
    let newSs: u32;
    let newEsp: u32;
    if ((segAttr(SEG_TR) & 8) != 0) {
      const at = (dpl << 3) + 4;
      if (at + 5 > trLimit) {
        raise(EXC_TS, trSel);
        return false;
      }
      newEsp = readSystem32(tr + at);
      newSs = readSystem16(tr + at + 4);
    } else {
      const at = (dpl << 2) + 2;
      if (at + 3 > trLimit) {
        raise(EXC_TS, trSel);
        return false;
      }
      newEsp = readSystem16(tr + at);
      newSs = readSystem16(tr + at + 2);
    }
    if (faulted()) return false;
    if (!checkInnerStack(newSs, dpl, 0)) return false;
    // checkInnerStack raises #TS(ss) with RPL or DPL mismatches, as CALL does.
    const ssLo = descLo;
    const ssHi = descHi;
    const ssAddr = descAddr;
    const ssAttr = descAttr(ssHi);
    const ssBase = descBase(ssLo, ssHi);
    const frame = (4 + params) * size;
    if (!stackRoom(ssAttr, descLimit(ssLo, ssHi), newEsp, frame)) {
      raise(EXC_SS, newSs & 0xfffc);
      return false;
    }
    if (target > csLimit) {
      raise(EXC_GP, 0);
      return false;
    }
    // Read the parameters from the old stack before anything changes.
    const oldEsp = reg32(4);
    const oldSs = segSelector(SEG_SS);
    for (let i: u32 = 0; i < params; i++) {
      store<u32>(paramBuffer + (<usize>i << 2), readStack(size == 4 ? 2 : 1, i * size));
      if (faulted()) return false;
    }
    const big = (ssAttr & ATTR_DB) != 0;
    const access: i32 = dpl == 3 ? ACCESS_USER : 0;
    if (!probePushPages(ssBase, newEsp, big, size, 4 + params, access)) return false;
    let at = newEsp;
    at = big ? at - size : (at - size) & 0xffff;
    writeSized(ssBase + at, oldSs, size, access);
    at = big ? at - size : (at - size) & 0xffff;
    writeSized(ssBase + at, stack32() ? oldEsp : oldEsp & 0xffff, size, access);
    for (let i = <i32>params - 1; i >= 0; i--) {
      at = big ? at - size : (at - size) & 0xffff;
      writeSized(ssBase + at, load<u32>(paramBuffer + (<usize>i << 2)), size, access);
    }
    at = big ? at - size : (at - size) & 0xffff;
    writeSized(ssBase + at, segSelector(SEG_CS), size, access);
    at = big ? at - size : (at - size) & 0xffff;
    writeSized(ssBase + at, returnEip, size, access);
    if (faulted()) return false;
    loadCache(SEG_SS, newSs, ssLo, markAccessed(ssAddr, ssHi));
    if (big) setReg32(4, at);
    else setReg16(4, at);
    enterCode(cs, csLo, csHi, csAddr, dpl, target);
    return true;
  }

  // Same privilege (or a conforming target).
  if (!stackRoom(segAttr(SEG_SS), segLimit(SEG_SS), stackTop(), 2 * size)) {
    raise(EXC_SS, 0);
    return false;
  }
  if (target > csLimit) {
    raise(EXC_GP, 0);
    return false;
  }
  if (!pushPair(segSelector(SEG_CS), returnEip, size)) return false;
  setStackTop(stackOffset(stackTop(), 0 - 2 * size));
  enterCode(cs, csLo, csHi, csAddr, level, target);
  return true;
}

const paramBuffer = memory.data(128);

function writeSized(linear: u32, v: u32, size: u32, access: i32): void {
  if (size == 4) writeLinear32(linear, v, access);
  else writeLinear16(linear, v, access);
}

/** RET far, with `imm` bytes of parameters to release (SDM Vol. 2A "RET"). */
/**
 * The checks RETF and IRET make on the code segment they return to (SDM
 * Vol. 2A RET and IRET, "RETURN-TO-... PRIVILEGE-LEVEL"): not null, a code
 * segment, RPL not inside the current level, DPL equal to RPL (or, when
 * conforming, not above it), present. Leaves the descriptor in descLo/descHi.
 */
function readReturnCode(sel: u32, level: u32): bool {
  if ((sel & 0xfffc) == 0) {
    raise(EXC_GP, 0);
    return false;
  }
  if (!readDescriptor(sel, EXC_GP, 0)) return false;
  const rpl = sel & 3;
  const type = descType(descHi);
  const dpl = descDpl(descHi);
  if ((type & 0x18) != 0x18 || rpl < level || ((type & 4) != 0 ? dpl > rpl : dpl != rpl)) {
    raise(EXC_GP, sel & 0xfffc);
    return false;
  }
  if (!descPresent(descHi)) {
    raise(EXC_NP, sel & 0xfffc);
    return false;
  }
  return true;
}

export function farReturn(imm: u32): bool {
  const size: u32 = opSize32 ? 4 : 2;
  const sz: u32 = opSize32 ? 2 : 1;
  let offset = readStack(sz, 0);
  if (faulted()) return false;
  const sel = readStack(sz, size) & 0xffff;
  if (faulted()) return false;
  if (!pmNotV86()) {
    if (!realFar(sel, offset)) return false;
    setStackTop(stackOffset(stackTop(), 2 * size + imm));
    return true;
  }
  const level = cpl();
  if (!readReturnCode(sel, level)) return false;
  const rpl = sel & 3;
  const csLo = descLo;
  const csHi = descHi;
  const csAddr = descAddr;
  if (rpl == level) {
    if (offset > descLimit(csLo, csHi)) {
      raise(EXC_GP, 0);
      return false;
    }
    enterCode(sel, csLo, csHi, csAddr, level, offset);
    setStackTop(stackOffset(stackTop(), 2 * size + imm));
    return true;
  }
  // Return to an outer level: SS:ESP of the caller follow the parameters.
  const newEsp = readStack(sz, 2 * size + imm);
  if (faulted()) return false;
  const newSs = readStack(sz, 3 * size + imm) & 0xffff;
  if (faulted()) return false;
  if (!checkOuterStack(newSs, rpl)) return false;
  const ssLo = descLo;
  const ssHi = descHi;
  const ssAddr = descAddr;
  if (offset > descLimit(csLo, csHi)) {
    raise(EXC_GP, 0);
    return false;
  }
  enterCode(sel, csLo, csHi, csAddr, rpl, offset);
  loadCache(SEG_SS, newSs, ssLo, markAccessed(ssAddr, ssHi));
  if ((descAttr(ssHi) & ATTR_DB) != 0) setReg32(4, newEsp + imm);
  else setReg16(4, newEsp + imm);
  dropInaccessibleSegments(rpl);
  return true;
}

/** The outer stack of a RET or IRET to privilege `rpl`: #GP(selector) unless a present-checked writable data segment of that DPL. */
function checkOuterStack(ss: u32, rpl: u32): bool {
  if ((ss & 0xfffc) == 0) {
    raise(EXC_GP, 0);
    return false;
  }
  if (!readDescriptor(ss, EXC_GP, 0)) return false;
  if ((ss & 3) != rpl || (descType(descHi) & 0x1a) != 0x12 || descDpl(descHi) != rpl) {
    raise(EXC_GP, ss & 0xfffc);
    return false;
  }
  if (!descPresent(descHi)) {
    raise(EXC_SS, ss & 0xfffc);
    return false;
  }
  return true;
}

/** IRET / IRETD (SDM Vol. 2A "IRET"). */
export function interruptReturn(returnEip: u32): bool {
  const size: u32 = opSize32 ? 4 : 2;
  const sz: u32 = opSize32 ? 2 : 1;
  // Only control bits of the current EFLAGS matter here (VM, IOPL, NT and
  // what is kept): the status flags all come from the stack, so the lazy
  // ones need not be worked out first.
  const flags = controlFlags();
  if ((flags & FLAG_VM) != 0) {
    // Virtual-8086 mode: allowed only with IOPL 3 (no VME); IOPL is not changed.
    if ((flags & FLAG_IOPL) != FLAG_IOPL) {
      raise(EXC_GP, 0);
      return false;
    }
    const ip = readStack(sz, 0);
    if (faulted()) return false;
    const cs = readStack(sz, size);
    if (faulted()) return false;
    const f = readStack(sz, 2 * size);
    if (faulted()) return false;
    if (!realFar(cs & 0xffff, opSize32 ? ip : ip & 0xffff)) return false;
    setStackTop(stackOffset(stackTop(), 3 * size));
    const keep: u32 = opSize32 ? FLAG_VM | FLAG_IOPL | FLAG_VIP | FLAG_VIF : FLAG_IOPL | 0xffff0000;
    setEflags((f & ~keep & modifiable(opSize32)) | (flags & keep));
    return true;
  }
  if (!pmNotV86()) {
    // Real mode.
    const ip = readStack(sz, 0);
    if (faulted()) return false;
    const cs = readStack(sz, size);
    if (faulted()) return false;
    const f = readStack(sz, 2 * size);
    if (faulted()) return false;
    if (!realFar(cs & 0xffff, opSize32 ? ip : ip & 0xffff)) return false;
    setStackTop(stackOffset(stackTop(), 3 * size));
    if (opSize32) setEflags((f & 0x257fd5) | (flags & 0x1a0000));
    else setEflags((flags & 0xffff0000) | (f & 0x7fd5));
    refreshAlignmentCheck();
    return true;
  }
  if ((flags & FLAG_NT) != 0) return taskReturn(returnEip);
  if (opSize32 && interruptReturnFast()) return true;

  const offset = readStack(sz, 0);
  if (faulted()) return false;
  const sel = readStack(sz, size) & 0xffff;
  if (faulted()) return false;
  const newFlags = readStack(sz, 2 * size);
  if (faulted()) return false;
  const level = cpl();
  if (opSize32 && (newFlags & FLAG_VM) != 0 && level == 0) return returnToV86(offset, sel, newFlags);

  if (!readReturnCode(sel, level)) return false;
  const rpl = sel & 3;
  const csLo = descLo;
  const csHi = descHi;
  const csAddr = descAddr;
  if (rpl == level) {
    if (offset > descLimit(csLo, csHi)) {
      raise(EXC_GP, 0);
      return false;
    }
    enterCode(sel, csLo, csHi, csAddr, level, offset);
    setStackTop(stackOffset(stackTop(), 3 * size));
    writeReturnFlags(newFlags, level);
    // The popped AC counts from the next access (#AC at CPL 3, SDM Vol. 3A 6.15).
    refreshAlignmentCheck();
    return true;
  }
  const newEsp = readStack(sz, 3 * size);
  if (faulted()) return false;
  const newSs = readStack(sz, 4 * size) & 0xffff;
  if (faulted()) return false;
  if (!checkOuterStack(newSs, rpl)) return false;
  const ssLo = descLo;
  const ssHi = descHi;
  const ssAddr = descAddr;
  if (offset > descLimit(csLo, csHi)) {
    raise(EXC_GP, 0);
    return false;
  }
  writeReturnFlags(newFlags, level);
  enterCode(sel, csLo, csHi, csAddr, rpl, offset);
  loadCache(SEG_SS, newSs, ssLo, markAccessed(ssAddr, ssHi));
  if ((descAttr(ssHi) & ATTR_DB) != 0) setReg32(4, newEsp);
  else setReg16(4, newEsp);
  dropInaccessibleSegments(rpl);
  refreshAlignmentCheck();
  return true;
}

/**
 * The common case of a protected-mode IRETD with NT clear, in one pass: the
 * 3 dwords of a return to the same level, or the 5 of a return to an outer
 * one, read with one TLB lookup from an expand-up 32-bit stack; the code
 * segment and the outer stack segment in the GDT, present and already
 * accessed, each read with one lookup (core/segment.ts gdtDirect). Returns
 * false, having changed nothing, when any of that does not hold or a check
 * of SDM Vol. 2A "IRET" would fail (a return to virtual-8086 mode too):
 * interruptReturn then does it all from the start and raises what is due.
 */
function interruptReturnFast(): bool {
  // What readStack would check besides the limit and the page: #AC, and the data breakpoints.
  if (alignmentChecked() || dataBreakpoints) return false;
  const ssAttr = segAttr(SEG_SS);
  if ((ssAttr & (SEG_ATTR_UNUSABLE | ATTR_EXPAND_DOWN | ATTR_CODE | ATTR_DB)) != ATTR_DB) return false;
  const top = reg32(4);
  const ssLimit = segLimit(SEG_SS);
  if (top > ssLimit || ssLimit - top < 11) return false;
  const linear = segBase(SEG_SS) + top;
  const access = userAccess();
  const frame = directReadAddress(linear, 11, access);
  if (frame == 0) return false;
  const offset = load<u32>(frame);
  const sel = load<u32>(frame, 4) & 0xffff;
  const newFlags = load<u32>(frame, 8);
  const level = cpl();
  if ((newFlags & FLAG_VM) != 0 && level == 0) return false;
  const rpl = sel & 3;
  if (rpl < level) return false;
  const cs = gdtDirect(sel);
  if (cs == 0) return false;
  const csLo = load<u32>(cs);
  const csHi = load<u32>(cs, 4);
  const codeBits = DESC_P | DESC_S | DESC_CODE | DESC_ACCESSED;
  if ((csHi & codeBits) != codeBits) return false;
  const dpl = descDpl(csHi);
  if ((csHi & DESC_C_E) != 0 ? dpl > rpl : dpl != rpl) return false;
  if (offset > descLimit(csLo, csHi)) return false;
  if (rpl == level) {
    loadCache(SEG_CS, sel, csLo, csHi);
    setCpl(level);
    setEip(offset);
    setReg32(4, top + 12);
    writeReturnFlags(newFlags, level);
    refreshAlignmentCheck();
    return true;
  }
  // To an outer level (SDM Vol. 3A 6.12.1): SS:ESP follow on the stack.
  if (ssLimit - top < 19) return false;
  const outer = directReadAddress(linear, 19, access);
  if (outer == 0) return false;
  const newEsp = load<u32>(outer, 12);
  const newSs = load<u32>(outer, 16) & 0xffff;
  if ((newSs & 3) != rpl) return false;
  const ss = gdtDirect(newSs);
  if (ss == 0) return false;
  const ssLo = load<u32>(ss);
  const ssHi = load<u32>(ss, 4);
  const dataBits = DESC_P | DESC_S | DESC_CODE | DESC_R_W | DESC_ACCESSED;
  if ((ssHi & dataBits) != (DESC_P | DESC_S | DESC_R_W | DESC_ACCESSED) || descDpl(ssHi) != rpl) return false;
  writeReturnFlags(newFlags, level);
  loadCache(SEG_CS, sel, csLo, csHi);
  setCpl(rpl);
  setEip(offset);
  loadCache(SEG_SS, newSs, ssLo, ssHi);
  if ((ssHi & (ATTR_DB << 8)) != 0) setReg32(4, newEsp);
  else setReg16(4, newEsp);
  dropInaccessibleSegments(rpl);
  refreshAlignmentCheck();
  return true;
}

/** The EFLAGS bits POPF or IRET may ever write (the rest are reserved or VM/VIF/VIP). */
function modifiable(op32: bool): u32 {
  return op32 ? 0x00257fd5 : 0x7fd5;
}

/**
 * EFLAGS from a protected-mode IRET at the old privilege `level`: IF only
 * when CPL <= IOPL, IOPL (and VIF, VIP) only at CPL 0, RF AC ID only with a
 * 32-bit operand.
 */
function writeReturnFlags(f: u32, level: u32): void {
  // Every status flag is in the mask below: the old ones are replaced, not read.
  const old = controlFlags();
  let mask: u32 = 0x4dd5 | 0x100; // CF PF AF ZF SF TF DF OF NT
  if (opSize32) mask |= FLAG_RF | FLAG_AC | FLAG_ID;
  if (level <= ((old >> 12) & 3)) mask |= FLAG_IF;
  if (level == 0) {
    mask |= FLAG_IOPL;
    if (opSize32) mask |= FLAG_VIF | FLAG_VIP;
  }
  setEflags((old & ~mask) | (f & mask));
}

/** IRETD at CPL 0 with VM set in the popped EFLAGS (SDM Vol. 2A "IRET", RETURN-TO-VIRTUAL-8086-MODE). */
function returnToV86(offset: u32, cs: u32, f: u32): bool {
  const esp = readStack(2, 12);
  if (faulted()) return false;
  const ss = readStack(2, 16);
  if (faulted()) return false;
  const es = readStack(2, 20);
  if (faulted()) return false;
  const ds = readStack(2, 24);
  if (faulted()) return false;
  const fs = readStack(2, 28);
  if (faulted()) return false;
  const gs = readStack(2, 32);
  if (faulted()) return false;
  setEflags(f & (0x00277fd5 | FLAG_VM | FLAG_VIF | FLAG_VIP));
  setCpl(3);
  loadRealSegment(SEG_CS, cs);
  loadRealSegment(SEG_SS, ss);
  loadRealSegment(SEG_ES, es);
  loadRealSegment(SEG_DS, ds);
  loadRealSegment(SEG_FS, fs);
  loadRealSegment(SEG_GS, gs);
  setReg32(4, esp);
  setEip(offset & 0xffff);
  invalidateFetch();
  refreshAlignmentCheck();
  return true;
}

/**
 * The last steps of JMP, CALL or IRET into a task whose TSS descriptor is
 * in descLo/descHi: it must be present (#NP), the switch itself, then the
 * new EIP checked against the new CS limit (#GP(0), SDM Vol. 3A 7.3 step 13).
 */
function enterTask(tssSel: u32, source: i32, returnEip: u32): bool {
  if (!descPresent(descHi)) {
    raise(EXC_NP, tssSel & 0xfffc);
    return false;
  }
  if (!switchTask(tssSel, descLo, descHi, source, returnEip, 0)) return false;
  if (eip() > segLimit(SEG_CS)) {
    raise(EXC_GP, 0);
    return false;
  }
  return true;
}

/** IRET with NT set: back to the task in the current TSS's back link (SDM Vol. 2A "IRET", TASK-RETURN). */
function taskReturn(returnEip: u32): bool {
  const link = readSystem16(segBase(SEG_TR));
  if (faulted()) return false;
  if ((link & 4) != 0) {
    raise(EXC_TS, link & 0xfffc);
    return false;
  }
  if (!readDescriptor(link, EXC_TS, 0)) return false;
  const type = descType(descHi);
  if (type != 0x03 && type != 0x0b) {
    raise(EXC_TS, link & 0xfffc);
    return false;
  }
  return enterTask(link, TASK_IRET, returnEip);
}

