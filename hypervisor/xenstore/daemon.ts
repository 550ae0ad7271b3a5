// hypervisor/xenstore/daemon.ts — xenstored: the xenstore daemon of domain 0.
//
// Under Xen, xenstored is a process in domain 0 that every domain reaches
// through its xenstore ring (hypervisor/xenstore/ring.ts) and the
// toolstack through a socket. Here domain 0 is the TypeScript toolstack,
// so the daemon is this object, owned by the Hypervisor; domain 0's own
// requests come in through an in-process connection (hypervisor/xenstore/
// xs.ts) and are answered exactly like a guest's, with domain 0's rights.
//
// One request, one answer: each message is dispatched by its type (the
// wire_funcs table of xenstored's core.c) and answered with the same type,
// req_id and tx_id, or with XS_ERROR and an errno name (XEN-ABI.md 9.5,
// docs/misc/xenstore.txt). The rules, in xenstored's order: a type that
// does not exist, or that only comes from the daemon (WATCH_EVENT, ERROR),
// is ENOSYS; a privileged request from a guest (CONTROL, INTRODUCE,
// RELEASE, IS_DOMAIN_INTRODUCED, RESUME, SET_TARGET) is EACCES; a tx_id
// naming no open transaction is ENOENT (WATCH and UNWATCH ignore tx_id);
// then the request runs. Nothing a guest sends makes the daemon throw: a
// malformed payload is EINVAL, everything else is an errno.
//
// Domains come and go through the hypervisor: introduceDomain when one is
// built (firing @introduceDomain), domainShutdown when it shuts down and
// releaseDomain when it is destroyed (both firing @releaseDomain, the
// first once until RESUME), as xenstored learns of them through INTRODUCE
// and VIRQ_DOM_EXC. A released domain's connection, watches and
// transactions go, and so do the nodes it still owns anywhere (xenstored
// since XSA-419).

import {
  XENSTORE_PAYLOAD_MAX, XS_CONTROL, XS_DIRECTORY, XS_DIRECTORY_PART, XS_ERROR, XS_GET_DOMAIN_PATH, XS_GET_PERMS, XS_INTRODUCE,
  XS_IS_DOMAIN_INTRODUCED, XS_MKDIR, XS_READ, XS_RELEASE, XS_RESET_WATCHES, XS_RESUME, XS_RM, XS_SET_PERMS, XS_SET_TARGET,
  XS_TRANSACTION_END, XS_TRANSACTION_START, XS_TYPE_NAMES, XS_UNWATCH, XS_WATCH, XS_WRITE, type XsMessage, payloadStrings,
  payloadText, textBytes,
} from "../abi/io/xs_wire.js";
import { Connection, type XsTransport } from "./connection.js";
import { type NodePerms, XS_PERM_READ, formatPermission, ownerOf, parsePermission, permFor } from "./permissions.js";
import { quota_max_transaction, quota_nb_perms_per_node, quota_nb_watch_per_domain } from "./quota.js";
import {
  type Change, type NodeDb, SPECIAL_PATHS, Store, XsError, canonicalize, domainPath, fail, getPerms, listChildren, makeDirectory,
  readNode, removeNode, setPerms, writeNode,
} from "./store.js";
import { Transaction } from "./transaction.js";
import { type Watch, eventPath, mayHear, watchMatches } from "./watch.js";

/** The requests only domain 0 may make (XS_FLAG_PRIV in xenstored's wire_funcs). */
const PRIVILEGED = new Set([XS_CONTROL, XS_INTRODUCE, XS_RELEASE, XS_IS_DOMAIN_INTRODUCED, XS_RESUME, XS_SET_TARGET]);
/** The requests that ignore tx_id (XS_FLAG_NOTID). */
const NO_TRANSACTION = new Set([XS_WATCH, XS_UNWATCH]);

const OK = textBytes("OK\0");
const DOMID = /^[0-9]{1,5}$/;

export interface XenstoredOptions {
  /** Where CONTROL "print" and the daemon's own notes go. */
  log?: (line: string) => void;
}

export class Xenstored {
  readonly store = new Store();
  /** Domain 0: the toolstack's own connection, privileged. */
  readonly dom0: Connection;
  private readonly connections = new Map<number, Connection>();
  /** Connections with new output, kicked once the current request is done. */
  private readonly kicks = new Set<Connection>();
  /** Work that must follow the reply to the current request (WATCH's first event). */
  private afterReply: (() => void)[] = [];
  private depth = 0;
  private readonly log: (line: string) => void;
  /** Requests answered, for the dashboard and tests. */
  readonly stats = { requests: 0, errors: 0, events: 0, internalErrors: 0 };

