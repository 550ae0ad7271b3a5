// hypervisor/evtchn.ts — event channels, Xen's virtual interrupts.
//
// A port is a bit in shared_info.evtchn_pending; a domain masks it in
// evtchn_mask. Raising a port that is unmasked sets the vCPU's selector bit
// (vcpu_info.evtchn_pending_sel, one bit per 32-port word) and
// evtchn_upcall_pending, and the next return to the guest bounces it into
// its event callback (XEN-ABI.md 6.4, hypervisor/events.ts). That is Xen's
// 2-level ABI; on x86_32 it has 32 x 32 = 1024 ports. Ports are bound to a
// VIRQ, an IPI, or a port of another domain; an unbound port waits for one
// remote domain to bind it. Domain 0 is the TypeScript toolstack, which has
// no ports of its own: where xenconsoled would bind a guest's console port
// from dom0, the port is connected to a backend (EvtchnBackend), and a
// send on it calls the backend instead of raising a port in dom0.
//
// The rules and the error of each case follow xen/common/event_channel.c and
// event_2l.c (read for facts, nothing copied): port 0 is reserved; ports
// exist in buckets of 64 (a port past the last bucket is -EINVAL, a free one
// inside it reads as closed); a VIRQ is per vCPU (TIMER, DEBUG, XENOPROF,
// XENPMU), per domain (CONSOLE, ARGO) or global (the rest: only the domain
// the toolstack names as its handler may bind it, -EBUSY for the others —
// Xen 4.21's get_virq_type).
//
// Everything a guest passes in is hostile: every port, vCPU, VIRQ and domid
// is checked before use, and failures return Xen's negative errno.

import {
  EBUSY, EEXIST, EFAULT, EINVAL, ENOENT, ENOSPC, ENOSYS, EOPNOTSUPP, EPERM, ESRCH, ERRNO_NAMES,
} from "./abi/errno.js";
import {
  EVTCHN_2L_NR_CHANNELS, EVTCHNOP_alloc_unbound, EVTCHNOP_bind_interdomain, EVTCHNOP_bind_ipi, EVTCHNOP_bind_pirq,
  EVTCHNOP_bind_vcpu, EVTCHNOP_bind_virq, EVTCHNOP_close, EVTCHNOP_expand_array, EVTCHNOP_init_control, EVTCHNOP_reset,
  EVTCHNOP_reset_cont, EVTCHNOP_send, EVTCHNOP_set_priority, EVTCHNOP_status, EVTCHNOP_unmask, EVTCHNSTAT_closed,
  EVTCHNSTAT_interdomain, EVTCHNSTAT_ipi, EVTCHNSTAT_unbound, EVTCHNSTAT_virq, evtchn_alloc_unbound,
  evtchn_bind_interdomain, evtchn_bind_ipi, evtchn_bind_pirq, evtchn_bind_vcpu, evtchn_bind_virq, evtchn_close,
  evtchn_send, evtchn_status, evtchn_unmask,
} from "./abi/event_channel.js";
import {
  DOMID_SELF, NR_VIRQS, VIRQ_ARGO, VIRQ_CONSOLE, VIRQ_DEBUG, VIRQ_TIMER, VIRQ_XENOPROF, VIRQ_XENPMU,
  __HYPERVISOR_event_channel_op, shared_info, vcpu_info,
} from "./abi/xen.js";
import type { MachineMemory } from "./mm/memory.js";
import { type HypercallContext, copyFromGuest, copyToGuest, defineHypercall } from "./hypercall.js";

/** Ports come into existence this many at a time (Xen's EVTCHNS_PER_BUCKET for a 64-byte struct evtchn on a 4 KiB page [I]). */
export const EVTCHNS_PER_BUCKET = 64;

/** Xen's channel states (ECS_* in xen/include/xen/sched.h); PIRQs never reach a domU here. */
export type ChannelState = "free" | "reserved" | "unbound" | "interdomain" | "virq" | "ipi";

