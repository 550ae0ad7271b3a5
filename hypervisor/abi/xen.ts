// hypervisor/abi/xen.ts — the core of the ABI, mirroring xen/include/public/xen.h.
//
// Hypercall numbers, the page-table update commands (mmu_update, mmuext_op,
// update_va_mapping), vm_assist, VIRQs, the reserved domain IDs, and the
// three pages a PV guest shares with the hypervisor from its first
// instruction: start_info (ESI at entry), shared_info (its machine address
// is in start_info), and the vcpu_info slots inside shared_info. Numbers are
// from XEN-ABI.md 3, 4 and 6; every layout is the x86_32 one ([C] there).

import { XEN_LEGACY_MAX_VCPUS, arch_vcpu_info } from "./arch_x86_32.js";

// ------------------------------------------------------------ hypercall numbers (XEN-ABI.md 3)

export const __HYPERVISOR_set_trap_table = 0;
export const __HYPERVISOR_mmu_update = 1;
export const __HYPERVISOR_set_gdt = 2;
export const __HYPERVISOR_stack_switch = 3;
export const __HYPERVISOR_set_callbacks = 4;
export const __HYPERVISOR_fpu_taskswitch = 5;
export const __HYPERVISOR_sched_op_compat = 6;
export const __HYPERVISOR_platform_op = 7;
export const __HYPERVISOR_set_debugreg = 8;
export const __HYPERVISOR_get_debugreg = 9;
export const __HYPERVISOR_update_descriptor = 10;
export const __HYPERVISOR_memory_op = 12;
export const __HYPERVISOR_multicall = 13;
export const __HYPERVISOR_update_va_mapping = 14;
export const __HYPERVISOR_set_timer_op = 15;
export const __HYPERVISOR_event_channel_op_compat = 16;
export const __HYPERVISOR_xen_version = 17;
export const __HYPERVISOR_console_io = 18;
export const __HYPERVISOR_physdev_op_compat = 19;
export const __HYPERVISOR_grant_table_op = 20;
export const __HYPERVISOR_vm_assist = 21;
export const __HYPERVISOR_update_va_mapping_otherdomain = 22;
export const __HYPERVISOR_iret = 23;
export const __HYPERVISOR_vcpu_op = 24;
export const __HYPERVISOR_set_segment_base = 25;
export const __HYPERVISOR_mmuext_op = 26;
export const __HYPERVISOR_xsm_op = 27;
export const __HYPERVISOR_nmi_op = 28;
export const __HYPERVISOR_sched_op = 29;
export const __HYPERVISOR_callback_op = 30;
export const __HYPERVISOR_xenoprof_op = 31;
export const __HYPERVISOR_event_channel_op = 32;
export const __HYPERVISOR_physdev_op = 33;
export const __HYPERVISOR_hvm_op = 34;
export const __HYPERVISOR_sysctl = 35;
export const __HYPERVISOR_domctl = 36;
export const __HYPERVISOR_kexec_op = 37;
export const __HYPERVISOR_tmem_op = 38;
export const __HYPERVISOR_argo_op = 39;
export const __HYPERVISOR_xenpmu_op = 40;
export const __HYPERVISOR_dm_op = 41;
export const __HYPERVISOR_hypfs_op = 42;
export const __HYPERVISOR_arch_0 = 48;
export const __HYPERVISOR_arch_1 = 49;
export const __HYPERVISOR_arch_2 = 50;
export const __HYPERVISOR_arch_3 = 51;
export const __HYPERVISOR_arch_4 = 52;
export const __HYPERVISOR_arch_5 = 53;
export const __HYPERVISOR_arch_6 = 54;
export const __HYPERVISOR_arch_7 = 55;
/** On x86, arch_0 is the machine-check hypercall. */
export const __HYPERVISOR_mca = __HYPERVISOR_arch_0;

/** Slots of the hypercall page: one 32-byte stub per number below 128 (XEN-ABI.md 2.1). */
export const HYPERCALL_PAGE_SLOTS = 128;
export const HYPERCALL_STUB_SIZE = 32;

