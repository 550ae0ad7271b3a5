// test/hypervisor/abi/accessors.test.ts — reading and writing ABI structures in
// guest memory: each accessor puts every field where the layout says.

import { describe, expect, it } from "vitest";
import { readTrapInfo } from "../../../hypervisor/abi/arch_x86_32.js";
import { readCallbackRegister } from "../../../hypervisor/abi/callback.js";
import { callbackIrqType } from "../../../hypervisor/abi/hvm/params.js";
import { MASK_XENCONS_IDX, XENCONS_OUT_SIZE } from "../../../hypervisor/abi/io/console.js";
import { readMemoryReservation } from "../../../hypervisor/abi/memory.js";
import { readSchedPoll } from "../../../hypervisor/abi/sched.js";
import { RUNSTATE_blocked, vcpu_runstate_info, writeRunstateInfo } from "../../../hypervisor/abi/vcpu.js";
import {
  MAX_GUEST_CMDLINE,
  START_INFO_MAGIC_X86_32P,
  SIF_INITDOMAIN,
  readMulticallEntry,
  readVcpuTimeInfo,
  start_info,
  writeStartInfo,
  writeVcpuTimeInfo,
  type StartInfo,
} from "../../../hypervisor/abi/xen.js";

/** A view over `bytes` bytes, offset inside a larger buffer so that byteOffset bugs show. */
function memory(bytes: number): DataView {
  return new DataView(new ArrayBuffer(bytes + 64), 16, bytes);
}

function bytesOf(view: DataView, at: number, ...values: number[]): void {
  values.forEach((v, i) => view.setUint8(at + i, v));
}

const info: StartInfo = {
  magic: START_INFO_MAGIC_X86_32P, nr_pages: 0x8000, shared_info: 0x1234000, flags: SIF_INITDOMAIN,
  store_mfn: 0x111, store_evtchn: 1, console_mfn: 0x222, console_evtchn: 2, pt_base: 0x40_6000, nr_pt_frames: 5,
  mfn_list: 0x40_2000, mod_start: 0, mod_len: 0, cmd_line: "console=hvc0", first_p2m_pfn: 0, nr_p2m_frames: 0,
};

describe("start_info", () => {
  it("writes the magic NUL-padded, the numbers at their offsets and the command line at 80", () => {
    const view = memory(4096);
    new Uint8Array(view.buffer, view.byteOffset, 4096).fill(0xaa);
    writeStartInfo(view, 8, info);
    const text = (at: number, n: number) => new TextDecoder().decode(new Uint8Array(view.buffer, view.byteOffset + 8 + at, n));
    expect(text(start_info.magic, 16)).toBe("xen-3.0-x86_32p\0");
    expect(view.getUint8(8 + start_info.magic + 31)).toBe(0);
    expect(view.getUint32(8 + start_info.nr_pages, true)).toBe(0x8000);
    expect(view.getUint32(8 + start_info.shared_info, true)).toBe(0x1234000);
    expect(view.getUint32(8 + start_info.console_domU_mfn, true)).toBe(0x222);
    expect(view.getUint32(8 + start_info.console_domU_evtchn, true)).toBe(2);
    expect(view.getUint32(8 + start_info.pt_base, true)).toBe(0x40_6000);
    expect(view.getUint32(8 + start_info.mfn_list, true)).toBe(0x40_2000);
    expect(text(start_info.cmd_line, 13)).toBe("console=hvc0\0");
    expect(view.getUint8(8 + start_info.sizeof)).toBe(0xaa);
    expect(view.getUint8(7)).toBe(0xaa);
  });

  it("cuts a command line at 1023 bytes so the NUL always fits", () => {
    const view = memory(2048);
    writeStartInfo(view, 0, { ...info, cmd_line: "x".repeat(3000) });
    expect(view.getUint8(start_info.cmd_line + MAX_GUEST_CMDLINE - 2)).toBe(0x78);
    expect(view.getUint8(start_info.cmd_line + MAX_GUEST_CMDLINE - 1)).toBe(0);
  });
});

describe("vcpu_time_info", () => {
  it("round-trips 64-bit times and a negative shift", () => {
    const view = memory(64);
    const t = { version: 7, tsc_timestamp: 0x1_2345_6789n, system_time: 0xdead_beef_0000n, tsc_to_system_mul: 0x8000_0000, tsc_shift: -1, flags: 1 };
    writeVcpuTimeInfo(view, 32, t);
    expect(view.getInt8(32 + 28)).toBe(-1);
    expect(view.getUint32(32 + 8, true)).toBe(0x2345_6789);
    expect(readVcpuTimeInfo(view, 32)).toEqual(t);
  });
});

describe("hypercall arguments", () => {
  it("reads a trap_info entry: vector, flags, cs and handler address", () => {
    const view = memory(16);
    bytesOf(view, 8, 0x80, 0x03, 0x19, 0xe0, 0x78, 0x56, 0x34, 0x12);
    expect(readTrapInfo(view, 8)).toEqual({ vector: 0x80, flags: 3, cs: 0xe019, address: 0x12345678 });
  });

  it("reads the five argument slots Xen passes from a multicall entry, not the sixth", () => {
    const view = memory(32);
    for (let i = 0; i < 8; i++) view.setUint32(4 * i, i === 0 ? 29 : 100 + i, true);
    expect(readMulticallEntry(view, 0)).toEqual({ op: 29, args: [102, 103, 104, 105, 106] });
  });

  it("reads callback_register: u16 type and flags, then cs and eip", () => {
    const view = memory(12);
    bytesOf(view, 0, 7, 0, 1, 0, 0x19, 0xe0, 0, 0, 0x00, 0x10, 0x10, 0x00);
    expect(readCallbackRegister(view, 0)).toEqual({ type: 7, flags: 1, cs: 0xe019, eip: 0x101000 });
  });

  it("reads sched_poll with its 64-bit timeout at 8", () => {
    const view = memory(16);
    view.setUint32(0, 0x5000, true);
    view.setUint32(4, 3, true);
    view.setBigUint64(8, 123_456_789_000n, true);
    expect(readSchedPoll(view, 0)).toEqual({ ports: 0x5000, nr_ports: 3, timeout: 123_456_789_000n });
  });

  it("reads xen_memory_reservation with its u16 domid at 16", () => {
    const view = memory(20);
    [0x7000, 4, 0, 0].forEach((v, i) => view.setUint32(4 * i, v, true));
    view.setUint32(16, 0xffff_7ff0, true);
    expect(readMemoryReservation(view, 0)).toEqual({ extent_start: 0x7000, nr_extents: 4, extent_order: 0, mem_flags: 0, domid: 0x7ff0 });
  });

  it("writes vcpu_runstate_info: state, entry time at 4, four times from 12", () => {
    const view = memory(vcpu_runstate_info.sizeof);
    writeRunstateInfo(view, 0, { state: RUNSTATE_blocked, state_entry_time: 5n, time: [1n, 2n, 3n, 4n] });
    expect(view.getUint32(0, true)).toBe(2);
    expect(view.getBigUint64(4, true)).toBe(5n);
    expect(view.getBigUint64(12 + 3 * 8, true)).toBe(4n);
  });
});

describe("small helpers", () => {
  it("masks console ring indices by the ring's size", () => {
    expect(MASK_XENCONS_IDX(2048 + 5, XENCONS_OUT_SIZE)).toBe(5);
  });

  it("reads the delivery type from bits 63-56 of CALLBACK_IRQ", () => {
    expect(callbackIrqType((2n << 56n) | 0xf3n)).toBe(2);
  });
});
