// test/support/snippet.ts — a machine for instruction tests: assemble a snippet, run it to `hlt`.
//
// The snippet is NASM-syntax source assembled by tools/asm at `org` and
// copied into RAM. Two environments:
//
// - "flat32" (the default): 32-bit protected mode at CPL 0, paging off, as a
//   loader leaves it, with a GDT the snippet may use (FLAT_GDT below: flat
//   ring-0 and ring-3 code and data, a 32-bit TSS with an all-zero I/O
//   bitmap, 16-bit code and data, spare slots from 0x40), TR loaded, an
//   empty IDT of 256 entries at IDT (the `gate` macro fills one), ESP =
//   STACK_TOP.
// - "real": real-address mode as after reset but with CS = DS = ES = SS = 0,
//   IP = org and SP = 0x7000; the IVT at 0 is all zeros.
//
// The prelude defines the selectors and addresses as constants (CODE0,
// DATA0, CODE3, DATA3, TSS_SEL, CODE16, DATA16, GDT, IDT, TSS, STACK_TOP,
// RING0_STACK) and two macros, `gate` and `descriptor`, so a test reads like
// a small kernel. Port I/O exits are answered here: inputs from `inputs`
// (default all ones), outputs recorded in `outputs`. The run ends at HLT, a
// shutdown, an exception exit (bits set in `exceptionExits`) or when the
// budget is spent.

import { readFileSync } from "node:fs";
import { assemble } from "../../tools/asm/index.js";
import { CS, Cpu, DS, ES, FS, GS, SS, TR } from "../../hypervisor/platform/cpu.js";
import * as L from "../../core/layout.js";

const wasm = readFileSync("build/core.wasm");

export const GDT = 0x1000;
export const TSS = 0x2000;
export const IDT = 0x4800;
export const STACK_TOP = 0x80000;
/** ESP0 in the default TSS: the ring-0 stack for interrupts from ring 3. */
export const RING0_STACK = 0x70000;
/** The default TSS's limit: 104 bytes of TSS, an I/O bitmap for all 65536 ports, and its terminating byte. */
export const TSS_LIMIT = 0x68 + 0x2000;

