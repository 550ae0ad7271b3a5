// test/hypervisor/console-ring.test.ts — the PV console ring (io/console.h) and its backend in the hypervisor.
//
// Kernels write and read the ring as Xen guests do (guests/pv/ring-console,
// or a few lines here over guests/include/pv-ring-console.inc); the
// hostile cases set the ring's indices to what no honest guest would,
// from the guest or straight in machine memory, and check that the
// backend neither throws nor reads past the ring, and that the domain
// runs on.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { EVTCHNSTAT_closed, EVTCHNSTAT_interdomain } from "../../hypervisor/abi/event_channel.js";
import { XENCONS_IN_SIZE, XENCONS_OUT_SIZE, xencons_interface } from "../../hypervisor/abi/io/console.js";
import { SHUTDOWN_poweroff } from "../../hypervisor/abi/sched.js";
import { DOMID_SELF, start_info } from "../../hypervisor/abi/xen.js";
import type { Domain } from "../../hypervisor/domain.js";
import type { Hypervisor } from "../../hypervisor/xen.js";
import { bootPv, bootPvDomains, pvKernel, runUntil } from "../support/pv.js";

const text = (s: string) => new TextEncoder().encode(s);
const ringConsole = () => new Uint8Array(readFileSync("build/guests/pv/ring-console.bin"));

/** A kernel with the ring routines (ring_console_init, ring_print, ring_write, ring_read, ring_notify, ring_yield) and console_io's print. */
const ringKernel = (source: string) =>
  pvKernel(`
%include "pv-ring-console.inc"
%include "pv-console.inc"
${source}
        pv_ring_console_routines start_info_va
        pv_console_routines
        align 4
start_info_va: dd 0
poweroff:      dd SHUTDOWN_poweroff
`);

/**
 * Sends once on the console port (so it counts as using the ring) and then
 * sleeps for good in SCHEDOP_poll on port 100, which nothing raises; events
 * stay masked, so the backend's notifications never interrupt it.
 */
const SLEEPER = ringKernel(`
entry:
        mov     [start_info_va], esi
        call    ring_console_init
        call    ring_notify
.sleep: mov     ebx, SCHEDOP_poll
        mov     ecx, poll_args
        hypercall __HYPERVISOR_sched_op
        jmp     .sleep
        align 4
quiet_port: dd 100
poll_args:  dd quiet_port, 1, 0, 0
`);

/** The ring page of a domain, read and written as machine memory. */
function ringOf(xen: Hypervisor, domain: Domain) {
  const base = domain.built.consoleMfn * 4096;
  return {
    get: (field: keyof typeof xencons_interface) => xen.mem.read32(base + xencons_interface[field]) >>> 0,
    set: (field: keyof typeof xencons_interface, value: number) => xen.mem.write32(base + xencons_interface[field], value),
    /** `length` bytes of in[] from index `from`, wrapping as the ring does. */
    input: (from: number, length: number) =>
      Array.from({ length }, (_, i) => xen.cpu.read(base + xencons_interface.in + ((from + i) & (XENCONS_IN_SIZE - 1)), 1)[0]!),
  };
}

describe("guests/pv/ring-console", () => {
  it("greets through the ring, echoes the line typed at its console, and powers off", async () => {
    const { xen, domain, console } = await bootPv(ringConsole());
    expect(console).toBe("ring-console: hello through the console ring (io/console.h)\nring-console: type a line\n");
    expect(domain.state).toBe("running");
    let out = console;
    domain.consoleOut = (bytes) => (out += new TextDecoder().decode(bytes));
    domain.receiveConsoleInput(text("hello, ring\n"));
    runUntil(xen, () => domain.state === "shutdown", 1e9);
    expect(out).toBe(`${console}ring-console: you typed: hello, ring\n`);
    expect(domain.shutdownReason).toBe(SHUTDOWN_poweroff);
    // All of it came through the ring, none through console_io.
    expect(xen.events.consoleRingOf(domain)!.stats).toEqual({ out: out.length, in: "hello, ring\n".length });
  });

  it("gets input typed before it used the ring once it first sends on the console port", async () => {
    const { domains, consoles } = await bootPvDomains([{ kernel: ringConsole() }], {
      before: (_xen, [domain]) => domain!.receiveConsoleInput(text("typed early\n")),
    });
    expect(consoles[0]).toMatch(/type a line\nring-console: you typed: typed early\n$/);
    expect(domains[0]!.shutdownReason).toBe(SHUTDOWN_poweroff);
  });
});