interface Channel {
  state: ChannelState;
  /** The vCPU whose selector and upcall flag a raise of this port sets. */
  notifyVcpu: number;
  /** unbound: the domain allowed to bind it; interdomain: the peer. */
  remoteDomid: number;
  /** interdomain: the peer's port. */
  remotePort: number;
  /** virq: which VIRQ. */
  virq: number;
  /** interdomain with domain 0: the hypervisor-side backend at the far end, or null. */
  backend: EvtchnBackend | null;
}

/**
 * Domain 0's end of an interdomain port, in TypeScript: a backend such as
 * the console (hypervisor/console-ring.ts). To the guest the port is
 * interdomain with domain 0, as it is under Xen once xenconsoled has bound
 * it; a guest's EVTCHNOP_send calls `notify`, and the backend raises the
 * guest's port with EventChannels.notifyFromBackend.
 */
export interface EvtchnBackend {
  /** Domain 0's port number for its end, which EVTCHNOP_status reports. */
  readonly port: number;
  /** The guest sent on its end. */
  notify(): void;
  /** The guest's end was closed (EVTCHNOP_close, EVTCHNOP_reset, or the domain is destroyed): the backend disconnects. */
  closed(): void;
}

/** Who may bind a VIRQ and where it is raised (Xen's enum virq_type). */
export type VirqType = "vcpu" | "domain" | "global";

export function virqType(virq: number): VirqType {
  switch (virq) {
    case VIRQ_TIMER:
    case VIRQ_DEBUG:
    case VIRQ_XENOPROF:
    case VIRQ_XENPMU:
      return "vcpu";
    case VIRQ_ARGO:
    case VIRQ_CONSOLE:
      return "domain";
    default:
      // Every other VIRQ, the x86 VIRQ_ARCH_* ones included, goes to one handler domain.
      return "global";
  }
}

/** What the event channels need of their domain (hypervisor/events.ts provides it). */
export interface EvtchnDomain {
  readonly domid: number;
  /** Machine address of the domain's shared_info page. */
  readonly sharedInfoMa: number;
  /** Machine address of vCPU `vcpuId`'s vcpu_info, or undefined when the domain has no such vCPU. */
  vcpuInfoMa(vcpuId: number): number | undefined;
  /** Xen's vcpu_kick: an event is now pending for vCPU `vcpuId`; wake it if it is blocked. */
  kick(vcpuId: number): void;
}

/** What they need of the hypervisor: memory and the other domains. */
export interface EvtchnEnv {
  readonly mem: MachineMemory;
  /** The event channels of a live domain, or undefined when there is no such domain. */
  lookup(domid: number): EventChannels | undefined;
  /** The domain that may bind and receives global VIRQ `virq` (Xen's get_global_virq_handler), or null. */
  globalVirqHandler(virq: number): EventChannels | null;
}

/** EVTCHNOP_status's answer. */
export interface ChannelStatus {
  status: number;
  vcpu: number;
  /** unbound: the domain that may bind it; interdomain: the peer. */
  dom?: number;
  /** interdomain: the peer's port. */
  port?: number;
  virq?: number;
}

const BIT = (port: number): number => (1 << (port & 31)) >>> 0;

export class EventChannels {
  private readonly channels: Channel[] = [];
  /** virq_to_evtchn of each vCPU: virqPorts.get(vcpuId)[virq], 0 when unbound. */
  private readonly virqPorts = new Map<number, Uint32Array>();
  /** vCPUs in SCHEDOP_poll, with the one port each waits for, or -1 for several (Xen's poll_evtchn). */
  readonly pollers = new Map<number, number>();
  /** The highest port this domain may use (Xen's max_evtchn_port, from the toolstack). */
  readonly maxPort: number;
  private dying = false;

  constructor(
    readonly domain: EvtchnDomain,
    private readonly env: EvtchnEnv,
    maxPort = EVTCHN_2L_NR_CHANNELS - 1,
  ) {
    this.maxPort = Math.max(0, Math.min(maxPort, EVTCHN_2L_NR_CHANNELS - 1));
    this.grow();
    this.channels[0]!.state = "reserved";
  }

  get domid(): number {
    return this.domain.domid;
  }

