// hypervisor/gnttab.ts — grant tables v1: how a domain lets another map or copy one of its frames.
//
// A PV domain may map only its own frames (mm/pagetype.ts), so sharing
// memory with another domain is always by invitation. The granter fills an
// entry of its grant table — a few frames of 8-byte grant_entry_v1 {flags,
// domid, frame} that it maps itself (GNTTABOP_setup_table gives their MFNs)
// — writing the frame and the peer's domid first and then flags =
// GTF_permit_access (| GTF_readonly). The peer names the entry by (granter,
// ref) in grant_table_op: map_grant_ref puts the frame into its page
// tables, copy moves bytes to or from it. While the frame is in use the
// hypervisor keeps GTF_reading (and, for a writable use, GTF_writing) set in
// the entry; the granter ends access by clearing flags with a cmpxchg that
// only succeeds while those two bits are clear, so it cannot take a frame
// back while anyone still maps it (XEN-ABI.md 8; grant_table.h, "grant
// entry protocol"). Every check here reads the entry once, validates what
// it read and writes the flags back in one store: no guest runs during a
// hypercall, so that is the cmpxchg Xen does.
//
// The hypervisor's own record of a ref in use is its active entry (which
// domain uses it, the frame, how many read-only and writable uses); each
// mapping a domain holds is a maptrack entry, named to the guest by its
// handle. A mapping holds a general reference on the frame and, when
// writable, its writable type, so a granted page table or descriptor page
// can be mapped read-only but never writable, and the frame cannot change
// type or owner while mapped. A PV domain's host mapping is an L1 entry of
// its own page tables, written by hypervisor/x86/grant-mapping.ts, and the
// entry owns those references; a device mapping (GNTMAP_device_map, no
// PTE) and every mapping of domain 0 — the TypeScript toolstack, which has
// no page tables and maps through the API at the end of this file — hold
// them in their maptrack entry. The errors are Xen's (common/
// grant_table.c, facts only): a ref the entry does not grant to the caller,
// a read-only grant asked for writing, or a frame that cannot be pinned is
// GNTST_general_error, as in Xen; a frame the granter does not own is
// GNTST_bad_page; a ref past the table GNTST_bad_gntref.
//
// Only v1 exists here: set_version(2) is -ENOSYS, as Xen answers with v2
// disabled. transfer, dump_table, unmap_and_replace and cache_flush are not
// provided (-ENOSYS): nothing in XEN-ABI.md's guests uses them.

import { EFAULT, EINVAL, ENOMEM, ENOSYS, EPERM, ESRCH } from "./abi/errno.js";
import {
  GNTCOPY_dest_gref,
  GNTCOPY_source_gref,
  GNTMAP_device_map,
  GNTMAP_host_map,
  GNTMAP_readonly,
  GNTST_bad_copy_arg,
  GNTST_bad_domain,
  GNTST_bad_gntref,
  GNTST_bad_handle,
  GNTST_bad_page,
  GNTST_bad_virt_addr,
  GNTST_eagain,
  GNTST_general_error,
  GNTST_no_device_space,
  GNTST_okay,
  GNTST_permission_denied,
  GNTTABOP_CMD_MASK,
  GNTTABOP_cache_flush,
  GNTTABOP_copy,
  GNTTABOP_get_status_frames,
  GNTTABOP_get_version,
  GNTTABOP_map_grant_ref,
  GNTTABOP_query_size,
  GNTTABOP_set_version,
  GNTTABOP_setup_table,
  GNTTABOP_swap_grant_ref,
  GNTTABOP_unmap_grant_ref,
  GRANT_ENTRIES_PER_FRAME_V1,
  GTF_permit_access,
  GTF_reading,
  GTF_readonly,
  GTF_sub_page,
  GTF_type_mask,
  GTF_writing,
  gnttab_copy,
  gnttab_get_status_frames,
  gnttab_get_version,
  gnttab_map_grant_ref,
  gnttab_query_size,
  gnttab_set_version,
  gnttab_setup_table,
  gnttab_swap_grant_ref,
  gnttab_unmap_grant_ref,
  grant_entry_v1,
} from "./abi/grant_table.js";
import { DOMID_SELF, __HYPERVISOR_grant_table_op } from "./abi/xen.js";
import type { Domain } from "./domain.js";
import { type HypercallContext, copyFromGuest, copyToGuest, defineHypercall, guestRange } from "./hypercall.js";
import { INVALID_M2P_ENTRY } from "./mm/m2p.js";
import { PGT_writable_page } from "./mm/pagetype.js";
import { PAGE_SIZE } from "./mm/pte.js";
import type { Vcpu } from "./vcpu.js";
import { createGrantHostMapping, destroyGrantHostMapping } from "./x86/grant-mapping.js";
import { flushGuestTlb } from "./x86/mm.js";
import type { Hypervisor } from "./xen.js";

/**
 * Grant-table frames a domain may have (Xen's max_grant_frames; xl's
 * default is 64). 32 frames are 16384 refs, far more than any guest here
 * uses; they are allocated only as setup_table asks for them.
 */
export const DEFAULT_MAX_GRANT_FRAMES = 32;
/** Frames a table reports before any setup_table (Xen's INITIAL_NR_GRANT_FRAMES). */
export const INITIAL_NR_GRANT_FRAMES = 1;
/** Mappings one domain may hold at once (Xen's maptrack limit): the next map is GNTST_no_device_space. */
export const MAX_MAPTRACK_HANDLES = 4096;
/** The toolstack's domid: the entry a backend maps must name it. */
export const DOMID_DOM0 = 0;
/** The only grant-table version this hypervisor implements. */
const GNTTAB_VERSION = 1;

