// core/task.ts — hardware task switching.
//
// A task is its TSS: JMP or CALL to a TSS descriptor or a task gate, an
// interrupt through a task gate, or IRET with EFLAGS.NT set switch to another
// one (SDM Vol. 3A 7.3). The switch follows the SDM's order exactly: checks
// on the new TSS (limit: #TS; the caller already checked type, busy and
// present), then the commit point — the old task's dynamic fields are saved
// in its TSS, busy bits and NT updated, the back link written, TR and CR0.TS
// set, and the new task's registers, EFLAGS, CR3 and selectors loaded — and
// only then are LDTR and the segment registers qualified. A fault found
// after the commit point is taken in the new task (Vol. 3A 7.3, step 13;
// Table 7-1), with the registers it could not load left unusable.
//
// Every byte of both TSSs is touched before the commit (reads of the new,
// probes for writing the old), so a #PF aborts the switch with nothing
// changed. 32-bit TSSs (types 9/11) and 16-bit ones (types 1/3) are both
// supported; the I/O map base and the T (debug trap) flag are in the 32-bit
// form only.

import {
  REG_CR0, REG_CR3, REG_DR6, REG_GDTR_BASE, SEG_CS, SEG_SS, SEG_DS, SEG_ES, SEG_FS, SEG_GS, SEG_LDTR,
  SEG_TR, SEG_ATTR_UNUSABLE,
} from "./layout";
import {
  CR0_PG, CR0_TS, FLAG_NT, FLAG_VM, cr0, eflags, reg16, reg32, segAttr, segSelector, setCpl, setEflags,
  setEip, setReg16, setReg32, setSegment,
} from "./state";
import { EXC_GP, EXC_NP, EXC_SS, EXC_TS, faulted, raise } from "./fault";
import { ACCESS_READ, translate, writeCr3 } from "./mmu";
import { probeLinear } from "./stack";
import {
  descAddr, descBase, descDpl, descHi, descLimit, descLo, descPresent, descType, loadCache, loadNull,
  loadRealSegment, markAccessed, readDescriptor, readSystem16, readSystem32, refreshAlignmentCheck, writeSystem8,
  writeSystem16, writeSystem32,
} from "./segment";
import * as D from "./decode";
import { invalidateFetch } from "./decode";
import { segBase } from "./state";

/** What started the switch: it decides busy bits, NT and the back link (SDM Vol. 3A Table 7-2). */
export const TASK_JMP: i32 = 0;
export const TASK_CALL: i32 = 1;
export const TASK_IRET: i32 = 2;
export const TASK_INT: i32 = 3;

/** Set when the new task's TSS had its T flag: the caller raises #DB after the switch. */
export let debugTrapOnSwitch: bool = false;

// The new task's state, read before the commit point.
let nEip: u32 = 0;
let nFlags: u32 = 0;
let nCr3: u32 = 0;
let nLdt: u32 = 0;
let nTrap: bool = false;
const nRegs = memory.data(32); // eax..edi
const nSegs = memory.data(24); // es cs ss ds fs gs

/** Translates the pages of [linear, linear + bytes) for a supervisor access, lowest first; false with #PF raised. */
function probe(linear: u32, bytes: u32, write: bool): bool {
  if (write) return probeLinear(linear, bytes, 0);
  const last = linear + bytes - 1;
  translate(linear, ACCESS_READ);
  for (let page = (linear & ~(<u32>0xfff)) + 0x1000; !faulted() && page != (last & ~(<u32>0xfff)) + 0x1000; page += 0x1000) {
    translate(page, ACCESS_READ);
  }
  return !faulted();
}

/** Sets or clears the busy bit (type bit 1) of the TSS descriptor `sel` in the GDT. */
function setBusy(sel: u32, busy: bool): void {
  const at = load<u32>(REG_GDTR_BASE) + (sel & 0xfff8) + 5;
  const access = readSystem32(at - 1) >> 8;
  if (faulted()) return;
  writeSystem8(at, busy ? (access | 2) & 0xff : (access & ~2) & 0xff);
}

/**
 * Switches to the task whose TSS descriptor (selector `sel`, dwords lo/hi)
 * the caller found and checked for type, busy state and presence.
 * `returnEip` is saved as the old task's EIP. Returns false when a fault was
 * raised; before the commit point nothing changed, after it the fault
 * belongs to the new task.
 */
