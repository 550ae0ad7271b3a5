// test/hypervisor/platform/loaders.test.ts — multiboot v1 (a.out kludge and ELF), plain ELF32 and
// raw ROM images: what lands in RAM, the entry state, the information structure, and a clear
// LoadError for every malformed header field.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { assemble } from "../../../tools/asm/index.js";
import { LoadError, type BootPlan, type PhysicalMemory, type ProtectedModeEntry } from "../../../hypervisor/platform/boot.js";
import { detectImageFormat, loadImage } from "../../../hypervisor/platform/loaders.js";
import { haltingRom } from "../../../hypervisor/platform/rom.js";

const MiB = 1024 * 1024;

/** Guest RAM as a plain array, pre-filled with 0xAA so zeroed bss is visible. */
class TestRam implements PhysicalMemory {
  readonly bytes: Uint8Array;
  constructor(readonly ramBytes = 16 * MiB) {
    this.bytes = new Uint8Array(ramBytes).fill(0xaa);
  }
  write(pa: number, bytes: Uint8Array): void {
    if (pa + bytes.length > this.ramBytes) throw new Error(`write past RAM at ${pa.toString(16)}`);
    this.bytes.set(bytes, pa);
  }
  fill(pa: number, length: number, value: number): void {
    if (pa + length > this.ramBytes) throw new Error(`fill past RAM at ${pa.toString(16)}`);
    this.bytes.fill(value, pa, pa + length);
  }
  u32(pa: number): number {
    return new DataView(this.bytes.buffer).getUint32(pa, true);
  }
  cString(pa: number): string {
    let end = pa;
    while (this.bytes[end] !== 0) end++;
    return new TextDecoder().decode(this.bytes.subarray(pa, end));
  }
}

function asm(source: string) {
  const r = assemble(source, { file: "test.asm" });
  expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return r;
}

/** A multiboot a.out-kludge kernel at `org` whose header fields can be overridden. */
function aoutKernel(fields: Partial<Record<"flags" | "header" | "load" | "loadEnd" | "bssEnd" | "entry" | "checksum", string>> = {}, org = 0x100000) {
  const flags = fields.flags ?? "0x00010000";
  return asm(`
    bits 32
    org ${org}
    start:  jmp entry
            align 4
    header: dd 0x1BADB002, ${flags}, ${fields.checksum ?? `-(0x1BADB002 + ${flags})`}
            dd ${fields.header ?? "header"}, ${fields.load ?? "start"}, ${fields.loadEnd ?? "data_end"}
            dd ${fields.bssEnd ?? "bss_end"}, ${fields.entry ?? "entry"}
    entry:  cli
            hlt
    data:   db "payload"
    data_end:
            section .bss
            resb 256
    bss_end:
  `);
}

function entryOf(plan: BootPlan): ProtectedModeEntry {
  if (plan.kind === "rom") throw new Error("expected a kernel");
  return plan.entry;
}

function loadError(image: Uint8Array, ram = new TestRam()): string {
  try {
    loadImage(image, ram, { romBytes: 0x10000 });
  } catch (e) {
    expect(e).toBeInstanceOf(LoadError);
    return (e as Error).message;
  }
  throw new Error("the image loaded");
}

