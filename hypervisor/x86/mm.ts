// hypervisor/x86/mm.ts — the page-table hypercalls: mmu_update, mmuext_op, update_va_mapping, vm_assist, and writable page tables.
//
// A PV guest's page tables hold machine frames and are read-only to it
// (XEN-ABI.md 1.4): it changes them by asking. mmu_update writes entries
// named by machine address; update_va_mapping writes the L1 entry that
// maps a virtual address; mmuext_op pins and unpins tables, switches the
// base pointer, flushes TLBs, loads the LDT and clears or copies whole
// frames. With vm_assist(writable_pagetables) a guest may also write an L1
// entry directly: the write faults, and the hypervisor validates and
// completes it (Xen's ptwr emulation).
//
// The rules themselves live in hypervisor/mm (types, pins, ptupdate.ts):
// these hypercalls are the careful wrappers Xen's do_mmu_update,
// do_mmuext_op and __do_update_va_mapping are around them — reading each
// request from guest memory (-EFAULT when it cannot be read), naming only
// the caller's own pages (foreign domains are refused with Xen's -ESRCH or
// -EPERM: a domU is not privileged), stopping at the first failed request
// and reporting how many were done, and flushing the TLB when the guest
// asks, as the flags say. The hypervisor never flushes on its own behalf
// here: a stale translation can only matter once a frame changes type or
// owner, and the frame table flushes first then (mm/frames.ts).

import * as L from "../../core/layout.js";
import { Cpu } from "../platform/cpu.js";
import { EACCES, EFAULT, EINVAL, ENOSYS, EOPNOTSUPP, EPERM, ESRCH } from "../abi/errno.js";
import {
  DOMID_IO,
  DOMID_SELF,
  DOMID_XEN,
  MMU_MACHPHYS_UPDATE,
  MMU_NORMAL_PT_UPDATE,
  MMU_PT_UPDATE_NO_TRANSLATE,
  MMU_PT_UPDATE_PRESERVE_AD,
  MMUEXT_CLEAR_PAGE,
  MMUEXT_COPY_PAGE,
  MMUEXT_FLUSH_CACHE,
  MMUEXT_FLUSH_CACHE_GLOBAL,
  MMUEXT_INVLPG_ALL,
  MMUEXT_INVLPG_LOCAL,
  MMUEXT_INVLPG_MULTI,
  MMUEXT_MARK_SUPER,
  MMUEXT_NEW_BASEPTR,
  MMUEXT_NEW_USER_BASEPTR,
  MMUEXT_PIN_L1_TABLE,
  MMUEXT_PIN_L2_TABLE,
  MMUEXT_PIN_L3_TABLE,
  MMUEXT_PIN_L4_TABLE,
  MMUEXT_SET_LDT,
  MMUEXT_TLB_FLUSH_ALL,
  MMUEXT_TLB_FLUSH_LOCAL,
  MMUEXT_TLB_FLUSH_MULTI,
  MMUEXT_UNMARK_SUPER,
  MMUEXT_UNPIN_TABLE,
  UVMF_ALL,
  UVMF_FLUSHTYPE_MASK,
  UVMF_INVLPG,
  UVMF_LOCAL,
  UVMF_TLB_FLUSH,
  VMASST_CMD_disable,
  VMASST_CMD_enable,
  VMASST_TYPE_writable_pagetables,
  __HYPERVISOR_mmu_update,
  __HYPERVISOR_mmuext_op,
  __HYPERVISOR_update_va_mapping,
  __HYPERVISOR_update_va_mapping_otherdomain,
  __HYPERVISOR_vm_assist,
  mmu_update,
  mmuext_op,
  vmAssistValidPv32,
} from "../abi/xen.js";
import { PGT_l1_page_table, PGT_l2_page_table, PGT_l3_page_table, PGT_type_mask, PGT_writable_page } from "../mm/pagetype.js";
import { newGuestCr3, pinTable, unpinTable } from "../mm/pin.js";
import { PAGE_SIZE, _PAGE_PRESENT } from "../mm/pte.js";
import { updatePageTableEntry, updateVaMapping } from "../mm/ptupdate.js";
import { type HypercallContext, copyFromGuest, copyToGuest, defineHypercall, guestRange, readGuestU32 } from "../hypercall.js";
import type { Vcpu } from "../vcpu.js";
import type { Hypervisor } from "../xen.js";
import { emulateInstruction } from "./emulate.js";
import { reloadLdt, setLdt } from "./gdt.js";

