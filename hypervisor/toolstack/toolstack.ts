// hypervisor/toolstack/toolstack.ts — the toolstack: domains made from xl.cfg files, run on one hypervisor.
//
// What xl and libxl are to Xen, in TypeScript, and the one API the CLI, the
// web and the tests use (DESIGN.md, "hypervisor/"). A Toolstack owns a
// Hypervisor and its run loop, and does what an administrator asks: create
// a domain from a configuration (xl.cfg(5), hypervisor/toolstack/config.ts),
// list, pause, unpause, shut down and destroy domains, and attach to their
// consoles. When a domain shuts down it applies the configuration's
// on_poweroff / on_reboot / on_crash action, as xl does after libxl reports
// the domain's death: destroy it, keep it (preserve), or build it again
// from the same configuration (restart).
//
// The rules that make it work:
//   - the hypervisor's shutdown callback runs in the middle of a slice
//     (inside the guest's sched_op hypercall), where a domain must not be
//     destroyed; the toolstack notes the domain and acts once the slice has
//     ended (`settle`);
//   - the run loop yields to the event loop between turns of a few slices,
//     so requests, typed input and console output get in; when no vCPU can
//     run it sleeps until the next timer (real time) or jumps to it
//     (deterministic time), and waits for a request when no timer is armed;
//   - domain names are unique, as in xl: a second "hello" is refused.
//
// What is not here yet: `shutdown` is the hypervisor powering the domain
// off (Xen's domain_shutdown on its behalf), not xl's polite request
// through xenstore's control/shutdown key, which needs xenstore and a
// guest that watches it. The guest gets no chance to clean up; its
// on_poweroff action applies as if it had powered off itself.
//
// Nothing here touches Node: files are read through `readFile` (Node's by
// default), paths are joined as strings, so the browser can run the same
// toolstack in a Web Worker with a readFile of its own.

import { Hypervisor, SLICE_INSTRUCTIONS } from "../xen.js";
import type { Domain } from "../domain.js";
import type { ClockMode } from "../clock.js";
import { LoadError } from "../platform/boot.js";
import {
  SHUTDOWN_NAMES, SHUTDOWN_crash, SHUTDOWN_poweroff, SHUTDOWN_reboot, SHUTDOWN_soft_reset, SHUTDOWN_suspend,
} from "../abi/sched.js";
import { RUNSTATE_running } from "../abi/vcpu.js";
import { ConfigError, domainConfig, type DomainConfig, type ShutdownAction } from "./config.js";
import type { SchedParams } from "../sched-credit.js";

export { ConfigError } from "./config.js";
export { LoadError } from "../platform/boot.js";

/** A request the toolstack cannot carry out (no such domain, a name taken); the message is the whole story. */
export class ToolstackError extends Error {
  override readonly name = "ToolstackError";
}

export interface ToolstackOptions {
  /** Machine RAM in MiB, shared by every domain and the hypervisor's own frames (default 512). */
  memMiB?: number;
  /** realtime (default) or deterministic (DESIGN.md, "Time and determinism"). */
  clock?: ClockMode;
  /** build/core.wasm's bytes, when the caller has them. */
  wasm?: Uint8Array;
  /** Reads a kernel or ramdisk the configuration names; Node's readFile by default. */
  readFile?: (path: string) => Promise<Uint8Array>;
  /** Bytes of console output kept per domain for consoles attached later (default 64 KiB). */
  scrollbackBytes?: number;
  /** Where the toolstack tells what it did on its own (a domain shut down, was destroyed, restarted). */
  log?: (line: string) => void;
}

/** One row of `xenoscope list`, xl's columns plus the instructions executed. */
export interface DomainInfo {
  domid: number;
  name: string;
  /** running: some vCPU can run; blocked: every vCPU waits for an event; paused by the toolstack; shutdown and kept (preserve). */
  state: "running" | "blocked" | "paused" | "shutdown";
  /** Once shut down, the reason in xl's words ("poweroff", "crash", ...). */
  shutdownReason?: string;
  memoryMiB: number;
  vcpus: number;
  /** Time the domain's vCPUs spent running, from Xen's runstate accounting (virtual ns). */
  cpuTimeNs: number;
  instructions: number;
  /** The credit scheduler's weight and cap (percent of one CPU, 0: none), as `xl sched-credit` shows them. */
  weight: number;
  cap: number;
}

