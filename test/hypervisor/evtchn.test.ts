// test/hypervisor/evtchn.test.ts — event channels over a plain buffer: the 2-level
// algorithm on shared_info, each EVTCHNOP sub-op with Xen's errors, and hostile ports.
//
// Each domain here is a shared_info page in a small buffer and a vcpu_info
// slot per vCPU; "kicks" (Xen's vcpu_kick, which wakes a blocked vCPU) are
// recorded. Guests driving the same code through the hypercall are in
// test/hypervisor/events.test.ts.

import { describe, expect, it } from "vitest";
import { EBUSY, EEXIST, EINVAL, ENOENT, ENOSPC, EPERM, ESRCH } from "../../hypervisor/abi/errno.js";
import {
  EVTCHNSTAT_closed, EVTCHNSTAT_interdomain, EVTCHNSTAT_ipi, EVTCHNSTAT_unbound, EVTCHNSTAT_virq,
} from "../../hypervisor/abi/event_channel.js";
import {
  DOMID_SELF, VIRQ_CONSOLE, VIRQ_DEBUG, VIRQ_DOM_EXC, VIRQ_TIMER, shared_info, vcpu_info,
} from "../../hypervisor/abi/xen.js";
import {
  EVTCHNS_PER_BUCKET, EventChannels, EvtchnError, bindInterdomainForToolstack, virqType,
} from "../../hypervisor/evtchn.js";
import { bufferMemory } from "../../hypervisor/mm/memory.js";

/** Domains 1..n, each with a shared_info page at frame domid and `vcpus` vCPUs. */
function world(domains: number, vcpus = 1) {
  const ram = new Uint8Array((domains + 1) * 4096);
  const mem = bufferMemory(ram);
  const kicks: string[] = [];
  const byDomid = new Map<number, EventChannels>();
  const handlers = new Map<number, EventChannels>();
  const env = {
    mem,
    lookup: (domid: number) => byDomid.get(domid),
    globalVirqHandler: (virq: number) => handlers.get(virq) ?? null,
  };
  const d: EventChannels[] = [];
  for (let domid = 1; domid <= domains; domid++) {
    const sharedInfoMa = domid * 4096;
    const channels = new EventChannels(
      {
        domid,
        sharedInfoMa,
        vcpuInfoMa: (id) => (Number.isInteger(id) && id >= 0 && id < vcpus ? sharedInfoMa + id * vcpu_info.sizeof : undefined),
        kick: (id) => kicks.push(`d${domid}v${id}`),
      },
      env,
    );
    byDomid.set(domid, channels);
    d.push(channels);
  }
  const word = (domid: number, offset: number) => mem.read32(domid * 4096 + offset);
  const view = (domid: number, vcpu = 0) => {
    const vi = domid * 4096 + vcpu * vcpu_info.sizeof;
    return {
      upcallPending: ram[vi + vcpu_info.evtchn_upcall_pending]!,
      sel: mem.read32(vi + vcpu_info.evtchn_pending_sel),
      pending: (port: number) => (word(domid, shared_info.evtchn_pending + (port >>> 5) * 4) >>> (port & 31)) & 1,
    };
  };
  const mask = (domid: number, port: number) => {
    const at = domid * 4096 + shared_info.evtchn_mask + (port >>> 5) * 4;
    mem.write32(at, mem.read32(at) | (1 << (port & 31)));
  };
  return { d, kicks, view, mask, mem, handlers, byDomid };
}

