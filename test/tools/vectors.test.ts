// test/tools/vectors.test.ts — `xenoscope vectors`: counts per group, exit
// status, and the bad-argument cases.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it, vi } from "vitest";
import { vectorsCommand } from "../../tools/vectors.js";

const dir = mkdtempSync(join(tmpdir(), "xenoscope-vectors-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const init = { eax: 1, ecx: 2, edx: 3, ebx: 4, esp: 0x100800, ebp: 6, esi: 7, edi: 8, eip: 0x202000, eflags: 0x202 };

/** A vector file of `inc eax` (40), right and deliberately wrong. */
function writeVectors(name: string, finals: number[]): string {
  const lines = [JSON.stringify({ format: "native32-v1", group: name })];
  for (const eax of finals) {
    lines.push(JSON.stringify({ asm: "inc eax", bytes: "40", init, final: { ...init, eax, eip: 0x202001 }, mem: [], undef: 0, exception: null }));
  }
  const path = join(dir, `${name}.jsonl.gz`);
  writeFileSync(path, gzipSync(lines.join("\n") + "\n"));
  return path;
}

function capture(argv: string[]): { status: number; out: string; err: string } {
  let out = "";
  let err = "";
  const log = vi.spyOn(console, "log").mockImplementation((s: string) => void (out += s + "\n"));
  const error = vi.spyOn(console, "error").mockImplementation((s: string) => void (err += s + "\n"));
  try {
    return { status: vectorsCommand(argv), out, err };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

describe("xenoscope vectors", () => {
  it("prints a line per group and a total, and exits 0 when all pass", () => {
    const path = writeVectors("good", [2, 2]);
    const r = capture([path]);
    expect(r.status).toBe(0);
    expect(r.out).toContain("good: 2 passed, 0 failed\n");
    expect(r.out).toContain("2 passed, 0 failed\n");
  });

  it("reports failures by template and exits 1", () => {
    const path = writeVectors("bad", [2, 5]);
    const r = capture([path]);
    expect(r.status).toBe(1);
    expect(r.out).toContain("`inc eax' failed 1 time(s)");
    expect(r.out).toContain("bad: 1 passed, 1 failed");
  });

  it("exits 64 for a missing path, an unknown option or no path; 0 for --help", () => {
    expect(capture([join(dir, "nothing.jsonl.gz")]).status).toBe(64);
    expect(capture(["--bogus"]).status).toBe(64);
    expect(capture([]).status).toBe(64);
    const help = capture(["--help"]);
    expect(help.status).toBe(0);
    expect(help.out).toMatch(/usage: xenoscope vectors/);
  });
});
