// hypervisor/xenstore/permissions.ts — who may read and write a xenstore node.
//
// A node carries a list of permissions (docs/misc/xenstore.txt, "Node
// permissions"; xenstore_lib.h). The first entry names the node's owner and
// says what every domain not listed gets; each further entry gives one
// domain its own access: n none, r read, w write, b both. The owner and the
// privileged domain (domain 0, here the TypeScript toolstack) always have
// full access, and so does a domain that SET_TARGET made the owner's
// device model. Only they may change the list, and a domain other than 0
// may not hand its node to another owner (EPERM). A new node inherits its
// parent's list, with the creator as owner unless the creator is domain 0
// (xenstored's construct_node).
//
// On the wire a permission is its letter and a decimal domid, "r5".

/** enum xs_perm_type (xenstore_lib.h). */
export const XS_PERM_NONE = 0;
export const XS_PERM_READ = 1;
export const XS_PERM_WRITE = 2;
/** Internal to xenstored: the requester may not know whether a node exists. */
export const XS_PERM_ENOENT_OK = 4;
export const XS_PERM_OWNER = 8;

/** One entry: a domain and what it may do. */
export interface XsPermission {
  readonly id: number;
  readonly perms: number;
}

/** A node's list: [0] is the owner and the default, the rest per domain. Never empty. */
export type NodePerms = readonly XsPermission[];

/** Who asks: a domain's connection to xenstored. */
export interface Accessor {
  readonly domid: number;
  /** Domain 0: full access everywhere, and the privileged requests. */
  readonly privileged: boolean;
  /** SET_TARGET: the domain this one acts for (a device model for its guest), or null. */
  readonly target: number | null;
}

const LETTERS: Readonly<Record<string, number>> = {
  n: XS_PERM_NONE,
  r: XS_PERM_READ,
  w: XS_PERM_WRITE,
  b: XS_PERM_READ | XS_PERM_WRITE,
};

/** The largest domid a permission may name (domid_t is 16 bits). */
const DOMID_MAX = 0xffff;

/** "r5" to { id: 5, perms: READ }; null for anything else (xenstore_strings_to_perms: EINVAL). */
export function parsePermission(text: string): XsPermission | null {
  const perms = LETTERS[text[0] ?? ""];
  const digits = text.slice(1);
  if (perms === undefined || !/^[0-9]{1,5}$/.test(digits)) return null;
  const id = Number(digits);
  return id <= DOMID_MAX ? { id, perms } : null;
}

/** { id: 5, perms: READ } to "r5" (xenstore_perm_to_string). */
export function formatPermission(p: XsPermission): string {
  const rw = p.perms & (XS_PERM_READ | XS_PERM_WRITE);
  const letter = rw === (XS_PERM_READ | XS_PERM_WRITE) ? "b" : rw === XS_PERM_WRITE ? "w" : rw === XS_PERM_READ ? "r" : "n";
  return `${letter}${p.id}`;
}

/** The owner of a node: its first entry's domain. */
export function ownerOf(perms: NodePerms): number {
  return perms[0]!.id;
}

/**
 * What `who` may do with a node of these permissions (xenstored's
 * perm_for_conn): everything, owner rights included, for domain 0, the
 * owner and the owner's SET_TARGET device model; else the first entry
 * naming the domain (or its target); else the default.
 */
export function permFor(who: Accessor, perms: NodePerms): number {
  const owner = ownerOf(perms);
  if (who.privileged || owner === who.domid || (who.target !== null && owner === who.target)) {
    return XS_PERM_READ | XS_PERM_WRITE | XS_PERM_OWNER;
  }
  for (let i = 1; i < perms.length; i++) {
    const p = perms[i]!;
    if (p.id === who.domid || (who.target !== null && p.id === who.target)) return p.perms & (XS_PERM_READ | XS_PERM_WRITE);
  }
  return perms[0]!.perms & (XS_PERM_READ | XS_PERM_WRITE);
}

/** The list a node created by `creator` under a parent with `parent`'s list gets. */
export function inheritPerms(parent: NodePerms, creator: Accessor): NodePerms {
  if (creator.privileged) return parent;
  return [{ id: creator.domid, perms: parent[0]!.perms }, ...parent.slice(1)];
}

/** A list for nodes made by domain 0: owned by `owner`, `others` for everyone else, then per-domain entries. */
export function makePerms(owner: number, others: number, ...entries: XsPermission[]): NodePerms {
  return [{ id: owner, perms: others }, ...entries];
}
