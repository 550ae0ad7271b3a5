// hypervisor/xenstore/watch.ts — watches: a domain asks to hear when a path or anything below it changes.
//
// WATCH <path>|<token>| registers a watch; xenstored answers OK and at
// once sends one WATCH_EVENT <path>|<token>| so the client can read the
// current state without a race. After that every change (creation, write,
// removal, permissions) at or below the path sends an event naming the
// path that changed; a node removed together with its parent fires only
// watches set on exactly it. A watch set with a relative path gets
// relative event paths. The special paths @introduceDomain and
// @releaseDomain match the events xenstored invents when a domain is
// introduced or goes away (docs/misc/xenstore.txt, "Watches";
// xenstored_watch.c).
//
// Permissions apply: a domain hears of a change only if it may read the
// node (with its permissions before or after a SET_PERMS), and of a
// special event only if the special node's permissions let it read.

import { type Accessor, XS_PERM_READ, permFor } from "./permissions.js";
import { type Change, isChild } from "./store.js";

export interface Watch {
  /** The absolute path (or @special) watched. */
  readonly path: string;
  readonly token: string;
  /** The requester's home, "/local/domain/<domid>", when the path was given relative; events are then relative too. */
  readonly relativeTo: string | null;
}

/** Does a change fire this watch? */
export function watchMatches(watch: Watch, change: Change): boolean {
  return change.exact ? change.path === watch.path : isChild(change.path, watch.path);
}

/** May the watcher hear of this change (add_event's permission check)? Special events are checked by the caller. */
export function mayHear(who: Accessor, change: Change): boolean {
  if ((permFor(who, change.perms) & XS_PERM_READ) !== 0) return true;
  return change.oldPerms !== undefined && (permFor(who, change.oldPerms) & XS_PERM_READ) !== 0;
}

/** The event's path as this watch reports it: relative to the home it was set from, if it was set relative. */
export function eventPath(watch: Watch, path: string): string {
  if (watch.relativeTo === null || !path.startsWith(`${watch.relativeTo}/`)) return path;
  return path.slice(watch.relativeTo.length + 1);
}
