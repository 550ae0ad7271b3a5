// hypervisor/hypercall.ts — the hypercall table and the guest-memory copies every hypercall uses.
//
// A 32-bit PV kernel makes a hypercall with `int 0x82` from ring 1: the
// number in EAX, up to five arguments in EBX, ECX, EDX, ESI and EDI, the
// result back in EAX (XEN-ABI.md 2.1). The core exits on the INT with EIP
// already past it (core/pv.ts); hypervisor/xen.ts calls the handler the
// table holds and puts the result in EAX. A number with no handler is
// -ENOSYS, as in Xen.
//
// Hypercall arguments are hostile. A pointer is a guest virtual address
// read through the guest's own page tables with the guest kernel's
// rights (a read-only page stays read-only: the host never writes where
// the guest could not), and one into the hypervisor hole or that does not
// translate is -EFAULT. A handler never throws for bad input.

import type { Cpu } from "./platform/cpu.js";
import type { Domain } from "./domain.js";
import type { Vcpu } from "./vcpu.js";
import type { Hypervisor } from "./xen.js";
import { HYPERVISOR_VIRT_START } from "./abi/arch_x86_32.js";

export interface HypercallContext {
  xen: Hypervisor;
  cpu: Cpu;
  vcpu: Vcpu;
  domain: Domain;
  /** Set by a hypercall that loaded the registers itself (iret): EAX does not get its result. */
  keepRegisters?: boolean;
}

export type HypercallHandler = (ctx: HypercallContext, a1: number, a2: number, a3: number, a4: number, a5: number) => number;

const handlers = new Map<number, HypercallHandler>();

/** Installs the handler of hypercall `nr` (each hypercall's module does, for its own numbers). */
export function defineHypercall(nr: number, handler: HypercallHandler): void {
  handlers.set(nr, handler);
}

export function hypercallHandler(nr: number): HypercallHandler | undefined {
  return handlers.get(nr);
}

/** True when [va, va + len) is guest memory a hypercall may name: below the hypervisor hole, not wrapping. */
export function guestRange(va: number, len: number): boolean {
  return Number.isInteger(va) && Number.isInteger(len) && va >= 0 && len >= 0 && va + len <= HYPERVISOR_VIRT_START;
}

/** copy_from_guest: the bytes, or null (-EFAULT) when the range is not the guest's to name or does not translate. */
export function copyFromGuest(ctx: HypercallContext, va: number, len: number): Uint8Array | null {
  if (!guestRange(va, len)) return null;
  if (len === 0) return new Uint8Array(0);
  return ctx.cpu.readVirtual(va, len, (ctx.cpu.cpl & 3) === 3);
}

/** copy_to_guest: false (-EFAULT) when the range is not the guest's, does not translate, or is read-only to the guest. */
export function copyToGuest(ctx: HypercallContext, va: number, bytes: Uint8Array): boolean {
  if (!guestRange(va, bytes.length)) return false;
  if (bytes.length === 0) return true;
  // Check every page for writing first, so a fault part-way writes nothing.
  const user = (ctx.cpu.cpl & 3) === 3;
  for (let page = va & ~0xfff; page < va + bytes.length; page += 0x1000) {
    if (ctx.cpu.translateVirtual(Math.max(page, va), true, user) === null) return false;
  }
  return ctx.cpu.writeVirtual(va, bytes, user);
}

/** A little-endian u32 from the guest, or null. */
export function readGuestU32(ctx: HypercallContext, va: number): number | null {
  const b = copyFromGuest(ctx, va, 4);
  return b === null ? null : new DataView(b.buffer).getUint32(0, true);
}