export function switchTask(sel: u32, lo: u32, hi: u32, source: i32, returnEip: u32, ext: u32): bool {
  const newBase = descBase(lo, hi);
  const newLimit = descLimit(lo, hi);
  const new32 = (descType(hi) & 8) != 0;
  const minLimit: u32 = new32 ? 0x67 : 0x2b;
  if (newLimit < minLimit) {
    raise(EXC_TS, (sel & 0xfffc) | ext);
    return false;
  }
  const oldSel = segSelector(SEG_TR);
  const oldBase = segBase(SEG_TR);
  const old32 = (segAttr(SEG_TR) & 8) != 0;

  // Read the whole new state, and probe the old TSS for the save.
  if (!probe(newBase, new32 ? 0x68 : 0x2c, false)) return false;
  if (!probe(oldBase, old32 ? 0x60 : 0x2a, true)) return false;
  if (source == TASK_CALL || source == TASK_INT) {
    if (!probe(newBase, 2, true)) return false;
  }
  if (new32) {
    nCr3 = readSystem32(newBase + 28);
    nEip = readSystem32(newBase + 32);
    nFlags = readSystem32(newBase + 36);
    for (let i = 0; i < 8; i++) store<u32>(nRegs + (<usize>i << 2), readSystem32(newBase + 40 + (<u32>i << 2)));
    for (let i = 0; i < 6; i++) store<u32>(nSegs + (<usize>i << 2), readSystem16(newBase + 72 + (<u32>i << 2)));
    nLdt = readSystem16(newBase + 96);
    nTrap = (readSystem16(newBase + 100) & 1) != 0;
  } else {
    nCr3 = load<u32>(REG_CR3);
    nEip = readSystem16(newBase + 14);
    nFlags = readSystem16(newBase + 16);
    for (let i = 0; i < 8; i++) store<u32>(nRegs + (<usize>i << 2), readSystem16(newBase + 18 + (<u32>i << 1)));
    for (let i = 0; i < 4; i++) store<u32>(nSegs + (<usize>i << 2), readSystem16(newBase + 34 + (<u32>i << 1)));
    store<u32>(nSegs + 16, 0);
    store<u32>(nSegs + 20, 0);
    nLdt = readSystem16(newBase + 42);
    nTrap = false;
  }
  if (faulted()) return false;

  // Commit point. The old task: busy bit, then its dynamic state.
  if (source == TASK_JMP || source == TASK_IRET) {
    setBusy(oldSel, false);
    if (faulted()) return false;
  }
  let oldFlags = eflags();
  if (source == TASK_IRET) oldFlags &= ~FLAG_NT;
  if (old32) {
    writeSystem32(oldBase + 32, returnEip);
    writeSystem32(oldBase + 36, oldFlags);
    for (let i = 0; i < 8; i++) writeSystem32(oldBase + 40 + (<u32>i << 2), reg32(i));
    for (let i = 0; i < 6; i++) writeSystem16(oldBase + 72 + (<u32>i << 2), segSelector(i));
  } else {
    writeSystem16(oldBase + 14, returnEip);
    writeSystem16(oldBase + 16, oldFlags);
    for (let i = 0; i < 8; i++) writeSystem16(oldBase + 18 + (<u32>i << 1), reg16(i));
    for (let i = 0; i < 4; i++) writeSystem16(oldBase + 34 + (<u32>i << 1), segSelector(i));
  }
  if (source == TASK_CALL || source == TASK_INT) {
    writeSystem16(newBase, oldSel);
    nFlags |= FLAG_NT;
  }
  let newHi = hi;
  if (source != TASK_IRET) {
    setBusy(sel, true);
    newHi |= 2 << 8;
  }
  loadCache(SEG_TR, sel, lo, newHi);
  store<u32>(REG_CR0, cr0() | CR0_TS);

  // The new task's registers.
  invalidateFetch();
  D.requestWork(D.WORK_KEEP_RF);
  setEip(nEip);
  setEflags(nFlags);
  for (let i = 0; i < 8; i++) {
    const v = load<u32>(nRegs + (<usize>i << 2));
    if (new32) setReg32(i, v);
    else setReg16(i, v);
  }
  // CR3 (32-bit TSS, paging on) is loaded last among the registers: under
  // PAE its PDPTEs are checked, and a bad one is a #GP(0) in the new task.
  if (new32 && (cr0() & CR0_PG) != 0 && !writeCr3(nCr3)) {
    raise(EXC_GP, 0);
    return false;
  }
  const v86 = (eflags() & FLAG_VM) != 0;
  // Selectors are loaded first with nothing usable behind them; each is
  // then qualified in turn, and a failure stops there (Vol. 3A 7.3 step 13).
  for (let s = 0; s < 6; s++) setSegment(s, load<u32>(nSegs + (<usize>s << 2)), 0, 0, SEG_ATTR_UNUSABLE);
  setSegment(SEG_LDTR, nLdt, 0, 0, SEG_ATTR_UNUSABLE);
  debugTrapOnSwitch = nTrap;
  if (nTrap) {
    store<u32>(REG_DR6, load<u32>(REG_DR6) | (1 << 15));
    D.requestWork(D.WORK_DEBUG_TRAP);
  }

  if (v86) {
    setCpl(3);
    for (let s = 0; s < 6; s++) loadRealSegment(s, load<u32>(nSegs + (<usize>s << 2)));
    if (!loadTaskLdt(nLdt, ext)) return false;
    refreshAlignmentCheck();
    return true;
  }
  const csSel = load<u32>(nSegs + 4);
  const level = csSel & 3;
  setCpl(level);
  refreshAlignmentCheck();
  if (!loadTaskLdt(nLdt, ext)) return false;
  if (!loadTaskSs(load<u32>(nSegs + 8), level, ext)) return false;
  if (!loadTaskCs(csSel, ext)) return false;
  if (!loadTaskData(SEG_DS, level, ext)) return false;
  if (!loadTaskData(SEG_ES, level, ext)) return false;
  if (!loadTaskData(SEG_FS, level, ext)) return false;
  if (!loadTaskData(SEG_GS, level, ext)) return false;
  return true;
}

