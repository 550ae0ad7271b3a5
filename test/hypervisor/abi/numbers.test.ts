// test/hypervisor/abi/numbers.test.ts — hypercall numbers, sub-ops, flags and error
// numbers are Xen's (XEN-ABI.md 2-7), so Xen's documentation explains ours.

import { describe, expect, it } from "vitest";
import * as arch from "../../../hypervisor/abi/arch_x86_32.js";
import * as callback from "../../../hypervisor/abi/callback.js";
import * as cpuid from "../../../hypervisor/abi/cpuid.js";
import * as elfnote from "../../../hypervisor/abi/elfnote.js";
import * as errno from "../../../hypervisor/abi/errno.js";
import * as evtchn from "../../../hypervisor/abi/event_channel.js";
import * as features from "../../../hypervisor/abi/features.js";
import * as memory from "../../../hypervisor/abi/memory.js";
import * as sched from "../../../hypervisor/abi/sched.js";
import * as vcpu from "../../../hypervisor/abi/vcpu.js";
import * as version from "../../../hypervisor/abi/version.js";
import * as xen from "../../../hypervisor/abi/xen.js";

describe("hypercall numbers (XEN-ABI.md 3)", () => {
  it("numbers the PV hypercalls as xen.h does", () => {
    expect([
      xen.__HYPERVISOR_set_trap_table, xen.__HYPERVISOR_mmu_update, xen.__HYPERVISOR_update_descriptor,
      xen.__HYPERVISOR_memory_op, xen.__HYPERVISOR_multicall, xen.__HYPERVISOR_update_va_mapping,
      xen.__HYPERVISOR_xen_version, xen.__HYPERVISOR_console_io, xen.__HYPERVISOR_vm_assist,
      xen.__HYPERVISOR_iret, xen.__HYPERVISOR_vcpu_op, xen.__HYPERVISOR_mmuext_op, xen.__HYPERVISOR_sched_op,
      xen.__HYPERVISOR_callback_op, xen.__HYPERVISOR_event_channel_op, xen.__HYPERVISOR_physdev_op,
      xen.__HYPERVISOR_hvm_op, xen.__HYPERVISOR_hypfs_op, xen.__HYPERVISOR_arch_0, xen.__HYPERVISOR_arch_7,
    ]).toEqual([0, 1, 10, 12, 13, 14, 17, 18, 21, 23, 24, 26, 29, 30, 32, 33, 34, 42, 48, 55]);
  });

  it("names each number once, and leaves 11 and 43-47 unassigned", () => {
    const numbers = Object.keys(xen.HYPERCALL_NAMES).map(Number);
    expect(new Set(Object.values(xen.HYPERCALL_NAMES)).size).toBe(numbers.length);
    expect(numbers).not.toContain(11);
    expect(numbers.filter((n) => n >= 43 && n <= 47)).toEqual([]);
    expect(xen.HYPERCALL_NAMES[xen.__HYPERVISOR_iret]).toBe("iret");
  });

  it("gives 128 hypercall-page stubs of 32 bytes: exactly one page", () => {
    expect(xen.HYPERCALL_PAGE_SLOTS * xen.HYPERCALL_STUB_SIZE).toBe(4096);
  });

  it("enters the hypervisor through int 0x82 and forces CPUID emulation with ud2; 'xen'; cpuid", () => {
    expect(arch.HYPERCALL_VECTOR).toBe(0x82);
    expect(arch.XEN_CPUID).toEqual([0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x0f, 0xa2]);
  });
});

