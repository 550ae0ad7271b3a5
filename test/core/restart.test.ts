// test/core/restart.test.ts — a fault in the middle of an instruction leaves
// the state as before it (SDM Vol. 3A 6.5: faults are restartable), with
// CR2 naming the access that faulted: PUSHA, REP MOVS, ENTER, a far CALL
// and a task switch, each running into a page that is not present.

import { describe, expect, it } from "vitest";
import { runSnippet } from "../support/snippet.js";
import * as L from "../../core/layout.js";
import { CS, TR } from "../../hypervisor/platform/cpu.js";

/** Identity-maps the first 4 MiB with 4 KiB pages except the page at HOLE, then turns paging on. */
const PAGING = `
HOLE equ 0x300000
    mov edi, 0x101000
    mov eax, 0x007                      ; present, writable, user
    mov ecx, 1024
map_next:
    stosd
    add eax, 0x1000
    loop map_next
    mov dword [0x100000], 0x101007
    mov dword [0x101000 + (HOLE >> 12) * 4], 0
    mov eax, 0x100000
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
`;

const PF = { exceptionExits: 1 << 14 };

describe("#PF part-way through an instruction", () => {
  it("PUSHA: ESP and the registers are unchanged; CR2 is the first push into the hole", () => {
    const m = runSnippet(`
      ${PAGING}
      mov esp, HOLE + 0x1000 + 12       ; three pushes fit above the hole
      mov eax, 0x11
      fault: pushad
    `, PF);
    expect(m.cpu.exitVector()).toBe(14);
    expect(m.cpu.exitAddress()).toBe(0x300ffc);
    expect(m.cpu.exitErrorCode()).toBe(2); // not present, write
    expect(m.esp).toBe(0x30100c);
    expect(m.eip).toBe(m.sym("fault"));
  });

  it("REP MOVSD: completed iterations stay done, the faulting one changes nothing", () => {
    const m = runSnippet(`
      ${PAGING}
      cld
      mov esi, 0x200000
      mov edi, HOLE - 8                 ; two dwords fit before the hole
      mov ecx, 5
      fault: rep movsd
    `, PF);
    expect(m.cpu.exitAddress()).toBe(0x300000);
    expect(m.ecx).toBe(3);
    expect(m.esi).toBe(0x200008);
    expect(m.edi).toBe(0x300000);
    expect(m.eip).toBe(m.sym("fault"));
  });

  it("ENTER with nesting: a frame pointer that cannot be read leaves ESP and EBP alone", () => {
    const m = runSnippet(`
      ${PAGING}
      mov ebp, HOLE + 8                 ; the first outer frame pointer, at EBP - 4, is in the hole
      mov esp, 0x90000
      fault: enter 16, 4
    `, PF);
    expect(m.cpu.exitAddress()).toBe(0x300004);
    expect(m.cpu.exitErrorCode()).toBe(0); // a read
    expect(m.ebp).toBe(0x300008);
    expect(m.esp).toBe(0x90000);
  });

  it("far CALL: the return address cannot be pushed, so CS, EIP and ESP stay", () => {
    const m = runSnippet(`
      ${PAGING}
      mov esp, HOLE + 0x1000 + 4        ; CS fits, EIP does not
      fault: call CODE0:ADDR(target)
    target:
      hlt
    `, PF);
    expect(m.cpu.exitAddress()).toBe(0x300ffc);
    expect(m.esp).toBe(0x301004);
    expect(m.cpu.segment(CS).selector).toBe(0x08);
    expect(m.eip).toBe(m.sym("fault"));
  });

  it("a task switch whose new TSS reaches into the hole changes nothing", () => {
    const m = runSnippet(`
      ${PAGING}
      descriptor 0x40, HOLE - 0x40, 0x67, 0x89, 0   ; a TSS that straddles into the hole
      fault: jmp 0x40:0
    `, PF);
    expect(m.cpu.exitVector()).toBe(14);
    expect(m.cpu.exitAddress()).toBe(0x300000);
    expect(m.cpu.segment(TR).selector).toBe(0x28);
    expect(m.u8(0x1000 + 0x28 + 5)).toBe(0x8b); // still busy
    expect(m.cpu.cr0 & 8).toBe(0); // TS not set
    expect(m.eip).toBe(m.sym("fault"));
  });

  it("an interrupt whose ring-0 stack is in the hole is not delivered: #PF comes first, nothing pushed", () => {
    const m = runSnippet(`
      ${PAGING}
      gate 0x80, handler, 0xEE
      mov dword [TSS + 4], HOLE + 0x10  ; ESP0 in the hole
      push dword DATA3
      push dword 0x90000
      push dword 0x002
      push dword CODE3
      push dword user
      iretd
    user:
      fault: int 0x80
    handler:
      hlt
    `, PF);
    expect(m.cpu.exitAddress()).toBe(0x30000c);
    expect(m.cpl).toBe(3);
    expect(m.esp).toBe(0x90000);
    expect(m.eip).toBe(m.sym("fault"));
    expect(m.exit).toBe(L.EXIT_EXCEPTION);
  });
});