/**
 * Bit 31 of mmu_update's and mmuext_op's count marks the continuation of
 * a preempted call (Xen's MMU_UPDATE_PREEMPTED): the count of requests
 * already done is then read from `pdone` and added to. This hypervisor
 * never preempts, but a guest may still pass the bit, and Xen honours it.
 */
const MMU_UPDATE_PREEMPTED = 0x80000000;

// #PF error-code bits (SDM Vol. 3A 4.7).
const PFEC_PRESENT = 1 << 0;
const PFEC_WRITE = 1 << 1;
const PFEC_USER = 1 << 2;
const PFEC_RESERVED = 1 << 3;
const PFEC_INSN = 1 << 4;

function u32Bytes(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}

/**
 * Whether a domU may name `domid` as the owner of the pages a request
 * touches (Xen's get_pg_owner, then the XSM default policy): DOMID_SELF
 * is the caller; its own domid spelled out is -ESRCH ("cannot specify
 * itself as foreign domain"); any other existing domain, DOMID_IO or
 * DOMID_XEN is -EPERM, since only a privileged domain maps others' pages;
 * anything else is a domain that does not exist, -ESRCH.
 */
export function checkPageOwner(ctx: HypercallContext, domid: number): number {
  const id = domid & 0xffff;
  if (id === DOMID_SELF) return 0;
  if (id === ctx.domain.domid) return -ESRCH;
  if (id === DOMID_IO || id === DOMID_XEN || ctx.xen.domains.has(id)) return -EPERM;
  return -ESRCH;
}

/**
 * The page-table owner half of mmu_update's foreigndom (high 16 bits, the
 * domid plus one; 0 for the caller): a domU may name only itself.
 */
function checkTableOwner(ctx: HypercallContext, foreigndom: number): number {
  const pt = foreigndom >>> 16;
  if (pt === 0 || pt - 1 === ctx.domain.domid) return 0;
  return ctx.xen.domains.has(pt - 1) ? -EPERM : -ESRCH;
}

/** Drops every translation the core holds and tells the frame table a flush happened. */
export function flushGuestTlb(xen: Hypervisor): void {
  xen.cpu.flushTlb();
  xen.frames.tlbFlushed();
}

/**
 * The count a batch starts from: 0, or, for the continuation of a
 * preempted batch (bit 31 of `count`), the number `pdone` holds. Returns
 * the count without the bit, and the requests already done.
 */
function batchStart(ctx: HypercallContext, count: number, pdone: number): { count: number; done: number } {
  if ((count & MMU_UPDATE_PREEMPTED) === 0) return { count, done: 0 };
  const done = pdone !== 0 ? readGuestU32(ctx, pdone) : null;
  return { count: (count & ~MMU_UPDATE_PREEMPTED) >>> 0, done: done ?? 0 };
}

/** Writes the requests done to `pdone` (unless null); like Xen, a pointer that cannot be written is ignored. */
function reportDone(ctx: HypercallContext, pdone: number, done: number): void {
  if (pdone !== 0) copyToGuest(ctx, pdone, u32Bytes(done));
}

// ------------------------------------------------------------ mmu_update

