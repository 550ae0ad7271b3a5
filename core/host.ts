// core/host.ts — services the host calls so it never walks page tables itself.
//
// DESIGN.md: "The host never decodes x86 or walks page tables itself: the
// core exports what the hypervisor needs". Here: translation of a linear
// address through the current paging; copies between guest-virtual memory
// and a buffer in wasm memory, a page at a time, as Xen's copy_from_guest
// and copy_to_guest do; the one call through which the host writes guest
// RAM; and the TLB control the host needs after it changes what the TLB
// caches behind the CPU's back (control registers, page tables, the memory
// map).
//
// The host passes data through wasm memory, not through arguments: it puts
// bytes in the scratch buffer (hostScratch, hostScratchSize) with a typed
// array and makes one call, so a copy of any length costs one crossing of
// the wasm boundary. A host lookup raises no exception in the guest and
// leaves CR2 alone: its #PF error code and address are kept here instead.
// Like the CPU's own accesses, these set the accessed and dirty bits.

import { clearFault, faulted, faultErrorCode, faultAddress } from "./fault";
import { attachMemory, physRead8, physWrite8, ramBase, ramSize } from "./memory";
import { newEpoch } from "./codepages";
import { readLinear8, readLinear16, readLinear32, writeLinear8, writeLinear16, writeLinear32 } from "./access";
import {
  ACCESS_WRITE, translate, directHostAddress, pageTouchesMmio, flushTlb, flushTlbAll, flushTlbPage, loadPdptes,
  writeCr0, writeCr3, writeCr4, writeEfer,
} from "./mmu";
import { CR0_PG, CR4_PAE, cr0, cr3, cr4 } from "./state";

/** Bytes in the scratch buffer. */
const SCRATCH_SIZE: u32 = 0x10000;
const scratch: usize = memory.data(<i32>SCRATCH_SIZE, 16);

let lastFaultCode: u32 = 0;
let lastFaultAddress: u32 = 0;

/** Where the host's scratch buffer is in wasm memory (16-byte aligned). */
export function hostScratch(): usize {
  return scratch;
}

/** How many bytes the scratch buffer holds. */
export function hostScratchSize(): u32 {
  return SCRATCH_SIZE;
}

/** Takes a fault raised by a host lookup off the CPU and keeps its code and address for the host. */
function takeFault(): void {
  lastFaultCode = faultErrorCode;
  lastFaultAddress = faultAddress;
  clearFault();
}

/**
 * The physical address of `linear` for an access of kind `access`
 * (core/mmu.ts ACCESS_*), or -1 when the translation faults.
 */
export function hostTranslate(linear: u32, access: i32): i64 {
  const pa = translate(linear, access);
  if (faulted()) {
    takeFault();
    return -1;
  }
  return <i64>pa;
}

/** The #PF error code of the last host lookup or copy that faulted. */
export function hostLastFaultCode(): u32 {
  return lastFaultCode;
}

/** The linear address of the last host lookup or copy that faulted. */
export function hostLastFaultAddress(): u32 {
  return lastFaultAddress;
}

/** True when [at, at + len) lies inside wasm memory. */
function inWasmMemory(at: usize, len: u32): bool {
  const end = <u64>at + <u64>len;
  return end <= (<u64>memory.size() << 16);
}

/**
 * Copies `len` bytes of guest-virtual memory at `linear`, read as access
 * kind `access`, to wasm memory at `dst` (usually hostScratch()). A page of
 * device registers (MMIO) reads as open bus: a host copy never reaches a
 * device. Returns
 * the bytes copied: `len`, or fewer when the page at `linear` + that count
 * faulted (hostLastFaultCode says why); -1 when `dst` is not in wasm memory.
 */
export function hostReadVirtual(linear: u32, len: u32, dst: usize, access: i32): i32 {
  if (!inWasmMemory(dst, len) || len > 0x7fffffff) return -1;
  let done: u32 = 0;
  while (done < len) {
    const at = linear + done;
    const chunk = min(len - done, 0x1000 - (at & 0xfff));
    const pa = translate(at, access);
    if (faulted()) {
      takeFault();
      break;
    }
    const host = directHostAddress(pa);
    if (host != 0) {
      memory.copy(dst + done, host + (pa & 0xfff), chunk);
    } else if (pageTouchesMmio(pa)) {
      memory.fill(dst + done, 0xff, chunk);
    } else {
      for (let i: u32 = 0; i < chunk; i++) store<u8>(dst + done + i, <u8>physRead8(pa + i));
    }
    done += chunk;
  }
  return <i32>done;
}

/**
 * Copies `len` bytes from wasm memory at `src` (usually hostScratch()) to
 * guest-virtual memory at `linear`, written as access kind `access` (the
 * write kind is added). Pages are written one after the other, so a fault
 * leaves the pages before it written. Returns the bytes copied: `len`, or
 * fewer when a page faulted; -1 when `src` is not in wasm memory.
 */