describe("sub-operations and flags (XEN-ABI.md 4)", () => {
  it("numbers the mmuext_op commands, with 14 left out", () => {
    expect([xen.MMUEXT_PIN_L1_TABLE, xen.MMUEXT_PIN_L3_TABLE, xen.MMUEXT_UNPIN_TABLE, xen.MMUEXT_NEW_BASEPTR,
      xen.MMUEXT_TLB_FLUSH_LOCAL, xen.MMUEXT_INVLPG_LOCAL, xen.MMUEXT_TLB_FLUSH_ALL, xen.MMUEXT_SET_LDT,
      xen.MMUEXT_NEW_USER_BASEPTR, xen.MMUEXT_UNMARK_SUPER]).toEqual([0, 2, 4, 5, 6, 7, 10, 13, 15, 20]);
  });

  it("takes the mmu_update command from the low bits of ptr", () => {
    expect([xen.MMU_NORMAL_PT_UPDATE, xen.MMU_MACHPHYS_UPDATE, xen.MMU_PT_UPDATE_PRESERVE_AD, xen.MMU_PT_UPDATE_NO_TRANSLATE])
      .toEqual([0, 1, 2, 3]);
  });

  it("splits foreigndom into the data-page owner and the page-table owner plus one", () => {
    expect(xen.foreigndomPageOwner(0x0003_7ff0)).toBe(xen.DOMID_SELF);
    expect(xen.foreigndomTableOwner(0x0003_7ff0)).toBe(2);
    expect(xen.foreigndomTableOwner(xen.DOMID_SELF)).toBe(xen.DOMID_SELF);
  });

  it("flags update_va_mapping with a flush type in bits 0-1 and ALL in bit 2", () => {
    expect([xen.UVMF_NONE, xen.UVMF_TLB_FLUSH, xen.UVMF_INVLPG, xen.UVMF_FLUSHTYPE_MASK, xen.UVMF_LOCAL, xen.UVMF_ALL])
      .toEqual([0, 1, 2, 3, 0, 4]);
  });

  it("lets a 32-bit PV guest turn on vm_assist types 0-5 only", () => {
    expect(xen.VMASST_TYPE_writable_pagetables).toBe(2);
    expect(xen.VMASST_TYPE_pae_extended_cr3).toBe(3);
    expect(xen.VM_ASSIST_VALID_PV32).toBe(0b111111);
    expect([0, 2, 5].map(xen.vmAssistValidPv32)).toEqual([true, true, true]);
    expect([6, xen.VMASST_TYPE_m2p_strict, 64, -1].map(xen.vmAssistValidPv32)).toEqual([false, false, false, false]);
  });

  it("shuts down with Xen's six reasons and schedules with its eight commands", () => {
    expect([sched.SHUTDOWN_poweroff, sched.SHUTDOWN_reboot, sched.SHUTDOWN_suspend, sched.SHUTDOWN_crash,
      sched.SHUTDOWN_watchdog, sched.SHUTDOWN_soft_reset]).toEqual([0, 1, 2, 3, 4, 5]);
    expect(sched.SHUTDOWN_NAMES[sched.SHUTDOWN_crash]).toBe("crash");
    expect([sched.SCHEDOP_yield, sched.SCHEDOP_block, sched.SCHEDOP_shutdown, sched.SCHEDOP_poll, sched.SCHEDOP_pin_override])
      .toEqual([0, 1, 2, 3, 7]);
  });

  it("numbers event-channel commands and statuses, with 1024 ports in the 2-level ABI", () => {
    expect([evtchn.EVTCHNOP_bind_interdomain, evtchn.EVTCHNOP_bind_virq, evtchn.EVTCHNOP_close, evtchn.EVTCHNOP_send,
      evtchn.EVTCHNOP_status, evtchn.EVTCHNOP_alloc_unbound, evtchn.EVTCHNOP_bind_ipi, evtchn.EVTCHNOP_bind_vcpu,
      evtchn.EVTCHNOP_unmask]).toEqual([0, 1, 3, 4, 5, 6, 7, 8, 9]);
    expect([evtchn.EVTCHNSTAT_closed, evtchn.EVTCHNSTAT_interdomain, evtchn.EVTCHNSTAT_ipi]).toEqual([0, 2, 5]);
    expect(evtchn.EVTCHN_2L_NR_CHANNELS).toBe(32 * xen.EVTCHN_WORDS);
    expect(evtchn.EVTCHNOP_ARG_SIZE[evtchn.EVTCHNOP_status]).toBe(24);
  });

  it("numbers the VIRQs, with VIRQ_TIMER 0 and 24 in all", () => {
    expect([xen.VIRQ_TIMER, xen.VIRQ_CONSOLE, xen.VIRQ_DOM_EXC, xen.VIRQ_ARCH_0, xen.NR_VIRQS]).toEqual([0, 2, 3, 16, 24]);
  });

  it("numbers memory_op, vcpu_op and callback_op commands", () => {
    expect([memory.XENMEM_increase_reservation, memory.XENMEM_decrease_reservation, memory.XENMEM_maximum_ram_page,
      memory.XENMEM_populate_physmap, memory.XENMEM_machphys_mapping, memory.XENMEM_add_to_physmap_batch]).toEqual([0, 1, 2, 6, 12, 23]);
    expect([vcpu.VCPUOP_up, vcpu.VCPUOP_get_runstate_info, vcpu.VCPUOP_set_periodic_timer, vcpu.VCPUOP_set_singleshot_timer,
      vcpu.VCPUOP_register_vcpu_info]).toEqual([1, 4, 6, 8, 10]);
    expect([callback.CALLBACKTYPE_event, callback.CALLBACKTYPE_failsafe, callback.CALLBACKTYPE_nmi, callback.CALLBACKTYPE_sysenter,
      callback.CALLBACKTYPE_syscall32]).toEqual([0, 1, 4, 5, 7]);
  });

  it("numbers xen_version queries and packs the version as major << 16 | minor", () => {
    expect([version.XENVER_capabilities, version.XENVER_platform_parameters, version.XENVER_get_features,
      version.XENVER_pagesize, version.XENVER_commandline2]).toEqual([3, 5, 6, 7, 14]);
    expect(version.xenVersionNumber(4, 22)).toBe(0x00040016);
  });

  it("reports to a PV domU the feature bits Xen does, pae_pgdir_above_4gb only with extended CR3", () => {
    const bits = (mask: number) => [...Array(32).keys()].filter((b) => (mask >>> b) & 1);
    expect(bits(features.pvDomUFeatures(false))).toEqual([5, 6, 7, 13, 17, 18, 19, 20]);
    expect(bits(features.pvDomUFeatures(true))).toEqual([4, 5, 6, 7, 13, 17, 18, 19, 20]);
    expect(features.XENFEAT_NAMES[features.XENFEAT_writable_page_tables]).toBe("writable_page_tables");
    expect(features.XENFEAT_NAMES).toHaveLength(features.XENFEAT_NR_FEATURES);
  });

  it("numbers the ELF notes, PAE_MODE 9 and FEATURES 10", () => {
    expect([elfnote.XEN_ELFNOTE_ENTRY, elfnote.XEN_ELFNOTE_HYPERCALL_PAGE, elfnote.XEN_ELFNOTE_XEN_VERSION,
      elfnote.XEN_ELFNOTE_LOADER, elfnote.XEN_ELFNOTE_PAE_MODE, elfnote.XEN_ELFNOTE_FEATURES,
      elfnote.XEN_ELFNOTE_PHYS32_ENTRY, elfnote.XEN_ELFNOTE_CRASH_INFO, elfnote.XEN_ELFNOTE_DUMPCORE_FORMAT_VERSION])
      .toEqual([1, 2, 5, 8, 9, 10, 18, 0x1000001, 0x2000003]);
    expect(elfnote.XEN_ELFNOTE_KINDS[elfnote.XEN_ELFNOTE_PAE_MODE]).toBe("string");
  });

  it("spells XenVMMXenVMM in the CPUID signature registers", () => {
    const bytes = [cpuid.XEN_CPUID_SIGNATURE_EBX, cpuid.XEN_CPUID_SIGNATURE_ECX, cpuid.XEN_CPUID_SIGNATURE_EDX]
      .flatMap((r) => [r & 0xff, (r >>> 8) & 0xff, (r >>> 16) & 0xff, r >>> 24]);
    expect(String.fromCharCode(...bytes)).toBe("XenVMMXenVMM");
    expect(cpuid.XEN_CPUID_LEAF(2)).toBe(0x40000002);
  });
});

