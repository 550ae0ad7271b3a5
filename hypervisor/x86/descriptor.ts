// hypervisor/x86/descriptor.ts — which segment descriptors a PV guest may put in its GDT and LDT.
//
// A PV kernel's descriptor tables are its own frames, but the CPU uses
// them with ring 0's authority, so every descriptor is checked before it
// can be used and is fixed up the way Xen fixes it (XEN-ABI.md 1.6, 5.1;
// Xen's check_descriptor, facts only):
//
// - A not-present descriptor always faults, so it is accepted unchanged.
// - Ring compression: a DPL of 0 becomes 1, since the guest kernel that
//   thinks it owns ring 0 runs in ring 1 (GUEST_KERNEL_RPL).
// - Code and data segments are accepted with any base and limit, except a
//   64-bit code segment (L set) in a 32-bit guest. A segment based at 0
//   whose limit reaches past the hypervisor hole is widened to 4 GiB, as
//   Xen widens the flat segments of older PAE Linux kernels to cover the
//   larger compat M2P (the hole is protected by paging, not by limits).
// - A system descriptor of type 0 is harmless (Xen lets it stand for the
//   second half of a call gate) and is accepted unchanged.
// - The only other system descriptor allowed is a 32-bit call gate, whose
//   target must be a guest GDT selector, an LDT selector or FLAT_RING1_CS.
//   Its DPL is forced to 0, so that using it raises #GP for the hypervisor
//   to emulate, and the original DPL is kept in the target selector's RPL.
//   Its reserved bits 5-7 of the high word must be 0.
// - Everything else (TSS, LDT and task-gate descriptors, interrupt and trap
//   gates, 16-bit gates) is refused.
//
// A descriptor is the two dwords (lo, hi) as they lie in memory, Xen's
// (a, b). A frame of descriptors is checked whole, all 512 of them, as
// Xen's alloc_segdesc_page does when a frame becomes a descriptor page.

import { FLAT_RING1_CS, FIRST_RESERVED_GDT_ENTRY, HYPERVISOR_VIRT_START } from "../abi/arch_x86_32.js";
import { EINVAL } from "../abi/errno.js";
import type { MachineMemory } from "../mm/memory.js";

/** Descriptors in one 4 KiB frame. */
export const DESCRIPTORS_PER_FRAME = 512;

// Bits of the high dword (Xen's _SEGMENT_*).
const SEGMENT_TYPE = 0xf00;
const SEGMENT_S = 1 << 12;
const SEGMENT_DPL = 3 << 13;
const SEGMENT_P = 1 << 15;
const SEGMENT_L = 1 << 21;
const SEGMENT_G = 1 << 23;
/** The type field of a 32-bit call gate, in place. */
const CALL_GATE_32 = 0xc00;
/** Bits 5-7 of a call gate's high dword: reserved in a 32-bit gate (bits 0-4 are its parameter count). */
const CALL_GATE_RESERVED = 0xe0;
/** The ring a 32-bit PV kernel runs in; lower DPLs and RPLs are raised to it. */
const GUEST_KERNEL_RPL = 1;

/** A call gate may lead to a guest GDT selector, an LDT selector, or Xen's flat ring-1 code segment. */
function gateSelectorOkay(sel: number): boolean {
  return sel >> 3 < FIRST_RESERVED_GDT_ENTRY || sel === FLAT_RING1_CS || (sel & 4) !== 0;
}

/**
 * Checks one descriptor as a 32-bit PV guest may have it in its GDT or
 * LDT (Xen's check_descriptor): the descriptor to store, fixed up, or
 * null when it is refused.
 */
export function checkDescriptor(lo: number, hi: number): [number, number] | null {
  let a = lo >>> 0;
  let b = hi >>> 0;
  if ((b & SEGMENT_P) === 0) return [a, b];
  let dpl = (b >>> 13) & 3;
  if (dpl < GUEST_KERNEL_RPL) dpl = GUEST_KERNEL_RPL;
  b = ((b & ~SEGMENT_DPL) | (dpl << 13)) >>> 0;
  if ((b & SEGMENT_S) !== 0) {
    if ((b & SEGMENT_L) !== 0) return null;
    const base = ((b & 0xff000000) | ((b & 0xff) << 16) | (a >>> 16)) >>> 0;
    let limit = ((b & 0xf0000) | (a & 0xffff)) + 1;
    if ((b & SEGMENT_G) !== 0) limit *= 4096;
    if (base === 0 && limit > HYPERVISOR_VIRT_START) {
      a = (a | 0xffff) >>> 0;
      b = (b | 0xf0000) >>> 0;
    }
    return [a, b];
  }
  // Type 0 stands as it was: Xen returns before storing its DPL fix-up.
  if ((b & SEGMENT_TYPE) === 0) return [lo >>> 0, hi >>> 0];
  if ((b & SEGMENT_TYPE) !== CALL_GATE_32) return null;
  let cs = a >>> 16;
  if (!gateSelectorOkay(cs)) return null;
  b = (b & ~SEGMENT_DPL) >>> 0;
  cs = (cs & ~3) | dpl;
  a = ((a & 0xffff) | (cs << 16)) >>> 0;
  if ((b & CALL_GATE_RESERVED) !== 0) return null;
  return [a, b];
}

/**
 * Validates the 512 descriptors of frame `mfn` for use as a descriptor
 * page (PGT_seg_desc_page): 0 after storing the fixed-up descriptors, or
 * -EINVAL when one is refused, in which case no byte of the frame changes.
 */
export function validateSegDescFrame(mem: MachineMemory, mfn: number): number {
  const base = mfn * 4096;
  const fixed: [number, [number, number]][] = [];
  for (let i = 0; i < DESCRIPTORS_PER_FRAME; i++) {
    const lo = mem.read32(base + 8 * i);
    const hi = mem.read32(base + 8 * i + 4);
    const d = checkDescriptor(lo, hi);
    if (d === null) return -EINVAL;
    if (d[0] !== lo || d[1] !== hi) fixed.push([i, d]);
  }
  for (const [i, [lo, hi]] of fixed) mem.write64(base + 8 * i, lo, hi);
  return 0;
}