describe("the 2-level algorithm (XEN-ABI.md 6.4)", () => {
  it("reserves port 0: the first port handed out is 1, and port 0 cannot be closed", () => {
    const { d } = world(1);
    expect(d[0]!.bindIpi(0)).toBe(1);
    expect(d[0]!.close(0)).toBe(-EINVAL);
  });

  it("raising an unmasked port sets its pending bit, its word's selector bit and upcall_pending, and kicks the vCPU", () => {
    const { d, kicks, view } = world(1);
    const port = 40;
    for (let i = 1; i <= port; i++) d[0]!.bindIpi(0);
    d[0]!.send(port);
    const v = view(1);
    expect(v.pending(port)).toBe(1);
    expect(v.sel).toBe(1 << 1);
    expect(v.upcallPending).toBe(1);
    expect(kicks).toEqual(["d1v0"]);
  });

  it("does nothing more for a port that is already pending", () => {
    const { d, kicks, view, mem } = world(1);
    const port = d[0]!.bindIpi(0);
    d[0]!.send(port);
    mem.write32(4096 + vcpu_info.evtchn_pending_sel, 0);
    d[0]!.send(port);
    expect(view(1).sel).toBe(0);
    expect(kicks).toHaveLength(1);
  });

  it("kicks once per upcall: a second port raised while upcall_pending is set only adds its selector bit", () => {
    const { d, kicks, view } = world(1);
    for (let i = 0; i < 40; i++) d[0]!.bindIpi(0);
    d[0]!.send(1);
    d[0]!.send(33);
    expect(view(1).sel).toBe(0b11);
    expect(kicks).toHaveLength(1);
  });

  it("leaves a masked port pending with no selector bit, and unmask raises it then", () => {
    const { d, kicks, view, mask } = world(1);
    const port = d[0]!.bindIpi(0);
    mask(1, port);
    d[0]!.send(port);
    expect(view(1).pending(port)).toBe(1);
    expect(view(1).sel).toBe(0);
    expect(view(1).upcallPending).toBe(0);
    expect(d[0]!.isMasked(port)).toBe(true);
    expect(d[0]!.unmask(port)).toBe(0);
    expect(d[0]!.isMasked(port)).toBe(false);
    expect(view(1).sel).toBe(1);
    expect(view(1).upcallPending).toBe(1);
    expect(kicks).toEqual(["d1v0"]);
  });

  it("unmasks a port that is not pending without raising anything", () => {
    const { d, kicks, view, mask } = world(1);
    const port = d[0]!.bindIpi(0);
    mask(1, port);
    d[0]!.unmask(port);
    expect(d[0]!.isMasked(port)).toBe(false);
    expect(view(1).upcallPending).toBe(0);
    expect(kicks).toEqual([]);
  });

  it("raises a port on the vCPU bind_vcpu named", () => {
    const { d, view } = world(2, 2);
    const port = d[0]!.allocUnbound(DOMID_SELF, 2);
    const remote = d[1]!.bindInterdomain(1, port);
    expect(d[0]!.bindVcpu(port, 1)).toBe(0);
    d[1]!.send(remote);
    expect(view(1, 1).upcallPending).toBe(1);
    expect(view(1, 0).upcallPending).toBe(0);
  });

  it("wakes a vCPU polling one port only for that port, and one polling several for any", () => {
    const { d, kicks } = world(1, 2);
    const a = d[0]!.bindIpi(0);
    const b = d[0]!.bindIpi(0);
    const ch = d[0]!;
    ch.pollers.set(0, b);
    ch.pollers.set(1, -1);
    // Keep the upcall flag set so that only pollers can kick.
    ch.markEventsPending(0);
    kicks.length = 0;
    ch.send(a);
    expect(kicks).toEqual(["d1v1"]);
    ch.send(b);
    expect(kicks).toEqual(["d1v1", "d1v0"]);
    expect(ch.pollers.size).toBe(0);
  });
});

