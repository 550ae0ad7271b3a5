// tools/xl.ts — xl's verbs: `create`, `list`, `console`, `destroy`, `pause`, `unpause`, `shutdown`, `sched-credit`.
//
// DESIGN.md, "hypervisor/" and "Command-line conventions": these verbs are
// clients of `xenoscope host` (tools/host.ts), which owns the domains; they
// send one request each over the host's socket in the line-delimited JSON
// of hypervisor/toolstack/protocol.ts and print what comes back, like
// Xen's xl talking to libxl. `create` starts a host in the background when
// none answers (a detached process whose output goes to a log beside the
// socket); every other verb says plainly that no host is running.
//
// `console` (and `create -c`) attaches the terminal to a domain's console:
// what the domain has written so far (the host keeps a scrollback) and then
// everything it writes appears on stdout; what is typed goes to the
// domain. On a terminal, stdin is in raw mode and Ctrl-] detaches, as in
// `xl console` and `xenoscope run`; without one, stdin is sent a line at a
// time. The console ends when the domain does.
//
// Exit status: 0 on success; 1 when the host refuses (no such domain, a
// name taken) or does not run; 64 for bad arguments, a config file that
// cannot be read, or a config or kernel the host refuses as bad input (the
// file, line and reason are printed).

import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import {
  LineSplitter, PROTOCOL_VERSION, encodeMessage, fromBase64, parseHostMessage, toBase64,
  type ConsoleEvent, type Reply, type Request,
} from "../hypervisor/toolstack/protocol.js";
import type { DomainInfo } from "../hypervisor/toolstack/toolstack.js";
import { answers, defaultSocketPath, ensurePrivateFolder, logPathFor } from "./host.js";

/** Ctrl-] on a terminal in raw mode: detach, as `xl console` does. */
const DETACH = 0x1d;
/** How long `create` waits for the host it started to answer. */
const HOST_START_MS = 20_000;

/** Nothing answers on the socket. */
export class NoHostError extends Error {
  override readonly name = "NoHostError";
  constructor(readonly socket: string) {
    super(`no host is running on ${socket} (\`xenoscope host' runs one; \`xenoscope create' starts one)`);
  }
}

type Outgoing = Request extends infer R ? (R extends { id: number } ? Omit<R, "id"> : R) : never;

/** One connection to a host: requests and their replies, and console events. */
export class HostConnection {
  /** Console output, notices and the end, for the console attached on this connection. */
  onEvent: (event: ConsoleEvent) => void = () => {};
  /** The host closed the connection (it stopped, or died). */
  onClose: () => void = () => {};
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private closed = false;

  private constructor(private readonly socket: Socket, readonly pid: number) {}

  /** Connects and checks the host's greeting; NoHostError when nothing answers. */
  static open(path: string): Promise<HostConnection> {
    return new Promise((resolveOpen, rejectOpen) => {
      const socket = createConnection(path);
      const lines = new LineSplitter();
      let connection: HostConnection | undefined;
      const fail = (e: Error) => {
        socket.destroy();
        rejectOpen(e);
      };
      socket.on("error", (e: NodeJS.ErrnoException) => {
        if (connection) return connection.lost(`the connection to the host failed: ${e.message}`);
        fail(e.code === "ENOENT" || e.code === "ECONNREFUSED" || e.code === "ENOTSOCK" ? new NoHostError(path) : new Error(`cannot reach the host on ${path}: ${e.message}`));
      });
      socket.on("close", () => {
        if (connection) connection.lost("the host closed the connection");
        else rejectOpen(new Error(`the host on ${path} closed the connection before greeting`));
      });
      socket.on("data", (chunk: Buffer) => {
        let received: string[];
        try {
          received = lines.push(chunk);
        } catch (e) {
          return connection ? connection.lost((e as Error).message) : fail(e as Error);
        }
        for (const line of received) {
          const parsed = parseHostMessage(line);
          if (!parsed.ok) return connection ? connection.lost(`the host sent ${parsed.error}`) : fail(new Error(`the host on ${path} sent ${parsed.error}`));
          const message = parsed.value;
          if (!connection) {
            if (message.type !== "hello") return fail(new Error(`${path} is not a xenoscope host's socket`));
            if (message.protocol !== PROTOCOL_VERSION) {
              return fail(new Error(`the host on ${path} speaks protocol ${message.protocol}, this xenoscope speaks ${PROTOCOL_VERSION}: stop it (\`xenoscope host --stop\`) and start it again`));
            }
            connection = new HostConnection(socket, message.pid);
            resolveOpen(connection);
          } else if (message.type === "reply") {
            const w = connection.waiting.get(message.id);
            connection.waiting.delete(message.id);
            w?.resolve(message);
          } else if (message.type !== "hello") {
            connection.onEvent(message);
          }
        }
      });
    });
  }

  /** Sends a request and waits for its reply. */
  request(request: Outgoing & { op: Exclude<Request["op"], "input" | "detach"> }): Promise<Reply> {
    const id = this.nextId++;
    return new Promise((resolveReply, rejectReply) => {
      if (this.closed) return rejectReply(new Error("the host closed the connection"));
      this.waiting.set(id, { resolve: resolveReply, reject: rejectReply });
      this.socket.write(encodeMessage({ ...request, id } as Request));
    });
  }

  /** Typed bytes for the attached console. */
  input(bytes: Uint8Array): void {
    if (!this.closed) this.socket.write(encodeMessage({ op: "input", data: toBase64(bytes) }));
  }

  close(): void {
    this.closed = true;
    this.socket.end();
  }

  private lost(why: string): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    for (const w of this.waiting.values()) w.reject(new Error(why));
    this.waiting.clear();
    this.onClose();
  }
}

// ------------------------------------------------------------ arguments

interface VerbSpec {
  name: string;
  usage: string;
  /** What the verb does, for --help. */
  about: string;
  /** Flags without a value this verb takes (besides --socket and --help), with their help lines. */
  flags?: Record<string, { aliases: string[]; help: string }>;
  /** Options that take a value (`-w 512`, `--weight=512`), with the value's name for --help. */
  options?: Record<string, { aliases: string[]; value: string; help: string }>;
  /** How many positional arguments: [min, max]. */
  positional: [number, number];
  exitStatus: string;
}

interface ParsedArgs {
  socket: string;
  flags: Set<string>;
  /** Values of the options given, by the option's long name. */
  values: Map<string, string>;
  positional: string[];
}

function helpText(spec: VerbSpec): string {
  const lines = [`usage: xenoscope ${spec.name} ${spec.usage}`, "", spec.about, ""];
  for (const [flag, f] of Object.entries(spec.flags ?? {})) lines.push(`  ${[...f.aliases, flag].join(", ").padEnd(16)}${f.help}`);
  for (const [name, o] of Object.entries(spec.options ?? {})) lines.push(`  ${[...o.aliases, `${name} ${o.value}`].join(", ").padEnd(16)}${o.help}`);
  lines.push(`  ${"--socket PATH".padEnd(16)}the host's socket (default ${defaultSocketPath()})`);
  lines.push(`  ${"--help".padEnd(16)}this text`, "", spec.exitStatus);
  return lines.join("\n");
}

function parseArgs(spec: VerbSpec, argv: string[]): ParsedArgs | { help: true } | { error: string } {
  const args: ParsedArgs = { socket: defaultSocketPath(), flags: new Set(), values: new Map(), positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--help" || a === "-h") return { help: true };
    if (a === "--socket" || a.startsWith("--socket=")) {
      const v = a.includes("=") ? a.slice(a.indexOf("=") + 1) : argv[++i];
      if (!v) return { error: "--socket needs a path" };
      args.socket = v;
      continue;
    }
    const optionName = a.startsWith("--") && a.includes("=") ? a.slice(0, a.indexOf("=")) : a;
    const option = Object.entries(spec.options ?? {}).find(([name, o]) => name === optionName || o.aliases.includes(optionName));
    if (option) {
      const v = optionName !== a ? a.slice(a.indexOf("=") + 1) : argv[++i];
      if (v === undefined || v === "") return { error: `${optionName} needs a ${option[1].value}` };
      args.values.set(option[0], v);
      continue;
    }
    const flag = Object.entries(spec.flags ?? {}).find(([name, f]) => name === a || f.aliases.includes(a));
    if (flag) {
      args.flags.add(flag[0]);
      continue;
    }
    if (a.startsWith("-") && a !== "-") return { error: `unknown option \`${a}'` };
    args.positional.push(a);
  }
  const [min, max] = spec.positional;
  if (args.positional.length < min) return { error: `missing ${spec.usage.replace(/\[[^\]]*\]\s*/g, "").trim()}` };
  if (args.positional.length > max) return { error: `unexpected argument \`${args.positional[max]}'` };
  return args;
}

/** Runs a verb: its arguments, then `body`; prints errors as one line prefixed with the verb. */
async function verb(spec: VerbSpec, argv: string[], body: (args: ParsedArgs, fail: (message: string, status?: number) => number) => Promise<number>): Promise<number> {
  const args = parseArgs(spec, argv);
  if ("help" in args) {
    console.log(helpText(spec));
    return 0;
  }
  const fail = (message: string, status = 1): number => {
    console.error(`xenoscope ${spec.name}: ${message}`);
    return status;
  };
  if ("error" in args) return fail(`${args.error} (try \`xenoscope ${spec.name} --help')`, 64);
  try {
    return await body(args, fail);
  } catch (e) {
    if (e instanceof NoHostError) return fail(e.message);
    return fail((e as Error).message);
  }
}

/** The reply's error as the verb's status: 64 for bad input, 1 otherwise. */
function refused(reply: Reply, fail: (message: string, status?: number) => number): number {
  if (reply.ok) return 0;
  return fail(reply.error, reply.badInput ? 64 : 1);
}

const BASIC_STATUS = "Exit status: 0 on success; 1 when the host refuses or no host is running;\n64 for bad arguments.";

// ------------------------------------------------------------ create

const CREATE: VerbSpec = {
  name: "create",
  usage: "[options] CFG",
  about: `Creates a domain from CFG, a domain configuration in xl.cfg syntax (name,
type = "pv", kernel, memory, vcpus, extra, on_poweroff, on_reboot,
on_crash), on the host; a kernel path in CFG is relative to CFG's folder.
When no host answers on the socket, one is started in the background
(xenoscope host; its log is written beside the socket).`,
  flags: { "--console": { aliases: ["-c"], help: "attach to the domain's console once it is created" } },
  positional: [1, 1],
  exitStatus: `Exit status: 0 when the domain is created (with -c: when the console ends or
is detached); 64 for bad arguments, a CFG that cannot be read, or a
configuration or kernel the host refuses (file:line: reason is printed);
1 when the host refuses otherwise (a name already taken) or cannot be
started.`,
};