/** The hypervisor's record of a ref in use (Xen's active_grant_entry). */
interface ActiveEntry {
  /** The one domain using the ref while it is active. */
  readonly mapper: number;
  readonly mfn: number;
  /** Read-only uses and writable uses: a host or device mapping, or a copy in progress, each counts once. */
  readers: number;
  writers: number;
}

/** One mapping a domain holds (Xen's grant_mapping): what its handle names. */
export interface GrantMapping {
  readonly handle: number;
  readonly granter: GrantTable;
  readonly ref: number;
  readonly mfn: number;
  readonly readonly: boolean;
  /** The GNTMAP_* flags it was mapped with; host_map and device_map are cleared as each part is unmapped. */
  flags: number;
  /** The host part is an entry of the mapper's page tables, which holds its references (a PV domU), rather than held here (domain 0). */
  readonly hostInPte: boolean;
}

/**
 * A domain's mappings by handle. New handles are handed out first and freed
 * ones reused oldest first, as Xen's maptrack free list does, so a stale
 * handle names nothing for as long as possible.
 */
export class Maptrack {
  private readonly entries = new Map<number, GrantMapping>();
  private readonly freeHandles: number[] = [];
  private nextHandle = 0;

  /** A free handle, or -1 when the domain holds MAX_MAPTRACK_HANDLES mappings. */
  allocate(): number {
    if (this.nextHandle < MAX_MAPTRACK_HANDLES) return this.nextHandle++;
    return this.freeHandles.length > 0 ? this.freeHandles.shift()! : -1;
  }

  release(handle: number): void {
    this.entries.delete(handle);
    this.freeHandles.push(handle);
  }

  set(mapping: GrantMapping): void {
    this.entries.set(mapping.handle, mapping);
  }

  get(handle: number): GrantMapping | undefined {
    return this.entries.get(handle);
  }

  get size(): number {
    return this.entries.size;
  }

  all(): GrantMapping[] {
    return [...this.entries.values()];
  }
}

/**
 * A domain's grant table: its shared frames of grant entries (which the
 * domain owns and maps; each also holds a permanent writable type
 * reference, as Xen's shared xenheap pages do, so it can never become a
 * page table the hypervisor would then be writing flags into), the active
 * entries of its refs in use, and the maptrack of the mappings it holds
 * of other domains' grants.
 */
export class GrantTable {
  readonly frameMfns: number[] = [];
  readonly maptrack = new Maptrack();
  /** Set when the domain is destroyed: its frames may be gone, so nothing writes its entries again. */
  dead = false;
  private readonly active = new Map<number, ActiveEntry>();

  constructor(
    private readonly xen: Hypervisor,
    readonly domid: number,
    readonly maxFrames = DEFAULT_MAX_GRANT_FRAMES,
  ) {}

  /** Frames the table has, as query_size reports them: never fewer than INITIAL_NR_GRANT_FRAMES. */
  get nrFrames(): number {
    return Math.max(INITIAL_NR_GRANT_FRAMES, this.frameMfns.length);
  }

  get nrEntries(): number {
    return this.nrFrames * GRANT_ENTRIES_PER_FRAME_V1;
  }

  /** Grows the table to `nrFrames` frames (never shrinks); 0, or -ENOMEM with nothing allocated. */
  grow(nrFrames: number): number {
    const { frames, types, m2p } = this.xen;
    const added: number[] = [];
    while (this.frameMfns.length + added.length < nrFrames) {
      const mfn = frames.allocate(this.domid);
      if (mfn < 0 || types.getPageAndType(mfn, this.domid, PGT_writable_page) < 0) {
        if (mfn >= 0) frames.free(this.domid, mfn);
        for (const m of added) {
          types.putPageAndType(m);
          frames.free(this.domid, m);
        }
        return -ENOMEM;
      }
      m2p.set(mfn, INVALID_M2P_ENTRY);
      added.push(mfn);
    }
    this.frameMfns.push(...added);
    return 0;
  }

  /** The machine address of entry `ref`, or -1 while its frame was never allocated (the entry reads as zero). */
  private entryAddress(ref: number): number {
    const mfn = this.frameMfns[Math.floor(ref / GRANT_ENTRIES_PER_FRAME_V1)];
    return mfn === undefined ? -1 : mfn * PAGE_SIZE + (ref % GRANT_ENTRIES_PER_FRAME_V1) * grant_entry_v1.sizeof;
  }

  /** flags | domid << 16, the entry's first word. */
  private header(ref: number): number {
    const pa = this.entryAddress(ref);
    return pa < 0 ? 0 : this.xen.mem.read32(pa + grant_entry_v1.flags);
  }

  /** The entry's frame field (an MFN for a PV granter). */
  entryFrame(ref: number): number {
    const pa = this.entryAddress(ref);
    return pa < 0 ? 0 : this.xen.mem.read32(pa + grant_entry_v1.frame);
  }

  /** The entry's flags as the granter sees them (0 for a ref whose frame does not exist). */
  entryFlags(ref: number): number {
    return this.header(ref) & 0xffff;
  }

  activeEntry(ref: number): Readonly<ActiveEntry> | undefined {
    return this.active.get(ref);
  }

  /** Refs in use, for the toolstack's view and the teardown. */
  activeRefs(): number[] {
    return [...this.active.keys()];
  }