/** What an attached console hears. */
export interface ConsoleListener {
  /** Bytes the guest wrote (the scrollback first, right after attaching). */
  output(bytes: Uint8Array): void;
  /** Something the user should know that is not the guest's output: the domain was restarted. */
  notice?(message: string): void;
  /** The domain will write no more: it shut down and is kept or gone, or it was destroyed. */
  ended(message: string): void;
}

export interface ConsoleAttachment {
  /** Bytes typed at the console: they reach the guest's console_io reads. */
  send(bytes: Uint8Array): void;
  detach(): void;
}

/** Machine RAM the toolstack asks for when not told (MiB). */
export const DEFAULT_MACHINE_MIB = 512;
/** Console output kept for consoles attached later. */
export const DEFAULT_SCROLLBACK_BYTES = 64 * 1024;
/** One turn of the run loop ends after this much clock time (ns), so the event loop gets in often. */
const TURN_NS = 20_000_000;
/** ... or after this many slices: a slice is 1 ms of deterministic time, but can take far longer on the host. */
const SLICES_PER_TURN = 8;
/** A domain that shuts down less than this long (virtual ns) after it started counts as restarting quickly. */
const QUICK_RESTART_NS = 1_000_000_000;
/** Quick restarts in a row the toolstack allows before it destroys the domain instead of looping forever. */
export const MAX_QUICK_RESTARTS = 5;

/** A domain the toolstack made, across the restarts that give it new domids. */
interface Managed {
  config: DomainConfig;
  kernel: Uint8Array;
  ramdisk?: Uint8Array;
  domain: Domain;
  /** Virtual time this incarnation was built at. */
  startedNs: number;
  quickRestarts: number;
  /** Set while the toolstack itself destroys the domain, so the shutdown that entails is not acted on. */
  destroying: boolean;
  /** The last scrollbackBytes of console output, oldest first. */
  scrollback: Uint8Array[];
  scrollbackSize: number;
  listeners: Set<ConsoleListener>;
}

export class Toolstack {
  private readonly managed = new Map<number, Managed>();
  private readonly pending: Managed[] = [];
  /** Names being created while their images are read, so two creates of one name cannot both pass the check. */
  private readonly reserved = new Set<string>();
  private readonly readFile: (path: string) => Promise<Uint8Array>;
  private readonly scrollbackBytes: number;
  private readonly log: (line: string) => void;
  private running = false;
  private stopped = false;
  private wakeUp: (() => void) | null = null;

  private constructor(readonly xen: Hypervisor, options: ToolstackOptions) {
    this.readFile = options.readFile ?? nodeReadFile;
    this.scrollbackBytes = options.scrollbackBytes ?? DEFAULT_SCROLLBACK_BYTES;
    this.log = options.log ?? (() => {});
    xen.onShutdown = (domain) => {
      const m = this.managed.get(domain.domid);
      if (m && !m.destroying) this.pending.push(m);
    };
  }

  static async create(options: ToolstackOptions = {}): Promise<Toolstack> {
    const xen = await Hypervisor.create({ memMiB: options.memMiB ?? DEFAULT_MACHINE_MIB, clock: options.clock, wasm: options.wasm });
    return new Toolstack(xen, options);
  }

  // ------------------------------------------------------------ what xl does

  /**
   * Creates a domain from xl.cfg text. `configPath` names the file in
   * messages, and the kernel and ramdisk paths inside it are taken relative
   * to its folder. Throws ConfigError (file:line: reason) for a bad
   * configuration or an image that cannot be read, LoadError (the same
   * form, on the kernel's line) for an image the builder refuses, and
   * ToolstackError when the name is taken. With `console`, the listener is
   * attached before the domain can run a single instruction (xl create -c),
   * so the output of a domain that lives for microseconds is not missed.
   */
  async create(
    configText: string,
    configPath: string,
    options: { console?: ConsoleListener } = {},
  ): Promise<{ domain: DomainInfo; console?: ConsoleAttachment }> {
    const config = domainConfig(configText, configPath, (p) => resolveAgainst(configPath, p));
    checkSupported(config);
    this.checkNameFree(config.name);
    this.reserved.add(config.name);
    try {
      const kernel = await this.readImage(config, "kernel", config.kernel);
      const ramdisk = config.ramdisk === undefined ? undefined : await this.readImage(config, "ramdisk", config.ramdisk);
      const m: Managed = {
        config, kernel, ramdisk,
        domain: this.build(config, kernel, ramdisk),
        startedNs: this.xen.clock.now(),
        quickRestarts: 0,
        destroying: false,
        scrollback: [],
        scrollbackSize: 0,
        listeners: new Set(),
      };
      this.adopt(m);
      this.log(`created ${m.domain.name} (domid ${m.domain.domid}) from ${configPath}`);
      const console = options.console && this.console(m.domain.domid, options.console);
      return { domain: this.info(m), console };
    } finally {
      this.reserved.delete(config.name);
    }
  }

