// test/tools/cli.test.ts — the `xenoscope` command as a user runs it: the
// built JavaScript that `npx xenoscope` starts, its help, its exit statuses
// (DESIGN.md: 64 for bad arguments or an unreadable input, 1 when the
// source has errors) and the files it writes.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { assemble } from "../../tools/asm/index.js";

const CLI = "build/js/tools/cli.js";

function xenoscope(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("xenoscope", () => {
  it("lists its verbs with --help and exits 0", () => {
    const r = xenoscope("--help");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/asm/);
  });

  it("exits 64 on an unknown verb", () => {
    const r = xenoscope("frobnicate");
    expect(r.status).toBe(64);
    expect(r.stderr).toMatch(/unknown verb/);
  });
});

describe("xenoscope asm", () => {
  const dir = mkdtempSync(join(tmpdir(), "xenoscope-cli-"));

  it("has --help", () => {
    const r = xenoscope("asm", "--help");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/-DNAME/);
  });

  it("assembles a file with -D, -o and -l", () => {
    const src = join(dir, "hello.asm");
    writeFileSync(src, "bits 32\n%ifdef BIG\nmov eax, VALUE\n%else\nnop\n%endif\n");
    const out = join(dir, "hello.bin");
    const lst = join(dir, "hello.lst");
    const r = xenoscope("asm", "-f", "bin", "-DBIG", "-DVALUE=0x1234", "-o", out, "-l", lst, src);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(Array.from(readFileSync(out))).toEqual([0xb8, 0x34, 0x12, 0x00, 0x00]);
    expect(readFileSync(lst, "utf8")).toMatch(/B834120000/);
  });

  it("names the output after the input without its extension, as NASM does", () => {
    const src = join(dir, "plain.asm");
    writeFileSync(src, "db 7\n");
    expect(xenoscope("asm", src).status).toBe(0);
    expect(Array.from(readFileSync(join(dir, "plain")))).toEqual([7]);
  });

  it("reports errors as file:line: error: and exits 1 without writing output", () => {
    const src = join(dir, "bad.asm");
    writeFileSync(src, "bits 32\nmov eax, ebx, ecx\n");
    const out = join(dir, "bad.bin");
    const r = xenoscope("asm", "-o", out, src);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/bad\.asm:2: error: /);
    expect(existsSync(out)).toBe(false);
  });

  it("exits 64 for a missing file or a bad option", () => {
    expect(xenoscope("asm", join(dir, "missing.asm")).status).toBe(64);
    expect(xenoscope("asm", "-f", "elf", "x.asm").status).toBe(64);
    expect(xenoscope("asm").status).toBe(64);
  });
});

describe("xenoscope disasm", () => {
  it("has --help", () => {
    const r = xenoscope("disasm", "--help");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--org/);
  });

  it("disassembles the hello guest into text that assembles back to the same file", () => {
    const image = readFileSync("build/guests/hello.bin");
    const r = xenoscope("disasm", "--org", "0x100000", "--bits", "32", "build/guests/hello.bin");
    expect(r.status).toBe(0);
    // ndisasm's layout: address, bytes, then the instruction.
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^00100000  EB[0-9A-F]{2} +jmp short 0x[0-9a-f]+$/);
    const text = lines.map((line) => line.replace(/^[0-9A-F]{8} +[0-9A-F]+ +/, "")).join("\n");
    const back = assemble(`bits 32\norg 0x100000\n${text}\n`, { file: "disasm.asm" });
    expect(back.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    expect(Buffer.from(back.bytes).equals(image)).toBe(true);
  });

  it("exits 64 for a missing file or a bad option", () => {
    expect(xenoscope("disasm", "no-such-file.bin").status).toBe(64);
    expect(xenoscope("disasm", "--bits", "64", "build/guests/hello.bin").status).toBe(64);
  });
});