  /** Ports that exist so far (Xen's valid_evtchns): whole buckets. */
  get validPorts(): number {
    return this.channels.length;
  }

  portIsValid(port: number): boolean {
    return port >= 0 && port < this.channels.length;
  }

  private grow(): void {
    const first = this.channels.length;
    for (let p = first; p < first + EVTCHNS_PER_BUCKET; p++) {
      this.channels.push({ state: "free", notifyVcpu: 0, remoteDomid: 0, remotePort: 0, virq: 0, backend: null });
    }
  }

  /** Makes `port` usable: -ENOSPC beyond the domain's limit, -EBUSY when it is taken (Xen's evtchn_allocate_port). */
  allocatePort(port: number): number {
    if (!Number.isInteger(port) || port < 0 || port > this.maxPort) return -ENOSPC;
    if (this.portIsValid(port)) return this.channels[port]!.state === "free" ? 0 : -EBUSY;
    while (!this.portIsValid(port)) this.grow();
    return 0;
  }

  /** The lowest free port, or -ENOSPC (Xen's get_free_port); a dying domain gets no new ports. */
  freePort(): number {
    if (this.dying) return -EINVAL;
    for (let port = 0; port <= this.maxPort; port++) {
      const rc = this.allocatePort(port);
      if (rc === -EBUSY) continue;
      return rc < 0 ? rc : port;
    }
    return -ENOSPC;
  }

  private vcpuExists(vcpuId: number): boolean {
    return this.domain.vcpuInfoMa(vcpuId) !== undefined;
  }

  private virqTable(vcpuId: number): Uint32Array {
    let table = this.virqPorts.get(vcpuId);
    if (!table) {
      table = new Uint32Array(NR_VIRQS);
      this.virqPorts.set(vcpuId, table);
    }
    return table;
  }

  /** The port VIRQ `virq` is bound to on `vcpuId` (vCPU 0 for per-domain and global ones), 0 when none. */
  virqPort(virq: number, vcpuId = 0): number {
    return this.virqPorts.get(vcpuId)?.[virq] ?? 0;
  }

  // ------------------------------------------------------------ the 2-level bitmaps (XEN-ABI.md 6.3, 6.4)

  private wordMa(array: number, port: number): number {
    return this.domain.sharedInfoMa + array + (port >>> 5) * 4;
  }

  private testBit(array: number, port: number): boolean {
    return (this.env.mem.read32(this.wordMa(array, port)) & BIT(port)) !== 0;
  }

  /** Sets the bit and says whether it was set already (test_and_set_bit). */
  private testAndSetBit(array: number, port: number): boolean {
    const at = this.wordMa(array, port);
    const word = this.env.mem.read32(at);
    if ((word & BIT(port)) !== 0) return true;
    this.env.mem.write32(at, word | BIT(port));
    return false;
  }

  private testAndClearBit(array: number, port: number): boolean {
    const at = this.wordMa(array, port);
    const word = this.env.mem.read32(at);
    if ((word & BIT(port)) === 0) return false;
    this.env.mem.write32(at, word & ~BIT(port));
    return true;
  }

  isPending(port: number): boolean {
    return this.testBit(shared_info.evtchn_pending, port);
  }

  isMasked(port: number): boolean {
    return this.testBit(shared_info.evtchn_mask, port);
  }

  /**
   * evtchn_2l_set_pending: mark the port pending; if it was not, and it is
   * not masked, set the selector bit of its word on `vcpuId`, and if that
   * was clear, mark the vCPU's upcall pending. Then wake pollers.
   */
  setPending(vcpuId: number, port: number): void {
    if (this.testAndSetBit(shared_info.evtchn_pending, port)) return;
    if (!this.isMasked(port)) this.setSelector(vcpuId, port);
    this.checkPollers(port);
  }

  /** Sets the selector bit of `port`'s word; the first one marks the upcall pending. */
  private setSelector(vcpuId: number, port: number): void {
    const vi = this.domain.vcpuInfoMa(vcpuId);
    if (vi === undefined) return;
    const at = vi + vcpu_info.evtchn_pending_sel;
    const sel = this.env.mem.read32(at);
    const bit = BIT(port >>> 5);
    if ((sel & bit) !== 0) return;
    this.env.mem.write32(at, sel | bit);
    this.markEventsPending(vcpuId);
  }

