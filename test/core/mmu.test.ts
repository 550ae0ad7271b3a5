// test/core/mmu.test.ts — the paging unit, its TLB, and the host's guest-memory services.
//
// Each test builds page tables in machine RAM through a typed-array view,
// sets CR0/CR3/CR4/EFER in the state block (layout.ts offsets), and asks
// the core through its host exports: hostTranslate for a translation and
// its #PF error code, testReadLinear/testWriteLinear for the interpreter's
// access path with the TLB fast path. Facts are from SDM Vol. 3A chapter 4:
// 4.3 32-bit paging, 4.4 PAE, 4.6 access rights, 4.7 error codes, 4.8 A/D
// bits, 4.10 the TLB. A TLB may keep a stale translation until a flush,
// so tests demand fresh translations only after the flush the SDM names.

import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import loader from "@assemblyscript/loader";
import * as L from "../../core/layout.js";

const WASM = "build/core.wasm";
const RAM_BYTES = 16 << 20;

// Access kinds (core/mmu.ts ACCESS_*).
const READ = 0;
const WRITE = 1;
const USER = 2;
const EXEC = 4;

// Entry bits and error-code bits.
const P = 1 << 0;
const RW = 1 << 1;
const US = 1 << 2;
const A = 1 << 5;
const D = 1 << 6;
const PS = 1 << 7;
const G = 1 << 8;
const XD_HI = 0x80000000; // bit 63, in the high dword
const PF_P = 1;
const PF_W = 2;
const PF_U = 4;
const PF_RSVD = 8;
const PF_ID = 16;

const CR0_PE = 1 << 0;
const CR0_WP = 1 << 16;
const CR0_PG = 1 << 31;
const CR4_PSE = 1 << 4;
const CR4_PAE = 1 << 5;
const CR4_PGE = 1 << 7;
const EFER_NXE = 1 << 11;

interface CoreExports {
  memory: WebAssembly.Memory;
  createMachine(ramBytes: number): number;
  hostTranslate(linear: number, access: number): bigint;
  hostLastFaultCode(): number;
  hostLastFaultAddress(): number;
  hostScratch(): number;
  hostScratchSize(): number;
  hostReadVirtual(linear: number, len: number, dst: number, access: number): number;
  hostWriteVirtual(linear: number, len: number, src: number, access: number): number;
  hostWritePhysical(pa: number, len: number, src: number): number;
  hostSyncPaging(): number;
  hostMemoryMapChanged(): void;
  hostFlushTlb(): void;
  hostFlushTlbAll(): void;
  hostFlushTlbPage(linear: number): void;
  testReadLinear(linear: number, size: number, access: number): bigint;
  testWriteLinear(linear: number, size: number, value: number, access: number): number;
  testWriteControlRegister(cr: number, value: number): number;
  testWriteEfer(value: number): void;
}

let module: WebAssembly.Module;
beforeAll(() => {
  module = new WebAssembly.Module(readFileSync(WASM));
});

/** One machine: the core, views of its state and RAM, and page-table builders. */
class Machine {
  readonly core: CoreExports;
  readonly ramBase: number;
  private nextFrame = 0x100000; // page-table frames are taken from 1 MiB up

  constructor() {
    this.core = loader.instantiateSync<Record<string, unknown>>(module, {}).exports as unknown as CoreExports;
    this.ramBase = this.core.createMachine(RAM_BYTES) >>> 0;
  }

  private get state(): Uint32Array {
    return new Uint32Array(this.core.memory.buffer, 0, L.STATE_SIZE / 4);
  }

  get ram(): Uint8Array {
    return new Uint8Array(this.core.memory.buffer, this.ramBase, RAM_BYTES);
  }

  reg(offset: number): number {
    return this.state[offset / 4] >>> 0;
  }

  setReg(offset: number, value: number): void {
    this.state[offset / 4] = value;
  }

  read32(pa: number): number {
    return new DataView(this.core.memory.buffer, this.ramBase, RAM_BYTES).getUint32(pa, true);
  }

  write32(pa: number, value: number): void {
    new DataView(this.core.memory.buffer, this.ramBase, RAM_BYTES).setUint32(pa, value >>> 0, true);
  }

  /** A zeroed 4 KiB frame for a page table. */
  frame(): number {
    const pa = this.nextFrame;
    this.nextFrame += 0x1000;
    this.ram.fill(0, pa, pa + 0x1000);
    return pa;
  }

  /** Sets CR0/CR3/CR4/EFER as a host would and syncs the core (PDPTEs, TLB). */
  paging(cr0: number, cr3: number, cr4: number, efer = 0): boolean {
    this.setReg(L.REG_CR0, cr0);
    this.setReg(L.REG_CR3, cr3);
    this.setReg(L.REG_CR4, cr4);
    this.setReg(L.MSR_EFER, efer);
    return this.core.hostSyncPaging() !== 0;
  }

  /** The physical address, or "#PF(code)". */
  translate(linear: number, access: number): number | string {
    const pa = this.core.hostTranslate(linear, access);
    return pa < 0n ? `#PF(${this.core.hostLastFaultCode().toString(16)})` : Number(pa);
  }

  /** The value read through the interpreter's access path, or "#PF(code)". */
  read(linear: number, size: number, access = READ): number | string {
    const v = this.core.testReadLinear(linear, size, access);
    return v < 0n ? `#PF(${this.core.hostLastFaultCode().toString(16)})` : Number(v);
  }

  /** Writes through the interpreter's access path: "ok" or "#PF(code)". */
  write(linear: number, size: number, value: number, access = READ): string {
    const ok = this.core.testWriteLinear(linear, size, value, access) !== 0;
    return ok ? "ok" : `#PF(${this.core.hostLastFaultCode().toString(16)})`;
  }
}

const pf = (code: number) => `#PF(${code.toString(16)})`;