function loadTaskLdt(ldt: u32, ext: u32): bool {
  if ((ldt & 0xfffc) == 0) {
    setSegment(SEG_LDTR, ldt, 0, 0, SEG_ATTR_UNUSABLE);
    return true;
  }
  if ((ldt & 4) != 0) {
    raise(EXC_TS, (ldt & 0xfffc) | ext);
    return false;
  }
  if (!readDescriptor(ldt, EXC_TS, ext)) return false;
  if (descType(descHi) != 0x02 || !descPresent(descHi)) {
    raise(EXC_TS, (ldt & 0xfffc) | ext);
    return false;
  }
  loadCache(SEG_LDTR, ldt, descLo, descHi);
  return true;
}

function loadTaskSs(ss: u32, level: u32, ext: u32): bool {
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
  const hi = markAccessed(descAddr, descHi);
  loadCache(SEG_SS, ss, descLo, hi);
  return !faulted();
}

function loadTaskCs(cs: u32, ext: u32): bool {
  if ((cs & 0xfffc) == 0) {
    raise(EXC_TS, ext);
    return false;
  }
  if (!readDescriptor(cs, EXC_TS, ext)) return false;
  const type = descType(descHi);
  const dpl = descDpl(descHi);
  const rpl = cs & 3;
  const conforming = (type & 4) != 0;
  if ((type & 0x18) != 0x18 || (conforming ? dpl > rpl : dpl != rpl)) {
    raise(EXC_TS, (cs & 0xfffc) | ext);
    return false;
  }
  if (!descPresent(descHi)) {
    raise(EXC_NP, (cs & 0xfffc) | ext);
    return false;
  }
  const hi = markAccessed(descAddr, descHi);
  loadCache(SEG_CS, cs, descLo, hi);
  return !faulted();
}

function loadTaskData(sreg: i32, level: u32, ext: u32): bool {
  const sel = segSelector(sreg);
  if ((sel & 0xfffc) == 0) {
    loadNull(sreg, sel);
    return true;
  }
  if (!readDescriptor(sel, EXC_TS, ext)) return false;
  const type = descType(descHi);
  const dpl = descDpl(descHi);
  if ((type & 0x10) == 0 || (type & 0x1a) == 0x18) {
    raise(EXC_TS, (sel & 0xfffc) | ext);
    return false;
  }
  const conformingCode = (type & 0x1c) == 0x1c;
  if (!conformingCode && (dpl < level || dpl < (sel & 3))) {
    raise(EXC_TS, (sel & 0xfffc) | ext);
    return false;
  }
  if (!descPresent(descHi)) {
    raise(EXC_NP, (sel & 0xfffc) | ext);
    return false;
  }
  const hi = markAccessed(descAddr, descHi);
  loadCache(sreg, sel, descLo, hi);
  return !faulted();
}

