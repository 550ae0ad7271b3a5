// test/core/emulate.test.ts — one instruction for the host (core/emulate.ts):
// I/O under a virtual IOPL, writes to read-only pages handed to the host,
// CPUID answered by the host, and events that exit instead of being
// delivered. Each test runs a snippet to the instruction a hypervisor would
// emulate (usually through the fault it takes first), then plays the host:
// emulateOne, complete the exit, emulateOne again.

import { describe, expect, it } from "vitest";
import { Machine } from "../support/snippet.js";
import { CS, Cpu } from "../../hypervisor/platform/cpu.js";
import * as L from "../../core/layout.js";

const IO = Cpu.EMULATE_IO_PERMITTED;
const WRITES = Cpu.EMULATE_WRITES_TO_HOST;
const CPUID = Cpu.EMULATE_CPUID_EXIT;

const DE = 0, DB = 1, UD = 6, GP = 13, PF = 14;
const PF_P = 1, PF_W = 2, PF_U = 4;

// Paging-structure bits and the control-register bits the tests set.
const P = 1, RW = 2, US = 4, PS = 0x80;
const CR0_WP = 1 << 16;
const CR0_PG = 0x80000000;
const CR4_PSE = 1 << 4;
const CR4_PAE = 1 << 5;

// The address space the write tests run in: 0-4 MiB identity-mapped,
// user and writable, but for these pages.
/** Read-only (user) at linear RO, backed by frame RO_FRAME: linear and physical differ. */
const RO = 0x300000;
const RO_FRAME = 0x380000;
/** The next page, read-only too, backed by a frame that does not follow RO_FRAME. */
const RO2 = 0x301000;
const RO2_FRAME = 0x390000;
/** Not present. */
const ABSENT = 0x302000;
/** Writable, supervisor only. */
const SUPERVISOR = 0x303000;
/** A read-only large page: 4 MiB at frame 0x400000 (32-bit paging) or 2 MiB at 0x600000 (PAE). */
const LARGE = 0xc00000;
const LARGE_FRAME_32 = 0x400000;
const LARGE_FRAME_PAE = 0x600000;
// Where the paging structures are (all above 4 MiB).
const PD32 = 0x7f0000;
const PT32 = 0x7f1000;
const PDPT = 0x7f2000;
const PD_PAE = 0x7f3000;
const PT_PAE_LOW = 0x7f4000;
const PT_PAE_HIGH = 0x7f5000;

const RAM = 8 << 20;

type Paging = "32-bit" | "pae";

/** The PTE of a 4 KiB linear page below 4 MiB, as the tests map them. */
function pte(linear: number): number {
  switch (linear) {
    case RO: return RO_FRAME | P | US;
    case RO2: return RO2_FRAME | P | US;
    case ABSENT: return 0;
    case SUPERVISOR: return SUPERVISOR | P | RW;
    default: return linear | P | RW | US;
  }
}

/** Builds the page tables and turns paging on with CR0.WP, as a host would (then hostSyncPaging). */
function enablePaging(m: Machine, paging: Paging): void {
  const cpu = m.cpu;
  const table = (entries: number, bytes: 4 | 8, entry: (i: number) => number): Uint8Array => {
    const view = new DataView(new ArrayBuffer(entries * bytes));
    for (let i = 0; i < entries; i++) view.setUint32(i * bytes, entry(i) >>> 0, true);
    return new Uint8Array(view.buffer);
  };
  if (paging === "32-bit") {
    cpu.write(PT32, table(1024, 4, (i) => pte(i << 12)));
    cpu.write(PD32, table(1024, 4, (i) =>
      i === 0 ? PT32 | P | RW | US : i === LARGE >>> 22 ? LARGE_FRAME_32 | P | US | PS : 0));
    cpu.cr3 = PD32;
    cpu.cr4 = cpu.cr4 | CR4_PSE;
  } else {
    cpu.write(PT_PAE_LOW, table(512, 8, (i) => pte(i << 12)));
    cpu.write(PT_PAE_HIGH, table(512, 8, (i) => pte(0x200000 + (i << 12))));
    cpu.write(PD_PAE, table(512, 8, (i) =>
      i === 0 ? PT_PAE_LOW | P | RW | US : i === 1 ? PT_PAE_HIGH | P | RW | US
        : i === LARGE >>> 21 ? LARGE_FRAME_PAE | P | US | PS : 0));
    cpu.write(PDPT, table(4, 8, (i) => (i === 0 ? PD_PAE | P : 0)));
    cpu.cr3 = PDPT;
    cpu.cr4 = cpu.cr4 | CR4_PAE;
  }
  cpu.cr0 = (cpu.cr0 | CR0_PG | CR0_WP) >>> 0;
  expect(cpu.core.hostSyncPaging()).toBeTruthy();
}

