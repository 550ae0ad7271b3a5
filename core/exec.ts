// core/exec.ts — executing one instruction: the one-byte opcode map.
//
// `execute` decodes the prefixes and dispatches on the opcode byte with one
// switch (SDM Vol. 2D Appendix A, Table A-2); the two-byte map (0F xx) is in
// core/exec0f.ts. Operand size codes are 0 (byte), 1 (word), 2 (dword); an
// ALU width is given by its sign-bit index (7, 15, 31).
//
// The rule every handler follows (DESIGN.md): fetch every byte first, then
// make every check and every memory access that can fault, and only then
// change registers, flags and EIP. A read-modify-write operand is checked
// and translated for writing before it is read, so the write that follows
// cannot fault; flags computed on the way are put back if it does anyway
// (an MMIO store that exits). LOCK is #UD except on the read-modify-write
// forms the SDM lists ("LOCK": ADD ADC AND BTC BTR BTS CMPXCHG CMPXCHG8B DEC
// INC NEG NOT OR SBB SUB XOR XADD XCHG with a memory destination).

import { SEG_CS, SEG_DS, SEG_ES, SEG_SS } from "./layout";
import {
  CR0_EM, CR0_MP, CR0_TS, FLAG_CF, FLAG_IF, FLAG_IOPL, FLAG_OF, FLAG_RF, FLAG_VM, FLAG_ZF, controlFlags, cpl, cr0, eflags, eip,
  reg8, reg16, reg32, segLimit, segSelector, setControlFlags, setEflags, setReg8, setReg16, setReg32,
} from "./state";
import { EXC_DE, EXC_BR, EXC_GP, EXC_NM, EXC_UD, faulted, raise, raiseNoCode } from "./fault";
import { alu, condition, incDec, logicFlags, putCarryOverflow, putFlags, restoreFlags, saveFlags } from "./flags";
import { aad, aam, aaaAas, daa, das, shiftGroup } from "./alu";
import * as D from "./decode";
import {
  addrSize32, dataSeg, decodeModrm, decodePrefixes, eaOff, eaSeg, fetch8, fetch16, fetchImmV, fetchS8, jumpTo,
  lockPrefix, mod, opSize32, regf, requireMemory, rm, sequentialEip, userAccess,
} from "./decode";
import {
  loadDataSegment, protectedMode, readMem, readMem8, readMem16, readRmw, rmwLinear, v86Mode, writeMem, writeMem16,
  writeRmw, refreshAlignmentCheck,
} from "./segment";
import { pop, probePushes, pushV, readStack, setStackTop, stack32, stackOffset, stackTop } from "./stack";
import { stringOp } from "./string";
import { writeIsDirect } from "./access";
import { ioPermitted, portIn, portOut } from "./io";
import { farCall, farJump, farReturn, interruptReturn } from "./far";
import { EVENT_ICEBP, EVENT_SOFT_EXCEPTION, EVENT_SOFTWARE } from "./interrupt";
import { requireCpl0 } from "./system";
import { execute0f } from "./exec0f";
import { takeEvent, EVENT_EXITED } from "./run";

// ---------------------------------------------------------------- operand helpers

/** The operand-size code of v-sized operands: 1 (word) or 2 (dword). */
// @ts-ignore: decorator
@inline export function vsize(): u32 {
  return opSize32 ? 2 : 1;
}

/** The sign-bit index of a size code: 7, 15, 31. */
// @ts-ignore: decorator
@inline export function signBit(size: u32): u32 {
  return (<u32>8 << size) - 1;
}

// @ts-ignore: decorator
@inline export function getReg(size: u32, r: u32): u32 {
  return size == 2 ? reg32(r) : size == 1 ? reg16(r) : reg8(r);
}

// @ts-ignore: decorator
@inline export function setReg(size: u32, r: u32, v: u32): void {
  if (size == 2) setReg32(r, v);
  else if (size == 1) setReg16(r, v);
  else setReg8(r, v);
}

/** The ModRM r/m operand, read. */
// @ts-ignore: decorator
@inline export function readE(size: u32): u32 {
  if (mod == 3) return getReg(size, rm);
  return readMem(size, eaSeg, eaOff);
}

/** The ModRM r/m operand, written. */
// @ts-ignore: decorator
@inline export function writeE(size: u32, v: u32): void {
  if (mod == 3) setReg(size, rm, v);
  else writeMem(size, eaSeg, eaOff, v);
}

let modifyLinear: u32 = 0;
/** The flags were saved for a read-modify-write whose write might not complete. */
let modifySaved: bool = false;

/** Reads the r/m operand of a read-modify-write; a memory operand is checked for writing first. */
// @ts-ignore: decorator
@inline export function readModify(size: u32): u32 {
  if (mod == 3) return getReg(size, rm);
  return readModifyMemory(size);
}

function readModifyMemory(size: u32): u32 {
  modifyLinear = rmwLinear(size, eaSeg, eaOff);
  if (faulted()) return 0;
  // A write the TLB sends straight to RAM completes: nothing to put back then.
  modifySaved = !writeIsDirect(modifyLinear, (<u32>1 << size) - 1, userAccess());
  if (modifySaved) saveFlags();
  return readRmw(size, modifyLinear);
}

/**
 * Writes back a read-modify-write operand. The flags are put back as they
 * were at readModify if a memory write does not complete (an MMIO store
 * that exits), since the instruction will run again.
 */
