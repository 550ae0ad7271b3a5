// core/state.ts — reading and writing the architectural state in place.
//
// The registers live in linear memory at the offsets of core/layout.ts; these
// inline accessors are the only way the rest of the core touches them, so a
// register access compiles to one load or store at a constant address.
// Register numbers are the SDM's (Vol. 2A 2.1.5, Table 2-1): 0 eax/ax/al,
// 1 ecx, 2 edx, 3 ebx, 4 esp/sp/ah, 5 ebp/bp/ch, 6 esi/si/dh, 7 edi/di/bh.

import {
  REG_EAX, REG_EIP, REG_EFLAGS, REG_CR0, REG_CR2, REG_CR3, REG_CR4, REG_CPL,
  SEG_BASE, SEG_RECORD_SIZE, SEG_SELECTOR, SEG_BASE_ADDR, SEG_LIMIT, SEG_ATTR, SEG_CS,
} from "./layout";
import { dropLazyFlags, lazyKind, materializeFlags } from "./flags";

// EFLAGS bits (SDM Vol. 1 3.4.3).
export const FLAG_CF: u32 = 1 << 0;
export const FLAG_PF: u32 = 1 << 2;
export const FLAG_AF: u32 = 1 << 4;
export const FLAG_ZF: u32 = 1 << 6;
export const FLAG_SF: u32 = 1 << 7;
export const FLAG_TF: u32 = 1 << 8;
export const FLAG_IF: u32 = 1 << 9;
export const FLAG_DF: u32 = 1 << 10;
export const FLAG_OF: u32 = 1 << 11;
export const FLAG_IOPL: u32 = 3 << 12;
export const FLAG_NT: u32 = 1 << 14;
export const FLAG_RF: u32 = 1 << 16;
export const FLAG_VM: u32 = 1 << 17;
export const FLAG_AC: u32 = 1 << 18;
export const FLAG_VIF: u32 = 1 << 19;
export const FLAG_VIP: u32 = 1 << 20;
export const FLAG_ID: u32 = 1 << 21;

// CR0 and CR4 bits (SDM Vol. 3A 2.5).
export const CR0_PE: u32 = 1 << 0;
export const CR0_MP: u32 = 1 << 1;
export const CR0_EM: u32 = 1 << 2;
export const CR0_TS: u32 = 1 << 3;
export const CR0_ET: u32 = 1 << 4;
export const CR0_NE: u32 = 1 << 5;
export const CR0_WP: u32 = 1 << 16;
export const CR0_AM: u32 = 1 << 18;
export const CR0_NW: u32 = 1 << 29;
export const CR0_CD: u32 = 1 << 30;
export const CR0_PG: u32 = 1 << 31;
export const CR4_VME: u32 = 1 << 0;
export const CR4_PVI: u32 = 1 << 1;
export const CR4_TSD: u32 = 1 << 2;
export const CR4_DE: u32 = 1 << 3;
export const CR4_PSE: u32 = 1 << 4;
export const CR4_PAE: u32 = 1 << 5;
export const CR4_PGE: u32 = 1 << 7;

// @ts-ignore: decorator
@inline export function reg32(r: i32): u32 {
  return load<u32>(REG_EAX + (r << 2));
}

// @ts-ignore: decorator
@inline export function setReg32(r: i32, v: u32): void {
  store<u32>(REG_EAX + (r << 2), v);
}

// @ts-ignore: decorator
@inline export function reg16(r: i32): u32 {
  return <u32>load<u16>(REG_EAX + (r << 2));
}

// @ts-ignore: decorator
@inline export function setReg16(r: i32, v: u32): void {
  store<u16>(REG_EAX + (r << 2), <u16>v);
}

/** 8-bit registers: 0-3 are the low bytes of eax..ebx, 4-7 the second bytes (ah ch dh bh). */
// @ts-ignore: decorator
@inline export function reg8(r: i32): u32 {
  return <u32>load<u8>(REG_EAX + ((r & 3) << 2) + (r >> 2));
}

// @ts-ignore: decorator
@inline export function setReg8(r: i32, v: u32): void {
  store<u8>(REG_EAX + ((r & 3) << 2) + (r >> 2), <u8>v);
}

// @ts-ignore: decorator
@inline export function eip(): u32 {
  return load<u32>(REG_EIP);
}

// @ts-ignore: decorator
@inline export function setEip(v: u32): void {
  store<u32>(REG_EIP, v);
}

/** EFLAGS, every bit exact: the status flags are worked out first if they are lazy (core/flags.ts). */
// @ts-ignore: decorator
@inline export function eflags(): u32 {
  if (lazyKind != 0) materializeFlags();
  return load<u32>(REG_EFLAGS);
}

