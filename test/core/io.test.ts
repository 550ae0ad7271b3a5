// test/core/io.test.ts — port I/O and MMIO: the exit protocol (core/layout.ts,
// "The I/O log"), string I/O, and the I/O permission bitmap (SDM Vol. 1 19.5).

import { describe, expect, it } from "vitest";
import { Machine, runSnippet } from "../support/snippet.js";
import * as L from "../../core/layout.js";

describe("the exit protocol", () => {
  it("IN exits before the instruction and completes on the next run with the host's value", () => {
    const m = new Machine(`
      mov dx, 0x3fd
      in al, dx
    after:
      hlt
    `);
    expect(m.cpu.run(100)).toBe(L.EXIT_IO);
    expect(m.cpu.exitPort()).toBe(0x3fd);
    expect(m.cpu.exitSize()).toBe(1);
    expect(m.cpu.exitIsInput()).toBe(true);
    expect(m.cpu.exitInsnLength()).toBe(1);
    expect(m.eip).toBe(m.sym("after") - 1);
    expect(m.cpu.instructions()).toBe(1);
    m.cpu.setExitData(0x60);
    expect(m.cpu.run(100)).toBe(L.EXIT_HLT);
    expect(m.eax & 0xff).toBe(0x60);
    expect(m.cpu.instructions()).toBe(3);
  });

  it("OUT exits with port, size and data, and the next run completes it without a second exit", () => {
    const m = new Machine(`
      mov eax, 0x12345678
      out 0xe9, al
      mov dx, 0x80
      out dx, ax
      out dx, eax
      hlt
    `);
    const seen: string[] = [];
    for (;;) {
      const reason = m.cpu.run(100);
      if (reason !== L.EXIT_IO) break;
      seen.push(`${m.cpu.exitPort().toString(16)}/${m.cpu.exitSize()}=${m.cpu.exitData().toString(16)}`);
    }
    expect(seen).toEqual(["e9/1=78", "80/2=5678", "80/4=12345678"]);
    expect(m.cpu.instructions()).toBe(6);
  });

  it("REP INSB stores each byte the host gives, one exit per iteration", () => {
    let next = 1;
    const m = runSnippet(`
      cld
      mov edi, 0x30000
      mov ecx, 4
      mov dx, 0x60
      rep insb
      hlt
    `, { inputs: () => next++ });
    expect([m.u8(0x30000), m.u8(0x30001), m.u8(0x30002), m.u8(0x30003)]).toEqual([1, 2, 3, 4]);
    expect(m.edi).toBe(0x30004);
    expect(m.ecx).toBe(0);
  });

  it("REP OUTSW sends each word", () => {
    const m = runSnippet(`
      mov esi, data
      mov ecx, 3
      mov dx, 0x1f0
      rep outsw
      hlt
    data: dw 0x1111, 0x2222, 0x3333
    `);
    expect(m.outputs.map((o) => o.value)).toEqual([0x1111, 0x2222, 0x3333]);
  });

  it("the I/O log is in the saved state: a machine restored between exit and resume completes the IN", () => {
    const m = new Machine(`
      in eax, 0x71
      hlt
    `);
    expect(m.cpu.run(10)).toBe(L.EXIT_IO);
    const saved = m.cpu.saveState();
    const other = new Machine(`
      in eax, 0x71
      hlt
    `);
    other.cpu.restoreState(saved);
    other.cpu.setExitData(0xcafef00d);
    expect(other.cpu.run(10)).toBe(L.EXIT_HLT);
    expect(other.eax).toBe(0xcafef00d);
  });
});