/** 32-bit paging: a page directory and page tables built on demand. */
class Tables32 {
  readonly pd: number;
  constructor(private m: Machine) {
    this.pd = m.frame();
  }
  pdeAddr(linear: number): number {
    return this.pd + (linear >>> 22) * 4;
  }
  /** Maps the 4 KiB page at `linear` to `pa`; returns the PTE's address. */
  map(linear: number, pa: number, pteFlags = P | RW | US, pdeFlags = P | RW | US): number {
    const pdeAddr = this.pdeAddr(linear);
    let pde = this.m.read32(pdeAddr);
    if ((pde & P) === 0 || (pde & ~0xfff) === 0) pde = this.m.frame();
    this.m.write32(pdeAddr, (pde & ~0xfff) | pdeFlags);
    const pteAddr = (pde & ~0xfff) + ((linear >>> 12) & 0x3ff) * 4;
    this.m.write32(pteAddr, pa | pteFlags);
    return pteAddr;
  }
  /** Maps the 4 MiB page at `linear` to `pa` (PSE). */
  mapLarge(linear: number, pa: number, flags = P | RW | US): number {
    this.m.write32(this.pdeAddr(linear), pa | flags | PS);
    return this.pdeAddr(linear);
  }
}

/** PAE paging: a PDPT, page directories and page tables built on demand. Entries are [low, high] dwords. */
class TablesPae {
  readonly pdpt: number;
  constructor(private m: Machine) {
    this.pdpt = m.frame() + 0x20; // 32-byte aligned, not page aligned
    for (let i = 0; i < 4; i++) m.write32(this.pdpt + i * 8, m.frame() | P);
  }
  pdeAddr(linear: number): number {
    const pd = this.m.read32(this.pdpt + (linear >>> 30) * 8) & ~0xfff;
    return pd + ((linear >>> 21) & 0x1ff) * 8;
  }
  map(linear: number, pa: number, pteFlags = P | RW | US, pdeFlags = P | RW | US, pteHi = 0, pdeHi = 0): number {
    const pdeAddr = this.pdeAddr(linear);
    let pt = this.m.read32(pdeAddr) & ~0xfff;
    if (pt === 0) pt = this.m.frame();
    this.m.write32(pdeAddr, pt | pdeFlags);
    this.m.write32(pdeAddr + 4, pdeHi);
    const pteAddr = pt + ((linear >>> 12) & 0x1ff) * 8;
    this.m.write32(pteAddr, pa | pteFlags);
    this.m.write32(pteAddr + 4, pteHi);
    return pteAddr;
  }
  mapLarge(linear: number, pa: number, flags = P | RW | US, hi = 0): number {
    const pdeAddr = this.pdeAddr(linear);
    this.m.write32(pdeAddr, pa | flags | PS);
    this.m.write32(pdeAddr + 4, hi);
    return pdeAddr;
  }
}

const PAGING = CR0_PG | CR0_PE;

describe("no paging", () => {
  it("translates every linear address to itself for every access kind", () => {
    const m = new Machine();
    for (const linear of [0, 0x12345, 0xabcdef, 0xfffff123]) {
      for (const access of [READ, WRITE, USER, USER | WRITE, EXEC, USER | EXEC]) {
        expect(m.translate(linear, access)).toBe(linear);
      }
    }
  });

  it("reads and writes RAM through the access path, and open bus past its end", () => {
    const m = new Machine();
    expect(m.write(0x5000, 4, 0xdeadbeef)).toBe("ok");
    expect(m.read32(0x5000)).toBe(0xdeadbeef);
    expect(m.read(0x5001, 2)).toBe(0xadbe);
    expect(m.read(RAM_BYTES, 4)).toBe(0xffffffff);
    expect(m.read(RAM_BYTES - 2, 4)).toBe((0xffff0000 | (m.read32(RAM_BYTES - 4) >>> 16)) >>> 0);
  });

  it("wraps at 1 MiB once the host closes the A20 gate and says the memory map changed", () => {
    const m = new Machine();
    m.write32(0x100010, 0x11111111);
    m.write32(0x000010, 0x22222222);
    expect(m.read(0x100010, 4)).toBe(0x11111111);
    m.setReg(L.A20_ENABLED, 0);
    m.core.hostMemoryMapChanged();
    expect(m.read(0x100010, 4)).toBe(0x22222222);
    expect(m.write(0x100010, 4, 0x33333333)).toBe("ok");
    expect(m.read32(0x000010)).toBe(0x33333333);
    expect(m.read32(0x100010)).toBe(0x11111111);
  });
});