describe("EVTCHNOP sub-ops", () => {
  it("connects two domains with alloc_unbound and bind_interdomain; the binder's end starts pending", () => {
    const { d, view } = world(2);
    const [a, b] = [d[0]!, d[1]!];
    const portA = a.allocUnbound(DOMID_SELF, 2);
    expect(portA).toBe(1);
    expect(a.status(DOMID_SELF, portA)).toEqual({ status: EVTCHNSTAT_unbound, vcpu: 0, dom: 2 });
    const portB = b.bindInterdomain(1, portA);
    expect(portB).toBe(1);
    expect(view(2).pending(portB)).toBe(1);
    expect(view(1).pending(portA)).toBe(0);
    expect(a.status(DOMID_SELF, portA)).toEqual({ status: EVTCHNSTAT_interdomain, vcpu: 0, dom: 2, port: portB });
    expect(b.send(portB)).toBe(0);
    expect(view(1).pending(portA)).toBe(1);
  });

  it("connects a domain to itself (loopback) when the unbound port names DOMID_SELF", () => {
    const { d, view } = world(1);
    const a = d[0]!.allocUnbound(DOMID_SELF, DOMID_SELF);
    const b = d[0]!.bindInterdomain(DOMID_SELF, a);
    expect(b).toBe(2);
    d[0]!.close(b);
    expect(view(1).pending(b)).toBe(0);
    d[0]!.send(a);
    expect(d[0]!.status(DOMID_SELF, a)).toEqual({ status: EVTCHNSTAT_unbound, vcpu: 0, dom: 1 });
  });

  it("refuses bind_interdomain to a missing domain (-ESRCH), a bad port, or a port not waiting for the caller (-EINVAL)", () => {
    const { d } = world(3);
    const waitingFor3 = d[0]!.allocUnbound(DOMID_SELF, 3);
    expect(d[1]!.bindInterdomain(9, 1)).toBe(-ESRCH);
    expect(d[1]!.bindInterdomain(1, 0xffffffff)).toBe(-EINVAL);
    expect(d[1]!.bindInterdomain(1, waitingFor3)).toBe(-EINVAL);
    expect(d[1]!.bindInterdomain(1, 0)).toBe(-EINVAL);
    expect(d[2]!.bindInterdomain(1, waitingFor3)).toBe(1);
    expect(d[1]!.bindInterdomain(1, waitingFor3)).toBe(-EINVAL);
  });

  it("lets a domain allocate only in itself: -EPERM for another domain, -ESRCH for none", () => {
    const { d } = world(2);
    expect(d[0]!.allocUnbound(2, 1)).toBe(-EPERM);
    expect(d[0]!.allocUnbound(7, 1)).toBe(-ESRCH);
    expect(d[0]!.allocUnbound(1, 2)).toBe(1);
  });

  it("binds a per-vCPU VIRQ once per vCPU; a second bind is -EEXIST, a bad VIRQ -EINVAL, a missing vCPU -ENOENT", () => {
    const { d } = world(1, 2);
    const ch = d[0]!;
    expect(ch.bindVirq(VIRQ_TIMER, 0)).toBe(1);
    expect(ch.bindVirq(VIRQ_TIMER, 0)).toBe(-EEXIST);
    expect(ch.bindVirq(VIRQ_TIMER, 1)).toBe(2);
    expect(ch.bindVirq(24, 0)).toBe(-EINVAL);
    expect(ch.bindVirq(0xffffffff, 0)).toBe(-EINVAL);
    expect(ch.bindVirq(VIRQ_DEBUG, 5)).toBe(-ENOENT);
    expect(ch.status(DOMID_SELF, 2)).toEqual({ status: EVTCHNSTAT_virq, vcpu: 1, virq: VIRQ_TIMER });
  });

  it("binds per-domain VIRQs (CONSOLE) only on vCPU 0, and global ones (DOM_EXC) only in the handler domain", () => {
    const { d, handlers } = world(2, 2);
    expect(virqType(VIRQ_CONSOLE)).toBe("domain");
    expect(virqType(VIRQ_DOM_EXC)).toBe("global");
    expect(d[0]!.bindVirq(VIRQ_CONSOLE, 1)).toBe(-EINVAL);
    expect(d[0]!.bindVirq(VIRQ_CONSOLE, 0)).toBe(1);
    expect(d[0]!.bindVirq(VIRQ_DOM_EXC, 0)).toBe(-EBUSY);
    handlers.set(VIRQ_DOM_EXC, d[1]!);
    expect(d[0]!.bindVirq(VIRQ_DOM_EXC, 0)).toBe(-EBUSY);
    expect(d[1]!.bindVirq(VIRQ_DOM_EXC, 0)).toBe(1);
  });

  it("raises a VIRQ only where it is bound", () => {
    const { d, view } = world(1, 2);
    const ch = d[0]!;
    ch.sendVcpuVirq(0, VIRQ_TIMER);
    expect(view(1).upcallPending).toBe(0);
    const port = ch.bindVirq(VIRQ_TIMER, 1);
    ch.sendVcpuVirq(0, VIRQ_TIMER);
    expect(view(1, 0).upcallPending).toBe(0);
    ch.sendVcpuVirq(1, VIRQ_TIMER);
    expect(view(1, 1).upcallPending).toBe(1);
    expect(view(1).pending(port)).toBe(1);
  });

  it("sends: an IPI raises itself, an unbound port drops it, a VIRQ port is -EINVAL", () => {
    const { d, view } = world(1);
    const ch = d[0]!;
    const ipi = ch.bindIpi(0);
    const unbound = ch.allocUnbound(DOMID_SELF, 2);
    const virq = ch.bindVirq(VIRQ_TIMER, 0);
    expect(ch.send(unbound)).toBe(0);
    expect(view(1).pending(unbound)).toBe(0);
    expect(ch.send(virq)).toBe(-EINVAL);
    expect(ch.send(ipi)).toBe(0);
    expect(view(1).pending(ipi)).toBe(1);
    expect(ch.status(DOMID_SELF, ipi)).toEqual({ status: EVTCHNSTAT_ipi, vcpu: 0 });
  });

  it("closes an interdomain port: the peer is unbound again, waiting for the closer, and can be bound anew", () => {
    const { d } = world(2);
    const a = d[0]!.allocUnbound(DOMID_SELF, 2);
    const b = d[1]!.bindInterdomain(1, a);
    expect(d[1]!.close(b)).toBe(0);
    expect(d[1]!.status(DOMID_SELF, b)).toEqual({ status: EVTCHNSTAT_closed, vcpu: 0 });
    expect(d[0]!.status(DOMID_SELF, a)).toEqual({ status: EVTCHNSTAT_unbound, vcpu: 0, dom: 2 });
    expect(d[0]!.send(a)).toBe(0);
    expect(d[1]!.bindInterdomain(1, a)).toBe(b);
  });

  it("clears a closed port's pending bit and frees its VIRQ for binding again", () => {
    const { d, view } = world(1);
    const port = d[0]!.bindVirq(VIRQ_TIMER, 0);
    d[0]!.sendVcpuVirq(0, VIRQ_TIMER);
    expect(view(1).pending(port)).toBe(1);
    expect(d[0]!.close(port)).toBe(0);
    expect(view(1).pending(port)).toBe(0);
    expect(d[0]!.close(port)).toBe(-EINVAL);
    expect(d[0]!.bindVirq(VIRQ_TIMER, 0)).toBe(port);
  });

  it("moves unbound, interdomain and global-VIRQ ports with bind_vcpu, but not per-vCPU VIRQs or IPIs", () => {
    const { d } = world(1, 2);
    const ch = d[0]!;
    const unbound = ch.allocUnbound(DOMID_SELF, 2);
    const timer = ch.bindVirq(VIRQ_TIMER, 0);
    const ipi = ch.bindIpi(0);
    const console = ch.bindVirq(VIRQ_CONSOLE, 0);
    expect(ch.bindVcpu(unbound, 1)).toBe(0);
    expect(ch.bindVcpu(console, 1)).toBe(0);
    expect(ch.bindVcpu(timer, 1)).toBe(-EINVAL);
    expect(ch.bindVcpu(ipi, 1)).toBe(-EINVAL);
    expect(ch.bindVcpu(unbound, 2)).toBe(-ENOENT);
    expect(ch.bindVcpu(0xffffffff, 1)).toBe(-EINVAL);
    expect(ch.status(DOMID_SELF, console)).toEqual({ status: EVTCHNSTAT_virq, vcpu: 1, virq: VIRQ_CONSOLE });
  });

  it("lists the ports in use with what they are bound to", () => {
    const { d } = world(2);
    d[0]!.bindVirq(VIRQ_TIMER, 0);
    const unbound = d[0]!.allocUnbound(DOMID_SELF, 2);
    d[1]!.bindInterdomain(1, unbound);
    d[0]!.bindIpi(0);
    expect(d[0]!.describe()).toEqual([
      { port: 1, state: "virq", vcpu: 0, virq: VIRQ_TIMER },
      { port: 2, state: "interdomain", vcpu: 0, remoteDomid: 2, remotePort: 1 },
      { port: 3, state: "ipi", vcpu: 0 },
    ]);
  });

  it("answers status only for the caller's own ports: -EPERM for another domain's, -ESRCH for no domain", () => {
    const { d } = world(2);
    expect(d[0]!.status(2, 1)).toBe(-EPERM);
    expect(d[0]!.status(5, 1)).toBe(-ESRCH);
    expect(d[0]!.status(DOMID_SELF, 0)).toEqual({ status: EVTCHNSTAT_closed, vcpu: 0 });
  });
});

