// test/hypervisor/xenstore/watch.test.ts — watches: the first event, subtrees, removal, permissions, special paths, quotas.

import { describe, expect, it } from "vitest";
import {
  XS_RESET_WATCHES, XS_RM, XS_SET_PERMS, XS_UNWATCH, XS_WATCH, XS_WRITE,
} from "../../../hypervisor/abi/io/xs_wire.js";
import { quota_memory_per_domain_hard, quota_nb_watch_per_domain } from "../../../hypervisor/xenstore/quota.js";
import { error, world } from "./fixture.js";

describe("watches", () => {
  it("fires once at once, after the OK, with the path as given", () => {
    const { domains: [g] } = world(1);
    expect(g!.ask(XS_WATCH, "data/k\0tok\0")).toEqual({ type: XS_WATCH, text: "OK|" });
    expect(g!.events).toEqual(["data/k|tok|"]);
  });

  it("fires for every change at or below the path, naming the node that changed (a recursive watch on a subtree)", () => {
    const { domains: [g] } = world(1);
    g!.ask(XS_WATCH, "/local/domain/1/data\0t\0");
    g!.events.length = 0;
    g!.ask(XS_WRITE, "data/a\x001");
    g!.ask(XS_WRITE, "data/a/b/c\x002");
    g!.ask(XS_WRITE, "data-not-below\x003");
    g!.ask(XS_SET_PERMS, "data/a\0n1\0r0\0");
    expect(g!.events).toEqual([
      "/local/domain/1/data/a|t|", "/local/domain/1/data/a/b/c|t|", "/local/domain/1/data/a|t|",
    ]);
  });

  it("reports relative paths to a watch set with a relative path", () => {
    const { domains: [g] } = world(1);
    g!.ask(XS_WATCH, "data\0rel\0");
    g!.events.length = 0;
    g!.ask(XS_WRITE, "/local/domain/1/data/x\0v");
    expect(g!.events).toEqual(["data/x|rel|"]);
  });

  it("on RM of a subtree fires watches above it with the removed path and watches below only on exactly their node", () => {
    const { domains: [g] } = world(1);
    g!.ask(XS_WRITE, "data/a/b/c\0v");
    g!.ask(XS_WATCH, "data\0above\0");
    g!.ask(XS_WATCH, "data/a/b/c\0exact\0");
    g!.ask(XS_WATCH, "data/a/b/nothing\0missing\0");
    g!.events.length = 0;
    g!.ask(XS_RM, "data/a\0");
    expect(g!.events.sort()).toEqual(["data/a/b/c|exact|", "data/a|above|"]);
  });

  it("tells another domain only of changes to nodes it may read, and of a SET_PERMS that takes its access away", () => {
    const { domains: [a, b] } = world(1, 2);
    a!.ask(XS_WRITE, "data/k\0v");
    expect(b!.ask(XS_WATCH, "/local/domain/1/data/k\0spy\0").type).toBe(XS_WATCH);
    b!.events.length = 0;
    a!.ask(XS_WRITE, "data/k\0w");
    expect(b!.poll()).toEqual([]);
    a!.ask(XS_SET_PERMS, "data/k\0n1\0r2\0");
    expect(b!.poll()).toEqual(["/local/domain/1/data/k|spy|"]);
    a!.ask(XS_WRITE, "data/k\0x");
    expect(b!.poll()).toEqual(["/local/domain/1/data/k|spy|"]);
    a!.ask(XS_SET_PERMS, "data/k\0n1\0");
    expect(b!.poll()).toEqual(["/local/domain/1/data/k|spy|"]);
    a!.ask(XS_WRITE, "data/k\0y");
    expect(b!.poll()).toEqual([]);
  });

  it("refuses a second identical watch (EEXIST), removes one with UNWATCH, ENOENT for one not set", () => {
    const { domains: [g] } = world(1);
    g!.ask(XS_WATCH, "data\0t\0");
    expect(g!.ask(XS_WATCH, "data\0t\0")).toEqual(error("EEXIST"));
    expect(g!.ask(XS_WATCH, "data\0other\0").type).toBe(XS_WATCH);
    expect(g!.ask(XS_UNWATCH, "data\0t\0").type).toBe(XS_UNWATCH);
    expect(g!.ask(XS_UNWATCH, "data\0t\0")).toEqual(error("ENOENT"));
    expect(g!.ask(XS_WATCH, "data\0")).toEqual(error("EINVAL"));
    g!.events.length = 0;
    g!.ask(XS_RESET_WATCHES, "\0");
    g!.ask(XS_WRITE, "data/z\0z");
    expect(g!.events).toEqual([]);
  });

  it("allows a guest quota_nb_watch_per_domain watches, then E2BIG", () => {
    const { domains: [g] } = world(1);
    for (let i = 0; i < quota_nb_watch_per_domain; i++) expect(g!.ask(XS_WATCH, `data\0t${i}\0`).type).toBe(XS_WATCH);
    expect(g!.ask(XS_WATCH, "data\0one-more\0")).toEqual(error("E2BIG"));
  });

  it("drops watch events for a domain that does not read them beyond its memory quota, and the same event twice", () => {
    const { domains: [a, b], xs } = world(1, 2);
    xs.write("/shared/k", "0");
    xs.setPermissions("/shared", [{ id: 0, perms: 3 }]);
    xs.setPermissions("/shared/k", [{ id: 0, perms: 3 }]);
    b!.ask(XS_WATCH, "/shared\0w\0");
    b!.ask(XS_WATCH, `/shared\0${"t".repeat(3000)}\0`);
    b!.events.length = 0;
    a!.ask(XS_WRITE, "/shared/k\x001");
    a!.ask(XS_WRITE, "/shared/k\x002");
    expect(b!.conn.pendingBytes).toBeLessThan(2 * 3100);
    // Domain 0 writes (it has no quota), each write two events for b: the small one and the long one.
    for (let i = 0; i < 1000 && b!.conn.pendingBytes + 3100 <= quota_memory_per_domain_hard; i++) xs.write(`/shared/n${i}`, "x");
    xs.write("/shared/one-more", "x");
    expect(b!.conn.eventsDropped).toBeGreaterThan(0);
    expect(b!.conn.pendingBytes).toBeLessThanOrEqual(quota_memory_per_domain_hard);
  });
});