describe("MMIO", () => {
  const claim = (m: Machine) => m.cpu.claimMmio(0xfee00000, 0xfee00fff);

  it("a store into a claimed range exits with EXIT_MMIO and the data", () => {
    const m = runSnippet(`
      mov dword [0xfee000b0], 0
      mov word [0xfee00010], 0xabcd
      hlt
    `, { setup: claim });
    expect(m.outputs).toEqual([
      { port: 0xfee000b0, size: 4, value: 0 },
      { port: 0xfee00010, size: 2, value: 0xabcd },
    ]);
  });

  it("a load takes the host's value", () => {
    const m = runSnippet(`
      mov eax, [0xfee00020]
      hlt
    `, { setup: claim, inputs: { 0xfee00020: 0x14 } });
    expect(m.eax).toBe(0x14);
  });

  it("a read-modify-write exits for the read, then for the write, and completes once", () => {
    const m = new Machine(`
      mov eax, 5
      add [0xfee00080], eax
      hlt
    `, { setup: claim });
    expect(m.cpu.run(10)).toBe(L.EXIT_MMIO);
    expect(m.cpu.exitIsInput()).toBe(true);
    m.cpu.setExitData(10);
    expect(m.cpu.run(10)).toBe(L.EXIT_MMIO);
    expect(m.cpu.exitIsInput()).toBe(false);
    expect(m.cpu.exitData()).toBe(15);
    expect(m.cpu.run(10)).toBe(L.EXIT_HLT);
    expect(m.cpu.instructions()).toBe(3);
  });

  it("outside RAM and any claimed range, reads are open bus and writes vanish", () => {
    const m = runSnippet(`
      mov dword [0xe0000000], 1
      mov eax, [0xe0000000]
      hlt
    `);
    expect(m.eax).toBe(0xffffffff);
  });
});

describe("the I/O permission bitmap", () => {
  const TO_RING3 = `
      push dword DATA3
      push dword STACK_TOP - 0x1000
      push dword 0x002
      push dword CODE3
      push dword user
      iretd
  `;

  it("at CPL 3 with IOPL 0, ports whose bits are clear may be used", () => {
    const m = runSnippet(`
      ${TO_RING3}
    user:
      mov al, 0x41
      out 0xe9, al
      cli
    `, { exceptionExits: 1 << 13 });
    expect(m.outputs).toEqual([{ port: 0xe9, size: 1, value: 0x41 }]);
  });

  it("a set bit refuses the port with #GP(0), for every byte of a wider access", () => {
    const m = runSnippet(`
      or byte [TSS + 0x68 + (0x62 >> 3)], 1 << (0x62 & 7)
      ${TO_RING3}
    user:
      mov dx, 0x61
      in al, dx                 ; 0x61: allowed
      fault: in ax, dx          ; 0x61-0x62: 0x62 is refused
      hlt
    `, { exceptionExits: 1 << 13, inputs: { 0x61: 0x20 } });
    expect(m.cpu.exitVector()).toBe(13);
    expect(m.cpu.exitErrorCode()).toBe(0);
    expect(m.eip).toBe(m.sym("fault"));
    expect(m.eax & 0xff).toBe(0x20);
  });

  it("a bitmap byte beyond the TSS limit counts as set", () => {
    const m = runSnippet(`
      mov word [TSS + 102], 0x2000   ; map base near the end: port 0x400 is past the limit
      ${TO_RING3}
    user:
      in al, 0x10
      mov dx, 0x400
      in al, dx
      hlt
    `, { exceptionExits: 1 << 13, inputs: { 0x10: 1 } });
    expect(m.cpu.exitVector()).toBe(13);
    expect(m.eax & 0xff).toBe(1);
  });

  it("CPL <= IOPL needs no bitmap", () => {
    const m = runSnippet(`
      mov dword [TSS + 102], 0xffff   ; no bitmap at all
      push dword DATA3
      push dword STACK_TOP - 0x1000
      push dword 0x3002             ; IOPL 3
      push dword CODE3
      push dword user
      iretd
    user:
      out 0x80, al
      cli
      hlt
    `, { exceptionExits: 1 << 13 });
    expect(m.outputs.length).toBe(1);
    expect(m.exit).toBe(L.EXIT_EXCEPTION); // HLT at ring 3
  });
});
