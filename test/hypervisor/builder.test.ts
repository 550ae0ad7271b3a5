// test/hypervisor/builder.test.ts — the PV domain builder: what a 32-bit PAE kernel finds at its
// first instruction (XEN-ABI.md 7.2), what it is refused for, and that every frame comes back.
//
// Runs over a plain buffer (test/hypervisor/mm/fixture.ts); the guest's view
// is checked by walking the page tables the way the core's PV MMU does:
// PAE in Xen's 32-on-64 flavour, where the L3 entry is a long-mode entry
// whose RW and US bits count (a native PDPTE has neither).

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { MACH2PHYS_VIRT_START } from "../../hypervisor/abi/arch_x86_32.js";
import {
  XEN_ELFNOTE_ENTRY,
  XEN_ELFNOTE_HYPERCALL_PAGE,
  XEN_ELFNOTE_PADDR_OFFSET,
  XEN_ELFNOTE_PAE_MODE,
  XEN_ELFNOTE_VIRT_BASE,
  XEN_ELFNOTE_XEN_VERSION,
} from "../../hypervisor/abi/elfnote.js";
import { DOMID_INVALID, start_info } from "../../hypervisor/abi/xen.js";
import { buildPvDomain, destroyPvDomainMemory, type BuildOptions, type BuiltDomain } from "../../hypervisor/builder.js";
import { INVALID_M2P_ENTRY } from "../../hypervisor/mm/m2p.js";
import { PGT_l1_page_table, PGT_l2_page_table, PGT_l3_page_table, PGT_pae_xen_l2 } from "../../hypervisor/mm/pagetype.js";
import { pinTable } from "../../hypervisor/mm/pin.js";
import { _PAGE_ACCESSED, _PAGE_PRESENT, _PAGE_PSE, _PAGE_RW, _PAGE_USER, pteFlags, pteMfn } from "../../hypervisor/mm/pte.js";
import { LoadError } from "../../hypervisor/platform/boot.js";
import { audit, machine, type Machine } from "./mm/fixture.js";
import { pvKernel } from "./pv-image.js";

const HELLO = new Uint8Array(readFileSync("build/guests/pv/hello.bin"));
const HELLO_ENTRY = new DataView(HELLO.buffer, HELLO.byteOffset).getUint32(24, true);
const MiB = 1 << 20;
const DOMID = 1;

const OPTIONS: BuildOptions = { memoryMiB: 16, cmdline: "console=hvc0", consoleEvtchn: 2, storeEvtchn: 1 };

/** A 32 MiB machine: room for a 16 MiB domain and then some. */
function build(kernel: Uint8Array = HELLO, options: Partial<BuildOptions> = {}, m: Machine = machine(8192)) {
  const built = buildPvDomain(m, DOMID, kernel, { ...OPTIONS, ...options });
  return { m, built };
}

interface Translation {
  mfn: number;
  /** The L1 entry's flags (packed). */
  flags: number;
  writable: boolean;
  user: boolean;
}

/** The guest's translation of `va` under `l3`, or null when a level is not present. */
function translate(m: Machine, l3: number, va: number): Translation | null {
  const e3 = m.entry(l3, va >>> 30);
  if ((e3[0] & _PAGE_PRESENT) === 0) return null;
  const e2 = m.entry(pteMfn(...e3), (va >>> 21) & 511);
  if ((e2[0] & _PAGE_PRESENT) === 0) return null;
  if ((e2[0] & _PAGE_PSE) !== 0) throw new Error(`va ${va.toString(16)}: a PV L2 entry has PS set`);
  const e1 = m.entry(pteMfn(...e2), (va >>> 12) & 511);
  if ((e1[0] & _PAGE_PRESENT) === 0) return null;
  const all = (bit: number) => (e3[0] & e2[0] & e1[0] & bit) !== 0;
  return { mfn: pteMfn(...e1), flags: pteFlags(...e1), writable: all(_PAGE_RW), user: all(_PAGE_USER) };
}

