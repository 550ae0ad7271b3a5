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
/** Attribute bit 16: the register holds no usable segment (a null selector
 * loaded in protected mode, or a register a task switch could not load);
 * any access through it faults. VMX calls the same bit "unusable". */
export const SEG_ATTR_UNUSABLE = 0x10000;

// Descriptor-table registers: base then limit.
export const REG_GDTR_BASE = 0x100;
export const REG_GDTR_LIMIT = 0x104;
export const REG_IDTR_BASE = 0x108;
export const REG_IDTR_LIMIT = 0x10c;

/** Current privilege level (0-3), kept beside CS because every check reads it. */
export const REG_CPL = 0x110;

// Debug registers DR0-DR7, 4 bytes each (DR4 and DR5 alias DR6 and DR7).
export const REG_DR0 = 0x120;
export const REG_DR6 = 0x138;
export const REG_DR7 = 0x13c;

// Model-specific registers we model (SDM Vol. 4 Table 2-2), 8 bytes each.
export const MSR_SYSENTER_CS = 0x140;
export const MSR_SYSENTER_ESP = 0x148;
export const MSR_SYSENTER_EIP = 0x150;
export const MSR_EFER = 0x158;
/** The time-stamp counter, u64; RDTSC reads it, WRMSR 0x10 writes it. */
export const REG_TSC = 0x160;
/** Instructions retired since creation, u64 (a REP iteration counts as one). */
export const INSN_COUNT = 0x168;

// Run control: the host writes these between runs.
/** Instructions left in the current `run`; the core counts it down (an event delivered through the IDT counts as one), and leaves the rest here when it returns. */
export const RUN_BUDGET = 0x170;
/** 1: address line 20 follows the address (A20 gate open); 0: it is forced to 0. After changing it the host calls hostMemoryMapChanged. */
export const A20_ENABLED = 0x174;
/** 1 while the CPU is halted (HLT); an accepted interrupt clears it. */
export const HALTED = 0x178;
/** Nonzero for the instruction after STI (1) or MOV SS/POP SS (2): no interrupt is taken before it (after MOV SS, no debug trap either). */
export const INTERRUPT_SHADOW = 0x17c;
/** The INTR line: 1 while the host asserts it, with the vector it will supply at acknowledge. */
export const INTR_PENDING = 0x1b0;
export const INTR_VECTOR = 0x1b4;
/** Bit v set: exception v exits to the host (EXIT_EXCEPTION) instead of going through the IDT. */
export const EXCEPTION_EXIT_BITMAP = 0x1b8;
/** Execution mode (EXEC_NATIVE now; EXEC_PV, EXEC_HVM in later issues). */
export const EXEC_MODE = 0x1c0;
/** MMU translation source (TRANSLATE_PLAIN now; shadow and hap later). */
export const TRANSLATION = 0x1c4;

// The exit-info block: why `run` returned, and what the host must complete.
export const EXIT_REASON = 0x180;
/** Exception vector (EXIT_EXCEPTION). */
export const EXIT_VECTOR = 0x184;
/** Exception error code, or 0xFFFFFFFF when the exception has none. */
export const EXIT_ERROR_CODE = 0x188;
/** I/O port (EXIT_IO). */
export const EXIT_PORT = 0x18c;
/** Access size in bytes: 1, 2 or 4 (EXIT_IO, EXIT_MMIO). */
export const EXIT_SIZE = 0x190;
/** 0: out / write (data in EXIT_DATA); 1: in / read (the host puts the data in EXIT_DATA before the next run). */
export const EXIT_DIRECTION = 0x194;
export const EXIT_DATA = 0x198;
/** Physical address (EXIT_MMIO) or faulting linear address (EXIT_EXCEPTION with #PF). */
export const EXIT_ADDRESS = 0x19c;
/** Control register number (later: HVM CR exits). */
export const EXIT_CR = 0x1a0;
/** Length of the instruction that exited, in bytes. */
export const EXIT_INSN_LENGTH = 0x1a4;

// Exit reasons returned by run().
/** The budget is spent; the state is at an instruction boundary. */
export const EXIT_BUDGET = 0;
/** HLT retired (EIP after it) and HALTED is 1; run() returns at once until an interrupt is taken. */
export const EXIT_HLT = 1;
/** A port access waits for the host; the instruction has not executed (see "The I/O log"). */
export const EXIT_IO = 2;
/** An access to a claimed MMIO range waits for the host, likewise. */
export const EXIT_MMIO = 3;
/**
 * An exception in EXCEPTION_EXIT_BITMAP, instead of its delivery: the state
 * is what the handler would have been entered with, before the push — EIP
 * at the faulting instruction for a fault, after the instruction for a trap
 * (INT3, INTO, INT1, single-step); CR2 is not written.
 */
export const EXIT_EXCEPTION = 4;
/** Triple fault: the processor shuts down (SDM Vol. 3A 6.15, interrupt 8). */
export const EXIT_SHUTDOWN = 5;

// Execution modes and translation sources (DESIGN.md).
export const EXEC_NATIVE = 0;
export const EXEC_PV = 1;
export const EXEC_HVM = 2;
export const TRANSLATE_PLAIN = 0;
export const TRANSLATE_SHADOW = 1;
export const TRANSLATE_HAP = 2;

// Where machine RAM starts in linear memory and how large it is; written by
// the core when the machine is created, read by the host to build its view.
export const MACHINE_RAM_BASE = 0x200;
export const MACHINE_RAM_SIZE = 0x204;
/** The ROM: where its bytes are in linear memory and how many (a multiple of 64 KiB, at most 1 MiB).
 * It answers reads at the top of the 4 GiB space and, for its last 64 KiB, at 0xF0000. */
export const MACHINE_ROM_BASE = 0x208;
export const MACHINE_ROM_SIZE = 0x20c;

// The I/O log: how an exit for I/O or MMIO is completed.
//
// An IN, OUT, INS or OUTS, or a load or store that reaches a physical
// address inside a claimed MMIO range, stops the instruction before it
// changes any architectural state and returns EXIT_IO or EXIT_MMIO with
// the port or address, the size, the direction and, for an output, the
// data. EIP still points at the instruction and INSN_COUNT has not moved.
// The core appends the access to this log. The host performs an output,
// or puts the input value in EXIT_DATA, and calls run() again: the core
// takes EXIT_DATA into the log entry (IO_LOG_AWAITING says one waits for
// it), then executes the same instruction once more, and this time every
// access the log holds is answered from the log in order (an input gets
// the logged value, an output is not repeated) instead of exiting. An
// instruction with several such accesses (a MOVS from one device register
// to another, an ADD on an MMIO dword) exits once per access, each exit
// one entry longer. The log empties when the instruction retires (for a
// REP string instruction: when the iteration does) or faults; no interrupt
// is taken while it holds entries. The log is part of the saved state, so
// a machine saved between the exit and the next run() resumes correctly. A
// host that completes or abandons the instruction itself (it moved EIP)
// sets IO_LOG_COUNT to 0 first.
/** Entries in the log for the instruction in progress. */
export const IO_LOG_COUNT = 0x210;
/** 1 when the last entry is an input whose value the next run() takes from EXIT_DATA. */
export const IO_LOG_AWAITING = 0x214;
/** The entries, IO_LOG_ENTRY_SIZE bytes each: port or physical address, kind, data. */
export const IO_LOG = 0x220;
export const IO_LOG_ENTRY_SIZE = 12;
export const IO_LOG_MAX = 16;
/** Entry kind: the size in bytes (1, 2, 4) OR-ed with these bits. */
export const IO_LOG_INPUT = 0x100;
export const IO_LOG_MMIO = 0x200;

/** MMIO ranges the host claims: a count, then up to MMIO_MAX pairs (first, last) of physical addresses. */
export const MMIO_COUNT = 0x2fc;
export const MMIO_RANGES = 0x300;
export const MMIO_MAX = 16;

/** Bytes of the architectural state that save/restore copies (everything above is host-side bookkeeping). */
export const SAVED_STATE_SIZE = 0x400;

/** Processor signature left in EDX at reset (SDM Vol. 3A 9.1.4): family 6, model 3, stepping 3. */
export const CPU_SIGNATURE = 0x633;

/** The default machine memory (DESIGN.md): 128 MiB. */
export const DEFAULT_RAM_BYTES = 128 * 1024 * 1024;
