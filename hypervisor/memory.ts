// hypervisor/memory.ts — memory_op: a domain gives frames back, takes new ones, and asks about memory.
//
// A PV domain's memory is whole machine frames. With memory_op it hands
// frames back to the hypervisor (decrease_reservation, the balloon going
// up), takes fresh ones (increase_reservation, or populate_physmap for a
// given pfn), and asks how much it has and may have, where the read-only
// M2P is mapped and how far it reaches (XEN-ABI.md 4, memory_op). A PV
// guest names frames by mfn, and it keeps its own P2M, so the hypervisor
// tells it the mfn of every frame it hands out; for populate_physmap it
// also records the guest's pfn in the M2P, as Xen does. The domain's
// maximum is the memory its configuration gave it (Xen's max_pages); the
// hypervisor's own P2M (mm/p2m.ts) keeps one slot per frame up to that
// maximum, which is how frames are counted (tot_pages) and found again at
// teardown.
//
// Xen's conventions, kept exactly (xen/common/memory.c and compat/memory.c):
// the reservation sub-ops return how many extents were done, never an
// error — a struct or list that cannot be read, a domain that cannot be
// named, an extent order that is not allowed all end the call with the
// count so far (0). cmd carries the extent to start from in its bits 6 up
// (MEMOP_EXTENT_SHIFT), which is how Xen continues a preempted call; other
// sub-ops refuse a non-zero start with -EINVAL.
//
// Where this hypervisor is smaller than Xen:
// - Extents of order 0 only. The frame allocator hands out single frames,
//   so an extent of 2^order contiguous frames (Xen allows order 9 for a
//   domU) cannot be allocated: the call ends there, as Xen's ends when its
//   allocation fails. decrease_reservation takes any order up to 9, page
//   by page, since it needs no contiguity.
// - Xen lets a frame be given back while something still maps it, and
//   frees it when the last reference goes. Here a frame still mapped,
//   used as a table or held by a descriptor table ends the call instead
//   (a pinned table with no other user is unpinned first, as in Xen).
// - Machine addresses are below 4 GiB, so address_bits of 32 or more asks
//   for nothing; a smaller bound is honoured by refusing a frame above it.

import { EFAULT, EINVAL, ENOSYS, EPERM, ESRCH } from "./abi/errno.js";
import { MACH2PHYS_VIRT_START, arch_shared_info } from "./abi/arch_x86_32.js";
import {
  XENMEM_current_reservation,
  XENMEM_decrease_reservation,
  XENMEM_increase_reservation,
  XENMEM_machphys_mapping,
  XENMEM_maximum_gpfn,
  XENMEM_maximum_ram_page,
  XENMEM_maximum_reservation,
  XENMEM_populate_physmap,
  readMemoryReservation,
  xen_machphys_mapping,
  xen_memory_reservation,
  type MemoryReservation,
} from "./abi/memory.js";
import { DOMID_SELF, __HYPERVISOR_memory_op, shared_info } from "./abi/xen.js";
import { INVALID_MFN } from "./mm/p2m.js";
import { unpinTable } from "./mm/pin.js";
import { PAGE_SHIFT, PAGE_SIZE } from "./mm/pte.js";
import { type HypercallContext, copyFromGuest, copyToGuest, defineHypercall, guestRange, readGuestU32 } from "./hypercall.js";
import type { Domain } from "./domain.js";

/** cmd = sub-op | start extent << 6. */
const MEMOP_EXTENT_SHIFT = 6;
const MEMOP_CMD_MASK = (1 << MEMOP_EXTENT_SHIFT) - 1;
/** The largest extent order a domU may ask for (Xen's CONFIG_DOMU_MAX_ORDER on x86). */
const DOMU_MAX_ORDER = 9;
/** XENMEM memory-flags: the address-width bound in bits 0-7, and populate-on-demand. */
const XENMEMF_ADDRESS_BITS_MASK = 0xff;
const XENMEMF_populate_on_demand = 1 << 16;
/** XENMEM_memory_map: the e820 map a toolstack may set for the domain (struct xen_memory_map, 8 bytes). */
const XENMEM_memory_map = 9;
const XEN_MEMORY_MAP_SIZE = 8;

function u32s(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint32(i * 4, v >>> 0, true));
  return out;
}

/**
 * The domain a memory_op names (Xen's rcu_lock_domain_by_any_id, then the
 * XSM default policy): DOMID_SELF or the caller's own domid is the caller;
 * another domain exists but a domU may not touch it (-EPERM); anything
 * else does not exist (-ESRCH).
 */
function namedDomain(ctx: HypercallContext, domid: number): Domain | number {
  if (domid === DOMID_SELF || domid === ctx.domain.domid) return ctx.domain;
  return ctx.xen.domains.has(domid) ? -EPERM : -ESRCH;
}

/**
 * The frame bound a reservation's address_bits asks for (Xen's MEMF_bits):
 * Infinity when there is none or it covers all of RAM, null when it is too
 * small to allow any frame, which ends the call.
 */
