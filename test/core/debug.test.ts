// test/core/debug.test.ts — the debug registers: instruction breakpoints
// (faults, with RF to step past them), data breakpoints (traps), and
// general detect (SDM Vol. 3A 18.2, 18.3).

import { describe, expect, it } from "vitest";
import { runSnippet } from "../support/snippet.js";
import * as L from "../../core/layout.js";

describe("debug registers", () => {
  it("an instruction breakpoint faults before the instruction; RF in the frame lets IRET run it", () => {
    const m = runSnippet(`
      gate 1, db_handler, 0x8E
      mov eax, target
      mov dr0, eax
      mov eax, 1                ; L0, R/W 00, LEN 00
      mov dr7, eax
      xor ecx, ecx
    target:
      inc ecx
      hlt
    db_handler:
      inc esi
      mov ebx, [esp]
      mov edx, dr6
      or dword [esp + 8], 0x10000
      iretd
    `);
    expect(m.esi).toBe(1);
    expect(m.ebx).toBe(m.sym("target"));
    expect(m.edx & 0xf).toBe(1);
    expect(m.ecx).toBe(1);
  });

  it("a write breakpoint traps after the instruction that wrote an aligned dword's byte", () => {
    const m = runSnippet(`
      gate 1, db_handler, 0x8E
      mov eax, 0x500
      mov dr1, eax
      mov eax, (1 << 2) | (1 << 20) | (3 << 22)   ; L1, R/W 01 (writes), LEN 11 (4 bytes)
      mov dr7, eax
      mov eax, [0x500]          ; a read: no trap
      mov byte [0x503], 7
    after:
      hlt
    db_handler:
      mov ebx, [esp]
      mov edx, dr6
      iretd
    `);
    expect(m.ebx).toBe(m.sym("after"));
    expect(m.edx & 0xf).toBe(2);
    expect(m.u8(0x503)).toBe(7);
  });

  it("a read/write breakpoint also traps on reads", () => {
    const m = runSnippet(`
      gate 1, db_handler, 0x8E
      mov eax, 0x600
      mov dr2, eax
      mov eax, (1 << 4) | (3 << 24) | (1 << 26)   ; L2, R/W 11, LEN 01 (2 bytes)
      mov dr7, eax
      mov eax, [0x5fe]          ; bytes 5FE-601 overlap 600-601
    after:
      hlt
    db_handler:
      mov ebx, [esp]
      iretd
    `);
    expect(m.ebx).toBe(m.sym("after"));
  });

  it("with DR7.GD, a MOV from a debug register raises #DB first and the handler finds GD clear", () => {
    const m = runSnippet(`
      gate 1, db_handler, 0x8E
      mov eax, 0x2400           ; GD
      mov dr7, eax
      fault: mov ebx, dr0
      hlt
    db_handler:
      mov ecx, [esp]
      mov edx, dr6
      mov esi, dr7
      hlt
    `);
    expect(m.ecx).toBe(m.sym("fault"));
    expect(m.edx & 0x2000).toBe(0x2000);
    expect(m.esi & 0x2000).toBe(0);
    expect(m.exit).toBe(L.EXIT_HLT);
  });
});