/** Hypercall names by number (Xen's, without the prefix), for traces and messages. */
export const HYPERCALL_NAMES: Readonly<Record<number, string>> = {
  0: "set_trap_table", 1: "mmu_update", 2: "set_gdt", 3: "stack_switch", 4: "set_callbacks",
  5: "fpu_taskswitch", 6: "sched_op_compat", 7: "platform_op", 8: "set_debugreg", 9: "get_debugreg",
  10: "update_descriptor", 12: "memory_op", 13: "multicall", 14: "update_va_mapping",
  15: "set_timer_op", 16: "event_channel_op_compat", 17: "xen_version", 18: "console_io",
  19: "physdev_op_compat", 20: "grant_table_op", 21: "vm_assist", 22: "update_va_mapping_otherdomain",
  23: "iret", 24: "vcpu_op", 25: "set_segment_base", 26: "mmuext_op", 27: "xsm_op", 28: "nmi_op",
  29: "sched_op", 30: "callback_op", 31: "xenoprof_op", 32: "event_channel_op", 33: "physdev_op",
  34: "hvm_op", 35: "sysctl", 36: "domctl", 37: "kexec_op", 38: "tmem_op", 39: "argo_op",
  40: "xenpmu_op", 41: "dm_op", 42: "hypfs_op", 48: "arch_0", 49: "arch_1", 50: "arch_2",
  51: "arch_3", 52: "arch_4", 53: "arch_5", 54: "arch_6", 55: "arch_7",
};

// ------------------------------------------------------------ VIRQs (XEN-ABI.md 6.4)

export const VIRQ_TIMER = 0;
export const VIRQ_DEBUG = 1;
export const VIRQ_CONSOLE = 2;
export const VIRQ_DOM_EXC = 3;
export const VIRQ_TBUF = 4;
export const VIRQ_DEBUGGER = 6;
export const VIRQ_XENOPROF = 7;
export const VIRQ_CON_RING = 8;
export const VIRQ_PCPU_STATE = 9;
export const VIRQ_MEM_EVENT = 10;
export const VIRQ_ARGO = 11;
export const VIRQ_ENOMEM = 12;
export const VIRQ_XENPMU = 13;
export const VIRQ_ARCH_0 = 16;
export const VIRQ_ARCH_7 = 23;
export const NR_VIRQS = 24;

// ------------------------------------------------------------ mmu_update (XEN-ABI.md 4)

/** The low 2 bits of mmu_update.ptr choose what the request does. */
export const MMU_NORMAL_PT_UPDATE = 0;
export const MMU_MACHPHYS_UPDATE = 1;
export const MMU_PT_UPDATE_PRESERVE_AD = 2;
export const MMU_PT_UPDATE_NO_TRANSLATE = 3;

/** struct mmu_update (16 bytes): ptr is the machine address of the entry, with the command in bits 0-1. */
export const mmu_update = { sizeof: 16, ptr: 0, val: 8 } as const;

/** foreigndom of mmu_update/mmuext_op: low 16 bits own the data pages, high 16 the page tables (+1). */
export function foreigndomPageOwner(foreigndom: number): number {
  return foreigndom & 0xffff;
}

/** The page-table owner's domid, or DOMID_SELF when the high half is 0. */
export function foreigndomTableOwner(foreigndom: number): number {
  const pt = foreigndom >>> 16;
  return pt === 0 ? DOMID_SELF : pt - 1;
}

// ------------------------------------------------------------ mmuext_op (XEN-ABI.md 4)