  constructor(options: XenstoredOptions = {}) {
    this.log = options.log ?? (() => {});
    this.dom0 = new Connection(0, true, null);
    this.connections.set(0, this.dom0);
    // What xen-init-dom0 writes for domain 0 before any guest exists.
    this.asDom0(() => {
      for (const [path, value] of [[`${domainPath(0)}/name`, "Domain-0"], [`${domainPath(0)}/domid`, "0"]] as const) {
        writeNode(this.store, this.dom0, path, textBytes(value));
      }
    });
  }

  // ------------------------------------------------------------------ domains

  /**
   * A domain's ring is connected (INTRODUCE): its requests are served from
   * now on, with `transport` writing its replies; @introduceDomain fires.
   */
  introduceDomain(domid: number, transport: XsTransport): Connection {
    let conn = this.connections.get(domid);
    if (conn) {
      conn.transport = transport;
      return conn;
    }
    conn = new Connection(domid, false, transport);
    this.connections.set(domid, conn);
    this.asDom0(() => this.fire([this.specialChange("@introduceDomain")]));
    return conn;
  }

  isIntroduced(domid: number): boolean {
    return this.connections.has(domid);
  }

  connectionOf(domid: number): Connection | undefined {
    return this.connections.get(domid);
  }

  /** The domain shut down (VIRQ_DOM_EXC): @releaseDomain fires, once until RESUME. */
  domainShutdown(domid: number): void {
    const conn = this.connections.get(domid);
    if (!conn || conn.privileged || conn.shutdownNotified) return;
    conn.shutdownNotified = true;
    this.asDom0(() => this.fire([this.specialChange("@releaseDomain")]));
  }

  /**
   * The domain is gone (RELEASE, or its destruction): its connection,
   * watches and transactions are dropped, the nodes it still owns are
   * removed, and @releaseDomain fires. False when it was not introduced.
   */
  releaseDomain(domid: number): boolean {
    const conn = this.connections.get(domid);
    if (!conn || conn.privileged) return false;
    conn.reset();
    conn.transport?.disconnect?.();
    conn.transport = null;
    this.connections.delete(domid);
    this.asDom0(() => {
      this.removeNodesOwnedBy(domid);
      this.fire([this.specialChange("@releaseDomain")]);
    });
    return true;
  }

  /** Every subtree whose top node `domid` owns goes (xenstored's domain_deinit since XSA-419). */
  private removeNodesOwnedBy(domid: number): void {
    const tops: string[] = [];
    for (const path of this.store.paths()) {
      const node = this.store.get(path)!;
      if (path.startsWith("@") || path === "/" || ownerOf(node.perms) !== domid) continue;
      const parent = this.store.get(path.slice(0, path.lastIndexOf("/")) || "/");
      if (!parent || ownerOf(parent.perms) !== domid) tops.push(path);
    }
    for (const path of tops) {
      if (this.store.get(path)) this.fire(removeNode(this.store, this.dom0, path));
    }
  }

  // ------------------------------------------------------------------ requests

  /**
   * One request from a domain's ring: answered into its output queue
   * (events it caused first, then the reply, as xenstored queues them),
   * and every connection with new output kicked.
   */
  handle(conn: Connection, msg: XsMessage): void {
    this.enter();
    try {
      conn.queueReply(this.dispatch(conn, msg));
      this.kicks.add(conn);
      const after = this.afterReply;
      this.afterReply = [];
      for (const work of after) work();
    } finally {
      this.leave();
    }
  }

  /** One request from domain 0, answered at once; its watch events are queued on dom0. */
  request(msg: XsMessage): XsMessage {
    this.enter();
    try {
      const reply = this.dispatch(this.dom0, msg);
      const after = this.afterReply;
      this.afterReply = [];
      for (const work of after) work();
      return reply;
    } finally {
      this.leave();
    }
  }

  private enter(): void {
    this.depth++;
  }

  /** The outermost request is done: connections with new output are told, each once. */
  private leave(): void {
    if (--this.depth > 0) return;
    while (this.kicks.size > 0) {
      const conns = [...this.kicks];
      this.kicks.clear();
      for (const c of conns) c.transport?.kick();
    }
  }

  private asDom0(work: () => void): void {
    this.enter();
    try {
      work();
    } finally {
      this.leave();
    }
  }