describe("32-bit paging", () => {
  it("maps a 4 KiB page through a page directory and a page table", () => {
    const m = new Machine();
    const t = new Tables32(m);
    t.map(0x00401000, 0x00777000);
    m.paging(PAGING, t.pd, 0);
    expect(m.translate(0x00401abc, READ)).toBe(0x00777abc);
    expect(m.translate(0x00402000, READ)).toBe(pf(0));
  });

  it("maps a 4 MiB page when CR4.PSE is set and the PDE has PS", () => {
    const m = new Machine();
    const t = new Tables32(m);
    t.mapLarge(0xc0000000, 0x00800000);
    m.paging(PAGING, t.pd, CR4_PSE);
    expect(m.translate(0xc0000000, READ)).toBe(0x00800000);
    expect(m.translate(0xc03fffff, READ)).toBe(0x00bfffff);
    expect(m.translate(0xc0123456, WRITE)).toBe(0x00923456);
  });

  it("ignores PS without CR4.PSE: the PDE points to a page table", () => {
    const m = new Machine();
    const t = new Tables32(m);
    const pt = m.frame();
    m.write32(t.pdeAddr(0x00400000), pt | P | RW | PS);
    m.write32(pt + 5 * 4, 0x00333000 | P);
    m.paging(PAGING, t.pd, 0);
    expect(m.translate(0x00405010, READ)).toBe(0x00333010);
  });

  it("treats bits 21:13 of a 4 MiB PDE as reserved (no PSE-36, MAXPHYADDR 32)", () => {
    const m = new Machine();
    const t = new Tables32(m);
    t.mapLarge(0x00400000, 0x00800000 | (1 << 13));
    t.mapLarge(0x00800000, 0x00800000 | (1 << 21));
    t.mapLarge(0x00c00000, 0x00800000 | (1 << 12)); // bit 12 is PAT, not checked
    m.paging(PAGING, t.pd, CR4_PSE);
    expect(m.translate(0x00400000, READ)).toBe(pf(PF_P | PF_RSVD));
    expect(m.translate(0x00800000, USER | WRITE)).toBe(pf(PF_P | PF_RSVD | PF_W | PF_U));
    expect(m.translate(0x00c00000, READ)).toBe(0x00800000);
  });

  it("reads paging structures outside RAM as open bus: all ones, a present entry", () => {
    const m = new Machine();
    m.paging(PAGING, 0x7fff0000, 0);
    expect(m.translate(0x00001234, READ)).toBe(0xfffff234); // PDE and PTE both 0xFFFFFFFF
    m.paging(PAGING, 0x7fff0000, CR4_PSE);
    expect(m.translate(0x00001234, READ)).toBe(pf(PF_P | PF_RSVD)); // a 4 MiB PDE with bits 21:13 set
    expect(m.paging(PAGING, 0x7fff0000, CR4_PAE)).toBe(false); // PDPTEs with reserved bits
  });

  it("never sets I/D: without PAE the error code has no fetch bit", () => {
    const m = new Machine();
    const t = new Tables32(m);
    t.map(0x1000, 0x5000, P | RW);
    m.paging(PAGING, t.pd, 0, EFER_NXE);
    expect(m.translate(0x2000, EXEC)).toBe(pf(0));
    expect(m.translate(0x1000, USER | EXEC)).toBe(pf(PF_P | PF_U));
  });
});

describe("access rights (SDM 4.6) and error codes (4.7)", () => {
  const kinds = [READ, WRITE, USER, USER | WRITE, EXEC, USER | EXEC];

  /** The SDM's rules, restated: what a 4 KiB translation through (pde, pte) allows. */
  function expected(
    pde: number, pte: number, access: number, wp: boolean,
    pae = false, nxe = false, pdeXd = false, pteXd = false,
  ): number | null {
    const write = (access & WRITE) !== 0;
    const user = (access & USER) !== 0;
    const fetch = (access & EXEC) !== 0;
    const code = (write ? PF_W : 0) | (user ? PF_U : 0) | (fetch && pae && nxe ? PF_ID : 0);
    if (!(pde & P)) return code;
    if (pae && pdeXd && !nxe) return code | PF_P | PF_RSVD;
    if (!(pte & P)) return code;
    if (pae && pteXd && !nxe) return code | PF_P | PF_RSVD;
    const rw = (pde & pte & RW) !== 0;
    const us = (pde & pte & US) !== 0;
    if (user && !us) return code | PF_P;
    if (write && (user || wp) && !rw) return code | PF_P;
    if (fetch && nxe && (pdeXd || pteXd)) return code | PF_P;
    return null;
  }

  it("32-bit: every P/RW/US at both levels, for every access kind, with CR0.WP clear and set", () => {
    const m = new Machine();
    const t = new Tables32(m);
    const linear = 0x00801000;
    const mismatches: string[] = [];
    for (let pde = 0; pde < 8; pde++) {
      for (let pte = 0; pte < 8; pte++) {
        for (const wp of [false, true]) {
          for (const access of kinds) {
            t.map(linear, 0x00555000, pte, pde);
            m.paging(PAGING | (wp ? CR0_WP : 0), t.pd, 0);
            const want = expected(pde, pte, access, wp);
            const got = m.translate(linear + 0x10, access);
            const wantText = want === null ? 0x00555010 : pf(want);
            if (got !== wantText) mismatches.push(`pde=${pde} pte=${pte} wp=${wp} access=${access}: ${got} != ${wantText}`);
          }
        }
      }
    }
    expect(mismatches).toEqual([]);
  });

  it("PAE: every P/RW/US/XD at both levels, for every access kind, with CR0.WP and EFER.NXE clear and set", () => {
    const m = new Machine();
    const t = new TablesPae(m);
    const linear = 0x40201000;
    const mismatches: string[] = [];
    for (let pde = 0; pde < 16; pde++) {
      for (let pte = 0; pte < 16; pte++) {
        for (const wp of [false, true]) {
          for (const nxe of [false, true]) {
            for (const access of kinds) {
              const pdeXd = (pde & 8) !== 0;
              const pteXd = (pte & 8) !== 0;
              t.map(linear, 0x00666000, pte & 7, pde & 7, pteXd ? XD_HI : 0, pdeXd ? XD_HI : 0);
              m.paging(PAGING | (wp ? CR0_WP : 0), t.pdpt, CR4_PAE, nxe ? EFER_NXE : 0);
              const want = expected(pde & 7, pte & 7, access, wp, true, nxe, pdeXd, pteXd);
              const got = m.translate(linear + 0x20, access);
              const wantText = want === null ? 0x00666020 : pf(want);
              if (got !== wantText) {
                mismatches.push(`pde=${pde} pte=${pte} wp=${wp} nxe=${nxe} access=${access}: ${got} != ${wantText}`);
              }
            }
          }
        }
      }
    }
    expect(mismatches).toEqual([]);
  });

  it("lets a supervisor write a read-only page with CR0.WP clear, and faults it with 0x3 once WP is set", () => {
    const m = new Machine();
    const t = new Tables32(m);
    t.map(0x1000, 0x9000, P | US);
    m.paging(PAGING, t.pd, 0);
    expect(m.translate(0x1000, WRITE)).toBe(0x9000);
    m.paging(PAGING | CR0_WP, t.pd, 0);
    expect(m.translate(0x1000, WRITE)).toBe(pf(PF_P | PF_W));
  });

  it("faults a user read of a supervisor page with 0x5 and a user write of a missing page with 0x6", () => {
    const m = new Machine();
    const t = new Tables32(m);
    t.map(0x1000, 0x9000, P | RW);
    m.paging(PAGING, t.pd, 0);
    expect(m.translate(0x1000, USER)).toBe(pf(PF_P | PF_U));
    expect(m.translate(0x2000, USER | WRITE)).toBe(pf(PF_W | PF_U));
  });

  it("records the faulting linear address for CR2 without writing CR2", () => {
    const m = new Machine();
    const t = new Tables32(m);
    m.paging(PAGING, t.pd, 0);
    m.setReg(L.REG_CR2, 0x1234);
    expect(m.translate(0x00abc123, READ)).toBe(pf(0));
    expect(m.core.hostLastFaultAddress() >>> 0).toBe(0x00abc123);
    expect(m.reg(L.REG_CR2)).toBe(0x1234);
  });
});

