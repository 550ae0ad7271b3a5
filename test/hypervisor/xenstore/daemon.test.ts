// test/hypervisor/xenstore/daemon.test.ts — xenstored's dispatch of every message type, and its place in the hypervisor.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  XS_CONTROL, XS_DIRECTORY, XS_DIRECTORY_PART, XS_ERROR, XS_GET_DOMAIN_PATH, XS_INTRODUCE, XS_IS_DOMAIN_INTRODUCED, XS_READ,
  XS_RELEASE, XS_RESUME, XS_SET_TARGET, XS_WATCH_EVENT, XS_WRITE, textBytes,
} from "../../../hypervisor/abi/io/xs_wire.js";
import { SHUTDOWN_poweroff } from "../../../hypervisor/abi/sched.js";
import { start_info } from "../../../hypervisor/abi/xen.js";
import { Hypervisor } from "../../../hypervisor/xen.js";
import { XenstoreError } from "../../../hypervisor/xenstore/xs.js";
import { pvKernel } from "../../support/pv.js";
import { error, world } from "./fixture.js";

describe("dispatch", () => {
  it("answers the privileged requests only for domain 0: EACCES from a guest", () => {
    const { domains: [g] } = world(1);
    for (const [type, payload] of [
      [XS_INTRODUCE, "2\x00123\x004\0"], [XS_RELEASE, "1\0"], [XS_IS_DOMAIN_INTRODUCED, "1\0"], [XS_RESUME, "1\0"],
      [XS_SET_TARGET, "1\x002\0"], [XS_CONTROL, "check\0"],
    ] as const) {
      expect(g!.ask(type, payload)).toEqual(error("EACCES"));
    }
  });

  it("answers ENOSYS for types no client may send, and never throws on garbage", () => {
    const { domains: [g], daemon } = world(1);
    for (const type of [XS_WATCH_EVENT, XS_ERROR, 20, 23, 26, 27, 0xffff, 0xffffffff]) expect(g!.ask(type, "x\0")).toEqual(error("ENOSYS"));
    for (let type = 0; type < 30; type++) {
      for (const payload of ["", "\0", "\0\0\0", "\xff\xfe", "a".repeat(4096), "/\0/\0/\0"]) g!.ask(type, payload);
    }
    expect(daemon.stats.internalErrors).toBe(0);
  });

  it("echoes req_id and tx_id in replies and errors", () => {
    const { daemon, domains: [g] } = world(1);
    daemon.handle(g!.conn, { type: XS_READ, reqId: 0xdeadbeef, txId: 0, payload: textBytes("domid\0") });
    daemon.handle(g!.conn, { type: XS_READ, reqId: 42, txId: 5, payload: textBytes("domid\0") });
    const [ok, err] = g!.conn.takeMessages().map((b) => new DataView(b.buffer, b.byteOffset));
    expect([ok!.getUint32(0, true), ok!.getUint32(4, true), ok!.getUint32(8, true), ok!.getUint32(12, true)]).toEqual([XS_READ, 0xdeadbeef, 0, 1]);
    expect([err!.getUint32(0, true), err!.getUint32(4, true), err!.getUint32(8, true)]).toEqual([XS_ERROR, 42, 5]);
  });

  it("gives any domain's home path with GET_DOMAIN_PATH, EINVAL for what is not a domid", () => {
    const { domains: [g] } = world(1);
    expect(g!.ask(XS_GET_DOMAIN_PATH, "7\0")).toEqual({ type: XS_GET_DOMAIN_PATH, text: "/local/domain/7|" });
    expect(g!.ask(XS_GET_DOMAIN_PATH, "seven\0")).toEqual(error("EINVAL"));
    expect(g!.ask(XS_GET_DOMAIN_PATH, "7")).toEqual(error("EINVAL"));
  });

  it("lists a long directory in pieces with DIRECTORY_PART, each with the node's generation", () => {
    const { xs, daemon } = world();
    const names = Array.from({ length: 300 }, (_, i) => `child-with-a-longish-name-${i}`);
    for (const n of names) xs.write(`/tool/big/${n}`, "");
    // Too long for DIRECTORY's one payload.
    expect(new TextDecoder().decode(daemon.request({ type: XS_DIRECTORY, reqId: 1, txId: 0, payload: textBytes("/tool/big\0") }).payload)).toBe("E2BIG\0");
    const got: string[] = [];
    let offset = 0;
    let generation = "";
    for (let part = 0; part < 10; part++) {
      const reply = daemon.request({ type: XS_DIRECTORY_PART, reqId: 1, txId: 0, payload: textBytes(`/tool/big\0${offset}\0`) });
      expect(reply.type).toBe(XS_DIRECTORY_PART);
      expect(reply.payload.length).toBeLessThanOrEqual(4096);
      const strings = new TextDecoder().decode(reply.payload).split("\0");
      generation ||= strings[0]!;
      expect(strings[0]).toBe(generation);
      const children = strings.slice(1).filter((s) => s !== "");
      got.push(...children);
      offset += children.reduce((n, c) => n + c.length + 1, 0);
      if (reply.payload.at(-1) === 0 && reply.payload.at(-2) === 0) break;
    }
    expect(got).toEqual(names);
  });

  it("answers E2BIG for a reply longer than a payload may be", () => {
    const { xs, daemon } = world();
    for (let i = 0; i < 200; i++) xs.write(`/tool/huge/${"n".repeat(40)}${i}`, "");
    expect(() => xs.directory("/tool/huge")).toThrow(XenstoreError);
    expect(daemon.stats.errors).toBe(1);
  });

  it("lets domain 0 release, re-check and resume domains, and SET_TARGET a device model", () => {
    const { xs, daemon, domains: [a, b] } = world(1, 2);
    const ask = (type: number, payload: string) => new TextDecoder().decode(daemon.request({ type, reqId: 1, txId: 0, payload: textBytes(payload) }).payload);
    expect(ask(XS_IS_DOMAIN_INTRODUCED, "1\0")).toBe("T\0");
    expect(ask(XS_INTRODUCE, "1\x00123\x002\0")).toBe("OK\0");
    expect(ask(XS_INTRODUCE, "9\x00123\x002\0")).toBe("EINVAL\0");
    a!.ask(XS_WRITE, "data/k\0v");
    expect(b!.ask(XS_READ, "/local/domain/1/data/k\0")).toEqual(error("EACCES"));
    expect(ask(XS_SET_TARGET, "2\x001\0")).toBe("OK\0");
    expect(b!.ask(XS_READ, "/local/domain/1/data/k\0")).toEqual({ type: XS_READ, text: "v" });
    expect(ask(XS_RESUME, "2\0")).toBe("OK\0");
    expect(ask(XS_RELEASE, "2\0")).toBe("OK\0");
    expect(ask(XS_IS_DOMAIN_INTRODUCED, "2\0")).toBe("F\0");
    expect(ask(XS_RELEASE, "2\0")).toBe("ENOENT\0");
    expect(ask(XS_CONTROL, "check\0")).toBe("OK\0");
    expect(xs.read("/local/domain/0/name")).toBe("Domain-0");
  });
});