  /** Destroys a domain: its memory goes back to the machine, its consoles end. */
  destroy(domain: string | number): void {
    const m = this.find(domain);
    this.remove(m, `${m.domain.name} was destroyed`);
    this.log(`destroyed ${m.domain.name} (domid ${m.domain.domid})`);
  }

  /** Stops a domain's vCPUs from being scheduled until unpause (xl pause). */
  pause(domain: string | number): void {
    const m = this.find(domain);
    if (m.domain.state === "shutdown") throw new ToolstackError(`${m.domain.name} has shut down; there is nothing to pause`);
    this.xen.pause(m.domain);
  }

  unpause(domain: string | number): void {
    const m = this.find(domain);
    if (m.domain.state === "shutdown") throw new ToolstackError(`${m.domain.name} has shut down; there is nothing to unpause`);
    this.xen.unpause(m.domain);
    this.wake();
  }

  /**
   * Sets a domain's credit-scheduler weight and cap (xl sched-credit -w/-c),
   * until it is destroyed or rebuilt from its configuration. A weight
   * outside 1-65535 or a cap above 100 per vCPU is refused.
   */
  setSchedCredit(domain: string | number, params: Partial<SchedParams>): DomainInfo {
    const m = this.find(domain);
    if (m.domain.state === "shutdown") throw new ToolstackError(`${m.domain.name} has shut down; it is no longer scheduled`);
    if (this.xen.scheduler.setParams(m.domain, params) < 0) {
      const most = 100 * m.domain.vcpus.length;
      throw new ToolstackError(`weight ${params.weight ?? "-"}, cap ${params.cap ?? "-"}: the weight must be 1-65535 and the cap 0-${most} for ${m.domain.name}`);
    }
    this.log(`${m.domain.name}: weight ${this.xen.scheduler.params(m.domain).weight}, cap ${this.xen.scheduler.params(m.domain).cap}`);
    return this.info(m);
  }

  /**
   * Shuts a domain down as if it had powered off, and applies its
   * on_poweroff action. For now this is the hypervisor ending the domain,
   * not a request the guest could act on (no xenstore control/shutdown
   * yet: see the top of this file).
   */
  shutdown(domain: string | number): void {
    const m = this.find(domain);
    if (m.domain.state === "shutdown") throw new ToolstackError(`${m.domain.name} has already shut down (${Hypervisor.describeShutdown(m.domain)})`);
    this.xen.shutdownDomain(m.domain, SHUTDOWN_poweroff);
    this.settle();
  }

  /** Every domain, by domid. */
  list(): DomainInfo[] {
    return [...this.managed.values()].sort((a, b) => a.domain.domid - b.domain.domid).map((m) => this.info(m));
  }

  /** One domain, by name or domid. */
  domainInfo(domain: string | number): DomainInfo {
    return this.info(this.find(domain));
  }

  /** The hypervisor's domain behind a name or domid (for tests and the dashboard). */
  domain(domain: string | number): Domain {
    return this.find(domain).domain;
  }

  /**
   * Attaches to a domain's console: the listener hears the scrollback at
   * once, then every byte the guest writes, across restarts, until the
   * domain ends or the attachment is detached. Several may attach at once.
   */
  console(domain: string | number, listener: ConsoleListener): ConsoleAttachment {
    const m = this.find(domain);
    if (m.scrollbackSize > 0) listener.output(concat(m.scrollback, m.scrollbackSize));
    if (m.domain.state === "shutdown") {
      listener.ended(`${m.domain.name} has shut down (${Hypervisor.describeShutdown(m.domain)})`);
      return { send: () => {}, detach: () => {} };
    }
    m.listeners.add(listener);
    return {
      send: (bytes) => {
        if (!m.listeners.has(listener) || m.domain.state === "shutdown") return;
        m.domain.receiveConsoleInput(bytes);
        this.wake();
      },
      detach: () => {
        m.listeners.delete(listener);
      },
    };
  }

  /** Destroys every domain (the host is going away). */
  destroyAll(): void {
    for (const m of [...this.managed.values()]) this.remove(m, "the host is shutting down");
  }

  // ------------------------------------------------------------ the run loop

