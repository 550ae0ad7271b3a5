// hypervisor/physdev.ts — physdev_op(set_iopl): a virtual IOPL, honoured when the guest does port I/O.
//
// A PV kernel runs with EFLAGS.IOPL 0 (the real IOPL is the hypervisor's),
// and the host TSS has no I/O bitmap (hypervisor/x86/desc.ts), so every IN,
// OUT, INS and OUTS the guest executes raises #GP(0). PHYSDEVOP_set_iopl
// gives a vCPU a virtual IOPL instead (XEN-ABI.md 4): when it allows the
// guest's privilege level, the hypervisor completes the instruction, as
// Xen's emulate_privileged_op does after its guest_io_okay check (iopl_ok:
// the kernel counts as ring 1, or ring 0 with vm_assist
// architectural_iopl; ring 3 as ring 3). The core executes the instruction
// with the I/O permission check skipped (Cpu.EMULATE_IO_PERMITTED) and
// stops at each port access for the host to answer.
//
// A domU owns no I/O ports, so there is nothing behind them: reads return
// all ones, as an absent device on a real bus does and as Xen answers a
// port the domain has no access to, and writes are dropped. One exception,
// our own choice: a byte written to port 0xE9, the Bochs/QEMU debug port
// that Xen's HVM guests print through, goes to the domain's console, so a
// PV kernel can print with a single OUT before it has a console of its own.
// Real Xen drops it for a PV guest.
//
// Other physdev_op commands concern physical devices and interrupts a domU
// does not have: -ENOSYS.

import * as L from "../core/layout.js";
import { Cpu } from "./platform/cpu.js";
import { EFAULT, EINVAL, ENOSYS } from "./abi/errno.js";
import { PHYSDEVOP_set_iopl } from "./abi/physdev.js";
import { VMASST_TYPE_architectural_iopl, __HYPERVISOR_physdev_op } from "./abi/xen.js";
import { defineHypercall, readGuestU32 } from "./hypercall.js";
import type { Vcpu } from "./vcpu.js";
import type { Hypervisor } from "./xen.js";
import { emulateInstruction } from "./x86/emulate.js";

/** The debug port whose byte writes reach the domain's console. */
export const DEBUG_PORT = 0xe9;

/**
 * Whether the vCPU's virtual IOPL allows I/O at `cpl` (Xen's iopl_ok): the
 * guest kernel (ring 1) counts as ring 1, or as ring 0 when the domain
 * turned on vm_assist(architectural_iopl); any other ring counts as 3.
 */
export function ioplAllows(vcpu: Vcpu, cpl: number): boolean {
  const architectural = (vcpu.domain.vmAssist & (1 << VMASST_TYPE_architectural_iopl)) !== 0;
  const ring = cpl === 1 ? (architectural ? 0 : 1) : 3;
  return ring <= vcpu.iopl;
}

/** Answers one port access of the emulated instruction: all ones in, writes dropped, 0xE9 bytes to the console. */
function completePortAccess(xen: Hypervisor, vcpu: Vcpu): void {
  const cpu = xen.cpu;
  const size = cpu.exitSize();
  if (cpu.exitIsInput()) {
    cpu.setExitData(size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff);
  } else if (cpu.exitPort() === DEBUG_PORT && size === 1) {
    vcpu.domain.consoleOut(Uint8Array.of(cpu.exitData() & 0xff));
  }
}

/**
 * A #GP the guest took: when its error code is 0 and the vCPU's virtual
 * IOPL allows its ring, the instruction is executed again with port I/O
 * permitted and its accesses answered here. An instruction that is not
 * port I/O raises the same #GP again, and that #GP goes to the guest, as
 * the original would have. False when the IOPL does not allow I/O: the
 * caller bounces the original #GP.
 */
export function emulateGuestIo(xen: Hypervisor, vcpu: Vcpu, errorCode: number): boolean {
  if (errorCode !== 0 || !ioplAllows(vcpu, xen.cpu.cpl)) return false;
  const outcome = emulateInstruction(xen, vcpu, Cpu.EMULATE_IO_PERMITTED, (reason) => {
    if (reason !== L.EXIT_IO) return false;
    completePortAccess(xen, vcpu);
    return true;
  });
  return outcome === "done";
}

defineHypercall(__HYPERVISOR_physdev_op, (ctx, cmd, arg) => {
  switch (cmd) {
    case PHYSDEVOP_set_iopl: {
      const iopl = readGuestU32(ctx, arg);
      if (iopl === null) return -EFAULT;
      if (iopl > 3) return -EINVAL;
      ctx.vcpu.iopl = iopl;
      return 0;
    }
    default:
      return -ENOSYS;
  }
});
