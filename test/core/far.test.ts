// test/core/far.test.ts — far JMP, CALL, RET and IRET: code segments, call
// gates, privilege changes through the TSS stacks, and the checks on the
// way (SDM Vol. 2A "JMP", "CALL", "RET", "IRET"; Vol. 3A 5.8).

import { describe, expect, it } from "vitest";
import { runSnippet } from "../support/snippet.js";
import { DS, ES, SS } from "../../hypervisor/platform/cpu.js";

/** Leaves ring 0 for ring 3 at label `user`, with ESP = USER_STACK. */
const TO_RING3 = `
USER_STACK equ STACK_TOP - 0x1000
    push dword DATA3
    push dword USER_STACK
    push dword 0x002
    push dword CODE3
    push dword user
    iretd
`;

describe("far JMP and CALL to code segments", () => {
  it("a far JMP to a 16-bit code segment changes the default operand size", () => {
    const m = runSnippet(`
      jmp CODE16:ADDR(code16)
    code16:
      bits 16
      mov eax, 0x12345678        ; 66h-prefixed in 16-bit code
      mov bx, 0xbeef
      hlt
    `, { org: 0x8000 });
    expect(m.eax).toBe(0x12345678);
    expect(m.ebx & 0xffff).toBe(0xbeef);
    expect(m.cpu.segment(1).selector).toBe(0x30);
  });

  it("a far CALL pushes CS:EIP and RETF returns", () => {
    const m = runSnippet(`
      call CODE0:ADDR(far_proc)
      back: hlt
    far_proc:
      mov ebx, [esp]
      mov ecx, [esp + 4]
      retf
    `);
    expect(m.ebx).toBe(m.sym("back"));
    expect(m.ecx).toBe(0x08);
    expect(m.eip).toBe(m.sym("back") + 1);
    expect(m.esp).toBe(0x80000);
  });

  it("a far JMP to a non-conforming segment of another privilege raises #GP(selector)", () => {
    const m = runSnippet(`
      jmp CODE3:ADDR(target)
    target:
      hlt
    `, { exceptionExits: 1 << 13 });
    expect(m.cpu.exitVector()).toBe(13);
    expect(m.cpu.exitErrorCode()).toBe(0x18);
  });

  it("a far CALL to a conforming segment keeps the CPL and sets RPL to it", () => {
    const m = runSnippet(`
      descriptor 0x40, 0, 0xfffff, 0x9e, 0xc   ; conforming execute/read code, DPL 0
      ${TO_RING3}
    user:
      call 0x43:ADDR(conforming)
      hlt
    conforming:
      mov bx, cs
      mov ecx, [esp + 4]
      mov edx, 0x77
      hlt
    `, { exceptionExits: 1 << 13 });
    expect(m.edx).toBe(0x77);
    expect(m.ebx & 0xffff).toBe(0x43);
    expect(m.ecx).toBe(0x1b);
    expect(m.cpl).toBe(3);
  });

  it("a not-present code segment raises #NP(selector)", () => {
    const m = runSnippet(`
      descriptor 0x40, 0, 0xfffff, 0x1a, 0xc   ; code, P = 0
      jmp 0x40:0
    `, { exceptionExits: 1 << 11 });
    expect(m.cpu.exitVector()).toBe(11);
    expect(m.cpu.exitErrorCode()).toBe(0x40);
  });

  it("a far jump beyond the target's limit raises #GP(0) and changes nothing", () => {
    const m = runSnippet(`
      jmp CODE16:0x12345
    `, { exceptionExits: 1 << 13 });
    expect(m.cpu.exitVector()).toBe(13);
    expect(m.cpu.exitErrorCode()).toBe(0);
    expect(m.cpu.segment(1).selector).toBe(0x08);
  });
});

