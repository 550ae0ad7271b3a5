// hypervisor/xenstore/ring.ts — a domain's connection to xenstored: the xenstore ring page and its event channel.
//
// start_info names a page (store_mfn) holding struct
// xenstore_domain_interface and a port (store_evtchn). The guest writes
// request messages into req[], advances req_prod and sends on the port;
// xenstored reads them, advances req_cons, writes replies and watch events
// into rsp[], advances rsp_prod and notifies back; the guest reads and
// advances rsp_cons (XEN-ABI.md 9.5, io/xs_wire.h). Messages are streams of
// bytes that may wrap around a ring and arrive in pieces: a 16-byte header
// (struct xsd_sockmsg) and `len` bytes of payload. Under Xen the daemon's
// end is xenstored in domain 0 (domain_can_read, readchn, writechn in its
// domain.c); here it is this object, the backend at the far end of the
// guest's port (EvtchnBackend, hypervisor/evtchn.ts), feeding the daemon
// (hypervisor/xenstore/daemon.ts).
//
// When the ring is read: when the guest sends on the port, when it yields,
// blocks or polls, and at the end of each of its slices (hypervisor/
// events.ts), as xenstored's main loop looks at every ring on each turn.
// Replies are written when they are made and whenever room appears.
//
// Every index and length is hostile. As xenstored does, a producer more than
// a ring's size ahead of its consumer, or a header announcing more than
// XENSTORE_PAYLOAD_MAX bytes, gets the connection ignored: the error field
// says why (XENSTORE_ERROR_RINGIDX, XENSTORE_ERROR_PROTO, the page
// advertises XENSTORE_SERVER_FEATURE_ERROR), nothing more is read or
// written, and the guest runs on. It can start over by setting connection
// to XENSTORE_RECONNECT and notifying: the daemon drops its watches,
// transactions and queued output, zeroes the indices, and sets connection
// back to XENSTORE_CONNECTED (XENSTORE_SERVER_FEATURE_RECONNECTION). Each
// service reads at most what the guest had produced when it began, so it
// always ends; every byte is addressed as its index masked to the ring, and
// the page is reached as machine memory, never through the guest's tables.
// A guest with quota_req_outstanding replies not yet taken is not read
// until it takes some.

import {
  MASK_XENSTORE_IDX, XENSTORE_CONNECTED, XENSTORE_ERROR_NONE, XENSTORE_ERROR_PROTO, XENSTORE_ERROR_RINGIDX,
  XENSTORE_PAYLOAD_MAX, XENSTORE_RECONNECT, XENSTORE_RING_SIZE, XENSTORE_SERVER_FEATURE_ERROR,
  XENSTORE_SERVER_FEATURE_RECONNECTION, decodeXsHeader, xenstore_domain_interface, xsd_sockmsg,
} from "../abi/io/xs_wire.js";
import type { EventChannels, EvtchnBackend } from "../evtchn.js";
import type { Connection, XsTransport } from "./connection.js";
import type { Xenstored } from "./daemon.js";
import { quota_req_outstanding } from "./quota.js";

const PAGE_SIZE = 4096;

/** Machine memory as the ring needs it: words for the indices, bytes for the messages. */
export interface RingMemory {
  read32(pa: number): number;
  write32(pa: number, value: number): void;
  read(pa: number, length: number): Uint8Array;
  write(pa: number, bytes: Uint8Array): void;
}

/** A pass over the ring can at most read one ring's worth and write one: a few rounds always suffice. */
const MAX_ROUNDS = 8;

export class XenstoreRing implements EvtchnBackend, XsTransport {
  /** The guest's end (start_info.store_evtchn); 0 when it could not be bound or was closed. */
  private guestPort = 0;
  private daemon: Xenstored | null = null;
  private conn: Connection | null = null;
  private readonly ringMa: number;
  /** The request being assembled: its header, then its payload. */
  private readonly header = new Uint8Array(xsd_sockmsg.sizeof);
  private headerUsed = 0;
  private payload: Uint8Array | null = null;
  private payloadUsed = 0;
  private servicing = false;
  /** Why the connection is ignored (XENSTORE_ERROR_*), or XENSTORE_ERROR_NONE. */
  private ignored = XENSTORE_ERROR_NONE;
  /** Messages taken and bytes moved, for the dashboard and tests. */
  readonly stats = { requests: 0, bytesIn: 0, bytesOut: 0 };

