// core/system.ts — system instructions: control, debug and descriptor-table
// registers, model-specific registers, CPUID, the time-stamp counter and
// the fast system call.
//
// Privileged instructions raise #GP(0) outside ring 0 and in virtual-8086
// mode (SDM Vol. 3A 5.9); SGDT, SIDT, SLDT, STR and SMSW run in any ring.
// The descriptor-table instructions that take selectors (LLDT, LTR, LAR,
// LSL, VERR, VERW, ARPL, SLDT, STR) are #UD in real and virtual-8086 mode.
// Writes to CR0, CR3, CR4 and EFER go through core/mmu.ts, which keeps the
// TLB and the PAE PDPTE registers in step with them.
//
// The CPU model is pinned (DESIGN.md): vendor GenuineIntel, family 6 model 3
// stepping 3 (layout CPU_SIGNATURE), the stepping at which SYSENTER is
// honoured (SDM Vol. 2A "SYSENTER": family 6, model 3, stepping 3 and later
// support it). CPUID leaf 1 reports exactly what the core implements: PSE,
// TSC, MSR, PAE, CX8, SEP, PGE, CMOV; no FPU, no VME, no APIC. Leaf
// 0x80000001 reports NX; leaf 0x80000008 a 32-bit physical address width.

import {
  CPU_SIGNATURE, MSR_EFER, MSR_SYSENTER_CS, MSR_SYSENTER_EIP, MSR_SYSENTER_ESP, REG_CR2, REG_DR0, REG_DR6, REG_DR7,
  REG_GDTR_BASE,
  REG_GDTR_LIMIT, REG_IDTR_BASE, REG_IDTR_LIMIT, REG_TSC, SEG_CS, SEG_LDTR, SEG_SS, SEG_TR, SEG_ATTR_UNUSABLE,
} from "./layout";
import {
  CR0_AM, CR0_CD, CR0_EM, CR0_ET, CR0_MP, CR0_NE, CR0_NW, CR0_PE, CR0_PG, CR0_TS, CR0_WP, CR4_PAE, CR4_PGE, CR4_PSE,
  CR4_TSD, FLAG_IF, FLAG_RF, FLAG_VM, cpl, cr0, cr3, cr4, eflags, reg32, segLimit, segSelector, setCpl, setEflags,
  setEip, setReg32, setSegment,
} from "./state";
import { EXC_DB, EXC_GP, EXC_NP, EXC_UD, faulted, raise, raiseNoCode } from "./fault";
import { DR6_BD, DR7_GD, refreshBreakpoints } from "./debug";
import { EFER_NXE, flushTlbPage, writeCr0, writeCr3, writeCr4, writeEfer } from "./mmu";
import {
  descAddr, descDpl, descHi, descLimit, descLo, descPresent, descType, loadCache, protectedMode, readDescriptor,
  refreshAlignmentCheck, v86Mode, writeSystem8,
} from "./segment";
import { invalidateFetch } from "./decode";
import { syncCounters } from "./run";

/** #GP(0) unless at CPL 0 outside virtual-8086 mode (real mode counts as CPL 0). */
export function requireCpl0(): bool {
  if (!protectedMode()) return true;
  if ((eflags() & FLAG_VM) != 0 || cpl() != 0) {
    raise(EXC_GP, 0);
    return false;
  }
  return true;
}

/** #UD in real and virtual-8086 mode (LLDT, LTR, LAR, ...). */
export function requireProtectedMode(): bool {
  if (!protectedMode() || v86Mode()) {
    raiseNoCode(EXC_UD);
    return false;
  }
  return true;
}

// ---------------------------------------------------------------- control registers

/** CR0 bits that exist; ET always reads 1 (SDM Vol. 3A 2.5: P6 hard-wires it). */
const CR0_DEFINED: u32 = CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_NW | CR0_CD | CR0_PG;
/** CR4 bits this CPU supports; setting any other is #GP(0). */
const CR4_DEFINED: u32 = CR4_TSD | CR4_PSE | CR4_PAE | CR4_PGE;

/** MOV CRn, r32 (checks done by the caller: CPL 0, n valid). Raises #GP(0) for invalid values. */
export function writeControlRegister(n: u32, v: u32): void {
  switch (n) {
    case 0: {
      v = (v & CR0_DEFINED) | CR0_ET;
      if (((v & CR0_PG) != 0 && (v & CR0_PE) == 0) || ((v & CR0_NW) != 0 && (v & CR0_CD) == 0)) {
        raise(EXC_GP, 0);
        return;
      }
      if (!writeCr0(v)) raise(EXC_GP, 0);
      break;
    }
    case 2:
      store<u32>(REG_CR2, v);
      break;
    case 3:
      if (!writeCr3(v)) raise(EXC_GP, 0);
      break;
    default: {
      if ((v & ~CR4_DEFINED) != 0) {
        raise(EXC_GP, 0);
        return;
      }
      if (!writeCr4(v)) raise(EXC_GP, 0);
      break;
    }
  }
  invalidateFetch();
  refreshAlignmentCheck();
}

