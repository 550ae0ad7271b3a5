// hypervisor/mm/pin.ts — pins and base pointers: references on a table that no other table holds.
//
// A guest pins a table (MMUEXT_PIN_L1/L2/L3_TABLE) to keep it validated
// while no other table points at it, so that building or switching address
// spaces does not revalidate it each time; for a PAE guest the top level
// pinned is the L3 (XEN-ABI.md 4, mmuext_op). A pin is one type reference
// and cannot be nested: pinning twice is -EINVAL. Unpinning drops that one
// reference and nothing else: a table still referenced by another table or
// by a CR3 stays validated (and so never writable) until the last of those
// goes, exactly as in Xen, which does not refuse to unpin a table in use.
// The CR3 of a vCPU holds the same kind of reference on its L3
// (MMUEXT_NEW_BASEPTR, Xen's new_guest_cr3).

import { EINVAL } from "../abi/errno.js";
import {
  PGT_l1_page_table,
  PGT_l2_page_table,
  PGT_l3_page_table,
  PGT_pinned,
  type PageTypes,
} from "./pagetype.js";

/** The types a 32-bit PV guest may pin: L1, L2 and L3 (PIN_L4 does not apply to it). */
export const PINNABLE_TYPES: readonly number[] = [PGT_l1_page_table, PGT_l2_page_table, PGT_l3_page_table];

/**
 * Pins `domid`'s frame `mfn` as a table of `type`, validating it if it was
 * not in use. -EINVAL when the domain does not own the frame, the frame is
 * in use as something else, or it is pinned already; a table that fails
 * validation returns its error. Nothing changes on failure.
 */
export function pinTable(types: PageTypes, domid: number, mfn: number, type: number): number {
  if (!PINNABLE_TYPES.includes(type)) return -EINVAL;
  const rc = types.getPageAndType(mfn, domid, type);
  if (rc < 0) return rc;
  if (types.isPinned(mfn)) {
    types.putPageAndType(mfn);
    return -EINVAL;
  }
  types.frames.typeFlags[mfn]! |= PGT_pinned;
  return 0;
}

/** Unpins a table `domid` owns: -EINVAL when the frame is not the domain's or is not pinned. */
export function unpinTable(types: PageTypes, domid: number, mfn: number): number {
  if (types.frames.ownerOf(mfn) !== domid || !types.isPinned(mfn)) return -EINVAL;
  types.frames.typeFlags[mfn]! &= ~PGT_pinned;
  types.putPageAndType(mfn);
  return 0;
}

/**
 * Makes `newMfn` a vCPU's top-level table: an L3 reference on it, then the
 * old one's dropped (`oldMfn` null when the vCPU had none). On failure the
 * old base pointer stays in force and holds its reference.
 */
export function newGuestCr3(types: PageTypes, domid: number, newMfn: number, oldMfn: number | null): number {
  if (newMfn === oldMfn) return 0;
  const rc = types.getPageAndType(newMfn, domid, PGT_l3_page_table);
  if (rc < 0) return rc;
  if (oldMfn !== null) types.putPageAndType(oldMfn);
  return 0;
}