export const MMUEXT_PIN_L1_TABLE = 0;
export const MMUEXT_PIN_L2_TABLE = 1;
export const MMUEXT_PIN_L3_TABLE = 2;
export const MMUEXT_PIN_L4_TABLE = 3;
export const MMUEXT_UNPIN_TABLE = 4;
export const MMUEXT_NEW_BASEPTR = 5;
export const MMUEXT_TLB_FLUSH_LOCAL = 6;
export const MMUEXT_INVLPG_LOCAL = 7;
export const MMUEXT_TLB_FLUSH_MULTI = 8;
export const MMUEXT_INVLPG_MULTI = 9;
export const MMUEXT_TLB_FLUSH_ALL = 10;
export const MMUEXT_INVLPG_ALL = 11;
export const MMUEXT_FLUSH_CACHE = 12;
export const MMUEXT_SET_LDT = 13;
export const MMUEXT_NEW_USER_BASEPTR = 15;
export const MMUEXT_CLEAR_PAGE = 16;
export const MMUEXT_COPY_PAGE = 17;
export const MMUEXT_FLUSH_CACHE_GLOBAL = 18;
export const MMUEXT_MARK_SUPER = 19;
export const MMUEXT_UNMARK_SUPER = 20;

/** struct mmuext_op (12 bytes): arg1 is an mfn or a linear address, arg2 nr_ents, a vcpumask pointer or src_mfn. */
export const mmuext_op = { sizeof: 12, cmd: 0, arg1: 4, arg2: 8 } as const;

// ------------------------------------------------------------ update_va_mapping flags (XEN-ABI.md 4)

export const UVMF_NONE = 0;
export const UVMF_TLB_FLUSH = 1;
export const UVMF_INVLPG = 2;
export const UVMF_FLUSHTYPE_MASK = 3;
/** Flush this vCPU only; any other value above the flush type is a pointer to a vCPU mask (UVMF_MULTI). */
export const UVMF_LOCAL = 0;
export const UVMF_ALL = 4;

// ------------------------------------------------------------ vm_assist (XEN-ABI.md 4)

export const VMASST_CMD_enable = 0;
export const VMASST_CMD_disable = 1;
export const VMASST_TYPE_4gb_segments = 0;
export const VMASST_TYPE_4gb_segments_notify = 1;
export const VMASST_TYPE_writable_pagetables = 2;
export const VMASST_TYPE_pae_extended_cr3 = 3;
export const VMASST_TYPE_architectural_iopl = 4;
export const VMASST_TYPE_runstate_update_flag = 5;
export const VMASST_TYPE_m2p_strict = 32;
/** The types a 32-bit PV guest may turn on: 0-5 (m2p_strict is 64-bit only). */
export const VM_ASSIST_VALID_PV32 = 0x3f;

/** Whether a 32-bit PV guest may use vm_assist `type`; JavaScript's shifts wrap at 32, so test the range first. */
export function vmAssistValidPv32(type: number): boolean {
  return Number.isInteger(type) && type >= 0 && type < 32 && ((VM_ASSIST_VALID_PV32 >>> type) & 1) === 1;
}

// ------------------------------------------------------------ console_io (XEN-ABI.md 4)

export const CONSOLEIO_write = 0;
export const CONSOLEIO_read = 1;

// ------------------------------------------------------------ domain IDs (XEN-ABI.md 6.4)

export const DOMID_FIRST_RESERVED = 0x7ff0;
export const DOMID_SELF = 0x7ff0;
export const DOMID_IO = 0x7ff1;
export const DOMID_XEN = 0x7ff2;
export const DOMID_COW = 0x7ff3;
export const DOMID_INVALID = 0x7ff4;
export const DOMID_ANY = 0x7ff5;
export const DOMID_IDLE = 0x7fff;
export const DOMID_MASK = 0x7fff;

// ------------------------------------------------------------ multicall (XEN-ABI.md 4)

/** struct multicall_entry (32 bytes): six argument slots, of which Xen passes five. */
export const multicall_entry = { sizeof: 32, op: 0, result: 4, args: 8 } as const;
export const MULTICALL_ARGS_USED = 5;

export interface MulticallEntry {
  op: number;
  /** args[0..4]; the sixth slot is never passed. */
  args: number[];
}

export function readMulticallEntry(view: DataView, at: number): MulticallEntry {
  const args: number[] = [];
  for (let i = 0; i < MULTICALL_ARGS_USED; i++) args.push(view.getUint32(at + multicall_entry.args + 4 * i, true));
  return { op: view.getUint32(at + multicall_entry.op, true), args };
}

// ------------------------------------------------------------ vcpu_time_info (XEN-ABI.md 6.1)