/** A minimal ELF32 executable: header, program headers, then the segment bytes. */
function elfImage(options: {
  segments: { vaddr: number; paddr: number; data: number[]; memsz?: number; type?: number }[];
  entry: number;
  patch?: (view: DataView) => void;
}): Uint8Array {
  const phoff = 52;
  const dataStart = phoff + 32 * options.segments.length;
  const total = dataStart + options.segments.reduce((n, s) => n + s.data.length, 0);
  const view = new DataView(new ArrayBuffer(total));
  const bytes = new Uint8Array(view.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  view.setUint16(16, 2, true); // ET_EXEC
  view.setUint16(18, 3, true); // EM_386
  view.setUint32(20, 1, true);
  view.setUint32(24, options.entry, true);
  view.setUint32(28, phoff, true);
  view.setUint16(40, 52, true);
  view.setUint16(42, 32, true);
  view.setUint16(44, options.segments.length, true);
  let offset = dataStart;
  options.segments.forEach((s, i) => {
    const ph = phoff + 32 * i;
    view.setUint32(ph, s.type ?? 1, true);
    view.setUint32(ph + 4, offset, true);
    view.setUint32(ph + 8, s.vaddr, true);
    view.setUint32(ph + 12, s.paddr, true);
    view.setUint32(ph + 16, s.data.length, true);
    view.setUint32(ph + 20, s.memsz ?? s.data.length, true);
    bytes.set(s.data, offset);
    offset += s.data.length;
  });
  options.patch?.(view);
  return bytes;
}

describe("multiboot loader, a.out kludge", () => {
  it("copies hello.bin to 1 MiB, zeroes its bss, and enters it at entry_addr", () => {
    const image = readFileSync("build/guests/hello.bin");
    const symbols = assemble(readFileSync("guests/hello/hello.asm", "utf8"), { file: "hello.asm" }).symbols;
    const ram = new TestRam();
    const plan = loadImage(image, ram, { romBytes: 0x10000 });
    expect(plan.kind).toBe("multiboot");
    expect(Buffer.from(ram.bytes.subarray(0x100000, 0x100000 + image.length)).equals(image)).toBe(true);
    const bssEnd = symbols.get("bss_end")!;
    expect(ram.bytes.subarray(0x100000 + image.length, bssEnd).every((b) => b === 0)).toBe(true);
    expect(ram.bytes[bssEnd]).toBe(0xaa);
    expect(entryOf(plan).eip).toBe(symbols.get("entry"));
  });

  it("leaves the CPU as the specification requires: magic in EAX, info in EBX, flat 32-bit segments, IF clear", () => {
    const ram = new TestRam();
    const e = entryOf(loadImage(aoutKernel().bytes, ram, { romBytes: 0x10000 }));
    expect(e.eax).toBe(0x2badb002);
    expect(e.ebx).toBe(0x9000);
    expect(e.eflags).toBe(0x2);
    expect(e.cr0 & 0x80000001).toBe(0x1); // PE on, PG off
    expect(e.code).toEqual({ selector: 0x08, base: 0, limit: 0xffffffff, attr: 0xc09b });
    expect(e.data).toEqual({ selector: 0x10, base: 0, limit: 0xffffffff, attr: 0xc093 });
    // The GDT in RAM holds the same descriptors the hidden caches were loaded from.
    const gdt = new DataView(ram.bytes.buffer, e.gdtr.base, e.gdtr.limit + 1);
    expect(gdt.getBigUint64(0x08, true)).toBe(0x00cf9b000000ffffn);
    expect(gdt.getBigUint64(0x10, true)).toBe(0x00cf93000000ffffn);
  });

  it("builds the information structure: memory sizes, memory map, command line, loader name", () => {
    const ram = new TestRam(32 * MiB);
    const e = entryOf(loadImage(aoutKernel().bytes, ram, { romBytes: 0x10000, cmdline: "demo.bin verbose" }));
    const mbi = e.ebx;
    expect(ram.u32(mbi)).toBe(0x1 | 0x4 | 0x8 | 0x40 | 0x200);
    expect(ram.u32(mbi + 4)).toBe(640);
    expect(ram.u32(mbi + 8)).toBe(31 * 1024);
    expect(ram.u32(mbi + 20)).toBe(0); // no modules
    expect(ram.cString(ram.u32(mbi + 16))).toBe("demo.bin verbose");
    expect(ram.cString(ram.u32(mbi + 64))).toBe("xenoscope");
    const regions: [number, number, number][] = [];
    const view = new DataView(ram.bytes.buffer);
    const start = ram.u32(mbi + 48);
    for (let at = start; at < start + ram.u32(mbi + 44); at += view.getUint32(at, true) + 4) {
      regions.push([Number(view.getBigUint64(at + 4, true)), Number(view.getBigUint64(at + 12, true)), view.getUint32(at + 20, true)]);
    }
    expect(regions).toEqual([
      [0, 0xa0000, 1],
      [0xa0000, 0x60000, 2],
      [0x100000, 31 * MiB, 1],
      [0xffff0000, 0x10000, 2],
    ]);
  });

  it("loads to the end of the file when load_end_addr is 0, and skips bss when bss_end_addr is 0", () => {
    const k = aoutKernel({ loadEnd: "0", bssEnd: "0" });
    const ram = new TestRam();
    loadImage(k.bytes, ram, { romBytes: 0x10000 });
    expect(Buffer.from(ram.bytes.subarray(0x100000, 0x100000 + k.bytes.length)).equals(Buffer.from(k.bytes))).toBe(true);
    expect(ram.bytes[0x100000 + k.bytes.length]).toBe(0xaa);
  });

  it("rejects a header whose checksum does not add up, instead of running it as a ROM", () => {
    expect(loadError(aoutKernel({ checksum: "0" }).bytes)).toMatch(/bad checksum/);
  });

  it("refuses requirement flags it cannot meet", () => {
    expect(loadError(aoutKernel({ flags: "0x00010008" }).bytes)).toMatch(/require features .*\(bits 0x8\)/);
  });

  it("rejects load_addr above header_addr", () => {
    expect(loadError(aoutKernel({ load: "header + 4" }).bytes)).toMatch(/load_addr .* above header_addr/);
  });

  it("rejects load_addr that would start before the file", () => {
    expect(loadError(aoutKernel({ load: "start - 16" }).bytes)).toMatch(/before the start of the file/);
  });

  it("rejects load_end_addr past the end of the file", () => {
    expect(loadError(aoutKernel({ loadEnd: "data_end + 4096" }).bytes)).toMatch(/load_end_addr .* asks for \d+ bytes but the file has/);
  });

  it("rejects bss_end_addr below load_end_addr", () => {
    expect(loadError(aoutKernel({ bssEnd: "data" }).bytes)).toMatch(/bss_end_addr .* below load_end_addr/);
  });

  it("rejects entry_addr outside the loaded bytes", () => {
    expect(loadError(aoutKernel({ entry: "0x200000" }).bytes)).toMatch(/entry_addr 0x200000 is outside/);
  });

  it("rejects a kernel that does not fit in RAM, naming --mem", () => {
    expect(loadError(aoutKernel({}, 0xffff00).bytes, new TestRam(16 * MiB))).toMatch(/beyond RAM \(16 MiB\); try a larger --mem/);
  });

  it("rejects a kernel over the ROM window or the loader's boot area", () => {
    expect(loadError(aoutKernel({}, 0xf8000).bytes)).toMatch(/overlaps the ROM at 0xf0000-0x100000/);
    expect(loadError(aoutKernel({}, 0x8000).bytes)).toMatch(/overlaps the loader's boot area/);
  });

  it("rejects a header cut off by the end of the file", () => {
    const k = aoutKernel().bytes;
    expect(loadError(k.subarray(0, 20))).toMatch(/address fields do not fit/);
  });

  it("rejects a header without the kludge in a file that is not ELF", () => {
    expect(loadError(aoutKernel({ flags: "0x00000003" }).bytes)).toMatch(/not ELF/);
  });
});

describe("multiboot and plain ELF32 loaders", () => {
  const code = [0xfa, 0xf4]; // cli; hlt

  it("loads PT_LOAD segments at p_paddr, zeroes to p_memsz, and skips other segment types", () => {
    const ram = new TestRam();
    const image = elfImage({
      entry: 0x100000,
      segments: [
        { vaddr: 0x100000, paddr: 0x100000, data: code },
        { vaddr: 0x101000, paddr: 0x101000, data: [1, 2, 3], memsz: 16 },
        { vaddr: 0x300000, paddr: 0x300000, data: [9], type: 4 }, // PT_NOTE
      ],
    });
    expect(detectImageFormat(image)).toBe("elf");
    const plan = loadImage(image, ram, { romBytes: 0x10000 });
    expect(plan.kind).toBe("elf");
    expect(Array.from(ram.bytes.subarray(0x100000, 0x100002))).toEqual(code);
    expect(Array.from(ram.bytes.subarray(0x101000, 0x101011))).toEqual([1, 2, 3, ...new Array(13).fill(0), 0xaa]);
    expect(ram.bytes[0x300000]).toBe(0xaa);
    expect(entryOf(plan).eax).toBe(0x2badb002);
  });

  it("moves a higher-half entry point to its physical address", () => {
    const image = elfImage({ entry: 0xc0100000, segments: [{ vaddr: 0xc0100000, paddr: 0x100000, data: code }] });
    expect(entryOf(loadImage(image, new TestRam(), { romBytes: 0x10000 })).eip).toBe(0x100000);
  });

  it("loads an ELF kernel by its program headers when the multiboot header lacks the kludge", () => {
    const header = [0x02, 0xb0, 0xad, 0x1b, 0x03, 0, 0, 0, 0xfb, 0x4f, 0x52, 0xe4]; // magic, flags 3, checksum
    const image = elfImage({ entry: 0x100000, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: [...code, 0, 0, ...header] }] });
    const ram = new TestRam();
    const plan = loadImage(image, ram, { romBytes: 0x10000 });
    expect(plan.kind).toBe("multiboot");
    expect(plan.summary).toMatch(/multiboot ELF/);
    expect(entryOf(plan).eip).toBe(0x100000);
  });

  const bad: [string, Parameters<typeof elfImage>[0], RegExp][] = [
    ["a 64-bit file", { entry: 0x100000, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: code }], patch: (v) => v.setUint8(4, 2) }, /not a 32-bit ELF/],
    ["a big-endian file", { entry: 0x100000, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: code }], patch: (v) => v.setUint8(5, 2) }, /not little-endian/],
    ["another machine", { entry: 0x100000, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: code }], patch: (v) => v.setUint16(18, 40, true) }, /e_machine is 40/],
    ["a shared object", { entry: 0x100000, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: code }], patch: (v) => v.setUint16(16, 3, true) }, /e_type is 3/],
    ["program headers past the end", { entry: 0x100000, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: code }], patch: (v) => v.setUint16(44, 200, true) }, /program headers .* run past the end/],
    ["a short e_phentsize", { entry: 0x100000, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: code }], patch: (v) => v.setUint16(42, 16, true) }, /e_phentsize 16/],
    ["a segment past the end", { entry: 0x100000, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: code }], patch: (v) => (v.setUint32(52 + 16, 0x10000, true), v.setUint32(52 + 20, 0x10000, true)) }, /segment 0 .* runs past the end/],
    ["p_filesz above p_memsz", { entry: 0x100000, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: code, memsz: 1 }] }, /p_filesz 0x2 > p_memsz 0x1/],
    ["no loadable segment", { entry: 0x100000, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: code, type: 4 }] }, /no PT_LOAD/],
    ["an entry in no segment", { entry: 0x500000, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: code }] }, /entry point 0x500000 is in no loaded segment/],
    ["a segment beyond RAM", { entry: 0x100000, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: code, memsz: 64 * MiB }] }, /beyond RAM/],
  ];
  for (const [what, image, message] of bad) {
    it(`rejects ${what} with a clear message`, () => {
      expect(loadError(elfImage(image))).toMatch(message);
    });
  }

  it("rejects a file shorter than an ELF header", () => {
    expect(loadError(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]))).toMatch(/shorter than an ELF header/);
  });
});