// @ts-ignore: decorator
@inline export function writeModify(size: u32, v: u32): void {
  if (mod == 3) setReg(size, rm, v);
  else writeModifyMemory(size, v);
}

function writeModifyMemory(size: u32, v: u32): void {
  writeRmw(size, modifyLinear, v);
  if (modifySaved && faulted()) restoreFlags();
}

/** #UD for a LOCK prefix unless the operand is memory and `allowed` (the form is lockable). */
// @ts-ignore: decorator
@inline export function lockFault(allowed: bool): bool {
  if (lockPrefix && (!allowed || mod == 3)) {
    raiseNoCode(EXC_UD);
    return true;
  }
  return false;
}

/** A near branch: the target is truncated to 16 bits with a 16-bit operand size and must be inside CS (#GP(0)). */
export function branchNear(target: u32): bool {
  if (!opSize32) target &= 0xffff;
  if (target > segLimit(SEG_CS)) {
    raise(EXC_GP, 0);
    return false;
  }
  jumpTo(target);
  return true;
}

/** A near CALL: check the target, push the return address, branch. */
export function callNear(target: u32): void {
  if (!opSize32) target &= 0xffff;
  if (target > segLimit(SEG_CS)) {
    raise(EXC_GP, 0);
    return;
  }
  if (!pushV(sequentialEip())) return;
  jumpTo(target);
}

/** INT n, INT3, INTO, INT1: IOPL-sensitive in virtual-8086 mode (except INT1), then the IDT. */
export function softwareInterrupt(vector: u32, kind: i32): void {
  if (kind != EVENT_ICEBP && v86Mode() && (eflags() & FLAG_IOPL) != FLAG_IOPL) {
    raise(EXC_GP, 0);
    return;
  }
  const outcome = takeEvent(vector, kind, 0, false, sequentialEip());
  if (faulted()) return;
  D.requestWork(D.WORK_EVENT);
  jumpTo(outcome == EVENT_EXITED ? sequentialEip() : eip());
}

/** IRET, IRETD: EFLAGS comes whole from the stack, RF included. */
export function interruptReturnInsn(): void {
  if (interruptReturn(sequentialEip())) {
    jumpTo(eip());
    D.requestWork(D.WORK_KEEP_RF);
  }
}

/** POP into a segment register: the load must succeed before ESP moves. */
function popSegment(sreg: i32): void {
  const v = readStack(opSize32 ? 2 : 1, 0);
  if (faulted()) return;
  if (!loadDataSegment(sreg, v & 0xffff)) return;
  setStackTop(stackOffset(stackTop(), opSize32 ? 4 : 2));
  if (sreg == SEG_SS) D.leaveShadow(D.SHADOW_MOV_SS);
}

/** LDS, LES, LSS, LFS, LGS: a far pointer from memory, the selector loaded first. */
export function loadFarPointer(sreg: i32): void {
  decodeModrm();
  if (faulted() || !requireMemory()) return;
  const size = vsize();
  const offset = readMem(size, eaSeg, eaOff);
  if (faulted()) return;
  const selAt = addrSize32 ? eaOff + (opSize32 ? 4 : 2) : (eaOff + (opSize32 ? 4 : 2)) & 0xffff;
  const sel = readMem16(eaSeg, selAt);
  if (faulted()) return;
  if (!loadDataSegment(sreg, sel)) return;
  setReg(size, regf, offset);
}

// ---------------------------------------------------------------- groups

/** The ALU rows 00-3F: op in bits 5-3, form in bits 2-0 (Eb,Gb Ev,Gv Gb,Eb Gv,Ev AL,Ib eAX,Iz). */
function aluRow(opcode: u32): void {
  const op = (opcode >> 3) & 7;
  const form = opcode & 7;
  if (form >= 4) {
    if (lockPrefix) {
      raiseNoCode(EXC_UD);
      return;
    }
    const size: u32 = form == 4 ? 0 : vsize();
    const imm = size == 0 ? fetch8() : fetchImmV();
    if (faulted()) return;
    const r = alu(op, getReg(size, 0), imm, signBit(size));
    if (op != 7) setReg(size, 0, r);
    return;
  }
  const size: u32 = (form & 1) == 0 ? 0 : vsize();
  decodeModrm();
  if (faulted()) return;
  if (mod == 3 && size == 2 && !lockPrefix) {
    // Register to register, 32 bits: the common case, without the size and operand dispatch.
    const dst = form < 2 ? rm : regf;
    const src = form < 2 ? regf : rm;
    const r = alu(op, reg32(dst), reg32(src), 31);
    if (op != 7) setReg32(dst, r);
    return;
  }
  const sb = signBit(size);
  if (form < 2) {
    // r/m is the destination.
    if (lockFault(op != 7)) return;
    if (op == 7) {
      const a = readE(size);
      if (faulted()) return;
      alu(7, a, getReg(size, regf), sb);
      return;
    }
    const a = readModify(size);
    if (faulted()) return;
    writeModify(size, alu(op, a, getReg(size, regf), sb));
    return;
  }
  if (lockFault(false)) return;
  const b = readE(size);
  if (faulted()) return;
  const r = alu(op, getReg(size, regf), b, sb);
  if (op != 7) setReg(size, regf, r);
}

