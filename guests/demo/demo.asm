; guests/demo/demo.asm — a bare-metal kernel that greets you and echoes each line you type.
;
; What it shows: everything a kernel must do before it can wait for a key
; press without burning the CPU. The multiboot loader leaves us in 32-bit
; protected mode with interrupts off and a GDT we may not rely on, so we
;   1. install our own GDT and reload every segment register from it;
;   2. build an IDT: a gate for each CPU exception, one for each of the 16
;      hardware interrupt lines;
;   3. reprogram the two 8259 PICs so IRQ 0-15 arrive at vectors 0x20-0x2F
;      instead of on top of the CPU's exception vectors 0x08-0x0F, and mask
;      every line but IRQ 4, the first serial port's;
;   4. set COM1 (a 16550 UART) to 115200 baud, 8N1, FIFOs on, and ask it to
;      interrupt when a byte arrives;
; then it prints a greeting and loops: read a line, echo it. Reading waits
; with `sti; hlt`, so the CPU sleeps until the UART's interrupt handler has
; put a byte in the receive ring.
;
; Typing: characters are echoed as they arrive (a terminal in raw mode does
; not echo them itself), Backspace erases, Enter ends the line. "exit" or
; Ctrl-D ends the run through isa-debug-exit (status 1); Ctrl-] detaches.
;
; Read next: guests/hello/hello.asm (the smallest kernel), the Intel 8259A
; and 16550 data sheets, and SDM Vol. 3A 6.10-6.11 (the IDT and its gates).

bits 32
org 0x100000                    ; the multiboot loader puts us at 1 MiB

; ------------------------------------------------------------------ constants
MB_MAGIC        equ 0x1BADB002  ; multiboot v1 header magic
MB_AOUT_KLUDGE  equ 1 << 16     ; "load addresses are in this header"
MB_FLAGS        equ MB_AOUT_KLUDGE

CODE_SEL        equ 0x08        ; our GDT's flat code segment
DATA_SEL        equ 0x10        ; ... and flat data segment
GATE_INTERRUPT  equ 0x8E00      ; present, DPL 0, 32-bit interrupt gate (IF cleared on entry)
EXCEPTIONS      equ 32          ; vectors 0-31 belong to the CPU
IRQ_BASE        equ 0x20        ; where we move IRQ 0-15
IDT_ENTRIES     equ IRQ_BASE + 16

PIC1_CMD        equ 0x20        ; master 8259: command / status
PIC1_DATA       equ 0x21        ; master 8259: mask (IMR) and init words
PIC2_CMD        equ 0xA0        ; slave 8259
PIC2_DATA       equ 0xA1
ICW1_INIT_ICW4  equ 0x11        ; start initialization, edge-triggered, an ICW4 follows
ICW4_8086       equ 0x01        ; 8086 mode, normal (not automatic) EOI
PIC_EOI         equ 0x20        ; OCW2: non-specific end of interrupt
COM1_IRQ        equ 4

COM1            equ 0x3F8       ; THR (write) / RBR (read); the divisor latch when DLAB=1
COM1_IER        equ COM1 + 1    ; interrupt enable
COM1_FCR        equ COM1 + 2    ; FIFO control
COM1_LCR        equ COM1 + 3    ; line control
COM1_MCR        equ COM1 + 4    ; modem control
COM1_LSR        equ COM1 + 5    ; line status
LCR_DLAB        equ 0x80        ; ports 0 and 1 address the baud divisor
LCR_8N1         equ 0x03        ; 8 data bits, no parity, 1 stop bit
FCR_ENABLE_CLEAR equ 0x07       ; FIFOs on and emptied, interrupt at every byte
MCR_DTR_RTS_OUT2 equ 0x0B       ; OUT2 connects the UART's interrupt to the PIC on a PC
IER_RX_DATA     equ 0x01        ; interrupt when received data is available
LSR_DATA_READY  equ 1 << 0
LSR_THR_EMPTY   equ 1 << 5

DEBUG_EXIT_PORT equ 0xF4        ; isa-debug-exit: the host exits with (v << 1) | 1