  /** vcpu_mark_events_pending: sets bit 0 of evtchn_upcall_pending, and kicks the vCPU when it was clear. */
  markEventsPending(vcpuId: number): void {
    const vi = this.domain.vcpuInfoMa(vcpuId);
    if (vi === undefined) return;
    const word = this.env.mem.read32(vi);
    if ((word & 1) !== 0) return;
    this.env.mem.write32(vi, word | 1);
    this.domain.kick(vcpuId);
  }

  /** evtchn_2l_unmask: clear the mask bit; a port that was masked and is pending is raised now. */
  private unmask2l(port: number): void {
    if (this.testAndClearBit(shared_info.evtchn_mask, port) && this.isPending(port)) {
      this.setSelector(this.channels[port]!.notifyVcpu, port);
    }
  }

  /** Wakes the vCPUs polling this port, or polling several ports (evtchn_check_pollers). */
  private checkPollers(port: number): void {
    for (const [vcpuId, polled] of this.pollers) {
      if (polled <= 0 || polled === port) {
        this.pollers.delete(vcpuId);
        this.domain.kick(vcpuId);
      }
    }
  }

  // ------------------------------------------------------------ the sub-ops, for this domain as the caller

  /** EVTCHNOP_alloc_unbound: a port in domain `dom` that `remoteDom` may bind; the port, or -errno. */
  allocUnbound(dom: number, remoteDom: number): number {
    const d = dom === DOMID_SELF ? this : this.env.lookup(dom);
    if (!d) return -ESRCH;
    const port = d.freePort();
    if (port < 0) return port;
    // XSM_TARGET: a domain acts on itself; no guest here is privileged over another.
    if (d !== this) return -EPERM;
    const chn = d.channels[port]!;
    chn.state = "unbound";
    chn.remoteDomid = remoteDom === DOMID_SELF ? this.domid : remoteDom;
    return port;
  }

  /**
   * EVTCHNOP_bind_interdomain: connects a new local port to `remotePort`
   * of `remoteDom`, which must be unbound and waiting for this domain. The
   * local port is then set pending, since a notification sent to the
   * unbound port was lost. The local port, or -errno.
   */
  bindInterdomain(remoteDom: number, remotePort: number): number {
    const rd = this.env.lookup(remoteDom === DOMID_SELF ? this.domid : remoteDom);
    if (!rd) return -ESRCH;
    const lport = this.freePort();
    if (lport < 0) return lport;
    if (!rd.portIsValid(remotePort)) return -EINVAL;
    const rchn = rd.channels[remotePort]!;
    if (rchn.state !== "unbound" || rchn.remoteDomid !== this.domid) return -EINVAL;
    EventChannels.connect(this, lport, rd, remotePort);
    this.setPending(this.channels[lport]!.notifyVcpu, lport);
    return lport;
  }

  /** EVTCHNOP_bind_virq: the port, or -errno. */
  bindVirq(virq: number, vcpuId: number): number {
    if (!Number.isInteger(virq) || virq < 0 || virq >= NR_VIRQS) return -EINVAL;
    const type = virqType(virq);
    if (type !== "vcpu" && vcpuId !== 0) return -EINVAL;
    if (!this.vcpuExists(vcpuId)) return -ENOENT;
    if (type === "global" && this.env.globalVirqHandler(virq) !== this) return -EBUSY;
    const table = this.virqTable(vcpuId);
    if (table[virq] !== 0) return -EEXIST;
    const port = this.freePort();
    if (port < 0) return port;
    const chn = this.channels[port]!;
    chn.state = "virq";
    chn.notifyVcpu = vcpuId;
    chn.virq = virq;
    table[virq] = port;
    return port;
  }

  /** EVTCHNOP_bind_ipi: a port that raises itself on `vcpuId` when sent; the port, or -errno. */
  bindIpi(vcpuId: number): number {
    if (!this.vcpuExists(vcpuId)) return -ENOENT;
    const port = this.freePort();
    if (port < 0) return port;
    const chn = this.channels[port]!;
    chn.state = "ipi";
    chn.notifyVcpu = vcpuId;
    return port;
  }

