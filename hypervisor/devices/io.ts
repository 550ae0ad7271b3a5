// hypervisor/devices/io.ts — what a device model offers the machine.
//
// A PC's legacy devices sit on the ISA bus: the CPU's IN and OUT reach them
// through I/O ports, and they signal the CPU through interrupt request lines
// into the 8259 PICs. A device model here is the same two things: a
// `PortDevice` the port map calls for the ports it claims, and `IrqLine`s it
// drives. The models are shared by the bare machine and, later, by HVM
// domains, so they know nothing of either.
//
// Almost every ISA device is 8 bits wide: a 16- or 32-bit IN or OUT reaches
// it as byte cycles at consecutive ports (the chipset splits the access), so
// the port map calls such a device with size 1 only. A device registered as
// wide sees the whole access.

/** Access size of an IN or OUT, in bytes. */
export type IoSize = 1 | 2 | 4;

export interface PortDevice {
  /** A short name for traces and messages ("com1", "pit"). */
  readonly name: string;
  /** The value an IN of `size` bytes at `port` reads. */
  read(port: number, size: IoSize): number;
  /** An OUT of `size` bytes of `value` at `port`. */
  write(port: number, size: IoSize, value: number): void;
}

/** An interrupt request line: the device sets its level (true = asserted). */
export type IrqLine = (level: boolean) => void;

/** A line connected to nothing, for a device used on its own (tests, a chip with its output unused). */
export const unconnectedIrq: IrqLine = () => {};

/** Binary to packed BCD for 0-99 (the CMOS clock and the 8254's BCD counting). */
export function toBcd(value: number): number {
  return ((Math.floor(value / 10) % 10) << 4) | value % 10;
}

/** Packed BCD to binary; nibbles above 9 decode as the hardware's adders would, without checks. */
export function fromBcd(value: number): number {
  return (value >> 4) * 10 + (value & 0xf);
}
