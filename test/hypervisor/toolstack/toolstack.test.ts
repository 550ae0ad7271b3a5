// test/hypervisor/toolstack/toolstack.test.ts — the toolstack API: domains from xl.cfg files, run in deterministic time.
//
// Each test writes a configuration to a temporary folder, beside the kernel
// it names (guests/pv/hello, or a few lines assembled here), creates the
// domain through the Toolstack as the CLI and the web do, and runs the
// loop in deterministic time until the domain has done what is checked.

import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { pvKernel } from "../../support/pv.js";
import {
  ConfigError, LoadError, MAX_QUICK_RESTARTS, Toolstack, ToolstackError, resolveAgainst, type ConsoleListener,
} from "../../../hypervisor/toolstack/toolstack.js";

const wasm = new Uint8Array(readFileSync("build/core.wasm"));
const dir = mkdtempSync(join(tmpdir(), "xenoscope-toolstack-"));
copyFileSync("build/guests/pv/hello.bin", join(dir, "hello.bin"));
const HELLO = "Hello from a PV guest in ring 1\nxen-3.0-x86_32p\n";

/** Writes `name.cfg` with the settings given (the kernel path relative to the config's folder) and returns its path and text. */
function config(name: string, settings: string): { path: string; text: string } {
  const path = join(dir, `${name}.cfg`);
  const text = `name = "${name}"\nmemory = 16\n${settings}\n`;
  writeFileSync(path, text);
  return { path, text };
}

/** A kernel assembled from `source` (starting at `entry`), written beside the configs. */
function kernel(file: string, source: string): string {
  writeFileSync(join(dir, file), pvKernel(source));
  return file;
}

async function toolstack(): Promise<Toolstack> {
  return Toolstack.create({ wasm, memMiB: 96, clock: "deterministic" });
}

/** A console listener that keeps what it hears. */
function capture(): ConsoleListener & { text: string; notices: string[]; end?: string } {
  const c = {
    text: "",
    notices: [] as string[],
    end: undefined as string | undefined,
    output(bytes: Uint8Array) {
      c.text += new TextDecoder().decode(bytes);
    },
    notice(message: string) {
      c.notices.push(message);
    },
    ended(message: string) {
      c.end = message;
    },
  };
  return c;
}

const SPIN = `
entry:  inc     eax
        jmp     entry
`;

/** Echoes what console_io reads back as "got: ...", then powers off. */
const ECHO = `
entry:
        mov     ebx, CONSOLEIO_read
        mov     ecx, 64
        mov     edx, buffer
        hypercall __HYPERVISOR_console_io
        test    eax, eax
        jz      entry                   ; nothing typed yet: ask again
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
`;