describe("the console's event channel", () => {
  it("is a port in start_info bound to domain 0 (EVTCHNOP_status: interdomain), one backend port per domain", async () => {
    const { xen, domains } = await bootPvDomains([{ kernel: SLEEPER }, { kernel: SLEEPER }]);
    const dom0Ports = domains.map((domain) => {
      const port = xen.mem.read32(domain.built.startInfoMfn * 4096 + start_info.console_domU_evtchn);
      const ring = xen.events.consoleRingOf(domain)!;
      expect(port).toBe(1);
      expect(ring.evtchn).toBe(port);
      expect(ring.inUse).toBe(true); // the kernel sent on it
      expect(xen.events.channelsOf(domain).status(DOMID_SELF, port)).toEqual({ status: EVTCHNSTAT_interdomain, vcpu: 0, dom: 0, port: ring.port });
      return ring.port;
    });
    expect(new Set(dom0Ports).size).toBe(2);
  });

  it("once the guest closes it, input goes back to console_io", async () => {
    const { xen, domain } = await bootPv(SLEEPER);
    const channels = xen.events.channelsOf(domain);
    const ring = xen.events.consoleRingOf(domain)!;
    expect(channels.close(1)).toBe(0);
    expect(ring.evtchn).toBe(0);
    expect(channels.status(DOMID_SELF, 1)).toEqual({ status: EVTCHNSTAT_closed, vcpu: 0 });
    domain.receiveConsoleInput(text("for console_io"));
    expect(domain.consoleInputWaiting).toBe(14);
    expect(ringOf(xen, domain).get("in_prod")).toBe(0);
  });
});

