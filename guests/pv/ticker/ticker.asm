; guests/pv/ticker/ticker.asm — a PV kernel that counts timer events.
;
; What it shows: a paravirtualized kernel never programs a timer chip. It
; binds VIRQ_TIMER to an event channel, registers an event callback, asks
; the hypervisor for a timer event at an absolute time (set_timer_op) and
; blocks. When the time comes the hypervisor raises the port and wakes the
; vCPU; the callback runs in ring 1 with events masked, exactly like an
; interrupt handler with IF=0, and returns through the iret hypercall,
; which unmasks them again. The kernel reads the time itself, with no
; hypercall at all: the hypervisor keeps system time and a TSC scale in
; vcpu_info, and RDTSC does the rest.
;
; Xen gives every PV vCPU a 10 ms periodic timer as well, but it only ticks
; while the vCPU is running: a vCPU that blocks is woken by the timer it
; asked for, or by nothing. So this kernel stops the periodic timer and sets
; one single-shot timer per tick, as Linux and mini-os do.
;
; The console shows:
;   ticker: 5 ticks, 10 ms apart
;   tick 1 at 10 ms
;   ...
;   tick 5 at 50 ms
; (milliseconds since the kernel started counting).
;   ticker: done
; and the domain powers off.
;
; Read next: XEN-ABI.md 5.2 (the bounce frame), 6.1 (vcpu_time_info) and 6.4
; (event delivery); then guests/pv/pingpong, where two kernels signal each
; other over the same kind of event channel.

bits 32
%include "xen.inc"
%include "pv-console.inc"
%include "xen-elf.inc"
%include "x86.inc"
org XEN_ELF_BASE

        xen_elf_header
        xen_notes

TICKS           equ 5                   ; timer events to count before powering off
PERIOD_NS       equ 10000000            ; 10 ms between them
NS_PER_MS       equ 1000000

; vCPU 0's vcpu_info, once shared_info is mapped at `shared`.
VCPU0           equ shared + shared_info.vcpu_info
TIME            equ VCPU0 + vcpu_info.time

; ------------------------------------------------------------------ entry
; Ring 1, events masked (evtchn_upcall_mask = 1), ESI = start_info.
entry:
        mov     [start_info_va], esi

        ; shared_info is a page of the hypervisor's choosing; start_info
        ; gives its machine address. The kernel points the PTE of one of
        ; its own pages (`shared`, in the image) at that frame:
        ; update_va_mapping(va, pte low, pte high, flags).
        mov     ebx, shared
        mov     ecx, [esi + start_info.shared_info]
        or      ecx, PTE_P | PTE_RW | PTE_A | PTE_D
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        test    eax, eax
        jnz     fail

        ; Where events enter the kernel: callback_op(CALLBACKOP_register,
        ; {CALLBACKTYPE_event, flat ring-1 code segment, upcall}).
        mov     ebx, CALLBACKOP_register
        mov     ecx, callback
        hypercall __HYPERVISOR_callback_op
        test    eax, eax
        jnz     fail

        ; A port for this vCPU's timer: event_channel_op(EVTCHNOP_bind_virq,
        ; {VIRQ_TIMER, vcpu 0}); the hypervisor writes the port back.
        mov     ebx, EVTCHNOP_bind_virq
        mov     ecx, bind_timer
        hypercall __HYPERVISOR_event_channel_op
        test    eax, eax
        jnz     fail
        mov     eax, [bind_timer + evtchn_bind_virq.port]
        mov     [timer_port], eax

        ; No periodic ticks: each tick is asked for (see the top).
        mov     ebx, VCPUOP_stop_periodic_timer
        xor     ecx, ecx                ; vCPU 0
        hypercall __HYPERVISOR_vcpu_op

        mov     esi, banner
        call    print

        ; The first tick PERIOD_NS after now; each handler asks for the next
        ; one PERIOD_NS after the last deadline, so the ticks never drift.
        call    system_time
        mov     [start], eax
        mov     [start + 4], edx
        add     eax, PERIOD_NS
        adc     edx, 0
        mov     [deadline], eax
        mov     [deadline + 4], edx
        call    arm_timer

; ------------------------------------------------------------------ the idle loop
; The classic race: an event that arrives between "are we done?" and
; "sleep" must not be slept through. So events are masked (cli) for the
; check, and SCHEDOP_block unmasks and sleeps in one step (sti; hlt), or
; returns at once if an event is already pending. When block returns,
; events are unmasked and the hypervisor delivers the pending one through
; the callback before the next instruction here runs.
idle:
        mov     byte [VCPU0 + vcpu_info.evtchn_upcall_mask], 1
        cmp     dword [ticks], TICKS
        jae     done
        mov     ebx, SCHEDOP_block
        hypercall __HYPERVISOR_sched_op
        jmp     idle

done:
        mov     esi, goodbye
        call    print
        mov     ebx, SCHEDOP_shutdown
        mov     ecx, poweroff
        hypercall __HYPERVISOR_sched_op
        ud2                             ; shutdown does not return

fail:
        mov     esi, failed
        call    print
        mov     ebx, SCHEDOP_shutdown
        mov     ecx, crash
        hypercall __HYPERVISOR_sched_op
        ud2

; ------------------------------------------------------------------ the event callback
; Entered like an interrupt handler: the hypervisor pushed EFLAGS, CS (with
; the old event mask in its upper half) and EIP of the interrupted code,
; and set evtchn_upcall_mask. The 2-level protocol (XEN-ABI.md 6.4): clear
; upcall_pending, take the selector word by word, and for each pending,
; unmasked port clear its pending bit and handle it. A port raised while
; this runs sets upcall_pending again and is delivered when the iret
; hypercall unmasks events.
event_callback:
        pushad
        mov     byte [VCPU0 + vcpu_info.evtchn_upcall_pending], 0
        xor     eax, eax
        xchg    eax, [VCPU0 + vcpu_info.evtchn_pending_sel]   ; selector: words with news
