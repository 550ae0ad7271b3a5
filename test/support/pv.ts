// test/support/pv.ts — PV kernels for tests: assemble a few lines into an ELF with Xen notes, boot it on the hypervisor.
//
// `pvKernel(source)` wraps the source in what guests/include/xen-elf.inc
// provides (ELF header, Xen notes, a hypercall page) so a test reads like a
// tiny kernel: it starts at `entry` in ring 1 with ESI at start_info.
// `bootPv` runs a kernel as a domain in deterministic time until it shuts
// down or a budget of virtual time is spent (instructions, plus the time an
// idle machine skips to its next timer), and returns its console and how it
// ended; `bootPvDomains` does the same for several domains at once.

import { readFileSync } from "node:fs";
import { assemble } from "../../tools/asm/index.js";
import { nodeResolver } from "../../tools/asm/node.js";
import { Hypervisor } from "../../hypervisor/xen.js";
import type { Domain } from "../../hypervisor/domain.js";
import type { SchedParams } from "../../hypervisor/sched-credit.js";

let wasm: Uint8Array | undefined;

/** An ELF32 PV kernel from NASM source that defines `entry`, with hypercall_page and the notes added. */
export function pvKernel(source: string): Uint8Array {
  const text = `bits 32
%include "xen.inc"
%include "xen-elf.inc"
%include "pv-pagetable.inc"
org XEN_ELF_BASE
        xen_elf_header
        xen_notes
${source}
        align 4096, db 0
hypercall_page:
        times 4096 db 0xC3
image_end:
bss_end:
`;
  const result = assemble(text, { file: "pv-test.asm", resolver: nodeResolver(["guests/include"]) });
  if (!result.ok) throw new Error(result.diagnostics.map((d) => `${d.line}: ${d.message}`).join("\n"));
  return result.bytes;
}

export interface PvRun {
  xen: Hypervisor;
  domain: Domain;
  console: string;
}

/**
 * Runs the hypervisor until `done`, or until virtual time passes `budget`
 * ns. When no vCPU can run it skips to the next timer, as tools/run-xen.ts
 * does in deterministic mode, and stops when no timer is armed either.
 */
export function runUntil(xen: Hypervisor, done: () => boolean, budget: number): void {
  while (!done() && xen.clock.now() < budget) {
    if (xen.step()) continue;
    const deadline = xen.clock.nextDeadline();
    if (deadline === Infinity || deadline >= budget) break;
    xen.clock.skipTo(deadline);
  }
}

export async function bootPv(
  kernel: Uint8Array,
  options: { memoryMiB?: number; budget?: number; cmdline?: string; vcpus?: number } = {},
): Promise<PvRun> {
  const { xen, domains, consoles } = await bootPvDomains([{ kernel, cmdline: options.cmdline, memoryMiB: options.memoryMiB, vcpus: options.vcpus }], {
    budget: options.budget,
  });
  return { xen, domain: domains[0]!, console: consoles[0]! };
}

export interface PvDomainSpec {
  kernel: Uint8Array;
  cmdline?: string;
  memoryMiB?: number;
  name?: string;
  vcpus?: number;
  sched?: Partial<SchedParams>;
}

export interface PvDomainsRun {
  xen: Hypervisor;
  domains: Domain[];
  /** Each domain's console output, in the order of the specs. */
  consoles: string[];
}

/**
 * Boots several PV domains on one hypervisor in deterministic time;
 * `before` runs once they are built and before any runs (the toolstack's
 * turn: binding event channels, say). Runs until every domain has shut
 * down or `budget` ns of virtual time (default 50 ms) have passed.
 */
export async function bootPvDomains(
  specs: PvDomainSpec[],
  options: { budget?: number; before?: (xen: Hypervisor, domains: Domain[]) => void } = {},
): Promise<PvDomainsRun> {
  wasm ??= new Uint8Array(readFileSync("build/core.wasm"));
  const total = specs.reduce((sum, s) => sum + (s.memoryMiB ?? 16), 0);
  const xen = await Hypervisor.create({ wasm, memMiB: total + 16, clock: "deterministic" });
  const consoles = specs.map(() => "");
  const domains = specs.map((spec, i) => {
    const domain = xen.createDomain({
      name: spec.name ?? `test${i}`, kernel: spec.kernel, memoryMiB: spec.memoryMiB ?? 16, cmdline: spec.cmdline ?? "", vcpus: spec.vcpus, sched: spec.sched,
    });
    domain.consoleOut = (bytes) => (consoles[i] += new TextDecoder().decode(bytes));
    return domain;
  });
  options.before?.(xen, domains);
  runUntil(xen, () => domains.every((d) => d.state === "shutdown"), options.budget ?? 50_000_000);
  return { xen, domains, consoles };
}