describe("call gates", () => {
  const gate = (dpl: number, params: number) => `
      ; a 32-bit call gate at 0x48 to ring0_proc, DPL ${dpl}, ${params} parameter dwords
      mov word [GDT + 0x48], ADDR(ring0_proc) & 0xffff
      mov word [GDT + 0x4a], CODE0
      mov byte [GDT + 0x4c], ${params}
      mov byte [GDT + 0x4d], 0x8c | (${dpl} << 5)
      mov word [GDT + 0x4e], ADDR(ring0_proc) >> 16`;

  it("CALL through a gate from ring 3 switches to the TSS stack and copies the parameters", () => {
    const m = runSnippet(`
      ${gate(3, 2)}
      ${TO_RING3}
    user:
      push dword 0x1111
      push dword 0x2222
      call 0x4b:0
    back:
      mov edi, esp
      mov ebp, 0x600d
      cli                       ; ring 3 with IOPL 0: #GP, the exit ends the test
    ring0_proc:
      mov eax, cs
      mov ebx, esp
      mov ecx, [esp + 8]        ; parameter nearest the return address (pushed last)
      mov edx, [esp + 12]
      mov esi, [esp + 16]       ; caller's ESP
      retf 8
    `, { exceptionExits: 1 << 13 });
    expect(m.eax & 0xffff).toBe(0x08);
    // Frame on the ring-0 stack: SS, ESP, 2 parameters, CS, EIP.
    expect(m.ebx).toBe(0x70000 - 24);
    expect(m.ecx).toBe(0x2222);
    expect(m.edx).toBe(0x1111);
    expect(m.esi).toBe(0x80000 - 0x1000 - 8);
    expect(m.u32(0x70000 - 4)).toBe(0x23);
    expect(m.u32(0x70000 - 20)).toBe(0x1b);
    expect(m.u32(0x70000 - 24)).toBe(m.sym("back"));
    // RETF 8 released the parameters on both stacks.
    expect(m.ebp).toBe(0x600d);
    expect(m.edi).toBe(0x80000 - 0x1000);
    expect(m.cpl).toBe(3);
  });

  it("a gate whose DPL is below CPL raises #GP(gate selector)", () => {
    const m = runSnippet(`
      ${gate(0, 0)}
      ${TO_RING3}
    user:
      call 0x4b:0
    ring0_proc:
      hlt
    `, { exceptionExits: 1 << 13 });
    expect(m.cpu.exitVector()).toBe(13);
    expect(m.cpu.exitErrorCode()).toBe(0x48);
  });

  it("JMP through a gate may not raise the privilege", () => {
    const m = runSnippet(`
      ${gate(3, 0)}
      ${TO_RING3}
    user:
      jmp 0x4b:0
    ring0_proc:
      hlt
    `, { exceptionExits: 1 << 13 });
    expect(m.cpu.exitVector()).toBe(13);
    expect(m.cpu.exitErrorCode()).toBe(0x08);
  });

  it("a ring-0 stack selector with the wrong RPL in the TSS raises #TS(selector)", () => {
    const m = runSnippet(`
      ${gate(3, 0)}
      mov dword [TSS + 8], DATA3          ; SS0 = a ring-3 selector
      ${TO_RING3}
    user:
      call 0x4b:0
    ring0_proc:
      hlt
    `, { exceptionExits: 1 << 10 });
    expect(m.cpu.exitVector()).toBe(10);
    expect(m.cpu.exitErrorCode()).toBe(0x20);
  });
});

describe("returns to outer levels", () => {
  it("RETF to ring 3 loads SS:ESP from the stack and nulls data segments ring 3 may not use", () => {
    const m = runSnippet(`
      mov ax, DATA3
      mov es, ax
      push dword DATA3
      push dword 0x60000
      push dword CODE3
      push dword user
      retf
    user:
      mov ebx, esp
      cli
    `, { exceptionExits: 1 << 13 });
    expect(m.cpl).toBe(3);
    expect(m.ebx).toBe(0x60000);
    expect(m.cpu.segment(SS).selector).toBe(0x23);
    expect(m.cpu.segment(DS).selector).toBe(0); // DATA0 (DPL 0) dropped
    expect(m.cpu.segment(ES).selector).toBe(0x23); // DATA3 kept
  });

  it("RETF to a more privileged level raises #GP(selector)", () => {
    const m = runSnippet(`
      push dword DATA3
      push dword 0x60000
      push dword CODE3
      push dword user
      retf
    user:
      push dword CODE0
      push dword user
      retf
    `, { exceptionExits: 1 << 13 });
    expect(m.cpu.exitVector()).toBe(13);
    expect(m.cpu.exitErrorCode()).toBe(0x08);
  });

  it("IRET at CPL 3 leaves IOPL and (with CPL > IOPL) IF alone", () => {
    const m = runSnippet(`
      push dword DATA3
      push dword 0x60000
      push dword 0x202          ; IF = 1, IOPL 0
      push dword CODE3
      push dword user
      iretd
    user:
      push dword 0x3002         ; IOPL 3, IF = 0
      push dword CODE3
      push dword user2
      iretd
    user2:
      pushfd
      pop ebx
      cli
    `, { exceptionExits: 1 << 13 });
    expect(m.ebx & 0x3200).toBe(0x200);
  });
});
