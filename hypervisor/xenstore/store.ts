// hypervisor/xenstore/store.ts — the xenstore tree: nodes with values, children, permissions, generation counts.
//
// Xenstore is a tree of paths like files (docs/misc/xenstore.txt): every
// node has a value (bytes, possibly empty), a list of children's names, a
// permission list (hypervisor/xenstore/permissions.ts) and, in xenstored, a
// generation count that changes whenever the node does. If a path exists
// all its parents do; WRITE and MKDIR create missing parents with empty
// values, RM removes a whole subtree. Paths are absolute here: the daemon
// turns a guest's relative path into one under /local/domain/<domid> first
// (canonicalize). "@introduceDomain" and "@releaseDomain" are nodes too,
// outside the tree, that only carry the permissions of those special
// watches.
//
// The rule that makes access safe: a request reaches a node only through
// getNode, which checks the requester's permission; a node it may not see,
// and a missing node under a parent it may not see, both answer EACCES, so
// that nothing about them leaks (xenstored's errno_from_parents).
//
// The operations work on a NodeDb: the committed store itself, or a
// transaction's view of it (hypervisor/xenstore/transaction.ts), so one
// code path serves both. Nodes are never changed in place: an operation
// puts a new node, and the committed store gives it the next generation.
// Each operation returns the changes watches must hear of.

import { XENSTORE_ABS_PATH_MAX, type XsdError } from "../abi/io/xs_wire.js";
import {
  type Accessor, type NodePerms, XS_PERM_NONE, XS_PERM_OWNER, XS_PERM_READ, XS_PERM_WRITE, inheritPerms, makePerms, ownerOf, permFor,
} from "./permissions.js";
import { quota_max_entry_size, quota_max_path_len, quota_nb_entry_per_domain, quota_nb_perms_per_node } from "./quota.js";

/** A failed request: the errno name xenstored answers. Caught by the daemon and sent as XS_ERROR. */
export class XsError extends Error {
  constructor(readonly errno: XsdError) {
    super(errno);
  }
}

export function fail(errno: XsdError): never {
  throw new XsError(errno);
}

export interface XsNode {
  readonly value: Uint8Array;
  /** The children's names, in the order they were created. */
  readonly children: readonly string[];
  readonly perms: NodePerms;
  /** Changes whenever the node does; a transaction compares it at commit. */
  readonly generation: number;
}

/** A node as an operation makes it; the store stamps the generation. */
export type NewNode = Omit<XsNode, "generation">;

/** The special watch paths, which exist as nodes outside the tree (xenstored's setup_structure). */
export const SPECIAL_PATHS = ["@introduceDomain", "@releaseDomain"] as const;

/** Where nodes are read and written: the committed store or a transaction. */
export interface NodeDb {
  get(path: string): XsNode | undefined;
  put(path: string, node: NewNode): void;
  remove(path: string): void;
  /** Nodes owned by `domid`, for its quota. */
  nodesOwnedBy(domid: number): number;
}

/** What a watch hears of: a path that changed, and the permissions that decide who may hear it. */
export interface Change {
  readonly path: string;
  /** True for a node removed with its parent: only watches on exactly it fire (xenstored's delnode_sub). */
  readonly exact: boolean;
  readonly perms: NodePerms;
  /** SET_PERMS: the list before, so a domain that could read the node then hears that it no longer can. */
  readonly oldPerms?: NodePerms;
}

const EMPTY = new Uint8Array(0);

/** The committed tree. */
export class Store implements NodeDb {
  private readonly nodes = new Map<string, XsNode>();
  private readonly owned = new Map<number, number>();
  private lastGeneration = 0;

  constructor() {
    const dom0Only = makePerms(0, XS_PERM_NONE);
    this.put("/", { value: EMPTY, children: [], perms: dom0Only });
    for (const special of SPECIAL_PATHS) this.put(special, { value: EMPTY, children: [], perms: dom0Only });
  }

  /** The generation the next change will get minus one: a transaction starting now saw everything up to it. */
  get generation(): number {
    return this.lastGeneration;
  }

  get size(): number {
    return this.nodes.size;
  }

  get(path: string): XsNode | undefined {
    return this.nodes.get(path);
  }

  put(path: string, node: NewNode): void {
    this.count(this.nodes.get(path), -1);
    const stamped: XsNode = { value: node.value, children: node.children, perms: node.perms, generation: ++this.lastGeneration };
    this.nodes.set(path, stamped);
    this.count(stamped, +1);
  }

  remove(path: string): void {
    this.count(this.nodes.get(path), -1);
    this.nodes.delete(path);
  }

  nodesOwnedBy(domid: number): number {
    return this.owned.get(domid) ?? 0;
  }

