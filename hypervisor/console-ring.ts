// hypervisor/console-ring.ts — the PV console backend: xenconsoled's half of io/console.h.
//
// A domU's console is one page it shares with domain 0 (start_info.console.
// domU.mfn) holding struct xencons_interface, and an event channel
// (start_info.console.domU.evtchn). The guest copies its bytes into out[],
// advances out_prod and sends on the port; the backend copies
// out[out_cons..out_prod) to the console, advances out_cons and notifies
// back. Typed bytes go the other way through in[]: the backend writes them
// and advances in_prod, the guest reads and advances in_cons (XEN-ABI.md
// 9.4). Under Xen the backend is xenconsoled in dom0; here dom0 is the
// TypeScript toolstack, so the backend is this module, and the guest's port
// is an interdomain port whose far end is it (EvtchnBackend in
// hypervisor/evtchn.ts).
//
// When the ring is read: at once when the guest sends on the port; when it
// yields, blocks or polls (XTF's console writer sends, then spins in
// SCHEDOP_yield until out_cons == out_prod, XEN-ABI.md 11); at the end of
// every slice, for a guest that never sends; and when the domain shuts
// down, so that what it wrote just before powering off is not lost.
//
// Input, the rule. Typed bytes queue in the Domain. Until the guest has
// shown that it uses the ring — it has sent on the console port, or out_prod
// or in_cons is non-zero — they stay there for console_io reads, and each
// arrival raises VIRQ_CONSOLE (hypervisor/console.ts). From then on they are
// moved into in[] as far as it has room (in_prod - in_cons at most 1024),
// and the port is notified; the rest waits in the queue and moves when the
// guest has read some and notifies, or at the next of the moments above.
// A guest that closes the port has no ring backend any more, and input
// goes back to console_io.
//
// Every index is hostile: they are free-running u32s the guest may set to
// anything. As xenconsoled does (tools/console/daemon/io.c, buffer_append
// and ring_free_bytes), a ring whose producer is more than the ring's size
// ahead of its consumer is left alone: nothing is read from or written to
// it and the guest runs on, its console silent until it puts the indices
// right. Every byte is addressed as its index masked to the ring, so
// nothing outside the page is touched, and the page is reached as machine
// memory (hypervisor/mm/memory.ts), never through the guest's page tables.

import {
  MASK_XENCONS_IDX, XENCONS_IN_SIZE, XENCONS_OUT_SIZE, xencons_interface,
} from "./abi/io/console.js";
import { VIRQ_CONSOLE } from "./abi/xen.js";
import { writeConsoleEvtchn } from "./builder.js";
import type { Domain } from "./domain.js";
import type { EventChannels, EvtchnBackend } from "./evtchn.js";
import type { MachineMemory } from "./mm/memory.js";

const PAGE_SIZE = 4096;

export class ConsoleRing implements EvtchnBackend {
  /** The guest's end (start_info.console.domU.evtchn); 0 when it could not be bound or was closed. */
  private guestPort = 0;
  /** The guest has shown it uses the ring (see the rule above); it stays so. */
  private ringInUse = false;
  /** Machine address of the xencons_interface page. */
  private readonly ringMa: number;
  /** Bytes drained from out[] and moved into in[], for the dashboard and tests. */
  readonly stats = { out: 0, in: 0 };

  /**
   * Connects the console of a domain just built: binds a port of `channels`
   * to this backend, whose own port in domain 0 is `port`, and writes it
   * into start_info. `released` runs when the guest's end closes.
   */
  constructor(
    private readonly mem: MachineMemory,
    private readonly domain: Domain,
    private readonly channels: EventChannels,
    readonly port: number,
    private readonly released: () => void,
  ) {
    this.ringMa = domain.built.consoleMfn * PAGE_SIZE;
    const guestPort = channels.connectBackend(this);
    if (guestPort > 0) {
      this.guestPort = guestPort;
      writeConsoleEvtchn(mem, domain.built, guestPort);
    } else {
      // A domain allowed no ports at all: no ring console, console_io only.
      released();
    }
  }

