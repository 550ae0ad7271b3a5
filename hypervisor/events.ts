// hypervisor/events.ts — where events meet the scheduler: upcalls, timers, runstate, blocking.
//
// The event channels (hypervisor/evtchn.ts) only set bits in shared_info;
// this module makes the bits do something, as Xen's scheduler and exit
// path do:
//   - on every return to the guest (before each slice and after each
//     hypercall) a vCPU with evtchn_upcall_pending set and
//     evtchn_upcall_mask clear is bounced into its event callback with
//     Xen's frame and no error code, and its mask is set (XEN-ABI.md 5.2).
//     A guest that unmasks and then makes any hypercall gets its event.
//   - raising an event for a blocked vCPU wakes it (vcpu_kick);
//     SCHEDOP_block atomically unmasks and sleeps unless an event is
//     already pending; SCHEDOP_poll sleeps until one of some ports is
//     pending or a timeout passes (do_poll in xen/common/sched/core.c).
//   - the scheduler's context switch: the vCPU leaving the CPU stops its
//     periodic timer, the one arriving gets its time info updated and the
//     tick it missed (hypervisor/time.ts), and every vCPU's runstate
//     (running, runnable, blocked, offline) is accounted on system time.
//   - every domain's console ring has its backend here in the hypervisor
//     (hypervisor/console-ring.ts): it is serviced when the guest yields,
//     blocks or polls, at the end of each slice and at shutdown, besides
//     when the guest sends on the console port.
//   - so has its xenstore ring (hypervisor/xenstore/ring.ts), whose far
//     end is xenstored (hypervisor/xenstore/daemon.ts): serviced at the
//     same moments (serviceBackends), and told of a shutdown as xenstored
//     hears of it through VIRQ_DOM_EXC, to fire @releaseDomain.
//   - VIRQ_CONSOLE tells a domain that input arrived for console_io (a
//     per-domain VIRQ since Xen 4.21), while it does not use its console
//     ring. VIRQ_DOM_EXC, that a domain shut
//     down or was destroyed, is global: Xen sends it to the hardware
//     domain unless the toolstack named another (XEN_DOMCTL_set_virq_handler),
//     and only that domain may bind it. Here dom0 is the TypeScript
//     toolstack, which hears of shutdowns through Hypervisor.onShutdown, so
//     by default no guest gets global VIRQs; setGlobalVirqHandler makes a
//     guest their handler.
//
// hypervisor/xen.ts calls in at those points; nothing here runs guest code.

import * as L from "../core/layout.js";
import { EACCES, EBUSY, EFAULT, EINVAL, ENXIO } from "./abi/errno.js";
import { EVTCHN_2L_NR_CHANNELS } from "./abi/event_channel.js";
import { readSchedPoll, sched_poll } from "./abi/sched.js";
import {
  RUNSTATE_blocked, RUNSTATE_offline, RUNSTATE_runnable, RUNSTATE_running, type RunstateInfo,
} from "./abi/vcpu.js";
import { NR_VIRQS, VIRQ_DOM_EXC, VIRQ_TIMER, vcpu_info } from "./abi/xen.js";
import { ConsoleRing } from "./console-ring.js";
import type { Domain } from "./domain.js";
import { EventChannels, type EvtchnEnv, virqType } from "./evtchn.js";
import { type HypercallContext, copyFromGuest, guestRange, readGuestU32 } from "./hypercall.js";
import { PGT_writable_page } from "./mm/pagetype.js";
import { Runstate, VcpuTimers, type TimeMemory, reachableDeadline, writeVcpuTime, writeWallclock } from "./time.js";
import type { Vcpu } from "./vcpu.js";
import { enterGuestHandler } from "./x86/traps.js";
import type { Hypervisor } from "./xen.js";
import { XenstoreRing } from "./xenstore/ring.js";
import { writeStoreEvtchn } from "./builder.js";

const PAGE_SIZE = 4096;
/** SCHEDOP_poll waits on at most this many ports ("fairly arbitrary limit", do_poll). */
export const MAX_POLL_PORTS = 128;

