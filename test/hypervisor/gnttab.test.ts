// test/hypervisor/gnttab.test.ts — grant tables v1, seen from two PV kernels and from domain 0's backends.
//
// The kernels are a few lines each on the library of test/support/pv-mm.ts
// (setup, print_hex, pte_va/pte_ma/mfn_of, on_fault) and GNT below: the
// grant_table.h numbers and layouts, `gnt_map`, `gnt_unmap`, `gnt_copy`,
// `grant` (fill an entry the way the protocol says: frame and domid, then
// flags) and `end_access` (Linux's gnttab_end_foreign_access_ref: clear
// the flags with a cmpxchg unless GTF_reading or GTF_writing is set). The
// toolstack's part — telling each kernel its peer's domid — is done on the
// command line in bootPvDomains' `before` hook, as xl would once both
// domains exist. Statuses are printed as 32-bit hex: GNTST_general_error
// is ffffffff, GNTST_bad_gntref fffffffd, and so on (XEN-ABI.md 4, 8).

import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import {
  GNTST_bad_copy_arg,
  GNTST_bad_domain,
  GNTST_bad_gntref,
  GNTST_bad_handle,
  GNTST_bad_page,
  GNTST_general_error,
  GNTST_no_device_space,
  GNTST_okay,
  GNTST_permission_denied,
  GTF_permit_access,
  GTF_reading,
  GTF_readonly,
  GTF_writing,
} from "../../hypervisor/abi/grant_table.js";
import { EBUSY, EFAULT, EINVAL, ENOSYS, ESRCH } from "../../hypervisor/abi/errno.js";
import { SHUTDOWN_poweroff } from "../../hypervisor/abi/sched.js";
import { DOMID_INVALID, start_info } from "../../hypervisor/abi/xen.js";
import type { Domain } from "../../hypervisor/domain.js";
import { MAX_MAPTRACK_HANDLES, type Dom0GrantMapping } from "../../hypervisor/gnttab.js";
import { PGT_writable_page } from "../../hypervisor/mm/pagetype.js";
import type { Hypervisor } from "../../hypervisor/xen.js";
import { bootPvDomains, pvKernel } from "../support/pv.js";
import { MM_LIBRARY, MM_MACROS } from "../support/pv-mm.js";
import { audit, type Machine } from "./mm/fixture.js";

/** grant_table.h for the kernels, and the grant helpers. */
const GNT = `
__HYPERVISOR_grant_table_op     equ 20
GNTTABOP_map_grant_ref          equ 0
GNTTABOP_unmap_grant_ref        equ 1
GNTTABOP_setup_table            equ 2
GNTTABOP_copy                   equ 5
GNTTABOP_query_size             equ 6
GNTTABOP_set_version            equ 8
GNTTABOP_get_version            equ 10
GNTMAP_device_map               equ 1
GNTMAP_host_map                 equ 2
GNTMAP_readonly                 equ 4
GNTMAP_contains_pte             equ 16
GNTCOPY_source_gref             equ 1
GNTCOPY_dest_gref               equ 2
GTF_permit_access               equ 1
GTF_readonly                    equ 4
GTF_reading                     equ 8
GTF_writing                     equ 16

struc gnttab_setup_table
    .dom:           resw 1
    .pad:           resw 1
    .nr_frames:     resd 1
    .status:        resw 1
    .pad2:          resw 1
    .frame_list:    resd 1
endstruc
struc gnttab_map_grant_ref
    .host_addr:     resq 1
    .flags:         resd 1
    .ref:           resd 1
    .dom:           resw 1
    .status:        resw 1
    .handle:        resd 1
    .dev_bus_addr:  resq 1
endstruc
struc gnttab_unmap_grant_ref
    .host_addr:     resq 1
    .dev_bus_addr:  resq 1
    .handle:        resd 1
    .status:        resw 1
    .pad:           resw 1
endstruc
struc gnttab_copy
    .source_u:      resd 1
    .source_domid:  resw 1
    .source_offset: resw 1
    .dest_u:        resd 1
    .dest_domid:    resw 1
    .dest_offset:   resw 1
    .len:           resw 1
    .flags:         resw 1
    .status:        resw 1
    .pad:           resw 1
endstruc
struc gnttab_query_size
    .dom:           resw 1
    .pad:           resw 1
    .nr_frames:     resd 1
    .max_nr_frames: resd 1
    .status:        resw 1
    .pad2:          resw 1
endstruc

GNTTAB_VA       equ 0x10000             ; where a kernel maps its grant-table frame
PAGE_P          equ 0x11000             ; the page A shares read-write
PAGE_Q          equ 0x12000             ; the page A shares read-only
RO_VA           equ 0x13000             ; where B maps them
RW_VA           equ 0x14000
LOCAL_VA        equ 0x15000             ; B's own page, for copies
PTE_MAP_VA      equ 0x16000             ; mapped by the PTE's machine address
PT_MAP_VA       equ 0x17000             ; where B maps A's page table read-only
REPLY           equ 0x200               ; where B writes its reply into P
B_MAPPED        equ 0x400               ; B sets it (through RW_VA) once its maps are in place
A_GO            equ 0x404               ; A sets it when B may unmap
COPIED          equ 0x300               ; where B's grant copy lands in P

; gnttab CMD, OP, COUNT: grant_table_op; a non-zero return crashes the kernel (every test op reports in its status)
%macro gnttab 3
        mov     ebx, %1
        mov     ecx, %2
        mov     edx, %3
        hypercall __HYPERVISOR_grant_table_op
        test    eax, eax
        jnz     gnttab_failed
%endmacro

; gnt_map VA, FLAGS, REF, DOM: EAX = status, EBX = handle
%macro gnt_map 4
        mov     dword [map_op + gnttab_map_grant_ref.host_addr], %1
        mov     dword [map_op + gnttab_map_grant_ref.host_addr + 4], 0
        mov     dword [map_op + gnttab_map_grant_ref.flags], %2
        mov     dword [map_op + gnttab_map_grant_ref.ref], %3
        mov     eax, %4
        mov     word [map_op + gnttab_map_grant_ref.dom], ax
        gnttab  GNTTABOP_map_grant_ref, map_op, 1
        movsx   eax, word [map_op + gnttab_map_grant_ref.status]
        mov     ebx, [map_op + gnttab_map_grant_ref.handle]
%endmacro

; gnt_unmap VA, HANDLE: EAX = status
%macro gnt_unmap 2
        mov     dword [unmap_op + gnttab_unmap_grant_ref.host_addr], %1
        mov     dword [unmap_op + gnttab_unmap_grant_ref.handle], %2
        gnttab  GNTTABOP_unmap_grant_ref, unmap_op, 1
        movsx   eax, word [unmap_op + gnttab_unmap_grant_ref.status]
%endmacro

; gnt_copy FLAGS, SRC, SRC_DOM, SRC_OFF, DST, DST_DOM, DST_OFF, LEN: EAX = status
%macro gnt_copy 8
        mov     word [copy_op + gnttab_copy.flags], %1
        mov     eax, %2
        mov     [copy_op + gnttab_copy.source_u], eax
        mov     eax, %3
        mov     word [copy_op + gnttab_copy.source_domid], ax
        mov     word [copy_op + gnttab_copy.source_offset], %4
        mov     eax, %5
        mov     [copy_op + gnttab_copy.dest_u], eax
        mov     eax, %6
        mov     word [copy_op + gnttab_copy.dest_domid], ax
        mov     word [copy_op + gnttab_copy.dest_offset], %7
        mov     word [copy_op + gnttab_copy.len], %8
        gnttab  GNTTABOP_copy, copy_op, 1
        movsx   eax, word [copy_op + gnttab_copy.status]
%endmacro

; grant REF, VA, DOM, FLAGS: entry REF shares the page at VA; flags last, so the entry is never half-made
%macro grant 4
        mov     eax, %2
        call    mfn_of
        mov     [GNTTAB_VA + (%1) * 8 + 4], eax
        mov     eax, %3
        mov     word [GNTTAB_VA + (%1) * 8 + 2], ax
        mov     word [GNTTAB_VA + (%1) * 8], %4
%endmacro

; report "text": prints the text and EAX in hex (registers kept)
%macro report 1
        say     %1
        call    print_hex
%endmacro
`;