/** 80-83: ALU op (ModRM reg) on r/m with an immediate. */
function group1(opcode: u32): void {
  decodeModrm();
  if (faulted()) return;
  const size: u32 = (opcode & 1) == 0 ? 0 : vsize();
  let imm: u32;
  if (opcode == 0x81) imm = fetchImmV();
  else if (opcode == 0x83) imm = fetchS8() & (opSize32 ? 0xffffffff : 0xffff);
  else imm = fetch8();
  if (faulted()) return;
  const op = regf;
  if (mod == 3 && size == 2 && !lockPrefix) {
    const r = alu(op, reg32(rm), imm, 31);
    if (op != 7) setReg32(rm, r);
    return;
  }
  if (lockFault(op != 7)) return;
  const sb = signBit(size);
  if (op == 7) {
    const a = readE(size);
    if (faulted()) return;
    alu(7, a, imm, sb);
    return;
  }
  const a = readModify(size);
  if (faulted()) return;
  writeModify(size, alu(op, a, imm, sb));
}

/** C0 C1 D0-D3: shifts and rotates. */
function group2(opcode: u32): void {
  decodeModrm();
  if (faulted()) return;
  const size: u32 = (opcode & 1) == 0 ? 0 : vsize();
  let count: u32;
  if (opcode <= 0xc1) count = fetch8();
  else if (opcode <= 0xd1) count = 1;
  else count = reg8(1);
  if (faulted()) return;
  const a = readModify(size);
  if (faulted()) return;
  const r = shiftGroup(regf, a, count, signBit(size));
  if ((count & 31) != 0) writeModify(size, r);
}

/** F6/F7: TEST NOT NEG MUL IMUL DIV IDIV. */
function group3(opcode: u32): void {
  decodeModrm();
  if (faulted()) return;
  const size: u32 = opcode == 0xf6 ? 0 : vsize();
  const sb = signBit(size);
  const op = regf;
  if (lockFault(op == 2 || op == 3)) return;
  switch (op) {
    case 0:
    case 1: { // TEST
      const imm = size == 0 ? fetch8() : fetchImmV();
      if (faulted()) return;
      const a = readE(size);
      if (faulted()) return;
      logicFlags(a & imm, sb);
      return;
    }
    case 2: { // NOT
      const a = readModify(size);
      if (faulted()) return;
      writeModify(size, ~a & ((<u32>2 << sb) - 1));
      return;
    }
    case 3: { // NEG
      const a = readModify(size);
      if (faulted()) return;
      writeModify(size, alu(5, 0, a, sb));
      return;
    }
    default: {
      const src = readE(size);
      if (faulted()) return;
      multiplyDivide(op, size, src);
    }
  }
}

/** MUL (4), IMUL (5), DIV (6), IDIV (7) of the accumulator by `src`. */
function multiplyDivide(op: u32, size: u32, src: u32): void {
  if (size == 0) {
    const al = reg8(0);
    if (op == 4) {
      const p = al * src;
      setReg16(0, <u32>p);
      overflowFlags(p > 0xff);
    } else if (op == 5) {
      const p = <i32><i8>al * <i32><i8>src;
      setReg16(0, <u32>p);
      overflowFlags(p != <i32><i8>p);
    } else if (op == 6) {
      const ax = reg16(0);
      if (src == 0 || ax / src > 0xff) {
        raiseNoCode(EXC_DE);
        return;
      }
      setReg16(0, ((ax % src) << 8) | (ax / src));
    } else {
      const ax = <i32><i16>reg16(0);
      const d = <i32><i8>src;
      if (d == 0) {
        raiseNoCode(EXC_DE);
        return;
      }
      const q = ax / d;
      if (q < -128 || q > 127) {
        raiseNoCode(EXC_DE);
        return;
      }
      setReg16(0, ((<u32>(ax % d) & 0xff) << 8) | (<u32>q & 0xff));
    }
    return;
  }
  if (size == 1) {
    const ax = reg16(0);
    if (op == 4) {
      const p = ax * src;
      setReg16(0, p);
      setReg16(2, p >> 16);
      overflowFlags(p > 0xffff);
    } else if (op == 5) {
      const p = <i32><i16>ax * <i32><i16>src;
      setReg16(0, <u32>p);
      setReg16(2, <u32>p >> 16);
      overflowFlags(p != <i32><i16>p);
    } else if (op == 6) {
      const n = (reg16(2) << 16) | ax;
      if (src == 0 || n / src > 0xffff) {
        raiseNoCode(EXC_DE);
        return;
      }
      setReg16(0, n / src);
      setReg16(2, n % src);
    } else {
      const n = <i32>((reg16(2) << 16) | ax);
      const d = <i32><i16>src;
      if (d == 0) {
        raiseNoCode(EXC_DE);
        return;
      }
      // -2^31 / -1 would trap in wasm: its quotient is out of range anyway.
      if (d == -1 && n == i32.MIN_VALUE) {
        raiseNoCode(EXC_DE);
        return;
      }
      const q = n / d;
      if (q < -32768 || q > 32767) {
        raiseNoCode(EXC_DE);
        return;
      }
      setReg16(0, <u32>q);
      setReg16(2, <u32>(n % d));
    }
    return;
  }
  const eax = reg32(0);
  if (op == 4) {
    const p = <u64>eax * <u64>src;
    setReg32(0, <u32>p);
    setReg32(2, <u32>(p >> 32));
    overflowFlags((p >> 32) != 0);
  } else if (op == 5) {
    const p = <i64><i32>eax * <i64><i32>src;
    setReg32(0, <u32>p);
    setReg32(2, <u32>(p >> 32));
    overflowFlags(p != <i64><i32>p);
  } else if (op == 6) {
    const n = (<u64>reg32(2) << 32) | <u64>eax;
    if (src == 0 || n / <u64>src > 0xffffffff) {
      raiseNoCode(EXC_DE);
      return;
    }
    setReg32(0, <u32>(n / <u64>src));
    setReg32(2, <u32>(n % <u64>src));
  } else {
    const n = <i64>((<u64>reg32(2) << 32) | <u64>eax);
    const d = <i64><i32>src;
    if (d == 0) {
      raiseNoCode(EXC_DE);
      return;
    }
    if (d == -1 && n == i64.MIN_VALUE) {
      raiseNoCode(EXC_DE);
      return;
    }
    const q = n / d;
    if (q < -2147483648 || q > 2147483647) {
      raiseNoCode(EXC_DE);
      return;
    }
    setReg32(0, <u32>q);
    setReg32(2, <u32>(n % d));
  }
}

/** CF and OF after a multiplication: set when the result needs the upper half. SF ZF AF PF are undefined and kept. */
// @ts-ignore: decorator
@inline export function overflowFlags(overflow: bool): void {
  putCarryOverflow(overflow ? FLAG_CF | FLAG_OF : 0);
}

/** Two- and three-operand IMUL: dest = src * imm, truncated; CF = OF = the product did not fit. */
export function imulTruncating(size: u32, a: u32, b: u32): u32 {
  if (size == 2) {
    const p = <i64><i32>a * <i64><i32>b;
    overflowFlags(p != <i64><i32>p);
    return <u32>p;
  }
  const p = <i32><i16>a * <i32><i16>b;
  overflowFlags(p != <i32><i16>p);
  return <u32>p & 0xffff;
}

/** FE: INC/DEC r/m8; FF: INC DEC CALL CALLF JMP JMPF PUSH. */
function group45(opcode: u32): void {
  decodeModrm();
  if (faulted()) return;
  const op = regf;
  if (lockFault(op < 2)) return;
  if (opcode == 0xfe && op >= 2) {
    raiseNoCode(EXC_UD);
    return;
  }
  const size: u32 = opcode == 0xfe ? 0 : vsize();
  switch (op) {
    case 0:
    case 1: {
      const a = readModify(size);
      if (faulted()) return;
      writeModify(size, incDec(a, op == 1, signBit(size)));
      return;
    }
    case 2: { // CALL near indirect
      const target = readE(size);
      if (faulted()) return;
      callNear(target);
      return;
    }
    case 4: { // JMP near indirect
      const target = readE(size);
      if (faulted()) return;
      branchNear(target);
      return;
    }
    case 3:
    case 5: { // CALL far / JMP far through memory
      if (!requireMemory()) return;
      const offset = readMem(size, eaSeg, eaOff);
      if (faulted()) return;
      const selAt = addrSize32 ? eaOff + (opSize32 ? 4 : 2) : (eaOff + (opSize32 ? 4 : 2)) & 0xffff;
      const sel = readMem16(eaSeg, selAt);
      if (faulted()) return;
      const ok = op == 3 ? farCall(sel, offset, sequentialEip()) : farJump(sel, offset, sequentialEip());
      if (ok) jumpTo(eip());
      return;
    }
    case 6: { // PUSH r/m
      const v = readE(size);
      if (faulted()) return;
      pushV(v);
      return;
    }
    default:
      raiseNoCode(EXC_UD);
  }
}

// ---------------------------------------------------------------- flags and stack instructions

/** PUSHF/PUSHFD: VM and RF read as 0 in the image; #GP(0) in virtual-8086 mode below IOPL 3. */
function pushFlags(): void {
  const f = eflags();
  if ((f & FLAG_VM) != 0 && (f & FLAG_IOPL) != FLAG_IOPL) {
    raise(EXC_GP, 0);
    return;
  }
  pushV(opSize32 ? f & ~(FLAG_VM | FLAG_RF) : f & 0xffff);
}

/**
 * POPF/POPFD (SDM Vol. 2A "POPF"): what the image may change depends on the
 * mode, CPL and IOPL; IF and IOPL are kept silently where they may not be
 * changed, VM VIF VIP are never changed, RF is cleared.
 */
function popFlags(): void {
  const f = eflags();
  const v86 = (f & FLAG_VM) != 0;
  const iopl = (f >> 12) & 3;
  if (v86 && iopl != 3) {
    raise(EXC_GP, 0);
    return;
  }
  const v = pop(opSize32 ? 2 : 1);
  if (faulted()) return;
  let mask: u32 = opSize32 ? 0x00247fd5 : 0x7fd5; // CF PF AF ZF SF TF IF DF OF IOPL NT (AC ID)
  if (v86) mask &= ~FLAG_IOPL;
  else if (protectedMode() && cpl() != 0) {
    mask &= ~FLAG_IOPL;
    if (cpl() > iopl) mask &= ~FLAG_IF;
  }
  let n = (f & ~mask) | (v & mask);
  if (opSize32) n &= ~FLAG_RF;
  setEflags(n);
  refreshAlignmentCheck();
}

/** PUSHA/PUSHAD: all eight registers, ESP as it was before the first push. */
function pushAll(): void {
  const size = vsize();
  const bytes: u32 = opSize32 ? 4 : 2;
  if (!probePushes(8, bytes)) return;
  const top = stackTop();
  for (let r: u32 = 0; r < 8; r++) {
    const at = stackOffset(top, 0 - (r + 1) * bytes);
    writeMem(size, SEG_SS, at, getReg(size, r));
    if (faulted()) return;
  }
  setStackTop(stackOffset(top, 0 - 8 * bytes));
}

/** POPA/POPAD: EDI ESI EBP (ESP skipped) EBX EDX ECX EAX. */
function popAll(): void {
  const size = vsize();
  const bytes: u32 = opSize32 ? 4 : 2;
  const top = stackTop();
  // Read all eight first; registers change only when every read succeeded.
  for (let i: u32 = 0; i < 8; i++) {
    store<u32>(popBuffer + (<usize>i << 2), readMem(size, SEG_SS, stackOffset(top, i * bytes)));
    if (faulted()) return;
  }
  for (let i: u32 = 0; i < 8; i++) {
    const r = 7 - i;
    if (r != 4) setReg(size, r, load<u32>(popBuffer + (<usize>i << 2)));
  }
  setStackTop(stackOffset(top, 8 * bytes));
}

const popBuffer = memory.data(32);

/** ENTER imm16, imm8 (SDM Vol. 2A "ENTER"): nesting level taken mod 32. */
function enter(): void {
  const alloc = fetch16();
  const level = fetch8() & 31;
  if (faulted()) return;
  const size = vsize();
  const bytes: u32 = opSize32 ? 4 : 2;
  const top = stackTop();
  const pushes: u32 = level == 0 ? 1 : level + 1;
  if (!probePushes(pushes, bytes)) return;
  const frameTemp = stackOffset(top, 0 - bytes);
  // The outer frame pointers are read one by one between the pushes, so a
  // read may see what an earlier push wrote: first make sure every read can
  // be made, then copy in order.
  const outer = stack32() ? reg32(5) : reg16(5);
  let bp = outer;
  for (let i: u32 = 1; i < level; i++) {
    bp = stack32() ? bp - bytes : (bp - bytes) & 0xffff;
    readMem(size, SEG_SS, bp);
    if (faulted()) return;
  }
  const finalTop = stackOffset(top, 0 - pushes * bytes - alloc);
  // The processor touches the final stack top as a write (#SS or #PF there).
  if (!probeWriteAt(finalTop, bytes)) return;
  writeMem(size, SEG_SS, frameTemp, getReg(size, 5));
  bp = outer;
  for (let i: u32 = 1; i < level; i++) {
    bp = stack32() ? bp - bytes : (bp - bytes) & 0xffff;
    const v = readMem(size, SEG_SS, bp);
    writeMem(size, SEG_SS, stackOffset(frameTemp, 0 - i * bytes), v);
  }
  if (level > 0) writeMem(size, SEG_SS, stackOffset(frameTemp, 0 - level * bytes), frameTemp);
  if (faulted()) return;
  setReg(size, 5, frameTemp);
  setStackTop(finalTop);
}

function probeWriteAt(off: u32, bytes: u32): bool {
  const v = readMem(bytes == 4 ? 2 : 1, SEG_SS, off);
  if (faulted()) return false;
  writeMem(bytes == 4 ? 2 : 1, SEG_SS, off, v);
  return !faulted();
}

/** LEAVE: ESP = EBP, then pop EBP. */
function leave(): void {
  const size = vsize();
  const frame = stack32() ? reg32(5) : reg16(5);
  const v = readMem(size, SEG_SS, frame);
  if (faulted()) return;
  setStackTop(stackOffset(frame, opSize32 ? 4 : 2));
  setReg(size, 5, v);
}

/** CLI and STI: IF changes only at CPL <= IOPL (IOPL 3 in virtual-8086 mode), else #GP(0). */
function setInterruptFlag(on: bool): void {
  const f = eflags();
  if (protectedMode()) {
    const iopl = (f >> 12) & 3;
    const allowed = (f & FLAG_VM) != 0 ? iopl == 3 : cpl() <= iopl;
    if (!allowed) {
      raise(EXC_GP, 0);
      return;
    }
  }
  if (on) {
    if ((f & FLAG_IF) == 0) D.leaveShadow(D.SHADOW_STI);
    setEflags(f | FLAG_IF);
  } else {
    setEflags(f & ~FLAG_IF);
  }
}

/** IN and OUT with the port in an immediate (E4-E7) or DX (EC-EF). */
function inOut(opcode: u32): void {
  const port = opcode < 0xe8 ? fetch8() : reg16(2);
  if (faulted()) return;
  const size: u32 = (opcode & 1) == 0 ? 0 : vsize();
  const bytes: u32 = <u32>1 << size;
  if (!ioPermitted(port, bytes)) return;
  if ((opcode & 2) == 0) {
    const v = portIn(port, bytes);
    if (faulted()) return;
    setReg(size, 0, v);
  } else {
    portOut(port, bytes, getReg(size, 0));
  }
}

/** LOOPNE LOOPE LOOP JCXZ: the count is CX or ECX by the address size. */
function loopFamily(opcode: u32): void {
  const rel = fetchS8();
  if (faulted()) return;
  const count = addrSize32 ? reg32(1) : reg16(1);
  if (opcode == 0xe3) {
    if (count == 0) branchNear(sequentialEip() + rel);
    return;
  }
  const left = addrSize32 ? count - 1 : (count - 1) & 0xffff;
  let take = left != 0;
  if (opcode == 0xe0) take = take && (eflags() & FLAG_ZF) == 0;
  else if (opcode == 0xe1) take = take && (eflags() & FLAG_ZF) != 0;
  if (take && !branchNear(sequentialEip() + rel)) return;
  if (addrSize32) setReg32(1, left);
  else setReg16(1, left);
}

// ---------------------------------------------------------------- the one-byte map

/** Decodes and executes one instruction at CS:EIP (inlined into the run loop, its one caller). */
// @ts-ignore: decorator
@inline export function execute(): void {
  const opcode = decodePrefixes();
  if (faulted()) return;
  if (lockPrefix && !lockable(opcode)) {
    raiseNoCode(EXC_UD);
    return;
  }
  if (opcode < 0x40 && (opcode & 7) < 6) {
    aluRow(opcode);
    return;
  }
  switch (opcode) {
    case 0x06: pushV(segSelector(SEG_ES)); return;
    case 0x07: popSegment(SEG_ES); return;
    case 0x0e: pushV(segSelector(SEG_CS)); return;
    case 0x0f: execute0f(); return;
    case 0x16: pushV(segSelector(SEG_SS)); return;
    case 0x17: popSegment(SEG_SS); return;
    case 0x1e: pushV(segSelector(SEG_DS)); return;
    case 0x1f: popSegment(SEG_DS); return;
    case 0x27: daa(); return;
    case 0x2f: das(); return;
    case 0x37: aaaAas(false); return;
    case 0x3f: aaaAas(true); return;
    case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
    case 0x48: case 0x49: case 0x4a: case 0x4b: case 0x4c: case 0x4d: case 0x4e: case 0x4f: {
      const size = vsize();
      const r = opcode & 7;
      setReg(size, r, incDec(getReg(size, r), opcode >= 0x48, signBit(size)));
      return;
    }
    case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55: case 0x56: case 0x57:
      pushV(getReg(vsize(), opcode & 7));
      return;
    case 0x58: case 0x59: case 0x5a: case 0x5b: case 0x5c: case 0x5d: case 0x5e: case 0x5f: {
      const size = vsize();
      const v = pop(size);
      if (faulted()) return;
      setReg(size, opcode & 7, v);
      return;
    }
    case 0x60: pushAll(); return;
    case 0x61: popAll(); return;
    case 0x62: { // BOUND
      decodeModrm();
      if (faulted() || !requireMemory()) return;
      const size = vsize();
      const lower = readMem(size, eaSeg, eaOff);
      if (faulted()) return;
      const upperAt = addrSize32 ? eaOff + (opSize32 ? 4 : 2) : (eaOff + (opSize32 ? 4 : 2)) & 0xffff;
      const upper = readMem(size, eaSeg, upperAt);
      if (faulted()) return;
      const index = getReg(size, regf);
      const outside = size == 2
        ? <i32>index < <i32>lower || <i32>index > <i32>upper
        : <i32><i16>index < <i32><i16>lower || <i32><i16>index > <i32><i16>upper;
      if (outside) raiseNoCode(EXC_BR);
      return;
    }
    case 0x63: { // ARPL
      if (!protectedMode() || v86Mode()) {
        raiseNoCode(EXC_UD);
        return;
      }
      decodeModrm();
      if (faulted()) return;
      const dest = readModify(1);
      if (faulted()) return;
      const src = reg16(regf);
      if ((dest & 3) < (src & 3)) {
        putFlags(FLAG_ZF, FLAG_ZF);
        writeModify(1, (dest & ~3) | (src & 3));
      } else {
        putFlags(FLAG_ZF, 0);
      }
      return;
    }
    case 0x68: {
      const v = fetchImmV();
      if (faulted()) return;
      pushV(v);
      return;
    }
    case 0x69:
    case 0x6b: { // IMUL Gv, Ev, imm
      decodeModrm();
      if (faulted()) return;
      const size = vsize();
      const imm = opcode == 0x69 ? fetchImmV() : fetchS8();
      if (faulted()) return;
      const a = readE(size);
      if (faulted()) return;
      setReg(size, regf, imulTruncating(size, a, imm));
      return;
    }
    case 0x6a: {
      const v = fetchS8();
      if (faulted()) return;
      pushV(v);
      return;
    }
    case 0x6c: case 0x6d: case 0x6e: case 0x6f:
    case 0xa4: case 0xa5: case 0xa6: case 0xa7:
    case 0xaa: case 0xab: case 0xac: case 0xad: case 0xae: case 0xaf:
      stringOp(opcode);
      return;
    case 0x70: case 0x71: case 0x72: case 0x73: case 0x74: case 0x75: case 0x76: case 0x77:
    case 0x78: case 0x79: case 0x7a: case 0x7b: case 0x7c: case 0x7d: case 0x7e: case 0x7f: {
      const rel = fetchS8();
      if (faulted()) return;
      if (condition(opcode & 15)) branchNear(sequentialEip() + rel);
      return;
    }
    case 0x80: case 0x81: case 0x82: case 0x83: group1(opcode); return;
    case 0x84:
    case 0x85: { // TEST Ev, Gv
      decodeModrm();
      if (faulted()) return;
      const size: u32 = opcode == 0x84 ? 0 : vsize();
      const a = readE(size);
      if (faulted()) return;
      logicFlags(a & getReg(size, regf), signBit(size));
      return;
    }
    case 0x86:
    case 0x87: { // XCHG Ev, Gv
      decodeModrm();
      if (faulted()) return;
      const size: u32 = opcode == 0x86 ? 0 : vsize();
      if (lockFault(true)) return;
      const a = readModify(size);
      if (faulted()) return;
      const b = getReg(size, regf);
      writeModify(size, b);
      if (faulted()) return;
      setReg(size, regf, a);
      return;
    }
    case 0x88:
    case 0x89: {
      decodeModrm();
      if (faulted()) return;
      const size: u32 = opcode == 0x88 ? 0 : vsize();
      writeE(size, getReg(size, regf));
      return;
    }
    case 0x8a:
    case 0x8b: {
      decodeModrm();
      if (faulted()) return;
      const size: u32 = opcode == 0x8a ? 0 : vsize();
      const v = readE(size);
      if (faulted()) return;
      setReg(size, regf, v);
      return;
    }
    case 0x8c: { // MOV Ev, Sreg
      decodeModrm();
      if (faulted()) return;
      if (regf > 5) {
        raiseNoCode(EXC_UD);
        return;
      }
      const sel = segSelector(regf);
      if (mod == 3) setReg(vsize(), rm, sel);
      else writeMem16(eaSeg, eaOff, sel);
      return;
    }
    case 0x8d: { // LEA
      decodeModrm();
      if (faulted() || !requireMemory()) return;
      setReg(vsize(), regf, eaOff);
      return;
    }
    case 0x8e: { // MOV Sreg, Ew
      decodeModrm();
      if (faulted()) return;
      if (regf > 5 || regf == SEG_CS) {
        raiseNoCode(EXC_UD);
        return;
      }
      const sel = mod == 3 ? reg16(rm) : readMem16(eaSeg, eaOff);
      if (faulted()) return;
      if (!loadDataSegment(regf, sel)) return;
      if (regf == SEG_SS) D.leaveShadow(D.SHADOW_MOV_SS);
      return;
    }
    case 0x8f: { // POP Ev: the address is computed with ESP already incremented
      const size = vsize();
      const bytes: u32 = opSize32 ? 4 : 2;
      const savedEsp = reg32(4);
      setStackTop(stackOffset(stackTop(), bytes));
      decodeModrm();
      setReg32(4, savedEsp);
      if (faulted()) return;
      if (regf != 0) {
        raiseNoCode(EXC_UD);
        return;
      }
      const v = readStack(size, 0);
      if (faulted()) return;
      if (mod == 3) {
        setStackTop(stackOffset(stackTop(), bytes));
        setReg(size, rm, v);
        return;
      }
      writeMem(size, eaSeg, eaOff, v);
      if (faulted()) return;
      setStackTop(stackOffset(stackTop(), bytes));
      return;
    }
    case 0x90: return;
    case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97: {
      const size = vsize();
      const r = opcode & 7;
      const a = getReg(size, 0);
      setReg(size, 0, getReg(size, r));
      setReg(size, r, a);
      return;
    }
    case 0x98: // CBW / CWDE
      if (opSize32) setReg32(0, <u32><i32><i16>reg16(0));
      else setReg16(0, <u32><i32><i8>reg8(0));
      return;
    case 0x99: // CWD / CDQ
      if (opSize32) setReg32(2, <u32>(<i32>reg32(0) >> 31));
      else setReg16(2, <u32>(<i32><i16>reg16(0) >> 15));
      return;
    case 0x9a: { // CALL ptr16:16/32
      const offset = fetchImmV();
      const sel = fetch16();
      if (faulted()) return;
      if (farCall(sel, offset, sequentialEip())) jumpTo(eip());
      return;
    }
    case 0x9b: // WAIT: #NM when MP and TS are both set
      if ((cr0() & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS)) raiseNoCode(EXC_NM);
      return;
    case 0x9c: pushFlags(); return;
    case 0x9d: popFlags(); return;
    case 0x9e: putFlags(0xd5, reg8(4) & 0xd5); return; // SAHF
    case 0x9f: setReg8(4, (eflags() & 0xd5) | 2); return; // LAHF
    case 0xa0: case 0xa1: case 0xa2: case 0xa3: { // MOV with a memory offset
      const off = addrSize32 ? D.fetch32() : fetch16();
      if (faulted()) return;
      const size: u32 = (opcode & 1) == 0 ? 0 : vsize();
      if (opcode < 0xa2) {
        const v = readMem(size, dataSeg(), off);
        if (faulted()) return;
        setReg(size, 0, v);
      } else {
        writeMem(size, dataSeg(), off, getReg(size, 0));
      }
      return;
    }
    case 0xa8:
    case 0xa9: {
      const size: u32 = opcode == 0xa8 ? 0 : vsize();
      const imm = size == 0 ? fetch8() : fetchImmV();
      if (faulted()) return;
      logicFlags(getReg(size, 0) & imm, signBit(size));
      return;
    }
    case 0xb0: case 0xb1: case 0xb2: case 0xb3: case 0xb4: case 0xb5: case 0xb6: case 0xb7: {
      const v = fetch8();
      if (faulted()) return;
      setReg8(opcode & 7, v);
      return;
    }
    case 0xb8: case 0xb9: case 0xba: case 0xbb: case 0xbc: case 0xbd: case 0xbe: case 0xbf: {
      const v = fetchImmV();
      if (faulted()) return;
      setReg(vsize(), opcode & 7, v);
      return;
    }
    case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3: group2(opcode); return;
    case 0xc2:
    case 0xc3: { // RET near
      const imm: u32 = opcode == 0xc2 ? fetch16() : 0;
      if (faulted()) return;
      const target = readStack(opSize32 ? 2 : 1, 0);
      if (faulted()) return;
      if (!branchNear(target)) return;
      setStackTop(stackOffset(stackTop(), (opSize32 ? 4 : 2) + imm));
      return;
    }
    case 0xc4: loadFarPointer(SEG_ES); return;
    case 0xc5: loadFarPointer(SEG_DS); return;
    case 0xc6:
    case 0xc7: { // MOV Ev, imm
      decodeModrm();
      if (faulted()) return;
      const size: u32 = opcode == 0xc6 ? 0 : vsize();
      const imm = size == 0 ? fetch8() : fetchImmV();
      if (faulted()) return;
      if (regf != 0) {
        raiseNoCode(EXC_UD);
        return;
      }
      writeE(size, imm);
      return;
    }
    case 0xc8: enter(); return;
    case 0xc9: leave(); return;
    case 0xca:
    case 0xcb: { // RET far
      const imm: u32 = opcode == 0xca ? fetch16() : 0;
      if (faulted()) return;
      if (farReturn(imm)) jumpTo(eip());
      return;
    }
    case 0xcc: softwareInterrupt(3, EVENT_SOFT_EXCEPTION); return;
    case 0xcd: {
      const vector = fetch8();
      if (faulted()) return;
      softwareInterrupt(vector, EVENT_SOFTWARE);
      return;
    }
    case 0xce:
      if ((eflags() & FLAG_OF) != 0) softwareInterrupt(4, EVENT_SOFT_EXCEPTION);
      return;
    case 0xcf: interruptReturnInsn(); return;
    case 0xd4: {
      const base = fetch8();
      if (faulted()) return;
      if (base == 0) raiseNoCode(EXC_DE);
      else aam(base);
      return;
    }
    case 0xd5: {
      const base = fetch8();
      if (faulted()) return;
      aad(base);
      return;
    }
    case 0xd6: setReg8(0, (eflags() & FLAG_CF) != 0 ? 0xff : 0); return; // SALC
    case 0xd7: { // XLAT
      const off = addrSize32 ? reg32(3) + reg8(0) : (reg16(3) + reg8(0)) & 0xffff;
      const v = readMem8(dataSeg(), off);
      if (faulted()) return;
      setReg8(0, v);
      return;
    }
    case 0xd8: case 0xd9: case 0xda: case 0xdb: case 0xdc: case 0xdd: case 0xde: case 0xdf:
      // x87 escape: no FPU (DESIGN.md): #NM when CR0.EM or CR0.TS says so, else #UD.
      decodeModrm();
      if (faulted()) return;
      if ((cr0() & (CR0_EM | CR0_TS)) != 0) raiseNoCode(EXC_NM);
      else raiseNoCode(EXC_UD);
      return;
    case 0xe0: case 0xe1: case 0xe2: case 0xe3: loopFamily(opcode); return;
    case 0xe4: case 0xe5: case 0xe6: case 0xe7: case 0xec: case 0xed: case 0xee: case 0xef:
      inOut(opcode);
      return;
    case 0xe8: {
      const rel = fetchImmV();
      if (faulted()) return;
      callNear(sequentialEip() + rel);
      return;
    }
    case 0xe9: {
      const rel = fetchImmV();
      if (faulted()) return;
      branchNear(sequentialEip() + rel);
      return;
    }
    case 0xea: { // JMP ptr16:16/32
      const offset = fetchImmV();
      const sel = fetch16();
      if (faulted()) return;
      if (farJump(sel, offset, sequentialEip())) jumpTo(eip());
      return;
    }
    case 0xeb: {
      const rel = fetchS8();
      if (faulted()) return;
      branchNear(sequentialEip() + rel);
      return;
    }
    case 0xf1: softwareInterrupt(1, EVENT_ICEBP); return;
    case 0xf4: // HLT
      if (requireCpl0()) D.requestWork(D.WORK_HALT);
      return;
    case 0xf5: setEflags(eflags() ^ FLAG_CF); return;
    case 0xf6: case 0xf7: group3(opcode); return;
    case 0xf8: setEflags(eflags() & ~FLAG_CF); return;
    case 0xf9: setEflags(eflags() | FLAG_CF); return;
    case 0xfa: setInterruptFlag(false); return;
    case 0xfb: setInterruptFlag(true); return;
    case 0xfc: setControlFlags(controlFlags() & ~(<u32>1 << 10)); return;
    case 0xfd: setControlFlags(controlFlags() | (<u32>1 << 10)); return;
    case 0xfe: case 0xff: group45(opcode); return;
    default:
      raiseNoCode(EXC_UD);
  }
}

/** One-byte opcodes that accept LOCK in some form (the form itself is checked after ModRM). */
function lockable(opcode: u32): bool {
  if (opcode < 0x38 && opcode != 0x0f) return (opcode & 6) == 0; // 00 01 08 09 10 11 18 19 20 21 28 29 30 31
  switch (opcode) {
    case 0x0f: case 0x80: case 0x81: case 0x82: case 0x83: case 0x86: case 0x87:
    case 0xf6: case 0xf7: case 0xfe: case 0xff:
      return true;
  }
  return false;
}

