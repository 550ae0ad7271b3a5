// test/support/nasm.ts — NASM, the reference our assembler is compared with.
//
// Byte identity with `nasm -f bin` is tools/asm's test. Where NASM is on the
// PATH (CI installs it) tests assemble the same source with both; where it
// is not they say so once and run the checks that need no NASM.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const hasNasm: boolean = spawnSync("nasm", ["-v"], { encoding: "utf8" }).status === 0;

export interface NasmResult {
  ok: boolean;
  bytes: Uint8Array;
  stderr: string;
}

/** Assembles `source` with `nasm -f bin`; `file` names a real file to assemble instead. */
export function nasm(source: string | { file: string }, defines: Record<string, string> = {}, includePaths: string[] = []): NasmResult {
  const dir = mkdtempSync(join(tmpdir(), "xenoscope-nasm-"));
  try {
    const input = typeof source === "string" ? join(dir, "in.asm") : source.file;
    if (typeof source === "string") writeFileSync(input, source);
    const out = join(dir, "out.bin");
    const args = ["-f", "bin", "-o", out, ...includePaths.map((p) => `-I${p.endsWith("/") ? p : p + "/"}`)];
    for (const [k, v] of Object.entries(defines)) args.push(v === "" ? `-D${k}` : `-D${k}=${v}`);
    args.push(input);
    const r = spawnSync("nasm", args, { encoding: "utf8" });
    if (r.status !== 0) return { ok: false, bytes: new Uint8Array(0), stderr: r.stderr };
    return { ok: true, bytes: new Uint8Array(readFileSync(out)), stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

/** The first offset where two byte arrays differ, with context, for failure messages. */
export function firstDifference(a: Uint8Array, b: Uint8Array): string | null {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) {
      const from = Math.max(0, i - 8);
      return `differ at offset 0x${i.toString(16)}: ours ${hex(a.subarray(from, i + 8))} / nasm ${hex(b.subarray(from, i + 8))}`;
    }
  }
  return a.length === b.length ? null : `lengths differ: ours ${a.length}, nasm ${b.length}`;
}