/** Routines the grant kernels share. */
const GNT_LIBRARY = `
; parse_peer: [peer] = the number after "peer=" on the command line (the toolstack writes it)
parse_peer:
        mov     esi, [start_info_ptr]
        lea     esi, [esi + start_info.cmd_line + 5]
        xor     eax, eax
.digit: movzx   ecx, byte [esi]
        sub     ecx, '0'
        cmp     ecx, 9
        ja      .done
        imul    eax, eax, 10
        add     eax, ecx
        inc     esi
        jmp     .digit
.done:  mov     [peer], eax
        ret

; table_setup: one grant-table frame, mapped read-write at GNTTAB_VA
table_setup:
        mov     word [setup_op + gnttab_setup_table.dom], DOMID_SELF
        mov     dword [setup_op + gnttab_setup_table.nr_frames], 1
        mov     dword [setup_op + gnttab_setup_table.frame_list], frame_list
        gnttab  GNTTABOP_setup_table, setup_op, 1
        movsx   eax, word [setup_op + gnttab_setup_table.status]
        test    eax, eax
        jnz     gnttab_failed
        mov     ebx, GNTTAB_VA
        mov     ecx, [frame_list]
        shl     ecx, 12
        or      ecx, PTE_P | PTE_RW | PTE_A
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        test    eax, eax
        jnz     gnttab_failed
        ret

; end_access: EBX = a grant entry; EAX = 0 when access ended, else the flags that kept it (in use)
end_access:
.again: movzx   eax, word [ebx]
        test    eax, GTF_reading | GTF_writing
        jnz     .busy
        xor     ecx, ecx
        lock cmpxchg [ebx], cx
        jne     .again
        xor     eax, eax
.busy:  ret

; yield: gives the CPU to the other domains (registers kept)
yield:
        pushad
        mov     ebx, SCHEDOP_yield
        xor     ecx, ecx
        hypercall __HYPERVISOR_sched_op
        popad
        ret

; wait_until_set: yields until the dword at EBX is non-zero, or crashes after many tries
wait_until_set:
        mov     ecx, 100000
.poll:  cmp     dword [ebx], 0
        jne     .set
        call    yield
        loop    .poll
        say     "gave up waiting"
        say     10
        shutdown SHUTDOWN_crash
.set:   ret

gnttab_failed:
        report  "grant_table_op failed "
        shutdown SHUTDOWN_crash

        align   8
map_op:         times gnttab_map_grant_ref_size db 0
unmap_op:       times gnttab_unmap_grant_ref_size db 0
copy_op:        times gnttab_copy_size db 0
setup_op:       times gnttab_setup_table_size db 0
query_op:       times gnttab_query_size_size db 0
frame_list:     dd 0, 0, 0, 0
peer:           dd 0
handle_ro:      dd 0
handle_rw:      dd 0
version:        dd 0, 0
`;

const kernel = (body: string) => pvKernel(`${MM_MACROS}\n${GNT}\n${body}\n${GNT_LIBRARY}\n${MM_LIBRARY}`);

/** What the toolstack does for a pair: each kernel learns its peer's domid on its command line before it runs. */
function tellPeers(xen: Hypervisor, pairs: [Domain, Domain][]): void {
  for (const [domain, peer] of pairs) {
    const text = new TextEncoder().encode(`peer=${peer.domid}\0`);
    xen.writePhysical(domain.built.startInfoMfn * 4096 + start_info.cmd_line, text);
  }
}