describe("in the hypervisor", () => {
  const wasm = () => new Uint8Array(readFileSync("build/core.wasm"));
  const idle = pvKernel(`
entry:  mov     ebx, SCHEDOP_shutdown
        mov     ecx, reason
        hypercall __HYPERVISOR_sched_op
reason: dd SHUTDOWN_poweroff
`);

  it("gives every domain its directory and ring at creation, as libxl does, and takes them back at destruction", async () => {
    const xen = await Hypervisor.create({ wasm: wasm(), memMiB: 64, clock: "deterministic" });
    const domain = xen.createDomain({ name: "guest", kernel: idle, memoryMiB: 16, vcpus: 2 });
    const home = `/local/domain/${domain.domid}`;
    const ring = xen.events.storeRingOf(domain)!;
    expect(xen.mem.read32(domain.built.startInfoMfn * 4096 + start_info.store_evtchn)).toBe(ring.evtchn);
    expect(ring.evtchn).toBe(2);
    expect(xen.xs.read(`${home}/name`)).toBe("guest");
    expect(xen.xs.read(`${home}/domid`)).toBe(String(domain.domid));
    expect(xen.xs.read(`${home}/store/port`)).toBe(String(ring.evtchn));
    expect(xen.xs.read(`${home}/store/ring-ref`)).toBe(String(domain.built.storeMfn));
    expect(xen.xs.read(`${home}/console/port`)).toBe("1");
    expect(xen.xs.read(`${home}/memory/target`)).toBe("16384");
    expect(xen.xs.directory(`${home}/cpu`)).toEqual(["0", "1"]);
    expect(xen.xs.getPermissions(home)).toEqual([{ id: 0, perms: 0 }, { id: domain.domid, perms: 1 }]);
    expect(xen.xs.getPermissions(`${home}/control/shutdown`)).toEqual([{ id: domain.domid, perms: 0 }]);
    expect(xen.xenstored.isIntroduced(domain.domid)).toBe(true);

    const released: string[] = [];
    xen.xs.watch("@releaseDomain", "r", (path) => released.push(path));
    released.length = 0;
    while (domain.state !== "shutdown") xen.step();
    expect(domain.shutdownReason).toBe(SHUTDOWN_poweroff);
    expect(released).toEqual(["@releaseDomain"]);
    xen.destroyDomain(domain);
    expect(released).toEqual(["@releaseDomain", "@releaseDomain"]);
    expect(xen.xs.read(`${home}/name`)).toBeNull();
    expect(xen.xs.directory("/local/domain")).toEqual(["0"]);
    expect(xen.xenstored.isIntroduced(domain.domid)).toBe(false);
  });
});
