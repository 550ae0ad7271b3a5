// test/core/interrupt.test.ts — INT n, exceptions and interrupts through
// the IDT and the IVT: gates, the TSS stack switch, error codes, #DF and
// the triple fault, and the exception exits (SDM Vol. 3A chapter 6).

import { describe, expect, it } from "vitest";
import { runSnippet } from "../support/snippet.js";
import * as L from "../../core/layout.js";
import { CS, DS, ES, GS, SS } from "../../hypervisor/platform/cpu.js";

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

// The common deliveries and IRETs take a one-pass path (core/interrupt.ts
// deliverFast, core/far.ts interruptReturnFast) when every descriptor they
// use is present and already accessed and every table entry, stack frame and
// popped frame lies on one page the TLB maps straight to RAM; anything else
// goes the generic way. A descriptor's first use is generic (it sets the
// accessed bit), so a test that does the same thing twice sees both paths
// and expects the same result; ACCESSED marks them beforehand so the fast
// path is the one that meets the case under test and must turn it down.

/** Sets the accessed bit of the flat descriptors, so even a first delivery may take the fast path. */
const ACCESSED = `
    or byte [GDT + 0x08 + 5], 1
    or byte [GDT + 0x10 + 5], 1
    or byte [GDT + 0x18 + 5], 1
    or byte [GDT + 0x20 + 5], 1
`;

/** 4 KiB pages identity-mapping the first 4 MiB (user, writable), page directory at 0x100000; paging on. */
const PAGING = `
    mov edi, 0x101000
    mov eax, 0x007
    mov ecx, 1024
.pte:
    stosd
    add eax, 0x1000
    loop .pte
    mov dword [0x100000], 0x101007
    mov eax, 0x100000
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
`;

/** The handler of the frame tests: copies the frame at ESP (`FRAME_DWORDS` of them) to the next slot of `frames`. */
const COPY_FRAME = `
    mov ax, DATA0
    mov ds, ax
    mov es, ax
    mov esi, esp
    mov edi, [next_frame]
    mov ecx, FRAME_DWORDS
    rep movsd
    mov [next_frame], edi
`;

const FRAME_DATA = `
    align 4
next_frame: dd ADDR(frames)
frames: times 32 dd 0
`;

/** The `count` frames of `dwords` dwords COPY_FRAME stored at `frames`. */
function frames(m: { sym(name: string): number; u32(pa: number): number }, count: number, dwords: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < count; i++) {
    out.push(Array.from({ length: dwords }, (_, j) => m.u32(m.sym("frames") + (i * dwords + j) * 4)));
  }
  return out;
}

describe("the one-pass delivery and IRET agree with the generic ones", () => {
  it("INT 0x80 from ring 3 pushes the same frame the first time (descriptors not yet accessed) and the next", () => {
    const m = runSnippet(`
FRAME_DWORDS equ 5
      gate 0x80, handler, 0xEE
      ${TO_RING3}
    user:
      int 0x80
    after1:
      int 0x80
    after2:
      cli                       ; #GP at ring 3: ends the test
    handler:
      mov ebp, esp
      ${COPY_FRAME}
      iretd
      ${FRAME_DATA}
    `, { exceptionExits: 1 << 13 });
    expect(m.cpu.exitVector()).toBe(13);
    expect(m.u8(0x1000 + 0x08 + 5)).toBe(0x9b); // the first delivery set CODE0's accessed bit
    expect(m.u8(0x1000 + 0x10 + 5)).toBe(0x93); // and SS0's
    const f = frames(m, 2, 5);
    expect(f[0]).toEqual([m.sym("after1"), 0x1b, 0x002, 0x80000 - 0x1000, 0x23]);
    expect(f[1]).toEqual([m.sym("after2"), 0x1b, 0x002, 0x80000 - 0x1000, 0x23]);
    expect(m.ebp).toBe(0x70000 - 20);
    expect(m.esp).toBe(0x80000 - 0x1000);
    expect(m.cpu.segment(DS).selector).toBe(0); // each IRET to ring 3 dropped DATA0
  });

  it("an interrupt gate clears IF and a trap gate keeps it, from ring 3, and IRET restores it", () => {
    const m = runSnippet(`
      gate 0x80, handler, 0xEE  ; interrupt gate
      gate 0x81, handler, 0xEF  ; trap gate
      ${ACCESSED}
      push dword DATA3
      push dword STACK_TOP - 0x1000
      push dword 0x202          ; IF = 1
      push dword CODE3
      push dword user
      iretd
    user:
      int 0x80
      mov edx, eax
      int 0x81
      mov ebx, eax
      int 0x80
      mov ebp, eax
      pushfd
      pop esi
      cli
    handler:
      pushfd
      pop eax
      iretd
    `, { exceptionExits: 1 << 13 });
    expect(m.edx & 0x200).toBe(0);
    expect(m.ebx & 0x200).toBe(0x200);
    expect(m.ebp & 0x200).toBe(0);
    expect(m.esi & 0x200).toBe(0x200);
  });

  it("INT n clears NT in the handler, pushes it, and IRET brings it back", () => {
    const m = runSnippet(`
      gate 0x40, handler, 0x8E
      ${ACCESSED}
      pushfd
      or dword [esp], 0x4000    ; NT
      popfd
      int 0x40
      hlt
    handler:
      pushfd
      pop ebx
      mov ecx, [esp + 8]
      iretd
    `);
    expect(m.ebx & 0x4000).toBe(0);
    expect(m.ecx & 0x4000).toBe(0x4000);
    expect(m.flags.NT).toBe(1);
  });

  it("INT n from ring 3 through a DPL 0 gate raises #GP(vector * 8 + 2) after a fast INT through a DPL 3 one", () => {
    const m = runSnippet(`
      gate 0x80, handler, 0xEE
      gate 0x41, handler, 0x8E
      ${ACCESSED}
      ${TO_RING3}
    user:
      int 0x80
      mov ebx, 1
    fault:
      int 0x41
    handler:
      iretd
    `, { exceptionExits: 1 << 13 });
    expect(m.ebx).toBe(1);
    expect(m.cpu.exitVector()).toBe(13);
    expect(m.cpu.exitErrorCode()).toBe(0x41 * 8 + 2);
    expect(m.eip).toBe(m.sym("fault"));
    expect(m.cpl).toBe(3);
  });

  it("an exception from ring 3 pushes its error code and RF the same on the generic and the fast path", () => {
    const m = runSnippet(`
FRAME_DWORDS equ 6
      gate 13, handler, 0x8E
      ${TO_RING3}
    user:
    fault1:
      cli                       ; #GP(0): IOPL 0
      nop                       ; retires, so RF (IRET restored it) is clear again
    fault2:
      cli
      mov ebx, 0x600d
      hlt                       ; #GP(0) again, but the handler stops at 3
    handler:
      ${COPY_FRAME}
      cmp dword [next_frame], ADDR(frames) + 3 * FRAME_DWORDS * 4
      je .stop
      add esp, 4                ; the error code
      inc dword [esp]           ; past the one-byte CLI
      iretd
    .stop:
      hlt
      ${FRAME_DATA}
    `);
    expect(m.ebx).toBe(0x600d);
    const f = frames(m, 3, 6);
    const flags = 0x10002; // RF: a fault
    expect(f[0]).toEqual([0, m.sym("fault1"), 0x1b, flags, 0x80000 - 0x1000, 0x23]);
    expect(f[1]).toEqual([0, m.sym("fault2"), 0x1b, flags, 0x80000 - 0x1000, 0x23]);
    expect(f[2][1]).toBe(m.sym("fault2") + 6);
    expect(f[2][3]).toBe(0x10002);
  });

  it("a ring-0 frame that straddles a page boundary is written across both pages", () => {
    const m = runSnippet(`
      gate 0x80, handler, 0xEE
      ${ACCESSED}
      mov dword [TSS + 4], 0x70008           ; ESP0: the frame spans 0x6fff4-0x70007
      ${TO_RING3}
    user:
      int 0x80
      int 0x80
    after:
      cli
    handler:
      mov ebx, esp
      iretd
    `, { exceptionExits: 1 << 13 });
    expect(m.ebx).toBe(0x6fff4);
    expect([0, 4, 8, 12, 16].map((o) => m.u32(0x6fff4 + o))).toEqual([m.sym("after"), 0x1b, 0x002, 0x80000 - 0x1000, 0x23]);
  });

  it("a ring-0 frame on a page that is not present raises #PF at its first push, write and supervisor", () => {
    const m = runSnippet(`
      gate 0x80, handler, 0xEE
      ${ACCESSED}
      ${PAGING}
      ${TO_RING3}
    user:
      int 0x80                  ; warms the translations of the IDT, GDT and TSS
    fault:
      int 0x80
    handler:
      mov ax, DATA0
      mov ds, ax
      mov dword [TSS + 4], 0x50000          ; the next frame goes on page 0x4f000, now not present
      mov dword [0x101000 + 0x4f * 4], 0
      invlpg [0x4f000]
      iretd
    `, { exceptionExits: 1 << 14 });
    expect(m.cpu.exitVector()).toBe(14);
    expect(m.cpu.exitErrorCode()).toBe(0x2);
    expect(m.cpu.exitAddress()).toBe(0x50000 - 4);
    expect(m.eip).toBe(m.sym("fault"));
    expect(m.cpl).toBe(3);
    expect(m.esp).toBe(0x80000 - 0x1000);
  });

  it("a straddling ring-0 frame whose upper page is not present faults at the first push, on that page", () => {
    const m = runSnippet(`
      gate 0x80, handler, 0xEE
      ${ACCESSED}
      ${PAGING}
      mov dword [TSS + 4], 0x70008
      mov dword [0x101000 + 0x70 * 4], 0
      ${TO_RING3}
    user:
      int 0x80
    handler:
      hlt
    `, { exceptionExits: 1 << 14 });
    expect(m.cpu.exitErrorCode()).toBe(0x2);
    expect(m.cpu.exitAddress()).toBe(0x70004);
  });

  it("a ring-0 stack segment too small for the frame raises #SS(its selector), EXT clear for INT n", () => {
    const m = runSnippet(`
      gate 0x80, handler, 0xEE
      ${ACCESSED}
      descriptor 0x40, 0, 0x6fff0, 0x93, 0x4  ; accessed, byte granular, B: the frame needs up to 0x6ffff
      mov dword [TSS + 8], 0x40
      mov dword [0x6fff0], 0    ; the frame's page in the TLB, as after an earlier delivery
      ${TO_RING3}
    user:
      int 0x80
    handler:
      hlt
    `, { exceptionExits: 1 << 12 });
    expect(m.cpu.exitVector()).toBe(12);
    expect(m.cpu.exitErrorCode()).toBe(0x40);
    expect(m.cpl).toBe(3);
  });

  it("a same-level frame below the stack's bottom raises #SS(0) for INT n, #SS(EXT) for an exception", () => {
    const soft = runSnippet(`
      gate 0x40, handler, 0x8E
      ${ACCESSED}
      mov esp, 8
      int 0x40
    handler:
      hlt
    `, { exceptionExits: 1 << 12 });
    expect(soft.cpu.exitVector()).toBe(12);
    expect(soft.cpu.exitErrorCode()).toBe(0);
    expect(soft.esp).toBe(8);
    const exception = runSnippet(`
      gate 6, handler, 0x8E
      ${ACCESSED}
      mov esp, 8
      ud2
    handler:
      hlt
    `, { exceptionExits: 1 << 12 });
    expect(exception.cpu.exitVector()).toBe(12);
    expect(exception.cpu.exitErrorCode()).toBe(1);
  });

  it("a 16-bit ring-0 stack segment takes the frame below SP and changes SP only", () => {
    const m = runSnippet(`
STACK16 equ 0x40
      gate 0x80, handler, 0xEE
      ${ACCESSED}
      descriptor STACK16, 0, 0xffff, 0x93, 0x0  ; ring-0 data, 64 KiB, 16-bit, accessed
      mov dword [TSS + 4], 0x8000
      mov dword [TSS + 8], STACK16
      mov dword [0x7ff0], 0     ; the frame's page in the TLB
      push dword DATA3
      push dword 0x5555_0f00    ; a ring-3 ESP with an upper half
      push dword 0x002
      push dword CODE3
      push dword user
      iretd
    user:
      int 0x80
    after:
      cli
    handler:
      mov ebx, esp
      hlt
    `, { exceptionExits: 1 << 13 });
    expect(m.ebx).toBe(0x5555_7fec);
    expect([0, 4, 8, 12, 16].map((o) => m.u32(0x7fec + o))).toEqual([m.sym("after"), 0x1b, 0x002, 0x5555_0f00, 0x23]);
  });

  it("IRET from ring 3 to ring 0 raises #GP(the code selector)", () => {
    const m = runSnippet(`
      ${ACCESSED}
      ${TO_RING3}
    user:
      push dword DATA0
      push dword STACK_TOP
      push dword 0x002
      push dword CODE0
      push dword user
      iretd
    `, { exceptionExits: 1 << 13 });
    expect(m.cpu.exitVector()).toBe(13);
    expect(m.cpu.exitErrorCode()).toBe(0x08);
    expect(m.cpl).toBe(3);
  });

  it("IRET to ring 3 with a stack selector of another RPL raises #GP(the stack selector)", () => {
    const m = runSnippet(`
      ${ACCESSED}
      push dword DATA3 & ~3     ; RPL 0
      push dword STACK_TOP - 0x1000
      push dword 0x002
      push dword CODE3
      push dword user
      iretd
    user:
      hlt
    `, { exceptionExits: 1 << 13 });
    expect(m.cpu.exitVector()).toBe(13);
    expect(m.cpu.exitErrorCode()).toBe(0x20);
    expect(m.cpl).toBe(0);
  });

  it("INT n from virtual-8086 mode pushes GS, FS, DS and ES too, with every descriptor already accessed", () => {
    const m = runSnippet(`
      gate 0x21, handler, 0xEE
      ${ACCESSED}
      mov dword [0x6fff0], 0    ; the frame's page in the TLB
      mov eax, [TSS + 4]        ; and the TSS's
      mov esi, v86_code
      mov edi, 0x20000
      mov ecx, v86_end - v86_code
      rep movsb
      push dword 0x0005         ; GS
      push dword 0x0004         ; FS
      push dword 0x0003         ; DS
      push dword 0x0002         ; ES
      push dword 0x3000         ; SS
      push dword 0x1000         ; SP
      push dword 0x23002        ; VM, IOPL 3
      push dword 0x2000         ; CS
      push dword 0              ; IP
      iretd
    handler:
      mov ebx, esp
      hlt
    v86_code:
      bits 16
      int 0x21
      bits 32
    v86_end:
    `);
    expect(m.ebx).toBe(0x70000 - 36);
    expect([0, 4, 8, 12, 16, 20, 24, 28, 32].map((o) => m.u32(0x70000 - 36 + o)))
      .toEqual([2, 0x2000, 0x23002, 0x1000, 0x3000, 0x0002, 0x0003, 0x0004, 0x0005]);
    expect(m.cpu.segment(DS).selector).toBe(0);
    expect(m.flags.VM).toBe(0);
  });

  it("IRETD at CPL 0 with VM set enters virtual-8086 mode even when CS and SS would name ring-3 segments", () => {
    const m = runSnippet(`
      ${ACCESSED}
      mov esi, v86_code
      mov edi, 0x1b0
      mov ecx, v86_end - v86_code
      rep movsb
      push dword 0              ; GS
      push dword 0              ; FS
      push dword 0              ; DS
      push dword 0              ; ES
      push dword DATA3          ; SS: 0x23, as a v86 segment base 0x230
      push dword 0x1000         ; SP
      push dword 0x20002        ; VM, IOPL 0
      push dword CODE3          ; CS: 0x1b, as a v86 segment base 0x1b0
      push dword 0              ; IP
      iretd
    v86_code:
      bits 16
      nop
      cli                       ; IOPL 0: #GP
      bits 32
    v86_end:
    `, { exceptionExits: 1 << 13 });
    expect(m.cpu.exitVector()).toBe(13);
    expect(m.flags.VM).toBe(1);
    expect(m.cpu.segment(CS).base).toBe(0x1b0);
    expect(m.cpu.segment(SS).base).toBe(0x230);
    expect(m.eip).toBe(1);
  });

  it("IRET to ring 3 loads a based code segment and a 16-bit stack segment: SP only, ESP's upper half stays", () => {
    const m = runSnippet(`
USER_CS equ 0x4b
USER_SS equ 0x53
      gate 0x80, handler, 0xEE
      descriptor USER_CS, 0x10000, 0xffff, 0xfa, 0x4   ; ring-3 code at 0x10000, 64 KiB, 32-bit
      descriptor USER_SS, 0x20000, 0xffff, 0xf2, 0x0   ; ring-3 data at 0x20000, 64 KiB, 16-bit
      mov ax, DATA3
      mov es, ax
      mov gs, ax
      push dword USER_SS
      push dword 0x12345ff0
      push dword 0x002
      push dword USER_CS
      push dword ADDR(user) - 0x10000
      iretd                     ; the first time: descriptors not accessed, the generic path
    user:
      mov ebx, esp
      int 0x80
      mov ecx, esp
      cli
    handler:
      iretd                     ; the same return, now on the fast path
    `, { exceptionExits: 1 << 13 });
    expect(m.cpu.exitVector()).toBe(13);
    expect(m.eip).toBe(m.sym("handler") - 1 - 0x10000);
    expect(m.ebx).toBe(0x0007_5ff0); // SP from the frame, the rest from ESP = 0x7ffec
    expect(m.ecx).toBe(0x0006_5ff0); // likewise from the ring-0 ESP 0x6ffec
    expect(m.cpu.segment(CS)).toEqual({ selector: 0x4b, base: 0x10000, limit: 0xffff, attr: 0x40fb });
    expect(m.cpu.segment(SS)).toEqual({ selector: 0x53, base: 0x20000, limit: 0xffff, attr: 0xf3 });
    expect(m.cpu.segment(DS).selector).toBe(0); // DATA0 (DPL 0) dropped
    expect(m.cpu.segment(ES).selector).toBe(0x23); // DATA3 kept
    expect(m.cpu.segment(GS).selector).toBe(0x23);
  });

  it("IRET beyond the target's code-segment limit raises #GP(0) and changes nothing", () => {
    const m = runSnippet(`
USER_CS equ 0x4b
      gate 0x80, handler, 0xEE
      descriptor USER_CS, 0x10000, 0x0fff, 0xfb, 0x4
      ${ACCESSED}
      push dword DATA3
      push dword STACK_TOP - 0x1000
      push dword 0x002
      push dword USER_CS
      push dword 0x1000         ; one byte past the limit
    fault:
      iretd
    handler:
      hlt
    `, { exceptionExits: 1 << 13 });
    expect(m.cpu.exitVector()).toBe(13);
    expect(m.cpu.exitErrorCode()).toBe(0);
    expect(m.eip).toBe(m.sym("fault"));
    expect(m.cpl).toBe(0);
    expect(m.esp).toBe(0x80000 - 20);
  });

  it("IRET whose frame straddles a page boundary returns as from one page", () => {
    const m = runSnippet(`
      ${ACCESSED}
      mov esp, 0x7f004
      pushfd
      push dword CODE0
      push dword after
      iretd                     ; pops 0x7eff8-0x7f003
    after:
      mov ebx, esp
      hlt
    `);
    expect(m.ebx).toBe(0x7f004);
    expect(m.eip).toBe(m.sym("after") + 3);
  });

  it("IRET at CPL 3 that sets AC turns alignment checking on for the next access", () => {
    const m = runSnippet(`
      mov eax, cr0
      or eax, 1 << 18           ; CR0.AM
      mov cr0, eax
      ${TO_RING3}
    user:
      pushfd
      or dword [esp], 1 << 18   ; AC
      push dword CODE3
      push dword aligned
      iretd
    aligned:
      mov eax, [esp + 1]
      hlt
    `, { exceptionExits: 1 << 17 });
    expect(m.cpu.exitVector()).toBe(17);
    expect(m.eip).toBe(m.sym("aligned"));
  });
});