  /**
   * EVTCHNOP_close (evtchn_close): frees the port; the peer of an
   * interdomain port goes back to unbound, waiting for this domain again.
   */
  close(port: number): number {
    if (!this.portIsValid(port)) return -EINVAL;
    const chn = this.channels[port]!;
    switch (chn.state) {
      case "free":
      case "reserved":
        return -EINVAL;
      case "virq": {
        const vcpuId = virqType(chn.virq) === "vcpu" ? chn.notifyVcpu : 0;
        const table = this.virqPorts.get(vcpuId);
        if (table && table[chn.virq] === port) table[chn.virq] = 0;
        break;
      }
      case "interdomain": {
        const backend = chn.backend;
        if (backend) {
          this.free(port);
          backend.closed();
          return 0;
        }
        const rd = this.env.lookup(chn.remoteDomid);
        const rchn = rd?.channels[chn.remotePort];
        if (rchn && rchn.state === "interdomain" && rchn.remoteDomid === this.domid && rchn.remotePort === port) {
          rchn.state = "unbound";
          rchn.remoteDomid = this.domid;
          rchn.remotePort = 0;
        }
        break;
      }
      case "unbound":
      case "ipi":
        break;
    }
    this.free(port);
    return 0;
  }

  /** evtchn_free: clears the pending bit so a later bind starts clean, and resets the vCPU to 0. */
  private free(port: number): void {
    this.testAndClearBit(shared_info.evtchn_pending, port);
    const chn = this.channels[port]!;
    chn.state = "free";
    chn.notifyVcpu = 0;
    chn.remoteDomid = 0;
    chn.remotePort = 0;
    chn.virq = 0;
    chn.backend = null;
  }

  /**
   * EVTCHNOP_send: an interdomain port raises its peer, an IPI port itself;
   * a send on an unbound port is dropped silently; any other is -EINVAL.
   */
  send(port: number): number {
    if (!this.portIsValid(port)) return -EINVAL;
    const chn = this.channels[port]!;
    switch (chn.state) {
      case "interdomain": {
        if (chn.backend) {
          chn.backend.notify();
          return 0;
        }
        const rd = this.env.lookup(chn.remoteDomid);
        const rchn = rd?.channels[chn.remotePort];
        if (rd && rchn) rd.setPending(rchn.notifyVcpu, chn.remotePort);
        return 0;
      }
      case "ipi":
        this.setPending(chn.notifyVcpu, port);
        return 0;
      case "unbound":
        return 0;
      default:
        return -EINVAL;
    }
  }

  /** EVTCHNOP_status of `port` in domain `dom`. */
  status(dom: number, port: number): ChannelStatus | number {
    const d = dom === DOMID_SELF ? this : this.env.lookup(dom);
    if (!d) return -ESRCH;
    if (!d.portIsValid(port)) return -EINVAL;
    if (d !== this) return -EPERM;
    const chn = d.channels[port]!;
    switch (chn.state) {
      case "free":
      case "reserved":
        return { status: EVTCHNSTAT_closed, vcpu: chn.notifyVcpu };
      case "unbound":
        return { status: EVTCHNSTAT_unbound, vcpu: chn.notifyVcpu, dom: chn.remoteDomid };
      case "interdomain":
        return { status: EVTCHNSTAT_interdomain, vcpu: chn.notifyVcpu, dom: chn.remoteDomid, port: chn.remotePort };
      case "virq":
        return { status: EVTCHNSTAT_virq, vcpu: chn.notifyVcpu, virq: chn.virq };
      case "ipi":
        return { status: EVTCHNSTAT_ipi, vcpu: chn.notifyVcpu };
    }
  }

  /** EVTCHNOP_bind_vcpu: later raises of `port` notify `vcpuId`; per-vCPU VIRQs and IPIs stay where they are. */
  bindVcpu(port: number, vcpuId: number): number {
    if (!this.vcpuExists(vcpuId)) return -ENOENT;
    if (!this.portIsValid(port)) return -EINVAL;
    const chn = this.channels[port]!;
    switch (chn.state) {
      case "virq":
        if (virqType(chn.virq) === "vcpu") return -EINVAL;
        chn.notifyVcpu = vcpuId;
        return 0;
      case "unbound":
      case "interdomain":
        chn.notifyVcpu = vcpuId;
        return 0;
      default:
        return -EINVAL;
    }
  }

  /** EVTCHNOP_unmask: also re-raises a port that became pending while masked. */
  unmask(port: number): number {
    if (!this.portIsValid(port)) return -EINVAL;
    this.unmask2l(port);
    return 0;
  }

  /** EVTCHNOP_reset of this domain: every port closed (evtchn_reset). */
  reset(): number {
    for (let port = 0; port < this.channels.length; port++) this.close(port);
    return 0;
  }

  // ------------------------------------------------------------ raised by the hypervisor

  /** send_guest_vcpu_virq: a per-vCPU VIRQ (VIRQ_TIMER) on `vcpuId`, if the vCPU bound it. */
  sendVcpuVirq(vcpuId: number, virq: number): void {
    const port = this.virqPort(virq, vcpuId);
    if (port !== 0) this.setPending(vcpuId, port);
  }

  /** send_guest_domain_virq / send_guest_global_virq: a VIRQ bound on vCPU 0, raised on the vCPU its port names. */
  sendDomainVirq(virq: number): void {
    const port = this.virqPort(virq, 0);
    if (port !== 0) this.setPending(this.channels[port]!.notifyVcpu, port);
  }

  /** evtchn_destroy: the domain is going; every port closes (peers become unbound) and no new one opens. */
  destroy(): void {
    for (let port = 0; port < this.channels.length; port++) this.close(port);
    this.dying = true;
    this.pollers.clear();
  }

  /** The ports in use, for the dashboard and tests. */
  describe(): { port: number; state: ChannelState; vcpu: number; remoteDomid?: number; remotePort?: number; virq?: number }[] {
    const out = [];
    for (let port = 1; port < this.channels.length; port++) {
      const c = this.channels[port]!;
      if (c.state === "free") continue;
      out.push({
        port,
        state: c.state,
        vcpu: c.notifyVcpu,
        ...(c.state === "unbound" || c.state === "interdomain" ? { remoteDomid: c.remoteDomid } : {}),
        ...(c.state === "interdomain" ? { remotePort: c.remotePort } : {}),
        ...(c.state === "virq" ? { virq: c.virq } : {}),
      });
    }
    return out;
  }

  /**
   * Takes port `wanted` (or the lowest free one) as unbound for
   * `remoteDomid`, for the toolstack; the port, or -errno (-EBUSY taken,
   * -ENOSPC out of range).
   */
  claimUnbound(wanted: number | undefined, remoteDomid: number): number {
    if (wanted !== undefined && !(Number.isInteger(wanted) && wanted >= 0)) return -EINVAL;
    const port = wanted ?? this.freePort();
    if (port < 0) return port;
    const rc = this.dying ? -EINVAL : this.allocatePort(port);
    if (rc < 0) return rc;
    const chn = this.channels[port]!;
    chn.state = "unbound";
    chn.remoteDomid = remoteDomid;
    return port;
  }

  /**
   * Connects a new port (the lowest free one) to `backend` in domain 0, for
   * the toolstack: what alloc_unbound for domain 0 followed by the
   * backend's bind_interdomain leaves. Nothing was sent yet, so nothing is
   * set pending. The port, or -errno.
   */
  connectBackend(backend: EvtchnBackend): number {
    const port = this.claimUnbound(undefined, 0);
    if (port < 0) return port;
    const chn = this.channels[port]!;
    chn.state = "interdomain";
    chn.remotePort = backend.port;
    chn.backend = backend;
    return port;
  }

