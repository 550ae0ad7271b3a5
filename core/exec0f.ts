// core/exec0f.ts — the two-byte opcode map (0F xx).
//
// SDM Vol. 2D Appendix A, Table A-3, as far as the i486, the P6 additions
// this CPU implements (CMOVcc, CMPXCHG8B, CPUID, RDTSC, RDMSR/WRMSR,
// SYSENTER/SYSEXIT, UD2, the 0F 18-1F hint NOPs of family 6) and nothing
// else: every other two-byte opcode is #UD, which covers SSE, VMX (VMCALL,
// 0F 01 C1), the i386's MOV to and from test registers (0F 24, 0F 26) and
// its UMOV (0F 10-13), LOADALL, SYSCALL and RSM.

import { REG_GDTR_BASE, REG_GDTR_LIMIT, REG_IDTR_BASE, REG_IDTR_LIMIT, SEG_FS, SEG_GS, SEG_SS } from "./layout";
import {
  FLAG_CF, FLAG_ZF, cr0, eflags, eip, reg8, reg32, segBase, segSelector, setEflags, setReg16, setReg32,
} from "./state";
import { EXC_UD, faulted, raiseNoCode } from "./fault";
import { alu, condition, putFlags } from "./flags";
import { doubleShift } from "./alu";
import { cpuidExits, cpuidToHost, writeWithHost, writesToHost } from "./emulate";
import { ACCESS_WRITE } from "./mmu";
import * as D from "./decode";
import {
  addrSize32, decodeModrm, eaOff, eaSeg, fetch8, fetchImmV, jumpTo, mod, opSize32, regf, requireMemory, rm,
  sequentialEip, userAccess,
} from "./decode";
import { loadDataSegment, readMem, readMem16, readRmw, segCheck, writeMem, writeMem16, writeRmw } from "./segment";
import { probeWrite, pushV, readStack, setStackTop, stackOffset, stackTop } from "./stack";
import {
  accessRights, clearTaskSwitched, cpuid, debugRegisterGuarded, invalidatePage, loadLdtr, loadMachineStatusWord, loadTableRegister,
  loadTaskRegister, probeSelector, readControlRegister, readDebugRegister, readMsr, readTsc, requireCpl0,
  requireProtectedMode, segmentLimit, sysenter, sysexit, tableSelector, writeControlRegister, writeDebugRegister,
  writeMsr,
} from "./system";
import {
  branchNear, getReg, imulTruncating, loadFarPointer, lockFault, readE, readModify, setReg, signBit, vsize, writeE,
  writeModify,
} from "./exec";

