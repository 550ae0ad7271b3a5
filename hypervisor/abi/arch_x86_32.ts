// hypervisor/abi/arch_x86_32.ts — the x86 and x86_32 parts of the ABI, mirroring
// xen/include/public/arch-x86/xen.h and arch-x86/xen-x86_32.h.
//
// A 32-bit PV kernel runs in ring 1 on flat segments that live in Xen's
// reserved part of every GDT, and everything from HYPERVISOR_VIRT_START up
// (the hypervisor hole, which begins with the read-only M2P table) belongs to
// the hypervisor. Only the PAE flavour exists on a modern Xen (XEN-ABI.md
// 1.1), so the PAE values are the ones exported. Offsets are the x86_32
// layouts of XEN-ABI.md 4-6, where u64 is 4-byte aligned and longs are 4 bytes.

// ------------------------------------------------------------ selectors (XEN-ABI.md 5.1)

/** GDT pages a guest may use before Xen's reserved entries: 14 pages of 512 descriptors. */
export const FIRST_RESERVED_GDT_PAGE = 14;
export const FIRST_RESERVED_GDT_BYTE = FIRST_RESERVED_GDT_PAGE * 4096;
export const FIRST_RESERVED_GDT_ENTRY = FIRST_RESERVED_GDT_BYTE / 8;

/** Flat 4 GiB segments Xen provides in every GDT; RPL says the ring. */
export const FLAT_RING1_CS = 0xe019;
export const FLAT_RING1_DS = 0xe021;
export const FLAT_RING1_SS = 0xe021;
export const FLAT_RING3_CS = 0xe02b;
export const FLAT_RING3_DS = 0xe033;
export const FLAT_RING3_SS = 0xe033;
export const FLAT_KERNEL_CS = FLAT_RING1_CS;
export const FLAT_KERNEL_DS = FLAT_RING1_DS;
export const FLAT_KERNEL_SS = FLAT_RING1_SS;
export const FLAT_USER_CS = FLAT_RING3_CS;
export const FLAT_USER_DS = FLAT_RING3_DS;
export const FLAT_USER_SS = FLAT_RING3_SS;

// ------------------------------------------------------------ the hypervisor hole (XEN-ABI.md 1.5, 7.3)

/** The hole starts here for PAE guests; a guest may map nothing at or above it. */
export const HYPERVISOR_VIRT_START_PAE = 0xf5800000;
/** The read-only M2P table: one u32 PFN per MFN, readable by the guest. */
export const MACH2PHYS_VIRT_START_PAE = 0xf5800000;
/** End of the M2P window the header names (16 MiB); 64-bit Xen's compat M2P may run on to 0xFFE00000. */
export const MACH2PHYS_VIRT_END_PAE = 0xf6800000;
export const HYPERVISOR_VIRT_START = HYPERVISOR_VIRT_START_PAE;
export const MACH2PHYS_VIRT_START = MACH2PHYS_VIRT_START_PAE;
export const MACH2PHYS_VIRT_END = MACH2PHYS_VIRT_END_PAE;
/** M2P entries the header window holds: 4 Mi u32 values. */
export const MACH2PHYS_NR_ENTRIES = (MACH2PHYS_VIRT_END - MACH2PHYS_VIRT_START) >>> 2;

// ------------------------------------------------------------ CR3 (XEN-ABI.md 7.2)

/** A PAE guest's CR3 as Xen packs it, so that an L3 above 4 GiB still fits 32 bits. */
export function xen_pfn_to_cr3(pfn: number): number {
  return ((pfn << 12) | (pfn >>> 20)) >>> 0;
}

export function xen_cr3_to_pfn(cr3: number): number {
  return ((cr3 >>> 12) | (cr3 << 20)) >>> 0;
}

// ------------------------------------------------------------ hypercall entry (XEN-ABI.md 2.1, 1.8)