/** Domain A: grants P read-write and Q read-only to its peer, and three hostile entries; revokes; reads the reply. */
const GRANTER_A = kernel(`
entry:  call    setup
        call    parse_peer
        call    table_setup
        mov     esi, hello_a
        mov     edi, PAGE_P
        mov     ecx, hello_a_len
        rep movsb
        mov     dword [PAGE_P + B_MAPPED], 0
        mov     dword [PAGE_P + A_GO], 0
        grant   9, PAGE_Q, [peer], GTF_permit_access | GTF_readonly
        grant   10, PAGE_P, 0x1234, GTF_permit_access     ; granted to a domain that is not B
        mov     eax, 0
        call    pte_va                                   ; the VA of the L1 that maps page 0 ...
        grant   11, eax, [peer], GTF_permit_access        ; ... so this grants a page table, read-write
        grant   8, PAGE_P, [peer], GTF_permit_access      ; last: B is waiting for this one
        mov     ebx, PAGE_P + B_MAPPED
        call    wait_until_set
        mov     ebx, GNTTAB_VA + 8 * 8
        call    end_access
        report  "A: end access while mapped: "
        mov     dword [PAGE_P + A_GO], 1
.unmapped:                                               ; B unmaps: GTF_reading and GTF_writing clear
        call    yield
        test    word [GNTTAB_VA + 8 * 8], GTF_reading | GTF_writing
        jnz     .unmapped
        mov     ebx, GNTTAB_VA + 8 * 8
        call    end_access
        report  "A: end access after unmap: "
        movzx   eax, word [GNTTAB_VA + 9 * 8]
        report  "A: flags of the read-only grant: "
        movzx   eax, word [GNTTAB_VA + 11 * 8]
        report  "A: flags of the page-table grant: "
        say     "A: reply: "
        print   PAGE_P + REPLY
        say     "A: copied in: "
        print   PAGE_P + COPIED
        shutdown SHUTDOWN_poweroff
hello_a:        db "hello from A", 10, 0
hello_a_len     equ $ - hello_a
`);

/** Domain B: maps A's grant read-only and read-write, tries every hostile case, writes back, unmaps. */
const MAPPER_B = kernel(`
entry:  call    setup
        call    parse_peer
        mov     ecx, 100000
.wait:  push    ecx                                      ; A has not granted yet: the map fails until it has
        gnt_map RO_VA, GNTMAP_host_map | GNTMAP_readonly, 8, [peer]
        pop     ecx
        test    eax, eax
        jz      .mapped
        call    yield
        loop    .wait
        report  "B: never granted: "
        shutdown SHUTDOWN_crash
.mapped:
        mov     [handle_ro], ebx
        say     "B: read: "
        print   RO_VA
        gnt_map RW_VA, GNTMAP_host_map, 8, [peer]
        mov     [handle_rw], ebx
        report  "B: map read-write: "
        on_fault .ro_refused
        mov     byte [RO_VA], 'X'                          ; the read-only mapping is read-only
.ro_refused:
        gnt_map LOCAL_VA, GNTMAP_host_map, 9, [peer]
        report  "B: read-only grant mapped writable: "
        gnt_map LOCAL_VA, GNTMAP_host_map, 10, [peer]
        report  "B: a grant to another domain: "
        gnt_map LOCAL_VA, GNTMAP_host_map, 512, [peer]
        report  "B: a ref past the table: "
        gnt_map LOCAL_VA, 0, 8, [peer]
        report  "B: neither host nor device map: "
        gnt_map LOCAL_VA, GNTMAP_host_map, 8, 77
        report  "B: a domain that does not exist: "
        gnt_map 0xF5800000, GNTMAP_host_map | GNTMAP_readonly, 8, [peer]
        report  "B: host_addr in the hypervisor hole: "
        gnt_map 0x40000000, GNTMAP_host_map | GNTMAP_readonly, 8, [peer]
        report  "B: host_addr with no L2: "
        gnt_map LOCAL_VA, GNTMAP_host_map, 11, [peer]
        report  "B: a page table mapped writable: "
        gnt_map PT_MAP_VA, GNTMAP_host_map | GNTMAP_readonly, 11, [peer]
        report  "B: a page table mapped read-only: "
        gnt_unmap PT_MAP_VA, ebx
        report  "B: ... unmapped: "
        gnt_unmap RW_VA, 0x777
        report  "B: an unknown handle: "
        mov     ebx, [handle_rw]
        gnt_unmap LOCAL_VA, ebx
        report  "B: a handle at the wrong address: "
        mov     eax, PTE_MAP_VA
        call    pte_ma
        gnt_map eax, GNTMAP_host_map | GNTMAP_readonly | GNTMAP_contains_pte, 8, [peer]
        push    ebx
        report  "B: map by PTE address: "
        mov     eax, [PTE_MAP_VA]
        report  "B: ... reads: "
        mov     eax, PTE_MAP_VA
        call    pte_ma
        pop     ebx
        gnt_unmap eax, ebx
        report  "B: ... unmapped: "
        mov     eax, LOCAL_VA
        call    mfn_of
        mov     [local_mfn], eax
        gnt_copy GNTCOPY_source_gref, 8, [peer], 4000, [local_mfn], DOMID_SELF, 0, 200
        report  "B: copy past the page: "
        gnt_copy GNTCOPY_source_gref, 8, [peer], 0, [local_mfn], DOMID_SELF, 0, 13
        report  "B: copy from the grant: "
        mov     byte [LOCAL_VA + 13], 0
        say     "B: ... copied: "
        print   LOCAL_VA
        mov     esi, copied_b
        mov     edi, LOCAL_VA + 0x100
        mov     ecx, copied_b_len
        rep movsb
        gnt_copy GNTCOPY_dest_gref, [local_mfn], DOMID_SELF, 0x100, 8, [peer], COPIED, copied_b_len
        report  "B: copy into the grant: "
        gnt_copy GNTCOPY_dest_gref, [local_mfn], DOMID_SELF, 0x100, 9, [peer], 0, 4
        report  "B: copy into a read-only grant: "
        gnt_copy 0, [local_mfn], 1, 0, [local_mfn], DOMID_SELF, 0, 4
        report  "B: a frame named by another domid: "
        mov     esi, hello_b
        mov     edi, RW_VA + REPLY
        mov     ecx, hello_b_len
        rep movsb
        mov     dword [RW_VA + B_MAPPED], 1               ; A sees it in P
        mov     ebx, RO_VA + A_GO
        call    wait_until_set
        mov     ebx, [handle_ro]
        gnt_unmap RO_VA, ebx
        report  "B: unmap read-only: "
        mov     ebx, [handle_rw]
        gnt_unmap RW_VA, ebx
        report  "B: unmap read-write: "
        mov     ebx, [handle_rw]
        gnt_unmap RW_VA, ebx
        report  "B: unmap again: "
        on_fault .gone
        mov     eax, [RO_VA]                               ; nothing is mapped there now
.gone:  shutdown SHUTDOWN_poweroff
hello_b:        db "hello from B", 10, 0
hello_b_len     equ $ - hello_b
copied_b:       db "copied by B", 10, 0
copied_b_len    equ $ - copied_b
local_mfn:      dd 0
`);

