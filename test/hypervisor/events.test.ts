// test/hypervisor/events.test.ts — events, time and upcalls, seen from PV kernels.
//
// Each test boots real kernels in deterministic time (test/support/pv.ts):
// guests/pv/ticker and guests/pv/pingpong, or a few lines assembled here
// around EVENTS, a small kernel library below: `setup` maps shared_info and
// registers the event callback, whose 2-level scan calls the test's
// `on_event` with EAX = each pending port; `print_hex` prints EAX.
// What is checked is what a kernel can observe — when its callback runs,
// with which frame, what time it reads — and how its domain ends.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SHUTDOWN_crash, SHUTDOWN_poweroff, SHUTDOWN_reboot } from "../../hypervisor/abi/sched.js";
import { RUNSTATE_blocked } from "../../hypervisor/abi/vcpu.js";
import { EBUSY, EINVAL } from "../../hypervisor/abi/errno.js";
import { VIRQ_CONSOLE, VIRQ_DOM_EXC } from "../../hypervisor/abi/xen.js";
import { bindInterdomainForToolstack } from "../../hypervisor/evtchn.js";
import { timeScale } from "../../hypervisor/time.js";
import { bootPv, bootPvDomains, pvKernel, runUntil } from "../support/pv.js";

/** The kernel library the inline tests share; a test defines `entry` and `on_event`. */
const EVENTS = `
%include "x86.inc"
VCPU0           equ shared + shared_info.vcpu_info
TIME            equ VCPU0 + vcpu_info.time

; print LABEL: the NUL-terminated string there.
%macro print 1
        push    esi
        mov     esi, %1
        call    print_str
        pop     esi
%endmacro
%macro shutdown 1
        mov     dword [reason], %1
        mov     ebx, SCHEDOP_shutdown
        mov     ecx, reason
        hypercall __HYPERVISOR_sched_op
        ud2
%endmacro
; evtchn_op CMD, STRUCT: EAX = event_channel_op(CMD, &STRUCT).
%macro evtchn_op 2
        mov     ebx, %1
        mov     ecx, %2
        hypercall __HYPERVISOR_event_channel_op
%endmacro
; vcpu_op CMD, VCPU, ARG
%macro vcpu_op 3
        mov     ebx, %1
        mov     ecx, %2
        mov     edx, %3
        hypercall __HYPERVISOR_vcpu_op
%endmacro
; set_timer NS: set_timer_op(NS) for a 32-bit absolute time.
%macro set_timer 1
        mov     ebx, %1
        xor     ecx, ecx
        hypercall __HYPERVISOR_set_timer_op
%endmacro
; events_off / events_on: the virtual interrupt flag (evtchn_upcall_mask).
%macro events_off 0
        push    eax
        mov     eax, [vcpu_info_ptr]
        mov     byte [eax + vcpu_info.evtchn_upcall_mask], 1
        pop     eax
%endmacro
%macro events_on 0
        push    eax
        mov     eax, [vcpu_info_ptr]
        mov     byte [eax + vcpu_info.evtchn_upcall_mask], 0
        pop     eax
%endmacro
%macro block 0
        mov     ebx, SCHEDOP_block
        hypercall __HYPERVISOR_sched_op
%endmacro

; setup: shared_info mapped at \`shared\`, the event callback registered. Keeps ESI = start_info.
setup:
        mov     [start_info_va], esi
        mov     ebx, shared
        mov     ecx, [esi + start_info.shared_info]
        or      ecx, PTE_P | PTE_RW | PTE_A | PTE_D
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        test    eax, eax
        jnz     .fail
        mov     ebx, CALLBACKOP_register
        mov     ecx, callback
        hypercall __HYPERVISOR_callback_op
        test    eax, eax
        jnz     .fail
        mov     esi, [start_info_va]
        ret
.fail:  shutdown SHUTDOWN_crash

; The event callback: the 2-level scan, on_event for each port, back through iret.
upcall:
        pushad
        mov     edi, [vcpu_info_ptr]
        mov     byte [edi + vcpu_info.evtchn_upcall_pending], 0
        xor     eax, eax
        xchg    eax, [edi + vcpu_info.evtchn_pending_sel]
.word:  bsf     ecx, eax
        jz      .return
        btr     eax, ecx
        mov     edx, [shared + shared_info.evtchn_mask + ecx * 4]
        not     edx
        and     edx, [shared + shared_info.evtchn_pending + ecx * 4]
.port:  bsf     ebx, edx
        jz      .word
        btr     edx, ebx
        lock btr [shared + shared_info.evtchn_pending + ecx * 4], ebx
        pushad
        shl     ecx, 5
        lea     eax, [ebx + ecx]
        call    on_event
        popad
        jmp     .port
.return:
        popad
        jmp     hypercall_page + __HYPERVISOR_iret * 32

print_str:
        pushad
        mov     edx, esi
        xor     ecx, ecx
.len:   cmp     byte [esi + ecx], 0
        je      .go
        inc     ecx
        jmp     .len
.go:    mov     ebx, CONSOLEIO_write
        hypercall __HYPERVISOR_console_io
        popad
        ret

; print_hex: EAX as 8 hex digits and a newline; keeps every register.
print_hex:
        pushad
        mov     edi, hexbuf + 7
        mov     ecx, 8
.digit: mov     edx, eax
        and     edx, 15
        mov     dl, [hexdigits + edx]
        mov     [edi], dl
        dec     edi
        shr     eax, 4
        loop    .digit
        mov     ebx, CONSOLEIO_write
        mov     ecx, 9
        mov     edx, hexbuf
        hypercall __HYPERVISOR_console_io
        popad
        ret

        align 4
start_info_va:  dd 0
vcpu_info_ptr:  dd VCPU0
reason:         dd 0
events:         dd 0
hexdigits:      db "0123456789abcdef"
hexbuf:         db "00000000", 10
        align 4
callback:       dw CALLBACKTYPE_event, 0
                dd FLAT_RING1_CS
callback_eip:   dd upcall
        align 4096, db 0
shared:         times 4096 db 0
`;

