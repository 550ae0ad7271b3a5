// hypervisor/xenstore/libxl.ts — a domain's home in xenstore, as libxl makes it and removes it.
//
// Before a guest's first instruction the toolstack gives it a directory,
// /local/domain/<domid>, and introduces its ring to xenstored; when the
// domain is destroyed it removes the directory and xenstored lets go of
// the ring (libxl__domain_make, libxl__build_post, libxl__destroy_domid).
// The directory belongs to domain 0 and the guest may only read it, except
// for the subdirectories a guest writes into, which it owns and nobody
// else may see: data/ (its own notes), device/ (frontends), control/
// shutdown (where it acknowledges a shutdown request) and a few more.
//
// Only the keys a PV guest reads are written: name, domid, memory,
// cpu/<n>/availability, the store and console rings (port and ring-ref),
// and control/platform-feature-xs_reset_watches ("1": this xenstored
// answers RESET_WATCHES). The /vm/<uuid> tree, images and platform data
// are not (there is no UUID here).

import type { Domain } from "../domain.js";
import type { Xenstored } from "./daemon.js";
import { type NodePerms, XS_PERM_NONE, XS_PERM_READ, makePerms } from "./permissions.js";
import type { XenstoreRing } from "./ring.js";
import { domainPath } from "./store.js";
import type { XsHandle } from "./xs.js";

/** What the directory records about a domain just built. */
export interface DomainStoreInfo {
  domid: number;
  name: string;
  memoryKiB: number;
  vcpus: number;
  storeMfn: number;
  storePort: number;
  consoleMfn: number;
  consolePort: number;
}

/** The subdirectories a guest owns (libxl's rwperm nodes). */
const GUEST_OWNED = ["data", "device", "drivers", "feature", "attr", "error", "control/shutdown"];

/** Writes /local/domain/<domid> and what is in it, in one transaction (libxl__domain_make, libxl__build_post). */
export function makeDomainNodes(xs: XsHandle, info: DomainStoreInfo): void {
  const home = domainPath(info.domid);
  // roperm: domain 0's, readable by the guest; rwperm: the guest's, invisible to others.
  const roperm: NodePerms = makePerms(0, XS_PERM_NONE, { id: info.domid, perms: XS_PERM_READ });
  const rwperm: NodePerms = makePerms(info.domid, XS_PERM_NONE);
  xs.transaction((tx) => {
    xs.rm(home, tx);
    xs.mkdir(home, tx);
    xs.setPermissions(home, roperm, tx);
    xs.write(`${home}/name`, info.name, tx);
    xs.write(`${home}/domid`, String(info.domid), tx);
    xs.mkdir(`${home}/control`, tx);
    xs.write(`${home}/control/platform-feature-xs_reset_watches`, "1", tx);
    for (const dir of GUEST_OWNED) {
      xs.mkdir(`${home}/${dir}`, tx);
      xs.setPermissions(`${home}/${dir}`, rwperm, tx);
    }
    xs.write(`${home}/memory/static-max`, String(info.memoryKiB), tx);
    xs.write(`${home}/memory/target`, String(info.memoryKiB), tx);
    for (let vcpu = 0; vcpu < info.vcpus; vcpu++) xs.write(`${home}/cpu/${vcpu}/availability`, "online", tx);
    xs.write(`${home}/store/port`, String(info.storePort), tx);
    xs.write(`${home}/store/ring-ref`, String(info.storeMfn), tx);
    xs.write(`${home}/console/port`, String(info.consolePort), tx);
    xs.write(`${home}/console/ring-ref`, String(info.consoleMfn), tx);
  });
}

/**
 * A domain just built gets its directory, then its ring is introduced to
 * xenstored (libxl's order: watchers of @introduceDomain find the directory
 * complete). Without a ring (no port could be bound) it only gets the
 * directory.
 */
export function introduceDomain(daemon: Xenstored, xs: XsHandle, domain: Domain, ring: XenstoreRing | undefined, consolePort: number): void {
  makeDomainNodes(xs, {
    domid: domain.domid,
    name: domain.name,
    memoryKiB: domain.nrPages * 4,
    vcpus: domain.vcpus.length,
    storeMfn: domain.built.storeMfn,
    storePort: ring?.evtchn ?? 0,
    consoleMfn: domain.built.consoleMfn,
    consolePort,
  });
  if (ring && ring.evtchn !== 0) ring.attach(daemon, daemon.introduceDomain(domain.domid, ring));
}

/** The domain is being destroyed: its directory goes, and xenstored lets go of it (libxl__destroy_domid). */
export function releaseDomain(daemon: Xenstored, xs: XsHandle, domid: number): void {
  xs.rm(domainPath(domid));
  daemon.releaseDomain(domid);
}
