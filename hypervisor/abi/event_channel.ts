// hypervisor/abi/event_channel.ts — event channels, mirroring xen/include/public/event_channel.h.
//
// event_channel_op(cmd, arg): each command takes one small struct whose OUT
// fields the hypervisor fills in. A port is a bit in shared_info's
// evtchn_pending/evtchn_mask; with the 2-level ABI on x86_32 there are 32 x 32
// of them. Layouts and numbers: XEN-ABI.md 4 (event_channel_op) and 6.4.

export const EVTCHNOP_bind_interdomain = 0;
export const EVTCHNOP_bind_virq = 1;
export const EVTCHNOP_bind_pirq = 2;
export const EVTCHNOP_close = 3;
export const EVTCHNOP_send = 4;
export const EVTCHNOP_status = 5;
export const EVTCHNOP_alloc_unbound = 6;
export const EVTCHNOP_bind_ipi = 7;
export const EVTCHNOP_bind_vcpu = 8;
export const EVTCHNOP_unmask = 9;
export const EVTCHNOP_reset = 10;
export const EVTCHNOP_init_control = 11;
export const EVTCHNOP_expand_array = 12;
export const EVTCHNOP_set_priority = 13;
export const EVTCHNOP_reset_cont = 14;

/** Ports of the 2-level ABI on x86_32: 32 selector bits x 32 pending bits. */
export const EVTCHN_2L_NR_CHANNELS = 1024;

/** evtchn_status.status values. */
export const EVTCHNSTAT_closed = 0;
export const EVTCHNSTAT_unbound = 1;
export const EVTCHNSTAT_interdomain = 2;
export const EVTCHNSTAT_pirq = 3;
export const EVTCHNSTAT_virq = 4;
export const EVTCHNSTAT_ipi = 5;

/** evtchn_bind_pirq.flags: the PIRQ may be shared with other domains. */
export const BIND_PIRQ__WILL_SHARE = 1;

/** (12) remote_dom u16; remote_port; OUT local_port. */
export const evtchn_bind_interdomain = { sizeof: 12, remote_dom: 0, remote_port: 4, local_port: 8 } as const;
/** (12) virq; vcpu; OUT port. */
export const evtchn_bind_virq = { sizeof: 12, virq: 0, vcpu: 4, port: 8 } as const;
/** (12) pirq; flags; OUT port. */
export const evtchn_bind_pirq = { sizeof: 12, pirq: 0, flags: 4, port: 8 } as const;
/** (4) port. */
export const evtchn_close = { sizeof: 4, port: 0 } as const;
/** (4) port. */
export const evtchn_send = { sizeof: 4, port: 0 } as const;
/**
 * (24) IN dom u16, port; OUT status, vcpu, and a union at 16 that depends on
 * status: unbound.dom u16, interdomain.dom u16 + interdomain.port at 20, pirq, virq.
 */
export const evtchn_status = {
  sizeof: 24,
  dom: 0,
  port: 4,
  status: 8,
  vcpu: 12,
  unbound_dom: 16,
  interdomain_dom: 16,
  interdomain_port: 20,
  pirq: 16,
  virq: 16,
} as const;
/** (8) dom u16; remote_dom u16; OUT port. */
export const evtchn_alloc_unbound = { sizeof: 8, dom: 0, remote_dom: 2, port: 4 } as const;
/** (8) vcpu; OUT port. */
export const evtchn_bind_ipi = { sizeof: 8, vcpu: 0, port: 4 } as const;
/** (8) port; vcpu. */
export const evtchn_bind_vcpu = { sizeof: 8, port: 0, vcpu: 4 } as const;
/** (4) port. */
export const evtchn_unmask = { sizeof: 4, port: 0 } as const;

/** The struct size each command reads, for copying the argument in and out. */
export const EVTCHNOP_ARG_SIZE: Readonly<Record<number, number>> = {
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
};