/** A kernel from the library (first: its macros) and `source` (entry, on_event, data). */
const kernel = (source: string) => pvKernel(`${EVENTS}\n${source}`);

/** The console's lines as numbers (print_hex output). */
const hexLines = (text: string) => text.trim().split("\n").map((l) => parseInt(l, 16));

const bin = (name: string) => new Uint8Array(readFileSync(`build/guests/pv/${name}.bin`));

describe("guests/pv/ticker", () => {
  it("counts five timer events exactly 10 ms apart while blocked in between, then powers off", async () => {
    const { console, domain, xen } = await bootPv(bin("ticker"), { budget: 1e9 });
    expect(console).toBe(
      "ticker: 5 ticks, 10 ms apart\ntick 1 at 10 ms\ntick 2 at 20 ms\ntick 3 at 30 ms\ntick 4 at 40 ms\ntick 5 at 50 ms\nticker: done\n",
    );
    expect(domain.shutdownReason).toBe(SHUTDOWN_poweroff);
    // 50 ms of virtual time went by, almost all of it skipped while the vCPU slept.
    expect(xen.clock.now()).toBeGreaterThanOrEqual(50_000_000);
    expect(xen.cpu.instructions()).toBeLessThan(20_000);
  });
});

describe("guests/pv/pingpong", () => {
  it("bounces an event 100 times between two domains over a channel the toolstack bound", async () => {
    const pingpong = bin("pingpong");
    const { consoles, domains, xen } = await bootPvDomains(
      [
        { kernel: pingpong, cmdline: "pingpong port=3 role=ping count=100" },
        { kernel: pingpong, cmdline: "pingpong port=5 role=pong count=100" },
      ],
      {
        before: (xen, [ping, pong]) => {
          expect(bindInterdomainForToolstack(xen.events.channelsOf(ping!), xen.events.channelsOf(pong!), { a: 3, b: 5 })).toEqual({ a: 3, b: 5 });
        },
      },
    );
    expect(consoles).toEqual(["pingpong: ping: 100 round trips\n", "pingpong: pong: answered 100 pings\n"]);
    expect(domains.map((d) => d.shutdownReason)).toEqual([SHUTDOWN_poweroff, SHUTDOWN_poweroff]);
    expect(xen.events.upcallsOf(domains[0]!.vcpus[0]!)).toBe(100);
  });

  it("refuses a command line without its port, and crashes", async () => {
    const { console, domain } = await bootPv(bin("pingpong"), { cmdline: "pingpong role=ping count=3" });
    expect(console).toMatch(/needs port=N/);
    expect(domain.shutdownReason).toBe(SHUTDOWN_crash);
  });
});