export function readControlRegister(n: u32): u32 {
  switch (n) {
    case 0: return cr0();
    case 2: return load<u32>(REG_CR2);
    case 3: return cr3();
    default: return cr4();
  }
}

/** CLTS. */
export function clearTaskSwitched(): void {
  writeCr0(cr0() & ~CR0_TS);
}

/** LMSW: loads PE, MP, EM, TS from the low bits; PE can be set but not cleared. */
export function loadMachineStatusWord(v: u32): void {
  const old = cr0();
  writeCr0((old & ~(CR0_MP | CR0_EM | CR0_TS)) | (v & (CR0_PE | CR0_MP | CR0_EM | CR0_TS)));
  invalidateFetch();
}

// ---------------------------------------------------------------- debug registers

/** MOV r32, DRn. DR4 and DR5 alias DR6 and DR7 (CR4.DE is not supported). */
export function readDebugRegister(n: u32): u32 {
  if (n == 4) n = 6;
  if (n == 5) n = 7;
  return load<u32>(REG_DR0 + (n << 2));
}

export function writeDebugRegister(n: u32, v: u32): void {
  if (n == 4) n = 6;
  if (n == 5) n = 7;
  if (n == 6) v = (v & 0x0000e00f) | 0xffff0ff0;
  else if (n == 7) v = (v & 0xffff23ff) | 0x400;
  store<u32>(REG_DR0 + (n << 2), v);
  if (n == 7) refreshBreakpoints();
}

/** DR7.GD: a MOV to or from a debug register raises #DB first, with DR6.BD. */
export function debugRegisterGuarded(): bool {
  if ((load<u32>(REG_DR7) & DR7_GD) == 0) return false;
  store<u32>(REG_DR6, load<u32>(REG_DR6) | DR6_BD);
  raiseNoCode(EXC_DB);
  return true;
}

// ---------------------------------------------------------------- CPUID, MSRs, TSC

/** CPUID leaf 1 EDX: PSE TSC MSR PAE CX8 SEP PGE CMOV. */
export const CPUID_1_EDX: u32 = (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 8) | (1 << 11) | (1 << 13) | (1 << 15);
/** CPUID 0x80000001 EDX: NX. */
export const CPUID_80000001_EDX: u32 = 1 << 20;

// The brand string of leaves 0x80000002-4, 48 bytes, NUL-padded.
const BRAND = memory.data<u8>([
  0x78, 0x65, 0x6e, 0x6f, 0x73, 0x63, 0x6f, 0x70, 0x65, 0x20, 0x76, 0x69, 0x72, 0x74, 0x75, 0x61, // "xenoscope virtua"
  0x6c, 0x20, 0x43, 0x50, 0x55, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // "l CPU"
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
]);

function setCpuid(a: u32, b: u32, c: u32, d: u32): void {
  setReg32(0, a);
  setReg32(3, b);
  setReg32(1, c);
  setReg32(2, d);
}

export function cpuid(): void {
  const leaf = reg32(0);
  switch (leaf) {
    case 0:
      setCpuid(1, 0x756e6547, 0x6c65746e, 0x49656e69); // "Genu" "ntel" "ineI"
      return;
    case 0x80000000:
      setCpuid(0x80000008, 0, 0, 0);
      return;
    case 0x80000001:
      setCpuid(0, 0, 0, CPUID_80000001_EDX);
      return;
    case 0x80000002:
    case 0x80000003:
    case 0x80000004: {
      const at = BRAND + ((leaf - 0x80000002) << 4);
      setCpuid(load<u32>(at), load<u32>(at + 4), load<u32>(at + 8), load<u32>(at + 12));
      return;
    }
    case 0x80000005:
    case 0x80000006:
    case 0x80000007:
      setCpuid(0, 0, 0, 0);
      return;
    case 0x80000008:
      setCpuid(0x2020, 0, 0, 0); // 32-bit physical and linear addresses
      return;
    default:
      // Leaf 1, and every leaf past the maximum: Intel answers those with
      // the highest basic leaf (SDM Vol. 2A "CPUID").
      setCpuid(CPU_SIGNATURE, 0, 0, CPUID_1_EDX);
  }
}

