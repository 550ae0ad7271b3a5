// test/support/pv.ts — PV kernels for tests: assemble a few lines into an ELF with Xen notes, boot it on the hypervisor.
//
// `pvKernel(source)` wraps the source in what guests/include/xen-elf.inc
// provides (ELF header, Xen notes, a hypercall page) so a test reads like a
// tiny kernel: it starts at `entry` in ring 1 with ESI at start_info.
// `bootPv` runs a kernel as a domain in deterministic time until it shuts
// down or a budget of instructions is spent, and returns its console and
// how it ended.

import { readFileSync } from "node:fs";
import { assemble } from "../../tools/asm/index.js";
import { nodeResolver } from "../../tools/asm/node.js";
import { Hypervisor } from "../../hypervisor/xen.js";
import type { Domain } from "../../hypervisor/domain.js";

let wasm: Uint8Array | undefined;

/** An ELF32 PV kernel from NASM source that defines `entry`, with hypercall_page and the notes added. */
export function pvKernel(source: string): Uint8Array {
  const text = `bits 32
%include "xen.inc"
%include "xen-elf.inc"
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

export async function bootPv(kernel: Uint8Array, options: { memoryMiB?: number; budget?: number; cmdline?: string } = {}): Promise<PvRun> {
  wasm ??= new Uint8Array(readFileSync("build/core.wasm"));
  const xen = await Hypervisor.create({ wasm, memMiB: (options.memoryMiB ?? 16) + 16, clock: "deterministic" });
  const domain = xen.createDomain({ name: "test", kernel, memoryMiB: options.memoryMiB ?? 16, cmdline: options.cmdline ?? "" });
  let console = "";
  domain.consoleOut = (bytes) => (console += new TextDecoder().decode(bytes));
  const budget = options.budget ?? 50_000_000;
  while (domain.state !== "shutdown" && xen.cpu.instructions() < budget) {
    if (!xen.step()) break;
  }
  return { xen, domain, console };
}
