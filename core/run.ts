// core/run.ts — the run loop: instructions, events, exits.
//
// `run(budget)` executes instructions until the budget is spent or an exit
// happens, and returns the exit reason (core/layout.ts EXIT_*); the exit-info
// block says the rest. At each instruction boundary it first takes an
// external interrupt (the host's INTR line) when IF is set and no STI or
// MOV SS shadow blocks it (SDM Vol. 3A 6.8.3), which also ends a HLT. Then
// one instruction runs (core/exec.ts). If it retires, EIP moves on,
// INSN_COUNT and the TSC advance by one (deterministic time: one virtual
// nanosecond per instruction, DESIGN.md), and traps follow: single-step
// (EFLAGS.TF at the start of the instruction, Vol. 3A 18.3.1.4) and the
// debug trap of a task switch into a TSS with T set. If it faults, nothing
// architectural changed and the exception is delivered from the faulting
// instruction; a second fault while delivering the first is combined by
// Vol. 3A Table 6-5: contributory after contributory, or contributory or
// #PF after #PF, becomes #DF; anything after #DF shuts the processor down
// (a triple fault, EXIT_SHUTDOWN); otherwise the second is delivered
// instead. An exception whose bit is set in EXCEPTION_EXIT_BITMAP leaves
// run() with EXIT_EXCEPTION instead of going through the IDT, the state as
// the handler would have seen it (EIP at a fault, after a trap).
//
// The budget counts retired instructions and delivered events, so a guest
// whose handlers fault forever still returns to the host. With the trace on
// (core/trace.ts), instructions and events are also written to its ring.

import {
  EXCEPTION_EXIT_BITMAP, EXEC_MODE, EXIT_EVENT_KIND, EXEC_NATIVE, EXIT_ADDRESS, EXIT_BUDGET, EXIT_ERROR_CODE, EXIT_EXCEPTION,
  EXIT_HLT, EXIT_INSN_LENGTH, EXIT_REASON, EXIT_SHUTDOWN, EXIT_VECTOR, HALTED, INSN_COUNT, INTERRUPT_SHADOW,
  INTR_PENDING, INTR_VECTOR, REG_DR6, REG_DR7, REG_TSC, RUN_BUDGET, SEG_CS, TRACE_DELIVERED, TRACE_DELIVERY_FAULTED,
  TRACE_EXCEPTION, TRACE_FAULTED, TRACE_INTERRUPT, TRACE_STOPPED,
} from "./layout";
import {
  FLAG_IF, FLAG_RF, FLAG_TF, controlFlags, cr2, eip, segBase, segSelector, setControlFlags, setEip, writeCr2,
} from "./state";
import { materializeFlags } from "./flags";
import {
  EXC_DB, EXC_DE, EXC_DF, EXC_GP, EXC_NP, EXC_PF, EXC_SS, EXC_TS, FAULT_EXIT, clearFault, faultAddress,
  faultErrorCode, faultHasCode, faultVector, faulted, raiseNoCode,
} from "./fault";
import {
  DR6_BS, DR7_GD, codeBreakpointAt, codeBreakpoints, dataBreakpoints, forgetDataHits, refreshBreakpoints, takeDataHits,
} from "./debug";
import * as D from "./decode";
import { beginInstruction, invalidateFetch } from "./decode";
import { execute } from "./exec";
import { pvDirect, pvMode } from "./pv";
import { forgetUncached, runCached, runChain, uncachedAt } from "./icache";
import { newEpoch } from "./codepages";
import { EVENT_EXCEPTION, EVENT_EXTERNAL, EVENT_ICEBP, EVENT_SOFT_EXCEPTION, deliverEvent } from "./interrupt";
import { exitKind, ioLogBusy, ioLogClear, ioLogRewind, ioLogTakeInput, logInUse } from "./iolog";
import { refreshAlignmentCheck } from "./segment";
import * as T from "./task";
import { emulating } from "./emulate";
import {
  finishInstruction, traceDelivery, traceEvents, traceHalt, traceInsns, traceInstruction, traceRefresh, traceRunEnd,
} from "./trace";

