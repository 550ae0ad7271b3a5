// tools/host.ts — `xenoscope host`: the process that owns the domains, serving xl's verbs on a local socket.
//
// DESIGN.md, "hypervisor/": as with Xen's xl and its daemons, one process
// runs the hypervisor and owns the domains; `create`, `list`, `console`,
// `destroy`, ... (tools/xl.ts) are its clients. This file is the process:
// a Toolstack (hypervisor/toolstack/toolstack.ts) and its run loop, and a
// Unix domain socket whose connections each get a Session speaking
// hypervisor/toolstack/protocol.ts.
//
// The socket lives in a folder only this user can enter: by default
// $XDG_RUNTIME_DIR/xenoscope/host.sock, or, without XDG_RUNTIME_DIR,
// xenoscope-UID/host.sock in the system's temporary folder, made with mode
// 0700 and refused if someone else owns it or may write into it (anyone
// who can connect can run code in this host's domains). `--socket` names
// another place, for tests and for running several hosts. A socket file
// that nobody answers on is a host that died without cleaning up: it is
// replaced. A host that answers is left alone, and this one exits.
//
// The host runs until SIGINT, SIGTERM or a client's `stop` request
// (`xenoscope host --stop`); then it destroys its domains, closes the
// socket and removes its file.

import { lstatSync, mkdirSync, unlinkSync, chmodSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { ClockMode } from "../hypervisor/clock.js";
import { DEFAULT_MACHINE_MIB, Toolstack } from "../hypervisor/toolstack/toolstack.js";
import { LineSplitter, encodeMessage } from "../hypervisor/toolstack/protocol.js";
import { Session } from "../hypervisor/toolstack/session.js";

export const HOST_HELP = `usage: xenoscope host [options]

Runs the hypervisor and owns its domains, in the foreground, until
interrupted (Ctrl-C, SIGTERM) or asked to stop (--stop). The xl verbs
(xenoscope create, list, console, destroy, pause, unpause, shutdown) talk
to it over a local socket; \`xenoscope create' starts one in the
background when none answers. What the host does (domains created, shut
down, destroyed) is logged on stderr.

  --socket PATH   the socket to serve (default ${defaultSocketPath()})
  --clock MODE    realtime (default): guest time follows the host;
                  deterministic: one instruction is one ns of virtual time
  --mem MiB       machine memory shared by all domains (default ${DEFAULT_MACHINE_MIB})
  --stop          ask the host on the socket to destroy its domains and exit
  --help          this text

Exit status: 0 when stopped; 1 when another host already answers on the
socket, the socket cannot be served, or (--stop) no host answers; 64 for
bad arguments.`;

/** Machine memory a host may ask for: enough for a small domain, within the 1 GiB of wasm memory the core may use. */
const MIN_HOST_MIB = 32;
const MAX_HOST_MIB = 1000;
/** Unsent bytes on a client's socket beyond which its console output is dropped (the client is not reading). */
const CONGESTED_BYTES = 4 * 1024 * 1024;

/** Where hosts listen unless told otherwise: a private per-user folder. */
export function defaultSocketPath(): string {
  const runtime = process.env.XDG_RUNTIME_DIR;
  const folder = runtime ? join(runtime, "xenoscope") : join(tmpdir(), `xenoscope-${process.getuid?.() ?? "user"}`);
  return join(folder, "host.sock");
}

/** The host's log when `create` starts it in the background: beside its socket. */
export function logPathFor(socket: string): string {
  return `${socket.replace(/\.sock$/, "")}.log`;
}

/**
 * Makes the default socket's folder (mode 0700) if it is missing, and
 * refuses one that is not private to this user: a symlink, another user's,
 * or one others may write into. Throws with a one-line reason.
 */
export function ensurePrivateFolder(socket: string): void {
  if (socket !== defaultSocketPath()) return;
  const folder = dirname(socket);
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  const st = lstatSync(folder);
  const uid = process.getuid?.();
  if (!st.isDirectory()) throw new Error(`${folder} is not a folder`);
  if (uid !== undefined && st.uid !== uid) throw new Error(`${folder} belongs to another user; use --socket PATH`);
  if ((st.mode & 0o077) !== 0) throw new Error(`${folder} is open to other users (mode ${(st.mode & 0o777).toString(8)}); chmod 700 it or use --socket PATH`);
}

/** Resolves true when something accepts a connection on `socket`. */
export function answers(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection(socket);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
}

interface HostArgs {
  socket: string;
  clock: ClockMode;
  memMiB: number;
  stop: boolean;
}

function parseHostArgs(argv: string[]): HostArgs | { help: true } | { error: string } {
  const args: HostArgs = { socket: defaultSocketPath(), clock: "realtime", memMiB: DEFAULT_MACHINE_MIB, stop: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.startsWith("--") ? a.indexOf("=") : -1;
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const value = (): string | undefined => (eq > 0 ? a.slice(eq + 1) : argv[++i]);
    switch (flag) {
      case "--help":
      case "-h":
        return { help: true };
      case "--socket": {
        const v = value();
        if (!v) return { error: "--socket needs a path" };
        args.socket = v;
        break;
      }
      case "--clock": {
        const v = value();
        if (v !== "realtime" && v !== "deterministic") return { error: `--clock must be realtime or deterministic (got \`${v ?? ""}')` };
        args.clock = v;
        break;
      }
      case "--mem": {
        const v = value();
        const n = Number(v);
        if (!v || !Number.isInteger(n) || n < MIN_HOST_MIB || n > MAX_HOST_MIB) {
          return { error: `--mem needs a whole number of MiB from ${MIN_HOST_MIB} to ${MAX_HOST_MIB} (got \`${v ?? ""}')` };
        }
        args.memMiB = n;
        break;
      }
      case "--stop":
        args.stop = true;
        break;
      default:
        return { error: a.startsWith("-") ? `unknown option \`${a}'` : `unexpected argument \`${a}'` };
    }
  }
  return args;
}

/** `xenoscope host`. */
export async function hostCommand(argv: string[]): Promise<number> {
  const args = parseHostArgs(argv);
  if ("help" in args) {
    console.log(HOST_HELP);
    return 0;
  }
  if ("error" in args) {
    console.error(`xenoscope host: ${args.error}`);
    return 64;
  }
  if (args.stop) return stopHost(args.socket);
  return serve(args);
}

/** `--stop`: the host on the socket destroys its domains and exits. */
async function stopHost(socket: string): Promise<number> {
  // The client side lives with the other verbs; imported here so `host` alone does not load it.
  const { HostConnection, NoHostError } = await import("./xl.js");
  let host;
  try {
    host = await HostConnection.open(socket);
  } catch (e) {
    console.error(`xenoscope host: ${e instanceof NoHostError ? e.message : (e as Error).message}`);
    return 1;
  }
  const reply = await host.request({ op: "stop" });
  host.close();
  if (!reply.ok) {
    console.error(`xenoscope host: ${reply.error}`);
    return 1;
  }
  console.error(`xenoscope host: stopped the host (pid ${host.pid}) on ${socket}`);
  return 0;
}

function log(line: string): void {
  process.stderr.write(`xenoscope host: ${line}\n`);
}

async function serve(args: HostArgs): Promise<number> {
  try {
    ensurePrivateFolder(args.socket);
  } catch (e) {
    console.error(`xenoscope host: ${(e as Error).message}`);
    return 1;
  }
  if (await answers(args.socket)) {
    console.error(`xenoscope host: a host already answers on ${args.socket}`);
    return 1;
  }
  let toolstack: Toolstack;
  try {
    toolstack = await Toolstack.create({ clock: args.clock, memMiB: args.memMiB, log });
  } catch (e) {
    console.error(`xenoscope host: --mem ${args.memMiB}: ${(e as Error).message}`);
    return 1;
  }

  const clients = new Set<Socket>();
  let finish: (status: number) => void = () => {};
  const finished = new Promise<number>((resolve) => (finish = resolve));
  const server = createServer((socket) => {
    clients.add(socket);
    const session = new Session(toolstack, (message) => socket.write(encodeMessage(message)), {
      pid: process.pid,
      congested: () => socket.writableLength > CONGESTED_BYTES,
      onStop: () => {
        log("stopping (asked by a client)");
        finish(0);
      },
      log,
    });
    const lines = new LineSplitter();
    socket.on("data", (chunk: Buffer) => {
      let received: string[];
      try {
        received = lines.push(chunk);
      } catch (e) {
        log(`dropping a client: ${(e as Error).message}`);
        socket.destroy();
        return;
      }
      for (const line of received) void session.receive(line);
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      clients.delete(socket);
      session.close();
    });
  });

  try {
    await listen(server, args.socket);
  } catch (e) {
    console.error(`xenoscope host: cannot serve ${args.socket}: ${(e as Error).message}`);
    return 1;
  }
  // Whoever can connect can type into the domains' consoles: the socket is the user's alone.
  chmodSync(args.socket, 0o600);
  log(`pid ${process.pid}, ${args.clock} clock, ${args.memMiB} MiB of machine memory, listening on ${args.socket}`);

  const onSignal = (signal: string) => {
    log(`stopping (${signal})`);
    finish(0);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const loop = toolstack.run().then(
    () => {},
    (e: unknown) => {
      log(`internal error in the run loop: ${(e as Error).stack ?? String(e)}`);
      finish(70);
    },
  );

  const status = await finished;
  toolstack.stop();
  await loop;
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  server.close();
  // Let the replies already written (the stop request's) reach their clients before the process ends.
  await Promise.race([
    Promise.all([...clients].map((c) => new Promise<void>((resolve) => c.end(() => resolve())))),
    new Promise((resolve) => setTimeout(resolve, 1000)),
  ]);
  try {
    toolstack.destroyAll();
  } catch (e) {
    log(`destroying the domains failed: ${(e as Error).message}`);
  }
  removeSocket(args.socket);
  return status;
}

/** Listens on `socket`, replacing a file left by a host that died (nobody answers on it). */
async function listen(server: Server, socket: string): Promise<void> {
  const attempt = () =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(socket, () => {
        server.off("error", reject);
        resolve();
      });
    });
  try {
    await attempt();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EADDRINUSE") throw e;
    if (await answers(socket)) throw new Error("another host answers on it");
    unlinkSync(socket);
    await attempt();
  }
}

function removeSocket(socket: string): void {
  try {
    unlinkSync(socket);
  } catch {
    // Already gone (someone removed it): nothing to clean up.
  }
}