  /** The guest's port, 0 when the ring has no backend. */
  get evtchn(): number {
    return this.guestPort;
  }

  /** True once the guest has shown it uses the ring. */
  get inUse(): boolean {
    return this.guestPort !== 0 && this.ringInUse;
  }

  // ------------------------------------------------------------ EvtchnBackend

  /** The guest sent on its port: it uses the ring. */
  notify(): void {
    this.ringInUse = true;
    this.service();
  }

  closed(): void {
    this.guestPort = 0;
    this.released();
  }

  // ------------------------------------------------------------ the backend's work

  /**
   * Drains out[] to the console and moves waiting input into in[]; when
   * either moved a byte, notifies the guest (xenconsoled's
   * handle_ring_read and handle_tty_read).
   */
  service(): void {
    if (this.guestPort === 0) return;
    const drained = this.drainOut();
    const filled = this.fillIn();
    if (drained || filled) this.channels.notifyFromBackend(this.guestPort, this);
  }

  /** Typed bytes arrived in the domain's queue: into the ring, or VIRQ_CONSOLE for console_io (the rule above). */
  inputArrived(): void {
    if (this.guestPort !== 0 && this.usesRing()) this.service();
    else this.channels.sendDomainVirq(VIRQ_CONSOLE);
  }

  /** The rule's test: a send seen, or an index only the guest moves is non-zero. */
  private usesRing(): boolean {
    if (!this.ringInUse && (this.index(xencons_interface.out_prod) !== 0 || this.index(xencons_interface.in_cons) !== 0)) {
      this.ringInUse = true;
    }
    return this.ringInUse;
  }

  /** out[out_cons..out_prod) to the console; false when there was nothing, or the indices are impossible. */
  private drainOut(): boolean {
    const cons = this.index(xencons_interface.out_cons);
    const prod = this.index(xencons_interface.out_prod);
    const size = (prod - cons) >>> 0;
    if (size === 0 || size > XENCONS_OUT_SIZE) return false;
    this.ringInUse = true;
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i++) {
      bytes[i] = this.byteAt(xencons_interface.out + MASK_XENCONS_IDX((cons + i) >>> 0, XENCONS_OUT_SIZE));
    }
    this.mem.write32(this.ringMa + xencons_interface.out_cons, prod);
    this.stats.out += size;
    this.domain.consoleOut(bytes);
    return true;
  }

  /** Waiting input into in[] as far as it has room; false when nothing moved. */
  private fillIn(): boolean {
    if (this.domain.consoleInputWaiting === 0 || !this.usesRing()) return false;
    const cons = this.index(xencons_interface.in_cons);
    const prod = this.index(xencons_interface.in_prod);
    const filled = (prod - cons) >>> 0;
    // Full, or the guest moved in_cons past in_prod: "the ring is screwed: ignore it" (ring_free_bytes).
    if (filled >= XENCONS_IN_SIZE) return false;
    const bytes = this.domain.takeConsoleInput(XENCONS_IN_SIZE - filled);
    for (let i = 0; i < bytes.length; i++) {
      this.setByteAt(xencons_interface.in + MASK_XENCONS_IDX((prod + i) >>> 0, XENCONS_IN_SIZE), bytes[i]!);
    }
    this.mem.write32(this.ringMa + xencons_interface.in_prod, (prod + bytes.length) >>> 0);
    this.stats.in += bytes.length;
    return true;
  }

  // ------------------------------------------------------------ the page, as machine memory (words only)

  private index(offset: number): number {
    return this.mem.read32(this.ringMa + offset) >>> 0;
  }

  private byteAt(offset: number): number {
    const at = this.ringMa + offset;
    return (this.mem.read32(at - (at & 3)) >>> ((at & 3) * 8)) & 0xff;
  }

  private setByteAt(offset: number, value: number): void {
    const at = this.ringMa + offset;
    const word = at - (at & 3);
    const shift = (at & 3) * 8;
    this.mem.write32(word, (this.mem.read32(word) & ~(0xff << shift)) | (value << shift));
  }
}