describe("special watches", () => {
  it("fire @introduceDomain and @releaseDomain for domain 0, and for a guest only once domain 0 lets it read them", () => {
    const { daemon, xs, domains: [g] } = world(1);
    const heard: string[] = [];
    xs.watch("@introduceDomain", "intro", (path, token) => heard.push(`${path} ${token}`));
    xs.watch("@releaseDomain", "release", (path, token) => heard.push(`${path} ${token}`));
    expect(heard).toEqual(["@introduceDomain intro", "@releaseDomain release"]);
    g!.ask(XS_WATCH, "@releaseDomain\0mine\0");
    g!.events.length = 0;

    daemon.introduceDomain(7, { kick: () => {} });
    expect(heard.at(-1)).toBe("@introduceDomain intro");
    daemon.domainShutdown(7);
    daemon.domainShutdown(7);
    expect(heard.filter((h) => h.startsWith("@releaseDomain")).length).toBe(2);
    expect(g!.poll()).toEqual([]);

    // Changing the special node's permissions is a change of it, which the guest may now hear.
    xs.setPermissions("@releaseDomain", [{ id: 0, perms: 1 }]);
    expect(g!.poll()).toEqual(["@releaseDomain|mine|"]);
    daemon.releaseDomain(7);
    expect(g!.poll()).toEqual(["@releaseDomain|mine|"]);
    expect(daemon.isIntroduced(7)).toBe(false);
  });

  it("removes the nodes a released domain still owns, wherever they are", () => {
    const { daemon, xs, domains: [g] } = world(1);
    xs.mkdir("/tool/shared");
    xs.setPermissions("/tool/shared", [{ id: 0, perms: 3 }]);
    g!.ask(XS_WRITE, "/tool/shared/left-behind\0x");
    expect(xs.read("/tool/shared/left-behind")).toBe("x");
    daemon.releaseDomain(1);
    expect(xs.read("/tool/shared/left-behind")).toBeNull();
    expect(xs.directory("/tool/shared")).toEqual([]);
  });
});