LINE_MAX        equ 72          ; characters per line we keep
KEY_CTRL_C      equ 0x03
KEY_CTRL_D      equ 0x04
KEY_BELL        equ 0x07
KEY_BACKSPACE   equ 0x08
KEY_DELETE      equ 0x7F        ; what most terminals send for Backspace
CR              equ 13
LF              equ 10

STACK_SIZE      equ 4096

; ------------------------------------------------------------------ header
; As in hello.asm: the a.out kludge tells the loader where everything goes.
image_start:
        jmp     entry

        align   4
multiboot_header:
        dd      MB_MAGIC
        dd      MB_FLAGS
        dd      -(MB_MAGIC + MB_FLAGS)
        dd      multiboot_header        ; header_addr
        dd      image_start             ; load_addr
        dd      image_end               ; load_end_addr
        dd      bss_end                 ; bss_end_addr
        dd      entry                   ; entry_addr

; ------------------------------------------------------------------ entry
; Interrupts are off (IF=0). The loader's GDT may live in memory we are free
; to overwrite, so before any segment register is loaded again — and taking
; an interrupt loads CS — we switch to our own. A far jump reloads CS; the
; data segment registers are reloaded by hand.
entry:
        mov     esp, stack_top
        lgdt    [gdt_descriptor]
        jmp     CODE_SEL:.flat
.flat:
        mov     ax, DATA_SEL
        mov     ds, ax
        mov     es, ax
        mov     fs, ax
        mov     gs, ax
        mov     ss, ax

        call    build_idt
        call    init_pics
        call    init_serial
        sti                             ; from here on IRQ 4 can reach us

        mov     esi, greeting
        call    puts

; ------------------------------------------------------------------ main loop
; Prompt, read a line (echoed as it is typed), answer with the line.
main_loop:
        mov     esi, prompt
        call    puts
        call    read_line               ; ECX = length, or -1 for Ctrl-D
        cmp     ecx, -1
        je      quit
        cmp     ecx, 4
        jne     .answer
        cmp     dword [line], 'exit'    ; the four bytes "exit" as one dword
        je      quit
.answer:
        test    ecx, ecx
        jz      main_loop               ; nothing typed: just prompt again
        mov     esi, echo_prefix
        call    puts
        mov     esi, line
.echo:
        lodsb
        call    putc
        loop    .echo
        mov     esi, crlf
        call    puts
        jmp     main_loop

; quit: say goodbye and leave through isa-debug-exit. A machine without it
; just stops with interrupts off.
quit:
        mov     esi, goodbye
        call    puts
        mov     al, 0                   ; exit status 0 → host status 1
        out     DEBUG_EXIT_PORT, al
.halt:
        cli
        hlt
        jmp     .halt

; ------------------------------------------------------------------ read_line
; read_line: edit a line in `line` until Enter. Returns ECX = its length, or
; ECX = -1 when Ctrl-D is typed. Enter may arrive as CR (a terminal in raw
; mode), LF (a pipe) or CR LF; the LF after a CR is skipped, or it would end
; a second, empty line.
read_line:
        xor     ecx, ecx
.next:
        call    getc
        cmp     al, LF
        jne     .not_lf
        cmp     byte [last_key], CR
        mov     [last_key], al
        je      .next                   ; the LF of a CR LF pair
        jmp     .done
.not_lf:
        mov     [last_key], al
        cmp     al, CR
        je      .done
        cmp     al, KEY_CTRL_D
        je      .eof
        cmp     al, KEY_CTRL_C
        je      .cancel
        cmp     al, KEY_BACKSPACE
        je      .erase
        cmp     al, KEY_DELETE
        je      .erase
        cmp     al, ' '
        jb      .next                   ; other control characters are ignored
        cmp     ecx, LINE_MAX
        jae     .full
        mov     [line + ecx], al
        inc     ecx
        call    putc                    ; echo it
        jmp     .next
.full:
        mov     al, KEY_BELL            ; the line is full: ring the terminal's bell
        call    putc
        jmp     .next
.erase:
        jecxz   .next                   ; nothing to erase
        dec     ecx
        mov     esi, erase              ; back, blank, back
        call    puts
        jmp     .next
.cancel:
        mov     esi, cancelled          ; Ctrl-C abandons the line, as a shell does
        call    puts
        xor     ecx, ecx
        ret
.eof:
        mov     ecx, -1
.done:
        push    ecx
        mov     esi, crlf
        call    puts
        pop     ecx
        ret

; getc: the next received byte in AL, sleeping until there is one.
; The check and the sleep must not be split by the interrupt: if the byte
; arrived after the check but before HLT, we would sleep with it unread. So
; interrupts are off for the check, and STI;HLT turns them on again with
; HLT already under way: STI takes effect only after the next instruction.
getc:
        cli
        movzx   ebx, byte [rx_tail]
        cmp     bl, [rx_head]
        jne     .take
        sti
        hlt                             ; woken by the UART's IRQ 4
        jmp     getc
.take:
        mov     al, [rx_ring + ebx]
        inc     byte [rx_tail]          ; a byte index wraps at 256: the ring's size
        sti
        ret

; ------------------------------------------------------------------ console
; puts: write the NUL-terminated string at ESI to COM1.
puts:
        lodsb
        test    al, al
        jz      .done
        call    putc
        jmp     puts
.done:
        ret

; putc: write AL to COM1 once its transmit holding register is empty.
putc:
        push    edx
        push    eax
        mov     dx, COM1_LSR
.wait:
        in      al, dx
        test    al, LSR_THR_EMPTY
        jz      .wait
        pop     eax
        mov     dx, COM1
        out     dx, al
        pop     edx
        ret

; ------------------------------------------------------------------ interrupts
; serial_irq: IRQ 4. Move every byte the UART holds into the receive ring
; (a byte that finds the ring full is dropped), then tell the master PIC the
; interrupt is handled (EOI), or it would never send IRQ 4 or anything of
; lower priority again.
serial_irq:
        pushad
.more:
        mov     dx, COM1_LSR
        in      al, dx
        test    al, LSR_DATA_READY
        jz      .done
        mov     dx, COM1
        in      al, dx                  ; reading RBR takes the byte
        movzx   ebx, byte [rx_head]
        lea     ecx, [ebx + 1]
        cmp     cl, [rx_tail]
        je      .more                   ; ring full: drop it
        mov     [rx_ring + ebx], al
        mov     [rx_head], cl
        jmp     .more
.done:
        mov     al, PIC_EOI
        out     PIC1_CMD, al
        popad
        iretd

; masked_irq: the lines we mask. Only a spurious interrupt (IRQ 7 or 15 with
; nothing behind it) can arrive here, and it must not be acknowledged.
masked_irq:
        iretd

; cpu_exception: any of vectors 0-31 means a bug in this kernel. Say so and
; stop with interrupts off; the host reports the halt.
cpu_exception:
        mov     esi, crashed
        call    puts
.halt:
        cli
        hlt
        jmp     .halt

; ------------------------------------------------------------------ setup
; build_idt: one 8-byte interrupt gate per vector:
;   offset 15:0 | selector | 0x8E00 (present, DPL 0, 32-bit interrupt gate) | offset 31:16
build_idt:
        xor     ecx, ecx
.gate:
        mov     eax, cpu_exception
        cmp     ecx, EXCEPTIONS
        jb      .set
        mov     eax, masked_irq
        cmp     ecx, IRQ_BASE + COM1_IRQ
        jne     .set
        mov     eax, serial_irq
.set:
        mov     [idt + ecx * 8], ax
        mov     word [idt + ecx * 8 + 2], CODE_SEL
        mov     word [idt + ecx * 8 + 4], GATE_INTERRUPT
        shr     eax, 16
        mov     [idt + ecx * 8 + 6], ax
        inc     ecx
        cmp     ecx, IDT_ENTRIES
        jb      .gate
        lidt    [idt_descriptor]
        ret

