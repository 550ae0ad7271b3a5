// test/hypervisor/mm/invariants.test.ts — a hostile guest's random page-table
// traffic, with a fixed seed: after every operation each reference count
// equals what the live tables, pins and CR3s hold, no live table is mapped
// writable, no table reaches another owner's frame, the hypervisor's slots
// and frames are untouched, and every refused operation changed nothing.

import { describe, expect, it } from "vitest";
import { DOMID_XEN } from "../../../hypervisor/abi/xen.js";
import {
  PGT_l1_page_table,
  PGT_l2_page_table,
  PGT_l3_page_table,
  PGT_pae_xen_l2,
} from "../../../hypervisor/mm/pagetype.js";
import { newGuestCr3, pinTable, unpinTable } from "../../../hypervisor/mm/pin.js";
import {
  COMPAT_L2_PAGETABLE_FIRST_XEN_SLOT,
  COMPAT_L2_PAGETABLE_XEN_SLOTS,
  _PAGE_NX,
  _PAGE_PCD,
  _PAGE_PRESENT,
  _PAGE_PSE,
  entryAddress,
  pteHi,
  pteLo,
} from "../../../hypervisor/mm/pte.js";
import { updatePageTableEntry } from "../../../hypervisor/mm/ptupdate.js";
import { DATA_RO, DATA_RW, TABLE, addressSpace, audit, changes, machine } from "./fixture.js";

/** A small deterministic generator (mulberry32), so a failure repeats exactly. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  return { int, pick };
}

const FLAGS = [0, DATA_RO, DATA_RW, TABLE, _PAGE_PRESENT, TABLE | _PAGE_PSE, DATA_RW | _PAGE_PCD, DATA_RO | _PAGE_NX];
const LEVELS = [PGT_l1_page_table, PGT_l2_page_table, PGT_l3_page_table];

describe("random page-table traffic from two domains", () => {
  it("keeps every count exact and every table safe through 2500 operations", () => {
    const m = machine(72);
    const rng = random(0x5eed);
    const domains = [1, 2];
    for (const d of domains) {
      const as = addressSpace(m, d);
      expect(pinTable(m.types, d, as.l3, PGT_l3_page_table)).toBe(0);
      m.alloc(d, 10);
    }
    const cr3 = new Map<number, number | null>(domains.map((d) => [d, null]));
    const xenFrames = [...m.m2p.tableMfns, ...m.m2p.l1Mfns];
    const xenBytes = xenFrames.map((f) => m.ram.slice(f * 4096, f * 4096 + 4096));
    const allFrames = [...Array(m.frames.nrFrames).keys()];
    const outcomes = new Map<string, number>();

    for (let step = 0; step < 2500; step++) {
      const d = rng.pick(domains);
      const own = allFrames.filter((f) => m.frames.ownerOf(f) === d);
      const tables = own.filter((f) => m.types.isLivePageTable(f));
      const choose = (weights: Array<[number, readonly number[]]>) => {
        let roll = rng.int(100);
        for (const [weight, frames] of weights) {
          if (roll < weight && frames.length > 0) return rng.pick(frames);
          roll -= weight;
        }
        return rng.pick(own);
      };
      const frame = choose([[45, tables], [40, own], [15, allFrames]]);
      const target = choose([[20, tables], [55, own], [20, allFrames], [5, [...xenFrames, 0x1_0000]]]);
      const before = m.snapshot();
      let rc: number;
      let what: string;
      switch (rng.int(8)) {
        case 0:
          what = "pin";
          rc = pinTable(m.types, d, frame, rng.pick(LEVELS));
          break;
        case 1:
          what = "unpin";
          rc = unpinTable(m.types, d, frame);
          break;
        case 2: {
          what = "new_baseptr";
          rc = newGuestCr3(m.types, d, frame, cr3.get(d)!);
          if (rc === 0) cr3.set(d, frame);
          break;
        }
        case 3:
          what = "free";
          rc = m.frames.free(d, frame);
          if (rc === 0 && rng.int(2) === 0) m.frames.allocate(rng.pick(domains));
          break;
        default: {
          what = "mmu_update";
          const index = rng.pick([0, 1, 2, 3, 4, rng.int(512), COMPAT_L2_PAGETABLE_FIRST_XEN_SLOT, 511]);
          const flags = rng.pick(FLAGS);
          rc = updatePageTableEntry(m.types, d, entryAddress(frame, index), pteLo(target, flags), pteHi(target, flags));
        }
      }
      const key = `${what} ${rc}`;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      if (rc < 0) expect(changes(before, m.snapshot()), `step ${step}: refused ${what} changed state`).toEqual([]);
      const holders = [...cr3.values()].filter((f): f is number => f !== null);
      expect(audit(m, holders), `step ${step}: ${what} returned ${rc}`).toEqual([]);
      for (let f = 0; f < m.frames.nrFrames; f++) {
        if (!m.types.isLivePageTable(f) || (m.types.typeOf(f) & PGT_pae_xen_l2) === 0) continue;
        const slots = new Uint32Array(m.ram.buffer, entryAddress(f, COMPAT_L2_PAGETABLE_FIRST_XEN_SLOT), 2 * COMPAT_L2_PAGETABLE_XEN_SLOTS);
        expect([...slots], `step ${step}: the hypervisor's slots of L2 ${f}`).toEqual([...m.m2p.xenL2Slots]);
      }
    }
    xenFrames.forEach((f, i) => {
      expect(m.frames.ownerOf(f)).toBe(DOMID_XEN);
      expect(m.ram.slice(f * 4096, f * 4096 + 4096)).toEqual(xenBytes[i]);
    });
    const succeeded = (what: string) => outcomes.get(`${what} 0`) ?? 0;
    const refusedCount = [...outcomes].filter(([k]) => !k.endsWith(" 0")).reduce((n, [, v]) => n + v, 0);
    expect(succeeded("mmu_update")).toBeGreaterThan(100);
    expect(succeeded("pin") + succeeded("unpin") + succeeded("new_baseptr") + succeeded("free")).toBeGreaterThan(50);
    expect(refusedCount).toBeGreaterThan(500);
  }, 60_000);
});
