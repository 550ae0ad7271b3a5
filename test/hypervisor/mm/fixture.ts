// test/hypervisor/mm/fixture.ts — a small machine for the memory-manager tests: RAM
// in a plain buffer, the frame table, the M2P and page types over it, and
// helpers to lay out guest page tables, snapshot all state, and audit every
// reference count against what the live tables actually hold.

import { DOMID_XEN } from "../../../hypervisor/abi/xen.js";
import { FrameTable } from "../../../hypervisor/mm/frames.js";
import { M2P } from "../../../hypervisor/mm/m2p.js";
import { bufferMemory } from "../../../hypervisor/mm/memory.js";
import {
  PGT_l1_page_table,
  PGT_l2_page_table,
  PGT_pinned,
  PGT_type_mask,
  PGT_writable_page,
  PageTypes,
  guestL2Slots,
} from "../../../hypervisor/mm/pagetype.js";
import {
  L1_PAGETABLE_ENTRIES,
  L3_GUEST_ENTRIES,
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_PRESENT,
  _PAGE_RW,
  _PAGE_USER,
  entryAddress,
  pteHi,
  pteLo,
  pteMfn,
} from "../../../hypervisor/mm/pte.js";

/** The flags the domain builder gives L2 and L3 entries (XEN-ABI.md 7.2). */
export const TABLE = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY;
/** A writable kernel page. */
export const DATA_RW = _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED;
/** A read-only kernel page (how the builder maps page tables). */
export const DATA_RO = _PAGE_PRESENT | _PAGE_ACCESSED;

export interface Snapshot {
  ram: Uint8Array;
  owner: Uint16Array;
  count: Uint32Array;
  type: Uint8Array;
  typeFlags: Uint8Array;
  typeCount: Uint32Array;
  available: number;
}

export type Machine = ReturnType<typeof machine>;

/** A machine of `nrFrames` frames with frame 0 reserved for the hypervisor, as the real one keeps it. */
export function machine(nrFrames = 48) {
  const ram = new Uint8Array(nrFrames * 4096);
  const mem = bufferMemory(ram);
  let flushes = 0;
  const frames = new FrameTable(mem, { reserved: [0], flushTlb: () => flushes++ });
  const m2p = new M2P(frames);
  const types = new PageTypes(frames, m2p.xenL2Slots);
  const view = new DataView(ram.buffer);

  /** Writes an entry straight into RAM, as a guest fills a page before it becomes a table. */
  function setEntry(tableMfn: number, index: number, mfn: number, flags: number): void {
    mem.write64(entryAddress(tableMfn, index), pteLo(mfn, flags), pteHi(mfn, flags));
  }

  function entry(tableMfn: number, index: number): [number, number] {
    const at = entryAddress(tableMfn, index);
    return [view.getUint32(at, true), view.getUint32(at + 4, true)];
  }

  function alloc(domid: number, n: number): number[] {
    const mfns: number[] = [];
    for (let i = 0; i < n; i++) {
      const mfn = frames.allocate(domid);
      if (mfn < 0) throw new Error(`test machine out of frames (${mfn})`);
      mfns.push(mfn);
    }
    return mfns;
  }

  function snapshot(): Snapshot {
    return {
      ram: ram.slice(),
      owner: frames.owner.slice(),
      count: frames.count.slice(),
      type: frames.type.slice(),
      typeFlags: frames.typeFlags.slice(),
      typeCount: frames.typeCount.slice(),
      available: frames.available,
    };
  }

  return { ram, mem, frames, m2p, types, view, setEntry, entry, alloc, snapshot, flushes: () => flushes };
}

/**
 * A frame's type as far as it means anything: its type and flags while it
 * has typed users; "unused" otherwise. A frame whose type count fell back to
 * zero keeps a stale type byte (as in Xen), which only decides whether a
 * later change of type must flush TLBs, so it is not state a refused
 * operation must restore.
 */
function typeState(s: Snapshot, mfn: number): string {
  return s.typeCount[mfn] === 0 ? "unused" : `type ${s.type[mfn]} flags ${s.typeFlags[mfn]} count ${s.typeCount[mfn]}`;
}

/** What differs between two snapshots, one line per frame field or RAM entry, for readable failures. */
export function changes(before: Snapshot, after: Snapshot): string[] {
  const out: string[] = [];
  for (const field of ["owner", "count"] as const) {
    before[field].forEach((v, mfn) => {
      if (after[field][mfn] !== v) out.push(`${field}[${mfn}] ${v} -> ${after[field][mfn]}`);
    });
  }
  before.typeCount.forEach((_, mfn) => {
    if (typeState(before, mfn) !== typeState(after, mfn)) out.push(`frame ${mfn}: ${typeState(before, mfn)} -> ${typeState(after, mfn)}`);
  });
  for (let at = 0; at < before.ram.length; at += 8) {
    for (let b = 0; b < 8; b++) {
      if (before.ram[at + b] !== after.ram[at + b]) {
        out.push(`ram frame ${at >> 12} entry ${(at & 0xfff) / 8} changed`);
        break;
      }
    }
  }
  if (before.available !== after.available) out.push(`available ${before.available} -> ${after.available}`);
  return out;
}