/** 0F xx, after the 0F byte. */
export function execute0f(): void {
  const opcode = fetch8();
  if (faulted()) return;
  if (D.lockPrefix && !lockable0f(opcode)) {
    raiseNoCode(EXC_UD);
    return;
  }
  if (opcode >= 0x80 && opcode <= 0x8f) { // Jcc rel16/32
    const rel = fetchImmV();
    if (faulted()) return;
    if (condition(opcode & 15)) branchNear(sequentialEip() + rel);
    return;
  }
  if (opcode >= 0x40 && opcode <= 0x4f) { // CMOVcc: the source is read whatever the condition
    decodeModrm();
    if (faulted()) return;
    const size = vsize();
    const v = readE(size);
    if (faulted()) return;
    if (condition(opcode & 15)) setReg(size, regf, v);
    return;
  }
  if (opcode >= 0x90 && opcode <= 0x9f) { // SETcc
    decodeModrm();
    if (faulted()) return;
    writeE(0, condition(opcode & 15) ? 1 : 0);
    return;
  }
  if (opcode >= 0xc8) { // BSWAP (16-bit operand: undefined; this core clears the word, as Intel parts do)
    const r = opcode & 7;
    if (opSize32) setReg32(r, bswap<u32>(reg32(r)));
    else setReg16(r, 0);
    return;
  }
  switch (opcode) {
    case 0x00: group6(); return;
    case 0x01: group7(); return;
    case 0x02:
    case 0x03: { // LAR, LSL
      if (!requireProtectedMode()) return;
      decodeModrm();
      if (faulted()) return;
      const sel = readE(1);
      if (faulted()) return;
      const ok = probeSelector(sel, opcode == 0x02 ? 0 : 1);
      if (faulted()) return;
      putFlags(FLAG_ZF, ok ? FLAG_ZF : 0);
      if (ok) setReg(vsize(), regf, opcode == 0x02 ? accessRights() : segmentLimit());
      return;
    }
    case 0x06: // CLTS
      if (requireCpl0()) clearTaskSwitched();
      return;
    case 0x08:
    case 0x09: // INVD, WBINVD: no caches to write back
      requireCpl0();
      return;
    case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d: case 0x1e: case 0x1f:
      decodeModrm(); // hint NOP Ev
      return;
    case 0x20:
    case 0x22: { // MOV r32, CRn / MOV CRn, r32 (ModRM mod is ignored: always a register)
      decodeModrm();
      if (faulted()) return;
      const n = regf;
      if (n == 1 || n > 4) {
        raiseNoCode(EXC_UD);
        return;
      }
      if (!requireCpl0()) return;
      if (opcode == 0x20) setReg32(rm, readControlRegister(n));
      else writeControlRegister(n, reg32(rm));
      return;
    }
    case 0x21:
    case 0x23: { // MOV r32, DRn / MOV DRn, r32
      decodeModrm();
      if (faulted()) return;
      if (!requireCpl0() || debugRegisterGuarded()) return;
      if (opcode == 0x21) setReg32(rm, readDebugRegister(regf));
      else writeDebugRegister(regf, reg32(rm));
      return;
    }
    case 0x0b: raiseNoCode(EXC_UD); return; // UD2
    case 0x30: if (requireCpl0()) writeMsr(); return;
    case 0x31: readTsc(); return;
    case 0x32: if (requireCpl0()) readMsr(); return;
    case 0x34: if (sysenter()) jumpTo(eip()); return;
    case 0x35: if (sysexit()) jumpTo(eip()); return;
    case 0xa0: pushV(segSelector(SEG_FS)); return;
    case 0xa1: popSegment(SEG_FS); return;
    case 0xa2: // CPUID, answered by the host while it emulates with EMULATE_CPUID_EXIT (core/emulate.ts)
      if (cpuidExits) cpuidToHost();
      else cpuid();
      return;
    case 0xa8: pushV(segSelector(SEG_GS)); return;
    case 0xa9: popSegment(SEG_GS); return;
    case 0xa3: case 0xab: case 0xb3: case 0xbb: bitTest(opcode); return;
    case 0xba: bitTestImmediate(); return;
    case 0xa4: case 0xa5: case 0xac: case 0xad: { // SHLD, SHRD
      decodeModrm();
      if (faulted()) return;
      const count = (opcode & 1) == 0 ? fetch8() : reg8(1);
      if (faulted()) return;
      const size = vsize();
      const dst = readModify(size);
      if (faulted()) return;
      const r = doubleShift(opcode < 0xa8, dst, getReg(size, regf), count, signBit(size));
      if ((count & 31) != 0) writeModify(size, r);
      return;
    }
    case 0xaf: { // IMUL Gv, Ev
      decodeModrm();
      if (faulted()) return;
      const size = vsize();
      const v = readE(size);
      if (faulted()) return;
      setReg(size, regf, imulTruncating(size, getReg(size, regf), v));
      return;
    }
    case 0xb0: case 0xb1: compareExchange(opcode == 0xb0 ? 0 : vsize()); return;
    case 0xb2: loadFarPointer(SEG_SS); return;
    case 0xb4: loadFarPointer(SEG_FS); return;
    case 0xb5: loadFarPointer(SEG_GS); return;
    case 0xb6: case 0xb7: case 0xbe: case 0xbf: { // MOVZX, MOVSX
      decodeModrm();
      if (faulted()) return;
      const from: u32 = (opcode & 1) == 0 ? 0 : 1;
      let v = readE(from);
      if (faulted()) return;
      if (opcode >= 0xbe) v = from == 0 ? <u32><i32><i8>v : <u32><i32><i16>v;
      setReg(vsize(), regf, v);
      return;
    }
    case 0xbc: case 0xbd: { // BSF, BSR: only ZF is defined; a zero source leaves the destination
      decodeModrm();
      if (faulted()) return;
      const size = vsize();
      const v = readE(size);
      if (faulted()) return;
      if (v == 0) {
        putFlags(FLAG_ZF, FLAG_ZF);
        return;
      }
      putFlags(FLAG_ZF, 0);
      setReg(size, regf, opcode == 0xbc ? ctz<u32>(v) : 31 - clz<u32>(v));
      return;
    }
    case 0xc0: case 0xc1: { // XADD
      decodeModrm();
      if (faulted()) return;
      if (lockFault(true)) return;
      const size: u32 = opcode == 0xc0 ? 0 : vsize();
      const dst = readModify(size);
      if (faulted()) return;
      const src = getReg(size, regf);
      const sum = alu(0, dst, src, signBit(size));
      if (mod == 3) {
        setReg(size, regf, dst);
        setReg(size, rm, sum);
        return;
      }
      writeModify(size, sum);
      if (faulted()) return;
      setReg(size, regf, dst);
      return;
    }
    case 0xc7: compareExchange8b(); return;
    default:
      raiseNoCode(EXC_UD);
  }
}