describe("selectors and the address-space hole (XEN-ABI.md 5.1, 7.3)", () => {
  it("puts FLAT_RING1_CS at GDT index 7171, three past Xen's reserved entries", () => {
    expect(arch.FIRST_RESERVED_GDT_ENTRY).toBe(7168);
    expect(arch.FLAT_RING1_CS >> 3).toBe(arch.FIRST_RESERVED_GDT_ENTRY + 3);
    expect([arch.FLAT_RING1_CS & 3, arch.FLAT_RING1_DS & 3, arch.FLAT_RING3_CS & 3, arch.FLAT_RING3_SS & 3]).toEqual([1, 1, 3, 3]);
    expect([arch.FLAT_KERNEL_CS, arch.FLAT_USER_DS]).toEqual([0xe019, 0xe033]);
  });

  it("starts the PAE hole at 0xF5800000 with a 16 MiB M2P window of 4 Mi entries", () => {
    expect(arch.HYPERVISOR_VIRT_START).toBe(0xf5800000);
    expect(arch.MACH2PHYS_VIRT_START).toBe(arch.HYPERVISOR_VIRT_START);
    expect(arch.MACH2PHYS_NR_ENTRIES).toBe(4 * 1024 * 1024);
  });

  it("packs a CR3 so that an L3 above 4 GiB still fits, and unpacks it", () => {
    expect(arch.xen_pfn_to_cr3(0x12345)).toBe(0x12345000);
    expect(arch.xen_pfn_to_cr3(0x1_00005)).toBe(0x00005001);
    expect(arch.xen_cr3_to_pfn(arch.xen_pfn_to_cr3(0x1_00005))).toBe(0x1_00005);
  });

  it("reads trap_info flags: DPL in bits 0-1, mask events in bit 2", () => {
    expect(arch.TI_GET_DPL(0b111)).toBe(3);
    expect(arch.TI_GET_IF(0b100)).toBe(true);
    expect(arch.TI_GET_IF(0b011)).toBe(false);
  });
});

describe("error numbers (XEN-ABI.md 2.3)", () => {
  it("uses Xen's values, which a hypercall returns negated", () => {
    expect([errno.EPERM, errno.ENOENT, errno.ESRCH, errno.ENOMEM, errno.EFAULT, errno.EBUSY, errno.EINVAL,
      errno.ENOSYS, errno.ETIME, errno.EOPNOTSUPP, errno.ECONNREFUSED]).toEqual([1, 2, 3, 12, 14, 16, 22, 38, 62, 95, 111]);
  });

  it("names every error once, and describes a result as the guest would read it", () => {
    const names = Object.values(errno.ERRNO_NAMES);
    expect(new Set(names).size).toBe(names.length);
    expect(names).not.toContain("EINTR");
    expect(errno.describeResult(-errno.EINVAL)).toBe("-EINVAL");
    expect(errno.describeResult(3)).toBe("3");
    expect(errno.describeResult(-4)).toBe("-4");
  });
});