const lines = (text: string) => text.split("\n").filter((l) => l !== "");
const hex = (status: number) => (status >>> 0).toString(16).padStart(8, "0");

describe("grant tables between two PV domains", () => {
  it("A grants a page to B; B maps it read-only and read-write, writes back and unmaps; A cannot revoke until then", async () => {
    const ticker = new Uint8Array(readFileSync("build/guests/pv/ticker.bin"));
    const { consoles, domains, xen } = await bootPvDomains(
      [{ kernel: GRANTER_A, name: "A" }, { kernel: MAPPER_B, name: "B" }, { kernel: ticker, name: "canary" }],
      { budget: 1e9, before: (xen, [a, b]) => tellPeers(xen, [[a!, b!], [b!, a!]]) },
    );
    expect(lines(consoles[1]!)).toEqual([
      "B: read: hello from A",
      `B: map read-write: ${hex(GNTST_okay)}`,
      "#PF 00000003 00013000",
      `B: read-only grant mapped writable: ${hex(GNTST_general_error)}`,
      `B: a grant to another domain: ${hex(GNTST_general_error)}`,
      `B: a ref past the table: ${hex(GNTST_bad_gntref)}`,
      `B: neither host nor device map: ${hex(GNTST_bad_gntref)}`,
      `B: a domain that does not exist: ${hex(GNTST_bad_domain)}`,
      `B: host_addr in the hypervisor hole: ${hex(GNTST_general_error)}`,
      `B: host_addr with no L2: ${hex(GNTST_general_error)}`,
      `B: a page table mapped writable: ${hex(GNTST_general_error)}`,
      `B: a page table mapped read-only: ${hex(GNTST_okay)}`,
      `B: ... unmapped: ${hex(GNTST_okay)}`,
      `B: an unknown handle: ${hex(GNTST_bad_handle)}`,
      `B: a handle at the wrong address: ${hex(GNTST_general_error)}`,
      `B: map by PTE address: ${hex(GNTST_okay)}`,
      "B: ... reads: 6c6c6568",
      `B: ... unmapped: ${hex(GNTST_okay)}`,
      `B: copy past the page: ${hex(GNTST_bad_copy_arg)}`,
      `B: copy from the grant: ${hex(GNTST_okay)}`,
      "B: ... copied: hello from A",
      `B: copy into the grant: ${hex(GNTST_okay)}`,
      `B: copy into a read-only grant: ${hex(GNTST_general_error)}`,
      `B: a frame named by another domid: ${hex(GNTST_permission_denied)}`,
      `B: unmap read-only: ${hex(GNTST_okay)}`,
      `B: unmap read-write: ${hex(GNTST_okay)}`,
      `B: unmap again: ${hex(GNTST_bad_handle)}`,
      "#PF 00000000 00013000",
    ]);
    expect(lines(consoles[0]!)).toEqual([
      `A: end access while mapped: ${hex(GTF_permit_access | GTF_reading | GTF_writing)}`,
      "A: end access after unmap: 00000000",
      `A: flags of the read-only grant: ${hex(GTF_permit_access | GTF_readonly)}`,
      `A: flags of the page-table grant: ${hex(GTF_permit_access)}`,
      "A: reply: hello from B",
      "A: copied in: copied by B",
    ]);
    expect(domains.map((d) => d.shutdownReason)).toEqual([SHUTDOWN_poweroff, SHUTDOWN_poweroff, SHUTDOWN_poweroff]);
    expect(consoles[2]).toMatch(/^ticker: 5 ticks, 10 ms apart\n(tick \d at \d+ ms\n){5}ticker: done\n$/);
    // No grant is active and B holds no mapping: nothing references A's page but A's own tables.
    expect(xen.grants.tableOf(domains[0]!).activeRefs()).toEqual([]);
    expect(xen.grants.tableOf(domains[1]!).maptrack.size).toBe(0);
  });
});

/** grant_table_op(CMD, OP, COUNT) with its return value printed, whatever it is. */
const RAW = (cmd: string, op: string, count: string, label: string) => `
        mov     ebx, ${cmd}
        mov     ecx, ${op}
        mov     edx, ${count}
        hypercall __HYPERVISOR_grant_table_op
        report  "${label}"`;

