// hypervisor/x86/traps.ts — bouncing exceptions into a PV guest, and the hypercalls that set it up.
//
// A PV kernel has no IDT of its own: it gives Xen a trap table
// (set_trap_table), and when its code faults or executes INT n the
// hypervisor builds the exception frame on the guest kernel's stack and
// enters the handler the table names, in ring 1 — a "bounce"
// (XEN-ABI.md 5.2). From ring 3 it first switches to the stack the kernel
// gave with stack_switch and pushes the old SS:ESP, as the CPU does on an
// inter-privilege interrupt. The saved CS carries the vCPU's event mask in
// its upper half, and the saved EFLAGS.IF is its inverse, since the guest's
// interrupt flag is virtual (evtchn_upcall_mask in vcpu_info). The iret
// hypercall undoes a frame (XEN-ABI.md 5.3).
//
// The one vector the CPU may deliver itself is the fast system-call trap:
// a trap_info entry for 0x80 with DPL 3 and without the event-mask flag
// becomes a real gate in the host IDT, so `int 0x80` from ring 3 reaches
// the ring-1 handler with no exit at all (core/pv.ts PV_DIRECT_VECTORS).

import { FLAT_RING1_CS, TI_GET_DPL, TI_GET_IF, readTrapInfo, trap_info } from "../abi/arch_x86_32.js";
import { vcpu_info } from "../abi/xen.js";
import { EFAULT, EINVAL, ENOSYS } from "../abi/errno.js";
import {
  CALLBACKF_mask_events, CALLBACKOP_register, CALLBACKOP_unregister, CALLBACKTYPE_event, CALLBACKTYPE_failsafe,
  CALLBACKTYPE_nmi, CALLBACKTYPE_syscall32, CALLBACKTYPE_sysenter, callback_register, readCallbackRegister,
} from "../abi/callback.js";
import {
  __HYPERVISOR_callback_op, __HYPERVISOR_iret, __HYPERVISOR_set_callbacks, __HYPERVISOR_set_trap_table,
  __HYPERVISOR_stack_switch,
} from "../abi/xen.js";
import { CS, SS } from "../platform/cpu.js";
import type { Cpu } from "../platform/cpu.js";
import type { Vcpu } from "../vcpu.js";
import type { Hypervisor } from "../xen.js";
import { type HypercallContext, copyFromGuest, copyToGuest, defineHypercall } from "../hypercall.js";
import { fixupSelector, segmentFromGdt } from "./segments.js";

const FLAG_TF = 1 << 8;
const FLAG_IF = 1 << 9;
const FLAG_IOPL = 3 << 12;
const FLAG_NT = 1 << 14;
const FLAG_RF = 1 << 16;
const FLAG_VM = 1 << 17;
/** The vector of Xen's fast system-call trap. */
const FAST_TRAP_VECTOR = 0x80;
/** The NMI vector, whose trap-table entry CALLBACKTYPE_nmi sets. */
const EXC_NMI = 2;
/** Entries set_trap_table reads at most in one call before it checks for preemption in Xen; we take them all. */
const MAX_TRAP_ENTRIES = 256;

/** The byte of vcpu_info a vCPU's virtual interrupt flag is (1: events masked). */
export function upcallMaskAddress(vcpu: Vcpu): number {
  return vcpu.vcpuInfoMa + vcpu_info.evtchn_upcall_mask;
}

/**
 * Bounces an exception or software interrupt to the guest's handler for
 * `vector`: `returnEip` is the EIP to resume at, `errorCode` is pushed when
 * given, `cr2` goes to vcpu_info.arch.cr2 for a #PF. False when the guest
 * cannot take it (no handler, or its stack does not translate): the caller
 * crashes the domain, as Xen does.
 */
export function bounceTrap(xen: Hypervisor, cpu: Cpu, vcpu: Vcpu, vector: number, returnEip: number, errorCode?: number, cr2?: number): boolean {
  const handler = vcpu.trapTable[vector];
  if (!handler) return false;
  if (cr2 !== undefined) writeSharedU32(xen, vcpu.vcpuInfoMa + vcpu_info.arch_cr2, cr2);
  return enterGuestHandler(xen, cpu, vcpu, handler.cs, handler.eip, returnEip, errorCode, handler.masksEvents);
}