  /** The answer to one request: its reply, or XS_ERROR with the errno name. */
  private dispatch(conn: Connection, msg: XsMessage): XsMessage {
    this.stats.requests++;
    let payload: Uint8Array;
    let type = msg.type;
    try {
      payload = this.run(conn, msg);
      if (payload.length > XENSTORE_PAYLOAD_MAX) fail("E2BIG");
    } catch (e) {
      // A bug of the daemon's own must not take the hypervisor down: the guest gets EIO, the log the story.
      if (!(e instanceof XsError)) this.log(`xenstored: internal error on ${XS_TYPE_NAMES[msg.type] ?? msg.type}: ${(e as Error).stack ?? e}`);
      this.stats.errors++;
      if (!(e instanceof XsError)) this.stats.internalErrors++;
      this.afterReply = [];
      type = XS_ERROR;
      payload = textBytes(`${e instanceof XsError ? e.errno : "EIO"}\0`);
    }
    return { type, reqId: msg.reqId, txId: msg.txId, payload };
  }

  private run(conn: Connection, msg: XsMessage): Uint8Array {
    const handler = this.handlerFor(msg.type);
    if (!handler) fail("ENOSYS");
    if (PRIVILEGED.has(msg.type) && !conn.privileged) fail("EACCES");
    let tx: Transaction | null = null;
    if (!NO_TRANSACTION.has(msg.type) && msg.txId !== 0) tx = conn.transactions.get(msg.txId) ?? fail("ENOENT");
    return handler.call(this, { conn, tx, db: tx ?? this.store, payload: msg.payload });
  }

  /** The dispatch table (xenstored's wire_funcs); null for a type no client may send (ENOSYS). */
  private handlerFor(type: number): ((req: Request) => Uint8Array) | null {
    switch (type) {
      case XS_CONTROL: return this.control;
      case XS_DIRECTORY: return this.directory;
      case XS_READ: return this.read;
      case XS_GET_PERMS: return this.getPerms;
      case XS_WATCH: return this.watch;
      case XS_UNWATCH: return this.unwatch;
      case XS_TRANSACTION_START: return this.transactionStart;
      case XS_TRANSACTION_END: return this.transactionEnd;
      case XS_INTRODUCE: return this.introduce;
      case XS_RELEASE: return this.release;
      case XS_GET_DOMAIN_PATH: return this.getDomainPath;
      case XS_WRITE: return this.write;
      case XS_MKDIR: return this.mkdir;
      case XS_RM: return this.rm;
      case XS_SET_PERMS: return this.setPerms;
      case XS_IS_DOMAIN_INTRODUCED: return this.isDomainIntroduced;
      case XS_RESUME: return this.resume;
      case XS_SET_TARGET: return this.setTarget;
      case XS_RESET_WATCHES: return this.resetWatches;
      case XS_DIRECTORY_PART: return this.directoryPart;
      default: return null;
    }
  }

  /** Changes made outside a transaction fire now; a transaction's wait for its commit. */
  private changed(req: Request, changes: Change[]): void {
    if (req.tx) req.tx.changes.push(...changes);
    else this.fire(changes);
  }

  /** Sends every watch a change matches its event (fire_watches). */
  private fire(changes: readonly Change[]): void {
    for (const change of changes) {
      const special = change.path.startsWith("@");
      for (const conn of this.connections.values()) {
        if (special ? (permFor(conn, change.perms) & XS_PERM_READ) === 0 : !mayHear(conn, change)) continue;
        for (const watch of conn.watches) {
          if (!watchMatches(watch, change)) continue;
          if (conn.queueEvent(eventPath(watch, change.path), watch.token)) this.stats.events++;
          this.kicks.add(conn);
        }
      }
    }
  }

  /** A special event, with the permissions of its node (which domain 0 may change with SET_PERMS). */
  private specialChange(path: (typeof SPECIAL_PATHS)[number]): Change {
    return { path, exact: false, perms: this.store.get(path)!.perms };
  }

  // ------------------------------------------------------------------ the requests, one by one

  /** DIRECTORY <path>| → the children, each NUL-terminated. */
  private directory(req: Request): Uint8Array {
    const names = listChildren(req.db, req.conn, canonicalize(req.conn, onearg(req.payload), false));
    return textBytes(names.map((n) => `${n}\0`).join(""));
  }

  /**
   * DIRECTORY_PART <path>|<offset>| → <generation>|<children from offset>:
   * a long list in pieces that fit a payload; the generation tells the
   * client whether the node changed between pieces (send_directory_part).
   */
  private directoryPart(req: Request): Uint8Array {
    const args = payloadStrings(req.payload);
    if (args.length !== 2) fail("EINVAL");
    const path = canonicalize(req.conn, args[0]!, false);
    listChildren(req.db, req.conn, path);
    const node = req.db.get(path)!;
    const all = node.children.map((n) => `${n}\0`).join("");
    const offset = /^[0-9]+$/.test(args[1]!) ? Number(args[1]) : 0;
    const gen = `${node.generation < 0 ? 0 : node.generation}\0`;
    if (offset >= all.length) return textBytes(`${gen}\0`);
    const room = XENSTORE_PAYLOAD_MAX - gen.length - 1;
    let end = offset;
    while (end < all.length) {
      const next = all.indexOf("\0", end) + 1;
      if (next - offset > room) break;
      end = next;
    }
    return textBytes(gen + all.slice(offset, end) + (end === all.length ? "\0" : ""));
  }

  /** READ <path>| → the value. */
  private read(req: Request): Uint8Array {
    return readNode(req.db, req.conn, canonicalize(req.conn, onearg(req.payload), false));
  }

  /** WRITE <path>|<value> (the value is not NUL-terminated and may hold any bytes). */
  private write(req: Request): Uint8Array {
    const nul = req.payload.indexOf(0);
    if (nul < 0) fail("EINVAL");
    const path = canonicalize(req.conn, payloadText(req.payload.subarray(0, nul)), false);
    this.changed(req, writeNode(req.db, req.conn, path, req.payload.slice(nul + 1)));
    return OK;
  }

  private mkdir(req: Request): Uint8Array {
    this.changed(req, makeDirectory(req.db, req.conn, canonicalize(req.conn, onearg(req.payload), false)));
    return OK;
  }

  private rm(req: Request): Uint8Array {
    this.changed(req, removeNode(req.db, req.conn, canonicalize(req.conn, onearg(req.payload), false)));
    return OK;
  }

  /** GET_PERMS <path>| → the permissions as strings, "r5", each NUL-terminated. */
  private getPerms(req: Request): Uint8Array {
    const perms = getPerms(req.db, req.conn, canonicalize(req.conn, onearg(req.payload), true));
    return textBytes(perms.map((p) => `${formatPermission(p)}\0`).join(""));
  }

  /** SET_PERMS <path>|<perm>|+ */
  private setPerms(req: Request): Uint8Array {
    const args = payloadStrings(req.payload);
    if (args.length < 2) fail("EINVAL");
    if (!req.conn.privileged && args.length - 1 > quota_nb_perms_per_node) fail("ENOSPC");
    const perms: NodePerms = args.slice(1).map((s) => parsePermission(s) ?? fail("EINVAL"));
    this.changed(req, setPerms(req.db, req.conn, canonicalize(req.conn, args[0]!, true), perms));
    return OK;
  }

  /** WATCH <path>|<token>| → OK, then the first event at once. */
  private watch(req: Request): Uint8Array {
    const args = payloadStrings(req.payload);
    if (args.length < 2) fail("EINVAL");
    const [raw, token] = args as [string, string];
    const path = canonicalize(req.conn, raw, true);
    const conn = req.conn;
    if (conn.watches.some((w) => w.path === path && w.token === token)) fail("EEXIST");
    if (!conn.privileged && conn.watches.length >= quota_nb_watch_per_domain) fail("E2BIG");
    const relative = !raw.startsWith("/") && !raw.startsWith("@");
    const watch: Watch = { path, token, relativeTo: relative ? domainPath(conn.domid) : null };
    conn.watches.push(watch);
    this.afterReply.push(() => {
      if (conn.queueEvent(eventPath(watch, path), token)) this.stats.events++;
      this.kicks.add(conn);
    });
    return OK;
  }

  /** UNWATCH <path>|<token>| */
  private unwatch(req: Request): Uint8Array {
    const args = payloadStrings(req.payload);
    if (args.length < 2) fail("EINVAL");
    const path = canonicalize(req.conn, args[0]!, true);
    const i = req.conn.watches.findIndex((w) => w.path === path && w.token === args[1]);
    if (i < 0) fail("ENOENT");
    req.conn.watches.splice(i, 1);
    return OK;
  }

  /** TRANSACTION_START | → <id>|; not inside another (EBUSY), at most quota_max_transaction open for a guest (ENOSPC). */
  private transactionStart(req: Request): Uint8Array {
    const conn = req.conn;
    if (req.tx) fail("EBUSY");
    if (!conn.privileged && conn.transactions.size >= quota_max_transaction) fail("ENOSPC");
    const id = conn.allocateTransactionId();
    conn.transactions.set(id, new Transaction(id, this.store, !conn.privileged));
    return textBytes(`${id}\0`);
  }

  /** TRANSACTION_END T| commits (EAGAIN when another change got in the way) or F| drops; either way it ends. */
  private transactionEnd(req: Request): Uint8Array {
    const tx = req.tx ?? fail("ENOENT");
    const arg = onearg(req.payload);
    if (arg !== "T" && arg !== "F") fail("EINVAL");
    req.conn.transactions.delete(tx.id);
    if (arg === "T") {
      if (!tx.commit()) fail("EAGAIN");
      this.fire(tx.changes);
    }
    return OK;
  }

  /** GET_DOMAIN_PATH <domid>| → /local/domain/<domid>| */
  private getDomainPath(req: Request): Uint8Array {
    return textBytes(`${domainPath(parseDomid(onearg(req.payload)))}\0`);
  }

  /**
   * INTRODUCE <domid>|<mfn>|<port>| from domain 0. The hypervisor introduces
   * every domain as it builds it (hypervisor/xen.ts, the end of libxl's
   * build): introducing one again is acknowledged, as xenstored
   * acknowledges the re-introduction of a ring it serves; no other ring can
   * be handed to the daemon here (EINVAL).
   */
  private introduce(req: Request): Uint8Array {
    const args = payloadStrings(req.payload);
    if (args.length < 3) fail("EINVAL");
    if (!this.connections.has(parseDomid(args[0]!))) fail("EINVAL");
    return OK;
  }

  /** RELEASE <domid>|: the daemon lets go of the domain (ENOENT: not introduced). */
  private release(req: Request): Uint8Array {
    if (!this.releaseDomain(parseDomid(onearg(req.payload)))) fail("ENOENT");
    return OK;
  }

  /** IS_DOMAIN_INTRODUCED <domid>| → T| or F| */
  private isDomainIntroduced(req: Request): Uint8Array {
    return textBytes(this.connections.has(parseDomid(onearg(req.payload))) ? "T\0" : "F\0");
  }

  /** RESUME <domid>|: @releaseDomain may fire again for its next shutdown. */
  private resume(req: Request): Uint8Array {
    const conn = this.connections.get(parseDomid(onearg(req.payload))) ?? fail("ENOENT");
    conn.shutdownNotified = false;
    return OK;
  }

  /** SET_TARGET <domid>|<target>|: the first acts for the second (a device model for its guest). */
  private setTarget(req: Request): Uint8Array {
    const args = payloadStrings(req.payload);
    if (args.length < 2) fail("EINVAL");
    const conn = this.connections.get(parseDomid(args[0]!)) ?? fail("ENOENT");
    conn.target = parseDomid(args[1]!);
    return OK;
  }

  /** RESET_WATCHES |: the caller's watches and transactions go. */
  private resetWatches(req: Request): Uint8Array {
    req.conn.watches.length = 0;
    req.conn.transactions.clear();
    return OK;
  }

  /**
   * CONTROL <command>|…: xenstored's own maintenance, implementation
   * specific (docs/misc/xenstore.txt). Here "check" (the store is always
   * consistent: answered OK), "print|<text>" (to the log) and "help".
   */
  private control(req: Request): Uint8Array {
    const args = payloadStrings(req.payload);
    switch (args[0]) {
      case "check":
        return OK;
      case "print":
        if (args.length < 2) fail("EINVAL");
        this.log(`xenstored: ${args[1]}`);
        return OK;
      case "help":
        return textBytes("check\nprint <string>\nhelp\n\0");
      default:
        fail("EINVAL");
    }
  }
}

/** What a request handler gets: who asks, in which transaction, the db that sees, and the payload. */
interface Request {
  readonly conn: Connection;
  readonly tx: Transaction | null;
  readonly db: NodeDb;
  readonly payload: Uint8Array;
}

/** The payload as one string: exactly one NUL, at the end (xenstored's onearg); null otherwise. */
function onearg(payload: Uint8Array): string | null {
  if (payload.length === 0 || payload.indexOf(0) !== payload.length - 1) return null;
  return payloadText(payload.subarray(0, payload.length - 1));
}

/** A domid in decimal, 0..65535; EINVAL otherwise. */
function parseDomid(text: string | null): number {
  if (text === null || !DOMID.test(text) || Number(text) > 0xffff) fail("EINVAL");
  return Number(text);
}