describe("PAE paging", () => {
  it("maps a 4 KiB page through a PDPTE, a page directory and a page table", () => {
    const m = new Machine();
    const t = new TablesPae(m);
    t.map(0xc0102000, 0x00abc000);
    expect(m.paging(PAGING, t.pdpt, CR4_PAE)).toBe(true);
    expect(m.translate(0xc0102fff, READ)).toBe(0x00abcfff);
    expect(m.translate(0xc0103000, READ)).toBe(pf(0));
  });

  it("maps a 2 MiB page when the PDE has PS, whatever CR4.PSE says", () => {
    const m = new Machine();
    const t = new TablesPae(m);
    t.mapLarge(0x80200000, 0x00e00000);
    m.paging(PAGING, t.pdpt, CR4_PAE);
    expect(m.translate(0x80200000, READ)).toBe(0x00e00000);
    expect(m.translate(0x803fffff, WRITE)).toBe(0x00ffffff);
  });

  it("faults with P=0 through a PDPTE that is not present", () => {
    const m = new Machine();
    const t = new TablesPae(m);
    m.write32(t.pdpt + 8, 0);
    m.paging(PAGING, t.pdpt, CR4_PAE);
    expect(m.translate(0x40000000, WRITE)).toBe(pf(PF_W));
  });

  it("refuses PDPTEs with reserved bits at load, and ignores them in a PDPTE that is not present", () => {
    const m = new Machine();
    const t = new TablesPae(m);
    m.write32(t.pdpt + 8, m.read32(t.pdpt + 8) | (1 << 5));
    expect(m.paging(PAGING, t.pdpt, CR4_PAE)).toBe(false);
    m.write32(t.pdpt + 8, m.read32(t.pdpt + 8) & ~(1 << 5));
    m.write32(t.pdpt + 12, 0x80000000); // XD is reserved in a PDPTE even with NXE
    expect(m.paging(PAGING, t.pdpt, CR4_PAE, EFER_NXE)).toBe(false);
    m.write32(t.pdpt + 12, 1); // an address bit above MAXPHYADDR
    expect(m.paging(PAGING, t.pdpt, CR4_PAE)).toBe(false);
    m.write32(t.pdpt + 8, 0xfffffffe); // not present: nothing is checked
    m.write32(t.pdpt + 12, 0xffffffff);
    expect(m.paging(PAGING, t.pdpt, CR4_PAE)).toBe(true);
  });

  it("reports reserved bits in a present PDE or PTE with RSVD and P", () => {
    const m = new Machine();
    const t = new TablesPae(m);
    t.map(0x00001000, 0x9000, P | RW | US, P | RW | US, 1); // PTE bit 32
    t.map(0x00201000, 0x9000, P | RW | US, P | RW | US, 0, 0x00100000); // PDE bit 52
    t.mapLarge(0x00400000, 0x00400000 | (1 << 13)); // 2 MiB PDE bit 13
    t.mapLarge(0x00600000, 0x00600000 | (1 << 12)); // bit 12 is PAT, not checked
    m.paging(PAGING, t.pdpt, CR4_PAE);
    expect(m.translate(0x00001000, READ)).toBe(pf(PF_P | PF_RSVD));
    expect(m.translate(0x00201000, USER | WRITE)).toBe(pf(PF_P | PF_RSVD | PF_W | PF_U));
    expect(m.translate(0x00400000, READ)).toBe(pf(PF_P | PF_RSVD));
    expect(m.translate(0x00600000, READ)).toBe(0x00600000);
  });

  it("does not check reserved bits in an entry that is not present", () => {
    const m = new Machine();
    const t = new TablesPae(m);
    t.map(0x00001000, 0x9000, 0, P | RW | US, 0x7fffffff);
    m.paging(PAGING, t.pdpt, CR4_PAE);
    expect(m.translate(0x00001000, READ)).toBe(pf(0));
  });

  it("with EFER.NXE, refuses fetches from an XD page but allows reads, and sets I/D on every fetch fault", () => {
    const m = new Machine();
    const t = new TablesPae(m);
    t.map(0x00001000, 0x9000, P | RW | US, P | RW | US, XD_HI);
    m.paging(PAGING, t.pdpt, CR4_PAE, EFER_NXE);
    expect(m.translate(0x00001000, READ)).toBe(0x9000);
    expect(m.translate(0x00001000, EXEC)).toBe(pf(PF_P | PF_ID));
    expect(m.translate(0x00001000, USER | EXEC)).toBe(pf(PF_P | PF_U | PF_ID));
    expect(m.translate(0x00002000, EXEC)).toBe(pf(PF_ID));
  });

  it("without EFER.NXE, treats XD as a reserved bit and never sets I/D", () => {
    const m = new Machine();
    const t = new TablesPae(m);
    t.map(0x00001000, 0x9000, P | RW | US, P | RW | US, XD_HI);
    m.paging(PAGING, t.pdpt, CR4_PAE);
    expect(m.translate(0x00001000, READ)).toBe(pf(PF_P | PF_RSVD));
    expect(m.translate(0x00001000, EXEC)).toBe(pf(PF_P | PF_RSVD));
    expect(m.translate(0x00002000, EXEC)).toBe(pf(0));
  });

  it("uses the PDPTEs loaded at MOV CR3, not the ones in memory now", () => {
    const m = new Machine();
    const t = new TablesPae(m);
    t.map(0x00001000, 0x9000);
    m.paging(PAGING, t.pdpt, CR4_PAE);
    m.write32(t.pdpt, 0);
    m.core.hostFlushTlbAll();
    expect(m.translate(0x00001000, READ)).toBe(0x9000);
    expect(m.core.testWriteControlRegister(3, t.pdpt)).toBe(1);
    expect(m.translate(0x00001000, READ)).toBe(pf(0));
  });
});

