// test/hypervisor/xenstore/ring.test.ts — the xenstore ring from xenstored's side, against honest and hostile guests.
//
// The ring page lives in a plain buffer (page 1 of three) and the guest's
// side is played here: bytes written into req[] and indices moved as a
// guest would — or as no honest guest would. The daemon must answer what
// is well formed, leave a connection alone that breaks the protocol (with
// the reason in the page's error field), never throw, never loop, and
// never touch a byte outside the page.

import { describe, expect, it } from "vitest";
import {
  XENSTORE_CONNECTED, XENSTORE_ERROR_NONE, XENSTORE_ERROR_PROTO, XENSTORE_ERROR_RINGIDX, XENSTORE_RECONNECT, XENSTORE_RING_SIZE,
  XENSTORE_SERVER_FEATURE_ERROR, XENSTORE_SERVER_FEATURE_RECONNECTION, XS_ERROR, XS_READ, XS_WATCH, XS_WATCH_EVENT, XS_WRITE,
  decodeXsHeader, encodeXsMessage, payloadText, textBytes, xenstore_domain_interface as intf,
} from "../../../hypervisor/abi/io/xs_wire.js";
import type { EventChannels } from "../../../hypervisor/evtchn.js";
import { Xenstored } from "../../../hypervisor/xenstore/daemon.js";
import { makeDomainNodes } from "../../../hypervisor/xenstore/libxl.js";
import { quota_req_outstanding } from "../../../hypervisor/xenstore/quota.js";
import { XenstoreRing } from "../../../hypervisor/xenstore/ring.js";
import { XsHandle } from "../../../hypervisor/xenstore/xs.js";

const PAGE = 4096;
const RING_MA = PAGE;

function setup() {
  const ram = new Uint8Array(3 * PAGE);
  const view = new DataView(ram.buffer);
  const mem = {
    read32: (pa: number) => view.getUint32(pa, true),
    write32: (pa: number, v: number) => view.setUint32(pa, v >>> 0, true),
    read: (pa: number, n: number) => {
      if (pa < RING_MA || pa + n > RING_MA + PAGE) throw new Error(`read outside the ring page at ${pa}`);
      return ram.slice(pa, pa + n);
    },
    write: (pa: number, bytes: Uint8Array) => {
      if (pa < RING_MA || pa + bytes.length > RING_MA + PAGE) throw new Error(`write outside the ring page at ${pa}`);
      ram.set(bytes, pa);
    },
  };
  let notifications = 0;
  const channels = {
    connectBackend: () => 2,
    notifyFromBackend: () => {
      notifications++;
      return true;
    },
  } as unknown as EventChannels;
  const daemon = new Xenstored();
  const xs = new XsHandle(daemon);
  makeDomainNodes(xs, { domid: 1, name: "g", memoryKiB: 1024, vcpus: 1, storeMfn: 1, storePort: 2, consoleMfn: 3, consolePort: 1 });
  const ring = new XenstoreRing(mem, RING_MA / PAGE, channels, 9, () => {});
  ring.attach(daemon, daemon.introduceDomain(1, ring));

  const field = (name: keyof typeof intf) => view.getUint32(RING_MA + intf[name], true);
  const setField = (name: keyof typeof intf, v: number) => view.setUint32(RING_MA + intf[name], v >>> 0, true);
  /** The guest writes bytes into req[] at req_prod, wrapping, and advances it. */
  const send = (bytes: Uint8Array) => {
    const prod = field("req_prod");
    bytes.forEach((b, i) => (ram[RING_MA + intf.req + ((prod + i) & (XENSTORE_RING_SIZE - 1))] = b));
    setField("req_prod", (prod + bytes.length) >>> 0);
  };
  const request = (type: number, payload: string, reqId = 1, txId = 0) => encodeXsMessage({ type, reqId, txId, payload: textBytes(payload) });
  /** The guest takes everything in rsp[] and splits it into messages. */
  let pending = new Uint8Array(0);
  const receive = () => {
    const cons = field("rsp_cons");
    const prod = field("rsp_prod");
    // A guest that set the indices apart by more than a ring takes nothing.
    const got = new Uint8Array(((prod - cons) >>> 0) > XENSTORE_RING_SIZE ? 0 : (prod - cons) >>> 0);
    for (let i = 0; i < got.length; i++) got[i] = ram[RING_MA + intf.rsp + ((cons + i) & (XENSTORE_RING_SIZE - 1))]!;
    setField("rsp_cons", prod);
    const all = new Uint8Array(pending.length + got.length);
    all.set(pending);
    all.set(got, pending.length);
    const messages: { type: number; reqId: number; text: string }[] = [];
    let at = 0;
    while (all.length - at >= 16) {
      const h = decodeXsHeader(all.subarray(at));
      if (all.length - at < 16 + h.len) break;
      messages.push({ type: h.type, reqId: h.reqId, text: payloadText(all.subarray(at + 16, at + 16 + h.len)).replaceAll("\0", "|") });
      at += 16 + h.len;
    }
    pending = all.slice(at);
    return messages;
  };
  const forget = () => {
    pending = new Uint8Array(0);
  };
  return { ram, ring, daemon, xs, field, setField, send, request, receive, forget, notifications: () => notifications };
}

