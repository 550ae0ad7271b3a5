// test/tools/xl.test.ts — `xenoscope host` and the xl verbs, as a user runs them: separate processes over a socket.
//
// A host runs in the background on a socket in a temporary folder for the
// whole file; each verb is the built CLI spawned with `--socket` pointing
// at it. One test lets `create` start a host of its own. Every host is
// stopped in afterAll, by its pid, whatever the tests did: a test run must
// never leave a host behind.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pvKernel } from "../support/pv.js";

const CLI = "build/js/tools/cli.js";
const dir = mkdtempSync(join(tmpdir(), "xenoscope-xl-"));
const socket = join(dir, "host.sock");
/** Hosts started during the file, killed in afterAll if still alive. */
const hostPids: number[] = [];
let host: ChildProcess;
let hostLog = "";

function xenoscope(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 30_000, input: input ?? "" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A verb against the file's host. */
function xl(verb: string, ...args: string[]) {
  return xenoscope([verb, "--socket", socket, ...args]);
}

/** Writes NAME.cfg in the temporary folder; the kernel path in it is relative to that folder. */
function config(name: string, settings: string): string {
  const path = join(dir, `${name}.cfg`);
  writeFileSync(path, `name = "${name}"\nmemory = 16\n${settings}\n`);
  return path;
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection(path);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
}

async function waitFor(check: () => Promise<boolean> | boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const HELLO = "Hello from a PV guest in ring 1\nxen-3.0-x86_32p\n";

beforeAll(async () => {
  copyFileSync("build/guests/pv/hello.bin", join(dir, "hello.bin"));
  writeFileSync(join(dir, "spin.elf"), pvKernel("entry:  jmp entry\n"));
  // Reads what the console sends, writes it back after "got: ", and powers off.
  writeFileSync(join(dir, "echo.elf"), pvKernel(`
entry:  mov     ebx, CONSOLEIO_read
        mov     ecx, 64
        mov     edx, buffer
        hypercall __HYPERVISOR_console_io
        test    eax, eax
        jz      entry
        mov     [count], eax
        mov     ebx, CONSOLEIO_write
        mov     ecx, 5
        mov     edx, got
        hypercall __HYPERVISOR_console_io
        mov     ebx, CONSOLEIO_write
        mov     ecx, [count]
        mov     edx, buffer
        hypercall __HYPERVISOR_console_io
        mov     ebx, SCHEDOP_shutdown
        mov     ecx, reason
        hypercall __HYPERVISOR_sched_op
        ud2
got:    db "got: "
        align 4
reason: dd SHUTDOWN_poweroff
count:  dd 0
buffer: times 64 db 0
`));
  host = spawn(process.execPath, [CLI, "host", "--socket", socket, "--mem", "128"], { stdio: ["ignore", "ignore", "pipe"] });
  hostPids.push(host.pid!);
  host.stderr!.on("data", (chunk: Buffer) => (hostLog += chunk.toString()));
  if (!(await waitFor(() => answers(socket), 20_000))) throw new Error(`the host did not start: ${hostLog}`);
}, 30_000);

afterAll(async () => {
  const exited = host && host.exitCode === null && host.signalCode === null ? new Promise((resolve) => host.once("exit", resolve)) : Promise.resolve();
  for (const pid of hostPids) if (alive(pid)) process.kill(pid, "SIGTERM");
  await Promise.race([Promise.all([exited, waitFor(() => hostPids.every((pid) => !alive(pid)), 5_000)]), new Promise((r) => setTimeout(r, 5_000))]);
  for (const pid of hostPids) if (alive(pid)) process.kill(pid, "SIGKILL");
  rmSync(dir, { recursive: true, force: true });
}, 15_000);

describe("xenoscope host and the xl verbs", () => {
  it("create hello, list shows it, console prints its output, destroy removes it", () => {
    const created = xl("create", config("hello", 'kernel = "hello.bin"\non_poweroff = "preserve"'));
    expect(created.stderr).toBe("");
    expect(created.status).toBe(0);
    const list = xl("list");
    expect(list.status).toBe(0);
    expect(list.stdout).toMatch(/^Name +ID +Mem +VCPUs +State +Time\(s\) +Instructions$/m);
    expect(list.stdout).toMatch(/^hello +\d+ +16 +1 +---s-- +\d+\.\d +\d+$/m);
    const console = xl("console", "hello");
    expect(console.stdout).toBe(HELLO);
    expect(console.stderr).toMatch(/hello has shut down \(poweroff\)/);
    expect(console.status).toBe(0);
    expect(xl("destroy", "hello").status).toBe(0);
    expect(xl("list").stdout).not.toMatch(/^hello /m);
  }, 60_000);

  it("create -c shows the console of a domain that lives microseconds, then ends with it", () => {
    const r = xl("create", "-c", config("brief", 'kernel = "hello.bin"'));
    expect(r.stdout).toBe(HELLO);
    expect(r.stderr).toMatch(/brief has shut down \(poweroff\) and was destroyed/);
    expect(r.status).toBe(0);
    expect(xl("list", "brief").stderr).toMatch(/no domain called brief/);
  }, 60_000);

  it("console sends stdin a line at a time when it is not a terminal", () => {
    expect(xl("create", config("echo", 'kernel = "echo.elf"\non_poweroff = "preserve"')).status).toBe(0);
    const r = xenoscope(["console", "--socket", socket, "echo"], "ping\n");
    expect(r.stdout).toBe("got: ping\n");
    expect(r.status).toBe(0);
    expect(xl("destroy", "echo").status).toBe(0);
  }, 60_000);

  it("pause, unpause and shutdown change what list shows", () => {
    expect(xl("create", config("spin", 'kernel = "spin.elf"\non_poweroff = "preserve"')).status).toBe(0);
    expect(xl("list", "spin").stdout).toMatch(/^spin .* r----- /m);
    expect(xl("pause", "spin").status).toBe(0);
    const paused = xl("list", "spin").stdout;
    expect(paused).toMatch(/^spin .* --p--- /m);
    // A paused domain runs no instructions, however long it waits.
    const count = (text: string) => Number(/(\d+)\s*$/.exec(text.trim())![1]);
    expect(count(xl("list", "spin").stdout)).toBe(count(paused));
    expect(xl("unpause", "spin").status).toBe(0);
    expect(xl("list", "spin").stdout).toMatch(/^spin .* r----- /m);
    expect(xl("shutdown", "spin").status).toBe(0);
    expect(xl("list", "spin").stdout).toMatch(/^spin .* ---s-- /m);
    expect(xl("destroy", "spin").status).toBe(0);
  }, 60_000);

  it("sched-credit shows the weight and cap from the config, sets new ones, and refuses ones out of range", () => {
    expect(xl("create", config("heavy", 'kernel = "spin.elf"\ncpu_weight = 512')).status).toBe(0);
    expect(xl("sched-credit").stdout.trim()).toMatch(/^Name +ID Weight  Cap\nheavy +\d+    512    0$/);
    const set = xl("sched-credit", "-d", "heavy", "-w", "1024", "--cap=50");
    expect(set.status).toBe(0);
    expect(set.stdout).toMatch(/^heavy +\d+   1024   50$/m);
    const bad = xl("sched-credit", "-d", "heavy", "-c", "101");
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe("xenoscope sched-credit: weight -, cap 101: the weight must be 1-65535 and the cap 0-100 for heavy\n");
    expect(xl("sched-credit", "-w", "5").status).toBe(64);
    expect(xl("sched-credit", "-d", "heavy", "-w", "lots").status).toBe(64);
    expect(xl("destroy", "heavy").status).toBe(0);
  }, 60_000);

  it("refuses a bad config with its file and line (status 64) and a name already taken (status 1)", () => {
    const bad = join(dir, "bad.cfg");
    writeFileSync(bad, 'name = "bad"\nkernel = "hello.bin"\nmemory = "lots"\n');
    const r = xl("create", bad);
    expect(r.status).toBe(64);
    expect(r.stderr).toBe(`xenoscope create: ${bad}:3: memory must be a number, not a string\n`);
    const twin = config("twin", 'kernel = "spin.elf"');
    expect(xl("create", twin).status).toBe(0);
    const again = xl("create", twin);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/^xenoscope create: a domain called twin already exists \(domid \d+\)\n$/);
    expect(xl("destroy", "twin").status).toBe(0);
    const missing = xl("create", join(dir, "missing.cfg"));
    expect(missing.status).toBe(64);
    expect(missing.stderr).toMatch(/cannot read .*missing\.cfg: no such file/);
  }, 60_000);

  it("says there is no such domain, in one line, with status 1", () => {
    for (const verb of ["destroy", "pause", "unpause", "shutdown", "console"]) {
      const r = xl(verb, "nobody");
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(`xenoscope ${verb}: no domain called nobody\n`);
    }
  }, 60_000);

  it("has --help for every verb and exits 64 for bad arguments", () => {
    for (const verb of ["host", "create", "list", "console", "destroy", "pause", "unpause", "shutdown", "sched-credit"]) {
      const help = xenoscope([verb, "--help"]);
      expect(help.status).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^usage: xenoscope ${verb} `));
    }
    expect(xl("destroy").status).toBe(64);
    expect(xl("destroy", "a", "b").status).toBe(64);
    expect(xl("list", "--frobnicate").status).toBe(64);
    expect(xenoscope(["host", "--clock", "sundial"]).status).toBe(64);
  }, 60_000);

  it("refuses to start a second host on a socket that answers", () => {
    const r = xenoscope(["host", "--socket", socket]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/a host already answers on /);
  }, 60_000);
});

describe("the xl verbs without a host", () => {
  const nowhere = join(dir, "nowhere.sock");

  it("say plainly that no host is running, with status 1 and no stack trace", () => {
    for (const args of [["list"], ["console", "x"], ["destroy", "x"], ["pause", "x"], ["unpause", "x"], ["shutdown", "x"], ["host", "--stop"]]) {
      const [verb, ...rest] = args;
      const r = xenoscope([verb!, "--socket", nowhere, ...rest]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^xenoscope ${verb}: no host is running on ${nowhere.replace(/[.]/g, "\\.")} .*\n$`));
    }
  }, 60_000);

  it("create starts a host in the background when none answers, and host --stop ends it", async () => {
    const own = join(dir, "own.sock");
    const r = xenoscope(["create", "--socket", own, config("first", 'kernel = "spin.elf"')]);
    const pid = Number(/started a host in the background \(pid (\d+)\)/.exec(r.stderr)?.[1]);
    if (pid) hostPids.push(pid);
    expect(r.status).toBe(0);
    expect(pid).toBeGreaterThan(0);
    expect(alive(pid)).toBe(true);
    expect(existsSync(join(dir, "own.log"))).toBe(true);
    expect(xenoscope(["list", "--socket", own]).stdout).toMatch(/^first +\d+ +16 +1 /m);
    const stop = xenoscope(["host", "--stop", "--socket", own]);
    expect(stop.status).toBe(0);
    expect(await waitFor(() => !alive(pid), 10_000)).toBe(true);
    expect(existsSync(own)).toBe(false);
  }, 60_000);
});
