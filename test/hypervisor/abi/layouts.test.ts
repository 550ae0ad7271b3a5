// test/hypervisor/abi/layouts.test.ts — every x86_32 structure has the size and
// field offsets XEN-ABI.md gives ([C]: compiled from the public headers).

import { describe, expect, it } from "vitest";
import * as arch from "../../../hypervisor/abi/arch_x86_32.js";
import * as callback from "../../../hypervisor/abi/callback.js";
import * as evtchn from "../../../hypervisor/abi/event_channel.js";
import * as gnttab from "../../../hypervisor/abi/grant_table.js";
import * as hvmOp from "../../../hypervisor/abi/hvm/hvm_op.js";
import * as pvh from "../../../hypervisor/abi/hvm/start_info.js";
import * as console from "../../../hypervisor/abi/io/console.js";
import * as memory from "../../../hypervisor/abi/memory.js";
import * as physdev from "../../../hypervisor/abi/physdev.js";
import * as sched from "../../../hypervisor/abi/sched.js";
import * as vcpu from "../../../hypervisor/abi/vcpu.js";
import * as version from "../../../hypervisor/abi/version.js";
import * as xen from "../../../hypervisor/abi/xen.js";

describe("vcpu_guest_context (VCPUOP_initialise, arch-x86/xen.h packed to 4 as x86_32)", () => {
  it("is 2800 bytes: user_regs at 516, the 256 trap_info at 584, GDT frames at 2640, CR3 at 2728, callbacks at 2780", () => {
    expect(arch.cpu_user_regs.sizeof).toBe(68);
    expect([arch.cpu_user_regs.eip, arch.cpu_user_regs.cs, arch.cpu_user_regs.eflags, arch.cpu_user_regs.esp, arch.cpu_user_regs.gs])
      .toEqual([32, 36, 40, 44, 64]);
    const c = arch.vcpu_guest_context;
    expect(c.user_regs + arch.cpu_user_regs.sizeof).toBe(c.trap_ctxt);
    expect(c.trap_ctxt + 256 * arch.trap_info.sizeof).toBe(c.ldt_base);
    expect(c.gdt_frames + arch.VGC_GDT_FRAMES * 4).toBe(c.gdt_ents);
    expect(c.ctrlreg + 3 * 4).toBe(2728);
    expect([c.event_callback_cs, c.failsafe_callback_eip, c.vm_assist, c.sizeof]).toEqual([2780, 2792, 2796, 2800]);
  });
});

describe("the pages shared at boot (XEN-ABI.md 6)", () => {
  it("start_info is 1112 bytes with cmd_line at 80 and the P2M frame fields at the end", () => {
    expect(xen.start_info).toEqual({
      sizeof: 1112, magic: 0, nr_pages: 32, shared_info: 36, flags: 40, store_mfn: 44, store_evtchn: 48,
      console_domU_mfn: 52, console_domU_evtchn: 56, console_dom0_info_off: 52, console_dom0_info_size: 56,
      pt_base: 60, nr_pt_frames: 64, mfn_list: 68, mod_start: 72, mod_len: 76, cmd_line: 80,
      first_p2m_pfn: 1104, nr_p2m_frames: 1108,
    });
    expect(xen.start_info.cmd_line + xen.MAX_GUEST_CMDLINE).toBe(xen.start_info.first_p2m_pfn);
  });

  it("shared_info uses 2344 bytes: 32 vcpu_info, then the event bitmaps, the wallclock and arch", () => {
    expect(xen.shared_info).toEqual({
      sizeof: 2344, vcpu_info: 0, evtchn_pending: 2048, evtchn_mask: 2176,
      wc_version: 2304, wc_sec: 2308, wc_nsec: 2312, arch: 2316,
    });
    expect(arch.XEN_LEGACY_MAX_VCPUS * xen.vcpu_info.sizeof).toBe(xen.shared_info.evtchn_pending);
    expect(xen.shared_info.evtchn_pending + xen.EVTCHN_WORDS * 4).toBe(xen.shared_info.evtchn_mask);
    expect(xen.shared_info.arch + arch.arch_shared_info.sizeof).toBe(xen.shared_info.sizeof);
  });

  it("arch_shared_info places max_pfn at 2316 and wc_sec_hi at 2340 of shared_info", () => {
    const at = (field: keyof typeof arch.arch_shared_info) => xen.shared_info.arch + arch.arch_shared_info[field];
    expect([at("max_pfn"), at("pfn_to_mfn_frame_list_list"), at("nmi_reason"), at("p2m_cr3"), at("p2m_vaddr"),
      at("p2m_generation"), at("wc_sec_hi")]).toEqual([2316, 2320, 2324, 2328, 2332, 2336, 2340]);
  });

  it("vcpu_info is 64 bytes with cr2 at 8 and vcpu_time_info at 32", () => {
    expect(xen.vcpu_info).toEqual({
      sizeof: 64, evtchn_upcall_pending: 0, evtchn_upcall_mask: 1, evtchn_pending_sel: 4, arch: 8, arch_cr2: 8, time: 32,
    });
    expect(xen.vcpu_info.arch + arch.arch_vcpu_info.sizeof).toBe(xen.vcpu_info.time);
    expect(xen.vcpu_info.time + xen.vcpu_time_info.sizeof).toBe(xen.vcpu_info.sizeof);
  });

  it("vcpu_time_info is 32 bytes: version, tsc_timestamp at 8, system_time at 16, mul at 24, shift and flags at 28-29", () => {
    expect(xen.vcpu_time_info).toEqual({
      sizeof: 32, version: 0, pad0: 4, tsc_timestamp: 8, system_time: 16, tsc_to_system_mul: 24, tsc_shift: 28, flags: 29, pad: 30,
    });
  });

  it("finds vCPU 31's vcpu_info at 1984 and refuses vCPU 32, which has no legacy slot", () => {
    expect(xen.sharedInfoVcpuOffset(31)).toBe(1984);
    expect(() => xen.sharedInfoVcpuOffset(32)).toThrow(RangeError);
  });
});

