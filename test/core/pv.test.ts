// test/core/pv.test.ts — the PV execution mode (core/pv.ts): ring 0 is the host's.
//
// A Xen PV kernel runs in ring 1 and its processes in ring 3; everything
// that would enter ring 0 must reach the hypervisor instead, with what it
// needs to emulate or bounce it (XEN-ABI.md 5.2), except the INT n vectors
// the host marks for direct delivery (the fast system-call trap). The
// system tables are the host's and live at physical addresses, and PAE
// paging takes Xen's 32-on-64 flavour, whose L3 entries carry R/W, U/S and
// A bits that native PAE would reject. Each test starts in ring 0 of the
// snippet machine, builds what it needs, and IRETs to ring 1 or ring 3.

import { describe, expect, it } from "vitest";
import { Machine, STACK_TOP } from "../support/snippet.js";
import * as L from "../../core/layout.js";

const EXC = { EXTERNAL: 0, EXCEPTION: 1, SOFTWARE: 2 };

/** Ring-1 code and data descriptors (XTF-style flat kernel segments) and a ring-1 stack in the TSS. */
const RING1 = `
CODE1 equ 0x41
DATA1 equ 0x49
RING1_STACK equ 0x60000
    descriptor CODE1, 0, 0xfffff, 0xba, 0xc
    descriptor DATA1, 0, 0xfffff, 0xb2, 0xc
    mov dword [TSS + 0x0c], RING1_STACK      ; ESP1
    mov dword [TSS + 0x10], DATA1            ; SS1
`;

/** IRET to ring 1 at `label`. */
const toRing1 = (label: string) => `
    push dword DATA1
    push dword RING1_STACK
    push dword 2
    push dword CODE1
    push dword ${label}
    iretd
`;

/** IRET to ring 3 at `label`. */
const toRing3 = (label: string) => `
    push dword DATA3
    push dword STACK_TOP - 0x1000
    push dword 0x202
    push dword CODE3
    push dword ${label}
    iretd
`;

function pv(source: string, setup?: (m: Machine) => void): Machine {
  const m = new Machine(source, {
    setup: (machine) => {
      machine.cpu.execMode = L.EXEC_PV;
      setup?.(machine);
    },
  });
  m.run();
  return m;
}

describe("PV mode: events that would enter ring 0 exit to the host", () => {
  it("a privileged instruction in ring 1 exits as #GP(0) at the instruction; no IDT entry is used", () => {
    const m = pv(`
      ${RING1}
      ${toRing1("kernel")}
      kernel:
      mov eax, 0x1234
      fault: cli
    `);
    expect(m.exit).toBe(L.EXIT_EXCEPTION);
    expect(m.cpu.exitVector()).toBe(13);
    expect(m.cpu.exitErrorCode()).toBe(0);
    expect(m.cpu.exitEventKind()).toBe(EXC.EXCEPTION);
    expect(m.eip).toBe(m.sym("fault"));
    expect(m.cpl).toBe(1);
    expect(m.esp).toBe(0x60000); // nothing pushed
    expect(m.eax).toBe(0x1234);
  });

  it("INT 0x82 (a hypercall) exits after the instruction with its length, in ring 1", () => {
    const m = pv(`
      ${RING1}
      ${toRing1("kernel")}
      kernel:
      mov eax, 17
      int 0x82
      after:
      hlt
    `);
    expect(m.exit).toBe(L.EXIT_EXCEPTION);
    expect(m.cpu.exitVector()).toBe(0x82);
    expect(m.cpu.exitEventKind()).toBe(EXC.SOFTWARE);
    expect(m.cpu.exitErrorCode()).toBe(-1);
    expect(m.cpu.exitInsnLength()).toBe(2);
    expect(m.eip).toBe(m.sym("after"));
    expect(m.cpl).toBe(1);
    expect(m.eax).toBe(17);
  });

  it("INT 0x80 from ring 3 exits when its vector is not direct", () => {
    const m = pv(`
      ${RING1}
      ${toRing3("user")}
      user:
      int 0x80
      after:
      jmp after
    `);
    expect(m.exit).toBe(L.EXIT_EXCEPTION);
    expect(m.cpu.exitVector()).toBe(0x80);
    expect(m.cpu.exitEventKind()).toBe(EXC.SOFTWARE);
    expect(m.eip).toBe(m.sym("after"));
    expect(m.cpl).toBe(3);
  });

  it("a direct INT 0x80 goes through the host's IDT to the ring-1 handler on the TSS's SS1:ESP1 stack", () => {
    const m = pv(`
      ${RING1}
      mov word [IDT + 0x80 * 8], ADDR(handler) & 0xffff
      mov word [IDT + 0x80 * 8 + 2], CODE1
      mov word [IDT + 0x80 * 8 + 4], 0xef00         ; trap gate, DPL 3
      mov word [IDT + 0x80 * 8 + 6], ADDR(handler) >> 16
      ${toRing3("user")}
      user:
      mov eax, 5
      int 0x80
      back:
      jmp back
      handler:
      mov ebx, eax
      stop: cli                                     ; #GP in ring 1: the host sees the handler ran
    `, (m) => m.cpu.setDirectVector(0x80, true));
    expect(m.exit).toBe(L.EXIT_EXCEPTION);
    expect(m.cpu.exitVector()).toBe(13);
    expect(m.eip).toBe(m.sym("stop"));
    expect(m.cpl).toBe(1);
    expect(m.ebx).toBe(5);
    const frame = 0x60000 - 20;
    expect(m.esp).toBe(frame);
    const dv = new DataView(m.cpu.ram.buffer, m.cpu.ram.byteOffset);
    expect(dv.getUint32(frame, true)).toBe(m.sym("back"));
    expect(dv.getUint32(frame + 4, true)).toBe(0x1b);
    expect(dv.getUint32(frame + 12, true)).toBe(STACK_TOP - 0x1000);
    expect(dv.getUint32(frame + 16, true)).toBe(0x23);
  });

  it("direct INT 0x80 round trips push the same frame each time and IRET back to ring 3", () => {
    const m = pv(`
      ${RING1}
      mov word [IDT + 0x80 * 8], ADDR(handler) & 0xffff
      mov word [IDT + 0x80 * 8 + 2], CODE1
      mov word [IDT + 0x80 * 8 + 4], 0xef00         ; trap gate, DPL 3: IF stays (a ring-1 IRET may not set it)
      mov word [IDT + 0x80 * 8 + 6], ADDR(handler) >> 16
      ${toRing3("user")}
      user:
      int 0x80                                      ; descriptors not yet accessed: the generic path
      mov esi, ebx
      int 0x80                                      ; then the one-pass path
      back:
      mov edi, esp
      stop: cli                                     ; #GP in ring 3 exits
      handler:
      inc ebp
      mov edx, esp
      mov ebx, [esp]                                ; the return EIP
      mov ecx, [esp + 8]                            ; EFLAGS as pushed
      iretd
    `, (m) => m.cpu.setDirectVector(0x80, true));
    expect(m.exit).toBe(L.EXIT_EXCEPTION);
    expect(m.cpu.exitVector()).toBe(13);
    expect(m.eip).toBe(m.sym("stop"));
    expect(m.cpl).toBe(3);
    expect(m.ebp).toBe(2);
    expect(m.esi).toBe(m.sym("user") + 2);
    expect(m.ebx).toBe(m.sym("back"));
    expect(m.ecx & 0x200).toBe(0x200);
    expect(m.flags.IF).toBe(1);
    expect(m.edi).toBe(STACK_TOP - 0x1000);
    expect(m.edx).toBe(0x60000 - 20);
  });

  it("an external interrupt is acknowledged and exits, with nothing delivered", () => {
    const m = pv(`
      ${RING1}
      ${toRing3("user")}
      user:
      spin: jmp spin
    `, (machine) => {
      machine.cpu.setWord(L.INTR_PENDING, 1);
      machine.cpu.setWord(L.INTR_VECTOR, 0x30);
    });
    expect(m.exit).toBe(L.EXIT_EXCEPTION);
    expect(m.cpu.exitEventKind()).toBe(EXC.EXTERNAL);
    expect(m.cpu.exitVector()).toBe(0x30);
    expect(m.cpu.word(L.INTR_PENDING)).toBe(0);
    expect(m.cpl).toBe(3);
    expect(m.eip).toBe(m.sym("spin"));
  });
});

/**
 * PAE in the 32-on-64 flavour, identity for the low 4 MiB through an L3
 * whose entry 0 has P|RW|US|A|D (a native PDPTE with those bits is
 * reserved: MOV CR3 would #GP). L3 entries 1-3 are the test's.
 */
const PAGING = (l3: [number, number, number]) => `
L3 equ 0x200000
L2 equ 0x201000
L2B equ 0x202000
    mov dword [L3], L2 | 0x67
    mov dword [L3 + 8], ${l3[0]}
    mov dword [L3 + 16], ${l3[1]}
    mov dword [L3 + 24], ${l3[2]}
    mov dword [L2], 0x000000e7               ; 2 MiB pages, P|RW|US|A|D|PS
    mov dword [L2 + 8], 0x200000 | 0xe7
    mov dword [L2B], 0x000000e7
    mov eax, cr4
    or eax, 0x20                             ; PAE
    mov cr4, eax
    mov eax, L3
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80010000                       ; PG, WP
    mov cr0, eax
`;

describe("PV mode: PAE paging in Xen's 32-on-64 flavour", () => {
  it("walks L3 entries with R/W, U/S, A and D set, which native PAE refuses at MOV CR3", () => {
    const src = `
      ${PAGING([0, 0, 0])}
      mov eax, [0x1000]
      done: hlt
    `;
    const m = pv(src);
    expect(m.exit).toBe(L.EXIT_HLT);
    expect(m.eip).toBe(m.sym("done") + 1);
    const native = new Machine(src, { exceptionExits: 1 << 13 });
    native.run();
    expect(native.exit).toBe(L.EXIT_EXCEPTION);
    expect(native.cpu.exitVector()).toBe(13);
  });

  it("ignores bits 62:52 of PDEs and PTEs, as a long-mode walk does (native PAE: #PF with RSVD)", () => {
    const src = `
      ${PAGING([0, 0, 0])}
      mov dword [L2 + 4], 0x7ff00000
      mov eax, cr3
      mov cr3, eax
      fault: mov eax, [0x1000]
      done: hlt
    `;
    const m = pv(src);
    expect(m.exit).toBe(L.EXIT_HLT);
    expect(m.eip).toBe(m.sym("done") + 1);
    const native = new Machine(src.replace("mov dword [L3], L2 | 0x67", "mov dword [L3], L2 | 0x01"), { exceptionExits: 1 << 14 });
    native.run();
    expect(native.exit).toBe(L.EXIT_EXCEPTION);
    expect(native.cpu.exitVector()).toBe(14);
    expect(native.cpu.exitErrorCode()).toBe(9);
    expect(native.eip).toBe(native.sym("fault"));
  });

  it("an L3 entry without R/W makes a ring-1 write fault #PF(P|W) under CR0.WP; CR2 is left to the host", () => {
    const m = pv(`
      ${RING1}
      ${PAGING([0x202000 | 0x05, 0, 0])}
      ${toRing1("kernel")}
      kernel:
      mov ax, DATA1                            ; IRET to ring 1 nulled DS (its DPL was 0)
      mov ds, ax
      mov eax, [0x40001000]                    ; reads pass
      fault: mov dword [0x40001000], 1
    `);
    expect(m.exit).toBe(L.EXIT_EXCEPTION);
    expect(m.cpu.exitVector()).toBe(14);
    expect(m.cpu.exitErrorCode()).toBe(3);
    expect(m.cpu.exitAddress()).toBe(0x40001000);
    expect(m.cpu.word(L.REG_CR2)).toBe(0);
    expect(m.eip).toBe(m.sym("fault"));
    // The walk set the L3 entry's accessed bit, as a long-mode walk does.
    expect(m.u8(0x200008) & 0x20).toBe(0x20);
  });

  it("an L3 entry without U/S keeps ring 3 out: #PF(P|U)", () => {
    const m = pv(`
      ${RING1}
      ${PAGING([0x202000 | 0x03, 0, 0])}
      ${toRing3("user")}
      user:
      mov ax, DATA3
      mov ds, ax
      fault: mov eax, [0x40001000]
    `);
    expect(m.cpu.exitVector()).toBe(14);
    expect(m.cpu.exitErrorCode()).toBe(5);
    expect(m.eip).toBe(m.sym("fault"));
  });

  it("a not-present L3 entry gives #PF(0); PS in an L3 entry is reserved: #PF(P|RSVD)", () => {
    const absent = pv(`
      ${PAGING([0, 0, 0])}
      fault: mov eax, [0x80000000]
    `);
    expect(absent.cpu.exitVector()).toBe(14);
    expect(absent.cpu.exitErrorCode()).toBe(0);
    expect(absent.cpu.exitAddress()).toBe(0x80000000);
    const large = pv(`
      ${PAGING([0, 0, 0x202000 | 0x87])}
      fault: mov eax, [0xc0000000]
    `);
    expect(large.cpu.exitVector()).toBe(14);
    expect(large.cpu.exitErrorCode()).toBe(9);
  });

  it("descriptor tables are read at physical addresses the guest's paging does not map", () => {
    // The GDT is copied to 3 MiB, which only the physical view reaches (the
    // paging maps the low 2 MiB, the first L2 slot only); loading DS reads it there.
    const m = pv(`
      ${PAGING([0, 0, 0])}
      mov dword [L2 + 8], 0
      mov eax, cr3
      mov cr3, eax
      mov dword [pointer + 2], 0x300000
      lgdt [pointer]
      mov ax, 0x10
      mov ds, ax
      mov eax, [0x1000]
      done: hlt
      pointer: dw 0xff
      dd 0
    `, (machine) => machine.cpu.write(0x300000, machine.cpu.ram.slice(0x1000, 0x1100)));
    expect(m.exit).toBe(L.EXIT_HLT);
    expect(m.eip).toBe(m.sym("done") + 1);
  });
});

describe("PV mode leaves native mode alone", () => {
  it("the same INT 0x80 from ring 3 goes through the IDT natively, with no exit", () => {
    const m = new Machine(`
      ${RING1}
      gate 0x80, handler, 0xee
      ${toRing3("user")}
      user:
      int 0x80
      handler:
      hlt
    `);
    m.run();
    expect(m.exit).toBe(L.EXIT_HLT);
    expect(m.cpl).toBe(0);
  });
});