export function createCommand(argv: string[]): Promise<number> {
  return verb(CREATE, argv, async (args, fail) => {
    const file = args.positional[0]!;
    let config: string;
    try {
      config = readFileSync(file, "utf8");
    } catch (e) {
      return fail(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`, 64);
    }
    let host: HostConnection;
    try {
      host = await HostConnection.open(args.socket);
    } catch (e) {
      if (!(e instanceof NoHostError)) throw e;
      host = await startHost(args.socket);
    }
    const attach = args.flags.has("--console");
    // Events that arrive with the reply (a short-lived domain's whole life) must find the console ready.
    const terminal = attach ? attachConsole(host) : undefined;
    const reply = await host.request({ op: "create", config, path: resolve(file), attach });
    if (!reply.ok) {
      terminal?.cancel();
      host.close();
      return refused(reply, fail);
    }
    if (!terminal) {
      host.close();
      return 0;
    }
    return terminal.done;
  });
}

/**
 * Starts `xenoscope host --socket SOCKET` as a detached process (it outlives
 * this one, in its own session, its output in the log beside the socket) and
 * waits until it answers.
 */
async function startHost(socket: string): Promise<HostConnection> {
  const path = resolve(socket);
  ensurePrivateFolder(path);
  const log = logPathFor(path);
  const fd = openSync(log, "a", 0o600);
  const cli = fileURLToPath(new URL("./cli.js", import.meta.url));
  // cwd "/": a long-lived daemon must not keep the folder it was started from in use.
  const child = spawn(process.execPath, [cli, "host", "--socket", path], { detached: true, stdio: ["ignore", fd, fd], cwd: "/" });
  closeSync(fd);
  let exited: number | undefined;
  child.once("exit", (code, signal) => (exited = code ?? (signal ? 128 : 1)));
  child.unref();
  const started = Date.now();
  while (Date.now() - started < HOST_START_MS) {
    if (await answers(path)) {
      process.stderr.write(`xenoscope create: started a host in the background (pid ${child.pid}) on ${path}; its log is ${log}\n`);
      return HostConnection.open(path);
    }
    if (exited !== undefined) throw new Error(`the host it started exited at once (status ${exited}); see ${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the host it started (pid ${child.pid}) did not answer on ${path} within ${HOST_START_MS / 1000} s; see ${log}`);
}

// ------------------------------------------------------------ console

const CONSOLE: VerbSpec = {
  name: "console",
  usage: "[options] NAME",
  about: `Attaches this terminal to the console of domain NAME (a name or a domid):
what it has written so far, then what it writes, appear on stdout, and what
you type goes to it. In a terminal, keys go as typed and Ctrl-] detaches;
otherwise stdin is sent a line at a time. The console ends when the domain
shuts down or is destroyed (unless it is restarted).`,
  positional: [1, 1],
  exitStatus: "Exit status: 0 when the domain ends or you detach; 1 when there is no such\ndomain, no host is running, or the host goes away; 64 for bad arguments.",
};

export function consoleCommand(argv: string[]): Promise<number> {
  return verb(CONSOLE, argv, async (args, fail) => {
    const host = await HostConnection.open(args.socket);
    const terminal = attachConsole(host);
    const reply = await host.request({ op: "console", domain: args.positional[0]! });
    if (!reply.ok) {
      terminal.cancel();
      host.close();
      return refused(reply, fail);
    }
    return terminal.done;
  });
}

/**
 * Connects stdout and stdin to the console attached on `host`. `done`
 * resolves with the exit status when the console ends, the user detaches,
 * or the host goes away; `cancel` undoes it all when the attach was refused.
 */
function attachConsole(host: HostConnection): { done: Promise<number>; cancel: () => void } {
  const stdin = process.stdin;
  const raw = stdin.isTTY === true;
  // In raw mode the terminal does not turn \n into \r\n: messages of our own need both.
  const say = (message: string) => process.stderr.write(`${raw ? "\r\n" : ""}xenoscope: ${message}${raw ? "\r\n" : "\n"}`);
  let finish: (status: number) => void = () => {};
  const done = new Promise<number>((r) => (finish = r));
  let lines: ReturnType<typeof createInterface> | undefined;
  const onData = (chunk: Buffer) => {
    const at = chunk.indexOf(DETACH);
    if (at >= 0) {
      if (at > 0) host.input(chunk.subarray(0, at));
      end(0);
      return;
    }
    host.input(chunk);
  };
  const end = (status: number) => {
    if (raw) {
      stdin.off("data", onData);
      stdin.setRawMode(false);
    }
    lines?.close();
    stdin.pause();
    host.onClose = () => {};
    host.close();
    finish(status);
  };
  host.onEvent = (event) => {
    if (event.type === "output") process.stdout.write(fromBase64(event.data));
    else if (event.type === "notice") say(event.message);
    else {
      say(event.message);
      end(0);
    }
  };
  host.onClose = () => {
    say("the host closed the connection");
    end(1);
  };
  if (raw) {
    stdin.setRawMode(true);
    stdin.on("data", onData);
  } else {
    lines = createInterface({ input: stdin, crlfDelay: Infinity });
    lines.on("line", (line) => host.input(new TextEncoder().encode(`${line}\n`)));
  }
  return {
    done,
    cancel: () => {
      if (raw) {
        stdin.off("data", onData);
        stdin.setRawMode(false);
      }
      lines?.close();
      stdin.pause();
    },
  };
}

// ------------------------------------------------------------ list

const LIST: VerbSpec = {
  name: "list",
  usage: "[options] [NAME...]",
  about: `Lists the host's domains, or the ones named: name, domid, memory (MiB),
vCPUs, state as xl shows it (r running, b blocked, p paused, s shut down,
c crashed), CPU time in seconds and guest instructions executed.`,
  flags: { "--long": { aliases: ["-l"], help: "print the domains as JSON instead" } },
  positional: [0, Infinity],
  exitStatus: BASIC_STATUS.replace("refuses", "refuses (a NAME it does not know)"),
};

export function listCommand(argv: string[]): Promise<number> {
  return verb(LIST, argv, async (args, fail) => {
    const host = await HostConnection.open(args.socket);
    const reply = await host.request({ op: "list", domains: args.positional });
    host.close();
    if (!reply.ok) return refused(reply, fail);
    const domains = reply.domains ?? [];
    if (args.flags.has("--long")) {
      console.log(JSON.stringify(domains, null, 2));
      return 0;
    }
    console.log(formatList(domains));
    return 0;
  });
}

/** xl list's table, with the instruction count added. */
export function formatList(domains: DomainInfo[]): string {
  const width = Math.max(4, ...domains.map((d) => d.name.length));
  const row = (name: string, id: string, mem: string, vcpus: string, state: string, time: string, instructions: string) =>
    `${name.padEnd(width)} ${id.padStart(5)} ${mem.padStart(5)} ${vcpus.padStart(5)}  ${state.padEnd(6)} ${time.padStart(9)} ${instructions.padStart(14)}`;
  const lines = [row("Name", "ID", "Mem", "VCPUs", "State", "Time(s)", "Instructions")];
  for (const d of domains) {
    lines.push(row(d.name, String(d.domid), String(d.memoryMiB), String(d.vcpus), stateFlags(d), (d.cpuTimeNs / 1e9).toFixed(1), String(d.instructions)));
  }
  return lines.join("\n");
}

/** xl's six state letters: running, blocked, paused, shutdown, crashed, dying. */
function stateFlags(d: DomainInfo): string {
  const flags = ["-", "-", "-", "-", "-", "-"];
  if (d.state === "running") flags[0] = "r";
  else if (d.state === "blocked") flags[1] = "b";
  else if (d.state === "paused") flags[2] = "p";
  else if (d.shutdownReason === "crash") flags[4] = "c";
  else flags[3] = "s";
  return flags.join("");
}

// ------------------------------------------------------------ destroy, pause, unpause, shutdown

function domainVerb(name: "destroy" | "pause" | "unpause" | "shutdown", about: string): (argv: string[]) => Promise<number> {
  const spec: VerbSpec = { name, usage: "[options] NAME", about, positional: [1, 1], exitStatus: BASIC_STATUS.replace("refuses", "refuses (no such domain)") };
  return (argv) =>
    verb(spec, argv, async (args, fail) => {
      const host = await HostConnection.open(args.socket);
      const reply = await host.request({ op: name, domain: args.positional[0]! });
      host.close();
      return refused(reply, fail);
    });
}

export const destroyCommand = domainVerb(
  "destroy",
  "Destroys domain NAME (a name or a domid) at once, running or not: its memory\ngoes back to the host and its consoles end.",
);
export const pauseCommand = domainVerb("pause", "Pauses domain NAME: its vCPUs are not scheduled until it is unpaused.");
export const unpauseCommand = domainVerb("unpause", "Lets a paused domain NAME run again.");
export const shutdownCommand = domainVerb(
  "shutdown",
  `Shuts domain NAME down as a poweroff, and its on_poweroff action applies.
For now the host ends the domain itself: there is no xenstore yet to ask
the guest through control/shutdown, so the guest cannot clean up first.`,
);

// ------------------------------------------------------------ sched-credit

const SCHED_CREDIT: VerbSpec = {
  name: "sched-credit",
  usage: "[options]",
  about: `Shows or sets the credit scheduler's parameters, as xl sched-credit does.
Without --domain: every domain's weight and cap. With --domain alone: that
domain's. With --weight or --cap as well: sets them first. The weight is a
domain's share of the CPU when domains compete (1-65535, default 256; weight
512 gets twice the CPU of 256); the cap is the most CPU it may use, in
percent of one CPU (0: no cap), even when the CPU would otherwise idle.
Configs set them with cpu_weight and cap.`,
  options: {
    "--domain": { aliases: ["-d"], value: "NAME", help: "the domain (a name or a domid)" },
    "--weight": { aliases: ["-w"], value: "N", help: "its new weight, 1-65535" },
    "--cap": { aliases: ["-c"], value: "N", help: "its new cap in percent of one CPU, 0 for none" },
  },
  positional: [0, 0],
  exitStatus: BASIC_STATUS.replace("refuses", "refuses (no such domain, a weight or cap out of range)"),
};

export function schedCreditCommand(argv: string[]): Promise<number> {
  return verb(SCHED_CREDIT, argv, async (args, fail) => {
    const domain = args.values.get("--domain");
    const number = (option: string): number | undefined | null => {
      const text = args.values.get(option);
      if (text === undefined) return undefined;
      return /^\d+$/.test(text) ? Number(text) : null;
    };
    const weight = number("--weight");
    const cap = number("--cap");
    if (weight === null || cap === null) return fail("--weight and --cap take a whole number (try `xenoscope sched-credit --help')", 64);
    if ((weight !== undefined || cap !== undefined) && domain === undefined) return fail("--weight and --cap need --domain NAME", 64);
    const host = await HostConnection.open(args.socket);
    const reply = await host.request({ op: "sched-credit", domain, weight, cap });
    host.close();
    if (!reply.ok) return refused(reply, fail);
    console.log(formatSchedCredit(reply.domains ?? []));
    return 0;
  });
}

/** xl sched-credit's table. */
export function formatSchedCredit(domains: DomainInfo[]): string {
  const width = Math.max(4, ...domains.map((d) => d.name.length));
  const row = (name: string, id: string, weight: string, cap: string) => `${name.padEnd(width)} ${id.padStart(5)} ${weight.padStart(6)} ${cap.padStart(4)}`;
  return [row("Name", "ID", "Weight", "Cap"), ...domains.map((d) => row(d.name, String(d.domid), String(d.weight), String(d.cap)))].join("\n");
}