/** One mmu_update request: the command in the low bits of ptr (XEN-ABI.md 4). */
function mmuUpdateOne(ctx: HypercallContext, ptrLo: number, ptrHi: number, valLo: number, valHi: number): number {
  const { xen, domain } = ctx;
  const cmd = ptrLo & 7;
  switch (cmd) {
    case MMU_NORMAL_PT_UPDATE:
    case MMU_PT_UPDATE_PRESERVE_AD:
    case MMU_PT_UPDATE_NO_TRANSLATE: {
      // NO_TRANSLATE says val holds an mfn even for a translated guest;
      // a PV guest's entries always do, so it is a normal update here.
      // An entry above 4 GiB is past this machine's RAM.
      if (ptrHi !== 0) return -EINVAL;
      return updatePageTableEntry(xen.types, domain.domid, (ptrLo - cmd) >>> 0, valLo, valHi, cmd === MMU_PT_UPDATE_PRESERVE_AD);
    }
    case MMU_MACHPHYS_UPDATE: {
      // ptr names the frame, val the pfn the guest uses it for; the M2P
      // holds 32-bit pfns for a 32-bit guest.
      if (ptrHi !== 0) return -EINVAL;
      return xen.m2p.machphysUpdate(domain.domid, ptrLo >>> 12, valLo);
    }
    default:
      return -ENOSYS;
  }
}

/**
 * mmu_update(reqs, count, pdone, foreigndom): requests of 16 bytes, done
 * in order until one fails. As in Xen, a domain that does not exist is
 * -ESRCH before anything is done, while the right to touch another
 * domain's pages is checked at the first request (an empty batch naming
 * one succeeds).
 */
function mmuUpdate(ctx: HypercallContext, reqs: number, count: number, pdone: number, foreigndom: number): number {
  const start = batchStart(ctx, count, pdone);
  let rc = guestRange(reqs, start.count * mmu_update.sizeof) ? 0 : -EFAULT;
  let denied = 0;
  for (const owner of [checkTableOwner(ctx, foreigndom), checkPageOwner(ctx, foreigndom)]) {
    if (owner === -ESRCH && rc === 0) rc = owner;
    if (owner === -EPERM) denied = owner;
  }
  if (rc === 0 && start.count > 0) rc = denied;
  let i = 0;
  for (; rc === 0 && i < start.count; i++) {
    const bytes = copyFromGuest(ctx, reqs + i * mmu_update.sizeof, mmu_update.sizeof);
    if (bytes === null) {
      rc = -EFAULT;
      break;
    }
    const req = new DataView(bytes.buffer);
    rc = mmuUpdateOne(
      ctx,
      req.getUint32(mmu_update.ptr, true),
      req.getUint32(mmu_update.ptr + 4, true),
      req.getUint32(mmu_update.val, true),
      req.getUint32(mmu_update.val + 4, true),
    );
    if (rc !== 0) break;
  }
  reportDone(ctx, pdone, start.done + i);
  return rc;
}

// ------------------------------------------------------------ mmuext_op

/**
 * MMUEXT_NEW_BASEPTR (Xen's new_guest_cr3): the vCPU's CR3 takes an L3
 * reference on `mfn` (validating it if nothing held it), drops the old
 * one's, and the core switches to it with a TLB flush. The LDT is read
 * again through the new address space, as Xen drops its LDT mappings here.
 */
function newBaseptr(ctx: HypercallContext, mfn: number): number {
  const { xen, vcpu, cpu } = ctx;
  const rc = newGuestCr3(xen.types, ctx.domain.domid, mfn, vcpu.cr3Mfn);
  if (rc < 0) return rc;
  vcpu.cr3Mfn = mfn;
  cpu.cr3 = mfn * PAGE_SIZE;
  flushGuestTlb(xen);
  reloadLdt(xen, vcpu);
  return 0;
}

/**
 * The vCPU mask a *_MULTI operation names: it must be readable, or -EINVAL
 * as Xen answers. The other vCPUs need no flush of their own: on the one
 * CPU, a vCPU's TLB is emptied whenever it is switched in (Cpu.restoreState).
 */
function checkVcpuMask(ctx: HypercallContext, mask: number): number {
  return readGuestU32(ctx, mask) === null ? -EINVAL : 0;
}

