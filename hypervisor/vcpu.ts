// hypervisor/vcpu.ts — a virtual CPU of a PV domain: its saved registers and what Xen keeps for it.
//
// One wasm core is one physical CPU; vCPUs take turns on it. While a vCPU
// is off the CPU its whole architectural state sits here as the bytes
// Cpu.saveState produced, and goes back with restoreState when it is
// scheduled again — except the instruction count and the TSC, which belong
// to the physical CPU and keep running (hypervisor/xen.ts).
//
// Beside the registers, Xen keeps per vCPU what the guest told it through
// hypercalls: the trap table (set_trap_table: where each exception and
// software interrupt is bounced), the ring-1 stack for entries from ring 3
// (stack_switch), the event and failsafe callbacks (set_callbacks), and the
// host tables the core uses in PV mode (hypervisor/x86/desc.ts).

import type { Domain } from "./domain.js";
import type { HostTables } from "./x86/desc.js";

/** One trap_info entry as the guest set it (XEN-ABI.md 5.2): handler, DPL, and whether entry masks events. */
export interface TrapHandler {
  cs: number;
  eip: number;
  /** Software interrupts from a less privileged ring than this get #GP instead (like a gate's DPL). */
  dpl: number;
  /** trap_info flags bit 2: entering the handler sets evtchn_upcall_mask, as an interrupt gate clears IF. */
  masksEvents: boolean;
}

export interface Callback {
  cs: number;
  eip: number;
}

export type VcpuRunState = "runnable" | "blocked" | "offline";

export class Vcpu {
  /** Saved architectural state (SAVED_STATE_SIZE bytes) while the vCPU is off the CPU. */
  state: Uint8Array;
  readonly trapTable: (TrapHandler | null)[] = new Array<TrapHandler | null>(256).fill(null);
  kernelSs = 0;
  kernelSp = 0;
  eventCallback: Callback = { cs: 0, eip: 0 };
  failsafeCallback: Callback = { cs: 0, eip: 0 };
  /** The machine frame of the top-level (L3) table CR3 holds a reference on. */
  cr3Mfn: number;
  runState: VcpuRunState = "runnable";
  /** Guest instructions this vCPU has executed (accounting and the dashboard). */
  instructions = 0;

  constructor(
    readonly domain: Domain,
    readonly id: number,
    readonly tables: HostTables,
    state: Uint8Array,
    cr3Mfn: number,
  ) {
    this.state = state;
    this.cr3Mfn = cr3Mfn;
  }

  get name(): string {
    return `d${this.domain.domid}v${this.id}`;
  }
}
