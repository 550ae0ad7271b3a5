// test/core/trace.test.ts — the trace ring (core/trace.ts): instructions with their
// count, CS:EIP and bytes; interrupts, exceptions, exits and halts; the ring's
// wrap and lost count; and nothing at all when it is off.

import { describe, expect, it } from "vitest";
import { Machine, type RunOptions } from "../support/snippet.js";
import type { TraceEntry, TraceInstruction, TraceOptions } from "../../hypervisor/platform/cpu.js";
import * as L from "../../core/layout.js";

/** Runs `source` with the trace on; returns the machine and what the trace holds. */
function traced(source: string, options: RunOptions & { trace?: TraceOptions } = {}) {
  const m = new Machine(source, {
    ...options,
    setup: (machine) => {
      machine.cpu.enableTrace(options.trace ?? { capacity: 1024 });
      options.setup?.(machine);
    },
  });
  m.run();
  const { entries, lost } = m.cpu.readTrace();
  const instructions = entries.filter((e): e is TraceInstruction => e.kind === "instruction");
  /** The instruction entry at a label. */
  const at = (label: string) => instructions.find((e) => e.eip === m.sym(label));
  return { m, entries, lost, instructions, at };
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

describe("instruction entries", () => {
  it("record each instruction once with the count it ran at, CS:EIP, its length and its bytes", () => {
    const { m, entries, lost } = traced(`
    first:
      mov eax, 0x12345678
    second:
      add eax, ebx
    third:
      lock inc dword [0x3000]
    last:
      hlt
    `);
    expect(lost).toBe(0);
    expect(entries).toEqual([
      { kind: "instruction", count: 0, cs: 0x08, eip: m.sym("first"), outcome: "retired", code32: true, length: 5, bytes: Uint8Array.from([0xb8, 0x78, 0x56, 0x34, 0x12]) },
      { kind: "instruction", count: 1, cs: 0x08, eip: m.sym("second"), outcome: "retired", code32: true, length: 2, bytes: Uint8Array.from([0x01, 0xd8]) },
      { kind: "instruction", count: 2, cs: 0x08, eip: m.sym("third"), outcome: "retired", code32: true, length: 7, bytes: Uint8Array.from([0xf0, 0xff, 0x05, 0x00, 0x30, 0x00, 0x00]) },
      { kind: "instruction", count: 3, cs: 0x08, eip: m.sym("last"), outcome: "retired", code32: true, length: 1, bytes: Uint8Array.from([0xf4]) },
      { kind: "hlt", count: 4, cs: 0x08, eip: m.sym("last") + 1 },
    ]);
    expect(m.cpu.instructions()).toBe(4);
  });

  it("carry the exact count across runs, whatever the budget of each", () => {
    const m = new Machine(`
      mov ecx, 50
    again:
      loop again
      hlt
    `, { setup: (machine) => machine.cpu.enableTrace({ capacity: 256, events: false }) });
    const counts: number[] = [];
    for (const budget of [1, 7, 3, 40, 1000]) {
      m.run(budget);
      for (const e of m.cpu.readTrace().entries) counts.push(e.count);
    }
    expect(counts).toEqual(Array.from({ length: 52 }, (_, i) => i));
  });

  it("capture an instruction that straddles a page boundary, and 16-bit code as such", () => {
    const { m, at } = traced(`
      jmp CODE16:ADDR(code16)
      bits 16
    code16:
      mov ax, 0x1234
      times 0x9000 - 3 - ADDR($) db 0x90
    straddle:
      mov dword [0x3000], 0x89abcdef
      jmp dword CODE0:ADDR(back)
      bits 32
    back:
      hlt
    `, { org: 0x8000, trace: { capacity: 4096, events: false } });
    expect(m.sym("straddle")).toBe(0x9000 - 3);
    expect(at("code16")).toMatchObject({ code32: false, length: 3, bytes: Uint8Array.from([0xb8, 0x34, 0x12]) });
    const straddle = at("straddle")!;
    expect(straddle).toMatchObject({ code32: false, length: 9, outcome: "retired" });
    expect(hex(straddle.bytes)).toBe("66c7060030efcdab89");
    expect(at("back")).toMatchObject({ code32: true, bytes: Uint8Array.from([0xf4]) });
  });

  it("show the bytes as fetched when the instruction overwrites itself", () => {
    const { at, m } = traced(`
    self:
      mov byte [ADDR(self)], 0x90
      hlt
    `);
    expect(hex(at("self")!.bytes)).toBe(`c605${m.sym("self").toString(16).padStart(8, "0").match(/../g)!.reverse().join("")}90`);
    expect(m.u8(m.sym("self"))).toBe(0x90);
  });

  it("capture the bytes of code under paging, through the translation the fetch makes", () => {
    const { m, instructions } = traced(`
      ; Page directory at 0x20000 with one page table at 0x21000 mapping
      ; the first 4 MiB to itself, then linear 0x400000 to the code page.
      mov edi, 0x20000
      mov ecx, 2048
      xor eax, eax
      rep stosd
      mov dword [0x20000], 0x21003
      mov dword [0x20004], 0x22003
      mov eax, 3
      mov edi, 0x21000
    map:
      stosd
      add eax, 0x1000
      cmp edi, 0x22000
      jb map
      mov dword [0x22000], (ADDR(paged) & ~0xfff) | 3
      mov eax, 0x20000
      mov cr3, eax
      mov eax, cr0
      or eax, 0x80000000
      mov cr0, eax
      jmp 0x400000 + (ADDR(paged) & 0xfff)
      align 4096
    paged:
      mov ebx, 0xcafe
      hlt
    `, { trace: { capacity: 1 << 14, events: false } });
    const linear = 0x400000 + (m.sym("paged") & 0xfff);
    expect(instructions.filter((e) => e.eip >= 0x400000)).toEqual([
      expect.objectContaining({ eip: linear, length: 5, bytes: Uint8Array.from([0xbb, 0xfe, 0xca, 0x00, 0x00]) }),
      expect.objectContaining({ eip: linear + 5, length: 1, bytes: Uint8Array.from([0xf4]) }),
    ]);
  });

  it("leave the machine exactly as an untraced run does, page tables' accessed bits included", () => {
    const source = `
      gate 14, pf, 0x8E
      mov dword [0x20000], 0x21003     ; directory: one table for the first 4 MiB
      mov eax, 0x001003                ; a PTE per page, 4 KiB to 1 MiB, accessed bits clear
      mov edi, 0x21004
    map:
      stosd
      add eax, 0x1000
      cmp edi, 0x21400
      jb map
      mov eax, 0x20000
      mov cr3, eax
      mov eax, cr0
      or eax, 0x80000000
      mov cr0, eax
      jmp far_page                      ; the first fetch from a page it never touched
      times 0x3000 db 0x90
    far_page:
      mov cr3, eax                      ; flushes the TLB it was fetched through
      mov eax, [0x200000]               ; not mapped: #PF
    pf:
      hlt
    `;
    const plain = new Machine(source);
    plain.run();
    const { m } = traced(source, { trace: { capacity: 1 << 16 } });
    expect(m.cpu.instructions()).toBe(plain.cpu.instructions());
    expect(m.cpu.saveState()).toEqual(plain.cpu.saveState());
    expect(m.cpu.read(0x20000, 0x2000)).toEqual(plain.cpu.read(0x20000, 0x2000));
  });

  it("mark an instruction that faults, with the bytes it fetched, and the exception after it", () => {
    const { m, entries, at } = traced(`
      gate 0, handler, 0x8E
      xor edx, edx
      mov eax, 1
      xor ecx, ecx
    faulting:
      div ecx
      hlt
    handler:
      hlt
    `);
    const div = at("faulting")!;
    expect(div).toMatchObject({ outcome: "faulted", length: 2, bytes: Uint8Array.from([0xf7, 0xf1]) });
    const next = entries[entries.indexOf(div) + 1];
    expect(next).toEqual({
      kind: "exception", count: div.count, cs: 0x08, eip: m.sym("faulting"), vector: 0, errorCode: -1, address: 0,
      source: "exception", delivered: true,
    });
    expect(at("handler")).toMatchObject({ count: div.count, outcome: "retired" });
  });

  it("record an instruction an instruction breakpoint stops before its first fetch as faulted, with no bytes", () => {
    const { m, entries, at } = traced(`
      gate 1, handler, 0x8E
      mov eax, ADDR(target)
      mov dr0, eax
      mov eax, 1               ; L0, an instruction breakpoint of one byte
      mov dr7, eax
    target:
      nop
    handler:
      hlt
    `);
    const target = at("target")!;
    expect(target).toMatchObject({ outcome: "faulted", length: 0, bytes: new Uint8Array() });
    expect(entries[entries.indexOf(target) + 1]).toMatchObject({ kind: "exception", vector: 1, eip: m.sym("target") });
  });

  it("record an instruction that stops for an I/O exit, then again when it completes", () => {
    const { m, entries } = traced(`
      mov al, 0x42
    io:
      out 0x80, al
      hlt
    `);
    const io = entries.filter((e) => e.eip === m.sym("io"));
    expect(io).toEqual([
      expect.objectContaining({ kind: "instruction", count: 1, outcome: "stopped", length: 2, bytes: Uint8Array.from([0xe6, 0x80]) }),
      { kind: "exit", count: 1, cs: 0x08, eip: m.sym("io"), reason: L.EXIT_IO, port: 0x80, size: 1, input: false, data: 0x42 },
      expect.objectContaining({ kind: "instruction", count: 1, outcome: "retired", length: 2 }),
    ]);
  });
});

describe("event entries", () => {
  it("record an exception with its error code, and a #PF with its linear address", () => {
    const { m, entries, lost } = traced(`
      gate 13, gp, 0x8E
      gate 14, pf, 0x8E
      mov ax, 0x43
    bad:
      mov ds, ax               ; #GP(0x40): no descriptor at index 8
    gp:
      add esp, 4
      ; paging with an empty directory but for the code's 4 MiB
      mov edi, 0x20000
      mov ecx, 1024
      xor eax, eax
      rep stosd
      mov dword [0x20000], 0x83
      mov eax, cr4
      or eax, 0x10
      mov cr4, eax
      mov eax, 0x20000
      mov cr3, eax
      mov eax, cr0
      or eax, 0x80000000
      mov cr0, eax
    unmapped:
      mov eax, [0x800004]
    pf:
      hlt
    `, { trace: { capacity: 4096 } });
    expect(lost).toBe(0);
    const exceptions = entries.filter((e) => e.kind === "exception");
    expect(exceptions).toEqual([
      expect.objectContaining({ vector: 13, errorCode: 0x40, eip: m.sym("bad"), address: 0, delivered: true }),
      expect.objectContaining({ vector: 14, errorCode: 0, eip: m.sym("unmapped"), address: 0x800004, delivered: true }),
    ]);
  });

  it("record INT n after the instruction that raised it, returning past it", () => {
    const { m, entries, at } = traced(`
      gate 0x30, handler, 0x8E
    soft:
      int 0x30
    after:
      hlt
    handler:
      iretd
    `);
    const int = at("soft")!;
    expect(entries[entries.indexOf(int) + 1]).toEqual({
      kind: "exception", count: int.count, cs: 0x08, eip: m.sym("after"), vector: 0x30, errorCode: -1, address: 0,
      source: "software-interrupt", delivered: true,
    });
  });

  it("record INT n with its own count when only events are traced and it ends a run of cached instructions", () => {
    const { m, entries } = traced(`
      gate 0x30, handler, 0x8E  ; 4 instructions
      mov eax, 1
      add eax, 2
      inc eax
    soft:
      int 0x30                  ; the 8th: 7 retired before it
    after:
      hlt
    handler:
      iretd
    `, { trace: { capacity: 32, instructions: false } });
    expect(entries[0]).toEqual({
      kind: "exception", count: 7, cs: 0x08, eip: m.sym("after"), vector: 0x30, errorCode: -1, address: 0,
      source: "software-interrupt", delivered: true,
    });
  });

  it("record an external interrupt where it is taken, between two instructions", () => {
    const { m, entries, at } = traced(`
      gate 0x20, handler, 0x8E
      sti
      nop                      ; the STI shadow: the interrupt waits for this one
    taken:
      hlt
    handler:
      hlt
    `, { setup: (machine) => machine.cpu.setIntr(true, 0x20) });
    const handler = at("handler")!;
    const interrupt = entries[entries.indexOf(handler) - 1];
    expect(interrupt).toEqual({ kind: "interrupt", count: handler.count, cs: 0x08, eip: m.sym("taken"), vector: 0x20, delivered: true });
    expect(entries.filter((e) => e.eip === m.sym("taken") && e.kind === "instruction")).toEqual([]);
  });

  it("record a delivery that faults, then the double fault it becomes", () => {
    const { entries } = traced(`
      gate 8, df, 0x8E         ; gate 13 stays empty: delivering #GP raises #GP again
    bad:
      mov ax, 0x43
      mov ds, ax
    df:
      hlt
    `);
    expect(entries.filter((e) => e.kind === "exception").map((e) => [e.kind === "exception" && e.vector, e.kind === "exception" && e.delivered]))
      .toEqual([[13, false], [8, true]]);
  });

  it("record an exception that exits to the host as an exit, not a delivery", () => {
    const { entries } = traced(`
      ud2
    `, { exceptionExits: 1 << 6 });
    expect(entries.map((e) => e.kind)).toEqual(["instruction", "exit"]);
    expect(entries[1]).toMatchObject({ reason: L.EXIT_EXCEPTION, vector: 6, errorCode: -1 });
  });
});

describe("the ring", () => {
  it("keeps the newest entries when it wraps, and says how many were lost", () => {
    const m = new Machine(`
      mov ecx, 100
    again:
      loop again
      hlt
    `, { setup: (machine) => machine.cpu.enableTrace({ capacity: 16, events: false }) });
    m.run();
    const { entries, lost } = m.cpu.readTrace();
    expect(lost).toBe(102 - 16);
    expect(entries.map((e) => e.count)).toEqual(Array.from({ length: 16 }, (_, i) => 102 - 16 + i));
    expect(m.cpu.readTrace()).toEqual({ entries: [], lost: 0 });
  });

  it("records nothing when the trace is off, and nothing more once it is turned off", () => {
    const source = `
      mov ecx, 10
    again:
      loop again
      hlt
    `;
    const off = new Machine(source);
    off.run();
    expect(off.cpu.traceWritten()).toBe(0);
    expect(off.cpu.readTrace()).toEqual({ entries: [], lost: 0 });

    const m = new Machine(source, { setup: (machine) => machine.cpu.enableTrace({ capacity: 64 }) });
    m.run(5);
    expect(m.cpu.readTrace().entries).toHaveLength(5);
    m.cpu.disableTrace();
    m.run();
    expect(m.cpu.readTrace()).toEqual({ entries: [], lost: 0 });
  });

  it("records events alone when asked, and refuses a ring that is no power of two or larger than the one made", () => {
    const { entries } = traced(`
      nop
      hlt
    `, { trace: { capacity: 32, instructions: false } });
    expect(entries.map((e: TraceEntry) => e.kind)).toEqual(["hlt"]);
    const m = new Machine("hlt");
    expect(() => m.cpu.enableTrace({ capacity: 100 })).toThrow(/power of two/);
    m.cpu.enableTrace({ capacity: 64 });
    m.cpu.enableTrace({ capacity: 32 });
    expect(() => m.cpu.enableTrace({ capacity: 128 })).toThrow(/allocated once/);
  });
});
