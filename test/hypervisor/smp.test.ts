// test/hypervisor/smp.test.ts — a PV domain with several vCPUs: VCPUOP_initialise, up, down, on one physical CPU.
//
// A domain made with vcpus = N has vCPU 0 running and the others down and
// without registers. Its kernel brings one up the way Linux's
// cpu_initialize_context does: a vcpu_guest_context with flat ring-1
// segments, a stack, the CR3 of its own L3 (xen_pfn_to_cr3), then
// VCPUOP_initialise and VCPUOP_up. What a kernel can see is checked: the
// answers of each call (Xen's errors for every misuse), the registers the
// new vCPU starts with, and that both vCPUs make progress on the one CPU.

import { describe, expect, it } from "vitest";
import { EEXIST, EINVAL, ENOENT } from "../../hypervisor/abi/errno.js";
import { SHUTDOWN_poweroff } from "../../hypervisor/abi/sched.js";
import { bootPv, pvKernel } from "../support/pv.js";

/** Helpers for the kernels below: print_hex (EAX and a newline), vcpu_op, yield, shutdown. */
const LIB = `
%include "x86.inc"
%macro vcpu_op 3
        mov     ebx, %1
        mov     ecx, %2
        mov     edx, %3
        hypercall __HYPERVISOR_vcpu_op
%endmacro
%macro yield 0
        mov     ebx, SCHEDOP_yield
        hypercall __HYPERVISOR_sched_op
%endmacro
%macro poweroff 0
        mov     dword [reason], SHUTDOWN_poweroff
        mov     ebx, SCHEDOP_shutdown
        mov     ecx, reason
        hypercall __HYPERVISOR_sched_op
        ud2
%endmacro

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

; fill_context EDI: a vcpu_guest_context at EDI for flat ring 1, entering
; \`secondary\` on stack1 with EBX = 0x1234, CR3 = this kernel's own L3.
fill_context:
        pushad
        mov     dword [edi + vcpu_guest_context.eip], secondary
        mov     dword [edi + vcpu_guest_context.cs], FLAT_RING1_CS
        mov     dword [edi + vcpu_guest_context.ss], FLAT_RING1_DS
        mov     dword [edi + vcpu_guest_context.ds], FLAT_RING1_DS
        mov     dword [edi + vcpu_guest_context.es], FLAT_RING1_DS
        mov     dword [edi + vcpu_guest_context.esp], stack1_top
        mov     dword [edi + vcpu_guest_context.eflags], 0x3202     ; IOPL 3 asks for a virtual IOPL
        mov     dword [edi + vcpu_guest_context.ebx], 0x1234
        mov     dword [edi + vcpu_guest_context.kernel_ss], FLAT_RING1_DS
        mov     dword [edi + vcpu_guest_context.kernel_sp], stack1_top
        mov     eax, [start_info_va]
        mov     eax, [eax + start_info.pt_base]
        call    mfn_of
        shl     eax, 12                                 ; xen_pfn_to_cr3 for a frame below 4 GiB
        mov     [edi + vcpu_guest_context.ctrlreg + 12], eax
        popad
        ret

        pv_pagetable_routines start_info_va
`;

const DATA = `
        align 4
start_info_va:  dd 0
reason:         dd 0
flag:           dd 0
got_ebx:        dd 0
got_cs:         dd 0
spins0:         dd 0
spins1:         dd 0
hexdigits:      db "0123456789abcdef"
hexbuf:         db "00000000", 10
        align 4096, db 0
ctx:            times vcpu_guest_context_size db 0
        align 4096, db 0
bad_ctx:        times vcpu_guest_context_size db 0
        align 4096, db 0
stack1:         times 4096 db 0
stack1_top:
`;

const kernel = (source: string) => pvKernel(`${LIB}\n${source}\n${DATA}`);

const hexLines = (text: string) => text.trim().split("\n").map((l) => parseInt(l, 16) | 0);