/** `int 0x82` enters the hypervisor; EAX is the number, EBX ECX EDX ESI EDI the arguments. */
export const HYPERCALL_VECTOR = 0x82;

/** `ud2; .ascii "xen"`: the prefix that makes the next instruction (CPUID) trap to Xen. */
export const XEN_EMULATE_PREFIX: readonly number[] = [0x0f, 0x0b, 0x78, 0x65, 0x6e];
/** The forced-emulation CPUID: the prefix, then `cpuid`. */
export const XEN_CPUID: readonly number[] = [...XEN_EMULATE_PREFIX, 0x0f, 0xa2];

// ------------------------------------------------------------ trap_info (XEN-ABI.md 4, 5.2)

/** struct trap_info (8 bytes): one entry of set_trap_table's array, ended by address 0. */
export const trap_info = { sizeof: 8, vector: 0, flags: 1, cs: 2, address: 4 } as const;

/** flags bits 0-1: the highest ring that may raise the vector with `int n`. */
export function TI_GET_DPL(flags: number): number {
  return flags & 3;
}

/** flags bit 2: deliver with events masked, like an interrupt gate clearing IF. */
export function TI_GET_IF(flags: number): boolean {
  return (flags & 4) !== 0;
}

export interface TrapInfo {
  vector: number;
  flags: number;
  cs: number;
  address: number;
}

export function readTrapInfo(view: DataView, at: number): TrapInfo {
  return {
    vector: view.getUint8(at + trap_info.vector),
    flags: view.getUint8(at + trap_info.flags),
    cs: view.getUint16(at + trap_info.cs, true),
    address: view.getUint32(at + trap_info.address, true),
  };
}

// ------------------------------------------------------------ shared structures (XEN-ABI.md 6.2, 6.3)

/** vcpu_info slots in shared_info: vCPUs beyond them must register their own (VCPUOP_register_vcpu_info). */
export const XEN_LEGACY_MAX_VCPUS = 32;

/** struct arch_vcpu_info (24 bytes): CR2 of the last page fault bounced to the guest. */
export const arch_vcpu_info = { sizeof: 24, cr2: 0, pad: 4 } as const;

/** struct arch_shared_info (28 bytes), at shared_info.arch; offsets within it. */
export const arch_shared_info = {
  sizeof: 28,
  max_pfn: 0,
  pfn_to_mfn_frame_list_list: 4,
  nmi_reason: 8,
  p2m_cr3: 12,
  p2m_vaddr: 16,
  p2m_generation: 20,
  wc_sec_hi: 24,
} as const;

// ------------------------------------------------------------ vcpu_guest_context (VCPUOP_initialise)

/** struct cpu_user_regs (68 bytes), x86_32: the general registers, then EIP, CS, EFLAGS, ESP and the data segments. */
export const cpu_user_regs = {
  sizeof: 68,
  ebx: 0, ecx: 4, edx: 8, esi: 12, edi: 16, ebp: 20, eax: 24,
  error_code: 28, entry_vector: 30,
  eip: 32, cs: 36, saved_upcall_mask: 38, eflags: 40, esp: 44,
  ss: 48, es: 52, ds: 56, fs: 60, gs: 64,
} as const;

/** vcpu_guest_context.flags bits (VGCF_*). */
export const VGCF_i387_valid = 1 << 0;
export const VGCF_in_kernel = 1 << 2;
export const VGCF_failsafe_disables_events = 1 << 3;
export const VGCF_syscall_disables_events = 1 << 4;
export const VGCF_online = 1 << 5;

/**
 * struct vcpu_guest_context (2800 bytes), x86_32 (packed to 4, as Xen's
 * compat view): FPU area, flags, user_regs, the 256-entry virtual IDT
 * (trap_ctxt[i] is the entry for vector i), the LDT, up to 16 GDT frames,
 * the ring-1 stack, CR0-CR7 (CR3 in xen_pfn_to_cr3 form), DR0-DR7, the
 * event and failsafe callbacks and the vm_assist bits.
 */
