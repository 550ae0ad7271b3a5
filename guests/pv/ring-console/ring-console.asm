; guests/pv/ring-console/ring-console.asm — a PV kernel that talks through the console ring.
;
; What it shows: the console of a Xen domU is a split driver, the smallest
; there is. No hypercall carries the text: the kernel and the console
; backend (xenconsoled in dom0 under Xen; the hypervisor's TypeScript here)
; share one page, struct xencons_interface of io/console.h, with a ring of
; bytes each way, and signal each other over an event channel. start_info
; names both, the page by its machine frame and the channel by its port
; (XEN-ABI.md 6.5, 9.4). Block and network devices work the same way, with
; bigger rings and grant tables.
;
; The kernel writes its greeting as XTF does: copy the bytes into out[],
; advance out_prod, send on the port, and yield until the backend has
; advanced out_cons to match. Then it reads one line of typed input from
; in[], sleeping until the port says more arrived, echoes it through the
; ring, and powers off. The console shows:
;   ring-console: hello through the console ring (io/console.h)
;   ring-console: type a line
;   ring-console: you typed: <the line>
;
; Sleeping without an event callback: this kernel never registers one and
; keeps events masked (evtchn_upcall_mask = 1, as at boot), so nothing ever
; interrupts it. SCHEDOP_poll sleeps until a given port is pending, masked
; or not; the kernel looks at the port's bit in shared_info.evtchn_pending
; and clears it itself. The order is what makes it safe: clear the bit,
; then look at the ring, then poll. Input that arrives after the look sets
; the bit again, and poll returns at once.
;
; Read next: guests/include/pv-ring-console.inc (the ring routines),
; XEN-ABI.md 9.1 (the general shared ring of block and network devices),
; and hypervisor/console-ring.ts (the backend's side).

bits 32
%include "xen.inc"
%include "pv-console.inc"
%include "pv-ring-console.inc"
%include "xen-elf.inc"
%include "x86.inc"
org XEN_ELF_BASE

        xen_elf_header
        xen_notes

LINE_MAX        equ 80                  ; a longer line is cut there
NEWLINE         equ 10
RETURN          equ 13                  ; what Enter sends from a terminal in raw mode

; ------------------------------------------------------------------ entry
; Ring 1, events masked (evtchn_upcall_mask = 1), ESI = start_info.
entry:
        mov     [start_info_va], esi

        ; shared_info, for the console port's pending bit: map its frame
        ; over the page `shared` of the image (see guests/pv/ticker).
        mov     ebx, shared
        mov     ecx, [esi + start_info.shared_info]
        or      ecx, PTE_P | PTE_RW | PTE_A | PTE_D
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        test    eax, eax
        jnz     fail

        ; The ring and its port, from start_info. Port 0 is never a real
        ; port: then the domain has no ring console.
        call    ring_console_init
        cmp     dword [ring_console_port], 0
        je      no_ring

        mov     esi, greeting
        call    ring_print
        mov     esi, prompt
        call    ring_print

; ------------------------------------------------------------------ reading a line
; Take what in[] holds into `line` until a newline (or a carriage return)
; arrives or the line is full; when in[] is empty, sleep until the backend
; sends.
read_line:
        mov     eax, [ring_console_port]                      ; 1: forget the last "look":
        mov     edx, eax
        shr     edx, 5                                        ; the port's word of the bitmap
        and     eax, 31                                       ; and its bit in it
        lock btr [shared + shared_info.evtchn_pending + edx * 4], eax
        mov     edi, line
        add     edi, [line_len]
        mov     ecx, LINE_MAX
        sub     ecx, [line_len]
        call    ring_read                                     ; 2: look
        mov     ecx, eax
        add     [line_len], eax
.scan:  jecxz   .incomplete                                   ; was a line's end among the new bytes?
        cmp     byte [edi], NEWLINE
        je      echo
        cmp     byte [edi], RETURN
        je      echo
        inc     edi
        dec     ecx
        jmp     .scan
.incomplete:
        cmp     dword [line_len], LINE_MAX
        jae     echo
        ; 3: sleep until the port is pending: sched_op(SCHEDOP_poll,
        ; {&port, 1 port, no timeout}).
        mov     ebx, SCHEDOP_poll
        mov     ecx, poll_args
        hypercall __HYPERVISOR_sched_op
        test    eax, eax
        jnz     fail
        jmp     read_line

; ------------------------------------------------------------------ the echo
; The line as typed (newline included, when there was one), after a
; label; a line that ended otherwise gets a newline of its own.
echo:
        mov     esi, echo_text
        call    ring_print
        mov     esi, line
        mov     ecx, [line_len]
        call    ring_write
        cmp     byte [line + ecx - 1], NEWLINE
        je      .off
        mov     esi, newline
        call    ring_print
        ; ring_write returned only once the backend had taken every byte,
        ; so nothing is lost by powering off now.
.off:   mov     ebx, SCHEDOP_shutdown
        mov     ecx, poweroff
        hypercall __HYPERVISOR_sched_op
        ud2                             ; shutdown does not return

; No ring to talk through: say so on the hypervisor's own console.
no_ring:
        mov     esi, no_ring_text
        call    print
fail:
        mov     esi, failed
        call    print
        mov     ebx, SCHEDOP_shutdown
        mov     ecx, crash
        hypercall __HYPERVISOR_sched_op
        ud2

; ------------------------------------------------------------------ routines
; ring_console_init, ring_print, ring_write, ring_read
; (guests/include/pv-ring-console.inc), and print through console_io for
; the failures (guests/include/pv-console.inc).
        pv_ring_console_routines start_info_va
        pv_console_routines

; ------------------------------------------------------------------ data
greeting:       db "ring-console: hello through the console ring (io/console.h)", 10, 0
prompt:         db "ring-console: type a line", 10, 0
echo_text:      db "ring-console: you typed: ", 0
newline:        db 10, 0
no_ring_text:   db "ring-console: start_info names no console event channel", 10, 0
failed:         db "ring-console: a hypercall failed", 10, 0

        align 4
start_info_va:  dd 0
line_len:       dd 0
poweroff:       dd SHUTDOWN_poweroff
crash:          dd SHUTDOWN_crash

; sched_op(SCHEDOP_poll)'s argument, struct sched_poll (sched.h): a list
; of ports (here one, the console's), its length, and an absolute timeout
; in system time (0: none).
poll_args:
        dd      ring_console_port       ; ports
        dd      1                       ; nr_ports
        dq      0                       ; timeout

line:           times LINE_MAX db 0

; ------------------------------------------------------------------ hypercall page
; The builder fills these 4 KiB with one 32-byte stub per hypercall
; (XEN-ABI.md 2.1).
        align   4096, db 0
hypercall_page:
        times   4096 db 0xC3

; ------------------------------------------------------------------ shared_info window
; A page of the image whose mapping update_va_mapping replaces with the
; shared_info frame.
shared:
        times   4096 db 0
image_end:

bss_end:
