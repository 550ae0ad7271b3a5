; guests/pv/xs-test/xs-test.asm — an XTF-style test kernel for xenstore, through its ring.
;
; What it shows: xenstore is how a Xen guest learns about itself and meets
; its devices. It is a small tree of keys kept by xenstored in domain 0;
; the toolstack gave this domain a directory, /local/domain/<domid>, with
; its name, its domid and the subdirectories it may write into (data/,
; device/, control/shutdown). The guest reaches it through one shared page
; and one event channel named in start_info, by sending messages — a
; 16-byte header and a payload — and reading replies
; (guests/include/pv-xenstore.inc). A path that does not start with "/"
; is taken relative to the domain's own directory.
;
; The kernel reads its domid and name, asks for its home path, writes and
; reads keys, lists a directory, reads and changes a key's permissions,
; watches a key (one event at once, one after each change), runs a
; transaction that commits, and one that loses a race with a write made
; outside it and must be retried (EAGAIN), and checks the errors
; xenstored answers by name: ENOENT for a missing key, EACCES for writing
; where it may not (another domain's directory, its own read-only home,
; a privileged request), EINVAL for a malformed path, EPERM for giving its
; key away, EEXIST for a watch set twice, ENOSYS for no such request.
; Like an XTF test it prints each failed check as it happens, then "Test
; result: SUCCESS" or "Test result: FAILURE" with the names of the failed
; checks, and powers off.
;
; Read next: XEN-ABI.md 9.5 (the ring and the messages), Xen's
; docs/misc/xenstore.txt (every request and reply), and
; hypervisor/xenstore/ (the daemon's side).

bits 32
%include "xen.inc"                      ; hypercall numbers, struc layouts
%include "pv-console.inc"               ; print and print_dec through console_io
%include "pv-xenstore.inc"              ; the xenstore ring client
%include "xen-elf.inc"
%include "x86.inc"
org XEN_ELF_BASE

        xen_elf_header
        xen_notes

MAX_FAILURES    equ 32                  ; failing checks remembered for the verdict
NO_SUCH_TX      equ 12345               ; a transaction id never handed out
NO_SUCH_TYPE    equ 99                  ; a message type xs_wire.h does not define
RETRIES         equ 3                   ; attempts at a transaction before giving up

; ------------------------------------------------------------------ macros
; request TYPE, TX, bytes...: sends one request with the bytes as its
; payload (NULs written out: "path", 0, "value") and waits for the reply,
; which is then in xs_reply_type, xs_reply_len and xs_reply.
%macro request 3+
        jmp     %%over
%%payload: db   %3
%%end:
%%over: mov     eax, %1
        mov     ebx, %2
        mov     esi, %%payload
        mov     ecx, %%end - %%payload
        call    xs_request
%endmacro

; expect TYPE, "check", bytes...: the reply had this type and exactly these
; payload bytes. A mismatch prints "Failure: check: got TYPE 'payload'"
; (NULs shown as |) and is remembered for the verdict.
%macro expect 3+
        jmp     %%over
%%name: db      %2, 0
%%want: db      %3
%%end:
%%over: push    dword %%name
        push    dword %%end - %%want
        push    dword %%want
        push    dword %1
        call    check_reply
%endmacro

; expect_type TYPE, "check": only the reply's type is checked.
%macro expect_type 2
        jmp     %%over
%%name: db      %2, 0
%%over: push    dword %%name
        push    dword -1
        push    dword 0
        push    dword %1
        call    check_reply
%endmacro

; expect_built TYPE, "check": as expect, against the bytes built in
; `want` up to EDI (for answers that contain the domid).
%macro expect_built 2
        jmp     %%over
%%name: db      %2, 0
%%over: push    dword %%name
        sub     edi, want
        push    edi
        push    dword want
        push    dword %1
        call    check_reply
%endmacro

; say "text": prints a string (keeps every register).
%macro say 1+
        jmp     %%over
%%text: db      %1, 0
%%over: push    esi
        mov     esi, %%text
        call    print
        pop     esi
%endmacro

; ------------------------------------------------------------------ entry
; Ring 1, events masked (evtchn_upcall_mask = 1), ESI = start_info.
entry:
        mov     [start_info_va], esi
        say     "xs-test: xenstore through the ring (io/xs_wire.h)", 10

        ; shared_info, for the store port's pending bit: map its frame over
        ; the page `shared` of the image (see guests/pv/ticker).
        mov     ebx, shared
        mov     ecx, [esi + start_info.shared_info]
        or      ecx, PTE_P | PTE_RW | PTE_A | PTE_D
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        test    eax, eax
        jnz     no_store

        ; The ring and its port. Port 0 is never a real port: then the
        ; domain has no xenstore, and there is nothing to test.
        call    xs_init
        cmp     dword [xs_port], 0
        je      no_store

        call    test_whoami
        call    test_keys
        call    test_perms
        call    test_watch
        call    test_transactions
        call    test_errors
        jmp     finish

; ------------------------------------------------------------------ who am I
; "domid" and "name" are relative: the domain's own /local/domain/<domid>/.
; GET_DOMAIN_PATH of the domid read must give that directory.
test_whoami:
        request XS_READ, 0, "domid", 0
        expect_type XS_READ, "read domid"
        mov     esi, xs_reply
        mov     edi, domid
        call    copy_string
        request XS_READ, 0, "name", 0
        expect_type XS_READ, "read name"
        say     "xs-test: domid "
        mov     esi, domid
        call    print
        say     ", name "
        mov     esi, xs_reply
        call    print
        say     10

        mov     edi, req
        mov     esi, domid
        call    append_string                   ; <domid>|
        mov     eax, XS_GET_DOMAIN_PATH
        call    send_built
        mov     edi, want
        mov     esi, local_domain
        call    append                          ; /local/domain/<domid>|
        mov     esi, domid
        call    append_string
        expect_built XS_GET_DOMAIN_PATH, "GET_DOMAIN_PATH gives the home directory"
        ret

; ------------------------------------------------------------------ keys
; WRITE creates a key (and any missing parent); its value is bytes, not
; NUL-terminated. DIRECTORY lists the children's names, RM removes a key
; and everything below it.
test_keys:
        request XS_WRITE, 0, "data/greeting", 0, "hello"
        expect  XS_WRITE, "write data/greeting", "OK", 0
        request XS_READ, 0, "data/greeting", 0
        expect  XS_READ, "read it back", "hello"
        request XS_WRITE, 0, "data/second", 0, "2"
        expect  XS_WRITE, "write data/second", "OK", 0
        request XS_DIRECTORY, 0, "data", 0
        expect  XS_DIRECTORY, "directory data", "greeting", 0, "second", 0
        request XS_RM, 0, "data/second", 0
        expect  XS_RM, "rm data/second", "OK", 0
        request XS_DIRECTORY, 0, "data", 0
        expect  XS_DIRECTORY, "directory data after rm", "greeting", 0
        request XS_MKDIR, 0, "data/dir/sub", 0
        expect  XS_MKDIR, "mkdir data/dir/sub (and its parent)", "OK", 0
        request XS_DIRECTORY, 0, "data/dir", 0
        expect  XS_DIRECTORY, "the parent was made too", "sub", 0
        ret

; ------------------------------------------------------------------ permissions
; A key made in data/ belongs to this domain: "n<domid>" — owner this
; domain, nobody else may do anything. The owner may grant more ("r0":
; domain 0 may read), but may not give the key to another owner.
test_perms:
        request XS_GET_PERMS, 0, "data/greeting", 0
        mov     edi, want
        mov     byte [edi], "n"
        inc     edi
        mov     esi, domid
        call    append_string                   ; n<domid>|
        expect_built XS_GET_PERMS, "a new key is the creator's"

        mov     edi, req
        mov     esi, greeting_path
        call    append_string                   ; data/greeting|
        mov     byte [edi], "n"
        inc     edi
        mov     esi, domid
        call    append_string                   ; n<domid>|
        mov     esi, read0
        call    append_string                   ; r0|
        mov     eax, XS_SET_PERMS
        call    send_built
        expect  XS_SET_PERMS, "set_perms n<domid> r0", "OK", 0
        request XS_GET_PERMS, 0, "data/greeting", 0
        mov     edi, want
        mov     byte [edi], "n"
        inc     edi
        mov     esi, domid
        call    append_string
        mov     esi, read0
        call    append_string                   ; n<domid>|r0|
        expect_built XS_GET_PERMS, "get_perms shows the grant"

        request XS_SET_PERMS, 0, "data/greeting", 0, "n0", 0
        expect  XS_ERROR, "giving the key to domain 0", "EPERM", 0
        ret

; ------------------------------------------------------------------ watches
; A watch fires once at once, then on every change at or below its path.
; The event names the path that changed (relative, since the watch was
; set relative) and the token the watcher chose.
test_watch:
        request XS_WATCH, 0, "data/watched", 0, "tok", 0
        expect  XS_WATCH, "watch data/watched", "OK", 0
        call    wait_event
        expect  XS_WATCH_EVENT, "the watch fires at once", "data/watched", 0, "tok", 0
        request XS_WATCH, 0, "data/watched", 0, "tok", 0
        expect  XS_ERROR, "the same watch twice", "EEXIST", 0
        request XS_WRITE, 0, "data/watched", 0, "x"
        expect  XS_WRITE, "write the watched key", "OK", 0
        call    wait_event
        expect  XS_WATCH_EVENT, "the watch fires on the write", "data/watched", 0, "tok", 0
        request XS_WRITE, 0, "data/watched/below", 0, "y"
        expect  XS_WRITE, "write below it", "OK", 0
        call    wait_event
        expect  XS_WATCH_EVENT, "and on a write below it", "data/watched/below", 0, "tok", 0
        request XS_UNWATCH, 0, "data/watched", 0, "tok", 0
        expect  XS_UNWATCH, "unwatch", "OK", 0
        request XS_UNWATCH, 0, "data/watched", 0, "tok", 0
        expect  XS_ERROR, "unwatch again", "ENOENT", 0
        ret

; The next watch event, as if it were a reply (xs_wait_event).
wait_event:
        call    xs_wait_event
        mov     [xs_reply_len], ecx
        mov     dword [xs_reply_type], XS_WATCH_EVENT
        mov     esi, xs_event
        mov     edi, xs_reply
        inc     ecx
        rep movsb
        ret

; ------------------------------------------------------------------ transactions
; Requests carrying a transaction's id in tx_id see its own changes, which
; nobody else sees until TRANSACTION_END "T" commits them. If something
; the transaction read or wrote changed meanwhile, the commit fails with
; EAGAIN and the guest must start over: the loop every xenstore client has.
test_transactions:
        call    tx_start
        request XS_WRITE, [tx], "data/tx", 0, "1"
        expect  XS_WRITE, "write in a transaction", "OK", 0
        request XS_READ, 0, "data/tx", 0
        expect  XS_ERROR, "outside it the key does not exist yet", "ENOENT", 0
        request XS_READ, [tx], "data/tx", 0
        expect  XS_READ, "inside it, it does", "1"
        request XS_TRANSACTION_END, [tx], "T", 0
        expect  XS_TRANSACTION_END, "commit", "OK", 0
        request XS_READ, 0, "data/tx", 0
        expect  XS_READ, "committed", "1"

        ; A race: the transaction reads the key, someone writes it outside,
        ; the transaction writes it: its commit must fail.
        call    tx_start
        request XS_READ, [tx], "data/tx", 0
        expect  XS_READ, "read in the second transaction", "1"
        request XS_WRITE, 0, "data/tx", 0, "2"
        expect  XS_WRITE, "a write outside it", "OK", 0
        request XS_WRITE, [tx], "data/tx", 0, "3"
        expect  XS_WRITE, "its own write", "OK", 0
        request XS_TRANSACTION_END, [tx], "T", 0
        expect  XS_ERROR, "the commit loses the race", "EAGAIN", 0

        ; The retry loop: read, compute, write, commit; again on EAGAIN.
        mov     dword [attempts], 0
.retry: inc     dword [attempts]
        call    tx_start
        request XS_READ, [tx], "data/tx", 0
        request XS_WRITE, [tx], "data/tx", 0, "3"
        request XS_TRANSACTION_END, [tx], "T", 0
        cmp     eax, XS_ERROR
        jne     .committed
        cmp     dword [attempts], RETRIES
        jb      .retry
.committed:
        expect  XS_TRANSACTION_END, "the retry commits", "OK", 0
        request XS_READ, 0, "data/tx", 0
        expect  XS_READ, "the retry's value", "3"

        request XS_READ, NO_SUCH_TX, "data/tx", 0
        expect  XS_ERROR, "a transaction id never handed out", "ENOENT", 0
        ret

; TRANSACTION_START: the reply is the new id in decimal; kept in `tx`.
tx_start:
        request XS_TRANSACTION_START, 0, 0
        expect_type XS_TRANSACTION_START, "transaction_start"
        xor     eax, eax
        mov     esi, xs_reply
.digit: movzx   edx, byte [esi]
        sub     edx, "0"
        cmp     edx, 9
        ja      .done
        imul    eax, eax, 10
        add     eax, edx
        inc     esi
        jmp     .digit
.done:  mov     [tx], eax
        ret

; ------------------------------------------------------------------ errors
; Failures come back as XS_ERROR with the errno's name.
test_errors:
        request XS_READ, 0, "data/missing", 0
        expect  XS_ERROR, "read a missing key", "ENOENT", 0
        request XS_WRITE, 0, "/local/domain/0/mine", 0, "x"
        expect  XS_ERROR, "write under domain 0's directory", "EACCES", 0
        request XS_READ, 0, "/local/domain/0/name", 0
        expect  XS_ERROR, "read domain 0's name", "EACCES", 0
        request XS_WRITE, 0, "name", 0, "renamed"
        expect  XS_ERROR, "write its own name (the home is read-only)", "EACCES", 0
        request XS_READ, 0, "data//greeting", 0
        expect  XS_ERROR, "a path with //", "EINVAL", 0
        request XS_READ, 0, "data/greeting", 0, "extra", 0
        expect  XS_ERROR, "two strings where one is expected", "EINVAL", 0
        request XS_INTRODUCE, 0, "1", 0, "1234", 0, "1", 0
        expect  XS_ERROR, "INTRODUCE is domain 0's", "EACCES", 0
        request NO_SUCH_TYPE, 0, 0
        expect  XS_ERROR, "a type that does not exist", "ENOSYS", 0
        request XS_READ, 0, "data/greeting", 0
        expect  XS_READ, "the connection still works", "hello"
        ret

; ------------------------------------------------------------------ the verdict
finish:
        say     "xs-test: "
        mov     eax, [checks]
        call    print_dec
        say     " checks", 10
        cmp     dword [failures], 0
        jne     .failed
        say     "Test result: SUCCESS", 10
        jmp     .off
.failed:
        say     "Test result: FAILURE", 10
        xor     ebx, ebx
.list:  cmp     ebx, [failures]
        je      .off
        cmp     ebx, MAX_FAILURES
        je      .off
        say     "  failed: "
        mov     esi, [failed_names + ebx * 4]
        call    print
        say     10
        inc     ebx
        jmp     .list
.off:   mov     ebx, SCHEDOP_shutdown
        mov     ecx, poweroff
        hypercall __HYPERVISOR_sched_op
        ud2                                     ; a shutdown that returns is a hypervisor bug

no_store:
        say     "xs-test: start_info names no xenstore ring", 10
        say     "Test result: FAILURE", 10
        mov     ebx, SCHEDOP_shutdown
        mov     ecx, crash
        hypercall __HYPERVISOR_sched_op
        ud2

; ------------------------------------------------------------------ helpers
; check_reply(type, want, want_len, name): the body of expect; a want_len
; of -1 checks the type only. Pops its arguments; keeps every register.
check_reply:
        pushad
        inc     dword [checks]
        mov     eax, [esp + 32 + 4]             ; type
        cmp     eax, [xs_reply_type]
        jne     .failed
        mov     ecx, [esp + 32 + 12]            ; want_len
        cmp     ecx, -1
        je      .passed
        cmp     ecx, [xs_reply_len]
        jne     .failed
        mov     esi, [esp + 32 + 8]             ; want
        mov     edi, xs_reply
        repe cmpsb
        jne     .failed
.passed:
        popad
        ret     16
.failed:
        mov     ebx, [failures]
        cmp     ebx, MAX_FAILURES
        jae     .full
        mov     ecx, [esp + 32 + 16]
        mov     [failed_names + ebx * 4], ecx
.full:  inc     dword [failures]
        say     "Failure: "
        mov     esi, [esp + 32 + 16]
        call    print
        say     ": got type "
        mov     eax, [xs_reply_type]
        call    print_dec
        say     " '"
        call    print_reply
        say     "'", 10
        popad
        ret     16

; print_reply: the reply's payload, NULs shown as | (keeps every register).
print_reply:
        pushad
        mov     ecx, [xs_reply_len]
        mov     esi, xs_reply
        mov     edi, shown
.copy:  jecxz   .show
        lodsb
        test    al, al
        jnz     .keep
        mov     al, "|"
.keep:  stosb
        dec     ecx
        jmp     .copy
.show:  mov     byte [edi], 0
        mov     esi, shown
        call    print
        popad
        ret

; send_built: EAX type; the payload is `req` up to EDI; no transaction.
send_built:
        mov     ecx, edi
        sub     ecx, req
        mov     esi, req
        xor     ebx, ebx
        call    xs_request
        ret

; append: the string at ESI without its NUL to EDI (EDI advances).
append:
        lodsb
        test    al, al
        jz      .done
        stosb
        jmp     append
.done:  ret

; append_string: as append, with the NUL (EDI advances past it).
append_string:
        call    append
        mov     byte [edi], 0
        inc     edi
        ret

; copy_string: the NUL-terminated string at ESI to EDI, NUL included.
copy_string:
        push    edi
        call    append_string
        pop     edi
        ret

        pv_xenstore_routines start_info_va, shared
        pv_console_routines

; ------------------------------------------------------------------ data
local_domain:   db "/local/domain/", 0
greeting_path:  db "data/greeting", 0
read0:          db "r0", 0

        align 4
start_info_va:  dd 0
checks:         dd 0
failures:       dd 0
failed_names:   times MAX_FAILURES dd 0
tx:             dd 0
attempts:       dd 0
poweroff:       dd SHUTDOWN_poweroff
crash:          dd SHUTDOWN_crash
domid:          times 8 db 0
req:            times 256 db 0
want:           times 256 db 0
shown:          times XENSTORE_PAYLOAD_MAX + 1 db 0

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
