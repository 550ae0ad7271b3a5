// hypervisor/domain.ts — a domain: its memory, its vCPUs, and how it ended.
//
// A domain is what Xen runs: a guest kernel with its own pseudo-physical
// memory (the P2M the builder made), its vCPUs, its shared_info page and
// its console. It is running, paused (by the toolstack), or shut down with
// one of Xen's reasons (sched_op SCHEDOP_shutdown, or a crash the
// hypervisor decided), after which it only waits to be destroyed.

import type { BuiltDomain } from "./builder.js";
import type { GrantTable } from "./gnttab.js";
import type { Vcpu } from "./vcpu.js";

export type DomainState = "running" | "paused" | "shutdown";

export class Domain {
  readonly vcpus: Vcpu[] = [];
  state: DomainState = "running";
  /** The sched.h reason once shut down. */
  shutdownReason = -1;
  /** The reason SCHEDOP_shutdown_code recorded for a later crash-style shutdown (Xen's shutdown_code), or -1. */
  shutdownCode = -1;
  /** Why the hypervisor crashed the domain, when it did. */
  crashMessage = "";
  /** vm_assist types enabled (bit n: type n). */
  vmAssist = 0;
  /** Its grant table (hypervisor/gnttab.ts), made the first time a grant operation needs it. */
  grantTable: GrantTable | null = null;
  /** What console_io writes and the console ring's backend drains go to. */
  consoleOut: (bytes: Uint8Array) => void = () => {};
  /** Typed bytes waiting for console_io reads or for room in the console ring. */
  private consoleInput: number[] = [];
  /** Input arrived: the console backend moves it into the ring or raises VIRQ_CONSOLE (hypervisor/console-ring.ts). */
  onConsoleInput: () => void = () => {};

  constructor(
    readonly domid: number,
    readonly name: string,
    readonly built: BuiltDomain,
  ) {}

  get nrPages(): number {
    return this.built.nrPages;
  }

  isRunnable(): boolean {
    return this.state === "running";
  }

  /** Bytes typed at this domain's console. */
  receiveConsoleInput(bytes: Uint8Array): void {
    for (const b of bytes) this.consoleInput.push(b);
    if (bytes.length > 0) this.onConsoleInput();
  }

  /** Typed bytes not yet taken. */
  get consoleInputWaiting(): number {
    return this.consoleInput.length;
  }

  /** Up to `max` typed bytes, oldest first. */
  takeConsoleInput(max: number): Uint8Array {
    return Uint8Array.from(this.consoleInput.splice(0, Math.max(0, Math.min(max, this.consoleInput.length))));
  }

  /** Puts back bytes a read could not deliver. */
  returnConsoleInput(bytes: Uint8Array): void {
    this.consoleInput.unshift(...bytes);
  }
}