  /**
   * Marks the entry in use for `mapper` (Xen's _set_status_v1): the first
   * use checks that it is a GTF_permit_access entry naming `mapper` (and,
   * for a mapping, not a sub-page grant); a writable use needs the entry
   * not GTF_readonly. Sets GTF_reading, and GTF_writing for a writable use.
   */
  private setStatus(ref: number, inUse: boolean, mapper: number, readonly: boolean, mapping: boolean): number {
    const word = this.header(ref);
    const flags = word & 0xffff;
    const domid = word >>> 16;
    const mask = GTF_type_mask | (mapping ? GTF_sub_page : 0);
    if (!inUse && ((flags & mask) !== GTF_permit_access || domid !== mapper)) return GNTST_general_error;
    let set = GTF_reading;
    if (!readonly) {
      if ((flags & GTF_readonly) !== 0) return GNTST_general_error;
      set |= GTF_writing;
    }
    this.xen.mem.write32(this.entryAddress(ref), (word | set) >>> 0);
    return GNTST_okay;
  }

  /** Clears flag bits of the entry, leaving what the granter wrote (Xen's gnttab_clear_flags). */
  private clearFlags(ref: number, bits: number): void {
    if (this.dead || bits === 0) return;
    const pa = this.entryAddress(ref);
    if (pa >= 0) this.xen.mem.write32(pa, (this.xen.mem.read32(pa) & ~bits) >>> 0);
  }

  /**
   * Starts `uses` uses of `ref` by `mapper` (Xen's map_grant_ref and
   * acquire_grant_for_copy, up to the frame): the entry is checked and
   * marked as needed, the frame of a ref not yet active must be the
   * granter's, and the active entry counts the uses. Returns the frame, or a
   * GNTST error with nothing changed.
   */
  acquire(ref: number, mapper: number, readonly: boolean, mapping: boolean, uses: number): { status: number; mfn: number } {
    if (!Number.isInteger(ref) || ref < 0 || ref >= this.nrEntries) return { status: GNTST_bad_gntref, mfn: 0 };
    let act = this.active.get(ref);
    if (act !== undefined && act.mapper !== mapper) return { status: GNTST_general_error, mfn: 0 };
    if (act === undefined || (!readonly && act.writers === 0)) {
      const status = this.setStatus(ref, act !== undefined, mapper, readonly, mapping);
      if (status !== GNTST_okay) return { status, mfn: 0 };
      if (act === undefined) {
        const mfn = this.entryFrame(ref);
        if (this.xen.frames.ownerOf(mfn) !== this.domid) {
          this.clearFlags(ref, GTF_reading | (readonly ? 0 : GTF_writing));
          return { status: GNTST_bad_page, mfn: 0 };
        }
        act = { mapper, mfn, readers: 0, writers: 0 };
        this.active.set(ref, act);
      }
    }
    if (readonly) act.readers += uses;
    else act.writers += uses;
    return { status: GNTST_okay, mfn: act.mfn };
  }

  /** Ends `uses` uses of `ref`; the last writable one clears GTF_writing, the last of all GTF_reading. */
  release(ref: number, readonly: boolean, uses: number): void {
    const act = this.active.get(ref);
    if (act === undefined || uses === 0) return;
    if (readonly) act.readers -= uses;
    else act.writers -= uses;
    if (act.readers < 0 || act.writers < 0) throw new Error(`domain ${this.domid} grant ${ref}: more uses released than taken`);
    let clear = !readonly && act.writers === 0 ? GTF_writing : 0;
    if (act.readers + act.writers === 0) {
      clear |= GTF_reading;
      this.active.delete(ref);
    }
    this.clearFlags(ref, clear);
  }

  /** GNTTABOP_swap_grant_ref: exchanges two entries, neither of which may be in use. */
  swap(refA: number, refB: number): number {
    for (const ref of [refA, refB]) if (ref >= this.nrEntries) return GNTST_bad_gntref;
    if (refA === refB) return GNTST_okay;
    if (this.active.has(refA) || this.active.has(refB)) return GNTST_eagain;
    const a = this.entryAddress(refA);
    const b = this.entryAddress(refB);
    const mem = this.xen.mem;
    const read = (pa: number) => (pa < 0 ? [0, 0] : [mem.read32(pa), mem.read32(pa + 4)]);
    const [aLo, aHi] = read(a) as [number, number];
    const [bLo, bHi] = read(b) as [number, number];
    if (a >= 0) mem.write64(a, bLo, bHi);
    if (b >= 0) mem.write64(b, aLo, aHi);
    return GNTST_okay;
  }
}

/** Who maps: a domain with its maptrack, and for a PV domU the vCPU whose page tables take host mappings. */
interface Mapper {
  readonly domid: number;
  readonly maptrack: Maptrack;
  readonly vcpu: Vcpu | null;
}

/** A map or unmap's host_addr, as the two halves of its u64. */
interface HostAddr {
  lo: number;
  hi: number;
}

/** A general reference on the frame, and its writable type for a writable use; false (nothing taken) when refused. */
function takeFrameRefs(xen: Hypervisor, mfn: number, owner: number, readonly: boolean): boolean {
  if (!xen.frames.getPage(mfn, owner)) return false;
  if (!readonly && xen.types.getPageType(mfn, PGT_writable_page) < 0) {
    xen.frames.putPage(mfn);
    return false;
  }
  return true;
}

function dropFrameRefs(xen: Hypervisor, mfn: number, readonly: boolean): void {
  if (!readonly) xen.types.putPageType(mfn);
  xen.frames.putPage(mfn);
}

