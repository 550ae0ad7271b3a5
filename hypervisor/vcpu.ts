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

import { sharedInfoVcpuOffset } from "./abi/xen.js";
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
  /** callback_op's 32-bit SYSCALL and SYSENTER entries (CALLBACKTYPE_syscall32, _sysenter), with CALLBACKF_mask_events. */
  syscall32Callback: Callback & { masksEvents: boolean } = { cs: 0, eip: 0, masksEvents: false };
  sysenterCallback: Callback & { masksEvents: boolean } = { cs: 0, eip: 0, masksEvents: false };
  /** Machine address of this vCPU's vcpu_info: its slot in shared_info until VCPUOP_register_vcpu_info moves it (hypervisor/events.ts). */
  vcpuInfoMa: number;
  /** The machine frame of the top-level (L3) table CR3 holds a reference on; -1 before VCPUOP_initialise. */
  cr3Mfn: number;
  /** It has registers to run with: vCPU 0 from the builder, the others once VCPUOP_initialise gave them (Xen's is_initialised). */
  initialised = true;
  /** set_gdt's frames, each holding a PGT_seg_desc_page reference, and its entry count (hypervisor/x86/gdt.ts). */
  gdtFrames: number[] = [];
  gdtEntries = 0;
  /** MMUEXT_SET_LDT's linear base and entry count; 0 entries: no LDT. */
  ldtBase = 0;
  ldtEntries = 0;
  /** The frames behind the LDT's pages when it was loaded, each with a descriptor-page reference, or -1 where none could be used. */
  ldtFrames: number[] = [];
  /** The first of the reserved frames the LDT is copied into for the core (0: none yet). */
  ldtShadowMfn = 0;
  /** The virtual IOPL PHYSDEVOP_set_iopl gave this vCPU: I/O at a CPL it allows is emulated (hypervisor/physdev.ts). */
  iopl = 0;
  /** A multicall is running on this vCPU: another one inside it is refused (hypervisor/multicall.ts). */
  inMulticall = false;
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
    this.vcpuInfoMa = domain.built.sharedInfoMfn * 4096 + sharedInfoVcpuOffset(id);
  }

  get name(): string {
    return `d${this.domain.domid}v${this.id}`;
  }
}