describe("VCPUOP_initialise and VCPUOP_up", () => {
  it("bring up vCPU 1 at the context's EIP, ESP and EBX, with Xen's error for every misuse", async () => {
    const { console, domain } = await bootPv(
      kernel(`
entry:
        mov     [start_info_va], esi
        vcpu_op VCPUOP_is_up, 1, 0              ; down until brought up
        call    print_hex
        vcpu_op VCPUOP_up, 1, 0                 ; no registers yet: -EINVAL
        call    print_hex
        mov     edi, ctx
        call    fill_context
        mov     edi, bad_ctx
        call    fill_context
        mov     dword [bad_ctx + vcpu_guest_context.ctrlreg + 12], 0   ; frame 0 is no L3 of ours
        vcpu_op VCPUOP_initialise, 2, bad_ctx   ; -EINVAL, and vCPU 2 stays without registers
        call    print_hex
        vcpu_op VCPUOP_up, 2, 0
        call    print_hex
        vcpu_op VCPUOP_initialise, 1, ctx       ; 0
        call    print_hex
        vcpu_op VCPUOP_initialise, 1, ctx       ; once only: -EEXIST
        call    print_hex
        vcpu_op VCPUOP_initialise, 0, ctx       ; vCPU 0 came from the builder: -EEXIST
        call    print_hex
        vcpu_op VCPUOP_initialise, 3, ctx       ; the domain has 3 vCPUs: -ENOENT
        call    print_hex
        vcpu_op VCPUOP_up, 1, 0                 ; 0
        call    print_hex
.wait:  cmp     dword [flag], 0                 ; vCPU 1 runs when this one yields
        jne     .done
        yield
        jmp     .wait
.done:  mov     eax, [got_ebx]
        call    print_hex
        mov     eax, [got_cs]
        call    print_hex
        vcpu_op VCPUOP_is_up, 1, 0              ; vCPU 1 took itself down
        call    print_hex
        poweroff

secondary:
        mov     [got_ebx], ebx
        mov     [got_cs], cs
        mov     dword [flag], 1
        vcpu_op VCPUOP_down, 1, 0               ; sleeps here for good
        ud2
`),
      { vcpus: 3, budget: 100_000_000 },
    );
    expect(hexLines(console)).toEqual([0, -EINVAL, -EINVAL, -EINVAL, 0, -EEXIST, -EEXIST, -ENOENT, 0, 0x1234, 0xe019, 0]);
    expect(domain.shutdownReason).toBe(SHUTDOWN_poweroff);
    expect(domain.vcpus[1]!.iopl).toBe(3);
    expect(domain.vcpus[2]!.initialised).toBe(false);
  });

  it("delivers an IPI from vCPU 0 to vCPU 1's own event callback, waking it from SCHEDOP_block", async () => {
    const { console, domain } = await bootPv(
      kernel(`
%macro evtchn_op 2
        mov     ebx, %1
        mov     ecx, %2
        hypercall __HYPERVISOR_event_channel_op
%endmacro
VCPU1_INFO      equ shared + vcpu_info_size

entry:
        mov     [start_info_va], esi
        mov     ebx, shared                     ; shared_info at \`shared\`, as every PV kernel maps it
        mov     ecx, [esi + start_info.shared_info]
        or      ecx, PTE_P | PTE_RW | PTE_A | PTE_D
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        mov     edi, ctx
        call    fill_context
        mov     dword [ctx + vcpu_guest_context.event_callback_cs], FLAT_RING1_CS
        mov     dword [ctx + vcpu_guest_context.event_callback_eip], upcall1
        or      dword [ctx + vcpu_guest_context.flags], VGCF_online
        vcpu_op VCPUOP_initialise, 1, ctx
        call    print_hex
.ready: cmp     dword [flag], 1                 ; vCPU 1 has bound its IPI port and sleeps
        je      .send
        yield
        jmp     .ready
.send:  mov     eax, [ipi_port]
        mov     [send_port], eax
        evtchn_op EVTCHNOP_send, send_port
        call    print_hex
.woken: cmp     dword [flag], 2                 ; set by vCPU 1's callback
        je      .done
        yield
        jmp     .woken
.done:  mov     eax, [flag]
        call    print_hex
        poweroff

secondary:
        mov     dword [bind_ipi], 1             ; evtchn_bind_ipi.vcpu: this vCPU
        evtchn_op EVTCHNOP_bind_ipi, bind_ipi
        mov     eax, [bind_ipi + 4]
        mov     [ipi_port], eax
        mov     dword [flag], 1
.sleep: mov     ebx, SCHEDOP_block              ; unmasks this vCPU's events and sleeps
        hypercall __HYPERVISOR_sched_op
        cmp     dword [flag], 2
        jne     .sleep
        vcpu_op VCPUOP_down, 1, 0
        ud2

; vCPU 1's event callback: it runs on vCPU 1 only, with vcpu_info 1's bits.
upcall1:
        mov     byte [VCPU1_INFO + vcpu_info.evtchn_upcall_pending], 0
        mov     dword [VCPU1_INFO + vcpu_info.evtchn_pending_sel], 0
        push    eax
        mov     eax, [ipi_port]
        lock btr [shared + shared_info.evtchn_pending], eax
        pop     eax
        mov     dword [flag], 2
        jmp     hypercall_page + __HYPERVISOR_iret * 32

        align 4
bind_ipi:       dd 0, 0
ipi_port:       dd 0
send_port:      dd 0
        align 4096, db 0
shared:         times 4096 db 0
`),
      { vcpus: 2, budget: 100_000_000 },
    );
    expect(hexLines(console)).toEqual([0, 0, 2]);
    expect(domain.shutdownReason).toBe(SHUTDOWN_poweroff);
    expect(domain.vcpus[1]!.runState).not.toBe("runnable");
  });

  it("runs two vCPUs of one domain in turns on the one CPU, both making progress", async () => {
    const { console, domain } = await bootPv(
      kernel(`
entry:
        mov     [start_info_va], esi
        mov     edi, ctx
        call    fill_context
        or      dword [ctx + vcpu_guest_context.flags], VGCF_online   ; up at once, no VCPUOP_up
        vcpu_op VCPUOP_initialise, 1, ctx
        call    print_hex
.spin:  inc     dword [spins0]                  ; never yields: only the scheduler's slices share the CPU
        cmp     dword [spins1], 2000000
        jb      .spin
        mov     eax, [spins0]
        cmp     eax, 1000000                    ; vCPU 0 ran a good while too
        setae   al
        movzx   eax, al
        call    print_hex
        poweroff

secondary:
.spin:  inc     dword [spins1]
        jmp     .spin
`),
      { vcpus: 2, budget: 200_000_000 },
    );
    expect(hexLines(console)).toEqual([0, 1]);
    expect(domain.shutdownReason).toBe(SHUTDOWN_poweroff);
    const [v0, v1] = domain.vcpus;
    expect(v0!.instructions).toBeGreaterThan(4_000_000);
    expect(v1!.instructions).toBeGreaterThan(4_000_000);
  });
});