/**
 * One map_grant_ref (Xen's map_grant_ref): GNTMAP_host_map and/or
 * GNTMAP_device_map of (dom, ref) for `mapper`. Each part is one use of
 * the grant with its own frame references; a PV mapper's host part is an
 * L1 entry at host_addr. Returns the status, and the handle and the
 * frame's machine address (dev_bus_addr) on success.
 */
function mapGrantRef(
  xen: Hypervisor, mapper: Mapper, host: HostAddr, flags: number, ref: number, dom: number,
): { status: number; handle: number; devBusAddr: number } {
  const fail = (status: number) => ({ status, handle: 0, devBusAddr: 0 });
  const parts = [GNTMAP_host_map, GNTMAP_device_map].filter((p) => (flags & p) !== 0);
  if (parts.length === 0) return fail(GNTST_bad_gntref);
  const granterDomain = xen.domains.get(dom);
  if (granterDomain === undefined) return fail(GNTST_bad_domain);
  const granter = xen.grants.tableOf(granterDomain);
  const handle = mapper.maptrack.allocate();
  if (handle < 0) return fail(GNTST_no_device_space);
  const readonly = (flags & GNTMAP_readonly) !== 0;
  const acquired = granter.acquire(ref, mapper.domid, readonly, true, parts.length);
  if (acquired.status !== GNTST_okay) {
    mapper.maptrack.release(handle);
    return fail(acquired.status);
  }
  const mfn = acquired.mfn;
  let taken = 0;
  let status = GNTST_okay;
  for (; taken < parts.length; taken++) {
    if (!takeFrameRefs(xen, mfn, granter.domid, readonly)) {
      status = GNTST_general_error;
      break;
    }
  }
  const hostInPte = (flags & GNTMAP_host_map) !== 0 && mapper.vcpu !== null;
  if (status === GNTST_okay && hostInPte) {
    status = createGrantHostMapping(xen, mapper.vcpu!, host.lo, host.hi, mfn, flags);
    if (status === GNTST_okay) flushGuestTlb(xen);
  }
  if (status !== GNTST_okay) {
    for (let i = 0; i < taken; i++) dropFrameRefs(xen, mfn, readonly);
    granter.release(ref, readonly, parts.length);
    mapper.maptrack.release(handle);
    return fail(status);
  }
  mapper.maptrack.set({ handle, granter, ref, mfn, readonly, flags, hostInPte });
  return { status: GNTST_okay, handle, devBusAddr: mfn * PAGE_SIZE };
}

/**
 * One unmap_grant_ref (Xen's unmap_common): by handle; the host part goes
 * when `host` is given (a non-zero host_addr), its PTE checked to still
 * map the frame, the device part when `devBusAddr` is non-zero, which must
 * then be the frame's address. The last part to go frees the handle.
 */
function unmapGrantRef(xen: Hypervisor, mapper: Mapper, handle: number, host: HostAddr | null, devBusAddr: number): number {
  const mapping = mapper.maptrack.get(handle);
  if (mapping === undefined) return GNTST_bad_handle;
  const { granter, mfn, readonly } = mapping;
  if (devBusAddr !== 0 && devBusAddr !== mfn * PAGE_SIZE) return GNTST_general_error;
  let uses = 0;
  if (host !== null && (mapping.flags & GNTMAP_host_map) !== 0) {
    if (mapping.hostInPte) {
      const status = mapper.vcpu === null
        ? GNTST_general_error
        : destroyGrantHostMapping(xen, mapper.vcpu, host.lo, host.hi, mfn, mapping.flags);
      if (status !== GNTST_okay) return status;
      // No translation may outlive the entry once its references are gone (Xen's gnttab_flush_tlb).
      flushGuestTlb(xen);
    }
    dropFrameRefs(xen, mfn, readonly);
    mapping.flags &= ~GNTMAP_host_map;
    uses++;
  }
  if (devBusAddr !== 0 && (mapping.flags & GNTMAP_device_map) !== 0) {
    dropFrameRefs(xen, mfn, readonly);
    mapping.flags &= ~GNTMAP_device_map;
    uses++;
  }
  if ((mapping.flags & (GNTMAP_host_map | GNTMAP_device_map)) === 0) mapper.maptrack.release(handle);
  granter.release(mapping.ref, readonly, uses);
  return GNTST_okay;
}

/** A frame claimed for one side of a copy: released with releaseCopyFrame. */
interface CopyFrame {
  mfn: number;
  readonly: boolean;
  /** The grant the frame came through, if any. */
  granter: GrantTable | null;
  ref: number;
}

/**
 * Claims one side of a copy (Xen's gnttab_copy_claim_buf): through grant
 * `ref` of `granterDomain` for `ldom`, or the caller's own frame `gmfn`
 * (`granterDomain` is then the caller). The frame gets a general reference,
 * and for the destination its writable type, so a copy can never write a
 * page table or descriptor page.
 */
function claimCopyFrame(
  xen: Hypervisor, granterDomain: Domain, ldom: number, isGref: boolean, refOrGmfn: number, readonly: boolean,
): { status: number; frame?: CopyFrame } {
  let frame: CopyFrame;
  if (isGref) {
    const granter = xen.grants.tableOf(granterDomain);
    const acquired = granter.acquire(refOrGmfn, ldom, readonly, false, 1);
    if (acquired.status !== GNTST_okay) return { status: acquired.status };
    if (!xen.frames.getPage(acquired.mfn, granter.domid)) {
      granter.release(refOrGmfn, readonly, 1);
      return { status: GNTST_bad_domain };
    }
    frame = { mfn: acquired.mfn, readonly, granter, ref: refOrGmfn };
  } else {
    // A PV domain's gmfn is a machine frame; it must be its own (Xen's get_paged_frame).
    if (!xen.frames.getPage(refOrGmfn, granterDomain.domid)) return { status: GNTST_bad_page };
    frame = { mfn: refOrGmfn, readonly, granter: null, ref: 0 };
  }
  if (!readonly && xen.types.getPageType(frame.mfn, PGT_writable_page) < 0) {
    xen.frames.putPage(frame.mfn);
    frame.granter?.release(frame.ref, readonly, 1);
    return { status: GNTST_general_error };
  }
  return { status: GNTST_okay, frame };
}

function releaseCopyFrame(xen: Hypervisor, frame: CopyFrame): void {
  dropFrameRefs(xen, frame.mfn, frame.readonly);
  frame.granter?.release(frame.ref, frame.readonly, 1);
}

/** A copy's offset and length must keep it inside one page (GNTST_bad_copy_arg). */
function copyFits(offset: number, len: number): boolean {
  return offset + len <= PAGE_SIZE;
}

// ------------------------------------------------------------ the hypercall

/** The caller as a mapper: its own maptrack, its vCPU's page tables. */
function guestMapper(ctx: HypercallContext): Mapper {
  return { domid: ctx.domain.domid, maptrack: ctx.xen.grants.tableOf(ctx.domain).maptrack, vcpu: ctx.vcpu };
}

/**
 * The domain setup_table, query_size and get_status_frames name (Xen's
 * rcu_lock_domain_by_any_id, then XSM_TARGET): DOMID_SELF or the caller's
 * own domid; another domain is GNTST_permission_denied for a domU, one
 * that does not exist GNTST_bad_domain.
 */
function targetDomain(ctx: HypercallContext, dom: number): Domain | number {
  if (dom === DOMID_SELF) return ctx.domain;
  const domain = ctx.xen.domains.get(dom);
  if (domain === undefined) return GNTST_bad_domain;
  return domain === ctx.domain ? domain : GNTST_permission_denied;
}

function u32(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getUint32(offset, true);
}

function u16(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getUint16(offset, true);
}

/** Writes an i16 status field back into the guest's struct; false (-EFAULT) when it cannot. */
function putStatus(ctx: HypercallContext, va: number, status: number): boolean {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setInt16(0, status, true);
  return copyToGuest(ctx, va, b);
}

/** GNTTABOP_setup_table: grows the table to nr_frames and writes their MFNs to frame_list (one op only). */
function setupTable(ctx: HypercallContext, uop: number, count: number): number {
  if (count !== 1) return -EINVAL;
  const op = copyFromGuest(ctx, uop, gnttab_setup_table.sizeof);
  if (op === null) return -EFAULT;
  const nrFrames = u32(op, gnttab_setup_table.nr_frames);
  const frameList = u32(op, gnttab_setup_table.frame_list);
  if (!guestRange(frameList, nrFrames * 4)) return -EFAULT;
  const domain = targetDomain(ctx, u16(op, gnttab_setup_table.dom));
  let status: number;
  if (typeof domain === "number") {
    status = domain;
  } else {
    const table = ctx.xen.grants.tableOf(domain);
    if (nrFrames > table.maxFrames) {
      status = GNTST_general_error;
    } else if (nrFrames > table.frameMfns.length && table.grow(nrFrames) < 0) {
      status = GNTST_general_error;
    } else {
      status = GNTST_okay;
      for (let i = 0; i < nrFrames; i++) {
        const b = new Uint8Array(4);
        new DataView(b.buffer).setUint32(0, table.frameMfns[i]!, true);
        if (!copyToGuest(ctx, frameList + 4 * i, b)) status = GNTST_bad_virt_addr;
      }
    }
  }
  return putStatus(ctx, uop + gnttab_setup_table.status, status) ? 0 : -EFAULT;
}

/** GNTTABOP_query_size: the table's frames now and at most (one op only). */
function querySize(ctx: HypercallContext, uop: number, count: number): number {
  if (count !== 1) return -EINVAL;
  const op = copyFromGuest(ctx, uop, gnttab_query_size.sizeof);
  if (op === null) return -EFAULT;
  const view = new DataView(op.buffer);
  const domain = targetDomain(ctx, u16(op, gnttab_query_size.dom));
  if (typeof domain === "number") {
    view.setInt16(gnttab_query_size.status, domain, true);
  } else {
    const table = ctx.xen.grants.tableOf(domain);
    view.setUint32(gnttab_query_size.nr_frames, table.nrFrames, true);
    view.setUint32(gnttab_query_size.max_nr_frames, table.maxFrames, true);
    view.setInt16(gnttab_query_size.status, GNTST_okay, true);
  }
  return copyToGuest(ctx, uop, op) ? 0 : -EFAULT;
}