/**
 * EFLAGS as stored: exact in every bit but the six status flags (CF PF AF
 * ZF SF OF), which may be stale while core/flags.ts holds them lazily. For
 * the control and system bits: TF IF DF IOPL NT RF VM AC ...
 */
// @ts-ignore: decorator
@inline export function controlFlags(): u32 {
  return load<u32>(REG_EFLAGS);
}

/** Writes EFLAGS as stored; bit 1 always reads 1 (SDM Vol. 1 3.4.3). Callers apply privilege rules. */
// @ts-ignore: decorator
@inline export function setEflags(v: u32): void {
  dropLazyFlags();
  store<u32>(REG_EFLAGS, v | 2);
}

/**
 * Writes control bits of EFLAGS: `v` is controlFlags() with some bits
 * other than the status flags changed; lazy status flags stay lazy.
 */
// @ts-ignore: decorator
@inline export function setControlFlags(v: u32): void {
  store<u32>(REG_EFLAGS, v | 2);
}

// @ts-ignore: decorator
@inline export function cr0(): u32 {
  return load<u32>(REG_CR0);
}

// @ts-ignore: decorator
@inline export function cr2(): u32 {
  return load<u32>(REG_CR2);
}

// @ts-ignore: decorator
@inline export function cr3(): u32 {
  return load<u32>(REG_CR3);
}

// @ts-ignore: decorator
@inline export function cr4(): u32 {
  return load<u32>(REG_CR4);
}

// @ts-ignore: decorator
@inline export function cpl(): u32 {
  return load<u32>(REG_CPL);
}

// @ts-ignore: decorator
@inline export function setCpl(v: u32): void {
  store<u32>(REG_CPL, v);
  modeChanged = true;
}

/**
 * Set when CS or CPL changed: the decoder works out again what it derives
 * from them (default sizes, the access kind, the cached code page) before
 * the next instruction (core/decode.ts).
 */
export let modeChanged: bool = true;

// @ts-ignore: decorator
@inline export function noteModeChange(): void {
  modeChanged = true;
}

// @ts-ignore: decorator
@inline export function clearModeChange(): void {
  modeChanged = false;
}

// Segment registers: sreg numbers are layout's SEG_ES..SEG_GS, SEG_LDTR, SEG_TR.

// @ts-ignore: decorator
@inline export function segSelector(sreg: i32): u32 {
  return load<u32>(SEG_BASE + sreg * SEG_RECORD_SIZE + SEG_SELECTOR);
}

// @ts-ignore: decorator
@inline export function segBase(sreg: i32): u32 {
  return load<u32>(SEG_BASE + sreg * SEG_RECORD_SIZE + SEG_BASE_ADDR);
}

/** The limit in bytes (granularity already applied: a 4 GiB flat segment has limit 0xFFFFFFFF). */
// @ts-ignore: decorator
@inline export function segLimit(sreg: i32): u32 {
  return load<u32>(SEG_BASE + sreg * SEG_RECORD_SIZE + SEG_LIMIT);
}

/** Descriptor bits 40-55 shifted down by 8: type/S/DPL/P in bits 0-7, AVL/L/D-B/G in bits 12-15. */
// @ts-ignore: decorator
@inline export function segAttr(sreg: i32): u32 {
  return load<u32>(SEG_BASE + sreg * SEG_RECORD_SIZE + SEG_ATTR);
}

export function setSegment(sreg: i32, selector: u32, base: u32, limit: u32, attr: u32): void {
  if (sreg == SEG_CS) modeChanged = true;
  const rec = SEG_BASE + sreg * SEG_RECORD_SIZE;
  store<u32>(rec + SEG_SELECTOR, selector);
  store<u32>(rec + SEG_BASE_ADDR, base);
  store<u32>(rec + SEG_LIMIT, limit);
  store<u32>(rec + SEG_ATTR, attr);
}

// Segment attribute bits, as segAttr returns them.
export const ATTR_ACCESSED: u32 = 1 << 0;
export const ATTR_WRITABLE: u32 = 1 << 1; // data: writable; code: readable
export const ATTR_EXPAND_DOWN: u32 = 1 << 2; // data: expand-down; code: conforming
export const ATTR_CODE: u32 = 1 << 3;
export const ATTR_S: u32 = 1 << 4; // code or data (not system)
export const ATTR_DPL_SHIFT: u32 = 5;
export const ATTR_PRESENT: u32 = 1 << 7;
export const ATTR_DB: u32 = 1 << 14; // default operand size / big
export const ATTR_G: u32 = 1 << 15;

export function writeCr2(v: u32): void {
  store<u32>(REG_CR2, v);
}

export function writeCr3Raw(v: u32): void {
  store<u32>(REG_CR3, v);
}