  /** Runs the domains until stop(): the host's loop. Only one loop runs at a time. */
  async run(): Promise<void> {
    await this.loop(() => false, Infinity, true);
  }

  /**
   * Runs until `done()` holds, virtual time passes `limitNs`, or (in
   * deterministic time) nothing can happen without help from outside; returns
   * done(). For tests and one-process runs.
   */
  async runUntil(done: () => boolean, limitNs = Infinity): Promise<boolean> {
    await this.loop(done, limitNs, false);
    return done();
  }

  /** Ends run() or runUntil() after the current slice. */
  stop(): void {
    this.stopped = true;
    this.wake();
  }

  /** `waitForRequests`: when nothing can run and no timer is armed, wait for a request instead of returning. */
  private async loop(done: () => boolean, limitNs: number, waitForRequests: boolean): Promise<void> {
    if (this.running) throw new Error("the toolstack's run loop is already running");
    this.running = true;
    this.stopped = false;
    try {
      const clock = this.xen.clock;
      while (!this.stopped && !done() && clock.now() < limitNs) {
        const idleUntil = this.turn(done, limitNs);
        if (idleUntil === undefined) {
          await yieldToEventLoop();
          continue;
        }
        if (clock.mode === "deterministic") {
          // Deterministic time only moves when something runs: with no timer armed, only a request can change anything.
          if (waitForRequests) await this.sleep(Infinity);
          else return;
        } else {
          await this.sleep(Math.min(idleUntil, limitNs) - clock.now());
        }
      }
    } finally {
      this.running = false;
    }
  }

  /**
   * A few slices, until TURN_NS of clock time or SLICES_PER_TURN slices
   * have passed. Returns undefined when the turn ended with work left, or,
   * when no vCPU can run, the virtual time at which a timer may make one
   * runnable (Infinity: none is armed, or no domain is running at all).
   */
  private turn(done: () => boolean, limitNs: number): number | undefined {
    const clock = this.xen.clock;
    const start = clock.now();
    for (let slices = 0; slices < SLICES_PER_TURN && clock.now() - start < TURN_NS; slices++) {
      if (this.stopped || done() || clock.now() >= limitNs) return undefined;
      // In deterministic time an instruction is a nanosecond, so the slice can end at the limit exactly.
      const ran = this.xen.step(Math.max(1, Math.min(SLICE_INSTRUCTIONS, limitNs - clock.now())));
      this.settle();
      if (ran) continue;
      // Paused and shut-down domains wait for a request, whatever timers they left armed.
      if (![...this.managed.values()].some((m) => m.domain.state === "running")) return Infinity;
      const deadline = clock.nextDeadline();
      if (deadline === Infinity || clock.mode === "realtime") return deadline;
      // Deterministic time: a halted machine reaches its next timer at once.
      clock.skipTo(Math.min(deadline, limitNs));
    }
    return undefined;
  }