/** The guest's bytes at [va, va + length), read through its page tables. */
function readVa(m: Machine, l3: number, va: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const t = translate(m, l3, va + i);
    if (!t) throw new Error(`va ${(va + i).toString(16)} is not mapped`);
    out[i] = m.ram[t.mfn * 4096 + ((va + i) & 0xfff)]!;
  }
  return out;
}

function u32At(m: Machine, pa: number): number {
  return m.view.getUint32(pa, true);
}

function startInfo(m: Machine, built: BuiltDomain) {
  const at = built.startInfoMfn * 4096;
  const field = (name: keyof typeof start_info) => u32At(m, at + start_info[name]);
  const text = (offset: number, size: number) => {
    const bytes = m.ram.subarray(at + offset, at + offset + size);
    return new TextDecoder().decode(bytes.subarray(0, bytes.indexOf(0)));
  };
  return { field, magic: text(start_info.magic, 32), cmdline: text(start_info.cmd_line, 1024), at };
}

describe("building hello.bin (16 MiB)", () => {
  it("writes start_info with the xen-3.0-x86_32p magic and every field the guest needs", () => {
    const { m, built } = build();
    const si = startInfo(m, built);
    expect(si.magic).toBe("xen-3.0-x86_32p");
    expect(si.field("nr_pages")).toBe(16 * 256);
    expect(si.field("shared_info")).toBe(built.sharedInfoMfn * 4096);
    expect(si.field("flags")).toBe(0);
    expect(si.field("store_mfn")).toBe(built.storeMfn);
    expect(si.field("store_evtchn")).toBe(1);
    expect(si.field("console_domU_mfn")).toBe(built.consoleMfn);
    expect(si.field("console_domU_evtchn")).toBe(2);
    expect(si.field("pt_base")).toBe(0x109000);
    expect(si.field("nr_pt_frames")).toBe(built.ptFrames.length);
    expect(si.field("mfn_list")).toBe(0x102000);
    expect(si.field("mod_start")).toBe(0);
    expect(si.field("mod_len")).toBe(0);
    expect(si.cmdline).toBe("console=hvc0");
    expect(si.field("first_p2m_pfn")).toBe(0x102);
    expect(si.field("nr_p2m_frames")).toBe(4);
    expect(translate(m, built.l3Mfn, built.startInfoVa)?.mfn).toBe(built.startInfoMfn);
  });

  it("lays out kernel, P2M list, start_info, xenstore, console, page tables and stack in that order, page by page", () => {
    const { m, built } = build();
    const mfnOfVa = (va: number) => translate(m, built.l3Mfn, va)?.mfn;
    expect(built.entry).toBe(HELLO_ENTRY);
    expect(built.hypercallPage).toBe(0x101000);
    // hello.bin is 0x100000-0x102000; the 16 Ki-entry P2M list takes 4 pages.
    expect(built.startInfoVa).toBe(0x106000);
    expect(mfnOfVa(0x107000)).toBe(built.storeMfn);
    expect(mfnOfVa(0x108000)).toBe(built.consoleMfn);
    // L3, the L2s under slots 0 and 3, and two L1s for 0-4 MiB.
    expect(built.ptFrames).toHaveLength(5);
    built.ptFrames.forEach((mfn, i) => expect(mfnOfVa(0x109000 + i * 4096)).toBe(mfn));
    expect(built.l3Mfn).toBe(built.ptFrames[0]);
    expect(built.stackTop).toBe(0x10f000);
    expect(translate(m, built.l3Mfn, built.stackTop - 4)?.writable).toBe(true);
    expect([built.virtBase, built.virtEnd]).toEqual([0, 4 * MiB]);
  });

  it("pins and validates the L3, hangs the special L2 under slot 3, and holds the CR3 reference", () => {
    const { m, built } = build();
    const { types } = m;
    expect(types.isPinned(built.l3Mfn)).toBe(true);
    expect(types.isValidated(built.l3Mfn)).toBe(true);
    expect(types.typeOf(built.l3Mfn)).toBe(PGT_l3_page_table);
    expect(types.typeCountOf(built.l3Mfn)).toBe(2); // the pin and the CR3
    const slot3 = pteMfn(...m.entry(built.l3Mfn, 3));
    expect(types.typeOf(slot3)).toBe(PGT_l2_page_table | PGT_pae_xen_l2);
    expect(types.typeOf(pteMfn(...m.entry(built.l3Mfn, 0)))).toBe(PGT_l2_page_table);
    for (const l1 of built.ptFrames.slice(3)) expect(types.typeOf(l1)).toBe(PGT_l1_page_table);
    expect(m.entry(built.l3Mfn, 1)[0] & _PAGE_PRESENT).toBe(0);
    expect(m.entry(built.l3Mfn, 2)[0] & _PAGE_PRESENT).toBe(0);
    expect(audit(m, [built.l3Mfn, built.sharedInfoMfn])).toEqual([]);
  });

  it("maps every page of the region to its pfn's frame, ring-1 only, with the page tables read-only", () => {
    const { m, built } = build();
    const problems: string[] = [];
    for (let va = built.virtBase; va < built.virtEnd; va += 4096) {
      const pfn = (va - built.virtBase) / 4096;
      const t = translate(m, built.l3Mfn, va);
      const isTable = built.ptFrames.includes(built.p2m.get(pfn));
      const want = isTable ? _PAGE_PRESENT | _PAGE_ACCESSED : _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED;
      if (!t) problems.push(`${va.toString(16)} unmapped`);
      else if (t.mfn !== built.p2m.get(pfn) || t.flags !== want || t.writable === isTable || t.user) {
        problems.push(`${va.toString(16)} -> mfn ${t.mfn} flags ${t.flags.toString(16)} (pfn ${pfn} is mfn ${built.p2m.get(pfn)})`);
      }
    }
    expect(problems).toEqual([]);
    expect(translate(m, built.l3Mfn, built.virtEnd)).toBeNull();
    expect(translate(m, built.l3Mfn, 0x80000000)).toBeNull();
  });

  it("gives the domain 4096 pfns, all its own, recorded in the M2P", () => {
    const { m, built } = build();
    expect(built.nrPages).toBe(4096);
    expect(built.p2m.nrPages).toBe(4096);
    for (let pfn = 0; pfn < 4096; pfn++) {
      const mfn = built.p2m.get(pfn);
      expect(m.frames.ownerOf(mfn)).toBe(DOMID);
      expect(m.m2p.get(mfn)).toBe(pfn);
    }
    // Its pfns and shared_info.
    expect(m.frames.pagesOf(DOMID)).toBe(4097);
  });

  it("maps the M2P read-only at 0xF5800000, where the guest reads back its own pfns", () => {
    const { m, built } = build();
    m.m2p.tableMfns.forEach((mfn, k) => {
      const t = translate(m, built.l3Mfn, MACH2PHYS_VIRT_START + k * 4096);
      expect(t).toMatchObject({ mfn, writable: false });
    });
    for (const pfn of [0, 1, 0x100, 0x109, 4095]) {
      const mfn = built.p2m.get(pfn);
      const bytes = readVa(m, built.l3Mfn, MACH2PHYS_VIRT_START + 4 * mfn, 4);
      expect(new DataView(bytes.buffer).getUint32(0, true)).toBe(pfn);
    }
  });

  it("fills the hypercall page with int3 and 128 stubs of `mov eax, i; int 0x82; ret`, the iret one without ret", () => {
    const { m, built } = build();
    const page = readVa(m, built.l3Mfn, built.hypercallPage!, 4096);
    for (let i = 0; i < 128; i++) {
      const stub = [...page.subarray(i * 32, i * 32 + 32)];
      const code = i === 23 ? [0x50, 0xb8, 23, 0, 0, 0, 0xcd, 0x82] : [0xb8, i, 0, 0, 0, 0xcd, 0x82, 0xc3];
      expect(stub).toEqual([...code, ...new Array(32 - code.length).fill(0xcc)]);
    }
  });

  it("copies the kernel's bytes to its virtual addresses", () => {
    const { m, built } = build();
    expect(readVa(m, built.l3Mfn, 0x100000, 0x1000)).toEqual(HELLO.subarray(0, 0x1000));
  });

  it("hands the guest its P2M list at mfn_list, one u32 per pfn", () => {
    const { m, built } = build();
    const list = readVa(m, built.l3Mfn, 0x102000, 4 * 4096);
    const view = new DataView(list.buffer);
    for (let pfn = 0; pfn < 4096; pfn++) expect(view.getUint32(4 * pfn, true)).toBe(built.p2m.get(pfn));
  });

  it("gives the domain a zeroed shared_info outside its P2M, with events masked on every vcpu_info", () => {
    const { m, built } = build();
    expect(m.frames.ownerOf(built.sharedInfoMfn)).toBe(DOMID);
    expect(m.m2p.get(built.sharedInfoMfn)).toBe(INVALID_M2P_ENTRY);
    const page = m.ram.subarray(built.sharedInfoMfn * 4096, built.sharedInfoMfn * 4096 + 4096);
    const expected = new Uint8Array(4096);
    for (let i = 0; i < 32; i++) expected[i * 64 + 1] = 1;
    expect(page).toEqual(expected);
  });

  it("zeroes the xenstore and console pages", () => {
    const { m, built } = build();
    for (const mfn of [built.storeMfn, built.consoleMfn]) {
      expect(m.ram.subarray(mfn * 4096, mfn * 4096 + 4096).every((b) => b === 0)).toBe(true);
    }
  });
});

