// core/icache.ts — the decoded-instruction cache.
//
// Decoding is most of what a simple instruction costs: the prefix test,
// the opcode dispatch, ModRM, SIB, displacement and immediate, each byte
// fetched through the code window. Programs spend their time in loops, so
// the core decodes the common instructions once and keeps the result,
// keyed by where the instruction's first byte sits in linear memory (so
// by physical address: the same bytes seen through two mappings are one
// entry, and paging changes need no flush). An entry names a handler here
// and holds the operands already taken apart; running it is a lookup and a
// switch on that handler.
//
// What is cached: the most common instructions of 32-bit code (CS.D = 1)
// with no prefix, whose bytes all lie in the code window that
// core/decode.ts checked against the CS limit, the page's translation and
// its fetch rights; everything else takes the interpreter
// (core/exec.ts). A cacheable instruction always runs through its entry,
// the first time too, so the instruction tests and hardware vectors test
// these handlers as much as the interpreter. The handlers follow the
// interpreter's rule (every check and fault before any change) by calling
// the same operand, flag and stack helpers it does. INT n and IRET are
// cached too, for the system-call round trip: they call the interpreter's
// own code and end a chain of cached instructions, which saves the run
// loop a lookup and a decode for each of them.
//
// Staleness: an entry holds the epoch it was decoded in (core/codepages.ts
// moves to a new one when code is written, and at each run()), so a
// stale entry simply misses.

import { SEG_DS, SEG_SS } from "./layout";
import { reg8, reg32, setEip, setReg8, setReg32 } from "./state";
import { faulted } from "./fault";
import { alu, condition, incDec, logicFlags } from "./flags";
import { shiftGroup } from "./alu";
import * as D from "./decode";
import { readMem8, readMem32, writeMem8, writeMem32 } from "./segment";
import { pop, pushV, readStack, setStackTop, stackOffset, stackTop } from "./stack";
import {
  branchNear, callNear, imulTruncating, interruptReturnInsn, readE, readModify, softwareInterrupt, writeModify,
} from "./exec";
import { EVENT_SOFTWARE } from "./interrupt";
import { traceEvents } from "./trace";
import { ramBase, ramSize } from "./memory";
import { claimCodePage, epoch } from "./codepages";

// Entries: 32 bytes each, direct-mapped by the first byte's address.
const ENTRIES: u32 = 1 << 15;
const table: usize = memory.data(<i32>(ENTRIES << 5), 64);

// An entry's fields.
const E_KEY = 0; // u32: linear-memory address of the first byte
const E_EPOCH = 4; // u32: the epoch it was decoded in
const E_HANDLER = 8; // u8: H_*
const E_LEN = 9; // u8: the instruction's length
const E_REG = 10; // u8: ModRM reg (or the register of a one-byte form)
const E_RM = 11; // u8: ModRM rm of a register operand
const E_OP = 12; // u8: ALU or shift operation, condition code, 1 for DEC
const E_SIZE = 13; // u8: operand size code, 0 (byte) or 2 (dword)
const E_BASE = 14; // u8: base register of a memory operand, NO_REG for none
const E_INDEX = 15; // u8: index register, NO_REG for none
const E_SCALE = 16; // u8: index shift, 0-3
const E_SEG = 17; // u8: the memory operand's segment (DS, or SS for an EBP/ESP base)
const E_DISP = 20; // u32: displacement
const E_IMM = 24; // u32: immediate, or the relative branch displacement

const NO_REG: u32 = 8;

