// test/hypervisor/xenstore/store.test.ts — the tree, its paths, Xen's permission model and the per-domain quotas.

import { describe, expect, it } from "vitest";
import {
  XS_DIRECTORY, XS_GET_PERMS, XS_MKDIR, XS_READ, XS_RM, XS_SET_PERMS, XS_WRITE,
} from "../../../hypervisor/abi/io/xs_wire.js";
import { XS_PERM_NONE, XS_PERM_READ, XS_PERM_WRITE, permFor } from "../../../hypervisor/xenstore/permissions.js";
import {
  quota_max_entry_size, quota_nb_entry_per_domain, quota_nb_perms_per_node,
} from "../../../hypervisor/xenstore/quota.js";
import { Store, XsError, canonicalize, nodeSize } from "../../../hypervisor/xenstore/store.js";
import { error, world } from "./fixture.js";

const guest1 = { domid: 1, privileged: false, target: null };
const dom0 = { domid: 0, privileged: true, target: null };
const errnoOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as XsError).errno;
  }
  return "no error";
};

describe("paths", () => {
  it("takes a relative path under the requester's /local/domain/<domid>", () => {
    expect(canonicalize(guest1, "data/x", false)).toBe("/local/domain/1/data/x");
    expect(canonicalize(guest1, "/vm/x", false)).toBe("/vm/x");
  });

  it("refuses trailing and double slashes, characters outside A-Za-z0-9-/_@, special paths where none may be, and no path at all", () => {
    for (const bad of ["/a/", "/a//b", "/a b", "/a.b", "", "@releaseDomain"]) expect(errnoOf(() => canonicalize(guest1, bad, false))).toBe("EINVAL");
    expect(errnoOf(() => canonicalize(guest1, null, false))).toBe("EINVAL");
    expect(canonicalize(guest1, "@releaseDomain", true)).toBe("@releaseDomain");
  });

  it("limits a guest to 2048 bytes below its home (path-max), and everyone to 3072", () => {
    const long = "a".repeat(2048);
    expect(canonicalize(guest1, long, false)).toBe(`/local/domain/1/${long}`);
    expect(errnoOf(() => canonicalize(guest1, `${long}b`, false))).toBe("EINVAL");
    expect(canonicalize(dom0, `/${"a".repeat(3071)}`, false)).toHaveLength(3072);
    expect(errnoOf(() => canonicalize(dom0, `/${"a".repeat(3072)}`, false))).toBe("EINVAL");
  });
});

