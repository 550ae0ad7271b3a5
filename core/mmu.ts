// core/mmu.ts — linear to physical: the paging unit and its TLB.
//
// With CR0.PG clear a linear address is the physical address. With paging
// on, the translation source chosen by the host (layout TRANSLATION) walks
// the tables: TRANSLATE_PLAIN is what hardware does, through the tables CR3
// points at. A failed translation raises #PF with the SDM's error code and
// sets CR2 (SDM Vol. 3A 4.7). Every translation asks for an access kind, so
// the U/S, R/W (with CR0.WP) and NX checks happen here and nowhere else.

import { CR0_PG, cr0 } from "./state";

/** Access kinds, OR-ed: a write, from user mode (CPL 3), an instruction fetch. */
export const ACCESS_READ: i32 = 0;
export const ACCESS_WRITE: i32 = 1;
export const ACCESS_USER: i32 = 2;
export const ACCESS_EXEC: i32 = 4;

/**
 * The physical address of `linear` for an access of kind `access`. On a
 * failed translation it raises #PF (see core/fault.ts) and the result is
 * meaningless.
 */
export function translate(linear: u32, access: i32): u32 {
  if ((cr0() & CR0_PG) == 0) return linear;
  return translateWalk(linear, access);
}

/** The page walk. Paging is not implemented yet: with CR0.PG set, the walk treats linear as physical. */
function translateWalk(linear: u32, access: i32): u32 {
  return linear;
}

/** Drops every non-global translation (MOV CR3). */
export function flushTlb(): void {}

/** Drops every translation, global ones too (CR4.PGE or CR0.PG changes). */
export function flushTlbAll(): void {}

/** Drops the translations of one page (INVLPG). */
export function flushTlbPage(linear: u32): void {}
