// test/core/interrupt.test.ts — INT n, exceptions and interrupts through
// the IDT and the IVT: gates, the TSS stack switch, error codes, #DF and
// the triple fault, and the exception exits (SDM Vol. 3A chapter 6).

import { describe, expect, it } from "vitest";
import { runSnippet } from "../support/snippet.js";
import * as L from "../../core/layout.js";

const TO_RING3 = `
USER_STACK equ STACK_TOP - 0x1000
    push dword DATA3
    push dword USER_STACK
    push dword 0x002
    push dword CODE3
    push dword user
    iretd
`;

describe("protected-mode delivery", () => {
  it("INT 0x80 from ring 3 through a DPL 3 interrupt gate switches to the TSS ring-0 stack", () => {
    const m = runSnippet(`
      gate 0x80, handler, 0xEE
      ${TO_RING3}
    user:
      mov eax, 42
      int 0x80
    after:
      mov esi, eax
      cli                       ; #GP at ring 3: ends the test
    handler:
      mov ebx, esp
      pushfd
      pop edx
      add eax, 1
      iretd
    `, { exceptionExits: 1 << 13 });
    expect(m.ebx).toBe(0x70000 - 20);
    expect(m.u32(0x70000 - 4)).toBe(0x23); // SS
    expect(m.u32(0x70000 - 8)).toBe(0x80000 - 0x1000); // ESP
    expect(m.u32(0x70000 - 16)).toBe(0x1b); // CS
    expect(m.u32(0x70000 - 20)).toBe(m.sym("after")); // EIP
    expect(m.edx & 0x200).toBe(0); // an interrupt gate clears IF
    expect(m.esi).toBe(43);
    expect(m.cpl).toBe(3);
  });

  it("a trap gate leaves IF as it was", () => {
    const m = runSnippet(`
      gate 0x40, handler, 0x8F
      sti
      int 0x40
      hlt
    handler:
      pushfd
      pop edx
      iretd
    `);
    expect(m.edx & 0x200).toBe(0x200);
  });

  it("INT n from ring 3 through a DPL 0 gate raises #GP(vector * 8 + 2)", () => {
    const m = runSnippet(`
      gate 0x41, handler, 0x8E
      ${TO_RING3}
    user:
      int 0x41
    handler:
      hlt
    `, { exceptionExits: 1 << 13 });
    expect(m.cpu.exitVector()).toBe(13);
    expect(m.cpu.exitErrorCode()).toBe(0x41 * 8 + 2);
  });

  it("an exception through a not-present gate raises #NP with IDT and EXT bits", () => {
    const m = runSnippet(`
      mov word [IDT + 6 * 8 + 4], 0x0e00    ; gate 6: interrupt gate, P = 0
      ud2                                   ; #UD is benign: the #NP is delivered, not #DF
    `, { exceptionExits: 1 << 11 });
    expect(m.cpu.exitVector()).toBe(11);
    expect(m.cpu.exitErrorCode()).toBe(6 * 8 + 2 + 1);
  });

  it("a contributory fault while delivering another becomes #DF", () => {
    const m = runSnippet(`
      mov word [IDT + 0 * 8 + 4], 0x0e00    ; gate 0 not present: #NP while delivering #DE
      xor ecx, ecx
      div ecx
    `, { exceptionExits: 1 << 8 });
    expect(m.cpu.exitVector()).toBe(8);
    expect(m.cpu.exitErrorCode()).toBe(0);
  });

  it("a fault pushes the faulting EIP and an error code; the pushed EFLAGS has RF set", () => {
    const m = runSnippet(`
      gate 13, handler, 0x8E
      mov ax, 0x1000
      fault: mov fs, ax
      hlt
    handler:
      pop ebx                   ; error code
      pop ecx                   ; EIP
      pop edx                   ; CS
      pop esi                   ; EFLAGS
      hlt
    `);
    expect(m.ebx).toBe(0x1000);
    expect(m.ecx).toBe(m.sym("fault"));
    expect(m.edx).toBe(0x08);
    expect(m.esi & 0x10000).toBe(0x10000);
  });

  it("INT3 and INTO are traps: the saved EIP is the next instruction", () => {
    const m = runSnippet(`
      gate 3, handler3, 0x8E
      gate 4, handler4, 0x8E
      int3
    after3:
      mov eax, 0x7fffffff
      add eax, 1                ; OF = 1
      into
    after4:
      hlt
    handler3:
      mov ebx, [esp]
      iretd
    handler4:
      mov ecx, [esp]
      iretd
    `);
    expect(m.ebx).toBe(m.sym("after3"));
    expect(m.ecx).toBe(m.sym("after4"));
  });

  it("BOUND raises #BR as a fault when the index is outside", () => {
    const m = runSnippet(`
      gate 5, handler, 0x8E
      mov eax, 10
      bound eax, [bounds]
      mov eax, 21
      fault: bound eax, [bounds]
      hlt
    handler:
      mov ebx, [esp]
      hlt
    bounds: dd 0, 20
    `);
    expect(m.ebx).toBe(m.sym("fault"));
  });

  it("#PF pushes the error code and sets CR2 to the faulting address", () => {
    const m = runSnippet(`
      gate 14, handler, 0x8E
      ; one 4 MiB page, identity, supervisor read/write (PSE)
      mov dword [0x100000], 0x00000083
      mov eax, 0x100000
      mov cr3, eax
      mov eax, cr4
      or eax, 0x10
      mov cr4, eax
      mov eax, cr0
      or eax, 0x80000000
      mov cr0, eax
      fault: mov dword [0x800004], 1
      hlt
    handler:
      pop ebx
      pop esi
      mov ecx, cr2
      hlt
    `);
    expect(m.ebx).toBe(0x2); // not present, write, supervisor
    expect(m.ecx).toBe(0x800004);
    expect(m.esi).toBe(m.sym("fault"));
  });
});

describe("16-bit gates", () => {
  it("a 16-bit interrupt gate pushes FLAGS, CS and IP as words; IRET with a 16-bit operand returns", () => {
    const m = runSnippet(`
      gate 0x30, handler, 0x86  ; 16-bit interrupt gate
      mov esi, esp
      int 0x30
    after:
      hlt
    handler:
      mov ebx, esp
      movzx ecx, word [esp]     ; IP
      movzx edx, word [esp + 2] ; CS
      o16 iret
    `, { org: 0x8000 });
    expect(m.esi - m.ebx).toBe(6);
    expect(m.ecx).toBe(m.sym("after"));
    expect(m.edx).toBe(0x08);
    expect(m.esp).toBe(m.esi);
    expect(m.eip).toBe(m.sym("after") + 1);
  });
});

describe("double fault and shutdown", () => {
  it("#GP while delivering #GP becomes #DF with error code 0", () => {
    const m = runSnippet(`
      gate 8, df_handler, 0x8E
      ; gate 13 names a not-present code segment: delivering #GP faults again (#NP)
      descriptor 0x40, 0, 0xfffff, 0x1a, 0xc
      mov word [IDT + 13 * 8], 0
      mov word [IDT + 13 * 8 + 2], 0x40
      mov word [IDT + 13 * 8 + 4], 0x8e00
      mov ax, 0x1000
      fault: mov ds, ax
      hlt
    df_handler:
      pop ebx
      pop ecx
      mov edx, 0xdf
      hlt
    `);
    expect(m.edx).toBe(0xdf);
    expect(m.ebx).toBe(0);
    expect(m.ecx).toBe(m.sym("fault"));
  });

  it("a benign exception during delivery is delivered instead, not as #DF", () => {
    const m = runSnippet(`
      gate 8, df_handler, 0x8E
      gate 14, pf_handler, 0x8E
      ; #DE's gate is fine but its handler's first instruction is in a page
      ; that is not mapped: the #PF comes after #DE was delivered.
      mov dword [0x100000], 0x00000083
      mov eax, 0x100000
      mov cr3, eax
      mov eax, cr4
      or eax, 0x10
      mov cr4, eax
      mov eax, cr0
      or eax, 0x80000000
      mov cr0, eax
      mov word [IDT + 0 * 8], 0
      mov word [IDT + 0 * 8 + 2], CODE0
      mov word [IDT + 0 * 8 + 4], 0x8e00
      mov word [IDT + 0 * 8 + 6], 0x0080      ; handler at 0x800000: unmapped
      xor ecx, ecx
      div ecx
      hlt
    df_handler:
      mov edx, 0xdf
      hlt
    pf_handler:
      mov ecx, cr2
      mov edx, 0x0e
      hlt
    `);
    expect(m.edx).toBe(0x0e);
    expect(m.ecx).toBe(0x800000);
  });

  it("a fault while delivering #DF shuts the processor down (triple fault)", () => {
    const m = runSnippet(`
      lidt [empty_idt]
      xor ecx, ecx
      div ecx
      hlt
    empty_idt: dw 0
               dd 0
    `);
    expect(m.exit).toBe(L.EXIT_SHUTDOWN);
  });
});

describe("exception exits", () => {
  it("an exception in EXCEPTION_EXIT_BITMAP exits with the state at the faulting instruction", () => {
    const m = runSnippet(`
      mov eax, 100
      xor edx, edx
      xor ecx, ecx
      fault: div ecx
      hlt
    `, { exceptionExits: 1 << 0 });
    expect(m.exit).toBe(L.EXIT_EXCEPTION);
    expect(m.cpu.exitVector()).toBe(0);
    expect(m.cpu.exitErrorCode()).toBe(-1);
    expect(m.eip).toBe(m.sym("fault"));
    expect(m.eax).toBe(100);
    expect(m.cpu.exitInsnLength()).toBe(2);
  });

  it("#PF exits carry the faulting linear address and leave CR2 alone", () => {
    const m = runSnippet(`
      mov dword [0x100000], 0x00000083
      mov eax, 0x100000
      mov cr3, eax
      mov eax, cr4
      or eax, 0x10
      mov cr4, eax
      mov eax, cr0
      or eax, 0x80000000
      mov cr0, eax
      mov eax, [0xc0001234]
      hlt
    `, { exceptionExits: 1 << 14 });
    expect(m.cpu.exitVector()).toBe(14);
    expect(m.cpu.exitErrorCode()).toBe(0);
    expect(m.cpu.exitAddress()).toBe(0xc0001234);
    expect(m.cpu.cr2).toBe(0);
  });
});

describe("real-mode delivery", () => {
  it("INT n reads CS:IP from the IVT and pushes FLAGS, CS, IP", () => {
    const m = runSnippet(`
      mov word [0x21 * 4], handler
      mov word [0x21 * 4 + 2], 0
      sti
      int 0x21
    after:
      hlt
    handler:
      mov bp, sp
      mov ax, [bp]              ; IP
      mov bx, [bp + 2]          ; CS
      mov cx, [bp + 4]          ; FLAGS
      pushf
      pop dx
      iret
    `, { mode: "real", org: 0x7c00 });
    expect(m.eax & 0xffff).toBe(m.sym("after"));
    expect(m.ebx & 0xffff).toBe(0);
    expect(m.ecx & 0x200).toBe(0x200);
    expect(m.edx & 0x200).toBe(0);
    expect(m.eip).toBe(m.sym("after") + 1);
  });
});