/** What the hypervisor keeps per vCPU for events and time. */
interface VcpuEvents {
  readonly timers: VcpuTimers;
  readonly runstate: Runstate;
  /** VCPUOP_down took it offline (Xen's _VPF_down). */
  down: boolean;
  /** The frame VCPUOP_register_vcpu_info moved vcpu_info to (held with a writable type reference), or null. */
  vcpuInfoMfn: number | null;
  /** Event upcalls delivered, for the dashboard and tests. */
  upcalls: number;
}

export interface AddDomainOptions {
  /** The highest event-channel port the domain may use (xl's max_event_channels - 1); default and cap 1023. */
  maxEvtchnPort?: number;
}

export class Events implements EvtchnEnv {
  private readonly byDomid = new Map<number, EventChannels>();
  private readonly perVcpu = new Map<Vcpu, VcpuEvents>();
  /** The domain each global VIRQ goes to (Xen's global_virq_handlers; there is no dom0 guest to default to). */
  private readonly globalHandlers: (EventChannels | null)[] = new Array<EventChannels | null>(NR_VIRQS).fill(null);
  /** Each domain's console backend, by domid. */
  private readonly consoleRings = new Map<number, ConsoleRing>();
  /** Each domain's xenstore ring, by domid. */
  private readonly storeRings = new Map<number, XenstoreRing>();
  /** Domain 0's ports in use by backends (the console's and the store's), which EVTCHNOP_status shows as the far end. */
  private readonly dom0Ports = new Set<number>();
  /** The vCPU on the physical CPU as the scheduler last switched (Xen's `current`); null while idle. */
  private running: Vcpu | null = null;
  private readonly timeMemory: TimeMemory;

  constructor(private readonly xen: Hypervisor) {
    this.timeMemory = {
      read32: (pa) => xen.mem.read32(pa),
      writePhysical: (pa, bytes) => xen.writePhysical(pa, bytes),
    };
  }

  get mem() {
    return this.xen.mem;
  }

  // ------------------------------------------------------------ domains and vCPUs

  /** A new domain's event channels, wallclock and vCPU timers (after its vCPUs exist). */
  addDomain(domain: Domain, options: AddDomainOptions = {}): EventChannels {
    const channels = new EventChannels(
      {
        domid: domain.domid,
        sharedInfoMa: domain.built.sharedInfoMfn * PAGE_SIZE,
        vcpuInfoMa: (vcpuId) => (Number.isInteger(vcpuId) ? domain.vcpus[vcpuId]?.vcpuInfoMa : undefined),
        kick: (vcpuId) => {
          const v = domain.vcpus[vcpuId];
          if (v) this.kick(v);
        },
      },
      this,
      options.maxEvtchnPort,
    );
    this.byDomid.set(domain.domid, channels);
    this.syncTsc();
    writeWallclock(this.timeMemory, domain.built.sharedInfoMfn * PAGE_SIZE, this.xen.clock.epochMs);
    for (const v of domain.vcpus) this.addVcpu(v);
    this.connectConsole(domain, channels);
    this.connectStore(domain, channels);
    return channels;
  }

  /**
   * The console ring's port, bound to the backend in domain 0 and written
   * into start_info, as xl's toolstack and xenconsoled leave it before the
   * kernel starts. Typed input then goes through the backend.
   */
  private connectConsole(domain: Domain, channels: EventChannels): void {
    // The backend holds the ring frame as xenconsoled's foreign mapping does: with a writable type
    // reference, so the guest can never make it a page table the backend would then write into.
    const ringMfn = domain.built.consoleMfn;
    if (this.xen.types.getPageAndType(ringMfn, domain.domid, PGT_writable_page) < 0) return;
    const dom0Port = this.claimDom0Port();
    const ring = new ConsoleRing(this.xen.mem, domain, channels, dom0Port, () => this.dom0Ports.delete(dom0Port));
    this.consoleRings.set(domain.domid, ring);
    domain.onConsoleInput = () => ring.inputArrived();
  }

  /** The lowest port of domain 0 no backend uses yet. */
  private claimDom0Port(): number {
    let dom0Port = 1;
    while (this.dom0Ports.has(dom0Port)) dom0Port++;
    this.dom0Ports.add(dom0Port);
    return dom0Port;
  }