/** Builds Xen's frame and enters cs:eip in the guest kernel (traps and event upcalls alike). */
export function enterGuestHandler(
  xen: Hypervisor, cpu: Cpu, vcpu: Vcpu, cs: number, eip: number, returnEip: number, errorCode: number | undefined, maskEvents: boolean,
): boolean {
  const maskAt = upcallMaskAddress(vcpu);
  const mask = cpu.ram[maskAt]! & 1;
  const fromUser = (cpu.cpl & 3) === 3;
  const words: number[] = [];
  let ss = cpu.segment(SS);
  let esp = cpu.esp;
  if (fromUser) {
    const kernelSs = segmentFromGdt(cpu, vcpu.tables, vcpu.kernelSs, false);
    if (!kernelSs) return false;
    words.push(ss.selector, esp);
    ss = kernelSs;
    esp = vcpu.kernelSp;
  }
  const flags = cpu.eflags;
  words.push((flags & ~(FLAG_IF | FLAG_IOPL)) | (mask ? 0 : FLAG_IF), (cpu.segment(CS).selector | (mask << 16)) >>> 0, returnEip >>> 0);
  if (errorCode !== undefined) words.push(errorCode >>> 0);
  const frame = new Uint8Array(words.length * 4);
  const view = new DataView(frame.buffer);
  // words are in push order; the last pushed is at the lowest address.
  words.forEach((w, i) => view.setUint32((words.length - 1 - i) * 4, w >>> 0, true));
  const top = (esp - frame.length) >>> 0;
  const code = segmentFromGdt(cpu, vcpu.tables, fixupSelector(cs), true);
  if (!code) return false;
  const ctx = { xen, cpu, vcpu, domain: vcpu.domain };
  // The frame is written with the guest kernel's rights: into its own stack.
  const savedCpl = cpu.cpl;
  cpu.cpl = code.selector & 3;
  const written = copyToGuest(ctx, top, frame);
  cpu.cpl = savedCpl;
  if (!written) return false;
  if (fromUser) cpu.setSegment(SS, ss);
  cpu.esp = top;
  cpu.setSegment(CS, code);
  cpu.cpl = code.selector & 3;
  cpu.eip = eip >>> 0;
  cpu.eflags = flags & ~(FLAG_TF | FLAG_VM | FLAG_RF | FLAG_NT);
  if (maskEvents) xen.writePhysical(maskAt, new Uint8Array([1]));
  return true;
}

function writeSharedU32(xen: Hypervisor, pa: number, v: number): void {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  xen.writePhysical(pa, b);
}

/** set_trap_table(traps): entries until one with address 0; replaces the handlers they name. */
function setTrapTable(ctx: HypercallContext, list: number): number {
  const { vcpu } = ctx;
  if (list === 0) {
    vcpu.trapTable.fill(null);
    refreshFastTrap(ctx);
    return 0;
  }
  for (let i = 0; i < MAX_TRAP_ENTRIES; i++) {
    const bytes = copyFromGuest(ctx, list + i * trap_info.sizeof, trap_info.sizeof);
    if (bytes === null) return -EFAULT;
    const t = readTrapInfo(new DataView(bytes.buffer), 0);
    if (t.address === 0) break;
    vcpu.trapTable[t.vector] = { cs: fixupSelector(t.cs), eip: t.address, dpl: TI_GET_DPL(t.flags), masksEvents: TI_GET_IF(t.flags) };
  }
  refreshFastTrap(ctx);
  return 0;
}