function le32(value: number): number[] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24];
}

/** A machine with 8 MiB of RAM and the paged address space above, with `init` written to physical memory first. */
function pagedMachine(source: string, paging: Paging = "32-bit", init: Record<number, number> = {}, exceptionExits = 1 << PF): Machine {
  return new Machine(source, {
    ram: RAM,
    exceptionExits,
    setup: (m) => {
      for (const [pa, value] of Object.entries(init)) m.cpu.write(Number(pa), Uint8Array.from(le32(value)));
      enablePaging(m, paging);
    },
  });
}

/** Runs one instruction at a time until EIP is at `label`. */
function runTo(m: Machine, label: string): void {
  const target = m.sym(label);
  for (let i = 0; i < 100 && m.eip !== target; i++) expect(m.cpu.run(1)).toBe(L.EXIT_BUDGET);
  expect(m.eip).toBe(target);
}

/** The host's side of a write intercept: writes the bytes the guest wrote, where it wrote them. */
function hostWrites(m: Machine): void {
  m.cpu.write(m.cpu.exitAddress(), m.cpu.exitWriteBytes());
}

// IRET to ring 3 nulls DS and ES, whose DPL 0 is below CPL 3 (SDM Vol. 2A
// "IRET"), so the user code loads ring-3 data selectors first.
const TO_RING3 = `
    push dword DATA3
    push dword STACK_TOP - 0x1000
    push dword 0x002              ; IOPL 0
    push dword CODE3
    push dword user
    iretd
user:
    mov bx, DATA3
    mov ds, bx
    mov es, bx
`;

describe("I/O under a virtual IOPL (EMULATE_IO_PERMITTED)", () => {
  // The TSS's I/O map base beyond its limit: every port is refused at CPL 3 with IOPL 0.
  const NO_BITMAP = "mov word [TSS + 102], 0xffff";

  it("OUT at ring 3 faults #GP(0); emulated, it exits with port, size and data, then retires", () => {
    const m = new Machine(`
      ${NO_BITMAP}
      ${TO_RING3}
      mov al, 0x41
    fault:
      out 0xe9, al
    after:
      hlt
    `, { exceptionExits: 1 << GP });
    expect(m.run()).toBe(L.EXIT_EXCEPTION);
    expect([m.cpu.exitVector(), m.cpu.exitErrorCode(), m.eip]).toEqual([GP, 0, m.sym("fault")]);
    const count = m.cpu.instructions();
    const tsc = m.cpu.tsc();

    expect(m.cpu.emulateOne(IO)).toBe(L.EXIT_IO);
    expect([m.cpu.exitPort(), m.cpu.exitSize(), m.cpu.exitIsInput(), m.cpu.exitData()]).toEqual([0xe9, 1, false, 0x41]);
    expect(m.eip).toBe(m.sym("fault"));
    expect(m.cpu.instructions()).toBe(count);

    expect(m.cpu.emulateOne(IO)).toBe(L.EXIT_BUDGET);
    expect(m.eip).toBe(m.sym("after"));
    expect(m.cpl).toBe(3);
    expect(m.cpu.instructions()).toBe(count + 1);
    expect(m.cpu.tsc()).toBe(tsc + 1n);
  });

  it("without the flag the same OUT reports #GP(0) and changes nothing", () => {
    const m = new Machine(`
      ${NO_BITMAP}
      ${TO_RING3}
      mov al, 0x41
    fault:
      out 0xe9, al
      hlt
    `, { exceptionExits: 1 << GP });
    m.run();
    const esp = m.esp;
    const count = m.cpu.instructions();
    m.cpu.exceptionExitBitmap = 0; // emulation never delivers, whatever the bitmap says
    expect(m.cpu.emulateOne(0)).toBe(L.EXIT_EXCEPTION);
    expect([m.cpu.exitVector(), m.cpu.exitErrorCode()]).toEqual([GP, 0]);
    expect([m.eip, m.esp, m.cpl, m.cpu.instructions()]).toEqual([m.sym("fault"), esp, 3, count]);
    expect(m.cpu.segment(CS).selector).toBe(0x1b);
  });

  it("IN takes the host's value into AX and keeps the rest of EAX", () => {
    const m = new Machine(`
      ${NO_BITMAP}
      ${TO_RING3}
      mov eax, 0x12345678
      mov dx, 0x60
    fault:
      in ax, dx
    after:
      hlt
    `, { exceptionExits: 1 << GP });
    m.run();
    expect(m.eip).toBe(m.sym("fault"));
    expect(m.cpu.emulateOne(IO)).toBe(L.EXIT_IO);
    expect([m.cpu.exitPort(), m.cpu.exitSize(), m.cpu.exitIsInput()]).toEqual([0x60, 2, true]);
    m.cpu.setExitData(0xbeef);
    expect(m.cpu.emulateOne(IO)).toBe(L.EXIT_BUDGET);
    expect(m.eax).toBe(0x1234beef);
    expect(m.eip).toBe(m.sym("after"));
  });

  it("OUTSB sends the byte at DS:ESI and advances ESI", () => {
    const m = new Machine(`
      ${NO_BITMAP}
      ${TO_RING3}
      cld
      mov esi, data
      mov dx, 0x3f8
    fault:
      outsb
    after:
      hlt
    data: db 0x5a
    `, { exceptionExits: 1 << GP });
    m.run();
    expect(m.eip).toBe(m.sym("fault"));
    const count = m.cpu.instructions();
    expect(m.cpu.emulateOne(IO)).toBe(L.EXIT_IO);
    expect([m.cpu.exitPort(), m.cpu.exitSize(), m.cpu.exitIsInput(), m.cpu.exitData()]).toEqual([0x3f8, 1, false, 0x5a]);
    expect(m.esi).toBe(m.sym("data"));
    expect(m.cpu.emulateOne(IO)).toBe(L.EXIT_BUDGET);
    expect(m.esi).toBe(m.sym("data") + 1);
    expect(m.eip).toBe(m.sym("after"));
    expect(m.cpu.instructions()).toBe(count + 1);
  });

  it("INSB stores the host's byte at ES:EDI and advances EDI", () => {
    const m = new Machine(`
      ${NO_BITMAP}
      ${TO_RING3}
      cld
      mov edi, 0x30000
      mov dx, 0x60
    fault:
      insb
    after:
      hlt
    `, { exceptionExits: 1 << GP });
    m.run();
    expect(m.eip).toBe(m.sym("fault"));
    expect(m.cpu.emulateOne(IO)).toBe(L.EXIT_IO);
    expect([m.cpu.exitPort(), m.cpu.exitSize(), m.cpu.exitIsInput()]).toEqual([0x60, 1, true]);
    expect(m.u8(0x30000)).toBe(0);
    m.cpu.setExitData(0xa5);
    expect(m.cpu.emulateOne(IO)).toBe(L.EXIT_BUDGET);
    expect(m.u8(0x30000)).toBe(0xa5);
    expect(m.edi).toBe(0x30001);
    expect(m.eip).toBe(m.sym("after"));
  });
});

