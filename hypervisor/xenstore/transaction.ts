// hypervisor/xenstore/transaction.ts — xenstore transactions: private changes, committed all at once or not at all.
//
// TRANSACTION_START gives a guest an id; requests carrying it in tx_id see
// the store as it was plus the transaction's own changes, which nobody
// else sees. TRANSACTION_END "T" commits them: if anything the transaction
// read or wrote was changed by someone else since the transaction started,
// the commit fails with EAGAIN and the guest starts over; "F" drops them
// (docs/misc/xenstore.txt, "Transactions"). This is xenstored's own
// scheme since Xen 4.9 (xenstored_transaction.c): generation counts, not
// locks. Every node a transaction touches is recorded with the generation
// it had in the store (-1: absent) the first time the transaction saw it;
// the commit compares them with the store's. A node already changed
// between the start and that first look is a conflict too.
//
// Watches hear of a transaction's changes only when it commits, and the
// number of nodes one transaction may touch is limited
// (quota_trans_nodes, ENOSPC), since each costs the daemon memory.

import { type NewNode, type NodeDb, type Store, type XsNode, type Change, fail } from "./store.js";
import { ownerOf } from "./permissions.js";
import { quota_trans_nodes } from "./quota.js";

const ABSENT = -1;

export class Transaction implements NodeDb {
  /** Nodes this transaction wrote (null: removed), by path. */
  private readonly changed = new Map<string, NewNode | null>();
  /** The store's generation of each node when the transaction first touched it, ABSENT if it did not exist. */
  private readonly accessed = new Map<string, number>();
  /** Set when a node was found changed since the start: the commit will fail. */
  private stale = false;
  /** Nodes owned per domain, as this transaction changed them (for quotas inside it). */
  private readonly ownedDelta = new Map<number, number>();
  /** What watches will hear if it commits, in order. */
  readonly changes: Change[] = [];
  /** The store's generation when it started. */
  private readonly startGeneration: number;

  constructor(
    readonly id: number,
    private readonly store: Store,
    /** Whether the quota on touched nodes applies (a guest's transaction). */
    private readonly limited: boolean,
  ) {
    this.startGeneration = store.generation;
  }

  /** Nodes touched so far. */
  get size(): number {
    return this.accessed.size;
  }

  get(path: string): XsNode | undefined {
    this.touch(path);
    return this.view(path);
  }

  put(path: string, node: NewNode): void {
    this.touch(path);
    this.count(this.view(path), -1);
    this.changed.set(path, node);
    this.count(node, +1);
  }

  remove(path: string): void {
    this.touch(path);
    this.count(this.view(path), -1);
    this.changed.set(path, null);
  }

  nodesOwnedBy(domid: number): number {
    return this.store.nodesOwnedBy(domid) + (this.ownedDelta.get(domid) ?? 0);
  }

  /**
   * Commits into the store: false, with nothing changed, when a node it
   * touched has changed there since (EAGAIN for the guest). The nodes it
   * wrote get fresh generations.
   */
  commit(): boolean {
    if (this.stale) return false;
    for (const [path, generation] of this.accessed) {
      if ((this.store.get(path)?.generation ?? ABSENT) !== generation) return false;
    }
    for (const [path, node] of this.changed) {
      if (node) this.store.put(path, node);
      else this.store.remove(path);
    }
    return true;
  }

  /** The node as this transaction sees it, without recording a touch. */
  private view(path: string): XsNode | undefined {
    if (this.changed.has(path)) {
      const node = this.changed.get(path);
      return node ? { ...node, generation: ABSENT } : undefined;
    }
    return this.store.get(path);
  }

  private touch(path: string): void {
    if (this.accessed.has(path)) return;
    if (this.limited && this.accessed.size >= quota_trans_nodes) fail("ENOSPC");
    const generation = this.store.get(path)?.generation ?? ABSENT;
    if (generation > this.startGeneration) this.stale = true;
    this.accessed.set(path, generation);
  }

  private count(node: NewNode | undefined, delta: number): void {
    if (!node) return;
    const owner = ownerOf(node.perms);
    this.ownedDelta.set(owner, (this.ownedDelta.get(owner) ?? 0) + delta);
  }
}
