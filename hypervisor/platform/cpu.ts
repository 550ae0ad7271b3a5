// hypervisor/platform/cpu.ts — the CPU as TypeScript sees it: build/core.wasm behind one small class.
//
// The core keeps every register at a fixed offset of its linear memory
// (core/layout.ts) and machine RAM in one flat range of it, so this class is
// mostly views: a Uint32Array over the state block and a Uint8Array over
// RAM, read and written in place, with no call across the wasm boundary. The
// hot path (`run`) calls the export directly. The views are rebuilt whenever
// the wasm memory has grown (allocating a ROM can grow it), since growth
// detaches the old ArrayBuffer. Values read from the Uint32Array are
// unsigned already; values computed with JavaScript's bitwise operators are
// brought back to unsigned with `>>> 0`.
//
// The exit protocol (core/layout.ts, "The I/O log"): run() returns
// EXIT_IO or EXIT_MMIO with the instruction not yet executed; for an input
// the host calls setExitData(value), for an output it performs the write;
// then it calls run() again, which completes the instruction.
//
// Host writes into guest RAM go through the core (hostWritePhysical) so the
// core sees every one; reads may use the RAM view directly.

import { instantiateSync } from "@assemblyscript/loader";
import * as L from "../../core/layout.js";

/** The exports of build/core.wasm this class uses. */
export interface CoreExports {
  memory: { readonly buffer: ArrayBuffer };
  createMachine(ramBytes: number): number;
  allocateRom(romBytes: number): number;
  reset(): void;
  run(budget: number): number;
  hostScratch(): number;
  hostScratchSize(): number;
  hostTranslate(linear: number, access: number): bigint;
  hostReadVirtual(linear: number, len: number, dst: number, access: number): number;
  hostWriteVirtual(linear: number, len: number, src: number, access: number): number;
  hostWritePhysical(pa: number, len: number, src: number): number;
  hostSyncPaging(): boolean | number;
  hostMemoryMapChanged(): void;
  hostFlushTlbAll(): void;
}

/** A segment register: selector and hidden descriptor cache (core/layout.ts). */
export interface Segment {
  selector: number;
  base: number;
  limit: number;
  /** Descriptor bits 40-55 shifted down by 8 (access byte in 0-7, flags in 12-15); bit 16: unusable. */
  attr: number;
}

/** The flat protected-mode state a loader leaves (hypervisor/platform/boot.ts ProtectedModeEntry). */
export interface FlatEntry {
  eip: number;
  eax: number;
  ebx: number;
  esp: number;
  eflags: number;
  cr0: number;
  gdtr: { base: number; limit: number };
  code: Segment;
  data: Segment;
}

/** Segment register numbers, in the SDM's order (core/layout.ts SEG_*). */
export const ES = L.SEG_ES, CS = L.SEG_CS, SS = L.SEG_SS, DS = L.SEG_DS, FS = L.SEG_FS, GS = L.SEG_GS;
export const LDTR = L.SEG_LDTR, TR = L.SEG_TR;

const REG_NAMES = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"] as const;

/** Where build/core.wasm is, seen from this module (TypeScript sources or build/js). */
export function coreWasmUrl(): URL {
  const here = import.meta.url;
  return here.includes("/build/js/") ? new URL("../../../core.wasm", here) : new URL("../../build/core.wasm", here);
}