  /** The backend at the far end of `port` notifies the guest (its send); false when `port` is not connected to it. */
  notifyFromBackend(port: number, backend: EvtchnBackend): boolean {
    if (!this.portIsValid(port)) return false;
    const chn = this.channels[port]!;
    if (chn.state !== "interdomain" || chn.backend !== backend) return false;
    this.setPending(chn.notifyVcpu, port);
    return true;
  }

  /** Makes two ports each other's interdomain peer (bind_interdomain, and the toolstack's binding). */
  static connect(a: EventChannels, portA: number, b: EventChannels, portB: number): void {
    const ca = a.channels[portA]!;
    const cb = b.channels[portB]!;
    ca.state = "interdomain";
    ca.remoteDomid = b.domid;
    ca.remotePort = portB;
    cb.state = "interdomain";
    cb.remoteDomid = a.domid;
    cb.remotePort = portA;
  }
}

/** A toolstack request the hypervisor refused, with Xen's errno. */
export class EvtchnError extends Error {
  constructor(
    message: string,
    readonly errno: number,
  ) {
    super(`${message} (${ERRNO_NAMES[errno] ?? errno})`);
  }
}

/**
 * The toolstack connects port `ports.a` of one domain to `ports.b` of
 * another before they boot, so each kernel can be told its port on its
 * command line — what Xen does for dom0less "static event channels"
 * (xen/common/device-tree/static-evtchn.c). A port left out is the lowest
 * free one. Both ends are new, so no notification can have been lost and,
 * unlike EVTCHNOP_bind_interdomain, neither end is set pending. Throws
 * EvtchnError when a port is taken or out of range.
 */
export function bindInterdomainForToolstack(
  a: EventChannels, b: EventChannels, ports: { a?: number; b?: number } = {},
): { a: number; b: number } {
  const portA = a.claimUnbound(ports.a, b.domid);
  if (portA < 0) throw new EvtchnError(`domain ${a.domid}: event channel ${ports.a ?? "(any)"} cannot be bound`, -portA);
  const portB = b.claimUnbound(ports.b, a.domid);
  if (portB < 0) {
    a.close(portA);
    throw new EvtchnError(`domain ${b.domid}: event channel ${ports.b ?? "(any)"} cannot be bound`, -portB);
  }
  EventChannels.connect(a, portA, b, portB);
  return { a: portA, b: portB };
}

// ------------------------------------------------------------ event_channel_op (hypercall 32)

/** Sizes of the commands this hypervisor answers without their full ABI (event_channel.h). */
const evtchn_reset = { sizeof: 2, dom: 0 } as const;
const evtchn_init_control = { sizeof: 16 } as const;
const evtchn_expand_array = { sizeof: 8 } as const;
const evtchn_set_priority = { sizeof: 8, port: 0 } as const;

const ARG_SIZE: Readonly<Record<number, number>> = {
  [EVTCHNOP_bind_interdomain]: evtchn_bind_interdomain.sizeof,
  [EVTCHNOP_bind_virq]: evtchn_bind_virq.sizeof,
  [EVTCHNOP_bind_pirq]: evtchn_bind_pirq.sizeof,
  [EVTCHNOP_close]: evtchn_close.sizeof,
  [EVTCHNOP_send]: evtchn_send.sizeof,
  [EVTCHNOP_status]: evtchn_status.sizeof,
  [EVTCHNOP_alloc_unbound]: evtchn_alloc_unbound.sizeof,
  [EVTCHNOP_bind_ipi]: evtchn_bind_ipi.sizeof,
  [EVTCHNOP_bind_vcpu]: evtchn_bind_vcpu.sizeof,
  [EVTCHNOP_unmask]: evtchn_unmask.sizeof,
  [EVTCHNOP_reset]: evtchn_reset.sizeof,
  [EVTCHNOP_init_control]: evtchn_init_control.sizeof,
  [EVTCHNOP_expand_array]: evtchn_expand_array.sizeof,
  [EVTCHNOP_set_priority]: evtchn_set_priority.sizeof,
  [EVTCHNOP_reset_cont]: evtchn_reset.sizeof,
};

/**
 * event_channel_op(cmd, arg): the struct is copied in, the command runs
 * against the calling domain, and a command with OUT fields copies the
 * whole struct back (-EFAULT then, as in Xen, leaves the work done).
 */