export const vcpu_guest_context = {
  sizeof: 2800,
  fpu_ctxt: 0,
  flags: 512,
  user_regs: 516,
  trap_ctxt: 584,
  ldt_base: 2632,
  ldt_ents: 2636,
  gdt_frames: 2640,
  gdt_ents: 2704,
  kernel_ss: 2708,
  kernel_sp: 2712,
  ctrlreg: 2716,
  debugreg: 2748,
  event_callback_cs: 2780,
  event_callback_eip: 2784,
  failsafe_callback_cs: 2788,
  failsafe_callback_eip: 2792,
  vm_assist: 2796,
} as const;

/** gdt_frames[] entries: a GDT of up to 16 frames (8192 descriptors). */
export const VGC_GDT_FRAMES = 16;

export interface UserRegs {
  ebx: number; ecx: number; edx: number; esi: number; edi: number; ebp: number; eax: number;
  eip: number; cs: number; eflags: number; esp: number;
  ss: number; es: number; ds: number; fs: number; gs: number;
}

export interface VcpuGuestContext {
  flags: number;
  userRegs: UserRegs;
  trapCtxt: TrapInfo[];
  ldtBase: number;
  ldtEnts: number;
  gdtFrames: number[];
  gdtEnts: number;
  kernelSs: number;
  kernelSp: number;
  ctrlreg: number[];
  eventCallbackCs: number;
  eventCallbackEip: number;
  failsafeCallbackCs: number;
  failsafeCallbackEip: number;
  vmAssist: number;
}

export function readVcpuGuestContext(view: DataView, at = 0): VcpuGuestContext {
  const u32 = (off: number) => view.getUint32(at + off, true);
  const u16 = (off: number) => view.getUint16(at + off, true);
  const r = vcpu_guest_context.user_regs;
  const regs = cpu_user_regs;
  return {
    flags: u32(vcpu_guest_context.flags),
    userRegs: {
      ebx: u32(r + regs.ebx), ecx: u32(r + regs.ecx), edx: u32(r + regs.edx), esi: u32(r + regs.esi),
      edi: u32(r + regs.edi), ebp: u32(r + regs.ebp), eax: u32(r + regs.eax),
      eip: u32(r + regs.eip), cs: u16(r + regs.cs), eflags: u32(r + regs.eflags), esp: u32(r + regs.esp),
      ss: u16(r + regs.ss), es: u16(r + regs.es), ds: u16(r + regs.ds), fs: u16(r + regs.fs), gs: u16(r + regs.gs),
    },
    trapCtxt: Array.from({ length: 256 }, (_, i) => readTrapInfo(view, at + vcpu_guest_context.trap_ctxt + i * trap_info.sizeof)),
    ldtBase: u32(vcpu_guest_context.ldt_base),
    ldtEnts: u32(vcpu_guest_context.ldt_ents),
    gdtFrames: Array.from({ length: VGC_GDT_FRAMES }, (_, i) => u32(vcpu_guest_context.gdt_frames + i * 4)),
    gdtEnts: u32(vcpu_guest_context.gdt_ents),
    kernelSs: u32(vcpu_guest_context.kernel_ss),
    kernelSp: u32(vcpu_guest_context.kernel_sp),
    ctrlreg: Array.from({ length: 8 }, (_, i) => u32(vcpu_guest_context.ctrlreg + i * 4)),
    eventCallbackCs: u32(vcpu_guest_context.event_callback_cs),
    eventCallbackEip: u32(vcpu_guest_context.event_callback_eip),
    failsafeCallbackCs: u32(vcpu_guest_context.failsafe_callback_cs),
    failsafeCallbackEip: u32(vcpu_guest_context.failsafe_callback_eip),
    vmAssist: u32(vcpu_guest_context.vm_assist),
  };
}
