// hypervisor/abi/io/console.ts — the PV console ring, mirroring xen/include/public/io/console.h.
//
// One shared page (its MFN and event channel are in start_info) holds two
// byte rings: `out` from the guest to the backend, `in` the other way, each
// with free-running u32 producer and consumer indices masked by the ring's
// size. The guest writes bytes, advances out_prod and notifies the channel;
// XTF then spins until out_cons catches up, so the backend must drain
// promptly (XEN-ABI.md 9.4 and 11).

/** struct xencons_interface: 3092 bytes used of the page. */
export const xencons_interface = {
  sizeof: 3092,
  in: 0,
  out: 1024,
  in_cons: 3072,
  in_prod: 3076,
  out_cons: 3080,
  out_prod: 3084,
  connection: 3088,
} as const;

export const XENCONS_IN_SIZE = 1024;
export const XENCONS_OUT_SIZE = 2048;

export const XENCONSOLE_CONNECTED = 0;
export const XENCONSOLE_DISCONNECTED = 1;

/** An index's byte within a ring of `size` bytes (a power of two). */
export function MASK_XENCONS_IDX(idx: number, size: number): number {
  return idx & (size - 1);
}