  /**
   * The xenstore ring's port, bound to xenstored's end in domain 0 and
   * written into start_info.store_evtchn; the daemon serves it once the
   * hypervisor has introduced the domain (hypervisor/xenstore/libxl.ts).
   * The frame is held with a writable type reference, as the console's is.
   */
  private connectStore(domain: Domain, channels: EventChannels): void {
    const ringMfn = domain.built.storeMfn;
    if (this.xen.types.getPageAndType(ringMfn, domain.domid, PGT_writable_page) < 0) return;
    const dom0Port = this.claimDom0Port();
    const memory = {
      read32: (pa: number) => this.xen.mem.read32(pa),
      write32: (pa: number, value: number) => this.xen.mem.write32(pa, value),
      read: (pa: number, length: number) => this.xen.cpu.read(pa, length),
      write: (pa: number, bytes: Uint8Array) => this.xen.writePhysical(pa, bytes),
    };
    const ring = new XenstoreRing(memory, ringMfn, channels, dom0Port, () => this.dom0Ports.delete(dom0Port));
    if (ring.evtchn !== 0) writeStoreEvtchn(this.xen.mem, domain.built, ring.evtchn);
    this.storeRings.set(domain.domid, ring);
  }

  /** The domain's xenstore ring (for the hypervisor's introduction, tests and the dashboard). */
  storeRingOf(domain: Domain): XenstoreRing | undefined {
    return this.storeRings.get(domain.domid);
  }

  /** Services every ring the domain shares with domain 0: the console's and the store's. */
  serviceBackends(domain: Domain): void {
    this.serviceConsole(domain);
    this.storeRings.get(domain.domid)?.service();
  }

  /** The domain's console backend (for tests and the dashboard). */
  consoleRingOf(domain: Domain): ConsoleRing | undefined {
    return this.consoleRings.get(domain.domid);
  }

  /** Drains the domain's console ring and refills its input (the guest yields, blocks or polls). */
  serviceConsole(domain: Domain): void {
    this.consoleRings.get(domain.domid)?.service();
  }

  private addVcpu(vcpu: Vcpu): void {
    const clock = this.xen.clock;
    const now = clock.now();
    const state: VcpuEvents = {
      timers: new VcpuTimers(
        clock,
        vcpu.name,
        () => this.channelsOf(vcpu.domain).sendVcpuVirq(vcpu.id, VIRQ_TIMER),
        () => this.pollTimeout(vcpu),
      ),
      runstate: new Runstate(now),
      // vCPUs other than 0 start down, waiting for VCPUOP_initialise and VCPUOP_up.
      down: vcpu.runState === "offline",
      vcpuInfoMfn: null,
      upcalls: 0,
    };
    this.perVcpu.set(vcpu, state);
    writeVcpuTime(this.timeMemory, vcpu.vcpuInfoMa, this.xen.cpu.tsc(), now);
    this.syncRunstate(vcpu, state, now);
  }

  /** The domain shut down: its timers stop, and the global handler hears of it (Xen's __domain_finalise_shutdown). */
  domainShutdown(domain: Domain): void {
    // What the guest wrote into its console ring just before it went still reaches its console.
    this.serviceConsole(domain);
    // xenstored hears of it through VIRQ_DOM_EXC and fires @releaseDomain.
    this.xen.xenstored.domainShutdown(domain.domid);
    const channels = this.byDomid.get(domain.domid);
    const now = this.xen.clock.now();
    for (const v of domain.vcpus) {
      const state = this.perVcpu.get(v);
      if (!state) continue;
      state.timers.stopAll();
      channels?.pollers.delete(v.id);
      this.syncRunstate(v, state, now);
    }
    this.sendGlobalVirq(VIRQ_DOM_EXC);
  }