describe("hostile ports", () => {
  it("refuses ports past the last bucket with -EINVAL in every sub-op, and reads a free port inside it as closed", () => {
    const { d } = world(1);
    const ch = d[0]!;
    for (const port of [EVTCHNS_PER_BUCKET, 1023, 1024, 0x7fffffff, 0x80000000, 0xffffffff]) {
      expect(ch.send(port)).toBe(-EINVAL);
      expect(ch.close(port)).toBe(-EINVAL);
      expect(ch.unmask(port)).toBe(-EINVAL);
      expect(ch.bindVcpu(port, 0)).toBe(-EINVAL);
      expect(ch.status(DOMID_SELF, port)).toBe(-EINVAL);
    }
    expect(ch.status(DOMID_SELF, EVTCHNS_PER_BUCKET - 1)).toEqual({ status: EVTCHNSTAT_closed, vcpu: 0 });
    expect(ch.send(EVTCHNS_PER_BUCKET - 1)).toBe(-EINVAL);
  });

  it("hands out ports up to 1023 and then -ENOSPC: the 2-level limit on x86_32, whatever the toolstack asked", () => {
    const { d, mem } = world(1);
    const ch = d[0]!;
    const before = mem.read32(4096 + shared_info.evtchn_pending + 124);
    for (let i = 1; i <= 1023; i++) expect(ch.bindIpi(0)).toBe(i);
    expect(ch.bindIpi(0)).toBe(-ENOSPC);
    expect(ch.allocUnbound(DOMID_SELF, 2)).toBe(-ENOSPC);
    expect(ch.validPorts).toBe(1024);
    ch.send(1023);
    expect(mem.read32(4096 + shared_info.evtchn_pending + 124)).toBe((before | 0x80000000) >>> 0);
    expect(new EventChannels(ch.domain, { mem, lookup: () => undefined, globalVirqHandler: () => null }, 5000).maxPort).toBe(1023);
  });

  it("stops a domain at the limit the toolstack set", () => {
    const { mem } = world(1);
    const ch = new EventChannels(
      { domid: 1, sharedInfoMa: 4096, vcpuInfoMa: (id) => (id === 0 ? 4096 : undefined), kick: () => {} },
      { mem, lookup: () => undefined, globalVirqHandler: () => null },
      3,
    );
    expect([ch.bindIpi(0), ch.bindIpi(0), ch.bindIpi(0), ch.bindIpi(0)]).toEqual([1, 2, 3, -ENOSPC]);
  });

  it("gives a destroyed domain's peers back their ports as unbound, and the dying domain no new port", () => {
    const { d, byDomid } = world(2);
    const a = d[0]!.allocUnbound(DOMID_SELF, 2);
    const b = d[1]!.bindInterdomain(1, a);
    d[0]!.destroy();
    byDomid.delete(1);
    expect(d[1]!.status(DOMID_SELF, b)).toEqual({ status: EVTCHNSTAT_unbound, vcpu: 0, dom: 1 });
    expect(d[1]!.send(b)).toBe(0);
    expect(d[0]!.bindIpi(0)).toBe(-EINVAL);
  });
});

