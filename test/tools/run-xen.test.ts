// test/tools/run-xen.test.ts — `xenoscope run --machine xen`: a PV kernel as a domain, its exit status by shutdown reason.

import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { pvKernel } from "../support/pv.js";

const CLI = "build/js/tools/cli.js";
const dir = mkdtempSync(join(tmpdir(), "xenoscope-run-xen-"));

function xenoscope(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, "run", "--machine", "xen", "--clock", "deterministic", ...args], { encoding: "latin1", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function kernel(name: string, body: string): string {
  const path = join(dir, `${name}.elf`);
  writeFileSync(path, pvKernel(body));
  return path;
}

const SHUTDOWN = (reason: string) => `
entry:
        mov     ebx, SCHEDOP_shutdown
        mov     ecx, reason
        hypercall __HYPERVISOR_sched_op
        ud2
        align 4
reason: dd ${reason}
`;

describe("xenoscope run --machine xen", () => {
  it("boots guests/pv/hello: its console on stdout, status 0 for a poweroff", () => {
    const r = xenoscope(["--mem", "16", "build/guests/pv/hello.bin"]);
    expect(r.stdout).toBe("Hello from a PV guest in ring 1\nxen-3.0-x86_32p\n");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("runs guests/pv/ring-console: its console ring on stdout, stdin into its ring", () => {
    const r = spawnSync(
      process.execPath,
      [CLI, "run", "--machine", "xen", "--clock", "deterministic", "--mem", "16", "build/guests/pv/ring-console.bin"],
      { encoding: "latin1", timeout: 60_000, input: "typed at the terminal\n" },
    );
    expect(r.stdout).toBe(
      "ring-console: hello through the console ring (io/console.h)\nring-console: type a line\n" +
        "ring-console: you typed: typed at the terminal\n",
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("exits 2 for a crash with the reason, 6 for a reboot, 124 on --timeout", () => {
    const crash = xenoscope(["--mem", "16", kernel("crash", "entry:\n cli\n")]);
    expect(crash.status).toBe(2);
    expect(crash.stderr).toMatch(/shut down: crash: .*exception 13/);
    const reboot = xenoscope(["--mem", "16", kernel("reboot", SHUTDOWN("SHUTDOWN_reboot"))]);
    expect(reboot.status).toBe(6);
    expect(reboot.stderr).toMatch(/shut down: reboot/);
    const spin = xenoscope(["--mem", "16", "--timeout", "0.01", kernel("spin", "entry:\n jmp entry\n")]);
    expect(spin.status).toBe(124);
  });

  it("refuses an image that is not a PV kernel, with the reason, status 64", () => {
    const r = xenoscope(["build/guests/hello.bin"]);
    expect(r.status).toBe(64);
    expect(r.stderr).toMatch(/build\/guests\/hello\.bin: /);
  });
});
