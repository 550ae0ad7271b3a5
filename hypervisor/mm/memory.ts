// hypervisor/mm/memory.ts — machine memory as the memory manager sees it.
//
// Page tables, the M2P table and every frame the allocator scrubs live in
// machine RAM, which the core owns (hypervisor/platform/cpu.ts). The memory
// manager reaches it only through this small interface, so its rules can be
// tested over a plain buffer and run unchanged over the core's RAM. Writes
// over the core go through Cpu.write, the one path that lets the core drop
// what it decoded from a frame; reads may use the RAM view directly
// (DESIGN.md, "core/"). Every address handed in is already checked against
// RAM by the caller: these are not guest-facing.

/** Machine RAM from physical address 0. */
export interface MachineMemory {
  /** Bytes of RAM; frames 0 to bytes / 4096 - 1 exist. */
  readonly bytes: number;
  read32(pa: number): number;
  write32(pa: number, value: number): void;
  /** Writes one 8-byte page-table entry in a single store: `lo` at pa, `hi` at pa + 4. */
  write64(pa: number, lo: number, hi: number): void;
  /** Sets `length` bytes from `pa` to `value`. */
  fill(pa: number, length: number, value: number): void;
}

/** Machine memory over a plain buffer (tests, and any RAM the host owns outright). */
export function bufferMemory(ram: Uint8Array): MachineMemory {
  const view = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  return {
    bytes: ram.byteLength,
    read32: (pa) => view.getUint32(pa, true),
    write32: (pa, value) => view.setUint32(pa, value >>> 0, true),
    write64: (pa, lo, hi) => {
      view.setUint32(pa, lo >>> 0, true);
      view.setUint32(pa + 4, hi >>> 0, true);
    },
    fill: (pa, length, value) => {
      ram.fill(value, pa, pa + length);
    },
  };
}

/** What cpuMemory needs of a Cpu (hypervisor/platform/cpu.ts), so this module needs no wasm. */
export interface CoreRam {
  readonly ramBytes: number;
  /** The RAM view; it is rebuilt when the core's memory grows, so it is fetched on every access. */
  readonly ram: Uint8Array;
  write(pa: number, bytes: Uint8Array): void;
  fill(pa: number, length: number, value: number): void;
}

/** Machine memory over the core's RAM: reads from its view, writes through the core. */
export function cpuMemory(cpu: CoreRam): MachineMemory {
  let viewOf: Uint8Array | null = null;
  let view!: DataView;
  const current = (): DataView => {
    const ram = cpu.ram;
    if (ram !== viewOf) {
      viewOf = ram;
      view = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
    }
    return view;
  };
  const scratch = new Uint8Array(8);
  const scratchView = new DataView(scratch.buffer);
  return {
    bytes: cpu.ramBytes,
    read32: (pa) => current().getUint32(pa, true),
    write32: (pa, value) => {
      scratchView.setUint32(0, value >>> 0, true);
      cpu.write(pa, scratch.subarray(0, 4));
    },
    write64: (pa, lo, hi) => {
      scratchView.setUint32(0, lo >>> 0, true);
      scratchView.setUint32(4, hi >>> 0, true);
      cpu.write(pa, scratch);
    },
    fill: (pa, length, value) => cpu.fill(pa, length, value),
  };
}