describe("layout", () => {
  it("puts an initrd right after the kernel and tells the guest where it is and how long", () => {
    const ramdisk = new Uint8Array(10000).map((_, i) => (i * 13) & 0xff);
    const { m, built } = build(HELLO, { ramdisk });
    const si = startInfo(m, built);
    expect(si.field("mod_start")).toBe(0x102000);
    expect(si.field("mod_len")).toBe(10000);
    expect(readVa(m, built.l3Mfn, 0x102000, 10000)).toEqual(ramdisk);
    expect(si.field("mfn_list")).toBe(0x105000);
  });

  it("cuts the command line at 1023 bytes and ends it with a NUL", () => {
    const { m, built } = build(HELLO, { cmdline: "x".repeat(1500) });
    const si = startInfo(m, built);
    expect(si.cmdline).toBe("x".repeat(1023));
    expect(m.ram[si.at + start_info.cmd_line + 1023]).toBe(0);
  });

  it("loads a segment's bss as zeroes", () => {
    const k = pvKernel({ size: 0x2000, bss: 0x3000 });
    const { m, built } = build(k.image);
    expect(readVa(m, built.l3Mfn, k.base, 0x1000)).toEqual(k.data.subarray(0, 0x1000));
    expect(readVa(m, built.l3Mfn, k.base + 0x2000, 0x3000).every((b) => b === 0)).toBe(true);
    expect(built.startInfoVa).toBe(k.base + 0x5000 + 4 * 4096);
  });

  it("ends the region on the first 4 MiB boundary that leaves 512 KiB after the stack, counting the tables that takes", () => {
    // With the kernel ending at 0x373000 the tables for 0-4 MiB fit exactly;
    // one page later they push the region to 8 MiB, which needs two more L1s.
    const m = machine(8192);
    for (let end = 0x36e000; end <= 0x37a000; end += 0x1000) {
      const k = pvKernel({ bss: end - 0x102000 });
      const built = buildPvDomain(m, DOMID, k.image, OPTIONS);
      expect(built.virtEnd % (4 * MiB)).toBe(0);
      expect(built.virtEnd - built.stackTop).toBeGreaterThanOrEqual(512 * 1024);
      expect(built.virtEnd - 4 * MiB).toBeLessThanOrEqual(built.stackTop + 512 * 1024);
      expect(built.virtEnd).toBe(end <= 0x373000 ? 4 * MiB : 8 * MiB);
      expect(built.ptFrames).toHaveLength(1 + 2 + built.virtEnd / (2 * MiB));
      expect(translate(m, built.l3Mfn, built.virtEnd - 4096)?.mfn).toBe(built.p2m.get(built.virtEnd / 4096 - 1));
      destroyPvDomainMemory(m, DOMID, built);
    }
  });

  it("maps a kernel at VIRT_BASE 0xC0000000 under L3 slot 3, in the L2 it shares with the M2P window", () => {
    const vbase = 0xc0000000;
    const k = pvKernel({
      notes: {
        [XEN_ELFNOTE_VIRT_BASE]: vbase,
        [XEN_ELFNOTE_PADDR_OFFSET]: 0,
        [XEN_ELFNOTE_ENTRY]: vbase + 0x100000,
        [XEN_ELFNOTE_HYPERCALL_PAGE]: vbase + 0x101000,
      },
    });
    const { m, built } = build(k.image);
    expect(built.entry).toBe(0xc0100000);
    expect(built.virtBase).toBe(vbase);
    expect(built.ptFrames).toHaveLength(1 + 1 + 2);
    expect(startInfo(m, built).field("pt_base")).toBe(built.startInfoVa + 3 * 4096);
    expect(readVa(m, built.l3Mfn, 0xc0100000, 0x1000)).toEqual(k.data.subarray(0, 0x1000));
    expect(translate(m, built.l3Mfn, vbase)?.mfn).toBe(built.p2m.get(0));
    expect(translate(m, built.l3Mfn, 0x100000)).toBeNull();
    expect(translate(m, built.l3Mfn, MACH2PHYS_VIRT_START)?.mfn).toBe(m.m2p.tableMfns[0]);
    expect(m.types.typeOf(built.ptFrames[1]!)).toBe(PGT_l2_page_table | PGT_pae_xen_l2);
    expect(audit(m, [built.l3Mfn, built.sharedInfoMfn])).toEqual([]);
  });
});

describe("refusals", () => {
  /** Expects a LoadError matching `reason` and the frame table exactly as before. */
  function refused(kernel: Uint8Array, reason: RegExp, options: Partial<BuildOptions> = {}, m: Machine = machine(8192)): void {
    const [pre] = m.alloc(DOMID, 1) as [number];
    const available = m.frames.available;
    let error: unknown;
    try {
      buildPvDomain(m, DOMID, kernel, { ...OPTIONS, ...options });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LoadError);
    expect((error as Error).message).toMatch(reason);
    expect(m.frames.pagesOf(DOMID)).toBe(1);
    expect(m.frames.ownerOf(pre)).toBe(DOMID);
    expect(m.frames.available).toBe(available);
    expect(audit(m)).toEqual([]);
  }

  it("refuses a non-PAE kernel", () => {
    refused(pvKernel({ notes: { [XEN_ELFNOTE_PAE_MODE]: "no" } }).image, /PAE_MODE/);
    refused(pvKernel({ notes: { [XEN_ELFNOTE_PAE_MODE]: null } }).image, /PAE_MODE/);
  });

  it("refuses a kernel without a XEN_VERSION note", () => {
    refused(pvKernel({ notes: { [XEN_ELFNOTE_XEN_VERSION]: null } }).image, /XEN_VERSION/);
  });

  it("refuses a hypercall page outside the kernel image", () => {
    refused(pvKernel({ notes: { [XEN_ELFNOTE_HYPERCALL_PAGE]: 0x200000 } }).image, /HYPERCALL_PAGE note 0x200000 is outside/);
    refused(pvKernel({ notes: { [XEN_ELFNOTE_HYPERCALL_PAGE]: 0xff000 } }).image, /HYPERCALL_PAGE/);
  });

  it("refuses an entry point outside the kernel image", () => {
    refused(pvKernel({ notes: { [XEN_ELFNOTE_ENTRY]: 0x102000 } }).image, /entry point 0x102000 is outside/);
  });

  it("refuses a domain too small for its initial mapping", () => {
    // hello.bin at 1 MiB needs the 4 MiB from VIRT_BASE 0 mapped; 2 MiB has 512 pages.
    refused(HELLO, /cannot hold the initial mapping 0x0-0x400000/, { memoryMiB: 2 });
  });

  it("refuses memory that is not a positive number of pages", () => {
    refused(HELLO, /not a positive whole number/, { memoryMiB: 0 });
    refused(HELLO, /not a positive whole number/, { memoryMiB: 1 / 1024 });
  });

  it("refuses a kernel overlapping the hypervisor hole, or whose mapping would reach it", () => {
    refused(pvKernel({ base: 0xf5700000, size: 0x200000 }).image, /overlaps the hypervisor hole at 0xf5800000/);
    refused(pvKernel({ base: 0xf5700000 }).image, /initial mapping .* reaches the hypervisor hole/);
  });

  it("refuses a kernel loaded below VIRT_BASE", () => {
    // A Linux-style image whose paddrs are physical but with no PADDR_OFFSET note.
    const k = pvKernel({ notes: { [XEN_ELFNOTE_VIRT_BASE]: 0xc0000000 } });
    refused(k.image, /starts below VIRT_BASE 0xc0000000/);
  });

  it("refuses a domain bigger than the free machine memory, giving back every frame it took", () => {
    // An 8 MiB machine cannot hold 16 MiB: the P2M fails part-way.
    refused(HELLO, /machine memory/, {}, machine(2048));
  });

  it("refuses an image that is not ELF at all", () => {
    refused(new Uint8Array(64), /no ELF magic/);
  });
});