describe("upcalls", () => {
  it("enters the event callback with Xen's frame: no error code, CS with the old mask 0 above it, IF set, events masked", async () => {
    const { console } = await bootPv(kernel(`
entry:
        mov     dword [callback_eip], frame_check
        call    setup
        evtchn_op EVTCHNOP_bind_ipi, ipi
        mov     eax, [ipi + 4]
        mov     [send_arg], eax
        events_on
        evtchn_op EVTCHNOP_send, send_arg   ; the event comes back as this hypercall returns
        print   done
        shutdown SHUTDOWN_poweroff
frame_check:
        mov     eax, [esp]              ; EIP: the ret of the event_channel_op stub
        sub     eax, hypercall_page
        call    print_hex
        mov     eax, [esp + 4]          ; CS, the saved event mask in bits 16-23
        call    print_hex
        mov     eax, [esp + 8]          ; EFLAGS: IF = !saved mask
        and     eax, EFLAGS_IF
        call    print_hex
        movzx   eax, byte [VCPU0 + vcpu_info.evtchn_upcall_mask]
        call    print_hex
        mov     byte [VCPU0 + vcpu_info.evtchn_upcall_pending], 0
        jmp     hypercall_page + __HYPERVISOR_iret * 32
on_event:
        ret
ipi:    dd 0, 0
send_arg: dd 0
done:   db "done", 10, 0
`));
    expect(console).toBe("00000407\n0000e019\n00000200\n00000001\ndone\n");
  });

  it("holds an event while events are masked, and delivers it when a cheap hypercall follows the unmask", async () => {
    const { console } = await bootPv(kernel(`
entry:
        call    setup
        evtchn_op EVTCHNOP_bind_ipi, ipi
        mov     eax, [ipi + 4]
        mov     [send_arg], eax
        evtchn_op EVTCHNOP_send, send_arg   ; masked since boot: it waits
        mov     dword [marker], 1
        events_on
        mov     dword [marker], 2           ; unmasked, but no return to the guest yet
        mov     ebx, XENVER_version
        hypercall __HYPERVISOR_xen_version  ; here it comes
        mov     dword [marker], 3
        mov     eax, [events]
        call    print_hex
        shutdown SHUTDOWN_poweroff
on_event:
        mov     eax, [marker]
        call    print_hex
        inc     dword [events]
        ret
ipi:    dd 0, 0
send_arg: dd 0
marker: dd 0
`));
    expect(console).toBe("00000002\n00000001\n");
  });

  it("keeps a masked port quiet, and EVTCHNOP_unmask raises it when it is pending", async () => {
    const { console } = await bootPv(kernel(`
entry:
        call    setup
        evtchn_op EVTCHNOP_bind_ipi, ipi
        mov     eax, [ipi + 4]
        mov     [port_arg], eax
        lock bts [shared + shared_info.evtchn_mask], eax
        events_on
        evtchn_op EVTCHNOP_send, port_arg
        print   quiet
        evtchn_op EVTCHNOP_unmask, port_arg
        print   after
        shutdown SHUTDOWN_poweroff
on_event:
        call    print_hex
        ret
ipi:    dd 0, 0
port_arg: dd 0
quiet:  db "quiet", 10, 0
after:  db "after unmask", 10, 0
`));
    // Ports 1 and 2 are the console's and the store's rings (hypervisor/console-ring.ts, hypervisor/xenstore/ring.ts): the IPI gets port 3.
    expect(console).toBe("quiet\n00000003\nafter unmask\n");
  });

  it("registers the callbacks a 32-bit kernel may (XTF's event, syscall32, sysenter; failsafe, NMI) and refuses others", async () => {
    const { console } = await bootPv(kernel(`
%macro register 1
        mov     word [cb], %1
        mov     ebx, CALLBACKOP_register
        mov     ecx, cb
        hypercall __HYPERVISOR_callback_op
        call    print_hex
%endmacro
entry:
        register 0                      ; event
        register 1                      ; failsafe
        register 7                      ; syscall32
        register 5                      ; sysenter
        register 4                      ; nmi
        register 2                      ; syscall: 64-bit only, -ENOSYS
        mov     ebx, 1                  ; CALLBACKOP_unregister
        mov     ecx, cb_type
        hypercall __HYPERVISOR_callback_op
        call    print_hex               ; the event callback cannot go: -EINVAL
        mov     dword [cb_type], 4
        mov     ebx, 1
        mov     ecx, cb_type
        hypercall __HYPERVISOR_callback_op
        call    print_hex               ; the NMI one can
        mov     ebx, 2
        mov     ecx, cb
        hypercall __HYPERVISOR_callback_op
        call    print_hex               ; no such command: -EINVAL
        mov     ebx, CALLBACKOP_register
        mov     ecx, 0xF5800000
        hypercall __HYPERVISOR_callback_op
        call    print_hex               ; -EFAULT
        shutdown SHUTDOWN_poweroff
on_event:
        ret
cb:     dw 0, 0
        dd FLAT_RING1_CS, upcall
cb_type: dd 0
`));
    expect(hexLines(console)).toEqual([0, 0, 0, 0, 0, 0xffffffda, 0xffffffea, 0, 0xffffffea, 0xfffffff2]);
  });

  it("crashes a domain whose pending event cannot be delivered (no callback), and other domains run on", async () => {
    const { domains, consoles } = await bootPvDomains([
      {
        kernel: pvKernel(`
entry:
        mov     ebx, EVTCHNOP_bind_ipi
        mov     ecx, ipi
        hypercall __HYPERVISOR_event_channel_op
        mov     ebx, EVTCHNOP_send
        mov     ecx, ipi + 4
        hypercall __HYPERVISOR_event_channel_op
        mov     ebx, SCHEDOP_block      ; unmasks: the event has nowhere to go
        hypercall __HYPERVISOR_sched_op
        hlt
ipi:    dd 0, 0
`),
      },
      { kernel: bin("hello") },
    ]);
    expect(domains[0]!.shutdownReason).toBe(SHUTDOWN_crash);
    expect(domains[0]!.crashMessage).toMatch(/event upcall to 0x0:0x0 could not be delivered/);
    expect(domains[1]!.shutdownReason).toBe(SHUTDOWN_poweroff);
    expect(consoles[1]).toMatch(/^Hello from a PV guest/);
  });
});