/** RDMSR (CPL 0 checked by the caller). Unknown MSRs are #GP(0). */
export function readMsr(): void {
  const index = reg32(1);
  syncCounters();
  let lo: u32;
  let hi: u32 = 0;
  switch (index) {
    case 0x10:
      lo = load<u32>(REG_TSC);
      hi = load<u32>(REG_TSC + 4);
      break;
    case 0x174: lo = load<u32>(MSR_SYSENTER_CS); break;
    case 0x175: lo = load<u32>(MSR_SYSENTER_ESP); break;
    case 0x176: lo = load<u32>(MSR_SYSENTER_EIP); break;
    case 0xc0000080: lo = load<u32>(MSR_EFER); break;
    default:
      raise(EXC_GP, 0);
      return;
  }
  setReg32(0, lo);
  setReg32(2, hi);
}

/** WRMSR (CPL 0 checked by the caller). */
export function writeMsr(): void {
  const index = reg32(1);
  syncCounters();
  const lo = reg32(0);
  const hi = reg32(2);
  switch (index) {
    case 0x10:
      store<u32>(REG_TSC, lo);
      store<u32>(REG_TSC + 4, hi);
      break;
    case 0x174: store<u32>(MSR_SYSENTER_CS, lo & 0xffff); break;
    case 0x175: store<u32>(MSR_SYSENTER_ESP, lo); break;
    case 0x176: store<u32>(MSR_SYSENTER_EIP, lo); break;
    case 0xc0000080:
      // Only NXE exists: long mode and SYSCALL are not part of this CPU.
      if ((lo & ~EFER_NXE) != 0 || hi != 0) {
        raise(EXC_GP, 0);
        return;
      }
      writeEfer(lo);
      invalidateFetch();
      break;
    default:
      raise(EXC_GP, 0);
  }
}

/** RDTSC: #GP(0) outside ring 0 when CR4.TSD is set. The TSC read is the count before this instruction retires. */
export function readTsc(): void {
  if ((cr4() & CR4_TSD) != 0 && protectedMode() && (cpl() != 0 || v86Mode())) {
    raise(EXC_GP, 0);
    return;
  }
  syncCounters();
  setReg32(0, load<u32>(REG_TSC));
  setReg32(2, load<u32>(REG_TSC + 4));
}

// Flat 4 GiB code and stack segments as SYSENTER and SYSEXIT load them:
// present, S, G and D/B set; code execute/read accessed, data read/write accessed.
const FLAT_CODE_ATTR: u32 = 0xc09b;
const FLAT_DATA_ATTR: u32 = 0xc093;

/** SYSENTER (SDM Vol. 2A): to ring 0 at SYSENTER_CS:SYSENTER_EIP with SS = CS + 8. Returns false on #GP. */
export function sysenter(): bool {
  const cs = load<u32>(MSR_SYSENTER_CS) & 0xffff;
  if (!protectedMode() || (cs & 0xfffc) == 0) {
    raise(EXC_GP, 0);
    return false;
  }
  setEflags(eflags() & ~(FLAG_VM | FLAG_IF | FLAG_RF));
  setSegment(SEG_CS, cs & 0xfffc, 0, 0xffffffff, FLAT_CODE_ATTR);
  setSegment(SEG_SS, (cs & 0xfffc) + 8, 0, 0xffffffff, FLAT_DATA_ATTR);
  setCpl(0);
  setReg32(4, load<u32>(MSR_SYSENTER_ESP));
  setEip(load<u32>(MSR_SYSENTER_EIP));
  invalidateFetch();
  refreshAlignmentCheck();
  return true;
}

/** SYSEXIT: to ring 3 at EDX with ESP = ECX, CS = SYSENTER_CS + 16, SS = + 24. */
export function sysexit(): bool {
  const cs = load<u32>(MSR_SYSENTER_CS) & 0xffff;
  if (!protectedMode() || v86Mode() || cpl() != 0 || (cs & 0xfffc) == 0) {
    raise(EXC_GP, 0);
    return false;
  }
  setSegment(SEG_CS, ((cs + 16) & 0xfffc) | 3, 0, 0xffffffff, FLAT_CODE_ATTR | (3 << 5));
  setSegment(SEG_SS, ((cs + 24) & 0xfffc) | 3, 0, 0xffffffff, FLAT_DATA_ATTR | (3 << 5));
  setCpl(3);
  setReg32(4, reg32(1));
  setEip(reg32(2));
  invalidateFetch();
  refreshAlignmentCheck();
  return true;
}

// ---------------------------------------------------------------- descriptor tables

/** LGDT / LIDT from a 6-byte operand already read: a 24-bit base with a 16-bit operand size. */
export function loadTableRegister(idt: bool, limit: u32, base: u32, op32: bool): void {
  if (!op32) base &= 0xffffff;
  store<u32>(idt ? REG_IDTR_BASE : REG_GDTR_BASE, base);
  store<u32>(idt ? REG_IDTR_LIMIT : REG_GDTR_LIMIT, limit & 0xffff);
}