/** MMUEXT_CLEAR_PAGE: zeroes a frame of the domain that may be written (not a table, not a descriptor page). */
function clearPage(ctx: HypercallContext, mfn: number): number {
  const { types } = ctx.xen;
  if (types.getPageAndType(mfn, ctx.domain.domid, PGT_writable_page) < 0) return -EINVAL;
  ctx.xen.mem.fill(mfn * PAGE_SIZE, PAGE_SIZE, 0);
  types.putPageAndType(mfn);
  return 0;
}

/** MMUEXT_COPY_PAGE: copies any frame of the domain onto one of its frames that may be written. */
function copyPage(ctx: HypercallContext, dstMfn: number, srcMfn: number): number {
  const { types, frames, cpu } = ctx.xen;
  const domid = ctx.domain.domid;
  if (!frames.getPage(srcMfn, domid)) return -EINVAL;
  if (types.getPageAndType(dstMfn, domid, PGT_writable_page) < 0) {
    frames.putPage(srcMfn);
    return -EINVAL;
  }
  ctx.xen.writePhysical(dstMfn * PAGE_SIZE, cpu.read(srcMfn * PAGE_SIZE, PAGE_SIZE));
  types.putPageAndType(dstMfn);
  frames.putPage(srcMfn);
  return 0;
}

/** One mmuext_op (XEN-ABI.md 4); arg1 is an mfn or a linear address, arg2 a count, a mask pointer or an mfn. */
function mmuextOne(ctx: HypercallContext, cmd: number, arg1: number, arg2: number): number {
  const { xen, domain } = ctx;
  const domid = domain.domid;
  switch (cmd) {
    case MMUEXT_PIN_L1_TABLE:
      return pinTable(xen.types, domid, arg1, PGT_l1_page_table);
    case MMUEXT_PIN_L2_TABLE:
      return pinTable(xen.types, domid, arg1, PGT_l2_page_table);
    case MMUEXT_PIN_L3_TABLE:
      return pinTable(xen.types, domid, arg1, PGT_l3_page_table);
    case MMUEXT_PIN_L4_TABLE:
      // A 32-bit guest has no L4 of its own: Xen ignores the request and succeeds.
      return 0;
    case MMUEXT_UNPIN_TABLE:
      return unpinTable(xen.types, domid, arg1);
    case MMUEXT_NEW_BASEPTR:
      return newBaseptr(ctx, arg1);
    case MMUEXT_NEW_USER_BASEPTR:
      // The user page tables of a 64-bit guest: the compat layer refuses it.
      return -EINVAL;
    case MMUEXT_TLB_FLUSH_LOCAL:
    case MMUEXT_TLB_FLUSH_ALL:
    case MMUEXT_INVLPG_LOCAL:
    case MMUEXT_INVLPG_ALL:
      // One physical CPU, and the core drops whole TLBs only: an INVLPG
      // flushes everything, which is more than asked and never less.
      flushGuestTlb(xen);
      return 0;
    case MMUEXT_TLB_FLUSH_MULTI:
    case MMUEXT_INVLPG_MULTI: {
      const rc = checkVcpuMask(ctx, arg2);
      if (rc === 0) flushGuestTlb(xen);
      return rc;
    }
    case MMUEXT_FLUSH_CACHE:
      // WBINVD is only for a domain with device access (cache_flush_permitted).
      return -EACCES;
    case MMUEXT_FLUSH_CACHE_GLOBAL:
      return -EINVAL;
    case MMUEXT_SET_LDT:
      return setLdt(ctx, arg1, arg2);
    case MMUEXT_CLEAR_PAGE:
      return clearPage(ctx, arg1);
    case MMUEXT_COPY_PAGE:
      return copyPage(ctx, arg1, arg2);
    case MMUEXT_MARK_SUPER:
    case MMUEXT_UNMARK_SUPER:
      // Xen dropped PV superpages; it answers these with -EOPNOTSUPP.
      return -EOPNOTSUPP;
    default:
      return -ENOSYS;
  }
}

