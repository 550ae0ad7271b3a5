// test/tools/run-trace.test.ts — `xenoscope run --trace FILE --trace-insns`: every
// instruction disassembled, the CPU's events in instruction order, and the
// same trace, line for line, from two deterministic runs with the same input.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { assemble } from "../../tools/asm/index.js";
import { CoreTraceLines, parseRunArgs } from "../../tools/run.js";

const CLI = "build/js/tools/cli.js";
const dir = mkdtempSync(join(tmpdir(), "xenoscope-trace-"));

function xenoscope(args: string[], input = "") {
  const r = spawnSync(process.execPath, [CLI, "run", ...args], { encoding: "latin1", input, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A multiboot kernel (a.out kludge at 1 MiB) whose entry runs `body`: its path and its labels. */
function kernel(name: string, body: string): { path: string; sym: (label: string) => number } {
  const r = assemble(`
    bits 32
    org 0x100000
    start:  jmp entry
            align 4
    mb:     dd 0x1BADB002, 0x10000, -(0x1BADB002 + 0x10000), mb, start, end, end, entry
    entry:
    ${body}
    end:
  `, { file: `${name}.asm` });
  expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  const path = join(dir, `${name}.bin`);
  writeFileSync(path, r.bytes);
  return { path, sym: (label) => r.symbols.get(label)! };
}

/** Runs with --trace-insns in deterministic mode and returns the trace file's lines. */
function traceOf(image: string, input = ""): { status: number | null; lines: string[] } {
  const trace = join(dir, "trace.log");
  const r = xenoscope(["--clock", "deterministic", "--trace", trace, "--trace-insns", image], input);
  return { status: r.status, lines: readFileSync(trace, "utf8").trimEnd().split("\n") };
}

const INSTRUCTION_LINE = /^\d+ [0-9a-f]{4}:[0-9a-f]{4,8} [0-9a-f?]+ +\S/;

describe("xenoscope run --trace-insns", () => {
  it("is in --help, and needs --trace", () => {
    expect(xenoscope(["--help"]).stdout).toContain("--trace-insns");
    expect(parseRunArgs(["--trace-insns", "k.bin"])).toEqual({ error: expect.stringMatching(/--trace-insns needs --trace FILE/) });
    expect(parseRunArgs(["--trace", "t.log", "--trace-insns", "k.bin"])).toMatchObject({ trace: "t.log", traceInsns: true });
  });

  it("writes each instruction with its count, CS:EIP, bytes and disassembly, and the CPU's exits among them", () => {
    const k = kernel("known", `
    a:  mov eax, 0x12345678
    b:  add eax, ebx
    c:  push 0x10
    d:  pop ecx
    e:  jmp short f
    f:  lock inc dword [0x3000]
    g:  mov al, 0
    h:  out 0xf4, al
    `);
    const { status, lines } = traceOf(k.path);
    expect(status).toBe(1);
    const at = (label: string) => `0008:${k.sym(label).toString(16).padStart(8, "0")}`;
    const row = (count: number, label: string, bytes: string, text: string) => `${count} ${at(label)} ${bytes.padEnd(30)} ${text}`;
    expect(lines).toEqual([
      expect.stringMatching(/^0 boot multiboot/),
      row(0, "a", "b878563412", "mov eax, 0x12345678"),
      row(1, "b", "01d8", "add eax, ebx"),
      row(2, "c", "6a10", "push 0x10"),
      row(3, "d", "59", "pop ecx"),
      row(4, "e", "eb00", `jmp short 0x${k.sym("f").toString(16)}`),
      row(5, "f", "f0ff0500300000", "lock inc dword [0x3000]"),
      row(6, "g", "b000", "mov al, 0"),
      `${row(7, "h", "e6f4", "out 0xf4, al")} ; stopped for an exit`,
      `7 cpu exit io out 0xf4/1 at ${at("h")}`,
      "7 out 0xf4/1 = 0x0",
      "7 end debug-exit status 1",
    ]);
  });

  it("names exceptions and the instruction that raised them, in 16-bit code too", () => {
    const k = kernel("fault", `
            lgdt    [gdtr]
            lidt    [idtr]
            jmp     0x18:code16 - 0x100000
            bits 16
    code16:
    ud:     ud2
            bits 32
            align 8
    gdt:    dq      0, 0x00CF9A000000FFFF, 0x00CF92000000FFFF, 0x00009A100000FFFF
    gdtr:   dw      31
            dd      gdt
    idtr:   dw      0
            dd      0
    `);
    const { status, lines } = traceOf(k.path);
    expect(status).toBe(2); // #UD, then #GP and #DF through an empty IDT: a triple fault
    const ud = (k.sym("ud") - 0x100000).toString(16).padStart(4, "0");
    expect(lines).toContain(`3 0018:${ud} 0f0b                           ud2 ; faulted`);
    expect(lines.filter((l) => / cpu /.test(l))).toEqual([
      `3 cpu exception #UD at 0018:0000${ud} (delivery faulted)`,
      `3 cpu exception #GP(0x33) at 0018:0000${ud} (delivery faulted)`, // IDT entry 6, EXT: 6 * 8 + 2 + 1
      `3 cpu exception #DF(0x0) at 0018:0000${ud} (delivery faulted)`,
      `3 cpu exit shutdown at 0018:0000${ud}`,
    ]);
  });

  it("says where entries were lost, and marks bytes the core could not capture", () => {
    const lines: string[] = [];
    new CoreTraceLines((line) => lines.push(line)).take({
      lost: 3,
      entries: [
        { kind: "instruction", count: 40, cs: 8, eip: 0x1ffe, outcome: "retired", code32: true, length: 5, bytes: Uint8Array.from([0xb8, 0x01]) },
        { kind: "hlt", count: 41, cs: 8, eip: 0x2003 },
      ],
    });
    expect(lines).toEqual([
      "40 cpu trace lost 3 entries here",
      `40 0008:00001ffe ${"b801??????".padEnd(30)} (bytes not captured)`,
      "41 cpu hlt at 0008:00002003",
    ]);
  });

  it("gives the same trace, line for line, for two deterministic runs of the demo with the same input", () => {
    const a = traceOf("build/guests/demo.bin", "same\nexit\n");
    const b = traceOf("build/guests/demo.bin", "same\nexit\n");
    expect(a.status).toBe(1);
    expect(a.lines.filter((l) => INSTRUCTION_LINE.test(l)).length).toBeGreaterThan(5000);
    expect(a.lines.some((l) => / cpu interrupt 0x24 at /.test(l))).toBe(true);
    expect(a.lines.some((l) => / lost /.test(l))).toBe(false);
    expect(b.lines.join("\n")).toBe(a.lines.join("\n"));
  });

  it("keeps lines in instruction-count order and loses nothing over a long run", () => {
    const { status, lines } = traceOf("build/guests/tests/pf-codes.bin");
    expect(status).toBe(1);
    expect(lines.length).toBeGreaterThan(50_000);
    const counts = lines.map((l) => Number(l.split(" ")[0]));
    expect(counts.every((c, i) => i === 0 || c >= counts[i - 1]!)).toBe(true);
    expect(lines.some((l) => / lost /.test(l))).toBe(false);
  });
});
