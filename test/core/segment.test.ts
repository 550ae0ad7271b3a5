// test/core/segment.test.ts — segment register loads, their faults and error
// codes, limits and types on every access, and the selector-probing
// instructions (SDM Vol. 3A chapter 5, Vol. 2A "MOV", "LAR", "LSL", "VERR").

import { describe, expect, it } from "vitest";
import { runSnippet } from "../support/snippet.js";
import * as L from "../../core/layout.js";
import { DS } from "../../hypervisor/platform/cpu.js";

/** A #GP (13), #NP (11) or #SS (12) handler that leaves the error code in EBX and the faulting EIP in ECX. */
const RECORD_FAULT = `
record_fault:
    pop ebx
    pop ecx
    hlt
`;

function faultHandlers(): string {
  return `
    gate 10, record_fault, 0x8E
    gate 11, record_fault, 0x8E
    gate 12, record_fault, 0x8E
    gate 13, record_fault, 0x8E
`;
}

/** Drops to ring 3 at label \`user\` with flat ring-3 segments and a ring-3 stack. */
const TO_RING3 = `
    push dword DATA3
    push dword STACK_TOP - 0x1000
    push dword 0x202
    push dword CODE3
    push dword user
    iretd
`;

describe("segment loads", () => {
  it("a selector beyond the GDT limit raises #GP with the selector as error code", () => {
    const m = runSnippet(`
      ${faultHandlers()}
      mov ax, 0x100b
      fault: mov ds, ax
      hlt
      ${RECORD_FAULT}`);
    expect(m.ebx).toBe(0x1008);
    expect(m.ecx).toBe(m.sym("fault"));
  });

  it("a null selector in SS raises #GP(0)", () => {
    const m = runSnippet(`
      ${faultHandlers()}
      xor eax, eax
      mov ebx, 0xdead
      mov ss, ax
      hlt
      ${RECORD_FAULT}`);
    expect(m.ebx).toBe(0);
  });

  it("a not-present data segment raises #NP(selector); a not-present stack segment #SS(selector)", () => {
    const np = runSnippet(`
      ${faultHandlers()}
      descriptor 0x40, 0, 0xfffff, 0x12, 0xc   ; read/write data, P = 0
      mov ax, 0x40
      mov es, ax
      hlt
      ${RECORD_FAULT}`);
    expect(np.ebx).toBe(0x40);
    const ss = runSnippet(`
      descriptor 0x40, 0, 0xfffff, 0x12, 0xc
      mov ax, 0x40
      mov ss, ax
      hlt`, { exceptionExits: 1 << 12 });
    expect(ss.exit).toBe(L.EXIT_EXCEPTION);
    expect(ss.cpu.exitVector()).toBe(12);
    expect(ss.cpu.exitErrorCode()).toBe(0x40);
  });

  it("DS may not hold an execute-only code segment, or a ring-0 data segment at CPL 3", () => {
    const exec = runSnippet(`
      ${faultHandlers()}
      descriptor 0x40, 0, 0xfffff, 0x98, 0xc   ; execute-only code
      mov ax, 0x40
      mov ds, ax
      hlt
      ${RECORD_FAULT}`);
    expect(exec.ebx).toBe(0x40);
    const ring = runSnippet(`
      ${TO_RING3}
    user:
      mov ax, DATA0
      mov ds, ax
      hlt`, { exceptionExits: 1 << 13 });
    expect(ring.cpu.exitVector()).toBe(13);
    expect(ring.cpu.exitErrorCode()).toBe(0x10);
  });

  it("a null selector loads into DS, and the first access through it raises #GP(0)", () => {
    const m = runSnippet(`
      ${faultHandlers()}
      xor eax, eax
      mov ds, ax
      mov esi, 1
      fault: mov eax, [0x100]
      hlt
      ${RECORD_FAULT}`);
    expect(m.ebx).toBe(0);
    expect(m.esi).toBe(1);
    expect(m.ecx).toBe(m.sym("fault"));
  });

  it("loading a segment sets the accessed bit of its descriptor", () => {
    const m = runSnippet(`
      descriptor 0x40, 0, 0xfffff, 0x92, 0xc   ; read/write data, not yet accessed
      mov al, [GDT + 0x45]
      mov bx, 0x40
      mov fs, bx
      mov bl, [GDT + 0x45]
      hlt`);
    expect(m.eax & 0xff).toBe(0x92);
    expect(m.ebx & 0xff).toBe(0x93);
  });

  it("the hidden cache keeps the descriptor after the GDT entry changes", () => {
    const m = runSnippet(`
      descriptor 0x40, 0x20000, 0xfffff, 0x92, 0xc   ; base 0x20000
      mov ax, 0x40
      mov ds, ax
      mov dword [GDT + 0x40], 0
      mov dword [GDT + 0x44], 0
      mov dword [0x100], 0x1234
      hlt`);
    expect(m.u32(0x20100)).toBe(0x1234);
    expect(m.cpu.segment(DS).base).toBe(0x20000);
  });
});