// Handlers. "R" a register, "M" a memory operand, "I" an immediate.
const H_MOV_RR: u8 = 1;
const H_MOV_RI: u8 = 2;
const H_MOV_RM: u8 = 3;
const H_MOV_MR: u8 = 4;
const H_MOV_MI: u8 = 5;
const H_ALU_RR: u8 = 6;
const H_ALU_RI: u8 = 7;
const H_ALU_RM: u8 = 8;
const H_ALU_MR: u8 = 9;
const H_ALU_MI: u8 = 10;
const H_INCDEC_R: u8 = 11;
const H_INCDEC_M: u8 = 12;
const H_PUSH_R: u8 = 13;
const H_PUSH_I: u8 = 14;
const H_POP_R: u8 = 15;
const H_JCC: u8 = 16;
const H_JMP: u8 = 17;
const H_CALL: u8 = 18;
const H_RET: u8 = 19;
const H_LEA: u8 = 20;
const H_TEST_RR: u8 = 21;
const H_TEST_AI: u8 = 22;
const H_SHIFT_RI: u8 = 23;
const H_IMUL_RRI: u8 = 24;
const H_IMUL_RR: u8 = 25;
const H_MOVZX8: u8 = 26;
const H_NOT_R: u8 = 27;
const H_NEG_R: u8 = 28;
const H_NOP: u8 = 29;
const H_MOV_RM8: u8 = 30;
// INT n and IRET, and any handler numbered after them, may change CS, CPL
// or the flags a chain relies on: each ends a chain (runChain).
const H_INT: u8 = 31;
const H_IRET: u8 = 32;

// @ts-ignore: decorator
@inline function entryOf(key: usize): usize {
  return table + (<usize>((<u32>key ^ (<u32>key >>> 15)) & (ENTRIES - 1)) << 5);
}

/**
 * Runs the instruction at CS:EIP from the cache when it is one it caches,
 * decoding and caching it first when needed; false when the interpreter
 * must run it instead (nothing was done then). Called right after
 * decode.ts `beginInstruction`, with the prefix state reset.
 */
export function runCached(): bool {
  if (!D.code32 || D.winEnd == 0 || D.winStart != 0) return false;
  const key = D.winBase;
  const e = entryOf(key);
  if (load<u32>(e, E_KEY) != <u32>key || load<u32>(e, E_EPOCH) != epoch) {
    if (!fill(e, key, D.winEnd)) return false;
  }
  const len = <u32>load<u8>(e, E_LEN);
  // Not cached (length 0), or the same bytes but the page or the CS limit now ends inside them.
  if (len - 1 >= D.winEnd) return false;
  D.startCached(D.insnEip, len);
  execute(e, len);
  return true;
}

/**
 * EIP of the instruction a chain last stopped at because the cache does not
 * run it (0xFFFFFFFF: none): the run loop's next instruction, which it gives
 * the interpreter straight away. Only a hint: the interpreter is right for
 * any instruction.
 */
export let uncachedAt: u32 = 0xffffffff;

// @ts-ignore: decorator
@inline export function forgetUncached(): void {
  uncachedAt = 0xffffffff;
}

/**
 * Runs cached instructions one after another from the one
 * `beginInstruction` started, for at most `budget` of them, and retires
 * each (the caller adds the count to the instruction counters). Returns
 * how many retired. It stops at an instruction it does not cache (0 for
 * the first: nothing was done, the interpreter runs it), at one that
 * faults (left to the caller as the interpreter's would be, EIP on it),
 * when EIP leaves the code window, and after an INT n or IRET, which it
 * runs as its last instruction: those change CS, CPL and flags, and leave
 * the rest of their retiring to the run loop (D.retireWork nonzero). The
 * caller makes sure nothing needs the run loop between these instructions:
 * no interrupt shadow, TF and RF clear, no breakpoints, no instruction
 * trace and no I/O log in use; none of the cached instructions but that
 * last one changes any of that, nor IF, CS or CPL. EIP is kept
 * here and stored when the chain ends: no handler reads it (they use the
 * instruction's start and length, as the interpreter's do).
 */
