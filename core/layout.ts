// core/layout.ts — where the CPU's state lives in linear memory.
//
// One wasm instance is one physical CPU plus the machine memory it sees
// (DESIGN.md, "core/ — the CPU"). Every architectural register sits at a
// fixed byte offset in the first 64 KiB of linear memory, so the host reads
// and writes it through a typed-array view with no call across the wasm
// boundary. This file is both AssemblyScript and TypeScript: plain integer
// constants with no type annotations compile in either, so the two sides
// can never disagree about an offset.
//
// Segment registers keep the hidden descriptor cache the SDM describes
// (Vol. 3A 3.4.3): selector, base, limit and attributes, loaded when the
// selector is and used by every access after.

/** Bytes reserved at the bottom of linear memory for the CPU state (asconfig memoryBase). */
export const STATE_SIZE = 0x10000;

// General registers, 4 bytes each, in ModRM order (eax ecx edx ebx esp ebp esi edi).
export const REG_EAX = 0x00;
export const REG_ECX = 0x04;
export const REG_EDX = 0x08;
export const REG_EBX = 0x0c;
export const REG_ESP = 0x10;
export const REG_EBP = 0x14;
export const REG_ESI = 0x18;
export const REG_EDI = 0x1c;
export const REG_EIP = 0x20;
export const REG_EFLAGS = 0x24;

// Control registers.
export const REG_CR0 = 0x40;
export const REG_CR2 = 0x44;
export const REG_CR3 = 0x48;
export const REG_CR4 = 0x4c;

// Segment registers in the SDM's sreg order (es cs ss ds fs gs), then LDTR
// and TR, each a 16-byte record: selector, base, limit, attributes (the
// descriptor's access byte in bits 0-7 and its flags nibble in bits 12-15,
// as LAR reports them, shifted down by 8).
export const SEG_BASE = 0x80;
export const SEG_RECORD_SIZE = 0x10;
export const SEG_ES = 0;
export const SEG_CS = 1;
export const SEG_SS = 2;
export const SEG_DS = 3;
export const SEG_FS = 4;
export const SEG_GS = 5;
export const SEG_LDTR = 6;
export const SEG_TR = 7;
export const SEG_SELECTOR = 0x0;
export const SEG_BASE_ADDR = 0x4;
export const SEG_LIMIT = 0x8;
export const SEG_ATTR = 0xc;

// Descriptor-table registers: base then limit.
export const REG_GDTR_BASE = 0x100;
export const REG_GDTR_LIMIT = 0x104;
export const REG_IDTR_BASE = 0x108;
export const REG_IDTR_LIMIT = 0x10c;

// Where machine RAM starts in linear memory and how large it is; written by
// the core when the machine is created, read by the host to build its view.
export const MACHINE_RAM_BASE = 0x200;
export const MACHINE_RAM_SIZE = 0x204;

/** Processor signature left in EDX at reset (SDM Vol. 3A 9.1.4): family 6, model 3, stepping 3. */
export const CPU_SIGNATURE = 0x633;

/** The default machine memory (DESIGN.md): 128 MiB. */
export const DEFAULT_RAM_BYTES = 128 * 1024 * 1024;