/** GNTTABOP_map_grant_ref: each op's status, handle and dev_bus_addr written back into it. */
function mapGrantRefs(ctx: HypercallContext, uop: number, count: number): number {
  const size = gnttab_map_grant_ref.sizeof;
  if (!guestRange(uop, count * size)) return -EFAULT;
  const mapper = guestMapper(ctx);
  for (let i = 0; i < count; i++) {
    const va = uop + i * size;
    const op = copyFromGuest(ctx, va, size);
    if (op === null) return -EFAULT;
    const view = new DataView(op.buffer);
    const result = mapGrantRef(
      ctx.xen, mapper,
      { lo: view.getUint32(gnttab_map_grant_ref.host_addr, true), hi: view.getUint32(gnttab_map_grant_ref.host_addr + 4, true) },
      view.getUint32(gnttab_map_grant_ref.flags, true),
      view.getUint32(gnttab_map_grant_ref.ref, true),
      view.getUint16(gnttab_map_grant_ref.dom, true),
    );
    view.setInt16(gnttab_map_grant_ref.status, result.status, true);
    if (result.status === GNTST_okay) {
      view.setUint32(gnttab_map_grant_ref.handle, result.handle, true);
      view.setUint32(gnttab_map_grant_ref.dev_bus_addr, result.devBusAddr % 2 ** 32, true);
      view.setUint32(gnttab_map_grant_ref.dev_bus_addr + 4, Math.floor(result.devBusAddr / 2 ** 32), true);
    }
    if (!copyToGuest(ctx, va, op)) return -EFAULT;
  }
  return 0;
}

/** GNTTABOP_unmap_grant_ref: each op's status written back into it. */
function unmapGrantRefs(ctx: HypercallContext, uop: number, count: number): number {
  const size = gnttab_unmap_grant_ref.sizeof;
  if (!guestRange(uop, count * size)) return -EFAULT;
  const mapper = guestMapper(ctx);
  for (let i = 0; i < count; i++) {
    const va = uop + i * size;
    const op = copyFromGuest(ctx, va, size);
    if (op === null) return -EFAULT;
    const hostLo = u32(op, gnttab_unmap_grant_ref.host_addr);
    const hostHi = u32(op, gnttab_unmap_grant_ref.host_addr + 4);
    const devBusAddr = u32(op, gnttab_unmap_grant_ref.dev_bus_addr) + u32(op, gnttab_unmap_grant_ref.dev_bus_addr + 4) * 2 ** 32;
    const host = hostLo !== 0 || hostHi !== 0 ? { lo: hostLo, hi: hostHi } : null;
    const status = unmapGrantRef(ctx.xen, mapper, u32(op, gnttab_unmap_grant_ref.handle), host, devBusAddr);
    if (!putStatus(ctx, va + gnttab_unmap_grant_ref.status, status)) return -EFAULT;
  }
  return 0;
}

/**
 * One GNTTABOP_copy (Xen's gnttab_copy_one): each side is a grant ref of
 * its domain, or a frame of the caller's own, which only DOMID_SELF may
 * name. Both sides are claimed first, then the range checked, then the
 * bytes copied through machine memory.
 */
function copyOne(ctx: HypercallContext, op: Uint8Array): number {
  const { xen } = ctx;
  const flags = u16(op, gnttab_copy.flags);
  const len = u16(op, gnttab_copy.len);
  const sides = [
    { isGref: (flags & GNTCOPY_source_gref) !== 0, u: u32(op, gnttab_copy.source_u), domid: u16(op, gnttab_copy.source_domid), offset: u16(op, gnttab_copy.source_offset), readonly: true },
    { isGref: (flags & GNTCOPY_dest_gref) !== 0, u: u32(op, gnttab_copy.dest_u), domid: u16(op, gnttab_copy.dest_domid), offset: u16(op, gnttab_copy.dest_offset), readonly: false },
  ];
  const domains: Domain[] = [];
  for (const side of sides) {
    if (side.domid !== DOMID_SELF && !side.isGref) return GNTST_permission_denied;
    const domain = side.domid === DOMID_SELF ? ctx.domain : xen.domains.get(side.domid);
    if (domain === undefined) return GNTST_bad_domain;
    domains.push(domain);
  }
  const claimed: CopyFrame[] = [];
  for (const [i, side] of sides.entries()) {
    const { status, frame } = claimCopyFrame(xen, domains[i]!, ctx.domain.domid, side.isGref, side.u, side.readonly);
    if (status !== GNTST_okay) {
      for (const f of claimed) releaseCopyFrame(xen, f);
      return status;
    }
    claimed.push(frame!);
  }
  const [src, dst] = claimed as [CopyFrame, CopyFrame];
  let status = GNTST_bad_copy_arg;
  if (copyFits(sides[0]!.offset, len) && copyFits(sides[1]!.offset, len)) {
    if (len > 0) xen.writePhysical(dst.mfn * PAGE_SIZE + sides[1]!.offset, xen.cpu.read(src.mfn * PAGE_SIZE + sides[0]!.offset, len));
    status = GNTST_okay;
  }
  releaseCopyFrame(xen, src);
  releaseCopyFrame(xen, dst);
  return status;
}

/** GNTTABOP_copy: each op's status written back into it. */
function copyOps(ctx: HypercallContext, uop: number, count: number): number {
  const size = gnttab_copy.sizeof;
  if (!guestRange(uop, count * size)) return -EFAULT;
  for (let i = 0; i < count; i++) {
    const va = uop + i * size;
    const op = copyFromGuest(ctx, va, size);
    if (op === null) return -EFAULT;
    if (!putStatus(ctx, va + gnttab_copy.status, copyOne(ctx, op))) return -EFAULT;
  }
  return 0;
}

/** GNTTABOP_set_version: version 1 is the one in force; 2 is -ENOSYS (v2 is not offered), anything else -EINVAL. */
function setVersion(ctx: HypercallContext, uop: number): number {
  const op = copyFromGuest(ctx, uop, gnttab_set_version.sizeof);
  if (op === null) return -EFAULT;
  const version = u32(op, gnttab_set_version.version);
  const rc = version === GNTTAB_VERSION ? 0 : version === 2 ? -ENOSYS : -EINVAL;
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, GNTTAB_VERSION, true);
  return copyToGuest(ctx, uop + gnttab_set_version.version, out) ? rc : -EFAULT;
}

