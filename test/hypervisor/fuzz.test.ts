// test/hypervisor/fuzz.test.ts — a hostile guest against the hypervisor, with a canary beside it.
//
// Issue 4: "A bounded fuzz test (a fixed seed, a fixed number of
// instructions in deterministic mode) fires random hypercalls with random
// arguments and executes random instruction bytes in ring 1 ...; the host
// survives, and a canary domain's memory checksum never changes."
//
// The fuzzer is a PV kernel: an xorshift generator picks, in turn, a
// hypercall with random number and arguments (pointers into its own
// memory, into the hypervisor hole, past RAM, anywhere), and a burst of
// random bytes it writes into a page and runs, in ring 1 or in ring 3
// (entered with the iret hypercall). Every exception comes
// back to a recovery handler through the trap table, which reloads the
// kernel's segments and stack and goes on. When the fuzzer's domain ends
// (it may well shut itself down, or crash), a new one starts with the next
// seed. Beside it a canary domain waits; its memory must stay bit for bit
// what it was, and it must still be alive at the end. Nothing may throw in
// the host.

import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { Hypervisor } from "../../hypervisor/xen.js";
import type { Domain } from "../../hypervisor/domain.js";
import { pvKernel } from "../support/pv.js";

const FUZZER = pvKernel(`
entry:
        mov     [boot_esp], esp
        mov     [boot_start_info], esi
        ; The seed: the first 8 hex digits of the command line.
        lea     esi, [esi + start_info.cmd_line]
        xor     eax, eax
        mov     ecx, 8
.seed:  movzx   edx, byte [esi]
        inc     esi
        sub     edx, '0'
        cmp     edx, 9
        jbe     .digit
        sub     edx, 'a' - '0' - 10
.digit: shl     eax, 4
        or      eax, edx
        loop    .seed
        or      eax, 1
        mov     [state], eax
        ; Every exception comes back to recover.
        mov     edi, traps
        xor     ecx, ecx
.trap:  mov     [edi], cl               ; vector
        mov     byte [edi + 1], 3       ; DPL 3: INT n from anywhere reaches it too
        mov     word [edi + 2], FLAT_RING1_CS
        mov     dword [edi + 4], recover
        add     edi, 8
        inc     ecx
        cmp     ecx, 256
        jb      .trap
        mov     dword [edi + 4], 0
        mov     ebx, traps
        hypercall __HYPERVISOR_set_trap_table
        ; Ring 3 needs user pages: the scratch page and a stack.
        mov     eax, scratch
        call    make_user
        mov     eax, user_stack
        call    make_user
round:
        call    random
        test    al, 1
        jz      random_hypercall
        ; Random bytes: 64 of them into the scratch page, then run them.
        mov     edi, scratch
        mov     ecx, 16
.fill:  call    random
        stosd
        loop    .fill
        ; End the burst with a jump back, in case the bytes fall through.
        mov     byte [edi], 0xE9
        mov     eax, round - (scratch + 64 + 5)
        mov     [edi + 1], eax
        call    random
        mov     ebx, eax
        call    random
        mov     ecx, eax
        call    random
        mov     edx, eax
        call    random
        test    al, 2
        jz      scratch                 ; in ring 1
        ; In ring 3: every fault there comes back on the kernel's stack.
        push    dword FLAT_RING3_DS
        push    dword user_stack + 4096
        push    dword 0x202
        push    dword FLAT_RING3_CS
        push    dword scratch
        jmp     hypercall_page + __HYPERVISOR_iret * 32

; make_user: EAX a page's VA; remaps it with the user bit (update_va_mapping).
make_user:
        mov     ebx, eax
        shr     eax, 12                 ; VIRT_BASE 0: pfn = va >> 12
        mov     ecx, [boot_start_info]
        mov     ecx, [ecx + start_info.mfn_list]
        mov     ecx, [ecx + eax * 4]
        shl     ecx, 12
        or      ecx, 0x67               ; present, writable, user, accessed, dirty
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        ret

random_hypercall:
        call    random
        and     eax, 63
        push    eax
        call    argument
        mov     ebx, eax
        call    argument
        mov     ecx, eax
        call    argument
        mov     edx, eax
        call    argument
        mov     esi, eax
        call    argument
        mov     edi, eax
        pop     eax
        int     0x82
        jmp     round

; A hypercall argument: a small number, a pointer into this kernel, one into the hole or past RAM, or anything.
argument:
        call    random
        mov     edx, eax
        shr     edx, 30
        jz      .small
        dec     edx
        jz      .mine
        dec     edx
        jz      .hole
        ret
.small: and     eax, 0xff
        ret
.mine:  and     eax, 0x3fff
        add     eax, scratch
        ret
.hole:  or      eax, 0xf5800000
        ret

; xorshift32 in EAX; keeps the other registers.
random:
        mov     eax, [state]
        push    edx
        mov     edx, eax
        shl     edx, 13
        xor     eax, edx
        mov     edx, eax
        shr     edx, 17
        xor     eax, edx
        mov     edx, eax
        shl     edx, 5
        xor     eax, edx
        pop     edx
        mov     [state], eax
        ret

recover:
        mov     ax, FLAT_RING1_DS
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        mov     esp, [boot_esp]
        jmp     round

        align 4
state:    dd 0
boot_esp: dd 0
boot_start_info: dd 0
        align 4096
scratch:  times 4096 db 0
user_stack: times 4096 db 0
traps:    times 257 * 8 db 0
`);