describe("MOV to control registers", () => {
  it("refuses MOV CR3 to a PDPT with a reserved bit under PAE paging, keeping CR3", () => {
    const m = new Machine();
    const good = new TablesPae(m);
    const bad = new TablesPae(m);
    m.write32(bad.pdpt, m.read32(bad.pdpt) | (1 << 1));
    m.paging(PAGING, good.pdpt, CR4_PAE);
    expect(m.core.testWriteControlRegister(3, bad.pdpt)).toBe(0);
    expect(m.reg(L.REG_CR3)).toBe(good.pdpt);
  });

  it("loads the PDPTEs when MOV CR0 turns paging on with CR4.PAE set, and refuses bad ones", () => {
    const m = new Machine();
    const t = new TablesPae(m);
    t.map(0x00001000, 0x9000);
    m.paging(CR0_PE, t.pdpt, CR4_PAE);
    expect(m.core.testWriteControlRegister(0, PAGING)).toBe(1);
    expect(m.translate(0x00001000, READ)).toBe(0x9000);
    expect(m.core.testWriteControlRegister(0, CR0_PE)).toBe(1);
    m.write32(t.pdpt + 24, m.read32(t.pdpt + 24) | (1 << 6));
    expect(m.core.testWriteControlRegister(0, PAGING)).toBe(0);
    expect(m.reg(L.REG_CR0)).toBe(CR0_PE);
  });

  it("loads the PDPTEs when MOV CR4 turns on PAE under paging", () => {
    const m = new Machine();
    const t = new TablesPae(m);
    t.map(0x00001000, 0x9000);
    m.paging(PAGING, t.pdpt, 0);
    expect(m.core.testWriteControlRegister(4, CR4_PAE)).toBe(1);
    expect(m.translate(0x00001000, READ)).toBe(0x9000);
  });

  it("drops every translation when MOV CR0 turns paging off, so the identity map returns", () => {
    const m = new Machine();
    const t = new Tables32(m);
    t.map(0x00001000, 0x9000);
    m.paging(PAGING, t.pd, 0);
    expect(m.read(0x00001000, 4)).toBe(0);
    m.write32(0x1000, 0x1111);
    m.write32(0x9000, 0x9999);
    expect(m.read(0x00001000, 4)).toBe(0x9999);
    expect(m.core.testWriteControlRegister(0, CR0_PE)).toBe(1);
    expect(m.read(0x00001000, 4)).toBe(0x1111);
  });

  it("applies a new CR0.WP to translations the TLB already holds", () => {
    const m = new Machine();
    const t = new Tables32(m);
    t.map(0x00001000, 0x9000, P | US | D | A);
    m.paging(PAGING, t.pd, 0);
    expect(m.write(0x00001000, 4, 1)).toBe("ok");
    expect(m.core.testWriteControlRegister(0, PAGING | CR0_WP)).toBe(1);
    expect(m.write(0x00001000, 4, 2)).toBe(pf(PF_P | PF_W));
  });

  it("drops translations when WRMSR changes EFER.NXE, since XD then becomes a reserved bit", () => {
    const m = new Machine();
    const t = new TablesPae(m);
    t.map(0x00001000, 0x9000, P | RW | US, P | RW | US, XD_HI);
    m.paging(PAGING, t.pdpt, CR4_PAE, EFER_NXE);
    expect(m.translate(0x00001000, READ)).toBe(0x9000);
    m.core.testWriteEfer(0);
    expect(m.reg(L.MSR_EFER)).toBe(0);
    expect(m.translate(0x00001000, READ)).toBe(pf(PF_P | PF_RSVD));
  });

  it("keeps global translations across MOV CR3 and drops them when MOV CR4 clears PGE", () => {
    const m = new Machine();
    const t = new Tables32(m);
    const pte = t.map(0xc0001000, 0x9000, P | RW | G);
    m.paging(PAGING, t.pd, CR4_PGE);
    expect(m.translate(0xc0001000, READ)).toBe(0x9000);
    m.write32(pte, 0xa000 | P | RW | G);
    expect(m.core.testWriteControlRegister(3, t.pd)).toBe(1);
    expect(m.translate(0xc0001000, READ)).toBe(0x9000);
    expect(m.core.testWriteControlRegister(4, 0)).toBe(1);
    expect(m.translate(0xc0001000, READ)).toBe(0xa000);
  });
});

