// hypervisor/x86/gdt.ts — a PV guest's own GDT and LDT: set_gdt, update_descriptor, MMUEXT_SET_LDT.
//
// A PV kernel may have descriptor tables of its own, but the CPU reads them
// with ring 0's authority, so Xen checks every descriptor first
// (hypervisor/x86/descriptor.ts) and keeps the frames from changing behind
// its back: a frame in a GDT or LDT has the type PGT_seg_desc_page
// (mm/pagetype.ts), which it can take only while nothing maps it writable
// and which keeps it from being mapped writable after (XEN-ABI.md 5.1).
// The guest changes a descriptor with update_descriptor, which checks it
// the same way.
//
// Under the core's PV mode the CPU reads descriptor tables at physical
// addresses the guest cannot map (hypervisor/x86/desc.ts): the vCPU's host
// GDT, whose first 14 pages (entries below FIRST_RESERVED_GDT_ENTRY) hold
// the guest's, and an LDT area of 16 reserved frames per vCPU. So where Xen
// maps the guest's validated frames into its GDT and LDT windows, this
// hypervisor copies them there — whole frames, as the CPU would see whole
// mapped frames — and every update_descriptor to a frame in use is written
// to the guest's frame and to each copy. Segment registers keep their
// hidden caches across set_gdt, as on hardware: only a new load reads the
// new table.
//
// Xen maps LDT pages lazily, at the first access, through the guest's page
// tables at that moment. The copy is made at MMUEXT_SET_LDT instead and
// made again whenever the base pointer changes (Xen drops its LDT mappings
// there): an LDT page that is not mapped then, or not one of the domain's
// frames fit to be a descriptor page, reads as not-present descriptors
// rather than faulting, and a guest that remaps its LDT's pages in place
// must set the LDT again to be seen.
//
// set_segment_base is x86-64 only; a 32-bit guest gets -ENOSYS, which is
// what an unregistered hypercall returns (hypervisor/hypercall.ts).

import * as L from "../../core/layout.js";
import { LDTR } from "../platform/cpu.js";
import { EFAULT, EINVAL } from "../abi/errno.js";
import { FIRST_RESERVED_GDT_ENTRY, FIRST_RESERVED_GDT_PAGE, HYPERVISOR_VIRT_START } from "../abi/arch_x86_32.js";
import { __HYPERVISOR_set_gdt, __HYPERVISOR_update_descriptor } from "../abi/xen.js";
import { PGT_seg_desc_page, PGT_writable_page } from "../mm/pagetype.js";
import { PAGE_SIZE } from "../mm/pte.js";
import { type HypercallContext, copyFromGuest, defineHypercall } from "../hypercall.js";
import type { Vcpu } from "../vcpu.js";
import type { Hypervisor } from "../xen.js";
import { DESCRIPTORS_PER_FRAME, checkDescriptor } from "./descriptor.js";

/** Frames reserved per vCPU for its LDT: 8192 descriptors, the most an LDT holds. */
export const LDT_SHADOW_FRAMES = 16;
/** The most entries MMUEXT_SET_LDT accepts. */
export const MAX_LDT_ENTRIES = 8192;
/**
 * The selector LDTR shows while an LDT is loaded: Xen's LDT_SELECTOR, the
 * entry after the TSS's 16-byte one in its reserved GDT area. The core
 * uses LDTR's cache, never this descriptor; the selector must only be
 * non-null, and is what SLDT returns, as on Xen.
 */
const LDT_SELECTOR = (FIRST_RESERVED_GDT_ENTRY + 10) << 3;
/** LDTR's cache attributes: a present LDT descriptor (type 2). */
const LDT_ATTR = 0x82;

const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

/** The contents of frame `mfn`, or a page of zeros (not-present descriptors) for none. */
function framePage(xen: Hypervisor, mfn: number): Uint8Array {
  return mfn >= 0 ? xen.cpu.read(mfn * PAGE_SIZE, PAGE_SIZE) : ZERO_PAGE;
}

// ------------------------------------------------------------ GDT

/** Copies the guest GDT's frames into the first 14 pages of the vCPU's host GDT; pages past them get zeros. */
function copyGdtToHost(xen: Hypervisor, vcpu: Vcpu): void {
  for (let page = 0; page < FIRST_RESERVED_GDT_PAGE; page++) {
    const mfn = page < vcpu.gdtFrames.length ? vcpu.gdtFrames[page]! : -1;
    xen.writePhysical(vcpu.tables.gdtBase + page * PAGE_SIZE, framePage(xen, mfn));
  }
}