  /**
   * The domain is being destroyed (before its memory is freed): every port
   * closes, so interdomain peers become unbound; timers go; a moved
   * vcpu_info frame is let go; the global handler hears of it.
   */
  removeDomain(domain: Domain): void {
    for (const v of domain.vcpus) {
      const state = this.perVcpu.get(v);
      if (!state) continue;
      state.timers.stopAll();
      if (state.vcpuInfoMfn !== null) this.xen.types.putPageAndType(state.vcpuInfoMfn);
      this.perVcpu.delete(v);
      if (this.running === v) this.running = null;
    }
    const channels = this.byDomid.get(domain.domid);
    if (channels) {
      channels.destroy();
      this.byDomid.delete(domain.domid);
      for (let virq = 0; virq < NR_VIRQS; virq++) if (this.globalHandlers[virq] === channels) this.globalHandlers[virq] = null;
    }
    if (this.consoleRings.delete(domain.domid)) this.xen.types.putPageAndType(domain.built.consoleMfn);
    if (this.storeRings.delete(domain.domid)) this.xen.types.putPageAndType(domain.built.storeMfn);
    domain.onConsoleInput = () => {};
    this.sendGlobalVirq(VIRQ_DOM_EXC);
  }

  /** A live domain's event channels by domid (EvtchnEnv). */
  lookup(domid: number): EventChannels | undefined {
    return this.byDomid.get(domid);
  }

  channelsOf(domain: Domain): EventChannels {
    const channels = this.byDomid.get(domain.domid);
    if (!channels) throw new Error(`domain ${domain.domid} has no event channels`);
    return channels;
  }

  private state(vcpu: Vcpu): VcpuEvents {
    const state = this.perVcpu.get(vcpu);
    if (!state) throw new Error(`${vcpu.name} has no event state`);
    return state;
  }

  timersOf(vcpu: Vcpu): VcpuTimers {
    return this.state(vcpu).timers;
  }

  upcallsOf(vcpu: Vcpu): number {
    return this.state(vcpu).upcalls;
  }

  // ------------------------------------------------------------ global VIRQs

  globalVirqHandler(virq: number): EventChannels | null {
    return this.globalHandlers[virq] ?? null;
  }

  /**
   * The toolstack names the domain that may bind and receives global VIRQ
   * `virq` (XEN_DOMCTL_set_virq_handler); null takes it back. -EINVAL for a
   * VIRQ that is not global; -EBUSY while the current handler has it bound.
   */
  setGlobalVirqHandler(virq: number, domain: Domain | null): number {
    if (!Number.isInteger(virq) || virq < 0 || virq >= NR_VIRQS || virqType(virq) !== "global") return -EINVAL;
    const next = domain ? this.channelsOf(domain) : null;
    const old = this.globalHandlers[virq] ?? null;
    if (old === next) return 0;
    if (old && old.virqPort(virq) !== 0) return -EBUSY;
    this.globalHandlers[virq] = next;
    return 0;
  }

  /** send_global_virq: to the handler domain, when there is one and it bound the VIRQ. */
  sendGlobalVirq(virq: number): void {
    this.globalHandlers[virq]?.sendDomainVirq(virq);
  }

  // ------------------------------------------------------------ the scheduler's hooks

  /**
   * The scheduler chose `next` to run (null: the CPU idles). Brings the TSC
   * up to the clock; on a switch stops the old vCPU's periodic timer and
   * gives the new one fresh time info and its periodic tick; accounts
   * every vCPU's runstate.
   */
  schedule(next: Vcpu | null): void {
    const now = this.xen.clock.now();
    this.syncTsc();
    const prev = this.running;
    if (prev !== next) {
      if (prev) this.perVcpu.get(prev)?.timers.stopPeriodic();
      this.running = next;
      if (next) {
        const state = this.state(next);
        writeVcpuTime(this.timeMemory, next.vcpuInfoMa, this.xen.cpu.tsc(), now);
        state.timers.periodicWork();
      }
    }
    for (const [v, state] of this.perVcpu) this.syncRunstate(v, state, now);
  }

  /** A slice ended: the domain's console and store rings are serviced; a vCPU that blocked, went down or was paused leaves the CPU now. */
  sliceEnded(vcpu: Vcpu): void {
    this.serviceBackends(vcpu.domain);
    if (this.running === vcpu && !(vcpu.runState === "runnable" && vcpu.domain.isRunnable())) this.schedule(null);
  }