.word:
        bsf     ecx, eax                ; ecx = next word index
        jz      .return
        btr     eax, ecx
        mov     edx, [shared + shared_info.evtchn_mask + ecx * 4]
        not     edx
        and     edx, [shared + shared_info.evtchn_pending + ecx * 4]
.port:
        bsf     ebx, edx                ; ebx = next pending, unmasked bit
        jz      .word
        btr     edx, ebx
        lock btr [shared + shared_info.evtchn_pending + ecx * 4], ebx
        push    eax
        push    ecx
        push    edx
        shl     ecx, 5
        add     ebx, ecx                ; port = word * 32 + bit
        cmp     ebx, [timer_port]
        jne     .next
        call    on_tick
.next:
        pop     edx
        pop     ecx
        pop     eax
        jmp     .port
.return:
        popad
        ; iret hypercall: pops EIP, CS, EFLAGS, and unmasks events because
        ; the saved EFLAGS.IF says they were unmasked. A jump, not a call.
        jmp     hypercall_page + __HYPERVISOR_iret * 32

; A timer event: count it, say when it came (ms since the kernel started),
; ask for the next one.
on_tick:
        inc     dword [ticks]
        mov     esi, tick_text
        call    print
        mov     eax, [ticks]
        call    print_dec
        mov     esi, at_text
        call    print
        call    system_time             ; edx:eax = ns
        sub     eax, [start]
        sbb     edx, [start + 4]
        mov     ecx, NS_PER_MS
        div     ecx                     ; eax = ms (fits: well under 2^32 ms)
        call    print_dec
        mov     esi, ms_text
        call    print
        add     dword [deadline], PERIOD_NS
        adc     dword [deadline + 4], 0
        call    arm_timer
        ret

; set_timer_op(deadline low, high): one VIRQ_TIMER at that system time.
arm_timer:
        mov     ebx, [deadline]
        mov     ecx, [deadline + 4]
        hypercall __HYPERVISOR_set_timer_op
        ret

; ------------------------------------------------------------------ reading the time
; system_time: edx:eax = ns since the hypervisor started, from vcpu_time_info
; (XEN-ABI.md 6.1):
;   time = system_time + (((tsc - tsc_timestamp) << shift) * mul) >> 32
; The hypervisor rewrites the record with `version` odd, so read it while
; the version is even and the same before and after.
system_time:
        push    ebx
        push    ecx
        push    esi
        push    edi
.again:
        mov     esi, [TIME + vcpu_time_info.version]
        test    esi, 1
        jnz     .again
        rdtsc                           ; edx:eax = TSC
        sub     eax, [TIME + vcpu_time_info.tsc_timestamp]
        sbb     edx, [TIME + vcpu_time_info.tsc_timestamp + 4]
        movsx   ecx, byte [TIME + vcpu_time_info.tsc_shift]
        test    ecx, ecx
        js      .right
        shld    edx, eax, cl
        shl     eax, cl
        jmp     .scale
.right:
        neg     ecx
        shrd    eax, edx, cl
        shr     edx, cl
.scale:
        ; (edx:eax * mul) >> 32 = high * mul + (low * mul) >> 32
        mov     ebx, [TIME + vcpu_time_info.tsc_to_system_mul]
        mov     edi, edx
        mul     ebx
        mov     ecx, edx
        mov     eax, edi
        mul     ebx
        add     eax, ecx
        adc     edx, 0
        add     eax, [TIME + vcpu_time_info.system_time]
        adc     edx, [TIME + vcpu_time_info.system_time + 4]
        cmp     esi, [TIME + vcpu_time_info.version]
        jne     .again
        pop     edi
        pop     esi
        pop     ecx
        pop     ebx
        ret

; ------------------------------------------------------------------ console output
; print (ESI: a NUL-terminated string) and print_dec (EAX in decimal),
; from guests/include/pv-console.inc.
        pv_console_routines

; ------------------------------------------------------------------ data
banner:         db "ticker: 5 ticks, 10 ms apart", 10, 0
tick_text:      db "tick ", 0
at_text:        db " at ", 0
ms_text:        db " ms", 10, 0
goodbye:        db "ticker: done", 10, 0
failed:         db "ticker: a hypercall failed", 10, 0

        align 4
start_info_va:  dd 0
timer_port:     dd 0
ticks:          dd 0
start:          dq 0                    ; system time when the kernel started counting
deadline:       dq 0                    ; system time of the next tick
poweroff:       dd SHUTDOWN_poweroff
crash:          dd SHUTDOWN_crash

; callback_op's argument: the event callback on the flat ring-1 code segment.
callback:
        istruc callback_register
            at callback_register.type,  dw CALLBACKTYPE_event
            at callback_register.flags, dw 0
            at callback_register.cs,    dd FLAT_RING1_CS
            at callback_register.eip,   dd event_callback
        iend

bind_timer:
        istruc evtchn_bind_virq
            at evtchn_bind_virq.virq,   dd VIRQ_TIMER
            at evtchn_bind_virq.vcpu,   dd 0
            at evtchn_bind_virq.port,   dd 0
        iend

; ------------------------------------------------------------------ hypercall page
; The builder fills these 4 KiB with one 32-byte stub per hypercall
; (XEN-ABI.md 2.1).
        align   4096, db 0
hypercall_page:
        times   4096 db 0xC3

; ------------------------------------------------------------------ shared_info window
; A page of the image whose mapping update_va_mapping replaces with the
; shared_info frame (its own contents are never seen again).
shared:
        times   4096 db 0
image_end:

bss_end:
