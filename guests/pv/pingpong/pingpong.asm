; guests/pv/pingpong/pingpong.asm — two domains bounce an event back and forth.
;
; What it shows: an interdomain event channel is a pair of ports, one in
; each domain; EVTCHNOP_send on one end raises the other end, in the other
; domain, and wakes its vCPU if it sleeps. It carries no data: one bit,
; "look". Split drivers (block, network, console) are built on exactly this
; bit plus a shared ring.
;
; Two copies of this kernel run. The toolstack connected a port in one to a
; port in the other before they booted, and told each its own port on the
; command line (start_info.cmd_line), with its role and the count:
;   pingpong port=3 role=ping count=100
;   pingpong port=5 role=pong count=100
; The ping side sends, then waits for the answer before sending again; the
; pong side answers every ping. Each counts what it received, reports, and
; powers off:
;   pingpong: ping: 100 round trips
;   pingpong: pong: answered 100 pings
;
; Events arrive as in guests/pv/ticker: through the event callback, while
; the kernel sleeps in SCHEDOP_block.
;
; Read next: XEN-ABI.md 6.4 (the 2-level event channel), 9.1 (the shared
; rings that go with such a channel).

bits 32
%include "xen.inc"
%include "pv-console.inc"
%include "xen-elf.inc"
%include "x86.inc"
org XEN_ELF_BASE

        xen_elf_header
        xen_notes

; vCPU 0's vcpu_info, once shared_info is mapped at `shared`.
VCPU0           equ shared + shared_info.vcpu_info

; ------------------------------------------------------------------ entry
; Ring 1, events masked, ESI = start_info.
entry:
        mov     [start_info_va], esi

        ; What to do, from the command line the toolstack wrote.
        mov     esi, key_port
        call    find_arg
        jz      bad_cmdline
        call    parse_uint
        mov     [port], eax
        mov     [send_port], eax
        mov     esi, key_count
        call    find_arg
        jz      bad_cmdline
        call    parse_uint
        test    eax, eax
        jz      bad_cmdline
        mov     [count], eax
        mov     esi, key_role
        call    find_arg
        jz      bad_cmdline
        cmp     dword [eax], "ping"
        je      .ping
        cmp     dword [eax], "pong"
        je      .roled
        jmp     bad_cmdline
.ping:  mov     byte [is_ping], 1
.roled:

        ; Map shared_info over the page `shared` (see guests/pv/ticker).
        mov     esi, [start_info_va]
        mov     ebx, shared
        mov     ecx, [esi + start_info.shared_info]
        or      ecx, PTE_P | PTE_RW | PTE_A | PTE_D
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        test    eax, eax
        jnz     fail

        ; The event callback.
        mov     ebx, CALLBACKOP_register
        mov     ecx, callback
        hypercall __HYPERVISOR_callback_op
        test    eax, eax
        jnz     fail

        ; The ping side starts the game. Events are still masked, so the
        ; answer waits, pending, until the idle loop unmasks them.
        cmp     byte [is_ping], 1
        jne     idle
        call    send

; ------------------------------------------------------------------ the idle loop
; Mask events, check, and block (which unmasks) — see guests/pv/ticker.
idle:
        mov     byte [VCPU0 + vcpu_info.evtchn_upcall_mask], 1
        mov     eax, [received]
        cmp     eax, [count]
        jae     report
        mov     ebx, SCHEDOP_block
        hypercall __HYPERVISOR_sched_op
        jmp     idle

report:
        cmp     byte [is_ping], 1
        jne     .pong
        mov     esi, ping_text
        call    print
        mov     eax, [received]
        call    print_dec
        mov     esi, ping_tail
        call    print
        jmp     .off
.pong:  mov     esi, pong_text
        call    print
        mov     eax, [received]
        call    print_dec
        mov     esi, pong_tail
        call    print
.off:   mov     ebx, SCHEDOP_shutdown
        mov     ecx, poweroff
        hypercall __HYPERVISOR_sched_op
        ud2

bad_cmdline:
        mov     esi, usage
        call    print
fail:
        mov     esi, failed
        call    print
        mov     ebx, SCHEDOP_shutdown
        mov     ecx, crash
        hypercall __HYPERVISOR_sched_op
        ud2

; send: event_channel_op(EVTCHNOP_send, {port}) — raise the other end.
send:
        mov     ebx, EVTCHNOP_send
        mov     ecx, send_port
        hypercall __HYPERVISOR_event_channel_op
        ret

; ------------------------------------------------------------------ the event callback
; The 2-level scan of guests/pv/ticker: clear upcall_pending, take the
; selector, and handle each pending, unmasked port after clearing its bit.
event_callback:
        pushad
        mov     byte [VCPU0 + vcpu_info.evtchn_upcall_pending], 0
        xor     eax, eax
        xchg    eax, [VCPU0 + vcpu_info.evtchn_pending_sel]
.word:
        bsf     ecx, eax
        jz      .return
        btr     eax, ecx
        mov     edx, [shared + shared_info.evtchn_mask + ecx * 4]
        not     edx
        and     edx, [shared + shared_info.evtchn_pending + ecx * 4]
.port:
        bsf     ebx, edx
        jz      .word
        btr     edx, ebx
        lock btr [shared + shared_info.evtchn_pending + ecx * 4], ebx
        push    eax
        push    ecx
        push    edx
        shl     ecx, 5
        add     ebx, ecx
        cmp     ebx, [port]
        jne     .next
        call    on_event
.next:
        pop     edx
        pop     ecx
        pop     eax
        jmp     .port
.return:
        popad
        jmp     hypercall_page + __HYPERVISOR_iret * 32

; The other side rang. Ping: one round trip more, and the next ping unless
; that was the last. Pong: answer. Both stop counting at `count`.
on_event:
        mov     eax, [received]
        cmp     eax, [count]
        jae     .ignore                 ; anything after the last is not ours to count
        inc     eax
        mov     [received], eax
        cmp     byte [is_ping], 1
        jne     send                    ; pong: answer every ping (a tail call)
        cmp     eax, [count]
        jb      send                    ; ping: the next round trip
.ignore:
        ret

; ------------------------------------------------------------------ the command line
; find_arg: ZF clear and EAX = the value after the key at ESI ("port=") in
; start_info.cmd_line, where the key starts the line or follows a space;
; ZF set when it is not there.
find_arg:
        push    ebx
        push    edi
        mov     edi, [start_info_va]
        add     edi, start_info.cmd_line
        mov     bl, ' '                 ; the character before the current position
.at:
        cmp     byte [edi], 0
        je      .missing
        cmp     bl, ' '
        jne     .step
        xor     ecx, ecx
.compare:
        mov     al, [esi + ecx]
        test    al, al
        jz      .found                  ; the whole key matched
        cmp     al, [edi + ecx]
        jne     .step
        inc     ecx
        jmp     .compare
.step:
        mov     bl, [edi]
        inc     edi
        jmp     .at
.found:
        lea     eax, [edi + ecx]
        or      edi, edi                ; ZF clear: found (the line is never at address 0)
        jmp     .out
.missing:
        xor     eax, eax                ; ZF set
.out:
        pop     edi
        pop     ebx
        ret

; parse_uint: EAX = the decimal number at EAX (up to the first non-digit).
parse_uint:
        push    ebx
        push    ecx
        mov     ebx, eax
        xor     eax, eax
.digit:
        movzx   ecx, byte [ebx]
        sub     ecx, '0'
        cmp     ecx, 9
        ja      .done                   ; not 0-9 (unsigned compare catches below '0' too)
        imul    eax, eax, 10
        add     eax, ecx
        inc     ebx
        jmp     .digit
.done:
        pop     ecx
        pop     ebx
        ret

; ------------------------------------------------------------------ console output
; print (ESI: a NUL-terminated string) and print_dec (EAX in decimal),
; from guests/include/pv-console.inc.
        pv_console_routines

; ------------------------------------------------------------------ data
key_port:       db "port=", 0
key_role:       db "role=", 0
key_count:      db "count=", 0
ping_text:      db "pingpong: ping: ", 0
ping_tail:      db " round trips", 10, 0
pong_text:      db "pingpong: pong: answered ", 0
pong_tail:      db " pings", 10, 0
usage:          db "pingpong: the command line needs port=N role=ping|pong count=N", 10, 0
failed:         db "pingpong: a hypercall failed", 10, 0

        align 4
start_info_va:  dd 0
port:           dd 0                    ; our end of the channel
send_port:      dd 0                    ; evtchn_send: {port}
count:          dd 0
received:       dd 0
is_ping:        db 0
        align 4
poweroff:       dd SHUTDOWN_poweroff
crash:          dd SHUTDOWN_crash

callback:
        istruc callback_register
            at callback_register.type,  dw CALLBACKTYPE_event
            at callback_register.flags, dw 0
            at callback_register.cs,    dd FLAT_RING1_CS
            at callback_register.eip,   dd event_callback
        iend

; ------------------------------------------------------------------ hypercall page
        align   4096, db 0
hypercall_page:
        times   4096 db 0xC3

; ------------------------------------------------------------------ shared_info window
shared:
        times   4096 db 0
image_end:

bss_end:
