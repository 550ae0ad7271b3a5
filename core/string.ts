// core/string.ts — MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS and their REP forms.
//
// The source is DS:(E)SI (the segment may be overridden), the destination
// ES:(E)DI (never overridden); the address size picks SI/DI/CX or
// ESI/EDI/ECX, and DF the direction (SDM Vol. 2A "MOVS", "REP/REPE/REPNE").
// One call performs one iteration, and each iteration counts as one
// instruction: with a REP prefix the instruction leaves EIP on itself until
// the count runs out (or, for CMPS and SCAS, ZF ends it), so an interrupt,
// an exit or the end of the budget can come between any two iterations and
// execution resumes with the next one, as on hardware (Vol. 3A 6.7, Vol. 2A
// "REP": "the instruction is restartable"). A REP with a zero count does
// nothing but advance EIP. Registers change only after the iteration's
// memory accesses succeeded.

import { REG_ECX, REG_EDI, REG_ESI, SEG_ES } from "./layout";
import { FLAG_DF, FLAG_ZF, controlFlags, eflags, reg8, reg16, reg32, setReg8, setReg16, setReg32 } from "./state";
import { faulted } from "./fault";
import { alu } from "./flags";
import { addrSize32, dataSeg, insnEip, jumpTo, opSize32, repPrefix } from "./decode";
import { readMem, writeMem } from "./segment";
import { probeWrite } from "./stack";
import { ioPermitted, portIn, portOut } from "./io";

// @ts-ignore: decorator
@inline function indexReg(offset: i32): u32 {
  return addrSize32 ? load<u32>(offset) : <u32>load<u16>(offset);
}

// @ts-ignore: decorator
@inline function setIndexReg(offset: i32, v: u32): void {
  if (addrSize32) store<u32>(offset, v);
  else store<u16>(offset, <u16>v);
}

/**
 * One iteration of the string instruction `opcode` (A4-A7, AA-AF, 6C-6F).
 * Returns without changing anything when a fault (or an I/O exit) stopped it.
 */
export function stringOp(opcode: u32): void {
  const size: u32 = (opcode & 1) == 0 ? 0 : opSize32 ? 2 : 1;
  const bytes: u32 = <u32>1 << size;
  const rep = repPrefix != 0;
  let count: u32 = 0;
  if (rep) {
    count = indexReg(REG_ECX);
    if (count == 0) return;
  }
  const step: u32 = (controlFlags() & FLAG_DF) != 0 ? 0 - bytes : bytes;
  const si = indexReg(REG_ESI);
  const di = indexReg(REG_EDI);
  let advanceSi = false;
  let advanceDi = false;
  let compares = false;
  switch (opcode) {
    case 0xa4:
    case 0xa5: { // MOVS
      const v = readMem(size, dataSeg(), si);
      if (faulted()) return;
      writeMem(size, SEG_ES, di, v);
      if (faulted()) return;
      advanceSi = true;
      advanceDi = true;
      break;
    }
    case 0xa6:
    case 0xa7: { // CMPS: compares [si] with [di]
      const a = readMem(size, dataSeg(), si);
      if (faulted()) return;
      const b = readMem(size, SEG_ES, di);
      if (faulted()) return;
      alu(7, a, b, size == 2 ? 31 : size == 1 ? 15 : 7);
      advanceSi = true;
      advanceDi = true;
      compares = true;
      break;
    }
    case 0xaa:
    case 0xab: // STOS
      writeMem(size, SEG_ES, di, accumulator(size));
      if (faulted()) return;
      advanceDi = true;
      break;
    case 0xac:
    case 0xad: { // LODS
      const v = readMem(size, dataSeg(), si);
      if (faulted()) return;
      setAccumulator(size, v);
      advanceSi = true;
      break;
    }
    case 0xae:
    case 0xaf: { // SCAS: compares the accumulator with [di]
      const b = readMem(size, SEG_ES, di);
      if (faulted()) return;
      alu(7, accumulator(size), b, size == 2 ? 31 : size == 1 ? 15 : 7);
      advanceDi = true;
      compares = true;
      break;
    }
    case 0x6c:
    case 0x6d: { // INS
      const port = reg16(2);
      if (!ioPermitted(port, bytes)) return;
      // The destination must be writable before the port is read.
      if (!probeWrite(SEG_ES, di, bytes, !addrSize32)) return;
      const v = portIn(port, bytes);
      if (faulted()) return;
      writeMem(size, SEG_ES, di, v);
      if (faulted()) return;
      advanceDi = true;
      break;
    }
    default: { // OUTS
      const port = reg16(2);
      if (!ioPermitted(port, bytes)) return;
      const v = readMem(size, dataSeg(), si);
      if (faulted()) return;
      portOut(port, bytes, v);
      if (faulted()) return;
      advanceSi = true;
      break;
    }
  }
  if (advanceSi) setIndexReg(REG_ESI, si + step);
  if (advanceDi) setIndexReg(REG_EDI, di + step);
  if (!rep) return;
  count--;
  setIndexReg(REG_ECX, count);
  if (count == 0) return;
  if (compares) {
    const zf = (eflags() & FLAG_ZF) != 0;
    if (repPrefix == 0xf3 ? !zf : zf) return;
  }
  jumpTo(insnEip);
}

// @ts-ignore: decorator
@inline function accumulator(size: u32): u32 {
  return size == 2 ? reg32(0) : size == 1 ? reg16(0) : reg8(0);
}

// @ts-ignore: decorator
@inline function setAccumulator(size: u32, v: u32): void {
  if (size == 2) setReg32(0, v);
  else if (size == 1) setReg16(0, v);
  else setReg8(0, v);
}