function lockable0f(opcode: u32): bool {
  return opcode == 0xab || opcode == 0xb3 || opcode == 0xbb || opcode == 0xba || opcode == 0xb0 ||
    opcode == 0xb1 || opcode == 0xc0 || opcode == 0xc1 || opcode == 0xc7;
}

function popSegment(sreg: i32): void {
  const v = readStack(opSize32 ? 2 : 1, 0);
  if (faulted()) return;
  if (!loadDataSegment(sreg, v & 0xffff)) return;
  setStackTop(stackOffset(stackTop(), opSize32 ? 4 : 2));
}

/** 0F 00: SLDT STR LLDT LTR VERR VERW. */
function group6(): void {
  if (!requireProtectedMode()) return;
  decodeModrm();
  if (faulted()) return;
  const op = regf;
  switch (op) {
    case 0:
    case 1: { // SLDT, STR: a register gets the selector zero-extended at a 32-bit operand size
      const sel = tableSelector(op == 1);
      if (mod == 3) setReg(vsize(), rm, sel);
      else writeMem16(eaSeg, eaOff, sel);
      return;
    }
    case 2:
    case 3: {
      if (!requireCpl0()) return;
      const sel = readE(1);
      if (faulted()) return;
      if (op == 2) loadLdtr(sel);
      else loadTaskRegister(sel);
      return;
    }
    case 4:
    case 5: {
      const sel = readE(1);
      if (faulted()) return;
      const ok = probeSelector(sel, op == 4 ? 2 : 3);
      if (faulted()) return;
      putFlags(FLAG_ZF, ok ? FLAG_ZF : 0);
      return;
    }
    default:
      raiseNoCode(EXC_UD);
  }
}

/** 0F 01: SGDT SIDT LGDT LIDT SMSW LMSW INVLPG (and #UD for the register forms used by VMX and later). */
function group7(): void {
  decodeModrm();
  if (faulted()) return;
  const op = regf;
  if (mod == 3 && op != 4 && op != 6) {
    raiseNoCode(EXC_UD);
    return;
  }
  switch (op) {
    case 0:
    case 1: { // SGDT, SIDT: limit then base; a 16-bit operand size stores a 24-bit base and a zero byte
      const idt = op == 1;
      const limit = load<u32>(idt ? REG_IDTR_LIMIT : REG_GDTR_LIMIT);
      let base = load<u32>(idt ? REG_IDTR_BASE : REG_GDTR_BASE);
      if (!opSize32) base &= 0xffffff;
      const baseAt = addrSize32 ? eaOff + 2 : (eaOff + 2) & 0xffff;
      // Both parts must be writable before the first is written.
      if (!probeWrite(eaSeg, eaOff, 6, !addrSize32)) return;
      writeMem16(eaSeg, eaOff, limit);
      if (faulted()) return;
      writeMem(2, eaSeg, baseAt, base);
      return;
    }
    case 2:
    case 3: { // LGDT, LIDT
      if (!requireCpl0()) return;
      const limit = readMem16(eaSeg, eaOff);
      if (faulted()) return;
      const base = readMem(2, eaSeg, addrSize32 ? eaOff + 2 : (eaOff + 2) & 0xffff);
      if (faulted()) return;
      loadTableRegister(op == 3, limit, base, opSize32);
      return;
    }
    case 4: { // SMSW: all of CR0 into a 32-bit register, its low word elsewhere
      const v = cr0();
      if (mod == 3) setReg(vsize(), rm, v);
      else writeMem16(eaSeg, eaOff, v);
      return;
    }
    case 6: { // LMSW
      if (!requireCpl0()) return;
      const v = readE(1);
      if (faulted()) return;
      loadMachineStatusWord(v);
      return;
    }
    case 7: { // INVLPG
      if (!requireCpl0()) return;
      invalidatePage(segBase(eaSeg) + eaOff);
      return;
    }
    default:
      raiseNoCode(EXC_UD);
  }
}

/**
 * BT BTS BTR BTC with the bit offset in a register: on a memory operand the
 * offset is signed and selects the word or dword at EA + size * (offset div
 * width) (SDM Vol. 2A "BT", Table 3-2 note). CF gets the bit; OF SF AF PF
 * are undefined and kept; ZF is unaffected.
 */