export function runChain(budget: u32): u32 {
  if (!D.code32 || D.winEnd == 0 || D.winStart != 0) return 0;
  let at = D.insnEip;
  let key = D.winBase;
  let room = D.fetchSpan - (at - D.fetchLo);
  let n: u32 = 0;
  while (true) {
    const window: u32 = room < 15 ? room : 15;
    const e = entryOf(key);
    if (load<u32>(e, E_KEY) != <u32>key || load<u32>(e, E_EPOCH) != epoch) {
      if (!fill(e, key, window)) break;
    }
    const len = <u32>load<u8>(e, E_LEN);
    if (len - 1 >= window) {
      // The run loop hands this one to the interpreter without looking it up again.
      if (len == 0) uncachedAt = at;
      break;
    }
    D.startCached(at, len);
    const handler = load<u8>(e, E_HANDLER);
    if (handler >= H_INT) {
      // INT n and IRET retire as the chain's last instruction; the run loop
      // does the rest of their retiring (D.retireWork). An event traced
      // from here would carry a stale instruction count: the run loop runs
      // the INT then.
      if (handler == H_INT && traceEvents) {
        uncachedAt = at;
        break;
      }
      execute(e, len);
      if (faulted()) break;
      n++;
      at = D.eipSet ? D.nextEip : at + len;
      break;
    }
    execute(e, len);
    if (faulted()) break;
    const next = D.eipSet ? D.nextEip : at + len;
    n++;
    const d = next - D.fetchLo;
    at = next;
    if (n == budget || d >= D.fetchSpan) break;
    key = D.fetchBias + next;
    room = D.fetchSpan - d;
  }
  if (n != 0) setEip(at);
  return n;
}

/** The offset of the entry's memory operand (32-bit addressing). */
// @ts-ignore: decorator
@inline function effectiveOffset(e: usize): u32 {
  let off = load<u32>(e, E_DISP);
  const base = <u32>load<u8>(e, E_BASE);
  if (base != NO_REG) off += reg32(base);
  const index = <u32>load<u8>(e, E_INDEX);
  if (index != NO_REG) off += reg32(index) << load<u8>(e, E_SCALE);
  return off;
}

/** Sets what the interpreter's decoder would have left for the entry's memory operand. */
// @ts-ignore: decorator
@inline function decodeMemory(e: usize, len: u32): void {
  D.setDecoded(len, 0, <u32>load<u8>(e, E_REG), <i32>load<u8>(e, E_SEG), effectiveOffset(e));
}

// @ts-ignore: decorator
@inline function execute(e: usize, len: u32): void {
  const reg = <u32>load<u8>(e, E_REG);
  switch (load<u8>(e, E_HANDLER)) {
    case H_MOV_RR:
      setReg32(reg, reg32(<u32>load<u8>(e, E_RM)));
      return;
    case H_MOV_RI:
      setReg32(reg, load<u32>(e, E_IMM));
      return;
    case H_MOV_RM: {
      const v = readMem32(<i32>load<u8>(e, E_SEG), effectiveOffset(e));
      if (!faulted()) setReg32(reg, v);
      return;
    }
    case H_MOV_RM8: {
      const v = readMem8(<i32>load<u8>(e, E_SEG), effectiveOffset(e));
      if (!faulted()) setReg8(reg, v);
      return;
    }
    case H_MOV_MR:
      if (load<u8>(e, E_SIZE) == 2) writeMem32(<i32>load<u8>(e, E_SEG), effectiveOffset(e), reg32(reg));
      else writeMem8(<i32>load<u8>(e, E_SEG), effectiveOffset(e), reg8(reg));
      return;
    case H_MOV_MI:
      if (load<u8>(e, E_SIZE) == 2) writeMem32(<i32>load<u8>(e, E_SEG), effectiveOffset(e), load<u32>(e, E_IMM));
      else writeMem8(<i32>load<u8>(e, E_SEG), effectiveOffset(e), load<u32>(e, E_IMM));
      return;
    case H_ALU_RR: {
      const op = <u32>load<u8>(e, E_OP);
      const r = alu(op, reg32(reg), reg32(<u32>load<u8>(e, E_RM)), 31);
      if (op != 7) setReg32(reg, r);
      return;
    }
    case H_ALU_RI: {
      const op = <u32>load<u8>(e, E_OP);
      const r = alu(op, reg32(reg), load<u32>(e, E_IMM), 31);
      if (op != 7) setReg32(reg, r);
      return;
    }
    case H_ALU_RM: {
      const b = readMem32(<i32>load<u8>(e, E_SEG), effectiveOffset(e));
      if (faulted()) return;
      const op = <u32>load<u8>(e, E_OP);
      const r = alu(op, reg32(reg), b, 31);
      if (op != 7) setReg32(reg, r);
      return;
    }
    case H_ALU_MR: {
      // The register operand of a byte form is AL..BH, read before the memory one changes.
      const size = <u32>load<u8>(e, E_SIZE);
      const op = <u32>load<u8>(e, E_OP);
      const sb: u32 = size == 2 ? 31 : 7;
      decodeMemory(e, len);
      const src = size == 2 ? reg32(reg) : reg8(reg);
      if (op == 7) {
        const a = readE(size);
        if (!faulted()) alu(7, a, src, sb);
        return;
      }
      const a = readModify(size);
      if (faulted()) return;
      writeModify(size, alu(op, a, src, sb));
      return;
    }
    case H_ALU_MI: {
      const size = <u32>load<u8>(e, E_SIZE);
      const op = <u32>load<u8>(e, E_OP);
      const sb: u32 = size == 2 ? 31 : 7;
      decodeMemory(e, len);
      const imm = load<u32>(e, E_IMM);
      if (op == 7) {
        const a = readE(size);
        if (!faulted()) alu(7, a, imm, sb);
        return;
      }
      const a = readModify(size);
      if (faulted()) return;
      writeModify(size, alu(op, a, imm, sb));
      return;
    }
    case H_INCDEC_R:
      setReg32(reg, incDec(reg32(reg), load<u8>(e, E_OP) != 0, 31));
      return;
    case H_INCDEC_M: {
      const size = <u32>load<u8>(e, E_SIZE);
      decodeMemory(e, len);
      const a = readModify(size);
      if (faulted()) return;
      writeModify(size, incDec(a, load<u8>(e, E_OP) != 0, size == 2 ? 31 : 7));
      return;
    }
    case H_PUSH_R:
      pushV(reg32(reg));
      return;
    case H_PUSH_I:
      pushV(load<u32>(e, E_IMM));
      return;
    case H_POP_R: {
      const v = pop(2);
      if (!faulted()) setReg32(reg, v);
      return;
    }
    case H_JCC:
      if (condition(<u32>load<u8>(e, E_OP))) branchNear(D.insnEip + len + load<u32>(e, E_IMM));
      return;
    case H_JMP:
      branchNear(D.insnEip + len + load<u32>(e, E_IMM));
      return;
    case H_CALL:
      callNear(D.insnEip + len + load<u32>(e, E_IMM));
      return;
    case H_RET: {
      const target = readStack(2, 0);
      if (faulted() || !branchNear(target)) return;
      setStackTop(stackOffset(stackTop(), 4));
      return;
    }
    case H_LEA:
      setReg32(reg, effectiveOffset(e));
      return;
    case H_TEST_RR:
      if (load<u8>(e, E_SIZE) == 2) logicFlags(reg32(reg) & reg32(<u32>load<u8>(e, E_RM)), 31);
      else logicFlags(reg8(reg) & reg8(<u32>load<u8>(e, E_RM)), 7);
      return;
    case H_TEST_AI:
      if (load<u8>(e, E_SIZE) == 2) logicFlags(reg32(0) & load<u32>(e, E_IMM), 31);
      else logicFlags(reg8(0) & load<u32>(e, E_IMM), 7);
      return;
    case H_SHIFT_RI: {
      const count = load<u32>(e, E_IMM);
      const r = shiftGroup(<u32>load<u8>(e, E_OP), reg32(reg), count, 31);
      if ((count & 31) != 0) setReg32(reg, r);
      return;
    }
    case H_IMUL_RRI:
      setReg32(reg, imulTruncating(2, reg32(<u32>load<u8>(e, E_RM)), load<u32>(e, E_IMM)));
      return;
    case H_IMUL_RR:
      setReg32(reg, imulTruncating(2, reg32(reg), reg32(<u32>load<u8>(e, E_RM))));
      return;
    case H_MOVZX8: {
      if (load<u8>(e, E_BASE) == 0xff) {
        setReg32(reg, reg8(<u32>load<u8>(e, E_RM)));
        return;
      }
      const v = readMem8(<i32>load<u8>(e, E_SEG), effectiveOffset(e));
      if (!faulted()) setReg32(reg, v);
      return;
    }
    case H_NOT_R:
      setReg32(reg, ~reg32(reg));
      return;
    case H_NEG_R:
      setReg32(reg, alu(5, 0, reg32(reg), 31));
      return;
    case H_INT:
      softwareInterrupt(load<u32>(e, E_IMM), EVENT_SOFTWARE);
      return;
    case H_IRET:
      interruptReturnInsn();
      return;
    default: // H_NOP
      return;
  }
}

// ---------------------------------------------------------------- decoding into an entry

/** Bytes of the instruction being decoded that may be read (the code window's). */
let avail: u32 = 0;
let at: usize = 0;
let pos: u32 = 0;
/** A byte was wanted past `avail`: the instruction is not cached. */
let short: bool = false;

// @ts-ignore: decorator
@inline function byte(): u32 {
  if (pos >= avail) {
    short = true;
    return 0;
  }
  return <u32>load<u8>(at + pos++);
}

function dword(): u32 {
  if (pos + 4 > avail) {
    short = true;
    return 0;
  }
  const v = load<u32>(at + pos);
  pos += 4;
  return v;
}

// @ts-ignore: decorator
@inline function signedByte(): u32 {
  return <u32><i32><i8>byte();
}

/**
 * Decodes ModRM (and SIB and displacement) into the entry: E_REG, and for a
 * register operand E_RM with E_BASE = 0xff; for a memory one the 32-bit
 * addressing form of SDM Vol. 2A Table 2-2/2-3. Returns mod.
 */
function modrm(e: usize): u32 {
  const m = byte();
  const mod = m >> 6;
  const rm = m & 7;
  store<u8>(e, <u8>((m >> 3) & 7), E_REG);
  if (mod == 3) {
    store<u8>(e, <u8>rm, E_RM);
    store<u8>(e, 0xff, E_BASE);
    return 3;
  }
  let base = NO_REG;
  let index = NO_REG;
  let scale: u32 = 0;
  let disp: u32 = 0;
  let seg = SEG_DS;
  if (rm == 4) {
    const sib = byte();
    const i = (sib >> 3) & 7;
    const b = sib & 7;
    if (i != 4) {
      index = i;
      scale = sib >> 6;
    }
    if (b == 5 && mod == 0) {
      disp = dword();
    } else {
      base = b;
      if (b == 4 || b == 5) seg = SEG_SS;
    }
  } else if (rm == 5 && mod == 0) {
    disp = dword();
  } else {
    base = rm;
    if (rm == 5) seg = SEG_SS;
  }
  if (mod == 1) disp += signedByte();
  else if (mod == 2) disp += dword();
  store<u8>(e, <u8>base, E_BASE);
  store<u8>(e, <u8>index, E_INDEX);
  store<u8>(e, <u8>scale, E_SCALE);
  store<u8>(e, <u8>seg, E_SEG);
  store<u32>(e, disp, E_DISP);
  return mod;
}

/**
 * Decodes the instruction whose bytes start at `key` (of which `window` may
 * be read) into entry `e`; false, leaving the entry as it was, unless it
 * is one this cache runs.
 */
function fill(e: usize, key: usize, window: u32): bool {
  // Code in RAM marks its page so writes to it are seen; the ROM cannot be written by the guest.
  if (key >= ramBase && key < ramBase + <usize>ramSize) {
    const page = <u32>(key - ramBase) >>> 12;
    if (!claimCodePage(page, key & ~(<usize>0xfff))) return false;
  }
  const handler = decodeInto(e, key, window);
  if (short) {
    store<u32>(e, 0, E_KEY);
    return false;
  }
  if (handler == 0) {
    // Remembered as one the interpreter runs, so it is not decoded here again.
    store<u8>(e, 0, E_LEN);
    store<u32>(e, <u32>key, E_KEY);
    store<u32>(e, epoch, E_EPOCH);
    return false;
  }
  store<u8>(e, handler, E_HANDLER);
  store<u8>(e, <u8>pos, E_LEN);
  store<u32>(e, <u32>key, E_KEY);
  store<u32>(e, epoch, E_EPOCH);
  return true;
}

/** The handler of the instruction at `key`, its fields stored in `e`; 0 when it is not cached. */
function decodeInto(e: usize, key: usize, window: u32): u8 {
  at = key;
  avail = window;
  pos = 0;
  short = false;
  const op = byte();
  if (op < 0x40 && (op & 7) < 6) {
    // The ALU rows: ADD OR ADC SBB AND SUB XOR CMP.
    const form = op & 7;
    store<u8>(e, <u8>(op >> 3), E_OP);
    if (form == 5) {
      store<u8>(e, 0, E_REG);
      store<u32>(e, dword(), E_IMM);
      return H_ALU_RI;
    }
    if (form == 4) return 0;
    const mod = modrm(e);
    if (mod == 3) {
      if ((form & 1) == 0) return 0;
      if (form == 1) {
        // Gv is the source: the destination is rm.
        const src = load<u8>(e, E_REG);
        store<u8>(e, load<u8>(e, E_RM), E_REG);
        store<u8>(e, src, E_RM);
      }
      return H_ALU_RR;
    }
    if (form == 3) return H_ALU_RM;
    if (form == 2) return 0;
    store<u8>(e, form == 0 ? 0 : 2, E_SIZE);
    return H_ALU_MR;
  }
  if (op >= 0x40 && op <= 0x4f) {
    store<u8>(e, <u8>(op & 7), E_REG);
    store<u8>(e, op >= 0x48 ? 1 : 0, E_OP);
    return H_INCDEC_R;
  }
  if (op >= 0x50 && op <= 0x57) {
    store<u8>(e, <u8>(op & 7), E_REG);
    return H_PUSH_R;
  }
  if (op >= 0x58 && op <= 0x5f) {
    store<u8>(e, <u8>(op & 7), E_REG);
    return H_POP_R;
  }
  if (op >= 0x70 && op <= 0x7f) {
    store<u8>(e, <u8>(op & 15), E_OP);
    store<u32>(e, signedByte(), E_IMM);
    return H_JCC;
  }
  if (op >= 0xb8 && op <= 0xbf) {
    store<u8>(e, <u8>(op & 7), E_REG);
    store<u32>(e, dword(), E_IMM);
    return H_MOV_RI;
  }
  switch (op) {
    case 0x0f: {
      const op2 = byte();
      if (op2 >= 0x80 && op2 <= 0x8f) {
        store<u8>(e, <u8>(op2 & 15), E_OP);
        store<u32>(e, dword(), E_IMM);
        return H_JCC;
      }
      if (op2 == 0xaf) {
        if (modrm(e) != 3) return 0;
        return H_IMUL_RR;
      }
      if (op2 == 0xb6) {
        modrm(e);
        return H_MOVZX8;
      }
      return 0;
    }
    case 0x68:
      store<u32>(e, dword(), E_IMM);
      return H_PUSH_I;
    case 0x6a:
      store<u32>(e, signedByte(), E_IMM);
      return H_PUSH_I;
    case 0x69:
    case 0x6b: {
      if (modrm(e) != 3) return 0;
      store<u32>(e, op == 0x69 ? dword() : signedByte(), E_IMM);
      return H_IMUL_RRI;
    }
    case 0x80:
    case 0x81:
    case 0x83: {
      const mod = modrm(e);
      store<u8>(e, load<u8>(e, E_REG), E_OP);
      store<u32>(e, op == 0x81 ? dword() : op == 0x83 ? signedByte() : byte(), E_IMM);
      if (mod == 3) {
        if (op == 0x80) return 0;
        store<u8>(e, load<u8>(e, E_RM), E_REG);
        return H_ALU_RI;
      }
      store<u8>(e, op == 0x80 ? 0 : 2, E_SIZE);
      return H_ALU_MI;
    }
    case 0x84:
    case 0x85: {
      if (modrm(e) != 3) return 0;
      store<u8>(e, op == 0x84 ? 0 : 2, E_SIZE);
      return H_TEST_RR;
    }
    case 0x88:
    case 0x89: {
      const mod = modrm(e);
      if (mod == 3) {
        if (op == 0x88) return 0;
        // MOV Ev, Gv: the destination is rm.
        const src = load<u8>(e, E_REG);
        store<u8>(e, load<u8>(e, E_RM), E_REG);
        store<u8>(e, src, E_RM);
        return H_MOV_RR;
      }
      store<u8>(e, op == 0x88 ? 0 : 2, E_SIZE);
      return H_MOV_MR;
    }
    case 0x8a:
      return modrm(e) == 3 ? 0 : H_MOV_RM8;
    case 0x8b:
      return modrm(e) == 3 ? H_MOV_RR : H_MOV_RM;
    case 0x8d:
      return modrm(e) == 3 ? 0 : H_LEA;
    case 0x90:
      return H_NOP;
    case 0xa8:
      store<u8>(e, 0, E_SIZE);
      store<u32>(e, byte(), E_IMM);
      return H_TEST_AI;
    case 0xa9:
      store<u8>(e, 2, E_SIZE);
      store<u32>(e, dword(), E_IMM);
      return H_TEST_AI;
    case 0xc1:
    case 0xd1: {
      if (modrm(e) != 3) return 0;
      store<u8>(e, load<u8>(e, E_REG), E_OP);
      store<u8>(e, load<u8>(e, E_RM), E_REG);
      store<u32>(e, op == 0xc1 ? byte() : 1, E_IMM);
      return H_SHIFT_RI;
    }
    case 0xc3:
      return H_RET;
    case 0xcd:
      store<u32>(e, byte(), E_IMM);
      return H_INT;
    case 0xcf:
      return H_IRET;
    case 0xc6:
    case 0xc7: {
      if (modrm(e) == 3 || load<u8>(e, E_REG) != 0) return 0;
      store<u8>(e, op == 0xc6 ? 0 : 2, E_SIZE);
      store<u32>(e, op == 0xc6 ? byte() : dword(), E_IMM);
      return H_MOV_MI;
    }
    case 0xe8:
      store<u32>(e, dword(), E_IMM);
      return H_CALL;
    case 0xe9:
      store<u32>(e, dword(), E_IMM);
      return H_JMP;
    case 0xeb:
      store<u32>(e, signedByte(), E_IMM);
      return H_JMP;
    case 0xf7: {
      if (modrm(e) != 3) return 0;
      const sub = load<u8>(e, E_REG);
      if (sub != 2 && sub != 3) return 0;
      store<u8>(e, load<u8>(e, E_RM), E_REG);
      return sub == 2 ? H_NOT_R : H_NEG_R;
    }
    case 0xfe:
    case 0xff: {
      if (modrm(e) == 3) return 0;
      const sub = load<u8>(e, E_REG);
      if (sub > 1) return 0;
      store<u8>(e, sub, E_OP);
      store<u8>(e, op == 0xfe ? 0 : 2, E_SIZE);
      return H_INCDEC_M;
    }
  }
  return 0;
}