  /** Waits `ns` of host time (real-time mode), or until wake(). */
  private sleep(ns: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      this.wakeUp = () => {
        if (timer !== undefined) clearTimeout(timer);
        this.wakeUp = null;
        resolve();
      };
      if (ns !== Infinity) timer = setTimeout(() => this.wakeUp?.(), Math.max(0, Math.ceil(ns / 1e6)));
    });
  }

  /** Something changed that may let a vCPU run: a sleeping loop looks again. */
  private wake(): void {
    this.wakeUp?.();
  }

  // ------------------------------------------------------------ domains

  private build(config: DomainConfig, kernel: Uint8Array, ramdisk: Uint8Array | undefined): Domain {
    try {
      return this.xen.createDomain({
        name: config.name, kernel, ramdisk, memoryMiB: config.memory, cmdline: config.extra,
        vcpus: config.vcpus, sched: { weight: config.cpuWeight, cap: config.cap },
      });
    } catch (e) {
      if (!(e instanceof LoadError)) throw e;
      const line = config.settings.get("kernel")?.line ?? 1;
      throw new LoadError(`${config.file}:${line}: ${config.kernel}: ${e.message}`);
    }
  }

  /** Connects a freshly built incarnation to the toolstack: its console and the run loop. */
  private adopt(m: Managed): void {
    this.managed.set(m.domain.domid, m);
    m.domain.consoleOut = (bytes) => this.consoleOutput(m, bytes);
    this.wake();
  }

  private consoleOutput(m: Managed, bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    // console_io hands over a view of a buffer it may reuse.
    const copy = bytes.slice();
    m.scrollback.push(copy);
    m.scrollbackSize += copy.length;
    // Whole chunks go while the rest still fills the scrollback; then the oldest one left is cut to fit.
    while (m.scrollback.length > 0 && m.scrollbackSize - m.scrollback[0]!.length >= this.scrollbackBytes) m.scrollbackSize -= m.scrollback.shift()!.length;
    if (m.scrollback.length > 0 && m.scrollbackSize > this.scrollbackBytes) {
      const first = m.scrollback[0]!;
      const cut = m.scrollbackSize - this.scrollbackBytes;
      m.scrollback[0] = first.subarray(cut);
      m.scrollbackSize -= cut;
    }
    for (const l of m.listeners) l.output(copy);
  }

  /** Destroys the domain behind `m` and forgets it; its consoles hear `why`. */
  private remove(m: Managed, why: string): void {
    m.destroying = true;
    this.managed.delete(m.domain.domid);
    this.xen.destroyDomain(m.domain);
    this.endConsoles(m, why);
    this.wake();
  }

  private endConsoles(m: Managed, why: string): void {
    const listeners = [...m.listeners];
    m.listeners.clear();
    for (const l of listeners) l.ended(why);
  }

  /** Applies the shutdown actions the hypervisor reported during the last slice. */
  private settle(): void {
    while (this.pending.length > 0) {
      const m = this.pending.shift()!;
      if (this.managed.get(m.domain.domid) === m && m.domain.state === "shutdown") this.onShutdown(m);
    }
  }

  /** What xl does when a domain dies: the configured action for its reason. */
  private onShutdown(m: Managed): void {
    const domain = m.domain;
    const how = Hypervisor.describeShutdown(domain);
    const [key, action] = shutdownAction(m.config, domain.shutdownReason);
    const what = `${domain.name} (domid ${domain.domid}) shut down: ${how}`;
    switch (action) {
      case "preserve":
        this.log(`${what}; ${key} = preserve: kept until destroyed`);
        this.endConsoles(m, `${domain.name} has shut down (${how})`);
        return;
      case "restart": {
        const ranNs = this.xen.clock.now() - m.startedNs;
        const quick = ranNs < QUICK_RESTART_NS ? m.quickRestarts + 1 : 0;
        if (quick > MAX_QUICK_RESTARTS) {
          const why = `${domain.name} shut down (${how}) ${quick} times in a row within ${QUICK_RESTART_NS / 1e9} s of starting; not restarting it again, destroyed`;
          this.log(`${what}; ${key} = restart, but it is restarting too fast: destroyed`);
          this.remove(m, why);
          return;
        }
        this.restart(m, `${what}; ${key} = restart`, quick);
        return;
      }
      case "destroy":
      default:
        this.log(`${what}; ${key} = destroy: destroyed`);
        this.remove(m, `${domain.name} has shut down (${how}) and was destroyed`);
        return;
    }
  }

  /** Builds the domain again from its configuration and the images read at create: same name, a new domid. */
  private restart(m: Managed, what: string, quickRestarts: number): void {
    const old = m.domain;
    m.destroying = true;
    this.managed.delete(old.domid);
    this.xen.destroyDomain(old);
    let domain: Domain;
    try {
      domain = this.build(m.config, m.kernel, m.ramdisk);
    } catch (e) {
      if (!(e instanceof LoadError)) throw e;
      this.log(`${what}, but it could not be built again: ${e.message}`);
      this.endConsoles(m, `${old.name} could not be restarted: ${e.message}`);
      return;
    }
    m.domain = domain;
    m.destroying = false;
    m.startedNs = this.xen.clock.now();
    m.quickRestarts = quickRestarts;
    this.adopt(m);
    this.log(`${what}: restarted as domid ${domain.domid}`);
    for (const l of m.listeners) l.notice?.(`${old.name} restarted as domid ${domain.domid} (${Hypervisor.describeShutdown(old)})`);
  }

  private find(domain: string | number): Managed {
    if (typeof domain === "number" || /^\d+$/.test(domain)) {
      const m = this.managed.get(Number(domain));
      if (m) return m;
    }
    for (const m of this.managed.values()) if (m.domain.name === domain) return m;
    throw new ToolstackError(`no domain called ${domain}`);
  }

  private checkNameFree(name: string): void {
    for (const m of this.managed.values()) {
      if (m.domain.name === name) throw new ToolstackError(`a domain called ${name} already exists (domid ${m.domain.domid})`);
    }
    if (this.reserved.has(name)) throw new ToolstackError(`a domain called ${name} is being created`);
  }

  private async readImage(config: DomainConfig, key: string, path: string): Promise<Uint8Array> {
    try {
      return await this.readFile(path);
    } catch (e) {
      throw new ConfigError(config.file, config.settings.get(key)?.line ?? 1, `cannot read the ${key} ${path}: ${fileErrorReason(e)}`);
    }
  }

  private info(m: Managed): DomainInfo {
    const d = m.domain;
    let cpuTimeNs = 0;
    let instructions = 0;
    for (const v of d.vcpus) {
      instructions += v.instructions;
      // A domain that has shut down keeps its vCPUs' runstate until it is destroyed.
      cpuTimeNs += Number(this.xen.events.runstateInfo(v).time[RUNSTATE_running]);
    }
    const state: DomainInfo["state"] =
      d.state === "shutdown" ? "shutdown" :
      d.state === "paused" ? "paused" :
      d.vcpus.some((v) => v.runState === "runnable") ? "running" : "blocked";
    return {
      domid: d.domid,
      name: d.name,
      state,
      shutdownReason: d.state === "shutdown" ? SHUTDOWN_NAMES[d.shutdownReason] ?? `reason ${d.shutdownReason}` : undefined,
      memoryMiB: (d.nrPages * 4096) / (1024 * 1024),
      vcpus: d.vcpus.length,
      cpuTimeNs,
      instructions,
      ...this.xen.scheduler.params(d),
    };
  }
}