/** Puts the fast system-call trap in the host IDT when the guest's table allows it, and takes it out otherwise. */
export function refreshFastTrap(ctx: HypercallContext): void {
  const { cpu, vcpu, xen } = ctx;
  const t = vcpu.trapTable[FAST_TRAP_VECTOR];
  const direct = t !== null && t.dpl === 3 && !t.masksEvents && segmentFromGdt(cpu, vcpu.tables, t.cs, true) !== null;
  vcpu.tables.setGate((pa, bytes) => xen.writePhysical(pa, bytes), FAST_TRAP_VECTOR, direct ? { cs: t!.cs, eip: t!.eip, dpl: 3 } : null);
  cpu.setDirectVector(FAST_TRAP_VECTOR, direct);
}

/** stack_switch(ss, esp): the ring-1 stack entries from ring 3 switch to. */
export function stackSwitch(ctx: HypercallContext, ss: number, esp: number): number {
  const sel = fixupSelector(ss);
  if (segmentFromGdt(ctx.cpu, ctx.vcpu.tables, sel, false) === null || (sel & 3) === 3) return -EINVAL;
  ctx.vcpu.kernelSs = sel;
  ctx.vcpu.kernelSp = esp >>> 0;
  ctx.vcpu.tables.setKernelStack((pa, v) => writeSharedU32(ctx.xen, pa, v), sel, esp);
  return 0;
}

/** set_callbacks(event_cs, event_eip, failsafe_cs, failsafe_eip). */
function setCallbacks(ctx: HypercallContext, eventCs: number, eventEip: number, failsafeCs: number, failsafeEip: number): number {
  ctx.vcpu.eventCallback = { cs: fixupSelector(eventCs), eip: eventEip >>> 0 };
  ctx.vcpu.failsafeCallback = { cs: fixupSelector(failsafeCs), eip: failsafeEip >>> 0 };
  return 0;
}

/**
 * CALLBACKOP_register for a 32-bit guest (Xen's compat_register_guest_callback):
 * event and failsafe entries, the 32-bit SYSCALL and SYSENTER entries, and
 * NMI, which becomes trap-table entry 2 on the flat kernel CS with events
 * masked. Any other type is -ENOSYS.
 */
export function registerCallback(vcpu: Vcpu, type: number, flags: number, cs: number, eip: number): number {
  const entry = { cs: fixupSelector(cs), eip: eip >>> 0 };
  const masksEvents = (flags & CALLBACKF_mask_events) !== 0;
  switch (type) {
    case CALLBACKTYPE_event:
      vcpu.eventCallback = entry;
      return 0;
    case CALLBACKTYPE_failsafe:
      vcpu.failsafeCallback = entry;
      return 0;
    case CALLBACKTYPE_syscall32:
      vcpu.syscall32Callback = { ...entry, masksEvents };
      return 0;
    case CALLBACKTYPE_sysenter:
      vcpu.sysenterCallback = { ...entry, masksEvents };
      return 0;
    case CALLBACKTYPE_nmi:
      vcpu.trapTable[EXC_NMI] = { cs: FLAT_RING1_CS, eip: eip >>> 0, dpl: 0, masksEvents: true };
      return 0;
    default:
      return -ENOSYS;
  }
}

/** CALLBACKOP_unregister: only the NMI entry can go; the others are -EINVAL, unknown types -ENOSYS. */
export function unregisterCallback(vcpu: Vcpu, type: number): number {
  switch (type) {
    case CALLBACKTYPE_event:
    case CALLBACKTYPE_failsafe:
    case CALLBACKTYPE_syscall32:
    case CALLBACKTYPE_sysenter:
      return -EINVAL;
    case CALLBACKTYPE_nmi:
      vcpu.trapTable[EXC_NMI] = null;
      return 0;
    default:
      return -ENOSYS;
  }
}

/** callback_op(cmd, arg): register or unregister one entry point (XEN-ABI.md 4, callback_register). */
function callbackOp(ctx: HypercallContext, cmd: number, arg: number): number {
  switch (cmd) {
    case CALLBACKOP_register: {
      const bytes = copyFromGuest(ctx, arg, callback_register.sizeof);
      if (bytes === null) return -EFAULT;
      const reg = readCallbackRegister(new DataView(bytes.buffer), 0);
      return registerCallback(ctx.vcpu, reg.type, reg.flags, reg.cs, reg.eip);
    }
    case CALLBACKOP_unregister: {
      // struct callback_unregister is the type alone (u16, padded to 4).
      const bytes = copyFromGuest(ctx, arg, 4);
      if (bytes === null) return -EFAULT;
      return unregisterCallback(ctx.vcpu, new DataView(bytes.buffer).getUint16(0, true));
    }
    default:
      return -EINVAL;
  }
}