/** LLDT (checks of SDM Vol. 2A "LLDT"; CPL 0 checked by the caller). */
export function loadLdtr(sel: u32): void {
  sel &= 0xffff;
  if ((sel & 0xfffc) == 0) {
    setSegment(SEG_LDTR, sel, 0, 0, SEG_ATTR_UNUSABLE);
    return;
  }
  if ((sel & 4) != 0) {
    raise(EXC_GP, sel & 0xfffc);
    return;
  }
  if (!readDescriptor(sel, EXC_GP, 0)) return;
  if (descType(descHi) != 0x02) {
    raise(EXC_GP, sel & 0xfffc);
    return;
  }
  if (!descPresent(descHi)) {
    raise(EXC_NP, sel & 0xfffc);
    return;
  }
  loadCache(SEG_LDTR, sel, descLo, descHi);
}

/** LTR: loads an available TSS and marks it busy (SDM Vol. 2A "LTR"). */
export function loadTaskRegister(sel: u32): void {
  sel &= 0xffff;
  if ((sel & 0xfffc) == 0) {
    raise(EXC_GP, 0);
    return;
  }
  if ((sel & 4) != 0) {
    raise(EXC_GP, sel & 0xfffc);
    return;
  }
  if (!readDescriptor(sel, EXC_GP, 0)) return;
  const type = descType(descHi);
  if (type != 0x01 && type != 0x09) {
    raise(EXC_GP, sel & 0xfffc);
    return;
  }
  if (!descPresent(descHi)) {
    raise(EXC_NP, sel & 0xfffc);
    return;
  }
  const busy = descHi | (2 << 8);
  writeSystem8(descAddr + 5, (busy >> 8) & 0xff);
  if (faulted()) return;
  loadCache(SEG_TR, sel, descLo, busy);
}

/** The selector of LDTR or TR (SLDT, STR). */
export function tableSelector(tr: bool): u32 {
  return segSelector(tr ? SEG_TR : SEG_LDTR);
}

/**
 * LAR, LSL, VERR, VERW: look a selector up without faulting on it. Returns
 * true (ZF = 1) when the descriptor is valid for the instruction and
 * visible at CPL and RPL; `kind` 0 LAR, 1 LSL, 2 VERR, 3 VERW.
 */
export function probeSelector(sel: u32, kind: i32): bool {
  sel &= 0xffff;
  if ((sel & 0xfffc) == 0) return false;
  if (!selectorInTable(sel)) return false;
  if (!readDescriptor(sel, EXC_GP, 0)) return false;
  const type = descType(descHi);
  const dpl = descDpl(descHi);
  const level = cpl();
  const rpl = sel & 3;
  const conformingCode = (type & 0x1c) == 0x1c;
  if ((type & 0x10) == 0) {
    // System descriptors: LAR accepts TSSs, LDTs and gates; LSL TSSs and LDTs; VERR/VERW none.
    let ok: bool;
    if (kind == 0) ok = type == 1 || type == 2 || type == 3 || type == 4 || type == 5 || type == 9 || type == 0xb || type == 0xc;
    else if (kind == 1) ok = type == 1 || type == 2 || type == 3 || type == 9 || type == 0xb;
    else ok = false;
    return ok && dpl >= level && dpl >= rpl;
  }
  if (kind == 2) {
    // VERR: data, or readable code.
    if ((type & 0x1a) == 0x18) return false;
    return conformingCode || (dpl >= level && dpl >= rpl);
  }
  if (kind == 3) {
    if ((type & 0x1a) != 0x12) return false;
    return dpl >= level && dpl >= rpl;
  }
  return conformingCode || (dpl >= level && dpl >= rpl);
}

/** True when the selector's index is inside its table (so reading it cannot fault on the limit). */
function selectorInTable(sel: u32): bool {
  if ((sel & 4) != 0) {
    if ((segSelector(SEG_LDTR) & 0xfffc) == 0) return false;
    return (sel & 0xfff8) + 7 <= segLimit(SEG_LDTR);
  }
  return (sel & 0xfff8) + 7 <= load<u32>(REG_GDTR_LIMIT);
}

/** LAR's result: the descriptor's second dword masked by 00FFFF00H (the SDM's 00FxFF00H; the x, limit bits 19:16, read as the descriptor holds them). */
export function accessRights(): u32 {
  return descHi & 0x00ffff00;
}

/** LSL's result: the limit in bytes of that descriptor. */
export function segmentLimit(): u32 {
  return descLimit(descLo, descHi);
}

/** INVLPG (CPL 0 checked by the caller). */
export function invalidatePage(linear: u32): void {
  flushTlbPage(linear);
  invalidateFetch();
}