describe("destroying", () => {
  it("gives every frame back: pagesOf is 0 and the M2P forgets the domain", () => {
    const m = machine(8192);
    const available = m.frames.available;
    const built = buildPvDomain(m, DOMID, HELLO, OPTIONS);
    const mfns = Array.from({ length: built.nrPages }, (_, pfn) => built.p2m.get(pfn));
    destroyPvDomainMemory(m, DOMID, built);
    expect(m.frames.pagesOf(DOMID)).toBe(0);
    expect(m.frames.available).toBe(available);
    expect(mfns.every((mfn) => m.m2p.get(mfn) === INVALID_M2P_ENTRY && m.frames.ownerOf(mfn) === DOMID_INVALID)).toBe(true);
    expect(audit(m)).toEqual([]);
  });

  it("also drops pins the guest added itself", () => {
    const m = machine(8192);
    const built = buildPvDomain(m, DOMID, HELLO, OPTIONS);
    const l1 = built.ptFrames[built.ptFrames.length - 1]!;
    expect(pinTable(m.types, DOMID, l1, PGT_l1_page_table)).toBe(0);
    destroyPvDomainMemory(m, DOMID, built);
    expect(m.frames.pagesOf(DOMID)).toBe(0);
    expect(audit(m)).toEqual([]);
  });

  it("throws, naming the frame, when something outside the domain still holds a reference", () => {
    const m = machine(8192);
    const built = buildPvDomain(m, DOMID, HELLO, OPTIONS);
    expect(m.frames.getPage(built.consoleMfn, DOMID)).toBe(true);
    expect(() => destroyPvDomainMemory(m, DOMID, built)).toThrow(`mfn ${built.consoleMfn}, 1 references`);
  });

  it("leaves a second domain untouched", () => {
    const m = machine(8192);
    const small = { ...OPTIONS, memoryMiB: 8 };
    const one = buildPvDomain(m, 1, HELLO, small);
    const two = buildPvDomain(m, 2, HELLO, small);
    for (let pfn = 0; pfn < 2048; pfn++) expect(m.frames.ownerOf(two.p2m.get(pfn))).toBe(2);
    destroyPvDomainMemory(m, 1, one);
    expect(m.frames.pagesOf(1)).toBe(0);
    expect(m.frames.pagesOf(2)).toBe(2049);
    expect(m.types.isPinned(two.l3Mfn)).toBe(true);
    expect(audit(m, [two.l3Mfn, two.sharedInfoMfn])).toEqual([]);
    expect(readVa(m, two.l3Mfn, 0x100000, 0x1000)).toEqual(HELLO.subarray(0, 0x1000));
  });
});