describe("ROM images", () => {
  it("pads a small image at the front so that it ends at 4 GiB", () => {
    const image = new Uint8Array([0xea, 0x00, 0x00, 0x00, 0xf0]);
    const plan = loadImage(image, new TestRam(), { romBytes: 0x10000 });
    if (plan.kind !== "rom") throw new Error("expected a ROM");
    expect(plan.rom.length).toBe(0x10000);
    expect(Array.from(plan.rom.subarray(0x10000 - 5))).toEqual(Array.from(image));
    expect(plan.rom[0]).toBe(0xff);
  });

  it("rejects an empty file and one larger than 1 MiB", () => {
    expect(loadError(new Uint8Array(0), new TestRam())).toMatch(/empty/);
    expect(() => loadImage(new Uint8Array(MiB + 1), new TestRam(), { romBytes: 0x10000, format: "rom" })).toThrow(/more than the 1 MiB/);
    expect(loadError(new Uint8Array(MiB + 1))).toMatch(/not a multiboot kernel, an ELF32 executable, or a ROM image/);
  });

  it("gives a kernel-booted machine a ROM whose reset vector halts with interrupts off", () => {
    const rom = haltingRom();
    expect(Array.from(rom.subarray(0xfff0, 0xfff4))).toEqual([0xfa, 0xf4, 0xeb, 0xfd]);
  });
});