export function hostWriteVirtual(linear: u32, len: u32, src: usize, access: i32): i32 {
  if (!inWasmMemory(src, len) || len > 0x7fffffff) return -1;
  let done: u32 = 0;
  while (done < len) {
    const at = linear + done;
    const chunk = min(len - done, 0x1000 - (at & 0xfff));
    const pa = translate(at, access | ACCESS_WRITE);
    if (faulted()) {
      takeFault();
      break;
    }
    writeGuest(pa, src + done, chunk);
    done += chunk;
  }
  return <i32>done;
}

/**
 * The host's write into guest-physical memory: `len` bytes from wasm memory
 * at `src` to RAM at `pa`. Every host-side write into guest memory comes
 * through here (DESIGN.md), so this is where it will also invalidate
 * decoded code. Returns `len`, or -1, writing nothing, when the range is
 * not all RAM or `src` is not in wasm memory.
 */
export function hostWritePhysical(pa: u32, len: u32, src: usize): i32 {
  if (<u64>pa + <u64>len > <u64>ramSize || !inWasmMemory(src, len) || len > 0x7fffffff) return -1;
  memory.copy(ramBase + pa, src, len);
  // The copy may have replaced code that was decoded.
  newEpoch();
  return <i32>len;
}

/**
 * Writes `len` bytes (within one page) at physical `pa` for hostWriteVirtual:
 * RAM through hostWritePhysical; the ROM window and open bus drop them, as
 * they drop the CPU's writes. A page of device registers drops them too: a
 * host copy never reaches a device.
 */
function writeGuest(pa: u32, src: usize, len: u32): void {
  const host = directHostAddress(pa);
  if (host != 0) {
    // The A20 gate may have moved the page: write where it really is.
    hostWritePhysical(<u32>(host - ramBase) | (pa & 0xfff), len, src);
    return;
  }
  if (pageTouchesMmio(pa)) return;
  for (let i: u32 = 0; i < len; i++) physWrite8(pa + i, load<u8>(src + i));
}

/**
 * After the host wrote CR0, CR3, CR4 or EFER in the state block directly
 * (a domain builder, a restore): loads the PDPTE registers when PAE paging
 * is on, as VM entry does, and drops every translation. Returns false when
 * a present PDPTE has a reserved bit set (the old PDPTEs are kept).
 */
export function hostSyncPaging(): bool {
  flushTlbAll();
  if ((cr0() & CR0_PG) != 0 && (cr4() & CR4_PAE) != 0) return loadPdptes(cr3());
  return true;
}

/**
 * After the host changed the memory map in the layout block (A20 gate,
 * ROM, MMIO ranges): re-reads it and drops every translation, since the
 * TLB records which pages are plain RAM.
 */
export function hostMemoryMapChanged(): void {
  attachMemory();
  flushTlbAll();
}

/** Drops every non-global translation, as MOV CR3 does: for a host that changed page tables. */
export function hostFlushTlb(): void {
  flushTlb();
}

/** Drops every translation, global ones too. */
export function hostFlushTlbAll(): void {
  flushTlbAll();
}

/** Drops the translation of one page, as INVLPG does. */
export function hostFlushTlbPage(linear: u32): void {
  flushTlbPage(linear);
}

/**
 * Test-only: a read of `size` (1, 2 or 4) bytes through core/access.ts, the
 * interpreter's path with its TLB fast path. The value, or -1 on a fault
 * (hostLastFaultCode says which).
 */
export function testReadLinear(linear: u32, size: u32, access: i32): i64 {
  const v = size == 1 ? readLinear8(linear, access) : size == 2 ? readLinear16(linear, access) : readLinear32(linear, access);
  if (faulted()) {
    takeFault();
    return -1;
  }
  return <i64>v;
}

/** Test-only: a write of `size` (1, 2 or 4) bytes through core/access.ts. False on a fault. */
export function testWriteLinear(linear: u32, size: u32, value: u32, access: i32): bool {
  if (size == 1) writeLinear8(linear, value, access);
  else if (size == 2) writeLinear16(linear, value, access);
  else writeLinear32(linear, value, access);
  if (faulted()) {
    takeFault();
    return false;
  }
  return true;
}

/**
 * Test-only: MOV to CR0, CR3 or CR4 (`cr`) as the interpreter performs it,
 * through mmu.ts writeCr0/writeCr3/writeCr4. False when the write is
 * refused (the interpreter raises #GP(0)).
 */
export function testWriteControlRegister(cr: i32, value: u32): bool {
  if (cr == 0) return writeCr0(value);
  if (cr == 3) return writeCr3(value);
  return writeCr4(value);
}

/** Test-only: WRMSR to IA32_EFER as the interpreter performs it, through mmu.ts writeEfer. */
export function testWriteEfer(value: u32): void {
  writeEfer(value);
}

/**
 * Benchmark-only: `rounds` passes of 32-bit reads over `bytes` bytes from
 * `linear`, through core/access.ts; returns their sum so nothing is
 * optimized away. tools/bench-mmu.mjs times it.
 */
export function benchReadLinear32(linear: u32, bytes: u32, rounds: u32, access: i32): u32 {
  let sum: u32 = 0;
  for (let r: u32 = 0; r < rounds; r++) {
    for (let off: u32 = 0; off < bytes; off += 4) sum += readLinear32(linear + off, access);
  }
  if (faulted()) takeFault();
  return sum;
}