function eventChannelOp(ctx: HypercallContext, cmd: number, arg: number): number {
  const size = ARG_SIZE[cmd];
  if (size === undefined) return -ENOSYS;
  const bytes = copyFromGuest(ctx, arg, size);
  if (bytes === null) return -EFAULT;
  const view = new DataView(bytes.buffer);
  const u32 = (at: number) => view.getUint32(at, true);
  const u16 = (at: number) => view.getUint16(at, true);
  const self = ctx.xen.events.channelsOf(ctx.domain);
  /** Stores a result at `at` and copies the struct back. */
  const answer = (rc: number, at: number): number => {
    if (rc < 0) return rc;
    view.setUint32(at, rc, true);
    return copyToGuest(ctx, arg, bytes) ? 0 : -EFAULT;
  };
  switch (cmd) {
    case EVTCHNOP_alloc_unbound:
      return answer(self.allocUnbound(u16(evtchn_alloc_unbound.dom), u16(evtchn_alloc_unbound.remote_dom)), evtchn_alloc_unbound.port);
    case EVTCHNOP_bind_interdomain:
      return answer(
        self.bindInterdomain(u16(evtchn_bind_interdomain.remote_dom), u32(evtchn_bind_interdomain.remote_port)),
        evtchn_bind_interdomain.local_port,
      );
    case EVTCHNOP_bind_virq:
      return answer(self.bindVirq(u32(evtchn_bind_virq.virq), u32(evtchn_bind_virq.vcpu)), evtchn_bind_virq.port);
    case EVTCHNOP_bind_ipi:
      return answer(self.bindIpi(u32(evtchn_bind_ipi.vcpu)), evtchn_bind_ipi.port);
    case EVTCHNOP_bind_pirq:
      // A negative pirq is out of range; any other is a physical IRQ, which no domain here may have.
      return (u32(evtchn_bind_pirq.pirq) | 0) < 0 ? -EINVAL : -EPERM;
    case EVTCHNOP_close:
      return self.close(u32(evtchn_close.port));
    case EVTCHNOP_send:
      return self.send(u32(evtchn_send.port));
    case EVTCHNOP_unmask:
      return self.unmask(u32(evtchn_unmask.port));
    case EVTCHNOP_bind_vcpu:
      return self.bindVcpu(u32(evtchn_bind_vcpu.port), u32(evtchn_bind_vcpu.vcpu));
    case EVTCHNOP_status: {
      const st = self.status(u16(evtchn_status.dom), u32(evtchn_status.port));
      if (typeof st === "number") return st;
      view.setUint32(evtchn_status.status, st.status, true);
      view.setUint32(evtchn_status.vcpu, st.vcpu, true);
      if (st.virq !== undefined) view.setUint32(evtchn_status.virq, st.virq, true);
      if (st.dom !== undefined) view.setUint16(evtchn_status.interdomain_dom, st.dom, true);
      if (st.port !== undefined) view.setUint32(evtchn_status.interdomain_port, st.port, true);
      return copyToGuest(ctx, arg, bytes) ? 0 : -EFAULT;
    }
    case EVTCHNOP_reset:
    case EVTCHNOP_reset_cont: {
      const dom = u16(evtchn_reset.dom);
      const d = dom === DOMID_SELF ? self : ctx.xen.events.lookup(dom);
      if (!d) return -ESRCH;
      if (d !== self) return -EPERM;
      return self.reset();
    }
    case EVTCHNOP_init_control:
    case EVTCHNOP_expand_array:
      // The FIFO ABI is not built in, as in a Xen without CONFIG_EVTCHN_FIFO: guests fall back to 2-level.
      return -EOPNOTSUPP;
    case EVTCHNOP_set_priority:
      // Priorities are a FIFO-ABI notion; the 2-level ABI has none (evtchn_port_set_priority).
      return self.portIsValid(u32(evtchn_set_priority.port)) ? -ENOSYS : -EINVAL;
    default:
      return -ENOSYS;
  }
}

defineHypercall(__HYPERVISOR_event_channel_op, eventChannelOp);
