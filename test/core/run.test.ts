// test/core/run.test.ts — the run loop: the budget and the counters, HLT and
// the INTR line with the STI and MOV SS shadows, REP iterations as
// instructions, single-step traps, and code that writes its own bytes.

import { describe, expect, it } from "vitest";
import { Machine, runSnippet } from "../support/snippet.js";
import * as L from "../../core/layout.js";

describe("budget, INSN_COUNT and the TSC", () => {
  it("run(n) retires n instructions and advances INSN_COUNT and the TSC by n", () => {
    const m = new Machine(`
    spin:
      inc eax
      jmp spin
    `);
    expect(m.cpu.run(1001)).toBe(L.EXIT_BUDGET);
    expect(m.cpu.instructions()).toBe(1001);
    expect(m.cpu.tsc()).toBe(1001n);
    expect(m.eax).toBe(501);
    expect(m.cpu.word(L.RUN_BUDGET)).toBe(0);
  });

  it("RDTSC reads the count of instructions retired before it", () => {
    const m = runSnippet(`
      nop
      nop
      rdtsc
      mov ebx, eax
      rdtsc
      hlt
    `);
    expect(m.ebx).toBe(2);
    expect(m.eax).toBe(4);
    expect(m.edx).toBe(0);
  });

  it("each REP iteration is one instruction, and the budget can end between iterations", () => {
    const m = new Machine(`
      mov ecx, 10
      mov edi, 0x30000
      mov eax, 0x01010101
      rep stosd
      hlt
    `);
    expect(m.cpu.run(3 + 4)).toBe(L.EXIT_BUDGET);
    expect(m.ecx).toBe(6);
    expect(m.edi).toBe(0x30000 + 16);
    expect(m.eip).toBe(m.sym("LOAD_ADDR") + 15); // still at the REP STOSD
    expect(m.cpu.run(100)).toBe(L.EXIT_HLT);
    expect(m.cpu.instructions()).toBe(3 + 10 + 1);
    expect(m.u32(0x30000 + 36)).toBe(0x01010101);
  });
});

describe("HLT and external interrupts", () => {
  it("HLT exits with HALTED set; an interrupt wakes the CPU and its handler returns after the HLT", () => {
    const m = new Machine(`
      gate 0x20, handler, 0x8E
      sti
      hlt
    after:
      mov ecx, 2
      hlt
    handler:
      mov ebx, [esp]
      iretd
    `);
    expect(m.run()).toBe(L.EXIT_HLT);
    expect(m.cpu.halted()).toBe(true);
    expect(m.cpu.run(10)).toBe(L.EXIT_HLT); // nothing pending: stays halted
    m.cpu.setIntr(true, 0x20);
    expect(m.run()).toBe(L.EXIT_HLT);
    expect(m.cpu.intrPending()).toBe(false);
    expect(m.ebx).toBe(m.sym("after"));
    expect(m.ecx).toBe(2);
  });

  it("an interrupt waits while IF is clear", () => {
    const m = new Machine(`
      gate 0x20, handler, 0x8E
      mov eax, 1
      mov eax, 2
      hlt
    handler:
      mov ebx, 0xbad
      hlt
    `, { setup: (mm) => mm.cpu.setIntr(true, 0x20) });
    m.run();
    expect(m.eax).toBe(2);
    expect(m.ebx).toBe(0);
    expect(m.cpu.intrPending()).toBe(true);
  });

  it("STI delays the interrupt by one instruction", () => {
    const m = runSnippet(`
      gate 0x20, handler, 0x8E
      sti
      mov eax, 1                ; runs before the interrupt
      mov eax, 2
      hlt
    handler:
      mov ebx, eax
      hlt
    `, { setup: (mm) => mm.cpu.setIntr(true, 0x20) });
    expect(m.ebx).toBe(1);
  });

  it("MOV SS delays the interrupt by one more instruction, even right after STI", () => {
    const m = runSnippet(`
      gate 0x20, handler, 0x8E
      mov dx, DATA0
      mov eax, 0
      sti
      mov ss, dx                ; in the STI shadow; makes its own shadow
      mov eax, 1                ; in the MOV SS shadow
      mov eax, 2
      hlt
    handler:
      mov ebx, eax
      hlt
    `, { setup: (mm) => mm.cpu.setIntr(true, 0x20) });
    expect(m.ebx).toBe(1);
  });

  it("a pending interrupt is taken between REP iterations and the REP resumes after IRET", () => {
    const m = new Machine(`
      gate 0x20, handler, 0x8E
      sti
      mov ecx, 8
      mov edi, 0x30000
      mov al, 0xaa
      rep stosb
      hlt
    handler:
      mov ebx, ecx
      iretd
    `);
    m.cpu.run(4 + 4 + 3); // the gate, STI and three MOVs, then three iterations
    m.cpu.setIntr(true, 0x20);
    m.run();
    expect(m.ebx).toBe(5);
    expect(m.ecx).toBe(0);
    expect(m.u8(0x30007)).toBe(0xaa);
  });
});

describe("traps", () => {
  it("TF raises #DB after each instruction, with the next EIP, until the handler's IRET", () => {
    const m = runSnippet(`
      gate 1, db_handler, 0x8E
      pushfd
      or dword [esp], 0x100
      popfd                     ; TF set: the trap comes after the next instruction
    first:
      mov eax, 1
    second:
      mov eax, 2
    third:
      pushfd
      and dword [esp], ~0x100
      popfd
      hlt
    db_handler:
      inc esi
      mov edi, [esp]
      cmp esi, 1
      jne .out
      mov ebx, edi
    .out:
      iretd
    `);
    expect(m.ebx).toBe(m.sym("second"));
    expect(m.esi).toBe(5); // after mov, mov, pushfd, and, popfd
    expect(m.cpu.word(L.REG_DR6) & 0x4000).toBe(0x4000);
  });

  it("INT1 (ICEBP) delivers #DB as a trap", () => {
    const m = runSnippet(`
      gate 1, handler, 0x8E
      int1
    after:
      hlt
    handler:
      mov ebx, [esp]
      iretd
    `);
    expect(m.ebx).toBe(m.sym("after"));
  });
});

describe("self-modifying code", () => {
  it("a store into the next instruction's immediate is seen when it executes", () => {
    const m = runSnippet(`
      mov dword [patch + 1], 0x12345678
    patch:
      mov eax, 0
      hlt
    `);
    expect(m.eax).toBe(0x12345678);
  });

  it("code copied over a loop body runs the new instructions", () => {
    const m = runSnippet(`
      mov ecx, 2
    again:
    body:
      inc ebx
      inc ebx
      dec ecx
      jz done
      mov byte [body], 0x40     ; inc ebx -> inc eax
      mov byte [body + 1], 0x40
      jmp again
    done:
      hlt
    `);
    expect(m.ebx).toBe(2);
    expect(m.eax).toBe(2);
  });
});
