// test/core/exec.test.ts — instruction forms the hardware vectors leave out
// (../shared/vectors/README.md, "What is not covered"): 16-bit addressing
// that touches memory, 67h string instructions, 66h branches, segment
// overrides on string sources, and the rarely emitted encodings.

import { describe, expect, it } from "vitest";
import { runSnippet } from "../support/snippet.js";

describe("16-bit addressing", () => {
  it("[bx+si+disp], [bp+di] (through SS) and a bare disp16 reach the right bytes", () => {
    const m = runSnippet(`
      mov ax, 0x1000
      mov ds, ax
      mov ax, 0x2000
      mov ss, ax
      mov bx, 0x10
      mov si, 0x20
      mov word [bx + si + 4], 0x1111      ; DS:0x34
      mov bp, 0x40
      mov di, 0x02
      mov word [bp + di], 0x2222          ; SS:0x42
      mov word [0x50], 0x3333             ; DS:0x50
      mov cx, [bx + si + 4]
      hlt
    `, { mode: "real", org: 0x7c00 });
    expect(m.u16(0x10034)).toBe(0x1111);
    expect(m.u16(0x20042)).toBe(0x2222);
    expect(m.u16(0x10050)).toBe(0x3333);
    expect(m.ecx & 0xffff).toBe(0x1111);
  });

  it("an effective address wraps at 64 KiB", () => {
    const m = runSnippet(`
      mov bx, 0xfff0
      mov si, 0x0020
      mov byte [bx + si], 0x5a            ; 0xfff0 + 0x20 = 0x10010 -> 0x0010
      hlt
    `, { mode: "real", org: 0x7c00 });
    expect(m.u8(0x10)).toBe(0x5a);
  });

  it("67h string instructions in 32-bit code use SI, DI and CX", () => {
    const m = runSnippet(`
      mov esi, 0xabcd0100
      mov edi, 0x12340200
      mov ecx, 0x55550003
      mov dword [0x100], 0x00636261
      a16 rep movsb
      hlt
    `);
    expect(Array.from(m.cpu.read(0x200, 3))).toEqual([0x61, 0x62, 0x63]);
    expect(m.esi).toBe(0xabcd0103);
    expect(m.edi).toBe(0x12340203);
    expect(m.ecx).toBe(0x55550000);
  });

  it("a segment override applies to the string source, never to ES:DI", () => {
    const m = runSnippet(`
      mov ax, 0x1000
      mov fs, ax
      mov word [fs:0x10], 0xbeef          ; linear 0x10010
      mov si, 0x10
      mov di, 0x20
      fs movsw                            ; FS:SI -> ES:DI (ES = 0)
      hlt
    `, { mode: "real", org: 0x7c00 });
    expect(m.u16(0x20)).toBe(0xbeef);
  });

  it("XLAT with a 16-bit address uses BX + AL", () => {
    const m = runSnippet(`
      mov bx, table
      mov al, 2
      xlatb
      hlt
    table: db 10, 20, 30, 40
    `, { mode: "real", org: 0x7c00 });
    expect(m.eax & 0xff).toBe(30);
  });
});

describe("16-bit operands in 16-bit code", () => {
  it("CALL and RET push and pop IP; PUSH SP pushes the old SP", () => {
    const m = runSnippet(`
      mov sp, 0x7000
      call sub
    back:
      push sp
      pop dx
      hlt
    sub:
      mov bp, sp
      mov ax, [bp]
      ret
    `, { mode: "real", org: 0x7c00 });
    expect(m.eax & 0xffff).toBe(m.sym("back"));
    expect(m.edx & 0xffff).toBe(0x7000);
  });

  it("a 66h near jump in 32-bit code truncates EIP to 16 bits", () => {
    const m = runSnippet(`
      o16 jmp word low_code               ; lands at low_code & 0xffff
    times 0x100 nop
    low_code:
      hlt
    `, { setup: (mm) => mm.cpu.write(mm.sym("low_code") & 0xffff, new Uint8Array([0xf4])) });
    expect(m.eip).toBe((m.sym("low_code") & 0xffff) + 1);
  });

  it("LOOP with 67h counts in CX", () => {
    const m = runSnippet(`
      mov ecx, 0x10003
      xor eax, eax
    again:
      inc eax
      a16 loop again
      hlt
    `);
    expect(m.eax).toBe(3);
    expect(m.ecx).toBe(0x10000);
  });
});

describe("encodings NASM does not emit", () => {
  it("82h is 80h; TEST F6 /1 is F6 /0; FF /0 on a register increments it", () => {
    const m = runSnippet(`
      mov al, 5
      db 0x82, 0xc0, 0x03                 ; add al, 3
      db 0xf6, 0xc8, 0x08                 ; test al, 8
      setnz bl
      mov ecx, 41
      db 0xff, 0xc1                       ; inc ecx
      hlt
    `);
    expect(m.eax & 0xff).toBe(8);
    expect(m.ebx & 0xff).toBe(1);
    expect(m.ecx).toBe(42);
  });

  it("shift group /6 behaves as SHL", () => {
    const m = runSnippet(`
      mov eax, 3
      db 0xc1, 0xf0, 0x04                 ; sal eax, 4 (reg field 6)
      hlt
    `);
    expect(m.eax).toBe(0x30);
  });
});