  /** Every path, for the dashboard and the release of a domain's nodes. */
  paths(): IterableIterator<string> {
    return this.nodes.keys();
  }

  private count(node: XsNode | undefined, delta: number): void {
    if (!node) return;
    const owner = ownerOf(node.perms);
    this.owned.set(owner, (this.owned.get(owner) ?? 0) + delta);
  }
}

// ------------------------------------------------------------------ paths

/** Is `child` `parent` or below it? Everything is below "/" (xenstored's is_child). */
export function isChild(child: string, parent: string): boolean {
  if (parent === "/") return true;
  return child.startsWith(parent) && (child.length === parent.length || child[parent.length] === "/");
}

/** "/a/b" to "/a", "/a" and "@x" to "/". */
export function parentOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash <= 0 ? "/" : path.slice(0, slash);
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** "/local/domain/<domid>", the home a relative path is taken from. */
export function domainPath(domid: number): string {
  return `/local/domain/${domid}`;
}

const VALID_CHARS = /^[A-Za-z0-9\-/_@]*$/;
const LOCAL_DOMAIN = /^\/local\/domain\/[0-9]{1,5}\//;

/**
 * A path from a request made absolute and checked (xenstored's
 * canonicalize): only letters, digits and -/_@; a relative path is under
 * the requester's /local/domain/<domid>; no trailing or double slash;
 * special @-paths only where `allowSpecial`; for a guest at most
 * quota_max_path_len bytes below its /local/domain/<domid>/. EINVAL
 * otherwise, or for no path at all (a payload that was not one string).
 */
export function canonicalize(who: Accessor, raw: string | null, allowSpecial: boolean): string {
  if (raw === null || !VALID_CHARS.test(raw) || (raw.startsWith("@") && !allowSpecial)) fail("EINVAL");
  const name = raw.startsWith("/") || raw.startsWith("@") ? raw : `${domainPath(who.domid)}/${raw}`;
  if ((name.endsWith("/") && name !== "/") || name.includes("//") || name.length > XENSTORE_ABS_PATH_MAX) fail("EINVAL");
  const localOff = LOCAL_DOMAIN.exec(name)?.[0].length ?? 0;
  if (!who.privileged && name.length - localOff > quota_max_path_len) fail("EINVAL");
  return name;
}

// ------------------------------------------------------------------ access

/** What the nearest existing ancestor allows `who` (xenstored's ask_parents). */
function parentPerm(db: NodeDb, who: Accessor, path: string): number {
  let name = path;
  do {
    name = parentOf(name);
    const node = db.get(name);
    if (node) return permFor(who, node.perms);
  } while (name !== "/");
  return XS_PERM_NONE;
}

/**
 * The node at `path` if `who` has every right in `perm`. Otherwise EACCES,
 * or ENOENT when it does not exist and its nearest ancestor grants one of
 * those rights; a requester that could not see the ancestor may not learn
 * whether the node exists (get_node_chk_perm, errno_from_parents).
 */
export function getNode(db: NodeDb, who: Accessor, path: string, perm: number): XsNode {
  const node = db.get(path);
  if (node && (permFor(who, node.perms) & perm) === perm) return node;
  const errno: XsdError = node ? "EACCES" : "ENOENT";
  fail((parentPerm(db, who, path) & perm) !== 0 ? errno : "EACCES");
}

/** Bytes of a node as xenstored stores it (calc_node_acc_size): header, permissions, value, children. */
export function nodeSize(node: NewNode): number {
  let childlen = 0;
  for (const c of node.children) childlen += c.length + 1;
  return 16 + 8 * node.perms.length + node.value.length + childlen;
}

/** ENOSPC when a guest's node would pass quota_max_entry_size (write_node_raw). */
function checkSize(who: Accessor, node: NewNode): void {
  if (!who.privileged && nodeSize(node) > quota_max_entry_size) fail("ENOSPC");
}

// ------------------------------------------------------------------ the operations

/** READ: the value. */
export function readNode(db: NodeDb, who: Accessor, path: string): Uint8Array {
  return getNode(db, who, path, XS_PERM_READ).value;
}

/** DIRECTORY: the children's names. */
export function listChildren(db: NodeDb, who: Accessor, path: string): readonly string[] {
  return getNode(db, who, path, XS_PERM_READ).children;
}

/** GET_PERMS: the permission list (special paths included). */
export function getPerms(db: NodeDb, who: Accessor, path: string): NodePerms {
  return getNode(db, who, path, XS_PERM_READ).perms;
}

/** WRITE: sets the value, creating the node and its missing parents. */
export function writeNode(db: NodeDb, who: Accessor, path: string, value: Uint8Array): Change[] {
  const node = existingForWrite(db, who, path);
  if (!node) return createNode(db, who, path, value);
  const next = { value, children: node.children, perms: node.perms };
  checkSize(who, next);
  db.put(path, next);
  return [{ path, exact: false, perms: node.perms }];
}