describe("accessed and dirty bits (SDM 4.8)", () => {
  it("sets A in the PDE and the PTE on a read, and D nowhere", () => {
    const m = new Machine();
    const t = new Tables32(m);
    const pte = t.map(0x1000, 0x9000);
    m.paging(PAGING, t.pd, 0);
    m.translate(0x1000, READ);
    expect(m.read32(t.pdeAddr(0x1000)) & (A | D)).toBe(A);
    expect(m.read32(pte) & (A | D)).toBe(A);
  });

  it("sets D in the PTE on a write, never in a PDE that points to a page table", () => {
    const m = new Machine();
    const t = new Tables32(m);
    const pte = t.map(0x1000, 0x9000);
    m.paging(PAGING, t.pd, 0);
    m.translate(0x1000, WRITE);
    expect(m.read32(t.pdeAddr(0x1000)) & (A | D)).toBe(A);
    expect(m.read32(pte) & (A | D)).toBe(A | D);
  });

  it("sets A and D in the PDE of a 4 MiB page on a write", () => {
    const m = new Machine();
    const t = new Tables32(m);
    const pde = t.mapLarge(0x00400000, 0x00800000);
    m.paging(PAGING, t.pd, CR4_PSE);
    m.translate(0x00400000, READ);
    expect(m.read32(pde) & (A | D)).toBe(A);
    m.translate(0x00400000, WRITE);
    expect(m.read32(pde) & (A | D)).toBe(A | D);
  });

  it("sets no A or D bit when the translation faults", () => {
    const m = new Machine();
    const t = new Tables32(m);
    const supervisorPte = t.map(0x1000, 0x9000, P);
    const missingPte = t.map(0x00401000, 0x9000, 0);
    m.paging(PAGING | CR0_WP, t.pd, 0);
    expect(m.translate(0x1000, USER)).toBe(pf(PF_P | PF_U));
    expect(m.translate(0x1000, WRITE)).toBe(pf(PF_P | PF_W));
    expect(m.translate(0x00401000, READ)).toBe(pf(0));
    expect(m.read32(t.pdeAddr(0x1000)) & (A | D)).toBe(0);
    expect(m.read32(supervisorPte) & (A | D)).toBe(0);
    expect(m.read32(t.pdeAddr(0x00401000)) & (A | D)).toBe(0);
    expect(m.read32(missingPte) & (A | D)).toBe(0);
  });

  it("PAE: sets A and D in the PDE and PTE and leaves the PDPTE untouched", () => {
    const m = new Machine();
    const t = new TablesPae(m);
    const pte = t.map(0x00001000, 0x9000);
    m.paging(PAGING, t.pdpt, CR4_PAE);
    const pdpte = m.read32(t.pdpt);
    m.translate(0x00001000, WRITE);
    expect(m.read32(t.pdpt)).toBe(pdpte);
    expect(m.read32(t.pdeAddr(0x00001000)) & (A | D)).toBe(A);
    expect(m.read32(pte) & (A | D)).toBe(A | D);
  });

  it("sets D on the first write to a page whose read translation is already cached", () => {
    const m = new Machine();
    const t = new Tables32(m);
    const pte = t.map(0x1000, 0x9000);
    m.paging(PAGING, t.pd, 0);
    expect(m.read(0x1000, 4)).toBe(0);
    expect(m.read32(pte) & D).toBe(0);
    expect(m.write(0x1000, 4, 0x1234)).toBe("ok");
    expect(m.read32(pte) & D).toBe(D);
    expect(m.read32(0x9000)).toBe(0x1234);
  });

  it("sets D again after software clears it and invalidates the page", () => {
    const m = new Machine();
    const t = new Tables32(m);
    const pte = t.map(0x1000, 0x9000);
    m.paging(PAGING, t.pd, 0);
    expect(m.write(0x1000, 4, 1)).toBe("ok");
    m.write32(pte, m.read32(pte) & ~(A | D));
    m.core.hostFlushTlbPage(0x1000);
    expect(m.write(0x1000, 4, 2)).toBe("ok");
    expect(m.read32(pte) & (A | D)).toBe(A | D);
  });
});

