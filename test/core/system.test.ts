// test/core/system.test.ts — CPUID, MSRs, the TSC, SYSENTER/SYSEXIT, control
// registers, privileged instructions, the FPU escape, invalid opcodes and
// LOCK, and the instruction-length limit.

import { describe, expect, it } from "vitest";
import { runSnippet } from "../support/snippet.js";
import * as L from "../../core/layout.js";
import { CS, SS } from "../../hypervisor/platform/cpu.js";

const TO_RING3 = `
    push dword DATA3
    push dword STACK_TOP - 0x1000
    push dword 0x002
    push dword CODE3
    push dword user
    iretd
`;

/** The exception exit an instruction at label `fault` should produce. */
function expectFault(m: ReturnType<typeof runSnippet>, vector: number, code?: number): void {
  expect(m.exit).toBe(L.EXIT_EXCEPTION);
  expect(m.cpu.exitVector()).toBe(vector);
  if (code !== undefined) expect(m.cpu.exitErrorCode()).toBe(code);
  if (m.symbols.has("fault")) expect(m.eip).toBe(m.sym("fault"));
}

const ALL_EXITS = 0xffffffff;

describe("CPUID", () => {
  it("says GenuineIntel, family 6 model 3 stepping 3, and exactly the implemented features", () => {
    const m = runSnippet(`
      xor eax, eax
      cpuid
      mov [0x500], ebx
      mov [0x504], edx
      mov [0x508], ecx
      mov [0x50c], eax
      mov eax, 1
      cpuid
      mov [0x510], eax
      mov [0x514], edx
      mov [0x518], ecx
      mov eax, 0x80000001
      cpuid
      mov [0x51c], edx
      hlt
    `);
    expect(Buffer.from(m.cpu.read(0x500, 12)).toString("latin1")).toBe("GenuineIntel");
    expect(m.u32(0x50c)).toBe(1);
    expect(m.u32(0x510)).toBe(L.CPU_SIGNATURE);
    // PSE TSC MSR PAE CX8 SEP PGE CMOV; no FPU, VME, DE, MCE, APIC.
    expect(m.u32(0x514)).toBe((1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 8) | (1 << 11) | (1 << 13) | (1 << 15));
    expect(m.u32(0x518)).toBe(0);
    expect(m.u32(0x51c)).toBe(1 << 20);
  });
});

describe("MSRs and the TSC", () => {
  it("WRMSR and RDMSR reach SYSENTER_CS/ESP/EIP and EFER.NXE", () => {
    const m = runSnippet(`
      mov ecx, 0x174
      mov eax, 0x08
      xor edx, edx
      wrmsr
      mov ecx, 0x176
      mov eax, 0xc0001000
      wrmsr
      rdmsr
      mov ebx, eax
      mov ecx, 0xc0000080
      mov eax, 1 << 11
      wrmsr
      rdmsr
      mov esi, eax
      hlt
    `);
    expect(m.ebx).toBe(0xc0001000);
    expect(m.esi).toBe(0x800);
    expect(m.cpu.word(L.MSR_SYSENTER_CS)).toBe(8);
  });

  it("an unknown MSR, or a reserved EFER bit, raises #GP(0)", () => {
    expectFault(runSnippet(`
      mov ecx, 0x1b             ; IA32_APIC_BASE: no local APIC here
      fault: rdmsr
    `, { exceptionExits: ALL_EXITS }), 13, 0);
    expectFault(runSnippet(`
      mov ecx, 0xc0000080
      mov eax, 1 << 8           ; LME
      xor edx, edx
      fault: wrmsr
    `, { exceptionExits: ALL_EXITS }), 13, 0);
  });

  it("RDMSR at CPL 3 raises #GP(0)", () => {
    expectFault(runSnippet(`
      ${TO_RING3}
    user:
      mov ecx, 0x10
      fault: rdmsr
    `, { exceptionExits: ALL_EXITS }), 13, 0);
  });

  it("WRMSR to 0x10 sets the TSC, which counts on from there as instructions retire", () => {
    const m = runSnippet(`
      mov ecx, 0x10
      mov eax, 1000
      mov edx, 1
      wrmsr
      rdtsc
      hlt
    `);
    expect(m.eax).toBe(1001); // the WRMSR itself retired after the write
    expect(m.edx).toBe(1);
  });

  it("CR4.TSD makes RDTSC #GP(0) outside ring 0", () => {
    expectFault(runSnippet(`
      mov eax, cr4
      or eax, 4
      mov cr4, eax
      ${TO_RING3}
    user:
      fault: rdtsc
    `, { exceptionExits: ALL_EXITS }), 13, 0);
  });
});

