// core/io.ts — the I/O address space: permission, then an exit to the host.
//
// IN, OUT, INS and OUTS may run when CPL <= IOPL in protected mode, always
// in real mode; otherwise (and always in virtual-8086 mode) the I/O
// permission bitmap of the current 32-bit TSS decides: every bit covering
// the port's bytes must be clear, and a bitmap byte beyond the TSS limit
// counts as set (SDM Vol. 1 19.5, Vol. 3A 20.2.8.1). A refused access is
// #GP(0). An allowed access leaves the core through core/iolog.ts, since
// the devices belong to the host. An instruction the host emulates with
// EMULATE_IO_PERMITTED (core/emulate.ts) skips both checks: the host has
// decided, as Xen does for a PV kernel whose virtual IOPL allows the port.

import { SEG_TR } from "./layout";
import { FLAG_VM, cpl, eflags, segAttr, segBase, segLimit } from "./state";
import { EXC_GP, faulted, raise } from "./fault";
import { protectedMode, readSystem16 } from "./segment";
import { ioAccess } from "./iolog";
import { IO_LOG_INPUT } from "./layout";
import { ioPermittedByHost } from "./emulate";

/** True when the port access is allowed; raises #GP(0) (or a #PF reading the TSS) when not. */
export function ioPermitted(port: u32, bytes: u32): bool {
  if (!protectedMode() || ioPermittedByHost) return true;
  const flags = eflags();
  if ((flags & FLAG_VM) == 0 && cpl() <= ((flags >> 12) & 3)) return true;
  return bitmapPermits(port, bytes);
}

function bitmapPermits(port: u32, bytes: u32): bool {
  const type = segAttr(SEG_TR) & 0xf;
  const limit = segLimit(SEG_TR);
  if ((type != 0x9 && type != 0xb) || limit < 103) {
    raise(EXC_GP, 0);
    return false;
  }
  const base = segBase(SEG_TR);
  const mapBase = readSystem16(base + 102);
  if (faulted()) return false;
  const at = mapBase + (port >> 3);
  if (at + 1 > limit) {
    raise(EXC_GP, 0);
    return false;
  }
  const bits = readSystem16(base + at);
  if (faulted()) return false;
  const mask = ((<u32>1 << bytes) - 1) << (port & 7);
  if ((bits & mask) != 0) {
    raise(EXC_GP, 0);
    return false;
  }
  return true;
}

/** Reads `bytes` (1, 2, 4) from `port`: the value the host supplied, or FAULT_EXIT raised. */
export function portIn(port: u32, bytes: u32): u32 {
  return ioAccess(port & 0xffff, bytes | IO_LOG_INPUT, 0);
}

/** Writes `v` to `port`: done once the host has taken it, FAULT_EXIT raised until then. */
export function portOut(port: u32, bytes: u32, v: u32): void {
  const mask: u32 = bytes == 4 ? 0xffffffff : (<u32>1 << (bytes << 3)) - 1;
  ioAccess(port & 0xffff, bytes, v & mask);
}