describe("blocking and polling", () => {
  it("wakes a vCPU blocked in SCHEDOP_block at its single-shot timer's deadline, skipping the idle time", async () => {
    const { console, xen } = await bootPv(kernel(`
entry:
        call    setup
        evtchn_op EVTCHNOP_bind_virq, timer
        vcpu_op VCPUOP_stop_periodic_timer, 0, 0
        set_timer 2000000               ; 2 ms
        events_off
        block
        mov     eax, [woke]
        call    print_hex
        shutdown SHUTDOWN_poweroff
on_event:
        rdtsc
        mov     [woke], eax
        ret
timer:  dd VIRQ_TIMER, 0, 0
woke:   dd 0
`));
    const [woke] = hexLines(console);
    expect(woke).toBeGreaterThanOrEqual(2_000_000);
    expect(woke).toBeLessThan(2_000_100);
    expect(xen.cpu.instructions()).toBeLessThan(10_000);
  });

  it("returns from SCHEDOP_block at once when an event is already pending, and delivers it", async () => {
    const { console } = await bootPv(kernel(`
entry:
        call    setup
        evtchn_op EVTCHNOP_bind_ipi, ipi
        evtchn_op EVTCHNOP_send, ipi + 4
        block
        mov     eax, [events]
        call    print_hex
        rdtsc
        cmp     eax, 100000
        jb      .quick
        shutdown SHUTDOWN_crash
.quick: shutdown SHUTDOWN_poweroff
on_event:
        inc     dword [events]
        ret
ipi:    dd 0, 0
`));
    expect(console).toBe("00000001\n");
  });

  it("gives a blocked vCPU no periodic ticks: with nothing else armed the hypervisor idles instead of spinning", async () => {
    const { console, domain, xen } = await bootPv(kernel(`
entry:
        call    setup
        evtchn_op EVTCHNOP_bind_virq, timer
        block
        print   woke
        shutdown SHUTDOWN_poweroff
on_event:
        ret
timer:  dd VIRQ_TIMER, 0, 0
woke:   db "woke", 10, 0
`), { budget: 1e9 });
    expect(console).toBe("");
    expect(domain.state).toBe("running");
    expect(xen.step()).toBe(false);
    expect(xen.clock.nextDeadline()).toBe(Infinity);
    expect(xen.events.runstateInfo(domain.vcpus[0]!).state).toBe(RUNSTATE_blocked);
  });

  it("polls with events masked: at once for a pending port, until the timeout otherwise, with Xen's errors for bad requests", async () => {
    const { console } = await bootPv(kernel(`
entry:
        call    setup
        evtchn_op EVTCHNOP_bind_ipi, ipi
        mov     eax, [ipi + 4]
        mov     [ports], eax
        evtchn_op EVTCHNOP_send, ports
        mov     ebx, SCHEDOP_poll
        mov     ecx, poll
        hypercall __HYPERVISOR_sched_op ; pending already: returns 0 at once
        call    print_hex
        mov     eax, [ports]
        lock btr [shared + shared_info.evtchn_pending], eax
        mov     dword [poll + 8], 3000000
        mov     ebx, SCHEDOP_poll
        mov     ecx, poll
        hypercall __HYPERVISOR_sched_op ; nothing pending: sleeps until 3 ms
        rdtsc
        call    print_hex
        mov     eax, [events]           ; masked all along: no upcall
        call    print_hex
        mov     dword [poll + 4], 129
        mov     ebx, SCHEDOP_poll
        mov     ecx, poll
        hypercall __HYPERVISOR_sched_op
        call    print_hex               ; -EINVAL: more than 128 ports
        mov     dword [poll + 4], 1
        mov     dword [ports], 1024
        mov     ebx, SCHEDOP_poll
        mov     ecx, poll
        hypercall __HYPERVISOR_sched_op
        call    print_hex               ; -EINVAL: no such port
        mov     dword [poll], 0xF57FFFFC
        mov     dword [poll + 4], 2
        mov     ebx, SCHEDOP_poll
        mov     ecx, poll
        hypercall __HYPERVISOR_sched_op
        call    print_hex               ; -EFAULT: the array runs into the hole
        shutdown SHUTDOWN_poweroff
on_event:
        inc     dword [events]
        ret
ipi:    dd 0, 0
ports:  dd 0
poll:   dd ports, 1, 0, 0               ; sched_poll: ports, nr_ports, timeout (u64)
`));
    const [first, woke, events, tooMany, badPort, fault] = hexLines(console);
    expect(first).toBe(0);
    expect(woke).toBeGreaterThanOrEqual(3_000_000);
    expect(woke).toBeLessThan(3_000_100);
    expect([events, tooMany, badPort, fault]).toEqual([0, 0xffffffea, 0xffffffea, 0xfffffff2]);
  });
});

