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
/** Execution mode: EXEC_NATIVE, EXEC_PV (core/pv.ts); EXEC_HVM in a later issue. */
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
/** Access size in bytes: 1, 2 or 4 (EXIT_IO, EXIT_MMIO); 1 to 8 (EXIT_WRITE_INTERCEPT). */
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
/** The high dword of an 8-byte write (EXIT_WRITE_INTERCEPT with EXIT_SIZE 8: CMPXCHG8B); 0 otherwise. */
export const EXIT_DATA_HIGH = 0x1a8;
/** The linear address of the write's first byte (EXIT_WRITE_INTERCEPT; EXIT_ADDRESS is its physical address). */
export const EXIT_LINEAR = 0x1ac;
/**
 * What kind of event exited (EXIT_EXCEPTION), as core/interrupt.ts numbers
 * them: 0 an external interrupt, 1 an exception the processor detected,
 * 2 INT n, 3 INT3 or INTO, 4 INT1.
 */
export const EXIT_EVENT_KIND = 0x1c8;
/**
 * EXEC_PV: 256 bits; bit v set makes INT n with vector v go through the
 * IDT, as on hardware, instead of exiting (Xen's fast system-call trap).
 */
export const PV_DIRECT_VECTORS = 0x1e0;

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
/**
 * hostEmulateOne with EMULATE_CPUID_EXIT reached CPUID (core/emulate.ts):
 * nothing has changed, the leaf is in EAX and the subleaf in ECX. The host
 * writes EAX, EBX, ECX and EDX and calls hostEmulateOne again, which
 * retires the CPUID with the host's values.
 */
export const EXIT_CPUID = 6;
/**
 * hostEmulateOne with EMULATE_WRITES_TO_HOST reached a write that the paging
 * refuses only because the page is read-only (core/emulate.ts): EXIT_ADDRESS
 * (physical), EXIT_LINEAR, EXIT_SIZE, EXIT_DATA and EXIT_DATA_HIGH say what
 * it writes. RAM is unchanged; the host writes it (or refuses to) and calls
 * hostEmulateOne again, which completes the instruction without writing.
 */
export const EXIT_WRITE_INTERCEPT = 7;

// hostEmulateOne's flags (core/emulate.ts): what the host lets the one
// instruction do beyond what the guest's own state allows.
/** IN, OUT, INS and OUTS skip the IOPL and I/O-bitmap checks and exit as EXIT_IO. */
export const EMULATE_IO_PERMITTED = 1;
/** A write refused only for R/W goes to the host (EXIT_WRITE_INTERCEPT) instead of raising #PF. */
export const EMULATE_WRITES_TO_HOST = 2;
/** CPUID exits to the host (EXIT_CPUID) instead of answering with the core's CPU model. */
export const EMULATE_CPUID_EXIT = 4;

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
// sets IO_LOG_COUNT to 0 first. The exits of hostEmulateOne (EXIT_CPUID,
// EXIT_WRITE_INTERCEPT) are completed through the same log (core/emulate.ts).
/** Entries in the log for the instruction in progress. */
export const IO_LOG_COUNT = 0x210;
/** 1 when the last entry is an input whose value the next run() takes from EXIT_DATA. */
export const IO_LOG_AWAITING = 0x214;
/** The entries, IO_LOG_ENTRY_SIZE bytes each: port or physical address, kind, data. */
export const IO_LOG = 0x220;
export const IO_LOG_ENTRY_SIZE = 12;
export const IO_LOG_MAX = 16;
/** Entry kind: the size in bytes (1, 2, 4; 1 to 8 for IO_LOG_HOST_WRITE) OR-ed with these bits. */
export const IO_LOG_INPUT = 0x100;
export const IO_LOG_MMIO = 0x200;
/** A write the host performs or refuses (EXIT_WRITE_INTERCEPT); `where` is its physical address. */
export const IO_LOG_HOST_WRITE = 0x400;
/** The read of a read-modify-write whose write goes to the host: the core read RAM and logs the value, so the
 * execution after the host's write sees the memory the first one saw (core/emulate.ts). */
export const IO_LOG_RECALL = 0x800;
/** A CPUID the host answers (EXIT_CPUID); `where` is the instruction's linear address. */
export const IO_LOG_CPUID = 0x1000;
/** The second entry of an 8-byte IO_LOG_HOST_WRITE: its data is the high dword. */
export const IO_LOG_HIGH = 0x2000;
/** The size bits of an entry kind. */
export const IO_LOG_SIZE = 0xf;