/** mmuext_op(ops, count, pdone, foreigndom): operations of 12 bytes, done in order until one fails. */
function mmuextOp(ctx: HypercallContext, ops: number, count: number, pdone: number, foreigndom: number): number {
  const start = batchStart(ctx, count, pdone);
  if (!guestRange(ops, start.count * mmuext_op.sizeof)) return -EFAULT;
  let rc = checkPageOwner(ctx, foreigndom);
  let i = 0;
  for (; rc === 0 && i < start.count; i++) {
    const bytes = copyFromGuest(ctx, ops + i * mmuext_op.sizeof, mmuext_op.sizeof);
    if (bytes === null) {
      rc = -EFAULT;
      break;
    }
    const op = new DataView(bytes.buffer);
    rc = mmuextOne(ctx, op.getUint32(mmuext_op.cmd, true), op.getUint32(mmuext_op.arg1, true), op.getUint32(mmuext_op.arg2, true));
    if (rc !== 0) break;
  }
  reportDone(ctx, pdone, start.done + i);
  return rc;
}

// ------------------------------------------------------------ update_va_mapping

/**
 * update_va_mapping(va, pte_lo, pte_hi, flags) (Xen's
 * __do_update_va_mapping): replaces the L1 entry that maps `va` in the
 * vCPU's current address space, then flushes as the flags say — even when
 * the update failed, as Xen does. UVMF_LOCAL and UVMF_ALL flush this one
 * CPU; any other value above the flush type is a pointer to a vCPU mask,
 * and when that cannot be read the result is -EFAULT whatever the update
 * returned, which is also Xen's behaviour.
 */
function updateVaMappingCall(ctx: HypercallContext, va: number, lo: number, hi: number, flags: number): number {
  const { xen, vcpu, domain } = ctx;
  let rc = updateVaMapping(xen.types, domain.domid, vcpu.cr3Mfn, va >>> 0, lo, hi);
  switch (flags & UVMF_FLUSHTYPE_MASK) {
    case UVMF_TLB_FLUSH:
    case UVMF_INVLPG: {
      const mask = (flags & ~UVMF_FLUSHTYPE_MASK) >>> 0;
      if (mask !== UVMF_LOCAL && mask !== UVMF_ALL) rc = readGuestU32(ctx, mask) === null ? -EFAULT : 0;
      flushGuestTlb(xen);
      break;
    }
  }
  return rc;
}

/**
 * update_va_mapping_otherdomain(va, lo, hi, flags, domid): the same, with
 * the mapped frame owned by `domid`. Xen checks the right to map another
 * domain's pages only for a present entry, so a domU may still clear an
 * entry of its own tables this way; a present one naming another domain
 * is -EPERM, an unknown domain -ESRCH.
 */
function updateVaMappingOtherdomain(ctx: HypercallContext, va: number, lo: number, hi: number, flags: number, domid: number): number {
  const rc = checkPageOwner(ctx, domid);
  if (rc === -ESRCH || (rc < 0 && (lo & _PAGE_PRESENT) !== 0)) return rc;
  return updateVaMappingCall(ctx, va, lo, hi, flags);
}

// ------------------------------------------------------------ vm_assist

/** vm_assist(cmd, type): turns one of the PV32 assists (XEN-ABI.md 4) on or off for the domain. */
function vmAssist(ctx: HypercallContext, cmd: number, type: number): number {
  if (!vmAssistValidPv32(type)) return -EINVAL;
  switch (cmd) {
    case VMASST_CMD_enable:
      ctx.domain.vmAssist = (ctx.domain.vmAssist | (1 << type)) >>> 0;
      return 0;
    case VMASST_CMD_disable:
      ctx.domain.vmAssist = (ctx.domain.vmAssist & ~(1 << type)) >>> 0;
      return 0;
    default:
      return -ENOSYS;
  }
}

// ------------------------------------------------------------ writable page tables

/** True when `mfn` is an L1 table of `domid` in use (validated, referenced). */
function isLiveL1Of(xen: Hypervisor, domid: number, mfn: number): boolean {
  return xen.frames.ownerOf(mfn) === domid && xen.types.isLivePageTable(mfn) && (xen.types.typeOf(mfn) & PGT_type_mask) === PGT_l1_page_table;
}