describe("the xenstore ring", () => {
  it("advertises reconnection and the error field, and answers a request with a notification", () => {
    const t = setup();
    expect(t.field("server_features")).toBe(XENSTORE_SERVER_FEATURE_RECONNECTION | XENSTORE_SERVER_FEATURE_ERROR);
    t.send(t.request(XS_READ, "name\0", 77));
    t.ring.notify();
    expect(t.receive()).toEqual([{ type: XS_READ, reqId: 77, text: "g" }]);
    expect(t.field("req_cons")).toBe(t.field("req_prod"));
    expect(t.notifications()).toBe(1);
  });

  it("assembles a message that arrives in pieces and wraps around the ring and around 2^32", () => {
    const t = setup();
    for (const idx of ["req_cons", "req_prod", "rsp_cons", "rsp_prod"] as const) t.setField(idx, 0xfffffff0);
    const msg = t.request(XS_WRITE, `data/k\0${"v".repeat(600)}`);
    t.send(msg.subarray(0, 10));
    t.ring.service();
    expect(t.receive()).toEqual([]);
    t.send(msg.subarray(10, 500));
    t.ring.service();
    t.send(msg.subarray(500));
    t.ring.service();
    expect(t.receive()).toEqual([{ type: XS_WRITE, reqId: 1, text: "OK|" }]);
    t.send(t.request(XS_READ, "data/k\0"));
    t.ring.service();
    expect(t.receive()).toEqual([{ type: XS_READ, reqId: 1, text: "v".repeat(600) }]);
    expect(t.field("rsp_prod")).toBeLessThan(0x1000);
  });

  it("sends a reply larger than the free room in pieces, as the guest makes room", () => {
    const t = setup();
    t.xs.write("/local/domain/1/data/big", "b".repeat(3000));
    t.send(t.request(XS_READ, "data/big\0"));
    t.ring.service();
    expect(t.field("rsp_prod") - t.field("rsp_cons")).toBe(XENSTORE_RING_SIZE);
    const got = [...t.receive()];
    for (let i = 0; i < 4 && got.length === 0; i++) {
      t.ring.service();
      got.push(...t.receive());
    }
    expect(got).toEqual([{ type: XS_READ, reqId: 1, text: "b".repeat(3000) }]);
  });

  it("answers garbage types with ERROR and keeps serving the connection", () => {
    const t = setup();
    t.send(t.request(0x7777, "junk"));
    t.send(t.request(XS_WATCH_EVENT, "a\0b\0"));
    t.send(t.request(XS_READ, "domid\0", 3));
    t.ring.service();
    expect(t.receive()).toEqual([
      { type: XS_ERROR, reqId: 1, text: "ENOSYS|" }, { type: XS_ERROR, reqId: 1, text: "ENOSYS|" }, { type: XS_READ, reqId: 3, text: "1" },
    ]);
  });

  it("ignores a connection whose header announces more than XENSTORE_PAYLOAD_MAX, until it reconnects", () => {
    const t = setup();
    const bad = t.request(XS_WRITE, "data/x\0y");
    new DataView(bad.buffer).setUint32(12, 4097, true);
    t.send(bad);
    expect(() => t.ring.service()).not.toThrow();
    expect(t.ring.error).toBe(XENSTORE_ERROR_PROTO);
    expect(t.field("error")).toBe(XENSTORE_ERROR_PROTO);
    t.send(t.request(XS_READ, "domid\0"));
    t.ring.service();
    expect(t.receive()).toEqual([]);
    expect(t.xs.read("/local/domain/1/data/x")).toBeNull();

    // The guest asks to start over (XENSTORE_SERVER_FEATURE_RECONNECTION).
    t.setField("connection", XENSTORE_RECONNECT);
    t.ring.notify();
    expect([t.field("connection"), t.field("error"), t.field("req_prod"), t.field("rsp_prod")]).toEqual([XENSTORE_CONNECTED, 0, 0, 0]);
    t.send(t.request(XS_READ, "domid\0", 5));
    t.ring.service();
    expect(t.receive()).toEqual([{ type: XS_READ, reqId: 5, text: "1" }]);
    expect(t.ring.error).toBe(XENSTORE_ERROR_NONE);
  });

  it("ignores a connection whose request producer is more than a ring ahead, and one whose response consumer passed the producer", () => {
    const t = setup();
    t.setField("req_prod", 5000);
    t.ring.service();
    expect([t.ring.error, t.field("req_cons")]).toEqual([XENSTORE_ERROR_RINGIDX, 0]);

    const u = setup();
    u.send(u.request(XS_WATCH, "data\0t\0"));
    u.setField("rsp_cons", 0x80000000);
    u.ring.service();
    expect(u.ring.error).toBe(XENSTORE_ERROR_RINGIDX);
  });

  it("stops reading a guest that leaves quota_req_outstanding replies untaken, and reads on when it takes them", () => {
    const t = setup();
    t.xs.write("/local/domain/1/data/big", "b".repeat(1000));
    const one = t.request(XS_READ, "data/big\0");
    for (let i = 0; i < 30; i++) t.send(one);
    t.ring.service();
    // One reply fills the response ring; 20 more wait; the rest of the requests wait too.
    expect(t.field("req_cons")).toBe((quota_req_outstanding + 1) * one.length);
    let replies = 0;
    for (let round = 0; round < 100 && replies < 30; round++) {
      replies += t.receive().length;
      t.ring.service();
    }
    expect(replies).toBe(30);
    expect(t.field("req_cons")).toBe(30 * one.length);
  });

  it("survives random bytes and random indices without throwing or touching memory outside its page", () => {
    const t = setup();
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed;
    };
    for (let round = 0; round < 2000; round++) {
      if (random() % 16 === 0) {
        const idx = (["req_cons", "req_prod", "rsp_cons", "rsp_prod", "connection"] as const)[random() % 5]!;
        t.setField(idx, random() % 3 === 0 ? random() : (t.field(idx) + (random() % 64)) >>> 0);
      }
      const junk = new Uint8Array(random() % 40);
      for (let i = 0; i < junk.length; i++) junk[i] = random() % 3 === 0 ? random() & 0xff : 0;
      if (random() % 2 === 0) t.send(t.request(random() % 30, payloadText(junk), random(), random() % 4));
      else t.send(junk);
      expect(() => t.ring.service()).not.toThrow();
      t.receive();
      t.forget();
    }
    expect(t.ram.subarray(0, PAGE).every((b) => b === 0)).toBe(true);
    expect(t.ram.subarray(2 * PAGE).every((b) => b === 0)).toBe(true);
    expect(t.daemon.stats.internalErrors).toBe(0);
  });
});