describe("segment limits and types", () => {
  it("an expand-down segment faults at or below its limit and allows above it", () => {
    const m = runSnippet(`
      ${faultHandlers()}
      descriptor 0x40, 0, 0x0fff, 0x96, 0x4    ; read/write expand-down, B = 1, limit 0xFFF
      mov ax, 0x40
      mov es, ax
      mov dword [es:0x1000], 7                ; allowed: above the limit
      mov edx, [es:0x1000]
      fault: mov dword [es:0xffe], 7          ; reaches 0xFFE-0x1001: faults
      hlt
      ${RECORD_FAULT}`);
    expect(m.edx).toBe(7);
    expect(m.ebx).toBe(0);
    expect(m.ecx).toBe(m.sym("fault"));
  });

  it("a push beyond the SS limit raises #SS(0)", () => {
    const m = runSnippet(`
      descriptor 0x40, 0, 0x0fff, 0x92, 0x4    ; byte-granular, limit 0xFFF, B = 1
      mov ax, 0x40
      mov ss, ax
      mov esp, 0x1002
      push eax
      hlt`, { exceptionExits: 1 << 12 });
    expect(m.exit).toBe(L.EXIT_EXCEPTION);
    expect(m.cpu.exitVector()).toBe(12);
    expect(m.cpu.exitErrorCode()).toBe(0);
    expect(m.esp).toBe(0x1002);
  });

  it("a word at the last byte of a 64 KiB segment is out of bounds", () => {
    const m = runSnippet(`
      mov ax, DATA16
      mov es, ax
      mov byte [es:0xffff], 1
      mov word [es:0xffff], 1
      hlt`, { exceptionExits: 1 << 13 });
    expect(m.cpu.exitVector()).toBe(13);
    expect(m.u8(0xffff)).toBe(1);
  });

  it("a write through a read-only data segment raises #GP(0)", () => {
    const m = runSnippet(`
      descriptor 0x40, 0, 0xfffff, 0x90, 0xc   ; read-only data
      mov ax, 0x40
      mov ds, ax
      mov eax, [0x100]
      mov [0x100], eax
      hlt`, { exceptionExits: 1 << 13 });
    expect(m.cpu.exitVector()).toBe(13);
    expect(m.cpu.exitErrorCode()).toBe(0);
  });

  it("reads through CS need a readable code segment; writes through CS always fault", () => {
    const m = runSnippet(`
      mov eax, [cs:0x100]                     ; CODE0 is execute/read
      mov [cs:0x100], eax
      hlt`, { exceptionExits: 1 << 13 });
    expect(m.cpu.exitVector()).toBe(13);
  });

  it("with CR0.AM and EFLAGS.AC, a misaligned access at CPL 3 raises #AC(0); at CPL 0 it does not", () => {
    const m = runSnippet(`
      mov eax, cr0
      or eax, 1 << 18           ; AM
      mov cr0, eax
      mov eax, [0x501]          ; CPL 0: no check
      push dword DATA3
      push dword STACK_TOP - 0x1000
      push dword 0x40002        ; AC
      push dword CODE3
      push dword user
      iretd
    user:
      mov ax, DATA3
      mov ds, ax
      mov eax, [0x504]          ; aligned
      fault: mov eax, [0x502]
      hlt
    `, { exceptionExits: 1 << 17 });
    expect(m.cpu.exitVector()).toBe(17);
    expect(m.cpu.exitErrorCode()).toBe(0);
    expect(m.eip).toBe(m.sym("fault"));
  });

  it("MOV to CS is #UD", () => {
    const m = runSnippet(`
      mov ax, CODE0
      db 0x8e, 0xc8                           ; mov cs, ax
      hlt`, { exceptionExits: 1 << 6 });
    expect(m.cpu.exitVector()).toBe(6);
  });

  it("PUSH CS and MOV from CS show the RPL the CPU forced to CPL", () => {
    const m = runSnippet(`
      ${TO_RING3}
    user:
      push cs
      pop ebx
      mov cx, cs
      hlt`, { exceptionExits: 1 << 13 });
    // HLT at ring 3 is #GP(0): the registers are already set.
    expect(m.ebx).toBe(0x1b);
    expect(m.ecx & 0xffff).toBe(0x1b);
    expect(m.cpl).toBe(3);
  });
});