describe("grant_table_op on the caller's own table", () => {
  it("sizes the table lazily up to its maximum, and answers versions and bad calls as Xen does", async () => {
    const { consoles, domains } = await bootPvDomains([{ kernel: kernel(`
entry:  call    setup
        mov     word [query_op + gnttab_query_size.dom], DOMID_SELF
        gnttab  GNTTABOP_query_size, query_op, 1
        mov     eax, [query_op + gnttab_query_size.nr_frames]
        report  "frames before setup: "
        mov     eax, [query_op + gnttab_query_size.max_nr_frames]
        report  "at most: "
        mov     word [setup_op + gnttab_setup_table.dom], DOMID_SELF
        mov     dword [setup_op + gnttab_setup_table.frame_list], frame_list
        mov     dword [setup_op + gnttab_setup_table.nr_frames], 33
        gnttab  GNTTABOP_setup_table, setup_op, 1
        movsx   eax, word [setup_op + gnttab_setup_table.status]
        report  "setup 33 frames: "
        mov     dword [setup_op + gnttab_setup_table.nr_frames], 2
        gnttab  GNTTABOP_setup_table, setup_op, 1
        movsx   eax, word [setup_op + gnttab_setup_table.status]
        report  "setup 2 frames: "
        mov     eax, [frame_list + 4]
        sub     eax, [frame_list]
        setnz   al
        movzx   eax, al
        report  "two different frames: "
        gnttab  GNTTABOP_query_size, query_op, 1
        mov     eax, [query_op + gnttab_query_size.nr_frames]
        report  "frames after setup: "
        mov     word [setup_op + gnttab_setup_table.dom], 99
        gnttab  GNTTABOP_setup_table, setup_op, 1
        movsx   eax, word [setup_op + gnttab_setup_table.status]
        report  "setup for a domain that does not exist: "
        mov     word [setup_op + gnttab_setup_table.dom], 1
        gnttab  GNTTABOP_setup_table, setup_op, 1
        movsx   eax, word [setup_op + gnttab_setup_table.status]
        report  "setup naming itself by domid: "
        mov     word [setup_op + gnttab_setup_table.dom], DOMID_SELF
        mov     dword [setup_op + gnttab_setup_table.frame_list], 0xF5800000
        ${RAW("GNTTABOP_setup_table", "setup_op", "1", "setup with frame_list in the hole: ")}
        mov     dword [version], 2
        ${RAW("GNTTABOP_set_version", "version", "1", "set_version 2: ")}
        mov     eax, [version]
        report  "... version in force: "
        mov     dword [version], 3
        ${RAW("GNTTABOP_set_version", "version", "1", "set_version 3: ")}
        mov     dword [version], 1
        ${RAW("GNTTABOP_set_version", "version", "1", "set_version 1: ")}
        mov     dword [version], DOMID_SELF
        ${RAW("GNTTABOP_get_version", "version", "1", "get_version: ")}
        mov     eax, [version + 4]
        report  "... version: "
        mov     dword [version], 99
        ${RAW("GNTTABOP_get_version", "version", "1", "get_version of a domain that does not exist: ")}
        ${RAW("GNTTABOP_query_size", "query_op", "2", "query_size with count 2: ")}
        ${RAW("GNTTABOP_map_grant_ref", "map_op", "-1", "a negative count: ")}
        ${RAW("GNTTABOP_map_grant_ref", "0xF5800000", "1", "ops in the hole: ")}
        ${RAW("GNTTABOP_query_size | 0x1000", "query_op", "1", "bits above the command: ")}
        ${RAW("3", "query_op", "1", "dump_table: ")}
        ${RAW("99", "query_op", "1", "an unknown command: ")}
        ${RAW("GNTTABOP_map_grant_ref", "map_op", "0", "an empty batch: ")}
        shutdown SHUTDOWN_poweroff
`) }]);
    expect(lines(consoles[0]!)).toEqual([
      "frames before setup: 00000001",
      "at most: 00000020",
      `setup 33 frames: ${hex(GNTST_general_error)}`,
      `setup 2 frames: ${hex(GNTST_okay)}`,
      "two different frames: 00000001",
      "frames after setup: 00000002",
      `setup for a domain that does not exist: ${hex(GNTST_bad_domain)}`,
      `setup naming itself by domid: ${hex(GNTST_okay)}`,
      `setup with frame_list in the hole: ${hex(-EFAULT)}`,
      `set_version 2: ${hex(-ENOSYS)}`,
      "... version in force: 00000001",
      `set_version 3: ${hex(-EINVAL)}`,
      "set_version 1: 00000000",
      "get_version: 00000000",
      "... version: 00000001",
      `get_version of a domain that does not exist: ${hex(-ESRCH)}`,
      `query_size with count 2: ${hex(-EINVAL)}`,
      `a negative count: ${hex(-EINVAL)}`,
      `ops in the hole: ${hex(-EFAULT)}`,
      `bits above the command: ${hex(-EINVAL)}`,
      `dump_table: ${hex(-ENOSYS)}`,
      `an unknown command: ${hex(-ENOSYS)}`,
      "an empty batch: 00000000",
    ]);
    expect(domains[0]!.shutdownReason).toBe(SHUTDOWN_poweroff);
  });

  it("refuses setup_table and query_size naming another domain (GNTST_permission_denied)", async () => {
    const other = kernel(`
entry:  call    setup
        mov     word [query_op + gnttab_query_size.dom], 1
        gnttab  GNTTABOP_query_size, query_op, 1
        movsx   eax, word [query_op + gnttab_query_size.status]
        report  "query another domain: "
        mov     word [setup_op + gnttab_setup_table.dom], 1
        mov     dword [setup_op + gnttab_setup_table.nr_frames], 1
        mov     dword [setup_op + gnttab_setup_table.frame_list], frame_list
        gnttab  GNTTABOP_setup_table, setup_op, 1
        movsx   eax, word [setup_op + gnttab_setup_table.status]
        report  "setup another domain: "
        shutdown SHUTDOWN_poweroff
`);
    const idle = kernel(`
entry:  shutdown SHUTDOWN_poweroff
`);
    const { consoles } = await bootPvDomains([{ kernel: idle }, { kernel: other }]);
    expect(lines(consoles[1]!)).toEqual([
      `query another domain: ${hex(GNTST_permission_denied)}`,
      `setup another domain: ${hex(GNTST_permission_denied)}`,
    ]);
  });
});

/**
 * A granter for domain 0's backends: ref 8 shares P read-write, 9 shares Q
 * read-only, 10 shares P with domain 5 instead, 11 one of its L1 tables,
 * 12 a frame that is not its own; then it powers off, and its memory and
 * grants stay until the toolstack destroys it.
 */
const GRANTER_DOM0 = kernel(`
entry:  call    setup
        call    table_setup
        mov     esi, payload
        mov     edi, PAGE_P
        mov     ecx, payload_len
        rep movsb
        grant   8, PAGE_P, 0, GTF_permit_access
        grant   9, PAGE_Q, 0, GTF_permit_access | GTF_readonly
        grant   10, PAGE_P, 5, GTF_permit_access
        mov     eax, 0
        call    pte_va
        grant   11, eax, 0, GTF_permit_access
        mov     dword [GNTTAB_VA + 12 * 8 + 4], 16        ; a frame of the hypervisor's
        mov     word [GNTTAB_VA + 12 * 8 + 2], 0
        mov     word [GNTTAB_VA + 12 * 8], GTF_permit_access
        shutdown SHUTDOWN_poweroff
payload:        db "payload from the guest", 0
payload_len     equ $ - payload
`);