describe("the toolstack", () => {
  it("creates hello from a config file, lists it, captures its console, and preserves it after poweroff", async () => {
    const ts = await toolstack();
    const { path, text } = config("hello", 'kernel = "hello.bin"\non_poweroff = "preserve"');
    const { domain: created } = await ts.create(text, path);
    expect(created).toMatchObject({ name: "hello", state: "running", memoryMiB: 16, vcpus: 1, instructions: 0 });
    expect(await ts.runUntil(() => ts.domainInfo("hello").state === "shutdown", 50_000_000)).toBe(true);
    const [info] = ts.list();
    expect(info).toMatchObject({ domid: created.domid, name: "hello", state: "shutdown", shutdownReason: "poweroff", memoryMiB: 16, vcpus: 1 });
    expect(info!.instructions).toBeGreaterThan(10);
    expect(info!.cpuTimeNs).toBeGreaterThan(0);
    const c = capture();
    ts.console("hello", c);
    expect(c.text).toBe(HELLO);
    expect(c.end).toMatch(/hello has shut down \(poweroff\)/);
  });

  it("destroys a domain that powers off when on_poweroff is destroy, freeing its frames", async () => {
    const ts = await toolstack();
    const { path, text } = config("hello", 'kernel = "hello.bin"\non_poweroff = "destroy"');
    const c = capture();
    // Attached by create itself, as `xenoscope create -c` does.
    const { domain: { domid } } = await ts.create(text, path, { console: c });
    expect(ts.xen.frames.pagesOf(domid)).toBeGreaterThan(0);
    expect(await ts.runUntil(() => ts.list().length === 0, 50_000_000)).toBe(true);
    expect(c.text).toBe(HELLO);
    expect(c.end).toMatch(/shut down \(poweroff\) and was destroyed/);
    expect(ts.xen.frames.pagesOf(domid)).toBe(0);
    expect(ts.xen.domains.size).toBe(0);
  });

  it("destroys a running domain on request: its frames are freed and its console ends", async () => {
    const ts = await toolstack();
    const { path, text } = config("spin", `kernel = "${kernel("spin.elf", SPIN)}"`);
    const { domain: { domid } } = await ts.create(text, path);
    await ts.runUntil(() => false, 3_000_000);
    expect(ts.domainInfo("spin").state).toBe("running");
    const c = capture();
    ts.console("spin", c);
    ts.destroy("spin");
    expect(ts.xen.frames.pagesOf(domid)).toBe(0);
    expect(c.end).toBe("spin was destroyed");
    expect(() => ts.domainInfo("spin")).toThrow(new ToolstackError("no domain called spin"));
  });

  it("rebuilds a domain with on_poweroff restart, under a new domid, and stops restarting one that loops too fast", async () => {
    const ts = await toolstack();
    const { path, text } = config("again", 'kernel = "hello.bin"\non_poweroff = "restart"');
    const { domain: first } = await ts.create(text, path);
    const c = capture();
    ts.console("again", c);
    expect(await ts.runUntil(() => ts.list().length === 0, 500_000_000)).toBe(true);
    // hello powers off microseconds after it starts: the first run and MAX_QUICK_RESTARTS restarts, then it is destroyed.
    expect(c.text).toBe(HELLO.repeat(MAX_QUICK_RESTARTS + 1));
    expect(c.notices).toHaveLength(MAX_QUICK_RESTARTS);
    expect(c.notices[0]).toBe(`again restarted as domid ${first.domid + 1} (poweroff)`);
    expect(c.end).toMatch(/not restarting it again, destroyed/);
    expect(ts.xen.frames.pagesOf(first.domid + MAX_QUICK_RESTARTS)).toBe(0);
  });

  it("refuses a second domain with a name already taken, as xl does", async () => {
    const ts = await toolstack();
    const { path, text } = config("twin", `kernel = "${kernel("spin.elf", SPIN)}"`);
    const { domain: { domid } } = await ts.create(text, path);
    await expect(ts.create(text, path)).rejects.toThrow(new ToolstackError(`a domain called twin already exists (domid ${domid})`));
    expect(ts.list()).toHaveLength(1);
  });

  it("reports a bad setting with the file and the line, and creates nothing", async () => {
    const ts = await toolstack();
    const path = join(dir, "bad.cfg");
    const text = 'name = "bad"\nkernel = "hello.bin"\nmemory = "lots"\n';
    await expect(ts.create(text, path)).rejects.toThrow(new ConfigError(path, 3, "memory must be a number, not a string"));
    await expect(ts.create('name = "bad"\nkernel = "hello.bin"\non_crash = "rename-restart"\n', path)).rejects.toThrow(
      `${path}:3: on_crash = "rename-restart" is not supported`,
    );
    await expect(ts.create('name = "bad"\ncap = 150\nkernel = "hello.bin"\n', path)).rejects.toThrow(`${path}:2: cap = 150 is outside 0-100`);
    expect(ts.list()).toEqual([]);
  });

  it("reports a kernel that cannot be read or loaded on the kernel's line, with its path", async () => {
    const ts = await toolstack();
    const path = join(dir, "k.cfg");
    const missing = ts.create('name = "k"\n\nkernel = "nowhere.elf"\n', path);
    await expect(missing).rejects.toThrow(new ConfigError(path, 3, `cannot read the kernel ${join(dir, "nowhere.elf")}: no such file`));
    writeFileSync(join(dir, "not-elf.bin"), new Uint8Array(64));
    const bad = ts.create('name = "k"\nkernel = "not-elf.bin"\n', path);
    await expect(bad).rejects.toBeInstanceOf(LoadError);
    await expect(ts.create('name = "k"\nkernel = "not-elf.bin"\n', path)).rejects.toThrow(`${path}:2: ${join(dir, "not-elf.bin")}: `);
    expect(ts.list()).toEqual([]);
    expect(ts.xen.domains.size).toBe(0);
  });

  it("stops running a paused domain until it is unpaused", async () => {
    const ts = await toolstack();
    const { path, text } = config("spin", `kernel = "${kernel("spin.elf", SPIN)}"`);
    await ts.create(text, path);
    await ts.runUntil(() => false, 2_000_000);
    ts.pause("spin");
    const before = ts.domainInfo("spin");
    expect(before.state).toBe("paused");
    expect(before.instructions).toBeGreaterThan(0);
    // Nothing else can run: deterministic time stands still and the loop returns at once.
    expect(await ts.runUntil(() => false, 20_000_000)).toBe(false);
    expect(ts.domainInfo("spin").instructions).toBe(before.instructions);
    ts.unpause("spin");
    await ts.runUntil(() => false, 4_000_000);
    expect(ts.domainInfo("spin").state).toBe("running");
    expect(ts.domainInfo("spin").instructions).toBeGreaterThan(before.instructions);
  });

  it("shuts a domain down as a poweroff and applies on_poweroff", async () => {
    const ts = await toolstack();
    const { path, text } = config("spin", `kernel = "${kernel("spin.elf", SPIN)}"\non_poweroff = "preserve"`);
    await ts.create(text, path);
    await ts.runUntil(() => false, 1_000_000);
    ts.shutdown("spin");
    expect(ts.domainInfo("spin")).toMatchObject({ state: "shutdown", shutdownReason: "poweroff" });
    expect(() => ts.shutdown("spin")).toThrow(/spin has already shut down \(poweroff\)/);
  });

  it("gives typed console input to the guest's console_io reads", async () => {
    const ts = await toolstack();
    const { path, text } = config("echo", `kernel = "${kernel("echo.elf", ECHO)}"\non_poweroff = "preserve"`);
    await ts.create(text, path);
    const c = capture();
    const attached = ts.console("echo", c);
    await ts.runUntil(() => false, 1_000_000);
    expect(c.text).toBe("");
    attached.send(new TextEncoder().encode("ping\n"));
    expect(await ts.runUntil(() => ts.domainInfo("echo").state === "shutdown", 10_000_000)).toBe(true);
    expect(c.text).toBe("got: ping\n");
  });

  it("keeps only the last scrollback bytes for a console attached later", async () => {
    const ts = await Toolstack.create({ wasm, memMiB: 64, clock: "deterministic", scrollbackBytes: 20 });
    const { path, text } = config("hello", 'kernel = "hello.bin"\non_poweroff = "preserve"');
    await ts.create(text, path);
    await ts.runUntil(() => ts.domainInfo("hello").state === "shutdown", 50_000_000);
    const c = capture();
    ts.console("hello", c);
    expect(c.text).toBe(HELLO.slice(-20));
  });

  it("sleeps in real time while every vCPU is blocked with no timer armed, instead of spinning", async () => {
    const ts = await Toolstack.create({ wasm, memMiB: 64, clock: "realtime" });
    const { path, text } = config("sleeper", `kernel = "${kernel("block.elf", "entry:\n mov ebx, SCHEDOP_block\n hypercall __HYPERVISOR_sched_op\n jmp entry\n")}"`);
    await ts.create(text, path);
    let steps = 0;
    const step = ts.xen.step.bind(ts.xen);
    ts.xen.step = (budget) => {
      steps++;
      return step(budget);
    };
    const loop = ts.run();
    await new Promise((resolve) => setTimeout(resolve, 300));
    ts.stop();
    await loop;
    expect(ts.domainInfo("sleeper").state).toBe("blocked");
    // A spinning loop would have asked thousands of times in 300 ms.
    expect(steps).toBeLessThan(20);
  });
});

describe("paths in a config", () => {
  it("are taken from the config file's folder unless absolute", () => {
    expect(resolveAgainst("/etc/xen/a.cfg", "k.elf")).toBe("/etc/xen/k.elf");
    expect(resolveAgainst("/etc/xen/a.cfg", "/boot/k.elf")).toBe("/boot/k.elf");
    expect(resolveAgainst("a.cfg", "k.elf")).toBe("k.elf");
  });
});