describe("the toolstack's interdomain binding", () => {
  it("connects the ports it is given, with neither end pending", () => {
    const { d, view } = world(2);
    expect(bindInterdomainForToolstack(d[0]!, d[1]!, { a: 3, b: 5 })).toEqual({ a: 3, b: 5 });
    expect(d[0]!.status(DOMID_SELF, 3)).toEqual({ status: EVTCHNSTAT_interdomain, vcpu: 0, dom: 2, port: 5 });
    expect(view(1).pending(3)).toBe(0);
    expect(view(2).pending(5)).toBe(0);
    d[1]!.send(5);
    expect(view(1).pending(3)).toBe(1);
  });

  it("takes the lowest free ports when none are given, two different ones in a single domain", () => {
    const { d } = world(1);
    expect(bindInterdomainForToolstack(d[0]!, d[0]!)).toEqual({ a: 1, b: 2 });
  });

  it("refuses a port in use with EBUSY and one out of range with ENOSPC, leaving nothing half bound", () => {
    const { d } = world(2);
    d[1]!.bindIpi(0);
    expect(() => bindInterdomainForToolstack(d[0]!, d[1]!, { a: 2, b: 1 })).toThrow(EvtchnError);
    expect(() => bindInterdomainForToolstack(d[0]!, d[1]!, { a: 2, b: 1 })).toThrow(/EBUSY/);
    expect(d[0]!.status(DOMID_SELF, 2)).toEqual({ status: EVTCHNSTAT_closed, vcpu: 0 });
    expect(() => bindInterdomainForToolstack(d[0]!, d[1]!, { a: 1024 })).toThrow(/ENOSPC/);
  });
});

