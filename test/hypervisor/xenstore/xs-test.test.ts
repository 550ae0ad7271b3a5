// test/hypervisor/xenstore/xs-test.test.ts — guest kernels that use xenstore through their rings.
//
// guests/pv/xs-test checks every request from inside a guest; the two small
// kernels here (over guests/include/pv-xenstore.inc) show permissions and
// watches between two domains: domain 2 cannot read domain 1's secret until
// domain 1 grants it, and hears of the grant through a watch.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SHUTDOWN_poweroff } from "../../../hypervisor/abi/sched.js";
import { bootPvDomains, pvKernel } from "../../support/pv.js";

const xsTest = () => new Uint8Array(readFileSync("build/guests/pv/xs-test.bin"));

describe("guests/pv/xs-test", () => {
  it("reads its domid and name, writes, lists, sets permissions, watches, commits and retries a transaction, and gets xenstored's errors", async () => {
    const { domains, consoles, xen } = await bootPvDomains([{ kernel: xsTest(), name: "xs-test" }], { budget: 200_000_000 });
    const out = consoles[0]!;
    expect(out, out).toContain("Test result: SUCCESS");
    expect(out).toContain(`xs-test: domid ${domains[0]!.domid}, name xs-test\n`);
    expect(domains[0]!.shutdownReason).toBe(SHUTDOWN_poweroff);
    expect(xen.xenstored.stats.internalErrors).toBe(0);
  });
});

/**
 * A kernel with the xenstore client, console_io's print, and `ask TYPE,
 * bytes...` (a request without transaction; the reply in xs_reply). It maps
 * shared_info at `shared` and finds its ring before `main`.
 */
const xsKernel = (main: string) =>
  pvKernel(`
%include "pv-xenstore.inc"
%include "pv-console.inc"
%macro ask 2+
        jmp     %%over
%%p:    db      %2
%%e:
%%over: mov     eax, %1
        xor     ebx, ebx
        mov     esi, %%p
        mov     ecx, %%e - %%p
        call    xs_request
%endmacro
entry:  mov     [start_info_va], esi
        mov     ebx, shared
        mov     ecx, [esi + start_info.shared_info]
        or      ecx, 0x63
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        call    xs_init
        jmp     main
; say_reply: prints the reply's type and payload (NUL-terminated by xs_request) on one line.
say_reply:
        pushad
        mov     eax, [xs_reply_type]
        call    print_dec
        mov     esi, colon
        call    print
        mov     esi, xs_reply
        call    print
        mov     esi, newline
        call    print
        popad
        ret
off:    mov     ebx, SCHEDOP_shutdown
        mov     ecx, poweroff
        hypercall __HYPERVISOR_sched_op
${main}
        pv_xenstore_routines start_info_va, shared
        pv_console_routines
colon:  db ": ", 0
newline: db 10, 0
        align 4
start_info_va: dd 0
poweroff:      dd SHUTDOWN_poweroff
        align 4096, db 0
shared: times 4096 db 0
`);

describe("two domains and a private key", () => {
  it("keeps domain 2 out of domain 1's data until domain 1 grants it read access, and domain 2 hears of the grant", async () => {
    // Domain 1 writes its secret, waits until domain 2 says it is ready (a key
    // domain 2 lets it read), then grants domain 2 read access.
    const owner = xsKernel(`
main:   ask     XS_WRITE, "data/secret", 0, "42"
        call    say_reply
        ask     XS_WATCH, "/local/domain/2/data/ready", 0, "ready", 0
.wait:  call    xs_wait_event
        ask     XS_READ, "/local/domain/2/data/ready", 0
        cmp     eax, XS_READ
        jne     .wait
        ask     XS_SET_PERMS, "data/secret", 0, "n1", 0, "r2", 0
        call    say_reply
        jmp     off
`);
    // Domain 2 tries to read the secret, watches it, says it is ready, and
    // reads it once the watch fires after the grant.
    const reader = xsKernel(`
main:   ask     XS_READ, "/local/domain/1/data/secret", 0
        call    say_reply
        ask     XS_WATCH, "/local/domain/1/data/secret", 0, "secret", 0
        call    xs_wait_event
        ask     XS_WRITE, "data/ready", 0, "yes"
        ask     XS_SET_PERMS, "data/ready", 0, "n2", 0, "r1", 0
.wait:  call    xs_wait_event
        ask     XS_READ, "/local/domain/1/data/secret", 0
        cmp     eax, XS_READ
        jne     .wait
        call    say_reply
        jmp     off
`);
    const { consoles, domains } = await bootPvDomains([{ kernel: owner }, { kernel: reader }], { budget: 200_000_000 });
    expect(consoles).toEqual(["11: OK\n14: OK\n", "16: EACCES\n2: 42\n"]);
    expect(domains.map((d) => d.shutdownReason)).toEqual([SHUTDOWN_poweroff, SHUTDOWN_poweroff]);
  });
});