/** takeEvent's outcomes. */
export const EVENT_DELIVERED: i32 = 0;
export const EVENT_EXITED: i32 = 1;

/** An exit an instruction asked for (EXIT_EXCEPTION from a software exception), or -1. */
let exitRequest: i32 = -1;

/**
 * Routes an event to its handler. A processor or software exception whose
 * bit is set in EXCEPTION_EXIT_BITMAP exits to the host, and so does every
 * event of an instruction the host emulates (core/emulate.ts), INT n too;
 * anything else is delivered through the IVT or IDT. On a delivery fault,
 * the fault is raised and nothing changed.
 */
export function takeEvent(vector: u32, kind: i32, errorCode: u32, hasCode: bool, returnEip: u32): i32 {
  const exception = kind == EVENT_EXCEPTION || kind == EVENT_SOFT_EXCEPTION || kind == EVENT_ICEBP;
  if (
    (exception && vector < 32 && ((load<u32>(EXCEPTION_EXIT_BITMAP) >> vector) & 1) != 0) || emulating ||
    (pvMode() && !pvDirect(vector, kind))
  ) {
    store<u32>(EXIT_VECTOR, vector);
    store<u32>(EXIT_EVENT_KIND, <u32>kind);
    store<u32>(EXIT_ERROR_CODE, hasCode ? errorCode : 0xffffffff);
    store<u32>(EXIT_ADDRESS, vector == <u32>EXC_PF && kind == EVENT_EXCEPTION ? faultAddress : 0);
    store<u32>(EXIT_INSN_LENGTH, D.insnLen);
    exitRequest = EXIT_EXCEPTION;
    D.requestWork(D.WORK_EXIT);
    return EVENT_EXITED;
  }
  // Delivering #DB clears DR7.GD, so the handler may use the debug registers (SDM Vol. 3A 18.2.4).
  if (vector == <u32>EXC_DB) store<u32>(REG_DR7, load<u32>(REG_DR7) & ~DR7_GD);
  switch (load<u32>(EXEC_MODE)) {
    case EXEC_NATIVE:
    default: {
      // The event goes to the guest's own IDT. (EXEC_PV and EXEC_HVM run
      // the same way until their issues decide here which events of theirs
      // leave for the host instead.)
      const pageFault = vector == <u32>EXC_PF && kind == EVENT_EXCEPTION;
      if (pageFault) writeCr2(faultAddress);
      // The trace names the code the event interrupted: CS before delivery.
      const cs = traceEvents ? segSelector(SEG_CS) : 0;
      deliverEvent(vector, kind, errorCode, hasCode, returnEip);
      if (traceEvents) {
        traceDelivery(
          kind == EVENT_EXTERNAL ? TRACE_INTERRUPT : TRACE_EXCEPTION, faulted() ? TRACE_DELIVERY_FAULTED : TRACE_DELIVERED,
          load<u64>(INSN_COUNT) + <u64>retiredPending, cs, returnEip, vector, hasCode ? errorCode : 0xffffffff,
          pageFault ? cr2() : 0, kind,
        );
      }
    }
  }
  return EVENT_DELIVERED;
}

/** Table 6-5's classes: #DE #TS #NP #SS #GP are contributory. */
// @ts-ignore: decorator
@inline function contributory(v: i32): bool {
  return v == EXC_DE || v == EXC_TS || v == EXC_NP || v == EXC_SS || v == EXC_GP;
}

/**
 * Delivers the pending fault (and whatever its delivery raises, by Table
 * 6-5). Returns an exit reason when run() must return, or -1.
 */