/**
 * struct vcpu_time_info (32 bytes), the same on every x86. version is a
 * seqlock: odd while the hypervisor rewrites the rest.
 */
export const vcpu_time_info = {
  sizeof: 32,
  version: 0,
  pad0: 4,
  tsc_timestamp: 8,
  system_time: 16,
  tsc_to_system_mul: 24,
  tsc_shift: 28,
  flags: 29,
  pad: 30,
} as const;
export const XEN_PVCLOCK_TSC_STABLE_BIT = 1;
export const XEN_PVCLOCK_GUEST_STOPPED = 2;

export interface VcpuTimeInfo {
  version: number;
  tsc_timestamp: bigint;
  /** Nanoseconds since the domain's boot at tsc_timestamp. */
  system_time: bigint;
  tsc_to_system_mul: number;
  /** Signed: a negative shift shifts right. */
  tsc_shift: number;
  flags: number;
}

export function writeVcpuTimeInfo(view: DataView, at: number, t: VcpuTimeInfo): void {
  view.setUint32(at + vcpu_time_info.version, t.version, true);
  view.setUint32(at + vcpu_time_info.pad0, 0, true);
  view.setBigUint64(at + vcpu_time_info.tsc_timestamp, t.tsc_timestamp, true);
  view.setBigUint64(at + vcpu_time_info.system_time, t.system_time, true);
  view.setUint32(at + vcpu_time_info.tsc_to_system_mul, t.tsc_to_system_mul, true);
  view.setInt8(at + vcpu_time_info.tsc_shift, t.tsc_shift);
  view.setUint8(at + vcpu_time_info.flags, t.flags);
  view.setUint16(at + vcpu_time_info.pad, 0, true);
}

export function readVcpuTimeInfo(view: DataView, at: number): VcpuTimeInfo {
  return {
    version: view.getUint32(at + vcpu_time_info.version, true),
    tsc_timestamp: view.getBigUint64(at + vcpu_time_info.tsc_timestamp, true),
    system_time: view.getBigUint64(at + vcpu_time_info.system_time, true),
    tsc_to_system_mul: view.getUint32(at + vcpu_time_info.tsc_to_system_mul, true),
    tsc_shift: view.getInt8(at + vcpu_time_info.tsc_shift),
    flags: view.getUint8(at + vcpu_time_info.flags),
  };
}

// ------------------------------------------------------------ vcpu_info (XEN-ABI.md 6.2)

/**
 * struct vcpu_info (64 bytes, x86_32). evtchn_upcall_mask is the guest's
 * virtual interrupt flag (1 = events masked); arch.cr2 receives the faulting
 * address of a bounced #PF.
 */
export const vcpu_info = {
  sizeof: 64,
  evtchn_upcall_pending: 0,
  evtchn_upcall_mask: 1,
  evtchn_pending_sel: 4,
  arch: 8,
  arch_cr2: 8 + arch_vcpu_info.cr2,
  time: 32,
} as const;

// ------------------------------------------------------------ shared_info (XEN-ABI.md 6.3)

/** struct shared_info (2344 bytes used of its 4 KiB page, x86_32). */
export const shared_info = {
  sizeof: 2344,
  vcpu_info: 0,
  evtchn_pending: 2048,
  evtchn_mask: 2176,
  wc_version: 2304,
  wc_sec: 2308,
  wc_nsec: 2312,
  arch: 2316,
} as const;

/** evtchn_pending and evtchn_mask are 32 words of 32 bits each on x86_32. */
export const EVTCHN_WORDS = 32;

/** Where vCPU `vcpuId`'s vcpu_info lives in shared_info (only the legacy 32 have a slot). */
export function sharedInfoVcpuOffset(vcpuId: number): number {
  if (!Number.isInteger(vcpuId) || vcpuId < 0 || vcpuId >= XEN_LEGACY_MAX_VCPUS) {
    throw new RangeError(`shared_info holds vcpu_info for vCPUs 0-${XEN_LEGACY_MAX_VCPUS - 1}, not ${vcpuId}`);
  }
  return shared_info.vcpu_info + vcpuId * vcpu_info.sizeof;
}