/** A booted granter, with what a test needs to look at: the frames it shares and its grant entries' flags. */
async function granterForDom0() {
  const { xen, domains } = await bootPvDomains([{ kernel: GRANTER_DOM0 }]);
  const domain = domains[0]!;
  expect(domain.shutdownReason).toBe(SHUTDOWN_poweroff);
  const p2m = domain.built.p2m;
  const table = xen.grants.tableOf(domain);
  return {
    xen,
    domain,
    domid: domain.domid,
    mfnP: p2m.get(0x11),
    mfnQ: p2m.get(0x12),
    flags: (ref: number) => table.entryFlags(ref),
    text: (m: Dom0GrantMapping, offset: number, length: number) => new TextDecoder().decode(m.read(offset, length)),
  };
}

const mapped = (m: Dom0GrantMapping | number): Dom0GrantMapping => {
  if (typeof m === "number") throw new Error(`the map failed with GNTST ${m}`);
  return m;
};

describe("domain 0's grant API for backends", () => {
  it("maps a grant read-write: the frame reads and writes, holds a writable type, and the entry shows reading and writing until unmapped", async () => {
    const g = await granterForDom0();
    const before = { count: g.xen.frames.count[g.mfnP]!, typeCount: g.xen.frames.typeCount[g.mfnP]! };
    const m = mapped(g.xen.grants.mapForDom0(g.domid, 8));
    expect(m.mfn).toBe(g.mfnP);
    expect(g.text(m, 0, 22)).toBe("payload from the guest");
    expect(g.flags(8)).toBe(GTF_permit_access | GTF_reading | GTF_writing);
    expect(g.xen.frames.count[g.mfnP]).toBe(before.count + 1);
    expect(g.xen.frames.typeCount[g.mfnP]).toBe(before.typeCount + 1);
    expect(g.xen.frames.type[g.mfnP]).toBe(PGT_writable_page);
    m.write(0x100, new TextEncoder().encode("from dom0"));
    expect(new TextDecoder().decode(g.xen.cpu.read(g.mfnP * 4096 + 0x100, 9))).toBe("from dom0");
    expect(g.xen.grants.unmapForDom0(m)).toBe(GNTST_okay);
    expect(g.flags(8)).toBe(GTF_permit_access);
    expect({ count: g.xen.frames.count[g.mfnP], typeCount: g.xen.frames.typeCount[g.mfnP] }).toEqual(before);
    expect(() => m.read(0, 4)).toThrow(/no longer mapped/);
    expect(g.xen.grants.unmapForDom0(m)).toBe(GNTST_bad_handle);
    expect(g.xen.grants.dom0Mappings).toBe(0);
  });

  it("honours read-only: a read-only grant maps only read-only, and a read-only mapping refuses writes", async () => {
    const g = await granterForDom0();
    expect(g.xen.grants.mapForDom0(g.domid, 9)).toBe(GNTST_general_error);
    expect(g.flags(9)).toBe(GTF_permit_access | GTF_readonly);
    const m = mapped(g.xen.grants.mapForDom0(g.domid, 9, { readonly: true }));
    expect(g.flags(9)).toBe(GTF_permit_access | GTF_readonly | GTF_reading);
    expect(() => m.write(0, Uint8Array.of(1))).toThrow(/read-only/);
    const p = mapped(g.xen.grants.mapForDom0(g.domid, 8, { readonly: true }));
    expect(g.flags(8)).toBe(GTF_permit_access | GTF_reading);
    expect(g.xen.frames.typeCount[g.mfnP]).toBe(1);
    expect(() => p.read(4000, 200)).toThrow(RangeError);
    expect(g.xen.grants.unmapForDom0(m)).toBe(GNTST_okay);
    expect(g.xen.grants.unmapForDom0(p)).toBe(GNTST_okay);
    expect([g.flags(8), g.flags(9)]).toEqual([GTF_permit_access, GTF_permit_access | GTF_readonly]);
  });

  it("keeps GTF_writing while any writable use remains, and GTF_reading until the last use", async () => {
    const g = await granterForDom0();
    const ro = mapped(g.xen.grants.mapForDom0(g.domid, 8, { readonly: true }));
    const rw = mapped(g.xen.grants.mapForDom0(g.domid, 8));
    expect(g.flags(8)).toBe(GTF_permit_access | GTF_reading | GTF_writing);
    expect(g.xen.grants.unmapForDom0(rw)).toBe(GNTST_okay);
    expect(g.flags(8)).toBe(GTF_permit_access | GTF_reading);
    expect(g.xen.grants.unmapForDom0(ro)).toBe(GNTST_okay);
    expect(g.flags(8)).toBe(GTF_permit_access);
  });

  it("refuses what a guest's map would be refused, leaving the entries as they were", async () => {
    const g = await granterForDom0();
    expect(g.xen.grants.mapForDom0(g.domid, 10)).toBe(GNTST_general_error);
    expect(g.xen.grants.mapForDom0(g.domid, 512)).toBe(GNTST_bad_gntref);
    expect(g.xen.grants.mapForDom0(99, 8)).toBe(GNTST_bad_domain);
    expect(g.xen.grants.mapForDom0(g.domid, 11)).toBe(GNTST_general_error);
    expect(g.xen.grants.mapForDom0(g.domid, 12)).toBe(GNTST_bad_page);
    expect(g.xen.grants.unmapForDom0(1234)).toBe(GNTST_bad_handle);
    expect([10, 11, 12].map(g.flags)).toEqual([GTF_permit_access, GTF_permit_access, GTF_permit_access]);
    const pt = mapped(g.xen.grants.mapForDom0(g.domid, 11, { readonly: true }));
    expect(g.xen.grants.unmapForDom0(pt)).toBe(GNTST_okay);
    expect(g.xen.grants.dom0Mappings).toBe(0);
  });

  it("copies from and to a grant within one page, marking the entry only while the copy runs", async () => {
    const g = await granterForDom0();
    expect(new TextDecoder().decode(g.xen.grants.copyFromGrant(g.domid, 8, 0, 7) as Uint8Array)).toBe("payload");
    expect(g.xen.grants.copyToGrant(g.domid, 8, 0x200, new TextEncoder().encode("copied"))).toBe(GNTST_okay);
    expect(new TextDecoder().decode(g.xen.cpu.read(g.mfnP * 4096 + 0x200, 6))).toBe("copied");
    expect(g.flags(8)).toBe(GTF_permit_access);
    expect(g.xen.grants.copyFromGrant(g.domid, 8, 4000, 200)).toBe(GNTST_bad_copy_arg);
    expect(g.xen.grants.copyToGrant(g.domid, 8, 4095, Uint8Array.of(1, 2))).toBe(GNTST_bad_copy_arg);
    expect(g.xen.grants.copyToGrant(g.domid, 9, 0, Uint8Array.of(1))).toBe(GNTST_general_error);
    expect(g.xen.grants.copyToGrant(g.domid, 11, 0, Uint8Array.of(1))).toBe(GNTST_general_error);
    expect(g.xen.grants.copyFromGrant(g.domid, 10, 0, 1)).toBe(GNTST_general_error);
    expect(g.xen.grants.copyFromGrant(g.domid, 12, 0, 1)).toBe(GNTST_bad_page);
    expect(g.xen.grants.copyFromGrant(g.domid, 9, 0, 4)).toBeInstanceOf(Uint8Array);
    expect([8, 9, 10, 11, 12].map(g.flags)).toEqual([1, 5, 1, 1, 1]);
    expect(g.xen.frames.typeCount[g.mfnP]).toBe(1);
  });

  it("runs out of handles at the maptrack limit (GNTST_no_device_space), and has them again after unmaps", async () => {
    const g = await granterForDom0();
    const all = Array.from({ length: MAX_MAPTRACK_HANDLES }, () => mapped(g.xen.grants.mapForDom0(g.domid, 8, { readonly: true })));
    expect(new Set(all.map((m) => m.handle)).size).toBe(MAX_MAPTRACK_HANDLES);
    expect(g.xen.grants.mapForDom0(g.domid, 8, { readonly: true })).toBe(GNTST_no_device_space);
    expect(g.xen.grants.unmapForDom0(all[7]!)).toBe(GNTST_okay);
    expect(mapped(g.xen.grants.mapForDom0(g.domid, 8)).handle).toBe(all[7]!.handle);
    expect(g.xen.frames.count[g.mfnP]).toBe(1 + MAX_MAPTRACK_HANDLES);
  });

  it("keeps a destroyed granter's frame alive while domain 0 maps it, and frees it at the unmap", async () => {
    const g = await granterForDom0();
    const m = mapped(g.xen.grants.mapForDom0(g.domid, 8));
    g.xen.destroyDomain(g.domain);
    expect(g.xen.frames.lingeringFrames).toEqual([g.mfnP]);
    expect(g.xen.frames.ownerOf(g.mfnP)).toBe(g.domid);
    expect(g.text(m, 0, 7)).toBe("payload");
    expect(g.xen.grants.unmapForDom0(m)).toBe(GNTST_okay);
    expect(g.xen.frames.ownerOf(g.mfnP)).toBe(DOMID_INVALID);
    expect(g.xen.frames.lingeringFrames).toEqual([]);
    expect(g.xen.frames.pagesOf(g.domid)).toBe(0);
  });
});