describe("the console backend", () => {
  it("drains what a guest wrote without sending when it yields, and at its shutdown", async () => {
    const { console, domain } = await bootPv(
      ringKernel(`
; put: ESI a NUL-terminated string into out[] and advance out_prod, with no send.
put:    mov     edi, [ring_console_va]
        mov     edx, [edi + xencons_interface.out_prod]
.next:  lodsb
        test    al, al
        jz      .done
        mov     ebx, edx
        and     ebx, XENCONS_OUT_SIZE - 1
        mov     [edi + xencons_interface.out + ebx], al
        inc     edx
        jmp     .next
.done:  mov     [edi + xencons_interface.out_prod], edx
        ret
entry:
        mov     [start_info_va], esi
        call    ring_console_init
        mov     esi, one
        call    put
.spin:  call    ring_yield              ; XTF's wait, without its send
        mov     eax, [edi + xencons_interface.out_cons]
        cmp     eax, [edi + xencons_interface.out_prod]
        jne     .spin
        mov     esi, two
        call    put
        mov     ebx, SCHEDOP_shutdown   ; no send, no wait
        mov     ecx, poweroff
        hypercall __HYPERVISOR_sched_op
        ud2
one:    db "drained on yield", 10, 0
two:    db "drained at poweroff", 10, 0
`),
    );
    expect(console).toBe("drained on yield\ndrained at poweroff\n");
    expect(domain.shutdownReason).toBe(SHUTDOWN_poweroff);
  });

  it("leaves alone a ring whose out_prod is far ahead of out_cons, and drains across the wrap at 2^32", async () => {
    const { console, domain } = await bootPv(
      ringKernel(`
entry:
        mov     [start_info_va], esi
        call    ring_console_init
        mov     edi, [ring_console_va]
        mov     dword [edi + xencons_interface.out_prod], 0x10000    ; 64 KiB "written" into 2 KiB
        call    ring_notify
        call    ring_yield
        mov     eax, [edi + xencons_interface.out_cons]
        call    print_dec                                         ; 0: nothing was taken
        mov     esi, newline
        call    print
        mov     dword [edi + xencons_interface.out_cons], 0xFFFFFFFC
        mov     dword [edi + xencons_interface.out_prod], 0xFFFFFFFC
        mov     esi, wrap
        call    ring_print                                        ; bytes 2044-2047, then 0-3
        mov     eax, [edi + xencons_interface.out_cons]
        call    print_dec                                         ; 4
        mov     esi, newline
        call    print
        mov     ebx, SCHEDOP_shutdown
        mov     ecx, poweroff
        hypercall __HYPERVISOR_sched_op
        ud2
wrap:   db "wrap-ok", 10, 0
newline: db 10, 0
`),
    );
    expect(console).toBe("0\nwrap-ok\n4\n");
    expect(domain.shutdownReason).toBe(SHUTDOWN_poweroff);
  });

  it("drains a full out[] (2048 bytes) but not one index more, from indices set in machine memory", async () => {
    const { xen, domain } = await bootPv(SLEEPER);
    const ring = ringOf(xen, domain);
    const backend = xen.events.consoleRingOf(domain)!;
    let out = 0;
    domain.consoleOut = (bytes) => (out += bytes.length);
    ring.set("out_cons", 5);
    ring.set("out_prod", 5 + XENCONS_OUT_SIZE);
    backend.service();
    expect(out).toBe(XENCONS_OUT_SIZE);
    expect(ring.get("out_cons")).toBe(5 + XENCONS_OUT_SIZE);
    for (const prod of [ring.get("out_cons") + XENCONS_OUT_SIZE + 1, 0xffffffff, ring.get("out_cons") - 1]) {
      ring.set("out_prod", prod);
      backend.service();
      expect(out).toBe(XENCONS_OUT_SIZE);
    }
    runUntil(xen, () => false, 100_000_000);
    expect(domain.state).toBe("running");
  });

  it("moves typed input into in[] only as far as it has room; the rest follows when the guest has read and notifies", async () => {
    const { xen, domain } = await bootPv(SLEEPER);
    const ring = ringOf(xen, domain);
    const typed = Uint8Array.from({ length: 1500 }, (_, i) => 32 + (i % 95));
    domain.receiveConsoleInput(typed);
    expect(ring.get("in_prod")).toBe(XENCONS_IN_SIZE);
    expect(ring.input(0, XENCONS_IN_SIZE)).toEqual([...typed.subarray(0, XENCONS_IN_SIZE)]);
    expect(domain.consoleInputWaiting).toBe(1500 - XENCONS_IN_SIZE);
    // The port was notified.
    const channels = xen.events.channelsOf(domain);
    expect(channels.isPending(1)).toBe(true);
    // The guest reads everything and sends (its EVTCHNOP_send, made here).
    ring.set("in_cons", XENCONS_IN_SIZE);
    expect(channels.send(1)).toBe(0);
    expect(ring.get("in_prod")).toBe(1500);
    expect(ring.input(XENCONS_IN_SIZE, 1500 - XENCONS_IN_SIZE)).toEqual([...typed.subarray(XENCONS_IN_SIZE)]);
    expect(domain.consoleInputWaiting).toBe(0);
  });

  it("writes input across the wrap of in_prod at 2^32, and ignores an in[] whose in_cons ran past in_prod", async () => {
    const { xen, domain } = await bootPv(SLEEPER);
    const ring = ringOf(xen, domain);
    ring.set("in_cons", 0xfffffffe);
    ring.set("in_prod", 0xfffffffe);
    domain.receiveConsoleInput(text("abcd"));
    expect(ring.get("in_prod")).toBe(2);
    expect(ring.input(0xfffffffe, 4)).toEqual([...text("abcd")]);
    ring.set("in_cons", 5000);
    domain.receiveConsoleInput(text("lost in a broken ring"));
    expect(ring.get("in_prod")).toBe(2);
    expect(domain.consoleInputWaiting).toBe(21);
    runUntil(xen, () => false, 100_000_000);
    expect(domain.state).toBe("running");
  });
});