/**
 * One write of the emulated instruction that reached a read-only page
 * (EXIT_WRITE_INTERCEPT), taken as Xen's ptwr_emulated_update takes it:
 * it must be 1, 2, 4 or 8 bytes, naturally aligned, inside the page that
 * faulted, and land in a live L1 of the domain. A partial write is merged
 * into the whole 8-byte entry it falls in, and the entry is validated and
 * written by ptupdate.ts. False refuses the write.
 */
function completePteWrite(xen: Hypervisor, domid: number, cr2: number): boolean {
  const cpu = xen.cpu;
  const pa = cpu.exitAddress();
  const linear = cpu.exitLinear();
  const bytes = cpu.exitWriteBytes();
  const size = bytes.length;
  if ((linear ^ cr2) >>> 12 !== 0) return false;
  if ((size & (size - 1)) !== 0 || (linear & (size - 1)) !== 0) return false;
  if (!isLiveL1Of(xen, domid, Math.floor(pa / PAGE_SIZE))) return false;
  const entryPa = pa - (pa % 8);
  const entry = new Uint8Array(8);
  const view = new DataView(entry.buffer);
  view.setUint32(0, xen.mem.read32(entryPa), true);
  view.setUint32(4, xen.mem.read32(entryPa + 4), true);
  entry.set(bytes, pa % 8);
  return updatePageTableEntry(xen.types, domid, entryPa, view.getUint32(0, true), view.getUint32(4, true)) === 0;
}

/**
 * A #PF the guest kernel took writing to one of its own L1 tables, with
 * vm_assist(writable_pagetables) on (Xen's pv_ro_page_fault and
 * ptwr_do_page_fault): the faulting instruction is executed again by the
 * core with its writes to read-only pages handed here, each validated as
 * an L1 entry and done, and it retires. True when the fault is handled
 * that way (or the instruction raised an exception of its own, which went
 * to the guest); false leaves the original #PF to be bounced, as Xen
 * bounces it: when the assist is off, the fault is not a kernel write to a
 * present page, the page is not a live L1 of the domain (Xen emulates
 * writes to L1 tables only), or the new entry is refused.
 */
export function handleWritablePageTableFault(xen: Hypervisor, vcpu: Vcpu, errorCode: number, cr2: number): boolean {
  const cpu = xen.cpu;
  const domid = vcpu.domain.domid;
  if ((vcpu.domain.vmAssist & (1 << VMASST_TYPE_writable_pagetables)) === 0) return false;
  const kinds = PFEC_PRESENT | PFEC_WRITE | PFEC_USER | PFEC_RESERVED | PFEC_INSN;
  if ((errorCode & kinds) !== (PFEC_PRESENT | PFEC_WRITE) || cpu.cpl !== 1) return false;
  const pa = cpu.translateVirtual(cr2, false, false);
  if (pa === null || !isLiveL1Of(xen, domid, Math.floor(pa / PAGE_SIZE))) return false;
  const outcome = emulateInstruction(xen, vcpu, Cpu.EMULATE_WRITES_TO_HOST, (reason) =>
    reason === L.EXIT_WRITE_INTERCEPT && completePteWrite(xen, domid, cr2));
  return outcome === "done";
}

defineHypercall(__HYPERVISOR_mmu_update, (ctx, reqs, count, pdone, foreigndom) => mmuUpdate(ctx, reqs, count, pdone, foreigndom));
defineHypercall(__HYPERVISOR_mmuext_op, (ctx, ops, count, pdone, foreigndom) => mmuextOp(ctx, ops, count, pdone, foreigndom));
defineHypercall(__HYPERVISOR_update_va_mapping, (ctx, va, lo, hi, flags) => updateVaMappingCall(ctx, va, lo, hi, flags));
defineHypercall(__HYPERVISOR_update_va_mapping_otherdomain, (ctx, va, lo, hi, flags, domid) =>
  updateVaMappingOtherdomain(ctx, va, lo, hi, flags, domid));
defineHypercall(__HYPERVISOR_vm_assist, (ctx, cmd, type) => vmAssist(ctx, cmd, type));
