// hypervisor/platform/ports.ts — the I/O port space: which device answers IN and OUT at each port.
//
// x86 has a separate 64 KiB address space for I/O, reached only by IN, OUT
// and the string forms INS/OUTS (SDM Vol. 1, chapter 19). On a PC, devices
// decode their own port ranges on the ISA bus and nobody answers the rest: a
// read of an unclaimed port floats to all ones (0xFF per byte), a write
// vanishes. The port map is that bus: devices register port ranges, and each
// access the CPU exits with is dispatched here.
//
// An 8-bit device sees a 16- or 32-bit access as consecutive byte accesses
// (the chipset splits it, SDM Vol. 1 19.3), each of which may reach a
// different device or none. A device registered as wide receives the access
// whole instead.
//
// `--port-log PORT` is implemented here because only here is every byte
// that reaches a port visible, claimed or not.

import type { IoSize, PortDevice } from "../devices/io.js";
import { hex } from "./boot.js";

export const PORT_COUNT = 0x10000;

interface Claim {
  first: number;
  last: number;
  device: PortDevice;
  wide: boolean;
}

export class PortMap {
  private readonly claims: (Claim | undefined)[] = new Array<Claim | undefined>(PORT_COUNT);
  private readonly logged = new Set<number>();
  /** Where `--port-log` lines go (stderr in `xenoscope run`). */
  logSink: (line: string) => void = () => {};

  /** Claims ports first..last for `device`; a wide device receives 16- and 32-bit accesses whole. */
  register(first: number, last: number, device: PortDevice, options: { wide?: boolean } = {}): void {
    if (first < 0 || last >= PORT_COUNT || first > last) throw new RangeError(`ports: bad range ${hex(first)}-${hex(last)}`);
    for (let p = first; p <= last; p++) {
      const other = this.claims[p];
      if (other) throw new Error(`ports: ${device.name} at ${hex(p)} overlaps ${other.device.name}`);
    }
    const claim: Claim = { first, last, device, wide: options.wide ?? false };
    for (let p = first; p <= last; p++) this.claims[p] = claim;
  }

  /** The device claiming `port`, if any. */
  deviceAt(port: number): PortDevice | undefined {
    return this.claims[port & 0xffff]?.device;
  }

  /** Prints every byte written to `port` through logSink, one line each, in hex. */
  logWrites(port: number): void {
    this.logged.add(port & 0xffff);
  }

  read(port: number, size: IoSize): number {
    port &= 0xffff;
    const claim = this.claims[port];
    if (claim?.wide) return (claim.device.read(port, size) & sizeMask(size)) >>> 0;
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.readByte((port + i) & 0xffff) << (8 * i);
    return value >>> 0;
  }

  private readByte(port: number): number {
    const claim = this.claims[port];
    return claim ? claim.device.read(port, 1) & 0xff : 0xff;
  }

  write(port: number, size: IoSize, value: number): void {
    port &= 0xffff;
    value = (value & sizeMask(size)) >>> 0;
    if (this.logged.size > 0) {
      for (let i = 0; i < size; i++) {
        const p = (port + i) & 0xffff;
        if (this.logged.has(p)) this.logSink(`port ${hex(p)} <- ${hex((value >>> (8 * i)) & 0xff, 2)}`);
      }
    }
    const claim = this.claims[port];
    if (claim?.wide) {
      claim.device.write(port, size, value);
      return;
    }
    for (let i = 0; i < size; i++) {
      const p = (port + i) & 0xffff;
      this.claims[p]?.device.write(p, 1, (value >>> (8 * i)) & 0xff);
    }
  }
}

function sizeMask(size: IoSize): number {
  return size === 4 ? 0xffffffff : (1 << (8 * size)) - 1;
}