; init_pics: the four initialization words to each 8259: ICW1 starts, ICW2
; gives the vector base, ICW3 wires the cascade (the slave hangs off the
; master's IR2), ICW4 picks 8086 mode. Then OCW1 masks every line but IRQ 4.
init_pics:
        mov     al, ICW1_INIT_ICW4
        out     PIC1_CMD, al
        out     PIC2_CMD, al
        mov     al, IRQ_BASE
        out     PIC1_DATA, al           ; master: IRQ 0-7 → vectors 0x20-0x27
        mov     al, IRQ_BASE + 8
        out     PIC2_DATA, al           ; slave: IRQ 8-15 → vectors 0x28-0x2F
        mov     al, 1 << 2
        out     PIC1_DATA, al           ; master: a slave on IR2 (a bit mask)
        mov     al, 2
        out     PIC2_DATA, al           ; slave: my cascade identity is 2 (a number)
        mov     al, ICW4_8086
        out     PIC1_DATA, al
        out     PIC2_DATA, al
        mov     al, ~(1 << COM1_IRQ) & 0xFF
        out     PIC1_DATA, al           ; only IRQ 4 unmasked
        mov     al, 0xFF
        out     PIC2_DATA, al           ; every slave line masked
        ret

; init_serial: 115200 baud is the 1.8432 MHz clock / 16 / divisor 1.
init_serial:
        mov     dx, COM1_IER
        mov     al, 0
        out     dx, al                  ; no interrupts while we set it up
        mov     dx, COM1_LCR
        mov     al, LCR_DLAB
        out     dx, al
        mov     dx, COM1
        mov     al, 1
        out     dx, al                  ; divisor low byte
        mov     dx, COM1_IER
        mov     al, 0
        out     dx, al                  ; divisor high byte
        mov     dx, COM1_LCR
        mov     al, LCR_8N1
        out     dx, al                  ; also clears DLAB
        mov     dx, COM1_FCR
        mov     al, FCR_ENABLE_CLEAR
        out     dx, al
        mov     dx, COM1_MCR
        mov     al, MCR_DTR_RTS_OUT2
        out     dx, al
        mov     dx, COM1_IER
        mov     al, IER_RX_DATA
        out     dx, al
        ret

; ------------------------------------------------------------------ data
        align   8
gdt:    dq      0                       ; the null descriptor
        dq      0x00CF9A000000FFFF      ; 0x08: code, base 0, limit 4 GiB, ring 0, execute/read, 32-bit
        dq      0x00CF92000000FFFF      ; 0x10: data, base 0, limit 4 GiB, ring 0, read/write, 32-bit
gdt_end:
gdt_descriptor:
        dw      gdt_end - gdt - 1       ; limit: size - 1
        dd      gdt                     ; linear base
idt_descriptor:
        dw      IDT_ENTRIES * 8 - 1
        dd      idt

greeting:
        db      "Hello from xenoscope's demo kernel.", CR, LF
        db      "No BIOS and no OS here: each key you press reaches me through the", CR, LF
        db      "COM1 UART's interrupt (IRQ 4), and I echo every line you type.", CR, LF
        db      'Type "exit" or press Ctrl-D to stop me; Ctrl-] detaches.', CR, LF, 0
prompt:         db      "> ", 0
echo_prefix:    db      "you typed: ", 0
crlf:           db      CR, LF, 0
erase:          db      KEY_BACKSPACE, " ", KEY_BACKSPACE, 0
cancelled:      db      "^C", CR, LF, 0
goodbye:        db      "Goodbye.", CR, LF, 0
crashed:        db      CR, LF, "demo: unexpected CPU exception; stopping.", CR, LF, 0

        align   16
image_end:

; ------------------------------------------------------------------ bss
section .bss
        alignb  8
idt:            resb    IDT_ENTRIES * 8
rx_ring:        resb    256             ; bytes from the UART, indexed by a wrapping byte
rx_head:        resb    1               ; where the interrupt handler puts the next byte
rx_tail:        resb    1               ; where getc takes the next byte
last_key:       resb    1
line:           resb    LINE_MAX
        alignb  16
stack:          resb    STACK_SIZE
stack_top:
bss_end:
