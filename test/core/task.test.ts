// test/core/task.test.ts — hardware task switching: JMP and CALL to a TSS,
// task gates in the IDT, IRET with NT, busy bits, the back link, CR0.TS,
// and the #TS checks (SDM Vol. 3A chapter 7).

import { describe, expect, it } from "vitest";
import { runSnippet } from "../support/snippet.js";
import { TR } from "../../hypervisor/platform/cpu.js";

/** A second 32-bit TSS at TSS2 whose task starts at `task2` with its own stack; descriptor 0x40. */
const TASK2 = `
TSS2 equ 0x6000
    mov edi, TSS2
    mov ecx, 26
    xor eax, eax
    rep stosd
    mov dword [TSS2 + 32], task2          ; EIP
    mov dword [TSS2 + 36], 0x2            ; EFLAGS
    mov dword [TSS2 + 56], 0x60000        ; ESP
    mov dword [TSS2 + 40], 0x2222         ; EAX
    mov dword [TSS2 + 72], DATA0          ; ES
    mov dword [TSS2 + 76], CODE0          ; CS
    mov dword [TSS2 + 80], DATA0          ; SS
    mov dword [TSS2 + 84], DATA0          ; DS
    mov dword [TSS2 + 88], DATA0          ; FS
    mov dword [TSS2 + 92], DATA0          ; GS
    mov word [TSS2 + 102], 0x68
    descriptor 0x40, TSS2, 0x67, 0x89, 0  ; available 32-bit TSS
`;

describe("task switches", () => {
  it("JMP to a TSS saves the old task, loads the new one, moves the busy bit and sets CR0.TS", () => {
    const m = runSnippet(`
      ${TASK2}
      mov eax, 0x1111
      jmp 0x40:0
    back:
      hlt
    task2:
      mov ebx, eax
      hlt
    `);
    expect(m.ebx).toBe(0x2222);
    expect(m.cpu.segment(TR).selector).toBe(0x40);
    expect(m.u32(0x2000 + 32)).toBe(m.sym("back")); // old EIP saved
    expect(m.u32(0x2000 + 40)).toBe(0x1111); // old EAX saved
    expect(m.u8(0x1000 + 0x28 + 5)).toBe(0x89); // old TSS no longer busy
    expect(m.u8(0x1000 + 0x40 + 5)).toBe(0x8b); // new TSS busy
    expect(m.cpu.cr0 & 8).toBe(8);
    expect(m.u16(0x6000)).toBe(0); // JMP writes no back link
  });

  it("CALL to a TSS nests: back link and NT; IRET returns to the caller", () => {
    const m = runSnippet(`
      ${TASK2}
      mov eax, 0x1111
      call 0x40:0
    back:
      mov ecx, eax              ; EAX restored from the old TSS
      hlt
    task2:
      pushfd
      pop dword [0x500]         ; registers go back with the task: keep results in memory
      mov [0x504], eax
      iretd
    `);
    expect(m.u32(0x500) & 0x4000).toBe(0x4000);
    expect(m.u32(0x504)).toBe(0x2222);
    expect(m.ecx).toBe(0x1111);
    expect(m.u16(0x6000)).toBe(0x28);
    expect(m.cpu.segment(TR).selector).toBe(0x28);
    expect(m.u8(0x1000 + 0x40 + 5)).toBe(0x89); // IRET cleared the nested task's busy bit
    expect(m.u8(0x1000 + 0x28 + 5)).toBe(0x8b);
    expect(m.eflags & 0x4000).toBe(0);
  });

  it("an exception through a task gate switches tasks and pushes the error code on the new stack", () => {
    const m = runSnippet(`
      ${TASK2}
      mov word [IDT + 13 * 8 + 2], 0x40     ; task gate to TSS 0x40
      mov word [IDT + 13 * 8 + 4], 0x8500
      mov ax, 0x1008
      fault: mov ds, ax
      hlt
    task2:
      pop ebx
      mov ecx, [TSS + 32]
      hlt
    `);
    expect(m.ebx).toBe(0x1008);
    expect(m.ecx).toBe(m.sym("fault"));
    expect(m.esp).toBe(0x60000);
  });

  it("JMP to a busy TSS raises #GP(selector)", () => {
    const m = runSnippet(`
      jmp TSS_SEL:0
    `, { exceptionExits: 1 << 13 });
    expect(m.cpu.exitVector()).toBe(13);
    expect(m.cpu.exitErrorCode()).toBe(0x28);
  });

  it("a TSS limit below 103 raises #TS(selector) and switches nothing", () => {
    const m = runSnippet(`
      ${TASK2}
      descriptor 0x40, TSS2, 0x50, 0x89, 0
      jmp 0x40:0
    task2:
      hlt
    `, { exceptionExits: 1 << 10 });
    expect(m.cpu.exitVector()).toBe(10);
    expect(m.cpu.exitErrorCode()).toBe(0x40);
    expect(m.cpu.segment(TR).selector).toBe(0x28);
  });

  it("a bad segment in the new TSS faults in the new task with #TS", () => {
    const m = runSnippet(`
      ${TASK2}
      mov dword [TSS2 + 84], 0x1000         ; DS beyond the GDT
      jmp 0x40:0
    task2:
      hlt
    `, { exceptionExits: 1 << 10 });
    expect(m.cpu.exitVector()).toBe(10);
    expect(m.cpu.exitErrorCode()).toBe(0x1000);
    expect(m.cpu.segment(TR).selector).toBe(0x40);
    expect(m.eip).toBe(m.sym("task2"));
  });

  it("IRET with NT set returns through the back link even from a handler", () => {
    const m = runSnippet(`
      ${TASK2}
      mov word [IDT + 0x50 * 8 + 2], 0x40
      mov word [IDT + 0x50 * 8 + 4], 0x8500
      int 0x50
    back:
      mov ecx, 0xb0
      hlt
    task2:
      mov dword [0x500], 0x77
      iretd
    `);
    expect(m.u32(0x500)).toBe(0x77);
    expect(m.ecx).toBe(0xb0);
    expect(m.cpu.segment(TR).selector).toBe(0x28);
  });
});