/** GNTTABOP_get_version: 1 for the caller; another domain is -EPERM for a domU, a missing one -ESRCH. */
function getVersion(ctx: HypercallContext, uop: number): number {
  const op = copyFromGuest(ctx, uop, gnttab_get_version.sizeof);
  if (op === null) return -EFAULT;
  const dom = u16(op, gnttab_get_version.dom);
  if (dom !== DOMID_SELF) {
    const domain = ctx.xen.domains.get(dom);
    if (domain === undefined) return -ESRCH;
    if (domain !== ctx.domain) return -EPERM;
  }
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, GNTTAB_VERSION, true);
  return copyToGuest(ctx, uop + gnttab_get_version.version, out) ? 0 : -EFAULT;
}

/** GNTTABOP_get_status_frames: a v1 table has no status frames, so asking for any is GNTST_general_error. */
function getStatusFrames(ctx: HypercallContext, uop: number, count: number): number {
  if (count !== 1) return -EINVAL;
  const op = copyFromGuest(ctx, uop, gnttab_get_status_frames.sizeof);
  if (op === null) return -EFAULT;
  const domain = targetDomain(ctx, u16(op, gnttab_get_status_frames.dom));
  const status = typeof domain === "number" ? domain : u32(op, gnttab_get_status_frames.nr_frames) > 0 ? GNTST_general_error : GNTST_okay;
  return putStatus(ctx, uop + gnttab_get_status_frames.status, status) ? 0 : -EFAULT;
}

/** GNTTABOP_swap_grant_ref: pairs of the caller's own refs. */
function swapGrantRefs(ctx: HypercallContext, uop: number, count: number): number {
  const size = gnttab_swap_grant_ref.sizeof;
  if (!guestRange(uop, count * size)) return -EFAULT;
  const table = ctx.xen.grants.tableOf(ctx.domain);
  for (let i = 0; i < count; i++) {
    const va = uop + i * size;
    const op = copyFromGuest(ctx, va, size);
    if (op === null) return -EFAULT;
    const status = table.swap(u32(op, gnttab_swap_grant_ref.ref_a), u32(op, gnttab_swap_grant_ref.ref_b));
    if (!putStatus(ctx, va + gnttab_swap_grant_ref.status, status)) return -EFAULT;
  }
  return 0;
}

/**
 * grant_table_op(cmd, uop, count) (Xen's do_grant_table_op): a count
 * that is negative as an int is -EINVAL, so are bits above the command;
 * a batch whose array is not the guest's to name is -EFAULT before
 * anything is done, one that cannot be read part-way stops there with
 * -EFAULT; otherwise 0 and each op carries its own GNTST status.
 */
function grantTableOp(ctx: HypercallContext, cmd: number, uop: number, count: number): number {
  if ((count | 0) < 0) return -EINVAL;
  const command = cmd & GNTTABOP_CMD_MASK;
  if (command !== GNTTABOP_cache_flush && command !== cmd) return -EINVAL;
  switch (command) {
    case GNTTABOP_map_grant_ref:
      return mapGrantRefs(ctx, uop, count);
    case GNTTABOP_unmap_grant_ref:
      return unmapGrantRefs(ctx, uop, count);
    case GNTTABOP_setup_table:
      return setupTable(ctx, uop, count);
    case GNTTABOP_copy:
      return copyOps(ctx, uop, count);
    case GNTTABOP_query_size:
      return querySize(ctx, uop, count);
    case GNTTABOP_set_version:
      return setVersion(ctx, uop);
    case GNTTABOP_get_status_frames:
      return getStatusFrames(ctx, uop, count);
    case GNTTABOP_get_version:
      return getVersion(ctx, uop);
    case GNTTABOP_swap_grant_ref:
      return swapGrantRefs(ctx, uop, count);
    default:
      return -ENOSYS;
  }
}

defineHypercall(__HYPERVISOR_grant_table_op, (ctx, cmd, uop, count) => grantTableOp(ctx, cmd, uop, count));

// ------------------------------------------------------------ the hypervisor's side: tables, teardown, domain 0

/** A grant mapped by domain 0: read and write the frame through the hypervisor's memory accessors. */
export interface Dom0GrantMapping {
  readonly handle: number;
  /** The granting domain and its ref. */
  readonly domid: number;
  readonly ref: number;
  readonly mfn: number;
  readonly readonly: boolean;
  /** `length` bytes of the frame from `offset`; throws once unmapped or past the page. */
  read(offset: number, length: number): Uint8Array;
  /** Writes into the frame; throws for a read-only mapping, once unmapped, or past the page. */
  write(offset: number, bytes: Uint8Array): void;
}

/**
 * The grant tables of every domain, and domain 0's mappings. Domain 0 is
 * the toolstack in TypeScript: its backends use the same grants a driver
 * domain would, by the same rules — the entry must name domain 0, a
 * read-only grant maps read-only, GTF_reading/GTF_writing are kept while
 * the frame is in use — and get the machine frame to read and write
 * through the hypervisor instead of a PTE.
 */
export class Grants {
  private readonly dom0: Mapper = { domid: DOMID_DOM0, maptrack: new Maptrack(), vcpu: null };

  constructor(private readonly xen: Hypervisor) {}

  /** The domain's grant table, made (without frames) the first time anything needs it. */
  tableOf(domain: Domain): GrantTable {
    domain.grantTable ??= new GrantTable(this.xen, domain.domid);
    return domain.grantTable;
  }

