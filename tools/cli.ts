#!/usr/bin/env node
// tools/cli.ts — the `xenoscope` command: one binary, one verb per job.
//
// DESIGN.md's command-line conventions: every verb has `--help`; bad
// arguments or an unreadable input exit 64 with a one-line reason; a verb
// that checked something exits 1 when the check failed (`asm` with errors).

import { asmCommand } from "./asm/cli.js";
import { benchCommand } from "./bench.js";
import { disasmCommand } from "./asm/disasm-cli.js";
import { runCommand } from "./run.js";
import { vectorsCommand } from "./vectors.js";
import { hostCommand } from "./host.js";
import {
  consoleCommand, createCommand, destroyCommand, listCommand, pauseCommand, schedCreditCommand, shutdownCommand, unpauseCommand,
} from "./xl.js";

interface Verb {
  summary: string;
  run(args: string[]): Promise<number> | number;
}

const VERBS: Record<string, Verb> = {
  asm: { summary: "assemble NASM-syntax source into a flat binary", run: asmCommand },
  disasm: { summary: "disassemble a flat binary into NASM syntax", run: disasmCommand },
  run: { summary: "boot a guest image with its console on this terminal", run: runCommand },
  bench: { summary: "measure the CPU's speed on the benchmark kernel (--vs v86 to compare)", run: benchCommand },
  vectors: { summary: "run hardware test vectors through the CPU core", run: vectorsCommand },
  host: { summary: "run the hypervisor and own its domains, serving the verbs below", run: hostCommand },
  create: { summary: "create a domain from an xl.cfg file (-c: attach its console)", run: createCommand },
  list: { summary: "list the host's domains", run: listCommand },
  console: { summary: "attach this terminal to a domain's console", run: consoleCommand },
  destroy: { summary: "destroy a domain at once", run: destroyCommand },
  pause: { summary: "stop a domain from being scheduled", run: pauseCommand },
  unpause: { summary: "let a paused domain run again", run: unpauseCommand },
  shutdown: { summary: "shut a domain down (a poweroff; its on_poweroff action applies)", run: shutdownCommand },
  "sched-credit": { summary: "show or set domains' credit-scheduler weight and cap", run: schedCreditCommand },
};

function usage(): string {
  const lines = ["usage: xenoscope <verb> [options]", "", "verbs:"];
  for (const [name, verb] of Object.entries(VERBS)) lines.push(`  ${name.padEnd(10)} ${verb.summary}`);
  lines.push("", "`xenoscope <verb> --help` describes a verb.");
  return lines.join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === "--help" || verb === "-h" || verb === "help") {
    console.log(usage());
    return verb === undefined ? 64 : 0;
  }
  const entry = VERBS[verb];
  if (!entry) {
    console.error(`xenoscope: unknown verb \`${verb}' (try \`xenoscope --help')`);
    return 64;
  }
  return entry.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`xenoscope: internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    process.exit(70);
  },
);
