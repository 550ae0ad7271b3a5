// hypervisor/multicall.ts — multicall: many hypercalls for the price of one trap.
//
// A PV kernel batches hypercalls (a context switch is typically a
// stack_switch, an mmuext_op and an update_descriptor) into an array of
// multicall_entry {op, result, args[6]} (32 bytes each, XEN-ABI.md 4) and
// makes one multicall(list, nr). Each entry's hypercall runs through the
// same table as a direct one, with args[0..4] as its five arguments (the
// sixth slot is never passed), and its return value is written to the
// entry's result field. The multicall itself returns 0, or -EFAULT when
// the list cannot be read or a result cannot be written back.
//
// Xen's rules (common/multicall.c, arch/x86/pv/hypercall.c, facts only):
// - A multicall inside a multicall is refused: that entry's result is
//   -EINVAL ("multicall reentry is disallowed") and the batch goes on.
// - iret ends the batch: it has changed the vCPU's registers (EAX among
//   them), so its result, the EAX it restored, is also what the multicall
//   returns, and nothing after it runs.
// - When an entry blocks the vCPU (sched_op block, poll), Xen notices at
//   its next preemption check and continues the rest later, by turning the
//   multicall into a continuation: EIP goes back onto the `int 0x82`, with
//   EBX and ECX naming the entries still to do. The same is done here, so
//   entries after a block run only once the vCPU is woken. A shut-down
//   domain runs nothing more.

import { EFAULT, EINVAL, ENOSYS } from "./abi/errno.js";
import { __HYPERVISOR_iret, __HYPERVISOR_multicall, multicall_entry, readMulticallEntry } from "./abi/xen.js";
import { type HypercallContext, copyFromGuest, copyToGuest, defineHypercall, guestRange, hypercallHandler } from "./hypercall.js";

/** The length of `int 0x82`: a continuation re-executes it. */
const INT_82_LENGTH = 2;

function resultBytes(result: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, result >>> 0, true);
  return b;
}

/**
 * Writes an entry's result with the guest kernel's rights as they were at
 * the multicall (an iret may have left the vCPU in ring 3 by now; Xen
 * writes with its own rights through the same page tables).
 */
function writeResult(ctx: HypercallContext, at: number, result: number, cpl: number): boolean {
  const current = ctx.cpu.cpl;
  ctx.cpu.cpl = cpl;
  const ok = copyToGuest(ctx, at + multicall_entry.result, resultBytes(result));
  ctx.cpu.cpl = current;
  return ok;
}

function multicall(ctx: HypercallContext, list: number, nr: number): number {
  const { xen, cpu, vcpu, domain } = ctx;
  if (vcpu.inMulticall) return -EINVAL;
  if (!guestRange(list, nr * multicall_entry.sizeof)) return -EFAULT;
  const cpl = cpu.cpl;
  vcpu.inMulticall = true;
  try {
    for (let i = 0; i < nr; i++) {
      const at = list + i * multicall_entry.sizeof;
      const bytes = copyFromGuest(ctx, at, multicall_entry.sizeof);
      if (bytes === null) return -EFAULT;
      const entry = readMulticallEntry(new DataView(bytes.buffer), 0);
      const handler = hypercallHandler(entry.op);
      const call: HypercallContext = { xen, cpu, vcpu, domain };
      const [a1, a2, a3, a4, a5] = entry.args as [number, number, number, number, number];
      let result = handler ? handler(call, a1, a2, a3, a4, a5) : -ENOSYS;
      if (entry.op === __HYPERVISOR_iret) {
        if (call.keepRegisters) {
          result = cpu.eax;
          ctx.keepRegisters = true;
        }
        writeResult(ctx, at, result, cpl);
        return result;
      }
      if (!writeResult(ctx, at, result, cpl)) return -EFAULT;
      if (domain.state === "shutdown") return 0;
      if (i + 1 < nr && (vcpu.runState !== "runnable" || !domain.isRunnable())) {
        // Continue the rest when the vCPU runs again: back onto the int 0x82, arguments advanced.
        cpu.eax = __HYPERVISOR_multicall;
        cpu.ebx = at + multicall_entry.sizeof;
        cpu.ecx = nr - i - 1;
        cpu.eip = (cpu.eip - INT_82_LENGTH) >>> 0;
        ctx.keepRegisters = true;
        return 0;
      }
    }
    return 0;
  } finally {
    vcpu.inMulticall = false;
  }
}

defineHypercall(__HYPERVISOR_multicall, (ctx, list, nr) => multicall(ctx, list, nr));