describe("timers", () => {
  it("ticks a running vCPU that bound VIRQ_TIMER every 10 ms without being asked (the PV default)", async () => {
    const { console } = await bootPv(kernel(`
entry:
        call    setup
        evtchn_op EVTCHNOP_bind_virq, timer
        events_on
.spin:  cmp     dword [events], 3
        jb      .spin
        mov     eax, [times]
        call    print_hex
        mov     eax, [times + 4]
        call    print_hex
        mov     eax, [times + 8]
        call    print_hex
        shutdown SHUTDOWN_poweroff
on_event:
        rdtsc
        mov     ecx, [events]
        mov     [times + ecx * 4], eax
        inc     dword [events]
        ret
timer:  dd VIRQ_TIMER, 0, 0
times:  dd 0, 0, 0
`), { budget: 100_000_000 });
    const times = hexLines(console);
    expect(times).toHaveLength(3);
    times.forEach((t, i) => {
      expect(t).toBeGreaterThanOrEqual((i + 1) * 10_000_000);
      expect(t).toBeLessThan((i + 1) * 10_000_000 + 100);
    });
  });

  it("cancels with set_timer_op(0), and answers a timeout wrapped negative with an event 100 ms later", async () => {
    const { console } = await bootPv(kernel(`
entry:
        call    setup
        evtchn_op EVTCHNOP_bind_virq, timer
        vcpu_op VCPUOP_stop_periodic_timer, 0, 0
        set_timer 1000000
        set_timer 0                     ; cancelled: no event at 1 ms
        mov     ebx, 1
        mov     ecx, 0x80000000         ; a negative s64: Linux's jiffies wrapped
        hypercall __HYPERVISOR_set_timer_op
        rdtsc
        mov     [armed], eax
        events_off
        block
        mov     eax, [woke]
        sub     eax, [armed]
        call    print_hex
        mov     eax, [events]
        call    print_hex
        shutdown SHUTDOWN_poweroff
on_event:
        rdtsc
        mov     [woke], eax
        inc     dword [events]
        ret
timer:  dd VIRQ_TIMER, 0, 0
armed:  dd 0
woke:   dd 0
`), { budget: 1e9 });
    const [after, events] = hexLines(console);
    expect(after).toBeGreaterThanOrEqual(100_000_000);
    expect(after).toBeLessThan(100_000_200);
    expect(events).toBe(1);
  });
});

describe("time", () => {
  it("scales TSC ticks to ns as Xen's set_time_scale does: 1 GHz is shift 1, mul 2^31", () => {
    expect(timeScale(1e9)).toEqual({ mul: 0x80000000, shift: 1 });
    expect(timeScale(5e8)).toEqual({ mul: 0x80000000, shift: 2 });
    expect(timeScale(3e9)).toEqual({ mul: 2863311530, shift: -1 });
    const { mul, shift } = timeScale(2_394_000_000);
    const ns = (ticks: bigint) => ((shift >= 0 ? ticks << BigInt(shift) : ticks >> BigInt(-shift)) * BigInt(mul)) >> 32n;
    expect(Number(ns(2_394_000_000n))).toBeGreaterThan(999_999_990);
    expect(Number(ns(2_394_000_000n))).toBeLessThanOrEqual(1_000_000_000);
  });

  it("keeps vcpu_time_info at a 1 GHz scale with an even version, and the wallclock at 2000-01-01 in deterministic mode", async () => {
    const { console } = await bootPv(kernel(`
entry:
        call    setup
        mov     eax, [TIME + vcpu_time_info.version]
        and     eax, 1
        call    print_hex
        mov     eax, [TIME + vcpu_time_info.tsc_to_system_mul]
        call    print_hex
        movsx   eax, byte [TIME + vcpu_time_info.tsc_shift]
        call    print_hex
        movzx   eax, byte [TIME + vcpu_time_info.flags]
        call    print_hex
        mov     eax, [TIME + vcpu_time_info.system_time]
        sub     eax, [TIME + vcpu_time_info.tsc_timestamp]
        call    print_hex               ; the TSC is the clock: no offset
        mov     eax, [shared + shared_info.wc_sec]
        call    print_hex
        mov     eax, [shared + shared_info.wc_nsec]
        call    print_hex
        mov     eax, [shared + shared_info.wc_version]
        and     eax, 1
        call    print_hex
        shutdown SHUTDOWN_poweroff
on_event:
        ret
`));
    expect(hexLines(console)).toEqual([0, 0x80000000, 1, 1, 0, 946684800, 0, 0]);
  });

  it("accounts runstate: a vCPU that slept in SCHEDOP_poll until 1 ms reports about 1 ms blocked", async () => {
    const { console } = await bootPv(kernel(`
entry:
        call    setup
        mov     ebx, SCHEDOP_poll
        mov     ecx, poll
        hypercall __HYPERVISOR_sched_op
        vcpu_op VCPUOP_get_runstate_info, 0, runstate
        call    print_hex
        mov     eax, [runstate]         ; state
        call    print_hex
        mov     eax, [runstate + 12 + 2 * 8]    ; time[RUNSTATE_blocked], low half
        call    print_hex
        mov     eax, [runstate + 12]    ; time[RUNSTATE_running]
        call    print_hex
        shutdown SHUTDOWN_poweroff
on_event:
        ret
poll:   dd 0, 0, 1000000, 0             ; no ports: only the timeout wakes it
runstate: times 44 db 0
`));
    const [rc, state, blocked, running] = hexLines(console);
    expect([rc, state]).toEqual([0, 0]);
    expect(blocked).toBeGreaterThan(990_000);
    expect(blocked).toBeLessThanOrEqual(1_000_000);
    expect(running).toBeGreaterThan(0);
    expect(running).toBeLessThan(10_000);
  });
});

describe("vcpu_op", () => {
  it("answers for vCPU 0 and -ENOENT for vCPUs the domain does not have; bad periods are -EINVAL", async () => {
    const { console, domain } = await bootPv(kernel(`
entry:
        call    setup
        vcpu_op VCPUOP_is_up, 0, 0
        call    print_hex
        vcpu_op VCPUOP_is_up, 1, 0
        call    print_hex
        vcpu_op VCPUOP_is_up, 0xffffffff, 0
        call    print_hex
        vcpu_op VCPUOP_set_periodic_timer, 0, short_period
        call    print_hex
        vcpu_op VCPUOP_set_periodic_timer, 0, huge_period
        call    print_hex
        vcpu_op VCPUOP_set_singleshot_timer, 0, 0xF5800000
        call    print_hex
        vcpu_op 99, 0, 0
        call    print_hex
        vcpu_op VCPUOP_up, 0, 0
        call    print_hex
        vcpu_op VCPUOP_down, 0, 0       ; the last vCPU up: the domain powers off
        print   still
        shutdown SHUTDOWN_crash
on_event:
        ret
short_period: dq 999999
huge_period:  dq 0x4000000000000000
still:  db "still here", 10, 0
`));
    expect(hexLines(console)).toEqual([1, 0xfffffffe, 0xfffffffe, 0xffffffea, 0xffffffea, 0xfffffff2, 0xffffffda, 0]);
    expect(domain.shutdownReason).toBe(SHUTDOWN_poweroff);
  });

  it("moves vcpu_info with register_vcpu_info: checked, marked all pending once, and events follow it", async () => {
    const { console, xen, domain } = await bootPv(kernel(`
entry:
        call    setup
        ; The machine frame of the page \`mine\`: the P2M at start_info.mfn_list, pfn = va >> 12.
        mov     ebx, [esi + start_info.mfn_list]
        mov     eax, mine
        shr     eax, 12
        mov     eax, [ebx + eax * 4]
        mov     [reg], eax
        mov     dword [reg + 8], 4096 - 32      ; would cross the page
        vcpu_op VCPUOP_register_vcpu_info, 0, reg
        call    print_hex
        mov     dword [reg + 8], 4096           ; not in the page
        vcpu_op VCPUOP_register_vcpu_info, 0, reg
        call    print_hex
        mov     dword [reg + 8], 64
        vcpu_op VCPUOP_register_vcpu_info, 0, reg
        call    print_hex
        vcpu_op VCPUOP_register_vcpu_info, 0, reg
        call    print_hex                       ; -EBUSY: once only
        mov     dword [vcpu_info_ptr], mine + 64
        mov     eax, [mine + 64 + vcpu_info.evtchn_pending_sel]
        call    print_hex
        movzx   eax, word [mine + 64]           ; upcall_pending 1, mask 1 (copied)
        call    print_hex
        evtchn_op EVTCHNOP_bind_ipi, ipi
        evtchn_op EVTCHNOP_send, ipi + 4
        events_on
        mov     ebx, XENVER_version
        hypercall __HYPERVISOR_xen_version
        mov     eax, [events]
        call    print_hex
        shutdown SHUTDOWN_poweroff
on_event:
        inc     dword [events]
        ret
reg:    dd 0, 0, 0, 0                   ; mfn (u64), offset, rsvd
ipi:    dd 0, 0
        align 4096, db 0
mine:   times 4096 db 0
`));
    expect(hexLines(console)).toEqual([0xfffffffa, 0xffffffea, 0, 0xfffffff0, 0xffffffff, 0x0101, 1]);
    // The frame it moved to is let go with the domain: every page comes back.
    xen.destroyDomain(domain);
    expect(xen.frames.pagesOf(domain.domid)).toBe(0);
  });
});

