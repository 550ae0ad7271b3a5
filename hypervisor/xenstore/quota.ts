// hypervisor/xenstore/quota.ts — how much of xenstore one domain may take.
//
// xenstored keeps every guest within per-domain limits, so that one guest
// cannot fill the store, starve the daemon of memory or drown other
// domains in watch events (XSA-115, XSA-326; tools/xenstored/domain.c,
// hard_quotas[]). The names are xenstored's own variables and the values
// its defaults. Domain 0 is not limited. What a guest gets over a limit is
// what xenstored answers: ENOSPC for nodes, node size, permissions per node,
// transactions and the nodes a transaction touches; E2BIG for watches;
// EINVAL for a path too long. Over the outstanding-request limit its ring is
// simply not read until it has taken its replies; a watch event that would
// take it over the memory limit is dropped.

/** Nodes a domain may own ("nodes"). */
export const quota_nb_entry_per_domain = 1000;
/** Watches a domain may set ("watches"). */
export const quota_nb_watch_per_domain = 128;
/** Bytes of one node as stored: a 16-byte header, 8 per permission, the value and the children's names ("node-size"). */
export const quota_max_entry_size = 2048;
/** Transactions a domain may have open ("transactions"). */
export const quota_max_transaction = 10;
/** Permission entries of one node ("node-permissions"). */
export const quota_nb_perms_per_node = 5;
/** Nodes one transaction may read or write ("transaction-nodes"). */
export const quota_trans_nodes = 1024;
/** A path's length below /local/domain/<domid>/ ("path-max", XENSTORE_REL_PATH_MAX). */
export const quota_max_path_len = 2048;
/** Replies waiting for room in a domain's ring before its requests are no longer read ("outstanding"). */
export const quota_req_outstanding = 20;
/** Bytes of replies and watch events waiting for a domain ("memory", the hard limit of 2.5 MB). */
export const quota_memory_per_domain_hard = 2 * 1024 * 1024 + 512 * 1024;