/** A granter that shares P read-write with its peer and powers off, its grant left in place. */
const GRANT_AND_EXIT = kernel(`
entry:  call    setup
        call    parse_peer
        call    table_setup
        mov     dword [PAGE_P], "A's "
        grant   8, PAGE_P, [peer], GTF_permit_access
        shutdown SHUTDOWN_poweroff
`);

/**
 * A mapper that maps the grant read-write and read-only, tries to map the
 * frame with an ordinary PTE, drops the read-only mapping behind the grant
 * table's back (an implicit unmap), and powers off still holding the
 * read-write one.
 */
const MAP_AND_EXIT = kernel(`
entry:  call    setup
        call    parse_peer
        mov     ecx, 100000
.wait:  push    ecx
        gnt_map RW_VA, GNTMAP_host_map, 8, [peer]
        pop     ecx
        test    eax, eax
        jz      .mapped
        call    yield
        loop    .wait
        shutdown SHUTDOWN_crash
.mapped:
        mov     [handle_rw], ebx
        mov     eax, [map_op + gnttab_map_grant_ref.dev_bus_addr]
        mov     [foreign], eax
        gnt_map RO_VA, GNTMAP_host_map | GNTMAP_readonly, 8, [peer]
        mov     [handle_ro], ebx
        report  "map read-only: "
        mov     eax, [RO_VA]
        report  "reads: "
        mov     ebx, LOCAL_VA                              ; the same frame by an ordinary PTE: refused
        mov     ecx, [foreign]
        or      ecx, PTE_P | PTE_A
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        report  "update_va_mapping to the granted frame: "
        mov     ebx, RO_VA                                 ; the grant's PTE cleared by update_va_mapping
        xor     ecx, ecx
        xor     edx, edx
        mov     esi, UVMF_INVLPG
        hypercall __HYPERVISOR_update_va_mapping
        report  "PTE cleared behind the grant table's back: "
        mov     ebx, [handle_ro]
        gnt_unmap RO_VA, ebx
        report  "unmap after that: "
        shutdown SHUTDOWN_poweroff
foreign:        dd 0
`);

/** Every reference count checked against its holders (test/hypervisor/mm/fixture.ts), grant frames included. */
function auditAll(xen: Hypervisor): string[] {
  const view = new DataView(xen.cpu.ram.buffer, xen.cpu.ram.byteOffset, xen.cpu.ram.byteLength);
  const machine = {
    frames: xen.frames,
    types: xen.types,
    entry: (mfn: number, i: number): [number, number] => [view.getUint32(mfn * 4096 + 8 * i, true), view.getUint32(mfn * 4096 + 8 * i + 4, true)],
  } as unknown as Machine;
  const held: number[] = [];
  for (const domain of xen.domains.values()) {
    for (const v of domain.vcpus) held.push(v.cr3Mfn, ...v.gdtFrames, ...v.ldtFrames.filter((mfn) => mfn >= 0));
    held.push(...(domain.grantTable?.frameMfns ?? []));
    // The hypervisor's own holds: shared_info (Xen's share_xen_page_with_guest) and the console's and xenstore's ring frames.
    held.push(domain.built.sharedInfoMfn);
    if (xen.events.consoleRingOf(domain)) held.push(domain.built.consoleMfn);
    if (xen.events.storeRingOf(domain)) held.push(domain.built.storeMfn);
  }
  return audit(machine, held);
}