describe("event_channel_op from a guest", () => {
  it("gets Xen's errors for bad commands, pointers, ports, VIRQs and vCPUs, and -ENOSPC after port 1023", async () => {
    const { console } = await bootPv(kernel(`
entry:
        call    setup
        evtchn_op 99, arg
        call    print_hex               ; -ENOSYS
        evtchn_op EVTCHNOP_send, 0xF5800000
        call    print_hex               ; -EFAULT
        mov     dword [arg], 0xffffffff
        evtchn_op EVTCHNOP_send, arg
        call    print_hex               ; -EINVAL
        mov     dword [arg], 1024
        evtchn_op EVTCHNOP_unmask, arg
        call    print_hex               ; -EINVAL
        evtchn_op EVTCHNOP_bind_virq, bad_virq
        call    print_hex               ; -EINVAL
        evtchn_op EVTCHNOP_bind_virq, bad_vcpu
        call    print_hex               ; -ENOENT
        evtchn_op EVTCHNOP_bind_virq, dom_exc
        call    print_hex               ; -EBUSY: not the handler of this global VIRQ
        evtchn_op 11, arg
        call    print_hex               ; -EOPNOTSUPP: no FIFO ABI
        mov     esi, [start_info_va]
        mov     edx, [esi + start_info.pt_base]
        add     edx, 64                 ; past the L3's four entries: zeroes, so vCPU 0
        evtchn_op EVTCHNOP_bind_ipi, edx
        call    print_hex               ; -EFAULT: page tables are read-only; the port (3: 1 is the console's, 2 the store's) is taken anyway
        xor     edi, edi
.more:  evtchn_op EVTCHNOP_bind_ipi, ipi
        test    eax, eax
        jnz     .full
        inc     edi
        jmp     .more
.full:  call    print_hex               ; -ENOSPC
        mov     eax, edi
        call    print_hex               ; ports 4 to 1023
        shutdown SHUTDOWN_poweroff
on_event:
        ret
arg:    dd 0, 0, 0, 0, 0, 0
bad_virq: dd 24, 0, 0
bad_vcpu: dd VIRQ_TIMER, 1, 0
dom_exc:  dd VIRQ_DOM_EXC, 0, 0
ipi:    dd 0, 0
`));
    expect(hexLines(console)).toEqual([
      0xffffffda, 0xfffffff2, 0xffffffea, 0xffffffea, 0xffffffea, 0xfffffffe, 0xfffffff0, 0xffffffa1, 0xfffffff2, 0xffffffe4, 1020,
    ]);
  });

  it("connects two guests with alloc_unbound and bind_interdomain; the binder's end starts pending", async () => {
    const { consoles, domains } = await bootPvDomains([
      {
        kernel: kernel(`
entry:
        call    setup
        evtchn_op EVTCHNOP_alloc_unbound, unbound
        mov     eax, [unbound + 4]
        call    print_hex               ; port 3 (1 is the console's, 2 the store's), for domain 2
.wait:  events_off
        cmp     dword [events], 0
        jne     .done
        block
        jmp     .wait
.done:  shutdown SHUTDOWN_poweroff
on_event:
        call    print_hex
        inc     dword [events]
        ret
unbound: dw DOMID_SELF_, 2
        dd 0
DOMID_SELF_ equ 0x7ff0
`),
      },
      {
        kernel: kernel(`
entry:
        call    setup
        evtchn_op EVTCHNOP_bind_interdomain, bind
        mov     eax, [bind + 8]
        call    print_hex
        events_on
        evtchn_op EVTCHNOP_send, bind + 8
        shutdown SHUTDOWN_poweroff
on_event:
        call    print_hex
        ret
bind:   dd 1, 3, 0                      ; remote_dom 1 (u16, padded), remote_port 3, OUT local_port
`),
      },
    ]);
    expect(consoles).toEqual(["00000003\n00000003\n", "00000003\n00000003\n"]);
    expect(domains.map((d) => d.shutdownReason)).toEqual([SHUTDOWN_poweroff, SHUTDOWN_poweroff]);
  });
});