/** Reads build/core.wasm: from the file system under Node, with fetch in a browser. */
export async function readCoreWasm(url: URL = coreWasmUrl()): Promise<Uint8Array> {
  if (url.protocol === "file:") {
    const { readFile } = await import("node:fs/promises");
    return new Uint8Array(await readFile(url));
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot load ${url.href}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

export class Cpu {
  readonly core: CoreExports;
  /** Bytes of machine RAM. */
  readonly ramBytes: number;
  private buffer: ArrayBuffer | null = null;
  private stateView!: Uint32Array;
  private ramView!: Uint8Array;
  private ramBase: number;

  /** Instantiates the core from its wasm bytes and creates a machine with `ramBytes` of RAM (a multiple of 4 KiB). */
  static create(wasm: Uint8Array, ramBytes: number = L.DEFAULT_RAM_BYTES): Cpu {
    const { exports } = instantiateSync<Record<string, unknown>>(wasm, {});
    return new Cpu(exports as unknown as CoreExports, ramBytes);
  }

  /** Reads build/core.wasm (see readCoreWasm) and creates a machine. */
  static async load(ramBytes: number = L.DEFAULT_RAM_BYTES, url?: URL): Promise<Cpu> {
    return Cpu.create(await readCoreWasm(url), ramBytes);
  }

  private constructor(core: CoreExports, ramBytes: number) {
    this.core = core;
    const base = core.createMachine(ramBytes) >>> 0;
    if (base === 0) throw new Error(`cannot create a machine with ${ramBytes} bytes of RAM (a multiple of 4 KiB, once)`);
    this.ramBase = base;
    this.ramBytes = ramBytes;
    this.views();
  }

  /** Rebuilds the views if the wasm memory grew since they were made. */
  private views(): void {
    const buffer = this.core.memory.buffer;
    if (buffer === this.buffer) return;
    this.buffer = buffer;
    this.stateView = new Uint32Array(buffer, 0, L.STATE_SIZE / 4);
    this.ramView = new Uint8Array(buffer, this.ramBase, this.ramBytes);
  }

  /** The state block as 32-bit words: index = layout offset / 4. */
  get state(): Uint32Array {
    this.views();
    return this.stateView;
  }

  /** Machine RAM, from physical address 0; read freely, write through `write`. */
  get ram(): Uint8Array {
    this.views();
    return this.ramView;
  }

  /** The 32-bit word at a layout offset. */
  word(offset: number): number {
    return this.state[offset >>> 2] >>> 0;
  }

  setWord(offset: number, value: number): void {
    this.state[offset >>> 2] = value >>> 0;
  }

  // ------------------------------------------------------------ registers

  get eax(): number { return this.word(L.REG_EAX); }
  set eax(v: number) { this.setWord(L.REG_EAX, v); }
  get ecx(): number { return this.word(L.REG_ECX); }
  set ecx(v: number) { this.setWord(L.REG_ECX, v); }
  get edx(): number { return this.word(L.REG_EDX); }
  set edx(v: number) { this.setWord(L.REG_EDX, v); }
  get ebx(): number { return this.word(L.REG_EBX); }
  set ebx(v: number) { this.setWord(L.REG_EBX, v); }
  get esp(): number { return this.word(L.REG_ESP); }
  set esp(v: number) { this.setWord(L.REG_ESP, v); }
  get ebp(): number { return this.word(L.REG_EBP); }
  set ebp(v: number) { this.setWord(L.REG_EBP, v); }
  get esi(): number { return this.word(L.REG_ESI); }
  set esi(v: number) { this.setWord(L.REG_ESI, v); }
  get edi(): number { return this.word(L.REG_EDI); }
  set edi(v: number) { this.setWord(L.REG_EDI, v); }
  get eip(): number { return this.word(L.REG_EIP); }
  set eip(v: number) { this.setWord(L.REG_EIP, v); }
  /** EFLAGS as stored (bit 1 always set). */
  get eflags(): number { return this.word(L.REG_EFLAGS); }
  set eflags(v: number) { this.setWord(L.REG_EFLAGS, (v | 2) >>> 0); }
  get cr0(): number { return this.word(L.REG_CR0); }
  set cr0(v: number) { this.setWord(L.REG_CR0, v); }
  get cr2(): number { return this.word(L.REG_CR2); }
  set cr2(v: number) { this.setWord(L.REG_CR2, v); }
  get cr3(): number { return this.word(L.REG_CR3); }
  set cr3(v: number) { this.setWord(L.REG_CR3, v); }
  get cr4(): number { return this.word(L.REG_CR4); }
  set cr4(v: number) { this.setWord(L.REG_CR4, v); }
  get cpl(): number { return this.word(L.REG_CPL); }
  set cpl(v: number) { this.setWord(L.REG_CPL, v & 3); }

  /** A general register by its encoding number (0 eax … 7 edi). */
  reg(n: number): number {
    return this.word(L.REG_EAX + n * 4);
  }

  setReg(n: number, v: number): void {
    this.setWord(L.REG_EAX + n * 4, v);
  }

  /** The eight general registers by name, for tests and traces. */
  registers(): Record<(typeof REG_NAMES)[number], number> {
    const out = {} as Record<(typeof REG_NAMES)[number], number>;
    REG_NAMES.forEach((name, i) => (out[name] = this.reg(i)));
    return out;
  }

  segment(sreg: number): Segment {
    const at = L.SEG_BASE + sreg * L.SEG_RECORD_SIZE;
    return {
      selector: this.word(at + L.SEG_SELECTOR),
      base: this.word(at + L.SEG_BASE_ADDR),
      limit: this.word(at + L.SEG_LIMIT),
      attr: this.word(at + L.SEG_ATTR),
    };
  }

  setSegment(sreg: number, seg: Segment): void {
    const at = L.SEG_BASE + sreg * L.SEG_RECORD_SIZE;
    this.setWord(at + L.SEG_SELECTOR, seg.selector);
    this.setWord(at + L.SEG_BASE_ADDR, seg.base);
    this.setWord(at + L.SEG_LIMIT, seg.limit);
    this.setWord(at + L.SEG_ATTR, seg.attr);
  }

  /** GDTR or IDTR. */
  table(idt: boolean): { base: number; limit: number } {
    return idt
      ? { base: this.word(L.REG_IDTR_BASE), limit: this.word(L.REG_IDTR_LIMIT) }
      : { base: this.word(L.REG_GDTR_BASE), limit: this.word(L.REG_GDTR_LIMIT) };
  }

  setTable(idt: boolean, base: number, limit: number): void {
    this.setWord(idt ? L.REG_IDTR_BASE : L.REG_GDTR_BASE, base);
    this.setWord(idt ? L.REG_IDTR_LIMIT : L.REG_GDTR_LIMIT, limit);
  }

  /** Instructions retired since the machine was created (INSN_COUNT). */
  instructions(): number {
    return this.word(L.INSN_COUNT) + this.word(L.INSN_COUNT + 4) * 2 ** 32;
  }

  /** The time-stamp counter. */
  tsc(): bigint {
    return (BigInt(this.word(L.REG_TSC + 4)) << 32n) | BigInt(this.word(L.REG_TSC));
  }

  // ------------------------------------------------------------ running

  /** Power-up state (SDM Vol. 3A Table 9-1); RAM is kept. */
  reset(): void {
    this.core.reset();
  }

  /** Executes at most `budget` instructions; returns the exit reason (core/layout.ts EXIT_*). */
  run(budget: number): number {
    return this.core.run(budget) >>> 0;
  }

  exitReason(): number { return this.word(L.EXIT_REASON); }
  exitVector(): number { return this.word(L.EXIT_VECTOR); }
  /** The exception's error code, or -1 when it has none. */
  exitErrorCode(): number { return this.state[L.EXIT_ERROR_CODE >>> 2] === 0xffffffff ? -1 : this.word(L.EXIT_ERROR_CODE); }
  exitPort(): number { return this.word(L.EXIT_PORT); }
  exitSize(): 1 | 2 | 4 { return this.word(L.EXIT_SIZE) as 1 | 2 | 4; }
  /** True for an input (IN, INS, an MMIO load): the host answers with setExitData before the next run. */
  exitIsInput(): boolean { return this.word(L.EXIT_DIRECTION) === 1; }
  exitData(): number { return this.word(L.EXIT_DATA); }
  setExitData(value: number): void { this.setWord(L.EXIT_DATA, value); }
  /** The physical address of an MMIO exit, or the faulting linear address of a #PF exit. */
  exitAddress(): number { return this.word(L.EXIT_ADDRESS); }
  exitInsnLength(): number { return this.word(L.EXIT_INSN_LENGTH); }

  /** Bit v set: exception v exits with EXIT_EXCEPTION instead of going through the IDT. */
  get exceptionExitBitmap(): number { return this.word(L.EXCEPTION_EXIT_BITMAP); }
  set exceptionExitBitmap(bits: number) { this.setWord(L.EXCEPTION_EXIT_BITMAP, bits); }

  /** The INTR line: asserted with a vector, dropped by the core when it takes the interrupt. */
  intrPending(): boolean { return this.word(L.INTR_PENDING) !== 0; }
  setIntr(pending: boolean, vector: number): void {
    this.setWord(L.INTR_VECTOR, vector & 0xff);
    this.setWord(L.INTR_PENDING, pending ? 1 : 0);
  }

  halted(): boolean { return this.word(L.HALTED) !== 0; }
  interruptsEnabled(): boolean { return (this.eflags & 0x200) !== 0; }

  // ------------------------------------------------------------ memory map

  /** Opens or closes the A20 gate. */
  setA20(enabled: boolean): void {
    this.setWord(L.A20_ENABLED, enabled ? 1 : 0);
    this.core.hostMemoryMapChanged();
  }

  /** Maps a ROM image (whole 64 KiB blocks, at most 1 MiB, once) below 4 GiB and, its last 64 KiB, at 0xF0000. */
  loadRom(rom: Uint8Array): void {
    const size = this.word(L.MACHINE_ROM_SIZE);
    if (size === 0) {
      if (rom.length === 0 || rom.length % 0x10000 !== 0 || rom.length > 0x100000) {
        throw new Error(`a ROM is whole 64 KiB blocks up to 1 MiB, not ${rom.length} bytes`);
      }
      if (this.core.allocateRom(rom.length) === 0) throw new Error("cannot allocate the ROM");
    } else if (size !== rom.length) {
      throw new Error(`the ROM is ${size} bytes; a new image must be the same size, not ${rom.length}`);
    }
    const base = this.word(L.MACHINE_ROM_BASE);
    this.views();
    new Uint8Array(this.core.memory.buffer, base, rom.length).set(rom);
    this.core.hostMemoryMapChanged();
  }

  /** Claims [first, last] (physical, outside RAM) as MMIO: accesses there exit with EXIT_MMIO. */
  claimMmio(first: number, last: number): void {
    const n = this.word(L.MMIO_COUNT);
    if (n >= L.MMIO_MAX) throw new Error(`at most ${L.MMIO_MAX} MMIO ranges`);
    if (first >>> 0 < this.ramBytes || last >>> 0 < first >>> 0) {
      throw new Error(`an MMIO range lies above RAM: ${first.toString(16)}-${last.toString(16)}`);
    }
    this.setWord(L.MMIO_RANGES + n * 8, first);
    this.setWord(L.MMIO_RANGES + n * 8 + 4, last);
    this.setWord(L.MMIO_COUNT, n + 1);
    this.core.hostMemoryMapChanged();
  }

  // ------------------------------------------------------------ guest memory

  /** Copies `bytes` to physical address `pa` in RAM, through the core. */
  write(pa: number, bytes: Uint8Array): void {
    const scratch = this.core.hostScratch() >>> 0;
    const chunk = this.core.hostScratchSize() >>> 0;
    for (let done = 0; done < bytes.length; done += chunk) {
      const part = bytes.subarray(done, done + chunk);
      new Uint8Array(this.core.memory.buffer, scratch, part.length).set(part);
      if (this.core.hostWritePhysical(pa + done, part.length, scratch) < 0) {
        throw new Error(`physical write outside RAM at ${(pa + done).toString(16)}`);
      }
    }
  }

  /** Sets `length` bytes of RAM from `pa` to `value`. */
  fill(pa: number, length: number, value: number): void {
    const chunk = Math.min(length, this.core.hostScratchSize() >>> 0);
    const block = new Uint8Array(chunk).fill(value);
    for (let done = 0; done < length; done += chunk) this.write(pa + done, block.subarray(0, Math.min(chunk, length - done)));
  }

  /** A copy of `length` bytes of RAM from physical `pa`. */
  read(pa: number, length: number): Uint8Array {
    return this.ram.slice(pa, pa + length);
  }

  /** Reads guest-virtual memory through the current paging; null when a page faults. */
  readVirtual(linear: number, length: number, user = false): Uint8Array | null {
    const scratch = this.core.hostScratch() >>> 0;
    const chunk = this.core.hostScratchSize() >>> 0;
    const out = new Uint8Array(length);
    for (let done = 0; done < length; done += chunk) {
      const n = Math.min(chunk, length - done);
      if (this.core.hostReadVirtual((linear + done) >>> 0, n, scratch, user ? 2 : 0) !== n) return null;
      out.set(new Uint8Array(this.core.memory.buffer, scratch, n), done);
    }
    return out;
  }

  /** Writes guest-virtual memory through the current paging; false when a page faults. */
  writeVirtual(linear: number, bytes: Uint8Array, user = false): boolean {
    const scratch = this.core.hostScratch() >>> 0;
    const chunk = this.core.hostScratchSize() >>> 0;
    for (let done = 0; done < bytes.length; done += chunk) {
      const part = bytes.subarray(done, done + chunk);
      new Uint8Array(this.core.memory.buffer, scratch, part.length).set(part);
      if (this.core.hostWriteVirtual((linear + done) >>> 0, part.length, scratch, user ? 2 : 0) !== part.length) return false;
    }
    return true;
  }

  // ------------------------------------------------------------ whole state

  /** Loads the state a multiboot or ELF loader leaves: flat protected mode at the entry point. */
  enterProtectedMode(entry: FlatEntry): void {
    this.core.reset();
    this.eax = entry.eax;
    this.ebx = entry.ebx;
    this.esp = entry.esp;
    this.eip = entry.eip;
    this.eflags = entry.eflags;
    this.cr0 = entry.cr0;
    this.setTable(false, entry.gdtr.base, entry.gdtr.limit);
    this.setSegment(CS, entry.code);
    for (const sreg of [ES, SS, DS, FS, GS]) this.setSegment(sreg, entry.data);
    this.cpl = entry.code.selector & 3;
    this.core.hostSyncPaging();
  }

  /** The architectural state (SAVED_STATE_SIZE bytes of the state block). */
  saveState(): Uint8Array {
    return new Uint8Array(this.core.memory.buffer, 0, L.SAVED_STATE_SIZE).slice();
  }

  /**
   * Restores a state saveState produced (RAM is the caller's to restore).
   * Where this machine's RAM and ROM live is kept; then the core reloads
   * what it derives from the state (TLB, PDPTE registers, memory map).
   */
  restoreState(bytes: Uint8Array): void {
    if (bytes.length !== L.SAVED_STATE_SIZE) throw new Error(`a saved state is ${L.SAVED_STATE_SIZE} bytes, not ${bytes.length}`);
    const machine = new Uint32Array(4);
    for (let i = 0; i < 4; i++) machine[i] = this.word(L.MACHINE_RAM_BASE + i * 4);
    new Uint8Array(this.core.memory.buffer, 0, L.SAVED_STATE_SIZE).set(bytes);
    for (let i = 0; i < 4; i++) this.setWord(L.MACHINE_RAM_BASE + i * 4, machine[i]);
    this.core.hostMemoryMapChanged();
    this.core.hostSyncPaging();
  }
}