function deliverFault(): i32 {
  let vector = faultVector;
  let code = faultErrorCode;
  let hasCode = faultHasCode;
  clearFault();
  while (true) {
    const outcome = takeEvent(<u32>vector, EVENT_EXCEPTION, code, hasCode, eip());
    if (outcome == EVENT_EXITED) {
      exitRequest = -1;
      return EXIT_EXCEPTION;
    }
    if (!faulted()) return -1;
    const second = faultVector;
    // A device access while pushing an exception frame cannot be completed
    // as an exit (the instruction never started again): a bus error the
    // processor cannot recover from.
    if (vector == EXC_DF || second == FAULT_EXIT) {
      clearFault();
      return EXIT_SHUTDOWN;
    }
    if ((contributory(vector) && contributory(second)) || (vector == EXC_PF && (contributory(second) || second == EXC_PF))) {
      clearFault();
      vector = EXC_DF;
      code = 0;
      hasCode = true;
      continue;
    }
    vector = second;
    code = faultErrorCode;
    hasCode = faultHasCode;
    clearFault();
  }
  return -1;
}

/** A trap after an instruction retired (#DB), delivered with EIP already past it. */
function deliverTrap(vector: i32): i32 {
  const outcome = takeEvent(<u32>vector, EVENT_EXCEPTION, 0, false, eip());
  if (outcome == EVENT_EXITED) {
    exitRequest = -1;
    return EXIT_EXCEPTION;
  }
  if (faulted()) return deliverFault();
  return -1;
}

/** Instructions retired since the counters in the state block were last brought up to date. */
let retiredPending: u32 = 0;

/**
 * Adds the instructions retired so far to INSN_COUNT and the TSC. The run
 * loop counts in a global and calls this when it returns, and RDTSC and the
 * TSC MSR call it first, so the state block is exact whenever anyone looks.
 */
export function syncCounters(): void {
  if (retiredPending == 0) return;
  store<u64>(INSN_COUNT, load<u64>(INSN_COUNT) + <u64>retiredPending);
  store<u64>(REG_TSC, load<u64>(REG_TSC) + <u64>retiredPending);
  retiredPending = 0;
}

/** An event delivered through a task gate into a TSS with its T flag: #DB before the new task's first instruction. */
function trapAfterTaskSwitch(): i32 {
  if (!T.debugTrapOnSwitch) return -1;
  T.debugTrapOnSwitch = false;
  return deliverTrap(EXC_DB);
}

/**
 * Runs until `budget` instructions (and events) are done or something
 * exits; returns the exit reason, which is also left in EXIT_REASON.
 */
