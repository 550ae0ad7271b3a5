// hypervisor/xenstore/xs.ts — domain 0's xenstore client: libxenstore's xs_* calls, in process.
//
// The toolstack (libxl, xl) talks to xenstored through libxenstore:
// xs_read, xs_write, xs_mkdir, xs_rm, xs_directory, xs_get_permissions,
// xs_set_permissions, xs_watch, xs_transaction_start/end
// (tools/include/xenstore.h). Here each call is a request on the daemon's
// domain 0 connection, built and answered in the wire format a guest uses,
// so domain 0 goes through the same dispatch and the same rules (with
// domain 0's rights). An XS_ERROR answer throws XenstoreError with the
// errno name, except where libxenstore returns "nothing" instead: a read,
// directory or permissions of a node that does not exist gives null, and
// a commit that lost a race gives false.

import {
  XS_DIRECTORY, XS_ERROR, XS_GET_PERMS, XS_MKDIR, XS_READ, XS_RM, XS_SET_PERMS, XS_TRANSACTION_END, XS_TRANSACTION_START,
  XS_UNWATCH, XS_WATCH, XS_WRITE, type XsdError, payloadStrings, payloadText, textBytes, xsd_sockmsg,
} from "../abi/io/xs_wire.js";
import type { XsTransport } from "./connection.js";
import type { Xenstored } from "./daemon.js";
import { type NodePerms, formatPermission, parsePermission } from "./permissions.js";

/** A request domain 0 made was refused. */
export class XenstoreError extends Error {
  override readonly name = "XenstoreError";
  constructor(
    readonly errno: XsdError,
    readonly request: string,
  ) {
    super(`xenstore ${request}: ${errno}`);
  }
}

/** XBT_NULL: no transaction. */
export const XBT_NULL = 0;

type WatchCallback = (path: string, token: string) => void;

export class XsHandle implements XsTransport {
  private nextReqId = 1;
  private readonly callbacks = new Map<string, WatchCallback>();

  constructor(private readonly daemon: Xenstored) {
    daemon.dom0.transport = this;
  }

  read(path: string, tx = XBT_NULL): string | null {
    const value = this.readBytes(path, tx);
    return value === null ? null : payloadText(value);
  }

  readBytes(path: string, tx = XBT_NULL): Uint8Array | null {
    return this.call(XS_READ, `${path}\0`, tx, "read", true);
  }

  write(path: string, value: string | Uint8Array, tx = XBT_NULL): void {
    const bytes = typeof value === "string" ? textBytes(value) : value;
    const payload = new Uint8Array(path.length + 1 + bytes.length);
    payload.set(textBytes(`${path}\0`));
    payload.set(bytes, path.length + 1);
    this.call(XS_WRITE, payload, tx, "write");
  }

  mkdir(path: string, tx = XBT_NULL): void {
    this.call(XS_MKDIR, `${path}\0`, tx, "mkdir");
  }

  rm(path: string, tx = XBT_NULL): void {
    this.call(XS_RM, `${path}\0`, tx, "rm");
  }

  directory(path: string, tx = XBT_NULL): string[] | null {
    const reply = this.call(XS_DIRECTORY, `${path}\0`, tx, "directory", true);
    return reply === null ? null : payloadStrings(reply);
  }

  getPermissions(path: string, tx = XBT_NULL): NodePerms | null {
    const reply = this.call(XS_GET_PERMS, `${path}\0`, tx, "get_permissions", true);
    return reply === null ? null : payloadStrings(reply).map((s) => parsePermission(s)!);
  }

  setPermissions(path: string, perms: NodePerms, tx = XBT_NULL): void {
    this.call(XS_SET_PERMS, `${path}\0${perms.map((p) => `${formatPermission(p)}\0`).join("")}`, tx, "set_permissions");
  }

  /** A watch whose events call `callback` (path as reported, token); it fires once at once. */
  watch(path: string, token: string, callback: WatchCallback): void {
    this.callbacks.set(token, callback);
    try {
      this.call(XS_WATCH, `${path}\0${token}\0`, XBT_NULL, "watch");
    } catch (e) {
      this.callbacks.delete(token);
      throw e;
    }
  }

  unwatch(path: string, token: string): void {
    this.call(XS_UNWATCH, `${path}\0${token}\0`, XBT_NULL, "unwatch");
    this.callbacks.delete(token);
  }

  transactionStart(): number {
    return Number(payloadStrings(this.call(XS_TRANSACTION_START, "\0", XBT_NULL, "transaction_start")!)[0]);
  }

  /** Commits (or with abort, drops) the transaction; false when it must be retried (EAGAIN). */
  transactionEnd(tx: number, abort = false): boolean {
    try {
      this.call(XS_TRANSACTION_END, abort ? "F\0" : "T\0", tx, "transaction_end");
      return true;
    } catch (e) {
      if (e instanceof XenstoreError && e.errno === "EAGAIN") return false;
      throw e;
    }
  }

  /**
   * Runs `body` in a transaction until it commits (the retry loop every
   * xenstore client writes). Nothing else runs while domain 0's call does,
   * so a retry can only lose to changes `body` itself caused elsewhere;
   * after a few, that is a bug, and it throws EAGAIN.
   */
  transaction(body: (tx: number) => void): void {
    for (let attempt = 0; attempt < 4; attempt++) {
      const tx = this.transactionStart();
      body(tx);
      if (this.transactionEnd(tx)) return;
    }
    throw new XenstoreError("EAGAIN", "transaction");
  }

  /** XsTransport: watch events for domain 0 arrived; each goes to its watch's callback. */
  kick(): void {
    for (const bytes of this.daemon.dom0.takeMessages()) {
      const [path, token] = payloadStrings(bytes.subarray(xsd_sockmsg.sizeof)) as [string, string];
      this.callbacks.get(token)?.(path, token);
    }
  }

  private call(type: number, payload: string | Uint8Array, tx: number, what: string, enoentIsNull = false): Uint8Array | null {
    const reply = this.daemon.request({
      type, reqId: this.nextReqId++, txId: tx, payload: typeof payload === "string" ? textBytes(payload) : payload,
    });
    if (reply.type !== XS_ERROR) return reply.payload;
    const errno = payloadStrings(reply.payload)[0] as XsdError;
    if (enoentIsNull && errno === "ENOENT") return null;
    throw new XenstoreError(errno, what);
  }
}
