// hypervisor/x86/context.ts — VCPUOP_initialise: a PV vCPU's first registers and tables, from vcpu_guest_context.
//
// A PV domain starts with vCPU 0 running (the builder gave it registers,
// hypervisor/builder.ts); its other vCPUs exist but have never run. Before
// bringing one up (VCPUOP_up) the guest hands Xen a whole vcpu_guest_context
// for it: general registers and segments, its virtual IDT, GDT frames,
// LDT, ring-1 stack, CR3, and the event and failsafe callbacks (XEN-ABI.md
// 4; layout in hypervisor/abi/arch_x86_32.ts). This is Xen's
// arch_set_info_guest for a 32-bit PV guest, with its checks: selectors
// are ring-compressed (RPL 0 becomes 1), the LDT must be page-aligned and
// at most 8192 entries, the GDT frames must become descriptor pages and
// CR3 an L3 table of the domain (each failure -EINVAL, leaving the vCPU
// uninitialised). EFLAGS.IOPL becomes the vCPU's virtual IOPL and IF is
// forced on, since the real IF belongs to the hypervisor. The vCPU stays
// down unless flags has VGCF_online.
//
// Where this differs from Xen: CS and SS must name usable segments of the
// new GDT, and any other non-null selector a data segment, or the call is
// -EINVAL (Xen loads them at the first context switch and enters the
// failsafe callback when that fails). The FPU area and the debug registers
// are ignored: the CPU has no x87, and no debug-register state is kept for
// PV vCPUs. vm_assist applies only through vCPU 0's context, which is
// never initialised this way.

import * as L from "../../core/layout.js";
import { EINVAL } from "../abi/errno.js";
import { TI_GET_DPL, TI_GET_IF, VGCF_online, type VcpuGuestContext, xen_cr3_to_pfn } from "../abi/arch_x86_32.js";
import { CS, DS, ES, FS, GS, SS, type Segment } from "../platform/cpu.js";
import { PGT_l3_page_table } from "../mm/pagetype.js";
import type { HypercallContext } from "../hypercall.js";
import type { Vcpu } from "../vcpu.js";
import { MAX_LDT_ENTRIES, releaseDescriptorTables, setGdtFrames, setLdt } from "./gdt.js";
import { fixupSelector, segmentFromGdt } from "./segments.js";
import { refreshFastTrap, stackSwitch } from "./traps.js";

const PAGE_SIZE = 4096;
const CR0_TS = 1 << 3;
const FLAG_IF = 1 << 9;
const FLAG_IOPL = 3 << 12;
/** EFLAGS bits a PV vCPU may hold: the status flags, TF, DF, OF, NT, AC, ID (no VM, no RF, no VIF/VIP). */
const GUEST_EFLAGS = 0x244dd5;
const UNUSABLE: Segment = { selector: 0, base: 0, limit: 0, attr: L.SEG_ATTR_UNUSABLE };

/**
 * Sets up `target`, a vCPU of the calling domain that has not run, from
 * `c`. Returns 0 or -EINVAL. `ctx` is the calling vCPU's hypercall.
 */
export function initialiseVcpu(ctx: HypercallContext, target: Vcpu, c: VcpuGuestContext): number {
  const { xen } = ctx;
  const domid = target.domain.domid;
  if ((c.ldtBase & (PAGE_SIZE - 1)) !== 0 || c.ldtEnts > MAX_LDT_ENTRIES) return -EINVAL;
  const cr3Mfn = xen_cr3_to_pfn(c.ctrlreg[3]!);
  // The CR3 reference first: until everything else has worked, it is the one thing to give back.
  if (xen.types.getPageAndType(cr3Mfn, domid, PGT_l3_page_table) < 0) return -EINVAL;
  const rc = xen.onCpu(target, () => {
    const cpu = xen.cpu;
    const tctx: HypercallContext = { xen, cpu, vcpu: target, domain: target.domain };
    if (setGdtFrames(xen, target, c.gdtFrames, c.gdtEnts) < 0) return -EINVAL;
    const regs = c.userRegs;
    const code = segmentFromGdt(cpu, target.tables, fixupSelector(regs.cs), true);
    const stack = segmentFromGdt(cpu, target.tables, fixupSelector(regs.ss), false);
    const data = [regs.es, regs.ds, regs.fs, regs.gs].map((sel) =>
      (sel & ~3) === 0 ? UNUSABLE : segmentFromGdt(cpu, target.tables, fixupSelector(sel), false),
    );
    if (!code || !stack || (code.selector & 3) !== (stack.selector & 3) || data.some((s) => s === null)) return -EINVAL;
    if (stackSwitch(tctx, c.kernelSs, c.kernelSp) < 0) return -EINVAL;
    cpu.cr3 = cr3Mfn * PAGE_SIZE;
    target.cr3Mfn = cr3Mfn;
    target.trapTable.fill(null);
    c.trapCtxt.forEach((t, vector) => {
      // Xen's null_trap_bounce: an entry whose CS is null has no handler.
      if ((t.cs & ~3) === 0) return;
      target.trapTable[vector] = { cs: fixupSelector(t.cs), eip: t.address, dpl: TI_GET_DPL(t.flags), masksEvents: TI_GET_IF(t.flags) };
    });
    refreshFastTrap(tctx);
    setLdt(tctx, c.ldtBase, c.ldtEnts);
    target.eventCallback = { cs: fixupSelector(c.eventCallbackCs), eip: c.eventCallbackEip >>> 0 };
    target.failsafeCallback = { cs: fixupSelector(c.failsafeCallbackCs), eip: c.failsafeCallbackEip >>> 0 };
    cpu.setSegment(CS, code);
    cpu.setSegment(SS, stack);
    [ES, DS, FS, GS].forEach((sreg, i) => cpu.setSegment(sreg, data[i]!));
    cpu.cpl = code.selector & 3;
    cpu.eip = regs.eip;
    cpu.esp = regs.esp;
    cpu.eax = regs.eax;
    cpu.ebx = regs.ebx;
    cpu.ecx = regs.ecx;
    cpu.edx = regs.edx;
    cpu.esi = regs.esi;
    cpu.edi = regs.edi;
    cpu.ebp = regs.ebp;
    target.iopl = (regs.eflags & FLAG_IOPL) >>> 12;
    cpu.eflags = (regs.eflags & GUEST_EFLAGS) | FLAG_IF | 2;
    cpu.cr0 = (c.ctrlreg[0]! & CR0_TS) !== 0 ? cpu.cr0 | CR0_TS : cpu.cr0 & ~CR0_TS;
    return 0;
  });
  if (rc < 0) {
    releaseDescriptorTables(xen, target);
    xen.types.putPageAndType(cr3Mfn);
    target.cr3Mfn = -1;
    return rc;
  }
  target.initialised = true;
  if ((c.flags & VGCF_online) !== 0) xen.events.vcpuUp(target);
  return 0;
}
