// test/hypervisor/xenstore/fixture.ts — a xenstored with domains attached, spoken to in the wire format.
//
// `world(...domids)` makes a daemon, gives each domain the directory libxl
// would (hypervisor/xenstore/libxl.ts) and a connection whose output the
// test reads back as messages: `ask(type, payload, txId)` sends one request
// and returns its reply, keeping the watch events that came with it in
// `events`.

import {
  XS_WATCH_EVENT, decodeXsHeader, payloadText, textBytes, xsd_sockmsg,
} from "../../../hypervisor/abi/io/xs_wire.js";
import type { Connection } from "../../../hypervisor/xenstore/connection.js";
import { Xenstored } from "../../../hypervisor/xenstore/daemon.js";
import { makeDomainNodes } from "../../../hypervisor/xenstore/libxl.js";
import { XsHandle } from "../../../hypervisor/xenstore/xs.js";

export interface Reply {
  type: number;
  /** The payload, one character per byte, NULs shown as "|". */
  text: string;
}

export interface TestDomain {
  domid: number;
  conn: Connection;
  /** Watch events received, as "path|token|". */
  events: string[];
  ask(type: number, payload: string, txId?: number): Reply;
  /** The watch events waiting for it (caused by others), taken. */
  poll(): string[];
}

/** Decodes every message queued for a connection. */
export function drain(conn: Connection): Reply[] {
  return conn.takeMessages().map((bytes) => {
    const header = decodeXsHeader(bytes);
    return { type: header.type, text: payloadText(bytes.subarray(xsd_sockmsg.sizeof)).replaceAll("\0", "|") };
  });
}

export function world(...domids: number[]) {
  const daemon = new Xenstored();
  const xs = new XsHandle(daemon);
  const domains = domids.map((domid): TestDomain => {
    makeDomainNodes(xs, { domid, name: `guest${domid}`, memoryKiB: 16384, vcpus: 1, storeMfn: 100 + domid, storePort: 2, consoleMfn: 200 + domid, consolePort: 1 });
    const conn = daemon.introduceDomain(domid, { kick: () => {} });
    const d: TestDomain = {
      domid,
      conn,
      events: [],
      ask(type, payload, txId = 0) {
        daemon.handle(conn, { type, reqId: 7, txId, payload: textBytes(payload) });
        let reply: Reply | undefined;
        for (const m of drain(conn)) {
          if (m.type === XS_WATCH_EVENT) d.events.push(m.text);
          else reply = m;
        }
        return reply!;
      },
      poll() {
        const got = drain(conn).filter((m) => m.type === XS_WATCH_EVENT).map((m) => m.text);
        d.events.push(...got);
        return got;
      },
    };
    return d;
  });
  return { daemon, xs, domains };
}

/** A reply of type XS_ERROR with this errno name. */
export const error = (errno: string): Reply => ({ type: 16, text: `${errno}|` });