function tssDescriptor(base: number, limit: number): bigint {
  const lo = ((base & 0xffff) << 16) | (limit & 0xffff);
  const hi = (base & 0xff000000) | (limit & 0xf0000) | (0x89 << 8) | ((base >>> 16) & 0xff);
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** GDT entries: null, code0, data0, code3, data3, TSS, code16, data16; 0x40 on are free. */
const FLAT_GDT: bigint[] = [
  0n,
  0x00cf9a000000ffffn, // 0x08 ring-0 code, 32-bit, flat
  0x00cf92000000ffffn, // 0x10 ring-0 data, flat
  0x00cffa000000ffffn, // 0x18 ring-3 code, 32-bit, flat
  0x00cff2000000ffffn, // 0x20 ring-3 data, flat
  tssDescriptor(TSS, TSS_LIMIT), // 0x28 32-bit TSS
  0x00009a000000ffffn, // 0x30 ring-0 code, 16-bit, 64 KiB
  0x000092000000ffffn, // 0x38 ring-0 data, 16-bit, 64 KiB
];

const prelude = (org: number): string => `
LOAD_ADDR equ ${org}
CODE0     equ 0x08
DATA0     equ 0x10
CODE3     equ 0x1b
DATA3     equ 0x23
TSS_SEL   equ 0x28
CODE16    equ 0x30
DATA16    equ 0x38
GDT       equ ${GDT}
TSS       equ ${TSS}
IDT       equ ${IDT}
STACK_TOP equ ${STACK_TOP}
RING0_STACK equ ${RING0_STACK}
; A label is not a plain number to NASM (it may not be masked or shifted);
; ((label) - $$ + LOAD_ADDR) is.
%define ADDR(x) ((x) - $$ + LOAD_ADDR)
; gate VECTOR, HANDLER, ATTR: an IDT entry with selector CODE0 (ATTR 0x8E
; interrupt gate, 0x8F trap gate, 0xEE/0xEF the same with DPL 3).
%macro gate 3
    mov word [IDT + (%1) * 8], ADDR(%2) & 0xffff
    mov word [IDT + (%1) * 8 + 2], CODE0
    mov word [IDT + (%1) * 8 + 4], (%3) << 8
    mov word [IDT + (%1) * 8 + 6], ADDR(%2) >> 16
%endmacro
; descriptor SELECTOR, BASE, LIMIT, ACCESS, FLAGS: writes the GDT entry of
; SELECTOR (ACCESS the access byte, FLAGS the G/D/L/AVL nibble).
%macro descriptor 5
    mov word [GDT + ((%1) & ~7)], (%3) & 0xffff
    mov word [GDT + ((%1) & ~7) + 2], (%2) & 0xffff
    mov byte [GDT + ((%1) & ~7) + 4], ((%2) >> 16) & 0xff
    mov byte [GDT + ((%1) & ~7) + 5], (%4)
    mov byte [GDT + ((%1) & ~7) + 6], (((%3) >> 16) & 0x0f) | ((%5) << 4)
    mov byte [GDT + ((%1) & ~7) + 7], ((%2) >> 24) & 0xff
%endmacro
`;

export interface RunOptions {
  /** Where the snippet is assembled and loaded (default 0x10000). */
  org?: number;
  mode?: "flat32" | "real";
  /** RAM in bytes (default 4 MiB). */
  ram?: number;
  /** Instructions before giving up (default 1,000,000). */
  budget?: number;
  /** Exceptions that exit to the test instead of going through the IDT. */
  exceptionExits?: number;
  /** Port inputs: a value per port, or a function. */
  inputs?: Record<number, number> | ((port: number, size: number) => number);
  /** Changes to the machine before it runs. */
  setup?: (m: Machine) => void;
}

export interface Output {
  port: number;
  size: number;
  value: number;
}

export type FlagName = "CF" | "PF" | "AF" | "ZF" | "SF" | "TF" | "IF" | "DF" | "OF" | "NT" | "RF" | "VM" | "AC";
const FLAG_BITS: Record<FlagName, number> = {
  CF: 0, PF: 2, AF: 4, ZF: 6, SF: 7, TF: 8, IF: 9, DF: 10, OF: 11, NT: 14, RF: 16, VM: 17, AC: 18,
};

export class Machine {
  readonly cpu: Cpu;
  readonly symbols: Map<string, number>;
  readonly outputs: Output[] = [];
  /** The reason the last run stopped (core/layout.ts EXIT_*). */
  exit = -1;
  private readonly options: RunOptions;

  constructor(source: string, options: RunOptions = {}) {
    this.options = options;
    const org = options.org ?? 0x10000;
    const bits = options.mode === "real" ? 16 : 32;
    const result = assemble(`bits ${bits}\norg ${org}\n${prelude(org)}\n${source}`, { file: "snippet.asm" });
    if (!result.ok) throw new Error(result.diagnostics.map((d) => `${d.line}: ${d.message}`).join("\n"));
    this.symbols = result.symbols;
    this.cpu = Cpu.create(wasm, options.ram ?? 4 << 20);
    const cpu = this.cpu;
    if (options.mode === "real") {
      cpu.reset();
      const zero = { selector: 0, base: 0, limit: 0xffff, attr: 0x93 };
      for (const sreg of [ES, SS, DS, FS, GS]) cpu.setSegment(sreg, zero);
      cpu.setSegment(CS, { selector: 0, base: 0, limit: 0xffff, attr: 0x9b });
      cpu.eip = org;
      cpu.esp = 0x7000;
      cpu.setTable(true, 0, 0x3ff);
    } else {
      const gdt = new Uint8Array(0x100);
      const view = new DataView(gdt.buffer);
      FLAT_GDT.forEach((d, i) => view.setBigUint64(i * 8, d, true));
      gdt[0x28 + 5] = 0x8b; // the TSS descriptor as LTR leaves it: busy
      cpu.write(GDT, gdt);
      const tss = new Uint8Array(TSS_LIMIT + 1);
      const tv = new DataView(tss.buffer);
      tv.setUint32(4, RING0_STACK, true); // ESP0
      tv.setUint32(8, 0x10, true); // SS0
      tv.setUint16(102, 0x68, true); // I/O map base
      tss[TSS_LIMIT] = 0xff;
      cpu.write(TSS, tss);
      cpu.enterProtectedMode({
        eip: org, eax: 0, ebx: 0, esp: STACK_TOP, eflags: 2, cr0: 0x11,
        gdtr: { base: GDT, limit: 0xff },
        code: { selector: 0x08, base: 0, limit: 0xffffffff, attr: 0xc09b },
        data: { selector: 0x10, base: 0, limit: 0xffffffff, attr: 0xc093 },
      });
      cpu.setSegment(TR, { selector: 0x28, base: TSS, limit: TSS_LIMIT, attr: 0x8b });
      cpu.setTable(true, IDT, 0x7ff);
    }
    cpu.write(org, result.bytes);
    cpu.exceptionExitBitmap = options.exceptionExits ?? 0;
    options.setup?.(this);
  }

  /** Runs until HLT, a shutdown, an exception exit or the budget; returns the exit reason. */
  run(budget = this.options.budget ?? 1_000_000): number {
    let left = budget;
    for (;;) {
      const reason = this.cpu.run(left);
      left = this.cpu.word(L.RUN_BUDGET);
      if (reason === L.EXIT_IO) {
        const port = this.cpu.exitPort();
        const size = this.cpu.exitSize();
        if (this.cpu.exitIsInput()) this.cpu.setExitData(this.input(port, size));
        else this.outputs.push({ port, size, value: this.cpu.exitData() });
        continue;
      }
      if (reason === L.EXIT_MMIO) {
        const address = this.cpu.exitAddress();
        if (this.cpu.exitIsInput()) this.cpu.setExitData(this.input(address, this.cpu.exitSize()));
        else this.outputs.push({ port: address, size: this.cpu.exitSize(), value: this.cpu.exitData() });
        continue;
      }
      this.exit = reason;
      return reason;
    }
  }

  private input(port: number, size: number): number {
    const inputs = this.options.inputs;
    if (typeof inputs === "function") return inputs(port, size);
    return inputs?.[port] ?? 0xffffffff;
  }

  /** A label's address. */
  sym(name: string): number {
    const v = this.symbols.get(name);
    if (v === undefined) throw new Error(`no symbol ${name}`);
    return v;
  }

  get eax(): number { return this.cpu.eax; }
  get ecx(): number { return this.cpu.ecx; }
  get edx(): number { return this.cpu.edx; }
  get ebx(): number { return this.cpu.ebx; }
  get esp(): number { return this.cpu.esp; }
  get ebp(): number { return this.cpu.ebp; }
  get esi(): number { return this.cpu.esi; }
  get edi(): number { return this.cpu.edi; }
  get eip(): number { return this.cpu.eip; }
  get eflags(): number { return this.cpu.eflags; }
  get cpl(): number { return this.cpu.cpl; }

  /** The flags as 0/1 by name. */
  get flags(): Record<FlagName, number> {
    const f = this.cpu.eflags;
    const out = {} as Record<FlagName, number>;
    for (const [name, bit] of Object.entries(FLAG_BITS)) out[name as FlagName] = (f >>> bit) & 1;
    return out;
  }

  u8(pa: number): number { return this.cpu.ram[pa]; }
  u16(pa: number): number { return this.cpu.ram[pa] | (this.cpu.ram[pa + 1] << 8); }
  u32(pa: number): number { return (this.u16(pa) | (this.u16(pa + 2) << 16)) >>> 0; }
}

/** Assembles `source`, runs it to `hlt` (or another stop) and returns the machine. */
export function runSnippet(source: string, options: RunOptions = {}): Machine {
  const m = new Machine(source, options);
  m.run();
  return m;
}
