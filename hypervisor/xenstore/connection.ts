// hypervisor/xenstore/connection.ts — one client of xenstored: a domain's ring, or domain 0 itself.
//
// What xenstored keeps per client (struct connection in xenstored's
// core.h): who it is, which domain it acts for (SET_TARGET), its watches
// and open transactions, and the messages waiting to go out to it —
// replies and watch events, oldest first, each sent whole and in order,
// possibly across several turns of the ring. The count of replies waiting
// is what quota_req_outstanding limits; the bytes waiting are what
// quota_memory_per_domain_hard limits for watch events.

import { XENSTORE_PAYLOAD_MAX, XS_WATCH_EVENT, type XsMessage, encodeXsMessage, textBytes } from "../abi/io/xs_wire.js";
import type { Accessor } from "./permissions.js";
import { quota_memory_per_domain_hard } from "./quota.js";
import type { Transaction } from "./transaction.js";
import type { Watch } from "./watch.js";

/** Where a connection's output goes: the ring backend writes what fits and notifies the guest. */
export interface XsTransport {
  /** Messages were queued for this connection. */
  kick(): void;
  /** The daemon let go of the domain: nothing more may be read from or written to it. */
  disconnect?(): void;
}

interface Outgoing {
  readonly bytes: Uint8Array;
  readonly isReply: boolean;
}

export class Connection implements Accessor {
  target: number | null = null;
  readonly watches: Watch[] = [];
  readonly transactions = new Map<number, Transaction>();
  /** @releaseDomain was fired for this domain's shutdown; RESUME clears it (xenstored's domain->shutdown). */
  shutdownNotified = false;
  private nextTransactionId = 1;
  private readonly out: Outgoing[] = [];
  /** Bytes of the oldest message already written. */
  private outOffset = 0;
  private outBytes = 0;
  private repliesWaiting = 0;
  /** Watch events dropped because the domain was over its memory quota. */
  eventsDropped = 0;

  constructor(
    readonly domid: number,
    readonly privileged: boolean,
    public transport: XsTransport | null,
  ) {}

  /** Replies waiting to be written (xenstored's nboutstanding). */
  get outstanding(): number {
    return this.repliesWaiting;
  }

  get pendingBytes(): number {
    return this.outBytes - this.outOffset;
  }

  /** A reply to a request; always queued, as xenstored does (send_reply checks no quota). */
  queueReply(msg: XsMessage): void {
    const bytes = encodeXsMessage(msg);
    this.out.push({ bytes, isReply: true });
    this.outBytes += bytes.length;
    this.repliesWaiting++;
  }

  /**
   * A watch event (send_event): dropped when longer than a payload may be,
   * when the same event is already waiting (except special ones), or when
   * it would take a guest past its memory quota. True when queued.
   */
  queueEvent(path: string, token: string): boolean {
    const text = textBytes(`${path}\0${token}\0`);
    if (text.length > XENSTORE_PAYLOAD_MAX) return false;
    const bytes = encodeXsMessage({ type: XS_WATCH_EVENT, reqId: 0, txId: 0, payload: text });
    if (!path.startsWith("@") && this.out.some((o, i) => !o.isReply && (i > 0 || this.outOffset === 0) && sameBytes(o.bytes, bytes))) return false;
    if (!this.privileged && this.pendingBytes + bytes.length > quota_memory_per_domain_hard) {
      this.eventsDropped++;
      return false;
    }
    this.out.push({ bytes, isReply: false });
    this.outBytes += bytes.length;
    return true;
  }

  /** Up to `max` bytes of waiting output, which then count as written. */
  takeOutput(max: number): Uint8Array {
    const chunks: Uint8Array[] = [];
    let taken = 0;
    while (taken < max && this.out.length > 0) {
      const head = this.out[0]!;
      const n = Math.min(max - taken, head.bytes.length - this.outOffset);
      chunks.push(head.bytes.subarray(this.outOffset, this.outOffset + n));
      taken += n;
      this.outOffset += n;
      if (this.outOffset === head.bytes.length) {
        this.out.shift();
        this.outBytes -= head.bytes.length;
        this.outOffset = 0;
        if (head.isReply) this.repliesWaiting--;
      }
    }
    const bytes = new Uint8Array(taken);
    let at = 0;
    for (const c of chunks) {
      bytes.set(c, at);
      at += c.length;
    }
    return bytes;
  }

  /** Whole messages waiting, for domain 0's in-process connection and tests. */
  takeMessages(): Uint8Array[] {
    const all = this.out.map((o) => o.bytes);
    this.dropOutput();
    return all;
  }

  /** A fresh transaction id: never 0, never one in use. */
  allocateTransactionId(): number {
    for (;;) {
      const id = this.nextTransactionId;
      this.nextTransactionId = (this.nextTransactionId + 1) >>> 0 || 1;
      if (!this.transactions.has(id)) return id;
    }
  }

  dropOutput(): void {
    this.out.length = 0;
    this.outOffset = 0;
    this.outBytes = 0;
    this.repliesWaiting = 0;
  }

  /** Forgets everything the client set up (RESET_WATCHES, release, reconnection). */
  reset(): void {
    this.watches.length = 0;
    this.transactions.clear();
    this.dropOutput();
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