  /** How many grants domain 0 has mapped. */
  get dom0Mappings(): number {
    return this.dom0.maptrack.size;
  }

  /**
   * Maps grant `ref` of domain `domid` for domain 0; read-only when asked
   * (a writable map of a read-only grant is GNTST_general_error). Returns
   * the mapping, or the GNTST error a guest's map_grant_ref would get.
   */
  mapForDom0(domid: number, ref: number, options: { readonly?: boolean } = {}): Dom0GrantMapping | number {
    const flags = GNTMAP_host_map | (options.readonly ? GNTMAP_readonly : 0);
    const result = mapGrantRef(this.xen, this.dom0, { lo: 0, hi: 0 }, flags, ref, domid);
    if (result.status !== GNTST_okay) return result.status;
    const { xen, dom0 } = this;
    const mapping = dom0.maptrack.get(result.handle)!;
    const live = () => {
      if (dom0.maptrack.get(mapping.handle) !== mapping) throw new Error(`grant handle ${mapping.handle} of domain 0 is no longer mapped`);
    };
    const inPage = (offset: number, length: number) => {
      if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > PAGE_SIZE) {
        throw new RangeError(`bytes ${offset}+${length} are not inside the granted page`);
      }
    };
    return {
      handle: result.handle,
      domid,
      ref,
      mfn: mapping.mfn,
      readonly: mapping.readonly,
      read: (offset, length) => {
        live();
        inPage(offset, length);
        return xen.cpu.read(mapping.mfn * PAGE_SIZE + offset, length);
      },
      write: (offset, bytes) => {
        live();
        inPage(offset, bytes.length);
        if (mapping.readonly) throw new Error(`grant ${ref} of domain ${domid} is mapped read-only`);
        xen.writePhysical(mapping.mfn * PAGE_SIZE + offset, bytes);
      },
    };
  }

  /** Ends a mapping of domain 0: GNTST_okay, or GNTST_bad_handle when it is not mapped. */
  unmapForDom0(mapping: Dom0GrantMapping | number): number {
    const handle = typeof mapping === "number" ? mapping : mapping.handle;
    return unmapGrantRef(this.xen, this.dom0, handle, { lo: 0, hi: 0 }, 0);
  }

  /**
   * GNTTABOP_copy from grant `ref` of domain `domid` into a buffer of
   * domain 0: `length` bytes from `offset`, which must stay inside the
   * page (GNTST_bad_copy_arg). The bytes, or the GNTST error.
   */
  copyFromGrant(domid: number, ref: number, offset: number, length: number): Uint8Array | number {
    return this.copyForDom0(domid, ref, offset, length, true, (mfn) => this.xen.cpu.read(mfn * PAGE_SIZE + offset, length));
  }

  /** GNTTABOP_copy of `bytes` from domain 0 into grant `ref` of domain `domid` at `offset`: GNTST_okay or the error. */
  copyToGrant(domid: number, ref: number, offset: number, bytes: Uint8Array): number {
    return this.copyForDom0(domid, ref, offset, bytes.length, false, (mfn) => {
      if (bytes.length > 0) this.xen.writePhysical(mfn * PAGE_SIZE + offset, bytes);
      return GNTST_okay;
    });
  }

  private copyForDom0<T>(domid: number, ref: number, offset: number, length: number, readonly: boolean, move: (mfn: number) => T): T | number {
    const domain = this.xen.domains.get(domid);
    if (domain === undefined) return GNTST_bad_domain;
    const { status, frame } = claimCopyFrame(this.xen, domain, DOMID_DOM0, true, ref, readonly);
    if (status !== GNTST_okay) return status;
    const result = Number.isInteger(offset) && Number.isInteger(length) && offset >= 0 && length >= 0 && copyFits(offset, length)
      ? move(frame!.mfn)
      : GNTST_bad_copy_arg;
    releaseCopyFrame(this.xen, frame!);
    return result;
  }

  /**
   * A domain is being destroyed (called before its memory is freed). As a
   * mapper its grant uses end — the granters' GTF_reading/GTF_writing clear
   * as the last use goes — and the references its maptrack holds are
   * dropped; those its page tables hold go with the page tables. As a
   * granter its table is closed and its frames are released once nothing
   * references them. Returns the frames other domains still map through its
   * grants, which must outlive it until they are unmapped
   * (builder.ts destroyPvDomainMemory).
   */
  domainDestroyed(domain: Domain): Set<number> {
    const table = domain.grantTable;
    const stillMapped = new Set<number>();
    if (table === null) return stillMapped;
    for (const mapping of table.maptrack.all()) {
      const host = (mapping.flags & GNTMAP_host_map) !== 0;
      const device = (mapping.flags & GNTMAP_device_map) !== 0;
      if (host && !mapping.hostInPte) dropFrameRefs(this.xen, mapping.mfn, mapping.readonly);
      if (device) dropFrameRefs(this.xen, mapping.mfn, mapping.readonly);
      table.maptrack.release(mapping.handle);
      mapping.granter.release(mapping.ref, mapping.readonly, (host ? 1 : 0) + (device ? 1 : 0));
    }
    for (const ref of table.activeRefs()) stillMapped.add(table.activeEntry(ref)!.mfn);
    table.dead = true;
    const { frames, types, m2p } = this.xen;
    for (const mfn of table.frameMfns) {
      types.putPageAndType(mfn);
      m2p.set(mfn, INVALID_M2P_ENTRY);
      frames.freeWhenUnreferenced(domain.domid, mfn);
    }
    return stillMapped;
  }
}