describe("hypercall argument structures (XEN-ABI.md 4)", () => {
  it("sizes every struct as x86_32 lays it out, u64 aligned to 4", () => {
    const sizes: Array<[string, number, number]> = [
      ["trap_info", arch.trap_info.sizeof, 8],
      ["mmu_update", xen.mmu_update.sizeof, 16],
      ["mmuext_op", xen.mmuext_op.sizeof, 12],
      ["multicall_entry", xen.multicall_entry.sizeof, 32],
      ["callback_register", callback.callback_register.sizeof, 12],
      ["sched_shutdown", sched.sched_shutdown.sizeof, 4],
      ["sched_poll", sched.sched_poll.sizeof, 16],
      ["evtchn_bind_interdomain", evtchn.evtchn_bind_interdomain.sizeof, 12],
      ["evtchn_bind_virq", evtchn.evtchn_bind_virq.sizeof, 12],
      ["evtchn_bind_pirq", evtchn.evtchn_bind_pirq.sizeof, 12],
      ["evtchn_close", evtchn.evtchn_close.sizeof, 4],
      ["evtchn_send", evtchn.evtchn_send.sizeof, 4],
      ["evtchn_status", evtchn.evtchn_status.sizeof, 24],
      ["evtchn_alloc_unbound", evtchn.evtchn_alloc_unbound.sizeof, 8],
      ["evtchn_bind_ipi", evtchn.evtchn_bind_ipi.sizeof, 8],
      ["evtchn_bind_vcpu", evtchn.evtchn_bind_vcpu.sizeof, 8],
      ["evtchn_unmask", evtchn.evtchn_unmask.sizeof, 4],
      ["xen_memory_reservation", memory.xen_memory_reservation.sizeof, 20],
      ["xen_add_to_physmap", memory.xen_add_to_physmap.sizeof, 16],
      ["xen_machphys_mapping", memory.xen_machphys_mapping.sizeof, 12],
      ["vcpu_set_periodic_timer", vcpu.vcpu_set_periodic_timer.sizeof, 8],
      ["vcpu_set_singleshot_timer", vcpu.vcpu_set_singleshot_timer.sizeof, 12],
      ["vcpu_register_vcpu_info", vcpu.vcpu_register_vcpu_info.sizeof, 16],
      ["vcpu_runstate_info", vcpu.vcpu_runstate_info.sizeof, 44],
      ["physdev_set_iopl", physdev.physdev_set_iopl.sizeof, 4],
      ["xen_feature_info", version.xen_feature_info.sizeof, 8],
      ["xen_platform_parameters", version.xen_platform_parameters.sizeof, 4],
      ["grant_entry_v1", gnttab.grant_entry_v1.sizeof, 8],
      ["gnttab_setup_table", gnttab.gnttab_setup_table.sizeof, 16],
      ["gnttab_map_grant_ref", gnttab.gnttab_map_grant_ref.sizeof, 32],
      ["gnttab_unmap_grant_ref", gnttab.gnttab_unmap_grant_ref.sizeof, 24],
      ["gnttab_copy", gnttab.gnttab_copy.sizeof, 24],
      ["gnttab_query_size", gnttab.gnttab_query_size.sizeof, 16],
      ["xen_hvm_param", hvmOp.xen_hvm_param.sizeof, 16],
      ["hvm_start_info", pvh.hvm_start_info.sizeof, 56],
      ["hvm_modlist_entry", pvh.hvm_modlist_entry.sizeof, 32],
      ["hvm_memmap_table_entry", pvh.hvm_memmap_table_entry.sizeof, 24],
      ["xencons_interface", console.xencons_interface.sizeof, 3092],
    ];
    expect(sizes.filter(([, got, want]) => got !== want)).toEqual([]);
  });

  it("puts the fields XEN-ABI.md names at its offsets", () => {
    expect(arch.trap_info).toEqual({ sizeof: 8, vector: 0, flags: 1, cs: 2, address: 4 });
    expect(xen.mmu_update).toMatchObject({ ptr: 0, val: 8 });
    expect(xen.mmuext_op).toMatchObject({ cmd: 0, arg1: 4, arg2: 8 });
    expect(xen.multicall_entry).toMatchObject({ op: 0, result: 4, args: 8 });
    expect(callback.callback_register).toMatchObject({ type: 0, flags: 2, address_cs: 4, address_eip: 8 });
    expect(sched.sched_poll).toMatchObject({ ports: 0, nr_ports: 4, timeout: 8 });
    expect(sched.sched_remote_shutdown).toMatchObject({ domain_id: 0, reason: 4 });
    expect(evtchn.evtchn_status).toMatchObject({ dom: 0, port: 4, status: 8, vcpu: 12, interdomain_dom: 16, interdomain_port: 20 });
    expect(evtchn.evtchn_alloc_unbound).toMatchObject({ dom: 0, remote_dom: 2, port: 4 });
    expect(memory.xen_memory_reservation).toMatchObject({ extent_start: 0, nr_extents: 4, extent_order: 8, mem_flags: 12, domid: 16 });
    expect(vcpu.vcpu_register_vcpu_info).toMatchObject({ mfn: 0, offset: 8, rsvd: 12 });
    expect(vcpu.vcpu_runstate_info).toMatchObject({ state: 0, state_entry_time: 4, time: 12 });
    expect(vcpu.vcpu_runstate_info.time + 4 * 8).toBe(vcpu.vcpu_runstate_info.sizeof);
    expect(gnttab.gnttab_map_grant_ref).toMatchObject({ host_addr: 0, flags: 8, ref: 12, dom: 16, status: 18, handle: 20, dev_bus_addr: 24 });
    expect(gnttab.gnttab_copy).toMatchObject({ source_domid: 4, source_offset: 6, dest_u: 8, dest_domid: 12, len: 16, flags: 18, status: 20 });
    expect(pvh.hvm_start_info).toMatchObject({ modlist_paddr: 16, cmdline_paddr: 24, rsdp_paddr: 32, memmap_paddr: 40, memmap_entries: 48 });
    expect(console.xencons_interface).toMatchObject({ in: 0, out: 1024, in_cons: 3072, in_prod: 3076, out_cons: 3080, out_prod: 3084, connection: 3088 });
  });

  it("keeps every field of every layout inside its struct", () => {
    const modules = { arch, callback, evtchn, gnttab, hvmOp, pvh, console, memory, physdev, sched, vcpu, version, xen };
    const outside: string[] = [];
    let layouts = 0;
    for (const [moduleName, exports] of Object.entries(modules)) {
      for (const [name, value] of Object.entries(exports)) {
        if (typeof value !== "object" || value === null || !("sizeof" in value)) continue;
        layouts++;
        const { sizeof, ...fields } = value as Record<string, number>;
        for (const [field, offset] of Object.entries(fields)) {
          if (!(offset >= 0 && offset < sizeof!)) outside.push(`${moduleName}.${name}.${field} @${offset} of ${sizeof}`);
        }
      }
    }
    expect(layouts).toBeGreaterThan(40);
    expect(outside).toEqual([]);
  });
});
