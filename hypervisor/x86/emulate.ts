// hypervisor/x86/emulate.ts — completing a guest's faulting instruction with the core's emulate-one service.
//
// Xen completes some of a PV guest's faults by emulating the instruction
// that raised them: a write to a page table under writable page tables
// (hypervisor/x86/mm.ts), an IN or OUT its virtual IOPL allows
// (hypervisor/physdev.ts). The hypervisor never decodes x86 for that: the
// core executes the one instruction again with one rule relaxed
// (Cpu.emulateOne, core/emulate.ts) and stops at each access the host must
// complete. This module holds the loop every such completion runs, and what
// happens when the emulated instruction raises an exception of its own: it
// is delivered to the guest exactly as if the CPU had raised it, which is
// what Xen does with the event its emulator returns.

import * as L from "../../core/layout.js";
import type { Vcpu } from "../vcpu.js";
import type { Hypervisor } from "../xen.js";
import { bounceTrap } from "./traps.js";

const EXC_PF = 14;

/** Host exits one instruction may need: a write split over two pages, or an I/O access, each with its completion. */
const MAX_EXITS_PER_INSTRUCTION = 4;

/** What the host does at one exit of the emulated instruction: true to complete it, false to give up. */
export type ExitHandler = (reason: number) => boolean;

/**
 * The outcome of emulating the instruction at CS:EIP: "done" (it retired,
 * or the exception it raised went to the guest), or "refused" (an exit the
 * handler would not complete; nothing of the instruction remains, and the
 * caller delivers the original fault).
 */
export type EmulationOutcome = "done" | "refused";

/**
 * Executes the guest's instruction at CS:EIP with the core's `flags`
 * (Cpu.EMULATE_*), answering each exit with `onExit`, until it retires.
 */
export function emulateInstruction(xen: Hypervisor, vcpu: Vcpu, flags: number, onExit: ExitHandler): EmulationOutcome {
  const cpu = xen.cpu;
  for (let exits = 0; exits <= MAX_EXITS_PER_INSTRUCTION; exits++) {
    const reason = cpu.emulateOne(flags);
    if (reason === L.EXIT_BUDGET) return "done";
    if (reason === L.EXIT_EXCEPTION) {
      cpu.abandonInstruction();
      bounceEmulationEvent(xen, vcpu);
      return "done";
    }
    if (!onExit(reason)) break;
  }
  cpu.abandonInstruction();
  return "refused";
}

/**
 * Delivers the exception an emulated instruction raised (the exit block
 * holds it, as after run()): a fault with EIP still on the instruction, a
 * trap such as single-step with EIP after it. The domain crashes when it
 * cannot take it, as for any other exception.
 */
function bounceEmulationEvent(xen: Hypervisor, vcpu: Vcpu): void {
  const cpu = xen.cpu;
  const vector = cpu.exitVector();
  const code = cpu.exitErrorCode();
  const cr2 = vector === EXC_PF ? cpu.exitAddress() : undefined;
  if (!bounceTrap(xen, cpu, vcpu, vector, cpu.eip, code >= 0 ? code : undefined, cr2)) {
    xen.crashDomain(vcpu.domain, `${vcpu.name}: exception ${vector} while emulating the instruction at 0x${cpu.eip.toString(16)}, with no way to deliver it to the guest`);
  }
}