describe("VIRQs the hypervisor raises", () => {
  it("raises VIRQ_CONSOLE when input arrives for console_io, and the kernel reads it", async () => {
    const { xen, domains, consoles } = await bootPvDomains([
      {
        kernel: kernel(`
entry:
        call    setup
        evtchn_op EVTCHNOP_bind_virq, console
        print   waiting
.wait:  events_off
        cmp     dword [events], 0
        jne     .read
        block
        jmp     .wait
.read:  mov     ebx, CONSOLEIO_read
        mov     ecx, 16
        mov     edx, buffer
        hypercall __HYPERVISOR_console_io
        mov     ecx, eax
        mov     ebx, CONSOLEIO_write
        mov     edx, buffer
        hypercall __HYPERVISOR_console_io
        shutdown SHUTDOWN_poweroff
on_event:
        inc     dword [events]
        ret
console: dd VIRQ_CONSOLE, 0, 0
waiting: db "waiting", 10, 0
buffer: times 16 db 0
`),
      },
    ]);
    const domain = domains[0]!;
    expect(domain.state).toBe("running");
    expect(consoles[0]).toBe("waiting\n");
    domain.receiveConsoleInput(new TextEncoder().encode("hi there\n"));
    runUntil(xen, () => domain.state === "shutdown", 1e9);
    expect(consoles[0]).toBe("waiting\nhi there\n");
    expect(domain.shutdownReason).toBe(SHUTDOWN_poweroff);
  });

  it("tells the domain the toolstack made VIRQ_DOM_EXC's handler that another domain shut down", async () => {
    const { consoles, domains } = await bootPvDomains(
      [
        {
          kernel: kernel(`
entry:
        call    setup
        evtchn_op EVTCHNOP_bind_virq, dom_exc
        call    print_hex
.wait:  events_off
        cmp     dword [events], 0
        jne     .done
        block
        jmp     .wait
.done:  print   heard
        shutdown SHUTDOWN_poweroff
on_event:
        inc     dword [events]
        ret
dom_exc: dd VIRQ_DOM_EXC, 0, 0
heard:  db "a domain went down", 10, 0
`),
        },
        {
          kernel: kernel(`
entry:
        call    setup
        evtchn_op EVTCHNOP_bind_virq, dom_exc
        call    print_hex
        shutdown SHUTDOWN_reboot
on_event:
        ret
dom_exc: dd VIRQ_DOM_EXC, 0, 0
`),
        },
      ],
      {
        before: (xen, [handler]) => {
          expect(xen.events.setGlobalVirqHandler(VIRQ_DOM_EXC, handler!)).toBe(0);
        },
      },
    );
    expect(consoles).toEqual(["00000000\na domain went down\n", "fffffff0\n"]);
    expect(domains.map((d) => d.shutdownReason)).toEqual([SHUTDOWN_poweroff, SHUTDOWN_reboot]);
  });

  it("lets the toolstack name a global VIRQ's handler only for global VIRQs, and not away from a domain that bound it", async () => {
    const { xen, domains } = await bootPvDomains(
      [
        {
          kernel: kernel(`
entry:
        call    setup
        evtchn_op EVTCHNOP_bind_virq, dom_exc
        shutdown SHUTDOWN_poweroff
on_event:
        ret
dom_exc: dd VIRQ_DOM_EXC, 0, 0
`),
        },
        { kernel: bin("hello") },
      ],
      { before: (xen, [handler]) => xen.events.setGlobalVirqHandler(VIRQ_DOM_EXC, handler!) },
    );
    const [handler, other] = [domains[0]!, domains[1]!];
    expect(xen.events.setGlobalVirqHandler(VIRQ_CONSOLE, other)).toBe(-EINVAL);
    expect(xen.events.setGlobalVirqHandler(24, other)).toBe(-EINVAL);
    expect(xen.events.setGlobalVirqHandler(VIRQ_DOM_EXC, other)).toBe(-EBUSY);
    xen.destroyDomain(handler);
    expect(xen.events.globalVirqHandler(VIRQ_DOM_EXC)).toBe(null);
    expect(xen.events.setGlobalVirqHandler(VIRQ_DOM_EXC, other)).toBe(0);
  });
});