export function run(budget: u32): u32 {
  // The host may have written anything, code included, since the last run.
  newEpoch();
  invalidateFetch();
  refreshBreakpoints();
  refreshAlignmentCheck();
  ioLogTakeInput();
  traceRefresh();
  clearFault();
  exitRequest = -1;
  let left = budget;
  let reason: i32 = EXIT_BUDGET;
  let halted = load<u32>(HALTED) != 0;
  let shadow = load<u32>(INTERRUPT_SHADOW);
  while (left != 0) {
    if (load<u32>(INTR_PENDING) != 0 && (controlFlags() & FLAG_IF) != 0 && shadow == 0 && !ioLogBusy()) {
      // Acknowledge the interrupt: the host's line drops as the vector is taken.
      const vector = load<u32>(INTR_VECTOR) & 0xff;
      store<u32>(INTR_PENDING, 0);
      store<u32>(HALTED, 0);
      halted = false;
      left--;
      if (takeEvent(vector, EVENT_EXTERNAL, 0, false, eip()) == EVENT_EXITED) {
        // Taken by the host (EXEC_PV): acknowledged, nothing delivered.
        exitRequest = -1;
        reason = EXIT_EXCEPTION;
        break;
      }
      const r = faulted() ? deliverFault() : trapAfterTaskSwitch();
      if (r >= 0) {
        reason = r;
        break;
      }
      continue;
    }
    if (halted) {
      reason = EXIT_HLT;
      break;
    }

    const flagsBefore = controlFlags();
    let chained = false;
    if (traceInsns) traceInstruction(load<u64>(INSN_COUNT) + <u64>retiredPending);
    else beginInstruction();
    ioLogRewind();
    if (codeBreakpoints && (flagsBefore & FLAG_RF) == 0 && codeBreakpointAt(segBase(SEG_CS) + D.insnEip)) {
      raiseNoCode(EXC_DB);
    } else if (shadow == 0 && ((flagsBefore & (FLAG_TF | FLAG_RF)) | <u32>codeBreakpoints | <u32>dataBreakpoints | <u32>logInUse | <u32>traceInsns) == 0) {
      // Nothing between instructions needs this loop: run cached ones in a row.
      if (D.insnEip == uncachedAt) {
        forgetUncached();
        execute();
      } else {
        const done = runChain(left);
        if (done != 0) {
          retiredPending += done;
          left -= done;
          if (!faulted()) {
            if (D.retireWork == 0) continue;
            // The chain ended with an INT n or IRET, retired but for the work it left.
            chained = true;
          }
        } else if (!faulted()) {
          execute();
        }
      }
    } else if (!runCached()) {
      execute();
    }
    if (faulted()) {
      forgetDataHits();
      if (traceInsns) finishInstruction(faultVector == FAULT_EXIT ? TRACE_STOPPED : TRACE_FAULTED);
      if (faultVector == FAULT_EXIT) {
        clearFault();
        store<u32>(EXIT_INSN_LENGTH, D.insnLen);
        reason = <i32>exitKind;
        break;
      }
      ioLogClear();
      if (shadow != 0) {
        shadow = 0;
        store<u32>(INTERRUPT_SHADOW, 0);
      }
      left--;
      let r = deliverFault();
      if (r < 0) r = trapAfterTaskSwitch();
      if (r >= 0) {
        reason = r;
        break;
      }
      shadow = 0;
      continue;
    }

    // Retire.
    if (!chained) {
      ioLogClear();
      setEip(D.eipSet ? D.nextEip : D.insnEip + D.insnLen);
      retiredPending++;
      left--;
    }
    const flagsNow = controlFlags();
    const work = D.retireWork | ((flagsBefore | flagsNow) & (FLAG_TF | FLAG_RF));
    if ((work | shadow) == 0) continue;
    // Shadows, RF, debug traps, HLT and exits: rare, and all here.
    const shadowBefore = shadow;
    shadow = (work & D.WORK_SHADOW) != 0 ? D.shadowNext : 0;
    if ((shadowBefore | shadow) != 0) store<u32>(INTERRUPT_SHADOW, shadow);
    if ((flagsNow & FLAG_RF) != 0 && (work & D.WORK_KEEP_RF) == 0) setControlFlags(flagsNow & ~FLAG_RF);
    let trap = takeDataHits();
    if ((flagsBefore & FLAG_TF) != 0 && (work & D.WORK_EVENT) == 0 && shadowBefore != D.SHADOW_MOV_SS) {
      store<u32>(REG_DR6, load<u32>(REG_DR6) | DR6_BS);
      trap = true;
    }
    if (T.debugTrapOnSwitch) {
      T.debugTrapOnSwitch = false;
      trap = true;
    }
    if (trap) {
      const r = deliverTrap(EXC_DB);
      if (r >= 0) {
        reason = r;
        break;
      }
      // The handler's first instruction is not in the shadow.
      if (shadow != 0) {
        shadow = 0;
        store<u32>(INTERRUPT_SHADOW, 0);
      }
    }
    if ((work & D.WORK_HALT) != 0) {
      store<u32>(HALTED, 1);
      if (traceEvents) traceHalt(load<u64>(INSN_COUNT) + <u64>retiredPending);
      reason = EXIT_HLT;
      break;
    }
    if ((work & D.WORK_EXIT) != 0 && exitRequest >= 0) {
      reason = exitRequest;
      exitRequest = -1;
      break;
    }
  }
  syncCounters();
  if (traceInsns || traceEvents) traceRunEnd(<u32>reason, load<u64>(INSN_COUNT));
  materializeFlags();
  store<u32>(RUN_BUDGET, left);
  store<u32>(EXIT_REASON, <u32>reason);
  return <u32>reason;
}