describe("permissions", () => {
  it("gives the owner and domain 0 everything, a listed domain its entry, everyone else the first entry's default", () => {
    const perms = [{ id: 1, perms: XS_PERM_READ }, { id: 2, perms: XS_PERM_WRITE }, { id: 3, perms: XS_PERM_NONE }];
    const who = (domid: number) => ({ domid, privileged: domid === 0, target: null });
    expect(permFor(who(1), perms)).toBe(0b1011);
    expect(permFor(who(0), perms)).toBe(0b1011);
    expect(permFor(who(2), perms)).toBe(XS_PERM_WRITE);
    expect(permFor(who(3), perms)).toBe(XS_PERM_NONE);
    expect(permFor(who(4), perms)).toBe(XS_PERM_READ);
    // SET_TARGET: a device model acts for its guest.
    expect(permFor({ domid: 5, privileged: false, target: 1 }, perms)).toBe(0b1011);
  });

  it("gives a domain a read-only home it cannot write into, and data/ it owns", () => {
    const { domains: [g] } = world(1);
    expect(g!.ask(XS_READ, "name\0")).toEqual({ type: XS_READ, text: "guest1" });
    expect(g!.ask(XS_GET_PERMS, "/local/domain/1\0")).toEqual({ type: XS_GET_PERMS, text: "n0|r1|" });
    expect(g!.ask(XS_WRITE, "name\0evil")).toEqual(error("EACCES"));
    expect(g!.ask(XS_WRITE, "new\0x")).toEqual(error("EACCES"));
    expect(g!.ask(XS_WRITE, "data/x\0y")).toEqual({ type: XS_WRITE, text: "OK|" });
    expect(g!.ask(XS_GET_PERMS, "data/x\0")).toEqual({ type: XS_GET_PERMS, text: "n1|" });
  });

  it("makes new nodes inherit the parent's list with the creator as owner, parents included", () => {
    const { domains: [g] } = world(1);
    g!.ask(XS_SET_PERMS, "data\0n1\0r0\0");
    expect(g!.ask(XS_WRITE, "data/a/b/c\0v").type).toBe(XS_WRITE);
    expect(g!.ask(XS_GET_PERMS, "data/a\0").text).toBe("n1|r0|");
    expect(g!.ask(XS_READ, "data/a\0")).toEqual({ type: XS_READ, text: "" });
    expect(g!.ask(XS_DIRECTORY, "data/a\0")).toEqual({ type: XS_DIRECTORY, text: "b|" });
  });

  it("keeps one domain out of another's private node until the owner grants it with SET_PERMS", () => {
    const { domains: [a, b] } = world(1, 2);
    a!.ask(XS_WRITE, "data/secret\x0042");
    expect(b!.ask(XS_READ, "/local/domain/1/data/secret\0")).toEqual(error("EACCES"));
    // A missing node under a directory it may not see is EACCES too: nothing leaks.
    expect(b!.ask(XS_READ, "/local/domain/1/data/nothing\0")).toEqual(error("EACCES"));
    expect(b!.ask(XS_WRITE, "/local/domain/1/data/secret\0x")).toEqual(error("EACCES"));
    expect(b!.ask(XS_SET_PERMS, "/local/domain/1/data/secret\0n2\0")).toEqual(error("EACCES"));
    expect(a!.ask(XS_SET_PERMS, "data/secret\0n1\0r2\0")).toEqual({ type: XS_SET_PERMS, text: "OK|" });
    expect(b!.ask(XS_READ, "/local/domain/1/data/secret\0")).toEqual({ type: XS_READ, text: "42" });
    expect(b!.ask(XS_WRITE, "/local/domain/1/data/secret\0x")).toEqual(error("EACCES"));
  });

  it("answers ENOENT for a missing node only to a domain that may read its parent", () => {
    const { domains: [g] } = world(1);
    expect(g!.ask(XS_READ, "data/missing\0")).toEqual(error("ENOENT"));
    expect(g!.ask(XS_READ, "/local/domain/0/missing\0")).toEqual(error("EACCES"));
  });

  it("lets only the owner change the list, and not give the node away (EPERM)", () => {
    const { domains: [g] } = world(1);
    g!.ask(XS_WRITE, "data/k\0v");
    expect(g!.ask(XS_SET_PERMS, "data/k\0n2\0")).toEqual(error("EPERM"));
    expect(g!.ask(XS_SET_PERMS, "data/k\0x1\0")).toEqual(error("EINVAL"));
    expect(g!.ask(XS_SET_PERMS, "data/k\0")).toEqual(error("EINVAL"));
    expect(g!.ask(XS_SET_PERMS, "name\0n1\0")).toEqual(error("EACCES"));
  });
});

describe("the operations", () => {
  it("RM takes the whole subtree; a missing node is fine if its parent exists", () => {
    const { domains: [g] } = world(1);
    g!.ask(XS_WRITE, "data/a/b\0x");
    g!.ask(XS_WRITE, "data/a/c\0y");
    expect(g!.ask(XS_RM, "data/a\0").type).toBe(XS_RM);
    expect(g!.ask(XS_READ, "data/a/b\0")).toEqual(error("ENOENT"));
    expect(g!.ask(XS_DIRECTORY, "data\0")).toEqual({ type: XS_DIRECTORY, text: "" });
    expect(g!.ask(XS_RM, "data/a\0").type).toBe(XS_RM);
    expect(g!.ask(XS_RM, "data/a/b\0")).toEqual(error("ENOENT"));
  });

  it("MKDIR leaves an existing node's value alone", () => {
    const { domains: [g] } = world(1);
    g!.ask(XS_WRITE, "data/k\0v");
    expect(g!.ask(XS_MKDIR, "data/k\0").type).toBe(XS_MKDIR);
    expect(g!.ask(XS_READ, "data/k\0").text).toBe("v");
  });

  it("keeps values as bytes: NULs and high bytes come back as written", () => {
    const { domains: [g] } = world(1);
    g!.ask(XS_WRITE, "data/bin\0a\0b\xff");
    expect(g!.ask(XS_READ, "data/bin\0").text).toBe("a|b\xff");
  });

  it("gives a node a new generation whenever it changes, and none when it is only read", () => {
    const store = new Store();
    store.put("/a", { value: new Uint8Array(1), children: [], perms: [{ id: 0, perms: 0 }] });
    const first = store.get("/a")!.generation;
    expect(store.get("/a")!.generation).toBe(first);
    store.put("/a", { value: new Uint8Array(2), children: [], perms: [{ id: 0, perms: 0 }] });
    expect(store.get("/a")!.generation).toBeGreaterThan(first);
    expect(store.generation).toBe(store.get("/a")!.generation);
  });
});