/** One PV address space laid out the way the domain builder does, not yet validated. */
export interface AddressSpace {
  domid: number;
  l3: number;
  /** The L2 under L3 slot 0 (0-1 GiB). */
  l2: number;
  /** The special L2 under L3 slot 3 (3-4 GiB, the hypervisor hole at its top). */
  l2x: number;
  /** The L1 for 0-2 MiB. */
  l1: number;
  /** A page mapped writable at 0x0000, and one mapped read-only at 0x2000. */
  data: number;
  ro: number;
  /** A page the domain owns but nothing maps. */
  spare: number;
}

/**
 * L3 -> (slot 0) L2 -> (slot 0) L1 -> data RW at 0x0000, L3 itself RO at
 * 0x1000, ro RO at 0x2000; L3 slot 3 -> the special L2, which maps nothing.
 */
export function addressSpace(m: Machine, domid: number): AddressSpace {
  const [l3, l2, l2x, l1, data, ro, spare] = m.alloc(domid, 7) as [number, number, number, number, number, number, number];
  m.setEntry(l3, 0, l2, TABLE);
  m.setEntry(l3, 3, l2x, TABLE);
  m.setEntry(l2, 0, l1, TABLE);
  m.setEntry(l1, 0, data, DATA_RW);
  m.setEntry(l1, 1, l3, DATA_RO);
  m.setEntry(l1, 2, ro, DATA_RO);
  return { domid, l3, l2, l2x, l1, data, ro, spare };
}

/**
 * Recomputes every frame's general and type counts from what holds them
 * (present entries of live tables, pins, and the extra holders the test
 * names, e.g. CR3s) and returns the frames where the table disagrees.
 * Also checks the safety invariant: no live table is mapped writable.
 */
export function audit(m: Machine, extra: readonly number[] = []): string[] {
  const { frames, types } = m;
  const count = new Uint32Array(frames.nrFrames);
  const typeCount = new Uint32Array(frames.nrFrames);
  const problems: string[] = [];
  const hold = (mfn: number, typed: boolean) => {
    count[mfn]!++;
    if (typed) typeCount[mfn]!++;
  };
  for (let mfn = 0; mfn < frames.nrFrames; mfn++) {
    if (frames.owner[mfn] === DOMID_XEN) continue;
    if (frames.typeFlags[mfn]! & PGT_pinned) hold(mfn, true);
    if (!types.isLivePageTable(mfn)) continue;
    const type = frames.type[mfn]!;
    const level = type & PGT_type_mask;
    const slots = level === PGT_l1_page_table ? L1_PAGETABLE_ENTRIES : level === PGT_l2_page_table ? guestL2Slots(type) : L3_GUEST_ENTRIES;
    for (let i = 0; i < slots; i++) {
      const [lo, hi] = m.entry(mfn, i);
      if ((lo & _PAGE_PRESENT) === 0) continue;
      const target = pteMfn(lo, hi);
      if (frames.owner[target] !== frames.owner[mfn]) problems.push(`frame ${mfn} entry ${i} reaches frame ${target} of another owner`);
      if (level === PGT_l1_page_table) {
        hold(target, (lo & _PAGE_RW) !== 0);
        if ((lo & _PAGE_RW) !== 0 && frames.type[target] !== PGT_writable_page) {
          problems.push(`frame ${mfn} entry ${i} maps frame ${target} (type ${frames.type[target]}) writable`);
        }
      } else {
        hold(target, true);
        const want = level === PGT_l2_page_table ? PGT_l1_page_table : PGT_l2_page_table;
        if ((frames.type[target]! & PGT_type_mask) !== want) problems.push(`frame ${mfn} entry ${i} reaches frame ${target} of type ${frames.type[target]}`);
      }
    }
  }
  for (const mfn of extra) hold(mfn, true);
  for (let mfn = 0; mfn < frames.nrFrames; mfn++) {
    if (frames.owner[mfn] === DOMID_XEN) continue;
    if (frames.count[mfn] !== count[mfn]) problems.push(`frame ${mfn}: count ${frames.count[mfn]}, held ${count[mfn]}`);
    if (frames.typeCount[mfn] !== typeCount[mfn]) problems.push(`frame ${mfn}: type count ${frames.typeCount[mfn]}, held ${typeCount[mfn]}`);
  }
  return problems;
}