/** A canary: it never writes memory, so every byte of its domain must stay as built. */
const CANARY = pvKernel(`
entry:
        jmp     entry
`);

function checksum(xen: Hypervisor, domain: Domain): string {
  const { p2m, nrPages } = domain.built;
  let h = 0x811c9dc5;
  const ram = xen.cpu.ram;
  for (let pfn = 0; pfn < nrPages; pfn++) {
    const base = p2m.get(pfn) * 4096;
    for (let i = 0; i < 4096; i += 4) {
      h = Math.imul(h ^ (ram[base + i]! | (ram[base + i + 1]! << 8) | (ram[base + i + 2]! << 16) | (ram[base + i + 3]! << 24)), 16777619);
    }
  }
  return (h >>> 0).toString(16);
}

describe("a hostile PV guest", () => {
  it("fires random hypercalls and random code for 20 million instructions; the host and a canary domain are unharmed", async () => {
    const wasm = new Uint8Array(readFileSync("build/core.wasm"));
    const xen = await Hypervisor.create({ wasm, memMiB: 64, clock: "deterministic" });
    const canary = xen.createDomain({ name: "canary", kernel: CANARY, memoryMiB: 8 });
    // Its first instructions set the accessed bits of the entries they walk: then nothing more may change.
    for (let i = 0; i < 3; i++) xen.step(100_000);
    const before = checksum(xen, canary);
    let seed = 0x1234567;
    let fuzzer = xen.createDomain({ name: "fuzz", kernel: FUZZER, memoryMiB: 8, cmdline: seed.toString(16).padStart(8, "0") });
    let generations = 1;
    const ends: string[] = [];
    // The canary never exits: every exit is the fuzzer's. A fuzzer that has
    // stopped making them (it blocked for good, or its bytes made a tight
    // loop) is replaced, so the fuzzing goes on.
    let lastExits = 0;
    let quietSteps = 0;
    while (xen.cpu.instructions() < 20_000_000) {
      quietSteps = xen.stats.exits === lastExits ? quietSteps + 1 : 0;
      lastExits = xen.stats.exits;
      if (fuzzer.state === "shutdown" || quietSteps > 4) {
        ends.push(fuzzer.state === "shutdown" ? Hypervisor.describeShutdown(fuzzer) : "stuck");
        xen.destroyDomain(fuzzer);
        expect(xen.frames.pagesOf(fuzzer.domid)).toBe(0);
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        fuzzer = xen.createDomain({ name: "fuzz", kernel: FUZZER, memoryMiB: 8, cmdline: seed.toString(16).padStart(8, "0") });
        generations++;
        quietSteps = 0;
      }
      expect(xen.step(200_000)).toBe(true);
    }
    expect(canary.state).toBe("running");
    expect(checksum(xen, canary)).toBe(before);
    // It did reach the hypervisor in many ways: generations ended by crashes
    // and by getting stuck, hypercalls and bounced exceptions by the dozen.
    expect(generations).toBeGreaterThanOrEqual(20);
    expect(ends.some((e) => e.startsWith("crash"))).toBe(true);
    expect(xen.stats.hypercalls).toBeGreaterThanOrEqual(500);
    expect(xen.stats.bounces).toBeGreaterThanOrEqual(300);
  }, 300_000);
});