describe("a backend in domain 0 (the console's)", () => {
  /** A backend that records what reached it. */
  const backend = (port = 7) => {
    const heard: string[] = [];
    return { port, heard, notify: () => heard.push("notify"), closed: () => heard.push("closed") };
  };

  it("takes the lowest free port, interdomain with domain 0's port, and hears the guest's sends", () => {
    const { d, view } = world(1);
    const b = backend();
    expect(d[0]!.connectBackend(b)).toBe(1);
    expect(d[0]!.status(DOMID_SELF, 1)).toEqual({ status: EVTCHNSTAT_interdomain, vcpu: 0, dom: 0, port: 7 });
    expect(view(1).pending(1)).toBe(0);
    expect(d[0]!.send(1)).toBe(0);
    expect(b.heard).toEqual(["notify"]);
    expect(d[0]!.describe()).toEqual([{ port: 1, state: "interdomain", vcpu: 0, remoteDomid: 0, remotePort: 7 }]);
  });

  it("raises the guest's port when the backend notifies, on the vCPU bind_vcpu named; another backend cannot", () => {
    const { d, view, kicks } = world(1, 2);
    const b = backend();
    d[0]!.connectBackend(b);
    expect(d[0]!.bindVcpu(1, 1)).toBe(0);
    expect(d[0]!.notifyFromBackend(1, b)).toBe(true);
    expect(view(1).pending(1)).toBe(1);
    expect(view(1, 1).upcallPending).toBe(1);
    expect(kicks).toEqual(["d1v1"]);
    expect(d[0]!.notifyFromBackend(1, backend())).toBe(false);
    expect(d[0]!.notifyFromBackend(5000, b)).toBe(false);
  });

  it("tells the backend when the guest closes the port or resets its channels, and the port is free again", () => {
    const { d } = world(1);
    const b = backend();
    d[0]!.connectBackend(b);
    expect(d[0]!.close(1)).toBe(0);
    expect(b.heard).toEqual(["closed"]);
    expect(d[0]!.notifyFromBackend(1, b)).toBe(false);
    expect(d[0]!.bindIpi(0)).toBe(1);
    const c = backend(8);
    expect(d[0]!.connectBackend(c)).toBe(2);
    d[0]!.reset();
    expect(c.heard).toEqual(["closed"]);
  });
});