/** MMIO ranges the host claims: a count, then up to MMIO_MAX pairs (first, last) of physical addresses. */
export const MMIO_COUNT = 0x2fc;
export const MMIO_RANGES = 0x300;
export const MMIO_MAX = 16;

/** Bytes of the architectural state that save/restore copies (everything above is host-side bookkeeping). */
export const SAVED_STATE_SIZE = 0x400;

// The trace (core/trace.ts): a ring of fixed-size entries in linear memory,
// one per executed instruction and per event, which the host turns on and
// reads. Bookkeeping, not architectural state: above SAVED_STATE_SIZE.
/** What to record (TRACE_INSTRUCTIONS, TRACE_EVENTS); the host writes it, run() reads it when it starts. */
export const TRACE_ENABLE = 0x440;
/** Where the ring is in linear memory, and its capacity in entries (a power of two); written by traceAllocate only. */
export const TRACE_BUFFER = 0x444;
export const TRACE_CAPACITY = 0x448;
/** Entries written since the ring was allocated, u64: entry n is at TRACE_BUFFER + (n mod capacity) * TRACE_ENTRY_SIZE. */
export const TRACE_WRITTEN = 0x450;
export const TRACE_INSTRUCTIONS = 1;
export const TRACE_EVENTS = 2;
/** The smallest and largest rings traceAllocate makes (entries). */
export const TRACE_MIN_ENTRIES = 16;
export const TRACE_MAX_ENTRIES = 0x400000;

// A trace entry, TRACE_ENTRY_SIZE bytes, little-endian. Every entry starts
// with the instruction count (u64: instructions retired before it), its
// kind (u8), a kind-specific byte, the CS selector (u16) and an EIP (u32).
// TRACE_INSN, an instruction: EIP is its first byte's; the byte holds its
// outcome (TRACE_RETIRED, TRACE_FAULTED, or TRACE_STOPPED: it stopped for an
// I/O or MMIO exit and runs again from its first byte on the next run), bit
// TRACE_CODE32 (CS.D: 32-bit code) and, in bits 4-7, how many of its bytes
// were captured (its length but in a case core/trace.ts explains); then its
// length (u8) and its bytes, zero beyond the length.
// TRACE_INTERRUPT, an external interrupt taken, and TRACE_EXCEPTION, an
// exception or software interrupt delivered: EIP is the one the handler
// returns to, the byte is TRACE_DELIVERED or TRACE_DELIVERY_FAULTED (another
// event follows: the fault it raised, or #DF); then vector, error code
// (0xFFFFFFFF: none), the #PF linear address, the kind (core/interrupt.ts
// EVENT_*: 1 a processor exception, 2 INT n, 3 INT3 or INTO, 4 INT1), u32 each.
// TRACE_EXIT, run() returning to the host for anything but its budget or a
// halt: the exit reason, then EXIT_VECTOR and EXIT_ERROR_CODE (EXIT_EXCEPTION)
// or the port or physical address, size | direction << 8, and data (EXIT_IO,
// EXIT_MMIO), u32 each. TRACE_HLT: HLT retired; EIP is the one after it.
export const TRACE_ENTRY_SIZE = 32;
export const TRACE_COUNT = 0;
export const TRACE_KIND = 8;
export const TRACE_STATUS = 9;
export const TRACE_CS = 10;
export const TRACE_EIP = 12;
export const TRACE_LENGTH = 16;
export const TRACE_BYTES = 17;
export const TRACE_ARG0 = 16;
export const TRACE_ARG1 = 20;
export const TRACE_ARG2 = 24;
export const TRACE_ARG3 = 28;
export const TRACE_INSN = 1;
export const TRACE_INTERRUPT = 2;
export const TRACE_EXCEPTION = 3;
export const TRACE_EXIT = 4;
export const TRACE_HLT = 5;
export const TRACE_RETIRED = 0;
export const TRACE_FAULTED = 1;
export const TRACE_STOPPED = 2;
export const TRACE_CODE32 = 4;
export const TRACE_DELIVERED = 0;
export const TRACE_DELIVERY_FAULTED = 1;

/** Processor signature left in EDX at reset (SDM Vol. 3A 9.1.4): family 6, model 3, stepping 3. */
export const CPU_SIGNATURE = 0x633;

/** The default machine memory (DESIGN.md): 128 MiB. */
export const DEFAULT_RAM_BYTES = 128 * 1024 * 1024;