/** MKDIR: makes sure the node exists; an existing one is left as it is (and nothing fires). */
export function makeDirectory(db: NodeDb, who: Accessor, path: string): Change[] {
  if (existingForWrite(db, who, path)) return [];
  return createNode(db, who, path, EMPTY);
}

/** The node for writing, undefined when it does not exist but may be created (ENOENT from getNode). */
function existingForWrite(db: NodeDb, who: Accessor, path: string): XsNode | undefined {
  try {
    return getNode(db, who, path, XS_PERM_WRITE);
  } catch (e) {
    if (e instanceof XsError && e.errno === "ENOENT" && !path.startsWith("@")) return undefined;
    throw e;
  }
}

/**
 * Creates `path` and every missing parent (construct_node, create_node).
 * getNode already found the nearest existing ancestor writable. Every check
 * is made before the first node is put, so a refusal leaves nothing
 * behind: a guest's nodes count against quota_nb_entry_per_domain, and the
 * ancestor, which gains a child, must stay within quota_max_entry_size.
 * Only the node asked for is reported: watches on its parents match it.
 */
function createNode(db: NodeDb, who: Accessor, path: string, value: Uint8Array): Change[] {
  const missing: string[] = [];
  let name = path;
  let ancestor: XsNode | undefined;
  while (!(ancestor = db.get(name))) {
    missing.unshift(name);
    name = parentOf(name);
  }
  if (!who.privileged && db.nodesOwnedBy(who.domid) + missing.length > quota_nb_entry_per_domain) fail("ENOSPC");
  const top = { value: ancestor.value, children: [...ancestor.children, baseName(missing[0]!)], perms: ancestor.perms };
  checkSize(who, top);
  const perms = inheritPerms(ancestor.perms, who);
  const made = missing.map((p, i): NewNode => ({
    value: i === missing.length - 1 ? value : EMPTY,
    children: i === missing.length - 1 ? [] : [baseName(missing[i + 1]!)],
    perms,
  }));
  for (const node of made) checkSize(who, node);
  db.put(name, top);
  missing.forEach((p, i) => db.put(p, made[i]!));
  return [{ path, exact: false, perms }];
}

/**
 * RM: removes the node and everything below it. A missing node is fine if
 * its parent exists (ENOENT otherwise); "/" cannot go (EINVAL). Watches
 * hear of every node removed, each with its own permissions: those below
 * the one asked for only by watches on exactly them (rm_node, delnode_sub).
 */
export function removeNode(db: NodeDb, who: Accessor, path: string): Change[] {
  let node: XsNode;
  try {
    node = getNode(db, who, path, XS_PERM_WRITE);
  } catch (e) {
    if (e instanceof XsError && e.errno === "ENOENT" && db.get(parentOf(path))) return [];
    throw e;
  }
  if (path === "/" || path.startsWith("@")) fail("EINVAL");
  const changes: Change[] = [];
  removeSubtree(db, path, node, path, changes);
  const parent = db.get(parentOf(path));
  if (parent) {
    const name = baseName(path);
    db.put(parentOf(path), { value: parent.value, children: parent.children.filter((c) => c !== name), perms: parent.perms });
  }
  return changes;
}

/** Children first, as xenstored's tree walk calls delnode_sub on the way out. */
function removeSubtree(db: NodeDb, path: string, node: XsNode, root: string, changes: Change[]): void {
  for (const child of node.children) {
    const childPath = path === "/" ? `/${child}` : `${path}/${child}`;
    const childNode = db.get(childPath);
    if (childNode) removeSubtree(db, childPath, childNode, root, changes);
  }
  db.remove(path);
  changes.push({ path, exact: path !== root, perms: node.perms });
}

/**
 * SET_PERMS: replaces the permission list. The requester must own the node
 * (write and owner rights); a guest may name at most
 * quota_nb_perms_per_node entries (ENOSPC) and may not give the node away
 * (EPERM).
 */
export function setPerms(db: NodeDb, who: Accessor, path: string, perms: NodePerms): Change[] {
  if (perms.length === 0) fail("EINVAL");
  if (!who.privileged && perms.length > quota_nb_perms_per_node) fail("ENOSPC");
  const node = getNode(db, who, path, XS_PERM_WRITE | XS_PERM_OWNER);
  if (!who.privileged && ownerOf(perms) !== ownerOf(node.perms)) fail("EPERM");
  const next = { value: node.value, children: node.children, perms };
  checkSize(who, next);
  db.put(path, next);
  return [{ path, exact: false, perms, oldPerms: node.perms }];
}
