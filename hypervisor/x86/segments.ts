// hypervisor/x86/segments.ts — loading a guest's selectors from the host GDT.
//
// When the hypervisor itself moves a vCPU to new code or stack segments (a
// bounced trap, the iret hypercall, an event upcall) it does what the CPU
// would: looks the selector up in the vCPU's GDT (the host's copy,
// hypervisor/x86/desc.ts) and fills the segment register's hidden cache.
// Guest selectors are ring-compressed as Xen does (XEN-ABI.md 1.6): RPL 0
// becomes 1, since the guest kernel believes it runs in ring 0.

import type { Cpu, Segment } from "../platform/cpu.js";
import type { HostTables } from "./desc.js";
import { GDT_ENTRIES } from "./desc.js";

/** Xen's ring compression of a guest selector: RPL 0 is the kernel's, which runs in ring 1. */
export function fixupSelector(sel: number): number {
  return (sel & 3) === 0 ? (sel | 1) & 0xffff : sel & 0xffff;
}

/**
 * The segment a GDT selector names, checked as a load into CS (`code`) or
 * SS would check it at privilege `rpl`; null when the load would fault.
 */
export function segmentFromGdt(cpu: Cpu, tables: HostTables, sel: number, code: boolean): Segment | null {
  const index = sel >> 3;
  if ((sel & 4) !== 0 || index === 0 || index >= GDT_ENTRIES) return null;
  const at = tables.entryAddress(index);
  const ram = cpu.ram;
  if (at + 8 > ram.length) return null;
  const view = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  const lo = view.getUint32(at, true);
  const hi = view.getUint32(at + 4, true);
  const access = (hi >>> 8) & 0xff;
  const flags = (hi >>> 20) & 0xf;
  const present = (access & 0x80) !== 0;
  const dpl = (access >>> 5) & 3;
  const isCode = (access & 0x18) === 0x18;
  const isWritableData = (access & 0x1a) === 0x12;
  const rpl = sel & 3;
  if (!present || dpl !== rpl || rpl === 0) return null;
  if (code ? !isCode : !isWritableData) return null;
  const base = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
  let limit = (lo & 0xffff) | (hi & 0xf0000);
  if ((flags & 8) !== 0) limit = ((limit << 12) | 0xfff) >>> 0;
  return { selector: sel, base, limit, attr: access | (flags << 12) | 1 };
}