describe("the TLB (SDM 4.10)", () => {
  it("gives the new translation after a page-table write and a non-global flush", () => {
    const m = new Machine();
    const t = new Tables32(m);
    const pte = t.map(0x1000, 0x9000);
    m.paging(PAGING, t.pd, 0);
    m.write32(0x9000, 0x99);
    m.write32(0xa000, 0xaa);
    expect(m.read(0x1000, 4)).toBe(0x99);
    m.write32(pte, 0xa000 | P | RW | US);
    m.core.hostFlushTlb();
    expect(m.translate(0x1000, READ)).toBe(0xa000);
    expect(m.read(0x1000, 4)).toBe(0xaa);
  });

  it("gives the new translation after a page-table write and INVLPG of that page", () => {
    const m = new Machine();
    const t = new Tables32(m);
    const pte = t.map(0x1000, 0x9000);
    m.paging(PAGING, t.pd, 0);
    expect(m.write(0x1000, 4, 0x99)).toBe("ok");
    m.write32(pte, 0xa000 | P | RW | US);
    m.core.hostFlushTlbPage(0x1abc);
    expect(m.write(0x1000, 4, 0xaa)).toBe("ok");
    expect(m.read32(0x9000)).toBe(0x99);
    expect(m.read32(0xa000)).toBe(0xaa);
  });

  it("drops a removed mapping after INVLPG, so the access faults", () => {
    const m = new Machine();
    const t = new Tables32(m);
    const pte = t.map(0x1000, 0x9000);
    m.paging(PAGING, t.pd, 0);
    expect(m.read(0x1000, 4)).toBe(0);
    m.write32(pte, 0);
    m.core.hostFlushTlbPage(0x1000);
    expect(m.read(0x1000, 4)).toBe(pf(0));
  });

  it("keeps a global page across a non-global flush and drops it on a full flush", () => {
    const m = new Machine();
    const t = new Tables32(m);
    const pte = t.map(0xc0001000, 0x9000, P | RW | G);
    m.paging(PAGING, t.pd, CR4_PGE);
    expect(m.translate(0xc0001000, READ)).toBe(0x9000);
    m.write32(pte, 0xa000 | P | RW | G);
    m.core.hostFlushTlb();
    expect(m.translate(0xc0001000, READ)).toBe(0x9000);
    m.core.hostFlushTlbAll();
    expect(m.translate(0xc0001000, READ)).toBe(0xa000);
  });

  it("does not keep a G page across a non-global flush unless CR4.PGE is set", () => {
    const m = new Machine();
    const t = new Tables32(m);
    const pte = t.map(0xc0001000, 0x9000, P | RW | G);
    m.paging(PAGING, t.pd, 0);
    expect(m.translate(0xc0001000, READ)).toBe(0x9000);
    m.write32(pte, 0xa000 | P | RW | G);
    m.core.hostFlushTlb();
    expect(m.translate(0xc0001000, READ)).toBe(0xa000);
  });

  it("drops a global page on INVLPG", () => {
    const m = new Machine();
    const t = new Tables32(m);
    const pte = t.map(0xc0001000, 0x9000, P | RW | G);
    m.paging(PAGING, t.pd, CR4_PGE);
    expect(m.translate(0xc0001000, READ)).toBe(0x9000);
    m.write32(pte, 0xa000 | P | RW | G);
    m.core.hostFlushTlbPage(0xc0001000);
    expect(m.translate(0xc0001000, READ)).toBe(0xa000);
  });

  it("drops a whole 4 MiB page on INVLPG of any address in it", () => {
    const m = new Machine();
    const t = new Tables32(m);
    const pde = t.mapLarge(0x00400000, 0x00800000);
    m.paging(PAGING, t.pd, CR4_PSE);
    expect(m.translate(0x00400000, READ)).toBe(0x00800000);
    expect(m.translate(0x007ff000, READ)).toBe(0x00bff000);
    m.write32(pde, 0x00c00000 | P | RW | US | PS);
    m.core.hostFlushTlbPage(0x00400000);
    expect(m.translate(0x007ff000, READ)).toBe(0x00fff000);
  });

  it("drops a whole 2 MiB PAE page on INVLPG of any address in it", () => {
    const m = new Machine();
    const t = new TablesPae(m);
    const pde = t.mapLarge(0x00200000, 0x00400000);
    m.paging(PAGING, t.pdpt, CR4_PAE);
    expect(m.translate(0x003ff000, READ)).toBe(0x005ff000);
    m.write32(pde, 0x00600000 | P | RW | US | PS);
    m.core.hostFlushTlbPage(0x00212000);
    expect(m.translate(0x003ff000, READ)).toBe(0x007ff000);
  });

  it("drops the faulting page on #PF, so a PTE fixed by the handler works without INVLPG", () => {
    const m = new Machine();
    const t = new Tables32(m);
    const pte = t.map(0x1000, 0x9000, P);
    m.paging(PAGING | CR0_WP, t.pd, 0);
    expect(m.translate(0x1000, READ)).toBe(0x9000);
    expect(m.write(0x1000, 4, 1, USER)).toBe(pf(PF_P | PF_W | PF_U));
    m.write32(pte, 0xa000 | P | RW | US);
    expect(m.translate(0x1000, READ)).toBe(0xa000);
    expect(m.write(0x1000, 4, 2, USER)).toBe("ok");
    expect(m.read32(0xa000)).toBe(2);
  });

  it("keeps translations of pages that share a slot apart", () => {
    const m = new Machine();
    const t = new Tables32(m);
    t.map(0x00001000, 0x9000);
    t.map(0x01001000, 0xa000); // 4096 pages further: the same slot
    m.paging(PAGING, t.pd, 0);
    m.write32(0x9000, 0x99);
    m.write32(0xa000, 0xaa);
    for (let i = 0; i < 3; i++) {
      expect(m.read(0x00001000, 4)).toBe(0x99);
      expect(m.read(0x01001000, 4)).toBe(0xaa);
    }
  });
});

describe("the access path", () => {
  it("joins the bytes of a read that crosses into another physical page", () => {
    const m = new Machine();
    const t = new Tables32(m);
    t.map(0x1000, 0x9000);
    t.map(0x2000, 0x5000);
    m.paging(PAGING, t.pd, 0);
    m.write32(0x9ffc, 0x44332211);
    m.write32(0x5000, 0x88776655);
    expect(m.read(0x1ffc, 4)).toBe(0x44332211); // the first page is now in the TLB
    expect(m.read(0x1ffe, 4)).toBe(0x66554433);
    expect(m.read(0x1fff, 2)).toBe(0x5544);
  });

  it("writes neither page when a write crossing into a read-only page faults", () => {
    const m = new Machine();
    const t = new Tables32(m);
    t.map(0x1000, 0x9000);
    t.map(0x2000, 0x5000, P | US);
    m.paging(PAGING, t.pd, 0);
    expect(m.read(0x1ffc, 4, USER)).toBe(0);
    expect(m.write(0x1ffe, 4, 0xaabbccdd, USER)).toBe(pf(PF_P | PF_W | PF_U));
    expect(m.core.hostLastFaultAddress() >>> 0).toBe(0x2000);
    expect(m.read32(0x9ffc)).toBe(0);
    expect(m.read32(0x5000)).toBe(0);
  });

  it("splits a write that crosses pages across both physical pages", () => {
    const m = new Machine();
    const t = new Tables32(m);
    t.map(0x1000, 0x9000);
    t.map(0x2000, 0x5000);
    m.paging(PAGING, t.pd, 0);
    expect(m.write(0x1ff0, 4, 0)).toBe("ok"); // the first page is now in the TLB, dirty
    expect(m.write(0x1fff, 4, 0xaabbccdd)).toBe("ok");
    expect(m.read32(0x9ffc) >>> 24).toBe(0xdd);
    expect(m.read32(0x5000) & 0xffffff).toBe(0xaabbcc);
  });

  it("writes through a cached translation exactly where the PTE points", () => {
    const m = new Machine();
    const t = new Tables32(m);
    t.map(0x1000, 0x9000);
    m.paging(PAGING, t.pd, 0);
    for (let i = 0; i < 4; i++) expect(m.write(0x1000 + i * 4, 4, 0x01010101 * (i + 1))).toBe("ok");
    expect(m.write(0x1010, 2, 0xbeef)).toBe("ok");
    expect(m.write(0x1012, 1, 0x7f)).toBe("ok");
    expect([0, 4, 8, 12, 16].map((o) => m.read32(0x9000 + o))).toEqual([
      0x01010101, 0x02020202, 0x03030303, 0x04040404, 0x007fbeef,
    ]);
    expect(m.read(0x1012, 1)).toBe(0x7f);
  });
});

