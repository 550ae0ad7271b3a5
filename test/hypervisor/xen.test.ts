// test/hypervisor/xen.test.ts — PV domains on the hypervisor: entry, hypercalls, traps, crashes.
//
// Each test boots a real kernel in ring 1 of the core's PV mode: the
// guests/pv/hello image, or a few lines assembled here into an ELF with
// Xen's notes (test/support/pv.ts). What is checked is what a guest can
// observe (its console, its registers through what it prints, how its
// domain ended) and that a misbehaving guest ends as Xen would end it —
// never as an exception in the host.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { bootPv, pvKernel } from "../support/pv.js";
import { SHUTDOWN_crash, SHUTDOWN_poweroff, SHUTDOWN_reboot } from "../../hypervisor/abi/sched.js";

/** Writes the NUL-terminated string at the label `%1` with console_io. */
const PRINT = `
%macro print 1
        mov     edi, %1
        xor     ecx, ecx
%%len:  cmp     byte [edi + ecx], 0
        je      %%go
        inc     ecx
        jmp     %%len
%%go:   mov     ebx, CONSOLEIO_write
        mov     edx, %1
        hypercall __HYPERVISOR_console_io
%endmacro
%macro shutdown 1
        mov     dword [reason], %1
        mov     ebx, SCHEDOP_shutdown
        mov     ecx, reason
        hypercall __HYPERVISOR_sched_op
%endmacro
`;

/** Prints EAX as 8 hex digits and a newline (clobbers EAX-EDX, EDI). */
const HEX = `
print_hex:
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
        ret
hexdigits: db "0123456789abcdef"
hexbuf: db "00000000", 10
        align 4
reason: dd 0
`;

describe("a PV domain", () => {
  it("boots guests/pv/hello in ring 1: console_io output, the start_info magic, then a poweroff", async () => {
    const { domain, console, xen } = await bootPv(new Uint8Array(readFileSync("build/guests/pv/hello.bin")));
    expect(console).toBe("Hello from a PV guest in ring 1\nxen-3.0-x86_32p\n");
    expect(domain.state).toBe("shutdown");
    expect(domain.shutdownReason).toBe(SHUTDOWN_poweroff);
    expect(xen.frames.pagesOf(domain.domid)).toBeGreaterThan(0);
    xen.destroyDomain(domain);
    expect(xen.frames.pagesOf(domain.domid)).toBe(0);
  });

  it("gets Xen's answers: the version, -ENOSYS for an unknown hypercall, -EFAULT for a pointer into the hole", async () => {
    const { console, domain } = await bootPv(pvKernel(`${PRINT}
entry:
        mov     ebx, XENVER_version
        hypercall __HYPERVISOR_xen_version
        call    print_hex
        mov     eax, 60
        call    hypercall_page + 60 * 32
        call    print_hex
        mov     ebx, CONSOLEIO_write
        mov     ecx, 4
        mov     edx, 0xF5800000
        hypercall __HYPERVISOR_console_io
        call    print_hex
        shutdown SHUTDOWN_reboot
${HEX}`));
    expect(console).toBe("00040013\nffffffda\nfffffff2\n");
    expect(domain.shutdownReason).toBe(SHUTDOWN_reboot);
  });

  it("bounces a #GP from a privileged instruction to the trap table's handler with Xen's frame", async () => {
    const { console, domain } = await bootPv(pvKernel(`${PRINT}
entry:
        mov     ebx, traps
        hypercall __HYPERVISOR_set_trap_table
        mov     esi, esp
faulting:
        cli
        ud2
gp_handler:
        mov     eax, [esp]              ; error code
        call    print_hex
        mov     eax, [esp + 4]          ; EIP of the faulting instruction
        sub     eax, faulting
        call    print_hex
        mov     eax, [esp + 8]          ; CS, with the event mask in its upper half
        call    print_hex
        mov     eax, esi
        sub     eax, esp                ; bytes pushed: error code, EIP, CS, EFLAGS
        call    print_hex
        shutdown SHUTDOWN_poweroff
        align 4
traps:  db 13, 0
        dw FLAT_RING1_CS
        dd gp_handler
        dd 0, 0
${HEX}`));
    expect(console).toBe("00000000\n00000000\n0001e019\n00000010\n");
    expect(domain.shutdownReason).toBe(SHUTDOWN_poweroff);
  });

  it("crashes a domain that faults with no handler, without harming the host", async () => {
    const { domain } = await bootPv(pvKernel(`
entry:
        mov     eax, [0xF5800000 - 4]   ; past the region the builder mapped: #PF, and no trap table
        hlt
`));
    expect(domain.state).toBe("shutdown");
    expect(domain.shutdownReason).toBe(SHUTDOWN_crash);
    expect(domain.crashMessage).toMatch(/exception 14\(0x0\)/);
  });

  it("reads the read-only M2P window the builder mapped at 0xF5800000", async () => {
    const { console } = await bootPv(pvKernel(`${PRINT}
entry:
        mov     ebx, [esi + start_info.mfn_list]
        mov     ebx, [ebx]              ; the machine frame of pfn 0
        mov     eax, [0xF5800000 + ebx * 4]
        call    print_hex               ; M2P[P2M[0]] = 0
        shutdown SHUTDOWN_poweroff
${HEX}`));
    expect(console).toBe("00000000\n");
  });

  it("runs guests/pv/xenbench to the end: hypercalls, int 0x80 from ring 3 with and without the fast trap, mmu_update", async () => {
    const { console, domain, xen } = await bootPv(new Uint8Array(readFileSync("build/guests/pv/xenbench.bin")), { budget: 100_000_000 });
    expect(console).toBe(["hypercall", "int80-fast", "int80-bounce", "mmu-update"].map((w) => `BEGIN ${w}\nEND ${w} 100000\n`).join(""));
    expect(domain.shutdownReason).toBe(SHUTDOWN_poweroff);
    // The fast trap never leaves the CPU; the bounced vector exits once per call.
    expect(xen.stats.bounces).toBeGreaterThanOrEqual(100000);
    expect(xen.stats.bounces).toBeLessThan(100100);
  }, 60_000);

  it("answers the forced-emulation CPUID with Xen's signature", async () => {
    const { console } = await bootPv(pvKernel(`${PRINT}
entry:
        mov     eax, 0x40000000
        ud2
        db      "xen"
        cpuid
        mov     eax, ebx
        call    print_hex
        shutdown SHUTDOWN_poweroff
${HEX}`));
    expect(console).toBe("566e6558\n");
  });
});
