// test/hypervisor/xenstore/transaction.test.ts — transactions: isolation, commit, and EAGAIN when another change got in the way.

import { describe, expect, it } from "vitest";
import {
  XS_DIRECTORY, XS_READ, XS_RM, XS_TRANSACTION_END, XS_TRANSACTION_START, XS_WATCH, XS_WRITE,
} from "../../../hypervisor/abi/io/xs_wire.js";
import { quota_max_transaction, quota_trans_nodes } from "../../../hypervisor/xenstore/quota.js";
import { type TestDomain, error, world } from "./fixture.js";

const start = (g: TestDomain): number => Number.parseInt(g.ask(XS_TRANSACTION_START, "\0").text, 10);
const commit = (g: TestDomain, tx: number) => g.ask(XS_TRANSACTION_END, "T\0", tx);
const OK = (type: number) => ({ type, text: "OK|" });

describe("transactions", () => {
  it("keeps a transaction's changes to itself until it commits", () => {
    const { domains: [g] } = world(1);
    const tx = start(g!);
    expect(tx).toBeGreaterThan(0);
    expect(g!.ask(XS_WRITE, "data/a/b\x001", tx)).toEqual(OK(XS_WRITE));
    expect(g!.ask(XS_READ, "data/a/b\0", tx)).toEqual({ type: XS_READ, text: "1" });
    expect(g!.ask(XS_READ, "data/a/b\0")).toEqual(error("ENOENT"));
    expect(g!.ask(XS_DIRECTORY, "data\0")).toEqual({ type: XS_DIRECTORY, text: "" });
    expect(commit(g!, tx)).toEqual(OK(XS_TRANSACTION_END));
    expect(g!.ask(XS_READ, "data/a/b\0")).toEqual({ type: XS_READ, text: "1" });
    expect(g!.ask(XS_READ, "data/a/b\0", tx)).toEqual(error("ENOENT"));
  });

  it("drops everything on F", () => {
    const { domains: [g] } = world(1);
    const tx = start(g!);
    g!.ask(XS_WRITE, "data/x\0y", tx);
    expect(g!.ask(XS_TRANSACTION_END, "F\0", tx)).toEqual(OK(XS_TRANSACTION_END));
    expect(g!.ask(XS_READ, "data/x\0")).toEqual(error("ENOENT"));
  });

  it("fails the commit with EAGAIN when a node it read was written since, and changes nothing", () => {
    const { domains: [g] } = world(1);
    g!.ask(XS_WRITE, "data/counter\x000");
    const tx = start(g!);
    g!.ask(XS_READ, "data/counter\0", tx);
    g!.ask(XS_WRITE, "data/other\0z", tx);
    g!.ask(XS_WRITE, "data/counter\x005");
    expect(commit(g!, tx)).toEqual(error("EAGAIN"));
    expect(g!.ask(XS_READ, "data/other\0")).toEqual(error("ENOENT"));
    // The transaction is gone either way: the retry starts a new one.
    expect(commit(g!, tx)).toEqual(error("ENOENT"));
    const retry = start(g!);
    const n = Number(g!.ask(XS_READ, "data/counter\0", retry).text);
    g!.ask(XS_WRITE, `data/counter\0${n + 1}`, retry);
    expect(commit(g!, retry)).toEqual(OK(XS_TRANSACTION_END));
    expect(g!.ask(XS_READ, "data/counter\0").text).toBe("6");
  });

  it("conflicts with another domain's commit on a node both wrote, but not on disjoint ones", () => {
    const { domains: [a], xs } = world(1);
    xs.write("/shared/x", "0");
    xs.setPermissions("/shared", [{ id: 0, perms: 3 }]);
    xs.setPermissions("/shared/x", [{ id: 0, perms: 3 }]);
    const t1 = start(a!);
    const t2 = start(a!);
    a!.ask(XS_WRITE, "/shared/x\x001", t1);
    a!.ask(XS_WRITE, "/shared/x\x002", t2);
    expect(commit(a!, t1)).toEqual(OK(XS_TRANSACTION_END));
    expect(commit(a!, t2)).toEqual(error("EAGAIN"));
    const t3 = start(a!);
    const t4 = start(a!);
    a!.ask(XS_WRITE, "data/p\0p", t3);
    a!.ask(XS_READ, "/shared/x\0", t4);
    expect(commit(a!, t3)).toEqual(OK(XS_TRANSACTION_END));
    expect(commit(a!, t4)).toEqual(OK(XS_TRANSACTION_END));
  });

  it("counts a node missing when first read: created meanwhile is a conflict", () => {
    const { domains: [g] } = world(1);
    const tx = start(g!);
    expect(g!.ask(XS_READ, "data/new\0", tx)).toEqual(error("ENOENT"));
    g!.ask(XS_WRITE, "data/new\0n");
    g!.ask(XS_WRITE, "data/mine\0m", tx);
    expect(commit(g!, tx)).toEqual(error("EAGAIN"));
  });

  it("fails a commit whose node changed after the start, even if first read after the change", () => {
    const { domains: [g] } = world(1);
    g!.ask(XS_WRITE, "data/k\0a");
    const tx = start(g!);
    g!.ask(XS_WRITE, "data/k\0b");
    expect(g!.ask(XS_READ, "data/k\0", tx).text).toBe("b");
    expect(commit(g!, tx)).toEqual(error("EAGAIN"));
  });

  it("fires watches only when it commits, and not at all when it fails", () => {
    const { domains: [g] } = world(1);
    g!.ask(XS_WATCH, "data\0w\0");
    g!.events.length = 0;
    const tx = start(g!);
    g!.ask(XS_WRITE, "data/t\x001", tx);
    g!.ask(XS_RM, "data/t\0", tx);
    g!.ask(XS_WRITE, "data/u\x001", tx);
    expect(g!.events).toEqual([]);
    commit(g!, tx);
    // The second event for data/t is dropped: the same one is still waiting to be read (send_event).
    expect(g!.events).toEqual(["data/t|w|", "data/u|w|"]);
    g!.events.length = 0;
    const lost = start(g!);
    g!.ask(XS_READ, "data/u\0", lost);
    g!.ask(XS_WRITE, "data/v\x001", lost);
    g!.ask(XS_WRITE, "data/u\x002");
    g!.events.length = 0;
    expect(commit(g!, lost)).toEqual(error("EAGAIN"));
    expect(g!.events).toEqual([]);
  });

  it("refuses a transaction inside a transaction (EBUSY), an unknown id (ENOENT), an end that is neither T nor F (EINVAL)", () => {
    const { domains: [g] } = world(1);
    const tx = start(g!);
    expect(g!.ask(XS_TRANSACTION_START, "\0", tx)).toEqual(error("EBUSY"));
    expect(g!.ask(XS_READ, "domid\0", 999)).toEqual(error("ENOENT"));
    expect(g!.ask(XS_TRANSACTION_END, "X\0", tx)).toEqual(error("EINVAL"));
    expect(g!.ask(XS_TRANSACTION_END, "T\0")).toEqual(error("ENOENT"));
    expect(commit(g!, tx)).toEqual(OK(XS_TRANSACTION_END));
  });

  it("allows a guest quota_max_transaction open transactions, then ENOSPC", () => {
    const { domains: [g] } = world(1);
    const ids = Array.from({ length: quota_max_transaction }, () => start(g!));
    expect(new Set(ids).size).toBe(quota_max_transaction);
    expect(g!.ask(XS_TRANSACTION_START, "\0")).toEqual(error("ENOSPC"));
    g!.ask(XS_TRANSACTION_END, "F\0", ids[0]);
    expect(start(g!)).toBeGreaterThan(0);
  });

  it("limits the nodes one transaction may touch to quota_trans_nodes (ENOSPC)", () => {
    const { domains: [g] } = world(1);
    const tx = start(g!);
    let i = 0;
    while (g!.ask(XS_READ, `data/n${i}\0`, tx).text === "ENOENT|") i++;
    // Each read touches its node; the first also looked at data/ to tell ENOENT from EACCES.
    expect(i).toBe(quota_trans_nodes - 1);
    expect(g!.ask(XS_READ, `data/n${i}\0`, tx)).toEqual(error("ENOSPC"));
  });
});