describe("host copies through the current paging", () => {
  function scattered(): { m: Machine; t: Tables32 } {
    const m = new Machine();
    const t = new Tables32(m);
    t.map(0x10000, 0x30000);
    t.map(0x11000, 0x20000);
    t.map(0x12000, 0x40000, P | US);
    t.map(0x13000, 0x50000, P | RW);
    m.paging(PAGING | CR0_WP, t.pd, 0);
    return { m, t };
  }

  it("reads guest-virtual memory spread over scattered frames into the scratch buffer", () => {
    const { m } = scattered();
    m.ram.set([1, 2, 3], 0x30ffd);
    m.ram.set([4, 5, 6], 0x20000);
    m.ram.set([7, 8], 0x20ffe);
    m.ram.set([9], 0x40000);
    const scratch = m.core.hostScratch() >>> 0;
    expect(m.core.hostReadVirtual(0x10ffd, 0x1004, scratch, READ)).toBe(0x1004);
    const got = new Uint8Array(m.core.memory.buffer, scratch, 0x1004);
    expect([...got.subarray(0, 6)]).toEqual([1, 2, 3, 4, 5, 6]);
    expect([...got.subarray(0x1001, 0x1004)]).toEqual([7, 8, 9]);
  });

  it("stops a read at the first page that faults and says where and why", () => {
    const { m } = scattered();
    const scratch = m.core.hostScratch() >>> 0;
    expect(m.core.hostReadVirtual(0x13ff0, 0x20, scratch, READ)).toBe(0x10);
    expect(m.core.hostLastFaultAddress() >>> 0).toBe(0x14000);
    expect(m.core.hostLastFaultCode()).toBe(0);
    expect(m.core.hostReadVirtual(0x12ff0, 0x20, scratch, USER)).toBe(0x10);
    expect(m.core.hostLastFaultAddress() >>> 0).toBe(0x13000);
    expect(m.core.hostLastFaultCode()).toBe(PF_P | PF_U);
  });

  it("writes guest-virtual memory from the scratch buffer, setting the dirty bits", () => {
    const { m, t } = scattered();
    const scratch = m.core.hostScratch() >>> 0;
    new Uint8Array(m.core.memory.buffer, scratch, 4).set([0xa, 0xb, 0xc, 0xd]);
    expect(m.core.hostWriteVirtual(0x10ffe, 4, scratch, READ)).toBe(4);
    expect([...m.ram.subarray(0x30ffe, 0x31000)]).toEqual([0xa, 0xb]);
    expect([...m.ram.subarray(0x20000, 0x20002)]).toEqual([0xc, 0xd]);
    expect(m.read32(t.pdeAddr(0x10000)) & A).toBe(A);
    const pt = m.read32(t.pdeAddr(0x10000)) & ~0xfff;
    expect(m.read32(pt + 0x10 * 4) & D).toBe(D);
    expect(m.read32(pt + 0x11 * 4) & D).toBe(D);
  });

  it("stops a write at a read-only page under CR0.WP, leaving the pages before it written", () => {
    const { m } = scattered();
    const scratch = m.core.hostScratch() >>> 0;
    new Uint8Array(m.core.memory.buffer, scratch, 0x20).fill(0xee);
    expect(m.core.hostWriteVirtual(0x11ff0, 0x20, scratch, READ)).toBe(0x10);
    expect(m.core.hostLastFaultCode()).toBe(PF_P | PF_W);
    expect(m.ram[0x20ff0]).toBe(0xee);
    expect(m.ram[0x40000]).toBe(0);
  });

  it("never reaches a device: an MMIO page reads as open bus and drops writes", () => {
    const { m, t } = scattered();
    t.map(0x14000, 0xfee00000, P | RW);
    m.setReg(L.MMIO_COUNT, 1);
    m.setReg(L.MMIO_RANGES, 0xfee00000);
    m.setReg(L.MMIO_RANGES + 4, 0xfee00fff);
    m.core.hostMemoryMapChanged();
    const scratch = m.core.hostScratch() >>> 0;
    const bytes = new Uint8Array(m.core.memory.buffer, scratch, 8);
    bytes.fill(0x5a);
    expect(m.core.hostWriteVirtual(0x14000, 8, scratch, READ)).toBe(8);
    expect(m.core.hostReadVirtual(0x13ffc, 8, scratch, READ)).toBe(8);
    expect([...bytes]).toEqual([0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
  });

  it("writes guest-physical RAM in one call and refuses a range that leaves RAM", () => {
    const m = new Machine();
    const scratch = m.core.hostScratch() >>> 0;
    expect(m.core.hostScratchSize()).toBeGreaterThanOrEqual(0x1000);
    new Uint8Array(m.core.memory.buffer, scratch, 3).set([1, 2, 3]);
    expect(m.core.hostWritePhysical(0x7000, 3, scratch)).toBe(3);
    expect([...m.ram.subarray(0x7000, 0x7003)]).toEqual([1, 2, 3]);
    expect(m.core.hostWritePhysical(RAM_BYTES - 2, 3, scratch)).toBe(-1);
    expect(m.ram[RAM_BYTES - 2]).toBe(0);
  });

  it("refuses a buffer outside wasm memory", () => {
    const m = new Machine();
    const end = m.core.memory.buffer.byteLength;
    expect(m.core.hostReadVirtual(0, 16, end - 8, READ)).toBe(-1);
    expect(m.core.hostWriteVirtual(0, 16, end - 8, READ)).toBe(-1);
    expect(m.core.hostWritePhysical(0, 16, end - 8)).toBe(-1);
  });
});