/** Drops the descriptor-page references the vCPU's GDT holds and forgets it. */
function releaseGdt(xen: Hypervisor, vcpu: Vcpu): void {
  for (const mfn of vcpu.gdtFrames) xen.types.putPageAndType(mfn);
  vcpu.gdtFrames = [];
  vcpu.gdtEntries = 0;
}

/**
 * set_gdt(frame_list, entries) (Xen's compat_set_gdt and pv_set_gdt): the
 * guest's GDT becomes the ceil(entries / 512) frames the list names, each
 * one of the domain's, taking PGT_seg_desc_page (so none may be mapped
 * writable, and each of its 512 descriptors must pass the check). The new
 * frames are taken before the old ones are let go, so a refused call
 * leaves the old GDT in force. More than 7168 entries (the reserved area)
 * is -EINVAL; a list that cannot be read, -EFAULT; a frame that cannot be
 * taken, -EINVAL.
 */
function setGdt(ctx: HypercallContext, frameList: number, entries: number): number {
  if (entries > FIRST_RESERVED_GDT_ENTRY) return -EINVAL;
  const nrFrames = Math.ceil(entries / DESCRIPTORS_PER_FRAME);
  const list = copyFromGuest(ctx, frameList, nrFrames * 4);
  if (list === null) return -EFAULT;
  const view = new DataView(list.buffer);
  const mfns = Array.from({ length: nrFrames }, (_, i) => view.getUint32(i * 4, true));
  return setGdtFrames(ctx.xen, ctx.vcpu, mfns, entries);
}

/**
 * The common part of set_gdt and VCPUOP_initialise (Xen's pv_set_gdt): the
 * first ceil(entries / 512) of `mfns` become the vCPU's GDT, or nothing
 * changes and the answer is -EINVAL.
 */
export function setGdtFrames(xen: Hypervisor, vcpu: Vcpu, mfns: readonly number[], entries: number): number {
  if (entries > FIRST_RESERVED_GDT_ENTRY) return -EINVAL;
  const nrFrames = Math.ceil(entries / DESCRIPTORS_PER_FRAME);
  if (nrFrames > mfns.length) return -EINVAL;
  const frames: number[] = [];
  for (let i = 0; i < nrFrames; i++) {
    const mfn = mfns[i]!;
    if (xen.types.getPageAndType(mfn, vcpu.domain.domid, PGT_seg_desc_page) < 0) {
      for (const taken of frames) xen.types.putPageAndType(taken);
      return -EINVAL;
    }
    frames.push(mfn);
  }
  releaseGdt(xen, vcpu);
  vcpu.gdtFrames = frames;
  vcpu.gdtEntries = entries;
  copyGdtToHost(xen, vcpu);
  return 0;
}

/** Writes one descriptor into every host copy of frame `mfn` (GDTs and LDTs of the domain's vCPUs). */
function propagateDescriptor(xen: Hypervisor, vcpus: readonly Vcpu[], mfn: number, offset: number, bytes: Uint8Array): void {
  for (const v of vcpus) {
    v.gdtFrames.forEach((m, page) => {
      if (m === mfn) xen.writePhysical(v.tables.gdtBase + page * PAGE_SIZE + offset, bytes);
    });
    v.ldtFrames.forEach((m, page) => {
      if (m === mfn) xen.writePhysical((v.ldtShadowMfn + page) * PAGE_SIZE + offset, bytes);
    });
  }
}

/**
 * update_descriptor(ma_lo, ma_hi, desc_lo, desc_hi) (Xen's
 * do_update_descriptor): writes one checked, fixed-up descriptor at
 * machine address ma, which must be 8-byte aligned and in a frame of the
 * domain that is either a descriptor page already or may be written as an
 * ordinary page (not a page table). A GDT or LDT that holds the frame sees
 * the new descriptor at once, as it would through Xen's mapping.
 */