function bitTest(opcode: u32): void {
  decodeModrm();
  if (faulted()) return;
  const op = (opcode >> 3) & 3; // 0 BT (A3), 1 BTS (AB), 2 BTR (B3), 3 BTC (BB)
  if (lockFault(op != 0)) return;
  const size = vsize();
  const width: u32 = size == 2 ? 32 : 16;
  let offset = getReg(size, regf);
  if (size == 1) offset = <u32><i32><i16>offset;
  if (mod == 3) {
    bitOperation(op, size, offset & (width - 1));
    return;
  }
  const shift: u32 = size == 2 ? 5 : 4;
  const bytes: u32 = size == 2 ? 4 : 2;
  let at = eaOff + <u32>((<i32>offset >> shift) * <i32>bytes);
  if (!addrSize32) at &= 0xffff;
  bitOperationAt(op, size, at, offset & (width - 1));
}

/** 0F BA /4-/7: BT BTS BTR BTC with an immediate bit offset (taken mod the width). */
function bitTestImmediate(): void {
  decodeModrm();
  if (faulted()) return;
  const imm = fetch8();
  if (faulted()) return;
  if (regf < 4) {
    raiseNoCode(EXC_UD);
    return;
  }
  const op = regf - 4;
  if (lockFault(op != 0)) return;
  const size = vsize();
  const bit = imm & (size == 2 ? 31 : 15);
  if (mod == 3) bitOperation(op, size, bit);
  else bitOperationAt(op, size, eaOff, bit);
}

function bitOperation(op: u32, size: u32, bit: u32): void {
  const v = getReg(size, rm);
  putFlags(FLAG_CF, (v >> bit) & 1);
  if (op != 0) setReg(size, rm, modifyBit(op, v, bit));
}

function bitOperationAt(op: u32, size: u32, off: u32, bit: u32): void {
  if (op == 0) {
    const v = readMem(size, eaSeg, off);
    if (faulted()) return;
    putFlags(FLAG_CF, (v >> bit) & 1);
    return;
  }
  const linear = rmwAt(size, off);
  if (faulted()) return;
  const v = readRmw(size, linear);
  if (faulted()) return;
  writeRmw(size, linear, modifyBit(op, v, bit));
  if (faulted()) return;
  putFlags(FLAG_CF, (v >> bit) & 1);
}

function rmwAt(size: u32, off: u32): u32 {
  const len1: u32 = (<u32>1 << size) - 1;
  if (!segCheck(eaSeg, off, len1, true)) return 0;
  return segBase(eaSeg) + off;
}

// @ts-ignore: decorator
@inline function modifyBit(op: u32, v: u32, bit: u32): u32 {
  const m = <u32>1 << bit;
  return op == 1 ? v | m : op == 2 ? v & ~m : v ^ m;
}

/** CMPXCHG: compare the accumulator with r/m; equal: r/m = reg, else accumulator = r/m (which is written back). */
function compareExchange(size: u32): void {
  decodeModrm();
  if (faulted()) return;
  if (lockFault(true)) return;
  const dst = readModify(size);
  if (faulted()) return;
  const acc = getReg(size, 0);
  alu(7, acc, dst, signBit(size));
  if (acc == dst) {
    writeModify(size, getReg(size, regf));
    return;
  }
  if (mod != 3) {
    writeModify(size, dst);
    if (faulted()) return;
  }
  setReg(size, 0, dst);
}

/** CMPXCHG8B m64 (0F C7 /1): EDX:EAX against the qword; ZF says which way it went. */
function compareExchange8b(): void {
  decodeModrm();
  if (faulted()) return;
  if (regf != 1 || !requireMemory()) {
    if (!faulted()) raiseNoCode(EXC_UD);
    return;
  }
  if (!segCheck(eaSeg, eaOff, 7, true)) return;
  const linear = segBase(eaSeg) + eaOff;
  const lo = readRmw(2, linear);
  if (faulted()) return;
  const hi = readRmw(2, linear + 4);
  if (faulted()) return;
  const flags = eflags();
  if (lo == reg32(0) && hi == reg32(2)) {
    writeQword(linear, reg32(3), reg32(1));
    if (faulted()) {
      setEflags(flags);
      return;
    }
    putFlags(FLAG_ZF, FLAG_ZF);
    return;
  }
  writeQword(linear, lo, hi);
  if (faulted()) return;
  putFlags(FLAG_ZF, 0);
  setReg32(0, lo);
  setReg32(2, hi);
}

/**
 * CMPXCHG8B's store. While writes to read-only pages go to the host
 * (core/emulate.ts), the qword is one 8-byte write, so the host sees a PAE
 * entry whole and never validates half of one; otherwise two dword stores.
 */
function writeQword(linear: u32, lo: u32, hi: u32): void {
  if (writesToHost) {
    writeWithHost(linear, lo, hi, 8, userAccess() | ACCESS_WRITE);
    return;
  }
  writeRmw(2, linear, lo);
  writeRmw(2, linear + 4, hi);
}