describe("SYSENTER and SYSEXIT", () => {
  it("SYSENTER enters ring 0 at SYSENTER_EIP; SYSEXIT returns to ring 3 at EDX with ESP = ECX", () => {
    const m = runSnippet(`
      mov ecx, 0x174
      mov eax, CODE0
      xor edx, edx
      wrmsr
      inc ecx
      mov eax, 0x70000
      wrmsr
      inc ecx
      mov eax, kernel
      wrmsr
      ${TO_RING3}
    user:
      mov ecx, esp
      mov edx, back
      sysenter
    kernel:
      mov esi, cs
      mov edi, ss
      mov ebp, esp
      sysexit
    back:
      mov ebx, cs
      cli
    `, { exceptionExits: 1 << 13 });
    expect(m.esi & 0xffff).toBe(0x08);
    expect(m.edi & 0xffff).toBe(0x10);
    expect(m.ebp).toBe(0x70000);
    expect(m.ebx & 0xffff).toBe(0x1b);
    expect(m.cpu.segment(SS).selector).toBe(0x23);
    expect(m.esp).toBe(0x80000 - 0x1000);
    expect(m.cpl).toBe(3);
  });

  it("SYSENTER with SYSENTER_CS null raises #GP(0); SYSEXIT outside ring 0 too", () => {
    expectFault(runSnippet(`fault: sysenter`, { exceptionExits: ALL_EXITS }), 13, 0);
    expectFault(runSnippet(`
      mov ecx, 0x174
      mov eax, CODE0
      xor edx, edx
      wrmsr
      ${TO_RING3}
    user:
      fault: sysexit
    `, { exceptionExits: ALL_EXITS }), 13, 0);
  });
});

describe("control registers and privileged instructions", () => {
  it("privileged instructions raise #GP(0) at CPL 3", () => {
    for (const insn of ["mov cr0, eax", "mov eax, cr3", "lgdt [0x500]", "lidt [0x500]", "ltr ax", "lldt ax",
      "clts", "hlt", "invlpg [0]", "wbinvd", "mov dr7, eax", "lmsw ax"]) {
      const m = runSnippet(`
        ${TO_RING3}
      user:
        fault: ${insn}
      `, { exceptionExits: ALL_EXITS });
      expect(m.cpu.exitVector(), insn).toBe(13);
      expect(m.eip, insn).toBe(m.sym("fault"));
    }
  });

  it("SGDT, SIDT, SLDT, STR and SMSW run at CPL 3", () => {
    const m = runSnippet(`
      ${TO_RING3}
    user:
      mov ax, DATA3
      mov ds, ax
      sgdt [0x500]
      sidt [0x508]
      str ax
      smsw bx
      sldt cx
      cli
    `, { exceptionExits: 1 << 13 });
    expect(m.u16(0x500)).toBe(0xff);
    expect(m.u32(0x502)).toBe(0x1000);
    expect(m.u32(0x50a)).toBe(0x4800);
    expect(m.eax & 0xffff).toBe(0x28);
    expect(m.ebx & 1).toBe(1);
    expect(m.ecx & 0xffff).toBe(0);
  });

  it("CR1 is #UD; a reserved CR4 bit or PG without PE is #GP(0)", () => {
    expectFault(runSnippet(`fault: mov cr1, eax`, { exceptionExits: ALL_EXITS }), 6);
    expectFault(runSnippet(`
      mov eax, 1 << 9           ; OSFXSR: no SSE here
      fault: mov cr4, eax
    `, { exceptionExits: ALL_EXITS }), 13, 0);
    expectFault(runSnippet(`
      mov eax, 0x80000000
      fault: mov cr0, eax
    `, { exceptionExits: ALL_EXITS }), 13, 0);
  });

  it("CR0.ET reads as 1 whatever is written; CLTS clears TS; LMSW cannot clear PE", () => {
    const m = runSnippet(`
      mov eax, 0x19             ; PE, TS, ET
      mov cr0, eax
      clts
      mov ebx, cr0
      xor ax, ax
      lmsw ax
      mov ecx, cr0
      hlt
    `);
    expect(m.ebx).toBe(0x11);
    expect(m.ecx & 1).toBe(1);
  });

  it("POPF at CPL 3 silently keeps IF and IOPL", () => {
    const m = runSnippet(`
      push dword DATA3
      push dword STACK_TOP - 0x1000
      push dword 0x202
      push dword CODE3
      push dword user
      iretd
    user:
      push dword 0x3cd5         ; IOPL 3, IF 0, the status flags set
      popfd
      pushfd
      pop ebx
      cli                       ; still IOPL 0: #GP
    `, { exceptionExits: 1 << 13 });
    expect(m.ebx & 0x3200).toBe(0x200);
    expect(m.ebx & 0x8d5).toBe(0x8d5);
    expect(m.cpu.exitVector()).toBe(13);
  });
});