function frameBound(ctx: HypercallContext, memFlags: number): number | null {
  const bits = memFlags & XENMEMF_ADDRESS_BITS_MASK;
  const needed = Math.ceil(Math.log2(ctx.xen.frames.nrFrames)) + PAGE_SHIFT;
  if (bits === 0 || bits >= needed) return Infinity;
  if (bits <= PAGE_SHIFT) return null;
  return 2 ** (bits - PAGE_SHIFT);
}

/** Where each domain's search for a free P2M slot goes on from, so that a long balloon run stays linear. */
const freeSlotCursor = new WeakMap<Domain, number>();

/** A free slot of the domain's P2M (one exists whenever it is below its maximum), searched round from the cursor. */
function freeSlot(domain: Domain): number {
  const p2m = domain.built.p2m;
  const from = freeSlotCursor.get(domain) ?? 0;
  for (let k = 0; k < p2m.maxPfns; k++) {
    const pfn = (from + k) % p2m.maxPfns;
    if (p2m.get(pfn) === INVALID_MFN) {
      freeSlotCursor.set(domain, pfn + 1);
      return pfn;
    }
  }
  return -1;
}

/**
 * Gives the domain one new frame in a free slot of its P2M (`preferred`,
 * when that one is free), below `bound`; its mfn, or null when the domain
 * is at its maximum or no frame can be had.
 */
function takeFrame(domain: Domain, bound: number, preferred?: number): number | null {
  const p2m = domain.built.p2m;
  if (p2m.nrPages >= p2m.maxPfns) return null;
  const slot = preferred !== undefined && preferred < p2m.maxPfns && p2m.get(preferred) === INVALID_MFN ? preferred : freeSlot(domain);
  const mfn = p2m.populate(slot);
  if (mfn < 0) return null;
  if (mfn >= bound) {
    p2m.release(slot);
    return null;
  }
  return mfn;
}

/** The P2M slot that holds `mfn`: the M2P's pfn when it agrees, else a search; -1 when the domain's P2M has no such frame. */
function slotOf(ctx: HypercallContext, domain: Domain, mfn: number): number {
  const p2m = domain.built.p2m;
  const hint = ctx.xen.m2p.get(mfn);
  if (p2m.get(hint) === mfn) return hint;
  for (let pfn = 0; pfn < p2m.maxPfns; pfn++) if (p2m.get(pfn) === mfn) return pfn;
  return -1;
}

/**
 * Takes one frame back from the domain (Xen's guest_remove_page): it must
 * be one of the domain's frames; a pinned table whose pin is its only use
 * is unpinned first. False when it cannot go (not the domain's, or still
 * in use), which ends decrease_reservation.
 */
function giveBackFrame(ctx: HypercallContext, domain: Domain, mfn: number): boolean {
  const { frames, types } = ctx.xen;
  if (!frames.isRam(mfn) || frames.ownerOf(mfn) !== domain.domid) return false;
  const pfn = slotOf(ctx, domain, mfn);
  if (pfn < 0) return false;
  if (types.isPinned(mfn) && frames.count[mfn] === 1 && types.typeCountOf(mfn) === 1) unpinTable(types, domain.domid, mfn);
  return domain.built.p2m.release(pfn) === 0;
}

/** increase_reservation: new frames, their mfns written to extent_start (unless it is null). */
function increaseReservation(ctx: HypercallContext, domain: Domain, r: MemoryReservation, start: number, bound: number): number {
  if (r.extent_order > DOMU_MAX_ORDER) return start;
  let i = start;
  for (; i < r.nr_extents; i++) {
    if (r.extent_order !== 0) break;
    const mfn = takeFrame(domain, bound);
    if (mfn === null) break;
    if (r.extent_start !== 0 && !copyToGuest(ctx, r.extent_start + i * 4, u32s(mfn))) break;
  }
  return i;
}

/** decrease_reservation: the frames extent_start names (2^order from each) go back to the hypervisor. */
function decreaseReservation(ctx: HypercallContext, domain: Domain, r: MemoryReservation, start: number): number {
  if (r.extent_order > DOMU_MAX_ORDER) return start;
  let i = start;
  for (; i < r.nr_extents; i++) {
    const gmfn = readGuestU32(ctx, r.extent_start + i * 4);
    if (gmfn === null) break;
    let j = 0;
    while (j < 2 ** r.extent_order && giveBackFrame(ctx, domain, gmfn + j)) j++;
    if (j < 2 ** r.extent_order) break;
  }
  return i;
}

/** populate_physmap: a new frame for each pfn extent_start names, recorded in the M2P, its mfn written back in place. */
function populatePhysmap(ctx: HypercallContext, domain: Domain, r: MemoryReservation, start: number, bound: number): number {
  if (r.extent_order > DOMU_MAX_ORDER) return start;
  // Populate-on-demand is for a domain populating another (a toolstack); on oneself Xen stops at once.
  if ((r.mem_flags & XENMEMF_populate_on_demand) !== 0) return start;
  let i = start;
  for (; i < r.nr_extents; i++) {
    const gpfn = readGuestU32(ctx, r.extent_start + i * 4);
    if (gpfn === null || r.extent_order !== 0) break;
    const mfn = takeFrame(domain, bound, gpfn);
    if (mfn === null) break;
    ctx.xen.m2p.set(mfn, gpfn);
    if (!copyToGuest(ctx, r.extent_start + i * 4, u32s(mfn))) break;
  }
  return i;
}

/** The three reservation sub-ops: the number of extents done, from `start`. */
function reservationOp(ctx: HypercallContext, op: number, start: number, arg: number): number {
  const bytes = copyFromGuest(ctx, arg, xen_memory_reservation.sizeof);
  if (bytes === null) return start;
  const r = readMemoryReservation(new DataView(bytes.buffer), 0);
  if (r.nr_extents > 0xffffffff >>> MEMOP_EXTENT_SHIFT || start >= r.nr_extents) return start;
  // A null list is only for increase_reservation (frames taken, mfns not
  // reported); for the others Xen fails its first read from it.
  if (r.extent_start === 0 ? op !== XENMEM_increase_reservation : !guestRange(r.extent_start, r.nr_extents * 4)) return start;
  const domain = namedDomain(ctx, r.domid);
  if (typeof domain === "number") return start;
  const bound = frameBound(ctx, r.mem_flags);
  if (bound === null) return start;
  switch (op) {
    case XENMEM_increase_reservation:
      return increaseReservation(ctx, domain, r, start, bound);
    case XENMEM_decrease_reservation:
      return decreaseReservation(ctx, domain, r, start);
    default:
      return populatePhysmap(ctx, domain, r, start, bound);
  }
}

/** current_reservation, maximum_reservation, maximum_gpfn: about the domain the domid_t at `arg` names. */
function reservationQuery(ctx: HypercallContext, op: number, arg: number): number {
  const bytes = copyFromGuest(ctx, arg, 2);
  if (bytes === null) return -EFAULT;
  const domain = namedDomain(ctx, new DataView(bytes.buffer).getUint16(0, true));
  if (typeof domain === "number") return domain;
  const p2m = domain.built.p2m;
  switch (op) {
    case XENMEM_current_reservation:
      return p2m.nrPages;
    case XENMEM_maximum_reservation:
      return p2m.maxPfns;
    default: {
      // A PV guest tells its pfn count in shared_info.arch.max_pfn; Xen answers that less one (0 for none).
      const at = domain.built.sharedInfoMfn * PAGE_SIZE + shared_info.arch + arch_shared_info.max_pfn;
      return Math.max(ctx.xen.mem.read32(at), 1) - 1;
    }
  }
}

function memoryOp(ctx: HypercallContext, cmd: number, arg: number): number {
  const op = cmd & MEMOP_CMD_MASK;
  const start = cmd >>> MEMOP_EXTENT_SHIFT;
  switch (op) {
    case XENMEM_increase_reservation:
    case XENMEM_decrease_reservation:
    case XENMEM_populate_physmap:
      return reservationOp(ctx, op, start, arg);
    case XENMEM_maximum_ram_page:
      // Xen's max_page: one past the highest frame of RAM.
      return start !== 0 ? -EINVAL : ctx.xen.frames.nrFrames;
    case XENMEM_current_reservation:
    case XENMEM_maximum_reservation:
    case XENMEM_maximum_gpfn:
      return start !== 0 ? -EINVAL : reservationQuery(ctx, op, arg);
    case XENMEM_machphys_mapping: {
      // Where the read-only M2P is, up to the part this machine's frames fill, and the largest mfn it covers.
      // This and memory_map are x86 sub-ops, which Xen matches on the whole cmd: start bits make them unknown.
      if (start !== 0) return -ENOSYS;
      const { m2p } = ctx.xen;
      const mapping = new Uint8Array(xen_machphys_mapping.sizeof);
      const view = new DataView(mapping.buffer);
      view.setUint32(xen_machphys_mapping.v_start, MACH2PHYS_VIRT_START, true);
      view.setUint32(xen_machphys_mapping.v_end, m2p.virtEnd, true);
      view.setUint32(xen_machphys_mapping.max_mfn, m2p.maxMfn, true);
      return copyToGuest(ctx, arg, mapping) ? 0 : -EFAULT;
    }
    case XENMEM_memory_map:
      // No toolstack set a pseudo-physical e820 map, and Xen then answers -ENOSYS (after reading the struct).
      if (start !== 0) return -ENOSYS;
      return copyFromGuest(ctx, arg, XEN_MEMORY_MAP_SIZE) === null ? -EFAULT : -ENOSYS;
    default:
      return -ENOSYS;
  }
}

defineHypercall(__HYPERVISOR_memory_op, (ctx, cmd, arg) => memoryOp(ctx, cmd, arg));