  /**
   * The vCPU on the CPU is about to run guest code again: deliver a
   * pending, unmasked event through its callback (Xen's test_all_events).
   * A domain whose callback cannot be entered is crashed, as Xen does.
   */
  returnToGuest(vcpu: Vcpu): void {
    if (vcpu.runState !== "runnable" || !vcpu.domain.isRunnable()) return;
    const word = this.xen.mem.read32(vcpu.vcpuInfoMa);
    // Byte 0 is evtchn_upcall_pending, byte 1 evtchn_upcall_mask; any non-zero byte counts.
    if ((word & 0xff) === 0 || (word & 0xff00) !== 0) return;
    const cpu = this.xen.cpu;
    const cb = vcpu.eventCallback;
    if (enterGuestHandler(this.xen, cpu, vcpu, cb.cs, cb.eip, cpu.eip, undefined, true)) {
      this.state(vcpu).upcalls++;
      return;
    }
    this.xen.crashDomain(vcpu.domain, `${vcpu.name}: an event upcall to ${hex(cb.cs)}:${hex(cb.eip)} could not be delivered`);
  }

  /** vcpu_kick: a blocked vCPU (in SCHEDOP_block or SCHEDOP_poll) becomes runnable. */
  private kick(vcpu: Vcpu): void {
    if (vcpu.runState !== "blocked") return;
    this.byDomid.get(vcpu.domain.domid)?.pollers.delete(vcpu.id);
    this.perVcpu.get(vcpu)?.timers.poll.cancel();
    this.xen.wakeVcpu(vcpu);
  }

  private pollTimeout(vcpu: Vcpu): void {
    if (this.byDomid.get(vcpu.domain.domid)?.pollers.delete(vcpu.id)) this.xen.wakeVcpu(vcpu);
  }

  /** Moves the TSC up to the clock (see hypervisor/time.ts): it counts virtual nanoseconds. */
  private syncTsc(): void {
    const cpu = this.xen.cpu;
    const now = BigInt(Math.floor(this.xen.clock.now()));
    if (now <= cpu.tsc()) return;
    cpu.setWord(L.REG_TSC, Number(now & 0xffffffffn));
    cpu.setWord(L.REG_TSC + 4, Number((now >> 32n) & 0xffffffffn));
  }

  private syncRunstate(vcpu: Vcpu, state: VcpuEvents, now: number): void {
    let want: number;
    if (vcpu === this.running) want = RUNSTATE_running;
    else if (vcpu.runState === "blocked") want = RUNSTATE_blocked;
    else if (vcpu.runState === "runnable" && vcpu.domain.isRunnable()) want = RUNSTATE_runnable;
    else want = RUNSTATE_offline;
    state.runstate.change(want, now);
  }

  /** VCPUOP_get_runstate_info's answer for `vcpu`, counted up to now. */
  runstateInfo(vcpu: Vcpu): RunstateInfo {
    const state = this.state(vcpu);
    const now = this.xen.clock.now();
    this.syncRunstate(vcpu, state, now);
    return state.runstate.info(now);
  }

  // ------------------------------------------------------------ sched_op and vcpu_op

  /** local_events_need_delivery: an upcall is pending and not masked. */
  private eventsNeedDelivery(vcpu: Vcpu): boolean {
    const word = this.xen.mem.read32(vcpu.vcpuInfoMa);
    return (word & 0xff) !== 0 && (word & 0xff00) === 0;
  }

  /** SCHEDOP_block: clear evtchn_upcall_mask and sleep, unless an event is already pending (then return at once). */
  blockEnableEvents(vcpu: Vcpu): void {
    this.xen.writePhysical(vcpu.vcpuInfoMa + vcpu_info.evtchn_upcall_mask, Uint8Array.of(0));
    if (this.eventsNeedDelivery(vcpu)) return;
    this.xen.blockVcpu(vcpu);
  }