describe("invalid opcodes, LOCK and the x87 escape", () => {
  it("UD2, VMCALL, MOV to a test register, UMOV and SYSCALL are #UD", () => {
    for (const bytes of ["0f 0b", "0f 01 c1", "0f 24 c0", "0f 26 c0", "0f 10 c0", "0f 05"]) {
      const db = bytes.split(" ").map((b) => `0x${b}`).join(", ");
      const m = runSnippet(`fault: db ${db}`, { exceptionExits: ALL_EXITS });
      expect(m.cpu.exitVector(), bytes).toBe(6);
      expect(m.eip, bytes).toBe(m.sym("fault"));
    }
  });

  it("LOCK is #UD on a register destination or an instruction that cannot be locked", () => {
    expectFault(runSnippet(`fault: db 0xf0, 0x01, 0xc0`, { exceptionExits: ALL_EXITS }), 6); // lock add eax, eax
    expectFault(runSnippet(`fault: db 0xf0, 0x90`, { exceptionExits: ALL_EXITS }), 6); // lock nop
    expectFault(runSnippet(`fault: db 0xf0, 0x8b, 0x00`, { exceptionExits: ALL_EXITS }), 6); // lock mov eax, [eax]
    const ok = runSnippet(`
      mov dword [0x500], 1
      lock add dword [0x500], 2
      hlt
    `);
    expect(ok.u32(0x500)).toBe(3);
  });

  it("an x87 instruction is #UD, or #NM when CR0.EM or CR0.TS is set; WAIT is #NM with MP and TS", () => {
    expectFault(runSnippet(`fault: db 0xdb, 0xe3         ; fninit`, { exceptionExits: ALL_EXITS }), 6);
    expectFault(runSnippet(`
      mov eax, cr0
      or eax, 4                 ; EM
      mov cr0, eax
      fault: db 0xd9, 0x05      ; fld dword [0x500]
      dd 0x500
    `, { exceptionExits: ALL_EXITS }), 7);
    expectFault(runSnippet(`
      mov eax, cr0
      or eax, 0xa               ; MP, TS
      mov cr0, eax
      fault: wait
    `, { exceptionExits: ALL_EXITS }), 7);
    const m = runSnippet(`
      wait                      ; MP clear: no #NM
      hlt
    `, { exceptionExits: ALL_EXITS });
    expect(m.exit).toBe(L.EXIT_HLT);
  });

  it("an instruction longer than 15 bytes raises #GP(0)", () => {
    const fifteen = runSnippet(`
      times 14 db 0x66
      nop
      hlt
    `, { exceptionExits: ALL_EXITS });
    expect(fifteen.exit).toBe(L.EXIT_HLT);
    expectFault(runSnippet(`
      fault: times 15 db 0x66
      nop
    `, { exceptionExits: ALL_EXITS }), 13, 0);
  });

  it("SALC sets AL from CF", () => {
    const m = runSnippet(`
      stc
      db 0xd6
      mov bl, al
      clc
      db 0xd6
      hlt
    `);
    expect(m.ebx & 0xff).toBe(0xff);
    expect(m.eax & 0xff).toBe(0);
  });
});

describe("the pushed and popped forms of CS and SS", () => {
  it("POP SS with a ring-3 selector at CPL 0 raises #GP(selector)", () => {
    expectFault(runSnippet(`
      push dword DATA3
      fault: pop ss
    `, { exceptionExits: ALL_EXITS }), 13, 0x20);
  });

  it("after a fault nothing moved: ESP and the segment are as before", () => {
    const m = runSnippet(`
      push dword DATA3
      fault: pop ss
    `, { exceptionExits: ALL_EXITS });
    expect(m.esp).toBe(0x80000 - 4);
    expect(m.cpu.segment(SS).selector).toBe(0x10);
    expect(m.cpu.segment(CS).selector).toBe(0x08);
  });
});
