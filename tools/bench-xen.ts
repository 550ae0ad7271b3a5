// tools/bench-xen.ts — the hypervisor's part of `xenoscope bench`: what paravirtualization costs.
//
// Issue 4 asks for four figures, each in ns and in guest instructions per
// operation: a null hypercall round trip, a ring-3 `int 0x80` null system
// call with and without Xen's fast trap, a page-table update through
// mmu_update (guests/pv/xenbench runs those and marks each loop with
// BEGIN/END lines, stamped here as they arrive with the host's time and the
// CPU's instruction count), and an event-channel ping-pong between two
// domains (guests/pv/pingpong, timed from creation to both shutting down).
// Real-time clock: these are host nanoseconds.

import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { Hypervisor } from "../hypervisor/xen.js";
import type { Domain } from "../hypervisor/domain.js";
import { bindInterdomainForToolstack } from "../hypervisor/evtchn.js";
import { SHUTDOWN_poweroff } from "../hypervisor/abi/sched.js";

const XENBENCH = "build/guests/pv/xenbench.bin";
const PINGPONG = "build/guests/pv/pingpong.bin";
const ROUND_TRIPS = 20000;

export interface XenFigure {
  name: string;
  ns: number;
  instructions: number;
}

/** Steps the hypervisor until every one of `domains` has shut down; false if one did not power off. */
function runToEnd(xen: Hypervisor, domains: Domain[]): boolean {
  while (domains.some((d) => d.state !== "shutdown")) {
    if (!xen.step()) {
      const deadline = xen.clock.nextDeadline();
      if (deadline === Infinity) return false;
      // Real time: a blocked guest waits for its timer; spin the clock forward by waiting.
      const until = performance.now() + (deadline - xen.clock.now()) / 1e6;
      while (performance.now() < until);
    }
  }
  return domains.every((d) => d.shutdownReason === SHUTDOWN_poweroff);
}

export async function benchHypervisor(): Promise<XenFigure[]> {
  const figures: XenFigure[] = [];
  {
    const xen = await Hypervisor.create({ memMiB: 64, clock: "realtime" });
    const domain = xen.createDomain({ name: "xenbench", kernel: new Uint8Array(readFileSync(XENBENCH)), memoryMiB: 16 });
    const begun = new Map<string, { ms: number; insns: number }>();
    let text = "";
    domain.consoleOut = (bytes) => {
      text += new TextDecoder().decode(bytes);
      let nl: number;
      while ((nl = text.indexOf("\n")) >= 0) {
        const line = text.slice(0, nl);
        text = text.slice(nl + 1);
        const at = { ms: performance.now(), insns: xen.cpu.instructions() };
        const begin = /^BEGIN (\S+)$/.exec(line);
        const end = /^END (\S+) (\d+)$/.exec(line);
        if (begin) begun.set(begin[1]!, at);
        else if (end && begun.has(end[1]!)) {
          const from = begun.get(end[1]!)!;
          const n = Number(end[2]);
          figures.push({ name: end[1]!, ns: ((at.ms - from.ms) * 1e6) / n, instructions: (at.insns - from.insns) / n });
        }
      }
    };
    if (!runToEnd(xen, [domain])) throw new Error(`xenbench did not power off: ${Hypervisor.describeShutdown(domain)}`);
  }
  {
    const xen = await Hypervisor.create({ memMiB: 64, clock: "realtime" });
    const kernel = new Uint8Array(readFileSync(PINGPONG));
    const ping = xen.createDomain({ name: "ping", kernel, memoryMiB: 8, cmdline: `pingpong port=3 role=ping count=${ROUND_TRIPS}` });
    const pong = xen.createDomain({ name: "pong", kernel, memoryMiB: 8, cmdline: `pingpong port=5 role=pong count=${ROUND_TRIPS}` });
    bindInterdomainForToolstack(xen.events.channelsOf(ping), xen.events.channelsOf(pong), { a: 3, b: 5 });
    const start = performance.now();
    const insns = xen.cpu.instructions();
    if (!runToEnd(xen, [ping, pong])) throw new Error("pingpong did not power off");
    figures.push({
      name: "evtchn-pingpong",
      ns: ((performance.now() - start) * 1e6) / ROUND_TRIPS,
      instructions: (xen.cpu.instructions() - insns) / ROUND_TRIPS,
    });
  }
  return figures;
}

export function printHypervisorFigures(figures: XenFigure[]): void {
  const rows = [["hypervisor (PV)", "ns/op", "guest insns/op"], ...figures.map((f) => [f.name, f.ns.toFixed(0), f.instructions.toFixed(1)])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "));
}