describe("exits completed as after run()", () => {
  it("an MMIO load exits, takes the host's value on the next call and retires", () => {
    const m = new Machine(`
    at:
      mov eax, [0xfee00020]
    after:
      hlt
    `, { setup: (m) => m.cpu.claimMmio(0xfee00000, 0xfee00fff) });
    expect(m.cpu.emulateOne(0)).toBe(L.EXIT_MMIO);
    expect([m.cpu.exitAddress(), m.cpu.exitSize(), m.cpu.exitIsInput(), m.eip]).toEqual([0xfee00020, 4, true, m.sym("at")]);
    m.cpu.setExitData(0x14);
    expect(m.cpu.emulateOne(0)).toBe(L.EXIT_BUDGET);
    expect([m.eax, m.eip, m.cpu.instructions()]).toEqual([0x14, m.sym("after"), 1]);
  });

  it("REP OUTSB is one iteration per call, EIP staying on it until the count runs out", () => {
    const m = new Machine(`
      cld
      mov esi, data
      mov ecx, 2
      mov dx, 0x80
    at:
      rep outsb
    after:
      hlt
    data: db 0x11, 0x22
    `);
    runTo(m, "at");
    const sent: number[] = [];
    for (const expected of [m.sym("at"), m.sym("after")]) {
      expect(m.cpu.emulateOne(0)).toBe(L.EXIT_IO);
      sent.push(m.cpu.exitData());
      expect(m.cpu.emulateOne(0)).toBe(L.EXIT_BUDGET);
      expect(m.eip).toBe(expected);
    }
    expect(sent).toEqual([0x11, 0x22]);
    expect(m.ecx).toBe(0);
  });
});

