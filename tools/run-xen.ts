// tools/run-xen.ts — `xenoscope run --machine xen IMAGE`: one PV domain on the hypervisor, its console here.
//
// The one-process shortcut of DESIGN.md: a hypervisor in this process, a
// domain made on the fly from the image (the configuration xl would need:
// name from the file, memory from --mem, the image's path as its command
// line), its console on stdout (console_io writes and the console ring)
// and stdin given to it (to console_io reads, or into the ring once the
// guest uses it: hypervisor/console-ring.ts). The run ends when the domain
// shuts down, and the exit status says how: 0 poweroff, 2 crash, 6 any
// other reason (DESIGN.md's conventions).

import { basename } from "node:path";
import { performance } from "node:perf_hooks";
import { setImmediate as yieldToHost } from "node:timers/promises";
import { Hypervisor } from "../hypervisor/xen.js";
import type { Domain } from "../hypervisor/domain.js";
import { LoadError } from "../hypervisor/platform/boot.js";
import { SHUTDOWN_crash, SHUTDOWN_poweroff } from "../hypervisor/abi/sched.js";
import type { RunArgs } from "./run.js";

/** Slices between two returns to Node's event loop (so typed input and timers get in). */
const SLICES_PER_TURN = 16;
/** Machine memory beyond the domain's: the hypervisor's own frames, the M2P and room for page tables. */
const HYPERVISOR_MIB = 16;

export async function runXen(args: RunArgs, image: Uint8Array): Promise<number> {
  let xen: Hypervisor;
  try {
    xen = await Hypervisor.create({ memMiB: args.memMiB + HYPERVISOR_MIB, clock: args.clock });
  } catch (e) {
    console.error(`xenoscope run: --mem ${args.memMiB}: ${(e as Error).message}`);
    return 64;
  }
  const name = basename(args.image).replace(/\.[^.]*$/, "") || "domain";
  let domain: Domain;
  try {
    domain = xen.createDomain({ name, kernel: image, memoryMiB: args.memMiB, cmdline: args.image });
  } catch (e) {
    if (!(e instanceof LoadError)) throw e;
    console.error(`xenoscope run: ${args.image}: ${e.message}`);
    return 64;
  }
  domain.consoleOut = (bytes) => process.stdout.write(bytes);
  // Typed input goes to the console ring or to console_io reads; while
  // stdin is open a guest blocked with nothing armed may still be woken by it.
  let inputOpen = true;
  let inputArrived: () => void = () => {};
  const onData = (chunk: Buffer) => {
    domain.receiveConsoleInput(chunk);
    inputArrived();
  };
  const onEnd = () => {
    inputOpen = false;
    inputArrived();
  };
  process.stdin.on("data", onData);
  process.stdin.on("end", onEnd);
  const started = performance.now();
  const timeoutNs = args.timeoutSeconds !== undefined ? xen.clock.now() + args.timeoutSeconds * 1e9 : Infinity;
  let status: number | undefined;
  try {
    let slices = 0;
    while (domain.state !== "shutdown") {
      if (xen.clock.now() >= timeoutNs) {
        console.error(`xenoscope: --timeout: ${args.timeoutSeconds} s passed; the domain is stopped (status 124)`);
        status = 124;
        break;
      }
      if (!xen.step()) {
        const deadline = xen.clock.nextDeadline();
        if (deadline === Infinity) {
          if (inputOpen) {
            await new Promise<void>((resolve) => (inputArrived = resolve));
            continue;
          }
          console.error("xenoscope: no vCPU can run again (all blocked with nothing armed to wake them) (status 4)");
          status = 4;
          break;
        }
        if (xen.clock.mode === "deterministic") xen.clock.skipTo(Math.min(deadline, timeoutNs));
        else await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(deadline, timeoutNs) - xen.clock.now()) / 1e6));
      }
      if (++slices % SLICES_PER_TURN === 0) await yieldToHost();
    }
  } finally {
    process.stdin.off("data", onData);
    process.stdin.off("end", onEnd);
    process.stdin.pause();
  }
  const seconds = (performance.now() - started) / 1000;
  if (args.stats) {
    const instructions = xen.cpu.instructions();
    console.error(`xenoscope: ${instructions} instructions in ${seconds.toFixed(3)} s: ${(seconds > 0 ? instructions / seconds / 1e6 : 0).toFixed(1)} MIPS`);
  }
  if (status !== undefined) return status;
  const how = Hypervisor.describeShutdown(domain);
  if (domain.shutdownReason === SHUTDOWN_poweroff) return 0;
  console.error(`xenoscope: domain ${domain.name} shut down: ${how}`);
  return domain.shutdownReason === SHUTDOWN_crash ? 2 : 6;
}