/**
 * The action for a shutdown reason, and the setting it comes from. xl.cfg
 * has on_watchdog and on_soft_reset too; this toolstack reads neither yet,
 * so it does what xl does by default: a watchdog shutdown is destroyed, a
 * soft reset is a restart (xl keeps the memory, we rebuild), and a
 * suspended domain is kept for whoever suspended it.
 */
function shutdownAction(config: DomainConfig, reason: number): [string, ShutdownAction] {
  switch (reason) {
    case SHUTDOWN_poweroff:
      return ["on_poweroff", config.onPoweroff];
    case SHUTDOWN_reboot:
      return ["on_reboot", config.onReboot];
    case SHUTDOWN_crash:
      return ["on_crash", config.onCrash];
    case SHUTDOWN_suspend:
      return ["suspend", "preserve"];
    case SHUTDOWN_soft_reset:
      return ["on_soft_reset", "restart"];
    default:
      return ["on_watchdog", "destroy"];
  }
}

/** Refuses, on their lines, the settings config.ts reads that this toolstack cannot honour yet. */
function checkSupported(config: DomainConfig): void {
  const line = (key: string): number => config.settings.get(key)?.line ?? 1;
  if (config.type !== "pv") throw new ConfigError(config.file, line("type"), `type = "${config.type}": only PV domains can be created so far`);
  for (const key of ["on_poweroff", "on_reboot", "on_crash"]) {
    if (config.settings.get(key)?.value === "rename-restart") {
      throw new ConfigError(config.file, line(key), `${key} = "rename-restart" is not supported; use restart, destroy or preserve`);
    }
  }
  for (const key of ["disk", "vif"]) {
    const value = config.settings.get(key)?.value;
    if (Array.isArray(value) && value.length > 0) {
      throw new ConfigError(config.file, line(key), `${key}: devices are not supported yet (no block or network backends); remove the setting`);
    }
  }
}

/** `path` as written in the config file at `configPath`: absolute stays, relative is taken from the file's folder. */
export function resolveAgainst(configPath: string, path: string): string {
  if (path.startsWith("/") || /^[A-Za-z]:[\\/]/.test(path)) return path;
  const slash = Math.max(configPath.lastIndexOf("/"), configPath.lastIndexOf("\\"));
  return slash < 0 ? path : `${configPath.slice(0, slash + 1)}${path}`;
}

/** An error from reading a file, in a few words ("no such file"), without the errno prefix Node puts first. */
function fileErrorReason(e: unknown): string {
  const code = (e as { code?: string }).code;
  switch (code) {
    case "ENOENT":
      return "no such file";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "it is a folder";
    default:
      return (e as Error).message ?? String(e);
  }
}

async function nodeReadFile(path: string): Promise<Uint8Array> {
  const { readFile } = await import("node:fs/promises");
  return new Uint8Array(await readFile(path));
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Lets timers, I/O and requests in: setImmediate where there is one (Node), a zero timeout elsewhere. */
function yieldToEventLoop(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (f: () => void) => void }).setImmediate;
  return new Promise((resolve) => (immediate ? immediate(resolve) : setTimeout(resolve, 0)));
}