describe("LAR, LSL, VERR, VERW", () => {
  it("LAR reads the access rights of a code segment, LSL the scaled limit of a data segment", () => {
    const m = runSnippet(`
      mov ecx, CODE0
      lar eax, ecx
      setz dl
      mov ecx, DATA0
      lsl ebx, ecx
      setz dh
      hlt`);
    expect(m.eax).toBe(0x00cf9a00);
    expect(m.ebx).toBe(0xffffffff);
    expect(m.edx & 0xffff).toBe(0x0101);
  });

  it("LAR and LSL clear ZF for a null selector or one past the table, and leave the destination", () => {
    const m = runSnippet(`
      mov eax, 0x55
      mov ebx, 0x66
      xor ecx, ecx
      lar eax, ecx
      setz dl
      mov ecx, 0x1000
      lsl ebx, ecx
      setz dh
      hlt`);
    expect(m.eax).toBe(0x55);
    expect(m.ebx).toBe(0x66);
    expect(m.edx & 0xffff).toBe(0);
  });

  it("LSL does not accept gates; LAR does", () => {
    const m = runSnippet(`
      descriptor 0x40, 0, 0, 0xec, 0          ; a call gate, DPL 3
      mov ecx, 0x40
      lar eax, ecx
      setz dl
      lsl ebx, ecx
      setz dh
      hlt`);
    expect(m.edx & 0xffff).toBe(0x0001);
    expect(m.eax).toBe(0x0000ec00);
  });

  it("VERR accepts readable code, VERW only writable data; both see privilege", () => {
    const m = runSnippet(`
      mov cx, CODE0
      verr cx
      setz al
      verw cx
      setz ah
      mov cx, DATA0
      verw cx
      setz bl
      ${TO_RING3}
    user:
      mov cx, DATA0
      verr cx
      setz bh
      mov cx, DATA3
      verw cx
      setz dl
      hlt`, { exceptionExits: 1 << 13 });
    expect(m.eax & 0xffff).toBe(0x0001);
    expect(m.ebx & 0xffff).toBe(0x0001);
    expect(m.edx & 0xff).toBe(1);
  });

  it("LAR is #UD in real mode", () => {
    const m = runSnippet(`
      lar ax, cx
      hlt`, { mode: "real", exceptionExits: 1 << 6 });
    expect(m.cpu.exitVector()).toBe(6);
  });
});
