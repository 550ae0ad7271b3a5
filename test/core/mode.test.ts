// test/core/mode.test.ts — real mode, the switch to protected mode, and
// virtual-8086 mode with its IOPL-sensitive instructions and its monitor
// (SDM Vol. 3A 9.9, chapter 20).

import { describe, expect, it } from "vitest";
import { Machine, runSnippet } from "../support/snippet.js";
import * as L from "../../core/layout.js";
import { CS, DS, ES, FS, GS, SS } from "../../hypervisor/platform/cpu.js";

describe("real mode", () => {
  it("runs from the reset vector at F000:FFF0 in a ROM", () => {
    const m = new Machine("hlt", { mode: "real", org: 0x7c00 });
    m.cpu.reset();
    const rom = new Uint8Array(0x10000).fill(0xf4);
    // At FFFF0: mov ax, 0x1234; jmp 0:0x7c00 (the snippet's HLT)
    rom.set([0xb8, 0x34, 0x12, 0xea, 0x00, 0x7c, 0x00, 0x00], 0xfff0);
    m.cpu.loadRom(rom);
    expect(m.run()).toBe(L.EXIT_HLT);
    expect(m.eax & 0xffff).toBe(0x1234);
    expect(m.eip).toBe(0x7c01);
    expect(m.cpu.segment(CS)).toMatchObject({ selector: 0, base: 0 });
  });

  it("addresses are DS * 16 + offset", () => {
    const m = runSnippet(`
      mov ax, 0x2000
      mov ds, ax
      mov word [0x10], 0xbeef
      mov bx, [0x10]
      hlt
    `, { mode: "real", org: 0x7c00 });
    expect(m.u16(0x20010)).toBe(0xbeef);
    expect(m.ebx & 0xffff).toBe(0xbeef);
  });

  it("enters protected mode with LGDT, CR0.PE and a far jump, then returns to real mode", () => {
    const m = runSnippet(`
      cli
      lgdt [gdt_desc]
      mov eax, cr0
      or al, 1
      mov cr0, eax
      jmp 0x08:pm
    bits 32
    pm:
      mov ax, 0x10
      mov ds, ax
      mov ss, ax
      mov esp, 0x9000
      mov dword [0x500], 0xc0ffee
      jmp 0x18:pm16             ; 16-bit protected mode, then back to real mode
    bits 16
    pm16:
      mov eax, cr0
      and al, ~1
      mov cr0, eax
      jmp 0:real
    real:
      xor ax, ax
      mov ds, ax
      mov bx, [0x500]
      hlt
    align 8
    gdt:
      dq 0
      dq 0x00cf9a000000ffff     ; 0x08 flat 32-bit code
      dq 0x00cf92000000ffff     ; 0x10 flat data
      dq 0x00009a000000ffff     ; 0x18 16-bit code, 64 KiB
    gdt_desc:
      dw gdt_desc - gdt - 1
      dd gdt
    `, { mode: "real", org: 0x7c00 });
    expect(m.u32(0x500)).toBe(0xc0ffee);
    expect(m.ebx & 0xffff).toBe(0xffee);
    expect(m.cpu.cr0 & 1).toBe(0);
    expect(m.cpu.segment(CS).selector).toBe(0);
  });
});

describe("virtual-8086 mode", () => {
  // The monitor enters v86 with IRETD from ring 0; the v86 task's code is at
  // 0x1000:0 (linear 0x10000 + offset), copied there from \`v86_code\`.
  const enterV86 = (eflags: string, code: string) => `
      gate 13, gp_monitor, 0x8E
      mov esi, v86_code
      mov edi, 0x20000
      mov ecx, v86_end - v86_code
      rep movsb
      push dword 0              ; GS
      push dword 0              ; FS
      push dword 0x2000         ; DS
      push dword 0x2000         ; ES
      push dword 0x3000         ; SS
      push dword 0x1000         ; SP
      push dword ${eflags}
      push dword 0x2000         ; CS
      push dword 0              ; IP
      iretd
    gp_monitor:
      mov ax, DATA0
      mov ds, ax
      mov ebx, [esp]            ; error code
      mov ecx, [esp + 4]        ; IP
      mov edx, [esp + 8]        ; CS
      mov esi, [esp + 12]       ; EFLAGS
      mov edi, [esp + 24]       ; ES
      hlt
    v86_code:
      bits 16
      ${code}
      bits 32
    v86_end:
  `;

  it("IRETD with VM set enters v86 mode at CPL 3 with real-mode segments", () => {
    const m = runSnippet(enterV86("0x20002", `
      mov ax, [0x10]
      mov word [0x12], 0x5678
      mov bx, ds
      cli                       ; IOPL 0: #GP to the monitor
    `), { setup: (mm) => mm.cpu.write(0x20010, new Uint8Array([0x34, 0x12])) });
    expect(m.ebx).toBe(0); // #GP(0)
    expect(m.edx).toBe(0x2000);
    expect(m.esi & 0x20000).toBe(0x20000);
    expect(m.edi).toBe(0x2000);
    expect(m.u16(0x20012)).toBe(0x5678);
    expect(m.cpl).toBe(0);
    // The interrupt from v86 made the data segment registers null.
    expect(m.cpu.segment(ES).selector).toBe(0);
    expect(m.cpu.segment(FS).selector).toBe(0);
    expect(m.cpu.segment(GS).selector).toBe(0);
    expect(m.cpu.segment(DS).selector).toBe(0x10);
    expect(m.cpu.segment(SS).selector).toBe(0x10);
  });

  it("PUSHF, POPF, INT n, IRET, CLI and STI trap to the monitor when IOPL < 3", () => {
    for (const insn of ["pushf", "popf", "int 0x21", "iret", "cli", "sti"]) {
      const m = runSnippet(enterV86("0x20002", `
        nop
        ${insn}
      `));
      expect(m.ecx, insn).toBe(1);
    }
  });

  it("with IOPL 3 they run in v86 mode; INT n goes through the IDT to ring 0", () => {
    const m = runSnippet(`
      gate 0x21, int21, 0xEE
      ${enterV86("0x23002", `
        cli
        sti
        pushf
        pop ax
        int 0x21
        hlt                     ; CPL 3: #GP to the monitor
      `)}
    int21:
      mov ebp, [esp + 8]        ; EFLAGS as pushed
      mov eax, [esp + 32]       ; GS, the last of the v86 segment pushes
      iretd
    `);
    expect(m.ebp & 0x20000).toBe(0x20000);
    expect(m.ecx).toBe(6); // the HLT, after cli, sti, pushf, pop ax (1 byte each) and int 0x21 (2)
  });

  it("a task switch to a TSS with VM set enters v86 mode", () => {
    const m = runSnippet(`
      gate 13, gp_monitor, 0x8E
      mov esi, v86_code
      mov edi, 0x20000
      mov ecx, v86_end - v86_code
      rep movsb
TSS2 equ 0x6000
      mov edi, TSS2
      mov ecx, 26
      xor eax, eax
      rep stosd
      mov dword [TSS2 + 4], 0x70000       ; ESP0
      mov dword [TSS2 + 8], DATA0         ; SS0
      mov dword [TSS2 + 32], 0            ; IP
      mov dword [TSS2 + 36], 0x20002      ; EFLAGS: VM
      mov dword [TSS2 + 56], 0x1000       ; SP
      mov dword [TSS2 + 72], 0x2000       ; ES
      mov dword [TSS2 + 76], 0x2000       ; CS
      mov dword [TSS2 + 80], 0x3000       ; SS
      mov dword [TSS2 + 84], 0x2000       ; DS
      mov word [TSS2 + 102], 0x68
      descriptor 0x40, TSS2, 0x67, 0x89, 0
      jmp 0x40:0
    gp_monitor:
      mov ax, DATA0
      mov ds, ax
      mov ecx, [esp + 4]        ; IP
      mov edx, [esp + 8]        ; CS
      hlt
    v86_code:
      bits 16
      mov ax, ds
      mov [0x40], ax
      cli
      bits 32
    v86_end:
    `);
    expect(m.u16(0x20040)).toBe(0x2000);
    expect(m.edx).toBe(0x2000);
    expect(m.ecx).toBe(5);
  });

  it("IN and OUT in v86 mode consult the I/O bitmap, not IOPL", () => {
    const m = runSnippet(`
      or byte [TSS + 0x68 + (0x70 >> 3)], 1 << (0x70 & 7)
      ${enterV86("0x20002", `
        mov al, 0x55
        out 0x80, al            ; bit clear: allowed at IOPL 0
        out 0x70, al            ; bit set: #GP
      `)}
    `);
    expect(m.outputs).toEqual([{ port: 0x80, size: 1, value: 0x55 }]);
    expect(m.ecx).toBe(4);
  });
});