function updateDescriptor(ctx: HypercallContext, maLo: number, maHi: number, descLo: number, descHi: number): number {
  const { xen, domain } = ctx;
  if ((maLo & 7) !== 0) return -EINVAL;
  const desc = checkDescriptor(descLo, descHi);
  if (desc === null) return -EINVAL;
  // A frame above 4 GiB is past this machine's RAM.
  if (maHi !== 0) return -EINVAL;
  const mfn = maLo >>> 12;
  if (!xen.frames.getPage(mfn, domain.domid)) return -EINVAL;
  const type = xen.types.typeOf(mfn) === PGT_seg_desc_page ? PGT_seg_desc_page : PGT_writable_page;
  if (xen.types.getPageType(mfn, type) < 0) {
    xen.frames.putPage(mfn);
    return -EINVAL;
  }
  const bytes = new Uint8Array(8);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, desc[0], true);
  view.setUint32(4, desc[1], true);
  xen.writePhysical(maLo, bytes);
  if (type === PGT_seg_desc_page) propagateDescriptor(xen, domain.vcpus, mfn, maLo & (PAGE_SIZE - 1), bytes);
  xen.types.putPageType(mfn);
  xen.frames.putPage(mfn);
  return 0;
}

// ------------------------------------------------------------ LDT

/** Drops the descriptor-page references of the vCPU's loaded LDT pages. */
function releaseLdtFrames(xen: Hypervisor, vcpu: Vcpu): void {
  for (const mfn of vcpu.ldtFrames) if (mfn >= 0) xen.types.putPageAndType(mfn);
  vcpu.ldtFrames = [];
}

/**
 * Loads the vCPU's LDT (ldtBase, ldtEntries) into its LDT area through the
 * current page tables, and points LDTR at it; with no entries LDTR is
 * null. Each page of the LDT whose frame is the domain's and can be a
 * descriptor page is copied and keeps that reference; any other page reads
 * as zeros. `vcpu` must be the vCPU on the CPU.
 */
export function reloadLdt(xen: Hypervisor, vcpu: Vcpu): void {
  const cpu = xen.cpu;
  releaseLdtFrames(xen, vcpu);
  if (vcpu.ldtEntries === 0) {
    cpu.setSegment(LDTR, { selector: 0, base: 0, limit: 0, attr: L.SEG_ATTR_UNUSABLE });
    return;
  }
  if (vcpu.ldtShadowMfn === 0) throw new Error(`${vcpu.name} has no LDT area: the hypervisor did not reserve one when it created the vCPU`);
  const pages = Math.ceil((vcpu.ldtEntries * 8) / PAGE_SIZE);
  for (let page = 0; page < pages; page++) {
    const va = vcpu.ldtBase + page * PAGE_SIZE;
    const pa = va + PAGE_SIZE <= HYPERVISOR_VIRT_START ? cpu.translateVirtual(va, false, false) : null;
    let mfn = -1;
    if (pa !== null) {
      const candidate = Math.floor(pa / PAGE_SIZE);
      if (xen.types.getPageAndType(candidate, vcpu.domain.domid, PGT_seg_desc_page) === 0) mfn = candidate;
    }
    vcpu.ldtFrames.push(mfn);
    xen.writePhysical((vcpu.ldtShadowMfn + page) * PAGE_SIZE, framePage(xen, mfn));
  }
  cpu.setSegment(LDTR, { selector: LDT_SELECTOR, base: vcpu.ldtShadowMfn * PAGE_SIZE, limit: vcpu.ldtEntries * 8 - 1, attr: LDT_ATTR });
}

/**
 * MMUEXT_SET_LDT(linear_addr, nr_ents) (Xen's do_mmuext_op): the LDT is
 * nr_ents descriptors at a page-aligned linear address, at most 8192 of
 * them; anything else is -EINVAL. With 0 entries the address is ignored
 * and the vCPU has no LDT.
 */
export function setLdt(ctx: HypercallContext, linear: number, entries: number): number {
  const { xen, vcpu } = ctx;
  const base = entries !== 0 ? linear >>> 0 : 0;
  if ((base & (PAGE_SIZE - 1)) !== 0 || entries > MAX_LDT_ENTRIES) return -EINVAL;
  if (vcpu.ldtBase === base && vcpu.ldtEntries === entries) return 0;
  vcpu.ldtBase = base;
  vcpu.ldtEntries = entries;
  reloadLdt(xen, vcpu);
  return 0;
}

/** Gives back what a vCPU's descriptor tables hold (its domain is being destroyed). */
export function releaseDescriptorTables(xen: Hypervisor, vcpu: Vcpu): void {
  releaseGdt(xen, vcpu);
  releaseLdtFrames(xen, vcpu);
}

defineHypercall(__HYPERVISOR_set_gdt, (ctx, frameList, entries) => setGdt(ctx, frameList, entries));
defineHypercall(__HYPERVISOR_update_descriptor, (ctx, maLo, maHi, descLo, descHi) => updateDescriptor(ctx, maLo, maHi, descLo, descHi));