/**
 * iret: the frame the stub left on the stack (XEN-ABI.md 5.3): EAX, EIP,
 * CS, EFLAGS, and ESP, SS when returning to ring 3. IOPL is stripped and IF
 * forced on (the real IF is the hypervisor's); the event mask becomes
 * !EFLAGS.IF. Returns -EFAULT for a frame that cannot be read, and the
 * domain crashes for a return to ring 0 or to virtual-8086 mode.
 */
function iret(ctx: HypercallContext): number {
  const { cpu, vcpu, xen } = ctx;
  const bytes = copyFromGuest(ctx, cpu.esp, 24);
  if (bytes === null) {
    xen.crashDomain(vcpu.domain, "iret hypercall: the frame on the stack cannot be read");
    return 0;
  }
  const f = new DataView(bytes.buffer);
  const eax = f.getUint32(0, true);
  const eip = f.getUint32(4, true);
  const cs = f.getUint32(8, true) & 0xffff;
  const eflags = f.getUint32(12, true);
  if ((cs & 3) === 0) {
    xen.crashDomain(vcpu.domain, `iret hypercall to ring 0 (CS ${cs.toString(16)})`);
    return 0;
  }
  if ((eflags & FLAG_VM) !== 0) {
    xen.crashDomain(vcpu.domain, "iret hypercall to virtual-8086 mode");
    return 0;
  }
  const code = segmentFromGdt(cpu, vcpu.tables, cs, true);
  if (!code) {
    xen.crashDomain(vcpu.domain, `iret hypercall: CS ${cs.toString(16)} is not a usable code segment`);
    return 0;
  }
  let esp = (cpu.esp + 16) >>> 0;
  if ((cs & 3) !== 1) {
    const ss = f.getUint32(20, true) & 0xffff;
    const stack = segmentFromGdt(cpu, vcpu.tables, ss, false);
    if (!stack || (ss & 3) !== (cs & 3)) {
      xen.crashDomain(vcpu.domain, `iret hypercall: SS ${ss.toString(16)} is not a usable stack for CS ${cs.toString(16)}`);
      return 0;
    }
    esp = f.getUint32(16, true);
    cpu.setSegment(SS, stack);
  }
  cpu.eax = eax;
  cpu.setSegment(CS, code);
  cpu.cpl = cs & 3;
  cpu.eip = eip;
  cpu.esp = esp;
  cpu.eflags = (eflags & ~FLAG_IOPL) | FLAG_IF;
  xen.writePhysical(upcallMaskAddress(vcpu), new Uint8Array([(eflags & FLAG_IF) !== 0 ? 0 : 1]));
  ctx.keepRegisters = true;
  return 0;
}

defineHypercall(__HYPERVISOR_set_trap_table, (ctx, list) => setTrapTable(ctx, list));
defineHypercall(__HYPERVISOR_stack_switch, (ctx, ss, esp) => stackSwitch(ctx, ss, esp));
defineHypercall(__HYPERVISOR_set_callbacks, (ctx, a, b, c, d) => setCallbacks(ctx, a, b, c, d));
defineHypercall(__HYPERVISOR_iret, (ctx) => iret(ctx));
defineHypercall(__HYPERVISOR_callback_op, (ctx, cmd, arg) => callbackOp(ctx, cmd, arg));

/** Software interrupts a guest may raise at its CPL (the trap table's DPL), as a gate's DPL would allow. */
export function softwareInterruptAllowed(vcpu: Vcpu, vector: number, cpl: number): boolean {
  const t = vcpu.trapTable[vector];
  return t !== null && cpl <= t.dpl;
}