  /**
   * Sets up the ring of a domain just built: binds a port of `channels` to
   * this backend, whose own port in domain 0 is `port`, and advertises the
   * server's features in the page. `released` runs when the guest's end
   * closes. The builder zeroed the page: indices 0, connected, no error.
   */
  constructor(
    private readonly mem: RingMemory,
    storeMfn: number,
    private readonly channels: EventChannels,
    readonly port: number,
    private readonly released: () => void,
  ) {
    this.ringMa = storeMfn * PAGE_SIZE;
    this.mem.write32(this.ringMa + xenstore_domain_interface.server_features, XENSTORE_SERVER_FEATURE_RECONNECTION | XENSTORE_SERVER_FEATURE_ERROR);
    const guestPort = channels.connectBackend(this);
    if (guestPort > 0) this.guestPort = guestPort;
    else released();
  }

  /** The guest's port, 0 when the ring has no event channel. */
  get evtchn(): number {
    return this.guestPort;
  }

  /** Why the connection is ignored (XENSTORE_ERROR_*), XENSTORE_ERROR_NONE while it is served. */
  get error(): number {
    return this.ignored;
  }

  /** The daemon took the domain on (INTRODUCE): requests are served from now on. */
  attach(daemon: Xenstored, conn: Connection): void {
    this.daemon = daemon;
    this.conn = conn;
  }

  /** The daemon let go of the domain (RELEASE, destruction): nothing more is read or written. */
  disconnect(): void {
    this.daemon = null;
    this.conn = null;
  }

  // ------------------------------------------------------------ EvtchnBackend and XsTransport

  notify(): void {
    this.service();
  }

  closed(): void {
    this.guestPort = 0;
    this.released();
  }

  /** The daemon queued output: write what fits now (inside a service pass, that pass writes it). */
  kick(): void {
    if (this.servicing || !this.conn || this.ignored !== XENSTORE_ERROR_NONE) return;
    if (this.writeOutput()) this.notifyGuest();
  }

  // ------------------------------------------------------------ the daemon's turn at the ring

  /** Reads the requests waiting, has them answered, writes what fits; notifies the guest when an index moved. */
  service(): void {
    if (this.servicing || !this.conn || !this.daemon) return;
    this.servicing = true;
    try {
      if (this.index(xenstore_domain_interface.connection) === XENSTORE_RECONNECT) {
        this.reconnect();
        return;
      }
      if (this.ignored !== XENSTORE_ERROR_NONE) return;
      let moved = false;
      for (let round = 0; round < MAX_ROUNDS && this.ignored === XENSTORE_ERROR_NONE; round++) {
        const read = this.readRequests();
        const wrote = this.ignored === XENSTORE_ERROR_NONE && this.writeOutput();
        if (!read && !wrote) break;
        moved = true;
      }
      if (moved && this.ignored === XENSTORE_ERROR_NONE) this.notifyGuest();
    } finally {
      this.servicing = false;
    }
  }

  /** Takes request bytes from req[]; each complete message goes to the daemon. True when req_cons moved. */
  private readRequests(): boolean {
    const conn = this.conn!;
    const cons = this.index(xenstore_domain_interface.req_cons);
    const prod = this.index(xenstore_domain_interface.req_prod);
    const available = (prod - cons) >>> 0;
    if (available > XENSTORE_RING_SIZE) {
      this.ignore(XENSTORE_ERROR_RINGIDX);
      return false;
    }
    let taken = 0;
    while (taken < available && (conn.privileged || conn.outstanding < quota_req_outstanding)) {
      const at = (cons + taken) >>> 0;
      if (this.payload === null) {
        const n = Math.min(xsd_sockmsg.sizeof - this.headerUsed, available - taken);
        this.header.set(this.readRing(xenstore_domain_interface.req, at, n), this.headerUsed);
        this.headerUsed += n;
        taken += n;
        if (this.headerUsed < xsd_sockmsg.sizeof) break;
        const len = decodeXsHeader(this.header).len;
        if (len > XENSTORE_PAYLOAD_MAX) {
          this.ignore(XENSTORE_ERROR_PROTO);
          return false;
        }
        this.payload = new Uint8Array(len);
        this.payloadUsed = 0;
      } else {
        const n = Math.min(this.payload.length - this.payloadUsed, available - taken);
        this.payload.set(this.readRing(xenstore_domain_interface.req, at, n), this.payloadUsed);
        this.payloadUsed += n;
        taken += n;
      }
      if (this.payloadUsed === this.payload.length) this.dispatch();
      if (this.ignored !== XENSTORE_ERROR_NONE) return false;
    }
    if (taken === 0) return false;
    this.mem.write32(this.ringMa + xenstore_domain_interface.req_cons, (cons + taken) >>> 0);
    this.stats.bytesIn += taken;
    return true;
  }

  /** The message assembled is complete: the daemon answers it. */
  private dispatch(): void {
    const { type, reqId, txId } = decodeXsHeader(this.header);
    const payload = this.payload!;
    this.headerUsed = 0;
    this.payload = null;
    this.payloadUsed = 0;
    this.stats.requests++;
    this.daemon!.handle(this.conn!, { type, reqId, txId, payload });
  }

  /** Writes waiting output into rsp[] as far as it has room. True when rsp_prod moved. */
  private writeOutput(): boolean {
    const conn = this.conn!;
    const cons = this.index(xenstore_domain_interface.rsp_cons);
    const prod = this.index(xenstore_domain_interface.rsp_prod);
    const used = (prod - cons) >>> 0;
    if (used > XENSTORE_RING_SIZE) {
      this.ignore(XENSTORE_ERROR_RINGIDX);
      return false;
    }
    if (used === XENSTORE_RING_SIZE || conn.pendingBytes === 0) return false;
    const bytes = conn.takeOutput(XENSTORE_RING_SIZE - used);
    this.writeRing(xenstore_domain_interface.rsp, prod, bytes);
    this.mem.write32(this.ringMa + xenstore_domain_interface.rsp_prod, (prod + bytes.length) >>> 0);
    this.stats.bytesOut += bytes.length;
    return true;
  }

  /**
   * The guest broke the protocol (xenstored's ignore_connection): its
   * watches, transactions and output go, the error field says why, and
   * the ring is left alone until it asks to reconnect.
   */
  private ignore(error: number): void {
    this.ignored = error;
    this.conn?.reset();
    this.mem.write32(this.ringMa + xenstore_domain_interface.error, error);
  }

  /** connection = XENSTORE_RECONNECT: start over with empty rings (xenstored's domain_conn_reset). */
  private reconnect(): void {
    this.conn!.reset();
    this.headerUsed = 0;
    this.payload = null;
    this.payloadUsed = 0;
    this.ignored = XENSTORE_ERROR_NONE;
    for (const field of ["req_cons", "req_prod", "rsp_cons", "rsp_prod", "error"] as const) {
      this.mem.write32(this.ringMa + xenstore_domain_interface[field], 0);
    }
    this.mem.write32(this.ringMa + xenstore_domain_interface.connection, XENSTORE_CONNECTED);
    this.notifyGuest();
  }

  private notifyGuest(): void {
    if (this.guestPort !== 0) this.channels.notifyFromBackend(this.guestPort, this);
  }

  // ------------------------------------------------------------ the page, as machine memory

  private index(offset: number): number {
    return this.mem.read32(this.ringMa + offset) >>> 0;
  }

  /** `length` bytes (at most a ring's worth) of the ring at `ring` from free-running index `idx`, wrapping. */
  private readRing(ring: number, idx: number, length: number): Uint8Array {
    const start = MASK_XENSTORE_IDX(idx);
    const first = Math.min(length, XENSTORE_RING_SIZE - start);
    const bytes = new Uint8Array(length);
    bytes.set(this.mem.read(this.ringMa + ring + start, first));
    if (first < length) bytes.set(this.mem.read(this.ringMa + ring, length - first), first);
    return bytes;
  }

  private writeRing(ring: number, idx: number, bytes: Uint8Array): void {
    const start = MASK_XENSTORE_IDX(idx);
    const first = Math.min(bytes.length, XENSTORE_RING_SIZE - start);
    this.mem.write(this.ringMa + ring + start, bytes.subarray(0, first));
    if (first < bytes.length) this.mem.write(this.ringMa + ring, bytes.subarray(first));
  }
}