describe("writes to read-only pages go to the host (EMULATE_WRITES_TO_HOST)", () => {
  it("a ring-0 MOV faults #PF(P|W) under CR0.WP; emulated, it exits with the physical and linear address, size and data", () => {
    const m = pagedMachine(`
      mov eax, 0x11223344
    fault:
      mov [${RO + 0x10}], eax
    after:
      hlt
    `, "32-bit", { [RO_FRAME + 0x10]: 0x0badf00d });
    expect(m.run()).toBe(L.EXIT_EXCEPTION);
    expect([m.cpu.exitVector(), m.cpu.exitErrorCode(), m.cpu.exitAddress()]).toEqual([PF, PF_P | PF_W, RO + 0x10]);
    expect(m.eip).toBe(m.sym("fault"));
    const count = m.cpu.instructions();

    expect(m.cpu.emulateOne(WRITES)).toBe(L.EXIT_WRITE_INTERCEPT);
    expect(m.cpu.exitAddress()).toBe(RO_FRAME + 0x10);
    expect(m.cpu.exitLinear()).toBe(RO + 0x10);
    expect(m.cpu.exitData()).toBe(0x11223344);
    expect([...m.cpu.exitWriteBytes()]).toEqual([0x44, 0x33, 0x22, 0x11]);
    expect(m.cpu.exitInsnLength()).toBe(5); // A3 and a 32-bit offset
    expect(m.u32(RO_FRAME + 0x10)).toBe(0x0badf00d); // RAM waits for the host
    expect([m.eip, m.cpu.instructions(), m.cpu.cr2]).toEqual([m.sym("fault"), count, 0]);

    hostWrites(m);
    expect(m.cpu.emulateOne(WRITES)).toBe(L.EXIT_BUDGET);
    expect(m.eip).toBe(m.sym("after"));
    expect(m.cpu.instructions()).toBe(count + 1);
    expect(m.u32(RO_FRAME + 0x10)).toBe(0x11223344);
    expect(m.run()).toBe(L.EXIT_HLT);
  });

  it("a ring-3 MOV faults #PF(P|W|U); emulated, it exits the same way", () => {
    const m = pagedMachine(`
      ${TO_RING3}
      mov eax, 0xcafe0001
    fault:
      mov [${RO + 0x10}], eax
    after:
      hlt
    `);
    m.run();
    expect([m.cpu.exitVector(), m.cpu.exitErrorCode(), m.eip, m.cpl]).toEqual([PF, PF_P | PF_W | PF_U, m.sym("fault"), 3]);
    expect(m.cpu.emulateOne(WRITES)).toBe(L.EXIT_WRITE_INTERCEPT);
    expect([m.cpu.exitAddress(), m.cpu.exitLinear(), m.cpu.exitData()]).toEqual([RO_FRAME + 0x10, RO + 0x10, 0xcafe0001]);
    hostWrites(m);
    expect(m.cpu.emulateOne(WRITES)).toBe(L.EXIT_BUDGET);
    expect(m.eip).toBe(m.sym("after"));
    expect(m.u32(RO_FRAME + 0x10)).toBe(0xcafe0001);
  });

  it("a MOV byte is a write of one byte", () => {
    const m = pagedMachine(`
    fault:
      mov byte [${RO + 0x23}], 0x7e
      hlt
    `, "32-bit", { [RO_FRAME + 0x20]: 0x44332211 });
    m.run();
    expect(m.cpu.emulateOne(WRITES)).toBe(L.EXIT_WRITE_INTERCEPT);
    expect([m.cpu.exitAddress(), m.cpu.exitLinear(), m.cpu.exitSize()]).toEqual([RO_FRAME + 0x23, RO + 0x23, 1]);
    expect([...m.cpu.exitWriteBytes()]).toEqual([0x7e]);
    hostWrites(m);
    expect(m.cpu.emulateOne(WRITES)).toBe(L.EXIT_BUDGET);
    expect(m.u32(RO_FRAME + 0x20)).toBe(0x7e332211);
  });

  it("the host may refuse: called again without writing, the instruction retires and RAM keeps its value", () => {
    const m = pagedMachine(`
    fault:
      mov dword [${RO}], 0x99999999
    after:
      hlt
    `, "32-bit", { [RO_FRAME]: 0x1067 });
    m.run();
    expect(m.cpu.emulateOne(WRITES)).toBe(L.EXIT_WRITE_INTERCEPT);
    expect(m.cpu.emulateOne(WRITES)).toBe(L.EXIT_BUDGET);
    expect(m.eip).toBe(m.sym("after"));
    expect(m.u32(RO_FRAME)).toBe(0x1067);
  });

  it("the TLB keeps no write right: the next write to the page faults again under run()", () => {
    const m = pagedMachine(`
      mov eax, 1
    fault:
      mov [${RO + 0x10}], eax
    again:
      mov [${RO + 0x14}], eax
      hlt
    `);
    m.run();
    expect(m.cpu.emulateOne(WRITES)).toBe(L.EXIT_WRITE_INTERCEPT);
    hostWrites(m);
    expect(m.cpu.emulateOne(WRITES)).toBe(L.EXIT_BUDGET);
    expect(m.run()).toBe(L.EXIT_EXCEPTION);
    expect([m.cpu.exitVector(), m.cpu.exitErrorCode(), m.eip]).toEqual([PF, PF_P | PF_W, m.sym("again")]);
  });

  it("XCHG writes the register and returns the old entry, though the host wrote the new one before it completed", () => {
    const m = pagedMachine(`
      mov eax, 0x12345678
    fault:
      xchg [${RO + 0x20}], eax
    after:
      hlt
    `, "32-bit", { [RO_FRAME + 0x20]: 0xaaaa5555 });
    m.run();
    expect(m.cpu.emulateOne(WRITES)).toBe(L.EXIT_WRITE_INTERCEPT);
    expect([m.cpu.exitAddress(), m.cpu.exitSize(), m.cpu.exitData()]).toEqual([RO_FRAME + 0x20, 4, 0x12345678]);
    expect(m.eax).toBe(0x12345678);
    hostWrites(m);
    expect(m.cpu.emulateOne(WRITES)).toBe(L.EXIT_BUDGET);
    expect(m.eax).toBe(0xaaaa5555);
    expect(m.u32(RO_FRAME + 0x20)).toBe(0x12345678);
    expect(m.eip).toBe(m.sym("after"));
  });

  it("CMPXCHG with the accumulator equal to the entry writes the source and sets ZF", () => {
    const m = pagedMachine(`
      mov eax, 0x1111
      mov ecx, 0x2222
    fault:
      lock cmpxchg [${RO + 0x30}], ecx
    after:
      hlt
    `, "32-bit", { [RO_FRAME + 0x30]: 0x1111 });
    m.run();
    expect(m.eip).toBe(m.sym("fault"));
    expect(m.cpu.emulateOne(WRITES)).toBe(L.EXIT_WRITE_INTERCEPT);
    expect([m.cpu.exitAddress(), m.cpu.exitData()]).toEqual([RO_FRAME + 0x30, 0x2222]);
    hostWrites(m);
    expect(m.cpu.emulateOne(WRITES)).toBe(L.EXIT_BUDGET);
    expect(m.flags.ZF).toBe(1);
    expect(m.eax).toBe(0x1111);
    expect(m.u32(RO_FRAME + 0x30)).toBe(0x2222);
  });

  it("CMPXCHG with the accumulator unequal still writes, the old value back (SDM Vol. 2A CMPXCHG), and loads it into EAX", () => {
    const m = pagedMachine(`
      mov eax, 0x9999
      mov ecx, 0x2222
    fault:
      lock cmpxchg [${RO + 0x30}], ecx
    after:
      hlt
    `, "32-bit", { [RO_FRAME + 0x30]: 0x1111 });
    m.run();
    expect(m.cpu.emulateOne(WRITES)).toBe(L.EXIT_WRITE_INTERCEPT);
    expect([m.cpu.exitAddress(), m.cpu.exitData()]).toEqual([RO_FRAME + 0x30, 0x1111]);
    expect(m.eax).toBe(0x9999);
    hostWrites(m);
    expect(m.cpu.emulateOne(WRITES)).toBe(L.EXIT_BUDGET);
    expect(m.flags.ZF).toBe(0);
    expect(m.eax).toBe(0x1111);
    expect(m.eip).toBe(m.sym("after"));
  });

  it("CMPXCHG8B on a PAE entry is one exit of 8 bytes, never two halves", () => {
    const m = pagedMachine(`
      mov eax, 0x12345067
      xor edx, edx
      mov ebx, 0x0abcd067
      mov ecx, 0x80000000           ; the new entry has XD set
    fault:
      lock cmpxchg8b [${RO + 0x40}]
    after:
      hlt
    `, "pae", { [RO_FRAME + 0x40]: 0x12345067, [RO_FRAME + 0x44]: 0 });
    m.run();
    expect([m.cpu.exitVector(), m.cpu.exitErrorCode(), m.eip]).toEqual([PF, PF_P | PF_W, m.sym("fault")]);
    expect(m.cpu.emulateOne(WRITES)).toBe(L.EXIT_WRITE_INTERCEPT);
    expect([m.cpu.exitAddress(), m.cpu.exitLinear(), m.cpu.exitData(), m.cpu.exitDataHigh()])
      .toEqual([RO_FRAME + 0x40, RO + 0x40, 0x0abcd067, 0x80000000]);
    expect([...m.cpu.exitWriteBytes()]).toEqual([0x67, 0xd0, 0xbc, 0x0a, 0, 0, 0, 0x80]);
    expect([m.u32(RO_FRAME + 0x40), m.u32(RO_FRAME + 0x44)]).toEqual([0x12345067, 0]);
    hostWrites(m);
    expect(m.cpu.emulateOne(WRITES)).toBe(L.EXIT_BUDGET);
    expect(m.flags.ZF).toBe(1);
    expect([m.eax, m.edx]).toEqual([0x12345067, 0]);
    expect([m.u32(RO_FRAME + 0x40), m.u32(RO_FRAME + 0x44)]).toEqual([0x0abcd067, 0x80000000]);
    expect(m.eip).toBe(m.sym("after"));
  });

  it("ADD to a read-only dword computes its result and flags from the value before the host's write", () => {
    const m = pagedMachine(`
    fault:
      add dword [${RO + 0x50}], 1
    after:
      hlt
    `, "32-bit", { [RO_FRAME + 0x50]: 0x7fffffff });
    m.run();
    expect(m.cpu.emulateOne(WRITES)).toBe(L.EXIT_WRITE_INTERCEPT);
    expect(m.cpu.exitData()).toBe(0x80000000);
    hostWrites(m);
    // A second execution that read the host's 0x80000000 would want to write 0x80000001 and exit again.
    expect(m.cpu.emulateOne(WRITES)).toBe(L.EXIT_BUDGET);
    expect(m.flags).toMatchObject({ OF: 1, SF: 1, ZF: 0, CF: 0 });
    expect(m.u32(RO_FRAME + 0x50)).toBe(0x80000000);
  });

  it("a dword that crosses into a second read-only page exits once per page, each with its own frame", () => {
    const m = pagedMachine(`
      mov eax, 0xddccbbaa
    fault:
      mov [${RO + 0xffe}], eax
    after:
      hlt
    `);
    m.run();
    expect(m.cpu.exitAddress()).toBe(RO + 0xffe);
    expect(m.cpu.emulateOne(WRITES)).toBe(L.EXIT_WRITE_INTERCEPT);
    expect([m.cpu.exitAddress(), m.cpu.exitLinear()]).toEqual([RO_FRAME + 0xffe, RO + 0xffe]);
    expect([...m.cpu.exitWriteBytes()]).toEqual([0xaa, 0xbb]);
    hostWrites(m);
    expect(m.cpu.emulateOne(WRITES)).toBe(L.EXIT_WRITE_INTERCEPT);
    expect([m.cpu.exitAddress(), m.cpu.exitLinear()]).toEqual([RO2_FRAME, RO2]);
    expect([...m.cpu.exitWriteBytes()]).toEqual([0xcc, 0xdd]);
    hostWrites(m);
    expect(m.cpu.emulateOne(WRITES)).toBe(L.EXIT_BUDGET);
    expect(m.eip).toBe(m.sym("after"));
    expect([m.u8(RO_FRAME + 0xffe), m.u8(RO_FRAME + 0xfff), m.u8(RO2_FRAME), m.u8(RO2_FRAME + 1)]).toEqual([0xaa, 0xbb, 0xcc, 0xdd]);
  });

  it("a write to a not-present page is still #PF(W), with nothing changed", () => {
    const m = pagedMachine(`
      mov eax, 5
    fault:
      mov [${ABSENT + 8}], eax
      hlt
    `);
    m.run();
    const count = m.cpu.instructions();
    expect(m.cpu.emulateOne(WRITES)).toBe(L.EXIT_EXCEPTION);
    expect([m.cpu.exitVector(), m.cpu.exitErrorCode(), m.cpu.exitAddress()]).toEqual([PF, PF_W, ABSENT + 8]);
    expect([m.eip, m.cpu.instructions(), m.cpu.cr2]).toEqual([m.sym("fault"), count, 0]);
  });

  it("a ring-3 write to a supervisor page is still #PF(P|W|U): only R/W is let through", () => {
    const m = pagedMachine(`
      ${TO_RING3}
    fault:
      mov dword [${SUPERVISOR}], 1
      hlt
    `, "32-bit", { [SUPERVISOR]: 0x77 });
    m.run();
    expect(m.eip).toBe(m.sym("fault"));
    expect(m.cpu.emulateOne(WRITES)).toBe(L.EXIT_EXCEPTION);
    expect([m.cpu.exitVector(), m.cpu.exitErrorCode(), m.cpu.exitAddress()]).toEqual([PF, PF_P | PF_W | PF_U, SUPERVISOR]);
    expect([m.eip, m.u32(SUPERVISOR)]).toEqual([m.sym("fault"), 0x77]);
  });

  it("without the flag the write reports #PF(P|W) and changes nothing", () => {
    const m = pagedMachine(`
    fault:
      mov dword [${RO}], 1
      hlt
    `, "32-bit", { [RO_FRAME]: 0x55 });
    m.run();
    expect(m.cpu.emulateOne(IO | CPUID)).toBe(L.EXIT_EXCEPTION);
    expect([m.cpu.exitVector(), m.cpu.exitErrorCode(), m.cpu.exitAddress()]).toEqual([PF, PF_P | PF_W, RO]);
    expect([m.eip, m.u32(RO_FRAME)]).toEqual([m.sym("fault"), 0x55]);
  });

  it.each([
    ["32-bit paging, a 4 KiB page", "32-bit", RO + 0x124, RO_FRAME + 0x124],
    ["32-bit paging, a 4 MiB page", "32-bit", LARGE + 0x1234, LARGE_FRAME_32 + 0x1234],
    ["PAE paging, a 4 KiB page", "pae", RO + 0x124, RO_FRAME + 0x124],
    ["PAE paging, a 2 MiB page", "pae", LARGE + 0x1234, LARGE_FRAME_PAE + 0x1234],
  ] as const)("%s: the write goes to the host with the frame the walk found", (_name, paging, linear, frame) => {
    const m = pagedMachine(`
    fault:
      mov dword [${linear}], 0x600df00d
    after:
      hlt
    `, paging);
    m.run();
    expect([m.cpu.exitVector(), m.cpu.exitErrorCode()]).toEqual([PF, PF_P | PF_W]);
    expect(m.cpu.emulateOne(WRITES)).toBe(L.EXIT_WRITE_INTERCEPT);
    expect([m.cpu.exitAddress(), m.cpu.exitLinear(), m.cpu.exitData()]).toEqual([frame, linear, 0x600df00d]);
    expect(m.u32(frame)).toBe(0);
    hostWrites(m);
    expect(m.cpu.emulateOne(WRITES)).toBe(L.EXIT_BUDGET);
    expect(m.u32(frame)).toBe(0x600df00d);
    expect(m.eip).toBe(m.sym("after"));
  });
});

describe("CPUID answered by the host (EMULATE_CPUID_EXIT)", () => {
  it("exits with the leaf in EAX, the subleaf in ECX and length 2, then retires with the host's registers", () => {
    const m = new Machine(`
      mov eax, 0x40000000
      mov ecx, 3
    at:
      cpuid
    after:
      hlt
    `);
    runTo(m, "at");
    const count = m.cpu.instructions();
    expect(m.cpu.emulateOne(CPUID)).toBe(L.EXIT_CPUID);
    expect([m.eax, m.ecx, m.cpu.exitInsnLength(), m.eip, m.cpu.instructions()]).toEqual([0x40000000, 3, 2, m.sym("at"), count]);
    m.cpu.eax = 0x40000002;
    m.cpu.ebx = 0x566e6558; // "XenV"
    m.cpu.ecx = 0x65584d4d; // "MMXe"
    m.cpu.edx = 0x4d4d566e; // "nVMM"
    expect(m.cpu.emulateOne(CPUID)).toBe(L.EXIT_BUDGET);
    expect([m.eax, m.ebx, m.ecx, m.edx]).toEqual([0x40000002, 0x566e6558, 0x65584d4d, 0x4d4d566e]);
    expect(m.eip).toBe(m.sym("after"));
    expect(m.cpu.instructions()).toBe(count + 1);
  });

  it("without the flag CPUID answers from the core's CPU model", () => {
    const m = new Machine(`
      xor eax, eax
    at:
      cpuid
      hlt
    `);
    runTo(m, "at");
    expect(m.cpu.emulateOne(IO | WRITES)).toBe(L.EXIT_BUDGET);
    expect([m.ebx, m.edx, m.ecx]).toEqual([0x756e6547, 0x49656e69, 0x6c65746e]); // "GenuineIntel"
  });

  it("the forced-emulation prefix: #UD, the host steps over `ud2; xen` and the CPUID after it exits to the host", () => {
    const m = new Machine(`
      mov eax, 1
      xor ecx, ecx
    forced:
      ud2
      db "xen"
      cpuid
    after:
      hlt
    `, { exceptionExits: 1 << UD });
    expect(m.run()).toBe(L.EXIT_EXCEPTION);
    expect([m.cpu.exitVector(), m.eip]).toEqual([UD, m.sym("forced")]);
    // The host matches the signature (it decodes nothing) and moves EIP past it.
    const prefix = m.cpu.readVirtual((m.cpu.segment(CS).base + m.eip) >>> 0, 5);
    expect([...prefix!]).toEqual([0x0f, 0x0b, 0x78, 0x65, 0x6e]);
    m.cpu.eip = m.eip + 5;
    expect(m.cpu.emulateOne(CPUID)).toBe(L.EXIT_CPUID);
    expect([m.eax, m.ecx, m.cpu.exitInsnLength()]).toEqual([1, 0, 2]);
    // As a VT-x VMM does: the host fills the registers, moves EIP itself and drops the exited instruction.
    m.cpu.eax = 0x633;
    m.cpu.ebx = 0;
    m.cpu.ecx = 0x80000000;
    m.cpu.edx = 0x178bfbff;
    m.cpu.eip = m.eip + m.cpu.exitInsnLength();
    m.cpu.abandonInstruction();
    expect(m.eip).toBe(m.sym("after"));
    expect(m.run()).toBe(L.EXIT_HLT);
    expect([m.eax, m.ebx, m.ecx, m.edx]).toEqual([0x633, 0, 0x80000000, 0x178bfbff]);
  });
});

describe("events of an emulated instruction exit, never through the IDT", () => {
  it("a fault (#DE) returns EXIT_EXCEPTION with nothing changed and enters no handler, whatever the exit bitmap says", () => {
    const m = new Machine(`
      gate 0, handler, 0x8E
      xor ecx, ecx
    fault:
      div ecx
      hlt
    handler:
      mov dword [0x30000], 0xdead
      hlt
    `);
    runTo(m, "fault");
    const esp = m.esp;
    const count = m.cpu.instructions();
    expect(m.cpu.emulateOne(IO | WRITES | CPUID)).toBe(L.EXIT_EXCEPTION);
    expect([m.cpu.exitVector(), m.cpu.exitErrorCode()]).toEqual([DE, -1]);
    expect([m.eip, m.esp, m.cpu.instructions(), m.u32(0x30000)]).toEqual([m.sym("fault"), esp, count, 0]);
    // The gate is there: run() delivers the same fault through it.
    expect(m.run()).toBe(L.EXIT_HLT);
    expect(m.u32(0x30000)).toBe(0xdead);
  });

  it("INT n exits with its vector after the instruction retired and enters no handler", () => {
    const m = new Machine(`
      gate 0x80, handler, 0x8E
    at:
      int 0x80
    after:
      hlt
    handler:
      mov dword [0x30000], 1
      hlt
    `);
    runTo(m, "at");
    const esp = m.esp;
    const count = m.cpu.instructions();
    expect(m.cpu.emulateOne(0)).toBe(L.EXIT_EXCEPTION);
    expect([m.cpu.exitVector(), m.cpu.exitErrorCode()]).toEqual([0x80, -1]);
    expect([m.eip, m.esp, m.cpu.instructions(), m.u32(0x30000)]).toEqual([m.sym("after"), esp, count + 1, 0]);
  });

  it("HLT retires and reports EXIT_HLT without waiting for an interrupt", () => {
    const m = new Machine(`
    at:
      hlt
    after:
      nop
    `);
    expect(m.cpu.emulateOne(0)).toBe(L.EXIT_HLT);
    expect(m.eip).toBe(m.sym("after"));
    expect(m.cpu.halted()).toBe(true);
    expect(m.cpu.instructions()).toBe(1);
  });

  it("an asserted interrupt is not taken and stays asserted", () => {
    const m = new Machine(`
      gate 0x20, handler, 0x8E
      sti
      nop
    at:
      mov eax, 5
    after:
      hlt
    handler:
      mov dword [0x30000], 1
      hlt
    `);
    runTo(m, "at");
    m.cpu.setIntr(true, 0x20);
    expect(m.cpu.emulateOne(0)).toBe(L.EXIT_BUDGET);
    expect([m.eax, m.eip, m.u32(0x30000)]).toEqual([5, m.sym("after"), 0]);
    expect(m.cpu.intrPending()).toBe(true);
    expect(m.run()).toBe(L.EXIT_HLT);
    expect(m.u32(0x30000)).toBe(1);
  });

  it("with TF set the instruction retires and exits with the single-step #DB after it", () => {
    const m = new Machine(`
      pushfd
      or dword [esp], 0x100
      popfd
    at:
      mov eax, 7
    after:
      hlt
    `);
    runTo(m, "at");
    const esp = m.esp;
    expect(m.cpu.emulateOne(0)).toBe(L.EXIT_EXCEPTION);
    expect([m.cpu.exitVector(), m.cpu.exitErrorCode()]).toEqual([DB, -1]);
    expect([m.eax, m.eip, m.esp]).toEqual([7, m.sym("after"), esp]);
    expect(m.cpu.word(L.REG_DR6) & (1 << 14)).not.toBe(0); // DR6.BS
  });
});