async function mappedAndExited() {
  const run = await bootPvDomains(
    [{ kernel: GRANT_AND_EXIT }, { kernel: MAP_AND_EXIT }],
    { before: (xen, [a, b]) => tellPeers(xen, [[a!, b!], [b!, a!]]) },
  );
  const [a, b] = run.domains as [Domain, Domain];
  return { ...run, a, b, mfnP: a.built.p2m.get(0x11), flags: () => run.xen.grants.tableOf(a).entryFlags(8) };
}

describe("grant mappings and the end of a domain", () => {
  it("an ordinary PTE cannot reach a granted frame, and an implicitly unmapped grant stays active until its mapper dies", async () => {
    const { consoles, xen, a, b, mfnP, flags } = await mappedAndExited();
    expect(lines(consoles[1]!)).toEqual([
      `map read-only: ${hex(GNTST_okay)}`,
      "reads: 20732741",
      `update_va_mapping to the granted frame: ${hex(-EBUSY)}`,
      "PTE cleared behind the grant table's back: 00000000",
      `unmap after that: ${hex(GNTST_general_error)}`,
    ]);
    expect(flags()).toBe(GTF_permit_access | GTF_reading | GTF_writing);
    // A's own RW mapping, and B's remaining RW grant PTE; the implicit unmap dropped the read-only one's.
    expect([xen.frames.count[mfnP], xen.frames.typeCount[mfnP]]).toEqual([2, 2]);
    expect(xen.grants.tableOf(b).maptrack.size).toBe(2);
    xen.destroyDomain(b);
    expect(flags()).toBe(GTF_permit_access);
    expect(xen.grants.tableOf(a).activeRefs()).toEqual([]);
    expect([xen.frames.count[mfnP], xen.frames.typeCount[mfnP]]).toEqual([1, 1]);
    expect(auditAll(xen)).toEqual([]);
  });

  it("destroying the granter first leaves its frame to the mapper until the mapper lets go", async () => {
    const { xen, a, b, mfnP } = await mappedAndExited();
    xen.destroyDomain(a);
    expect(xen.frames.lingeringFrames).toEqual([mfnP]);
    expect(xen.frames.ownerOf(mfnP)).toBe(a.domid);
    expect(xen.frames.pagesOf(a.domid)).toBe(1);
    xen.destroyDomain(b);
    expect(xen.frames.lingeringFrames).toEqual([]);
    expect(xen.frames.ownerOf(mfnP)).toBe(DOMID_INVALID);
    expect(xen.frames.pagesOf(a.domid)).toBe(0);
    expect(xen.frames.pagesOf(b.domid)).toBe(0);
    expect(auditAll(xen)).toEqual([]);
  });
});

describe("GNTMAP_device_map", () => {
  it("holds the frame without a PTE, unmapped by its bus address; with host_map too, each part unmaps on its own", async () => {
    const DEVICE_MAPPER = kernel(`
entry:  call    setup
        call    parse_peer
        mov     ecx, 100000
.wait:  push    ecx
        gnt_map 0, GNTMAP_device_map, 8, [peer]
        pop     ecx
        test    eax, eax
        jz      .mapped
        call    yield
        loop    .wait
        shutdown SHUTDOWN_crash
.mapped:
        mov     esi, [map_op + gnttab_map_grant_ref.dev_bus_addr]
        mov     edi, ebx
        mov     dword [unmap_op + gnttab_unmap_grant_ref.dev_bus_addr], 0x1000
        gnt_unmap 0, edi
        report  "unmap at the wrong bus address: "
        mov     [unmap_op + gnttab_unmap_grant_ref.dev_bus_addr], esi
        gnt_unmap 0, edi
        report  "unmap at its bus address: "
        gnt_unmap 0, edi
        report  "again: "
        mov     dword [unmap_op + gnttab_unmap_grant_ref.dev_bus_addr], 0
        gnt_map RW_VA, GNTMAP_device_map | GNTMAP_host_map, 8, [peer]
        mov     edi, ebx
        report  "device and host map: "
        gnt_unmap RW_VA, edi
        report  "unmap the host part: "
        mov     eax, [map_op + gnttab_map_grant_ref.dev_bus_addr]
        mov     [unmap_op + gnttab_unmap_grant_ref.dev_bus_addr], eax
        gnt_unmap 0, edi
        report  "unmap the device part: "
        gnt_unmap 0, edi
        report  "again: "
        shutdown SHUTDOWN_poweroff
`);
    const { consoles, xen, domains } = await bootPvDomains(
      [{ kernel: GRANT_AND_EXIT }, { kernel: DEVICE_MAPPER }],
      { before: (xen, [a, b]) => tellPeers(xen, [[a!, b!], [b!, a!]]) },
    );
    expect(lines(consoles[1]!)).toEqual([
      `unmap at the wrong bus address: ${hex(GNTST_general_error)}`,
      `unmap at its bus address: ${hex(GNTST_okay)}`,
      `again: ${hex(GNTST_bad_handle)}`,
      `device and host map: ${hex(GNTST_okay)}`,
      `unmap the host part: ${hex(GNTST_okay)}`,
      `unmap the device part: ${hex(GNTST_okay)}`,
      `again: ${hex(GNTST_bad_handle)}`,
    ]);
    const mfnP = domains[0]!.built.p2m.get(0x11);
    expect(xen.grants.tableOf(domains[0]!).entryFlags(8)).toBe(GTF_permit_access);
    expect([xen.frames.count[mfnP], xen.frames.typeCount[mfnP]]).toEqual([1, 1]);
    expect(auditAll(xen)).toEqual([]);
  });
});