describe("quotas", () => {
  it("stops a guest at quota_nb_entry_per_domain nodes with ENOSPC, and creates nothing of a refused path", () => {
    const { domains: [g], daemon } = world(1);
    const owned = () => daemon.store.nodesOwnedBy(1);
    for (let d = 0; d < 25; d++) g!.ask(XS_MKDIR, `data/d${d}\0`);
    for (let i = 0; owned() < quota_nb_entry_per_domain - 1; i++) expect(g!.ask(XS_WRITE, `data/d${i % 25}/k${i}\0v`).type).toBe(XS_WRITE);
    const size = daemon.store.size;
    // One node left: a key in a new directory needs two.
    expect(g!.ask(XS_WRITE, "data/new/key\0v")).toEqual(error("ENOSPC"));
    expect(daemon.store.size).toBe(size);
    expect(g!.ask(XS_WRITE, "data/d0/last\0v").type).toBe(XS_WRITE);
    expect(owned()).toBe(quota_nb_entry_per_domain);
    expect(g!.ask(XS_MKDIR, "data/d1/more\0")).toEqual(error("ENOSPC"));
    // An existing node can still be written, and a removed one frees its place.
    expect(g!.ask(XS_WRITE, "data/d0/last\0w").type).toBe(XS_WRITE);
    g!.ask(XS_RM, "data/d0/last\0");
    expect(g!.ask(XS_MKDIR, "data/d1/more\0").type).toBe(XS_MKDIR);
  });

  it("refuses a guest's node bigger than quota_max_entry_size (ENOSPC), value or children", () => {
    const { domains: [g] } = world(1);
    const header = nodeSize({ value: new Uint8Array(0), children: [], perms: [{ id: 1, perms: 0 }] });
    expect(g!.ask(XS_WRITE, `data/big\0${"v".repeat(quota_max_entry_size - header)}`).type).toBe(XS_WRITE);
    expect(g!.ask(XS_WRITE, `data/big\0${"v".repeat(quota_max_entry_size - header + 1)}`)).toEqual(error("ENOSPC"));
    let i = 0;
    while (g!.ask(XS_WRITE, `data/many/${"c".repeat(60)}${i}\0`).type === XS_WRITE) i++;
    expect(g!.ask(XS_WRITE, `data/many/${"c".repeat(60)}x\0`)).toEqual(error("ENOSPC"));
    expect(i).toBeLessThan(40);
  });

  it("allows quota_nb_perms_per_node entries, then ENOSPC", () => {
    const { domains: [g] } = world(1);
    g!.ask(XS_WRITE, "data/k\0v");
    const entries = (n: number) => Array.from({ length: n }, (_, i) => (i === 0 ? "n1\0" : `r${i + 1}\0`)).join("");
    expect(g!.ask(XS_SET_PERMS, `data/k\0${entries(quota_nb_perms_per_node)}`).type).toBe(XS_SET_PERMS);
    expect(g!.ask(XS_SET_PERMS, `data/k\0${entries(quota_nb_perms_per_node + 1)}`)).toEqual(error("ENOSPC"));
  });

  it("does not limit domain 0", () => {
    const { xs, daemon } = world();
    for (let i = 0; i < quota_nb_entry_per_domain + 5; i++) xs.write(`/tool/n${i}`, "x");
    expect(daemon.store.nodesOwnedBy(0)).toBeGreaterThan(quota_nb_entry_per_domain);
    xs.write("/tool/big", "v".repeat(4000));
    expect(xs.read("/tool/big")).toHaveLength(4000);
  });
});