  /**
   * SCHEDOP_poll(&sched_poll): sleep until one of the ports is pending, an
   * unmasked event arrives, or the timeout (absolute system time, 0 =
   * none) passes. Events stay masked as they were. With one port only it
   * wakes for that port; with several, for any port of the domain.
   */
  poll(ctx: HypercallContext, arg: number): number {
    const bytes = copyFromGuest(ctx, arg, sched_poll.sizeof);
    if (bytes === null) return -EFAULT;
    const request = readSchedPoll(new DataView(bytes.buffer), 0);
    if (request.nr_ports > MAX_POLL_PORTS) return -EINVAL;
    if (!guestRange(request.ports, request.nr_ports * 4)) return -EFAULT;
    const vcpu = ctx.vcpu;
    if (this.eventsNeedDelivery(vcpu)) return 0;
    const channels = this.channelsOf(ctx.domain);
    let port = 0;
    for (let i = 0; i < request.nr_ports; i++) {
      const read = readGuestU32(ctx, request.ports + 4 * i);
      if (read === null) return -EFAULT;
      port = read;
      if (port >= EVTCHN_2L_NR_CHANNELS) return -EINVAL;
      if (channels.isPending(port)) return 0;
    }
    channels.pollers.set(vcpu.id, request.nr_ports === 1 ? port : -1);
    if (request.timeout !== 0n) {
      const at = reachableDeadline(request.timeout);
      if (at !== null) this.state(vcpu).timers.poll.arm(at);
    }
    this.xen.blockVcpu(vcpu);
    return 0;
  }

  /** VCPUOP_up: a vCPU that is down runs (again); one that VCPUOP_initialise has not set up is -EINVAL. */
  vcpuUp(vcpu: Vcpu): number {
    if (!vcpu.initialised) return -EINVAL;
    const state = this.state(vcpu);
    if (state.down && vcpu.domain.state !== "shutdown") {
      state.down = false;
      this.xen.readyVcpu(vcpu);
    }
    return 0;
  }

  /** VCPUOP_down: the vCPU stops; taking down the last one that is up powers the domain off, as in Xen. */
  vcpuDown(vcpu: Vcpu, powerOff: () => void): number {
    const others = vcpu.domain.vcpus.some((v) => v !== vcpu && !this.state(v).down);
    if (!others) {
      powerOff();
      return 0;
    }
    const state = this.state(vcpu);
    if (!state.down) {
      state.down = true;
      state.timers.stopPeriodic();
      vcpu.runState = "offline";
      if (this.running === vcpu) this.xen.endSlice();
    }
    return 0;
  }

  isUp(vcpu: Vcpu): boolean {
    return !this.state(vcpu).down;
  }

  /**
   * VCPUOP_register_vcpu_info: vcpu_info moves from its shared_info slot
   * to `offset` in frame `mfn` of the domain, which must be ordinary
   * writable memory (a writable type reference is held until the domain
   * is destroyed). The current contents are copied over, and every
   * selector bit is set with an upcall marked pending so that nothing
   * raised in between is lost; the guest gets a spurious event, which it
   * must cope with (Xen's map_vcpu_info). Once only (-EBUSY after).
   */
  registerVcpuInfo(vcpu: Vcpu, mfn: bigint, offset: number): number {
    const state = this.state(vcpu);
    // The machine address must name byte `offset` of frame `mfn` (an mfn so large that mfn << 12 overflows does not).
    if (offset >= PAGE_SIZE || mfn >= 1n << 52n) return -EINVAL;
    if (state.vcpuInfoMfn !== null) return -EBUSY;
    if (offset + vcpu_info.sizeof > PAGE_SIZE || offset % 4 !== 0) return -ENXIO;
    if (mfn >= BigInt(this.xen.frames.nrFrames)) return -EINVAL;
    const frame = Number(mfn);
    if (!this.xen.frames.getPage(frame, vcpu.domain.domid)) return -EINVAL;
    if (this.xen.types.getPageType(frame, PGT_writable_page) < 0) {
      this.xen.frames.putPage(frame);
      return -EACCES;
    }
    const to = frame * PAGE_SIZE + offset;
    this.xen.writePhysical(to, this.xen.cpu.read(vcpu.vcpuInfoMa, vcpu_info.sizeof));
    vcpu.vcpuInfoMa = to;
    state.vcpuInfoMfn = frame;
    this.xen.mem.write32(to + vcpu_info.evtchn_pending_sel, 0xffffffff);
    this.channelsOf(vcpu.domain).markEventsPending(vcpu.id);
    writeVcpuTime(this.timeMemory, to, this.xen.cpu.tsc(), this.xen.clock.now());
    return 0;
  }
}

function hex(v: number): string {
  return `0x${(v >>> 0).toString(16)}`;
}