// ------------------------------------------------------------ start_info (XEN-ABI.md 6.5)

/** struct start_info (1112 bytes, x86_32); the guest finds it at ESI on entry. */
export const start_info = {
  sizeof: 1112,
  magic: 0,
  nr_pages: 32,
  shared_info: 36,
  flags: 40,
  store_mfn: 44,
  store_evtchn: 48,
  console_domU_mfn: 52,
  console_domU_evtchn: 56,
  console_dom0_info_off: 52,
  console_dom0_info_size: 56,
  pt_base: 60,
  nr_pt_frames: 64,
  mfn_list: 68,
  mod_start: 72,
  mod_len: 76,
  cmd_line: 80,
  first_p2m_pfn: 1104,
  nr_p2m_frames: 1108,
} as const;

/** The magic field's size, and what a 32-bit PAE PV guest finds there. */
export const START_INFO_MAGIC_SIZE = 32;
export const START_INFO_MAGIC_X86_32P = "xen-3.0-x86_32p";
/** cmd_line is this many bytes, NUL included. */
export const MAX_GUEST_CMDLINE = 1024;

export const SIF_PRIVILEGED = 1 << 0;
export const SIF_INITDOMAIN = 1 << 1;
export const SIF_MULTIBOOT_MOD = 1 << 2;
export const SIF_MOD_START_PFN = 1 << 3;
export const SIF_VIRT_P2M_4TOOLS = 1 << 4;
export const SIF_PM_MASK = 0xff << 8;

export interface StartInfo {
  magic: string;
  nr_pages: number;
  /** Machine address of the shared_info page. */
  shared_info: number;
  flags: number;
  store_mfn: number;
  store_evtchn: number;
  /** domU: console ring MFN and event channel (dom0 reuses the words as info_off/info_size). */
  console_mfn: number;
  console_evtchn: number;
  /** Virtual address of the bootstrap L3. */
  pt_base: number;
  nr_pt_frames: number;
  /** Virtual address of the P2M list. */
  mfn_list: number;
  mod_start: number;
  mod_len: number;
  cmd_line: string;
  first_p2m_pfn: number;
  nr_p2m_frames: number;
}

const latin1 = (text: string, max: number): Uint8Array => {
  const bytes = new Uint8Array(Math.min(text.length, max));
  for (let i = 0; i < bytes.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
  return bytes;
};

/**
 * Writes a whole start_info at `at`. The strings are NUL-padded to their
 * fields; a command line longer than MAX_GUEST_CMDLINE - 1 bytes is cut so
 * that the NUL always fits, as Xen's builder does.
 */
export function writeStartInfo(view: DataView, at: number, info: StartInfo): void {
  const bytes = new Uint8Array(view.buffer, view.byteOffset + at, start_info.sizeof);
  bytes.fill(0);
  bytes.set(latin1(info.magic, START_INFO_MAGIC_SIZE - 1), start_info.magic);
  bytes.set(latin1(info.cmd_line, MAX_GUEST_CMDLINE - 1), start_info.cmd_line);
  const u32 = (offset: number, value: number) => view.setUint32(at + offset, value >>> 0, true);
  u32(start_info.nr_pages, info.nr_pages);
  u32(start_info.shared_info, info.shared_info);
  u32(start_info.flags, info.flags);
  u32(start_info.store_mfn, info.store_mfn);
  u32(start_info.store_evtchn, info.store_evtchn);
  u32(start_info.console_domU_mfn, info.console_mfn);
  u32(start_info.console_domU_evtchn, info.console_evtchn);
  u32(start_info.pt_base, info.pt_base);
  u32(start_info.nr_pt_frames, info.nr_pt_frames);
  u32(start_info.mfn_list, info.mfn_list);
  u32(start_info.mod_start, info.mod_start);
  u32(start_info.mod_len, info.mod_len);
  u32(start_info.first_p2m_pfn, info.first_p2m_pfn);
  u32(start_info.nr_p2m_frames, info.nr_p2m_frames);
}
