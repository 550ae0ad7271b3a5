// hypervisor/toolstack/session.ts — one client of the host: its requests carried out on the Toolstack.
//
// The host's side of hypervisor/toolstack/protocol.ts, whatever carries the
// lines: `xenoscope host` feeds it lines from a Unix socket
// (tools/host.ts), a WebSocket or a Web Worker can feed it the same. It
// greets, answers each request in order (a create that reads a kernel
// finishes before the next request is looked at), and while a console is
// attached forwards the domain's output.
//
// Console output is gathered and sent once per turn of the event loop, not
// once per console_io call, and a client that stops reading does not make
// the host buffer without end: while `congested()` says so, output is
// dropped and counted, and the client is told how much it missed.

import { LoadError } from "../platform/boot.js";
import { ConfigError } from "./config.js";
import {
  PROTOCOL_VERSION, fromBase64, parseRequest, toBase64, type ConsoleEvent, type HostMessage, type Reply, type Request,
} from "./protocol.js";
import { ToolstackError, type ConsoleAttachment, type ConsoleListener, type Toolstack } from "./toolstack.js";

export interface SessionOptions {
  /** The process the host runs in, for the greeting. */
  pid: number;
  /** True while the transport holds more unsent bytes than it should: console output is dropped meanwhile. */
  congested?: () => boolean;
  /** The client asked the host to stop (after the reply has been sent). */
  onStop?: () => void;
  /** A request failed because of a bug in the host: its stack goes to the host's log. */
  log?: (line: string) => void;
}

export class Session {
  private attachment: ConsoleAttachment | null = null;
  private listener: ConsoleListener | null = null;
  private queue: Promise<void> = Promise.resolve();
  private output: Uint8Array[] = [];
  private flushScheduled = false;
  private dropped = 0;
  private closed = false;
  /** While a create with attach awaits its reply, console output and events wait here. */
  private holdOutput = false;
  private held: ConsoleEvent[] = [];

  constructor(
    private readonly toolstack: Toolstack,
    private readonly send: (message: HostMessage) => void,
    private readonly options: SessionOptions,
  ) {
    send({ type: "hello", program: "xenoscope-host", protocol: PROTOCOL_VERSION, pid: options.pid });
  }

  /** A line from the client. Requests are carried out one after another; the promise settles when this one is done. */
  receive(line: string): Promise<void> {
    if (line.trim() === "") return this.queue;
    this.queue = this.queue.then(() => this.handle(line));
    return this.queue;
  }

  /** The client went away: its console is detached. */
  close(): void {
    this.closed = true;
    this.detach();
  }

  private async handle(line: string): Promise<void> {
    if (this.closed) return;
    const parsed = parseRequest(line);
    if (!parsed.ok) {
      if (parsed.id !== undefined) this.reply({ type: "reply", id: parsed.id, ok: false, error: `bad request: ${parsed.error}`, badInput: true });
      else this.send({ type: "notice", message: `bad request ignored: ${parsed.error}` });
      return;
    }
    const request = parsed.value;
    if (request.op === "input") {
      this.attachment?.send(fromBase64(request.data));
      return;
    }
    if (request.op === "detach") {
      this.detach();
      return;
    }
    try {
      await this.carryOut(request);
    } catch (e) {
      const badInput = e instanceof ConfigError || e instanceof LoadError;
      if (!badInput && !(e instanceof ToolstackError)) this.options.log?.(`internal error in ${request.op}: ${(e as Error).stack ?? String(e)}`);
      const error = badInput || e instanceof ToolstackError ? (e as Error).message : `internal error: ${(e as Error).message}`;
      this.reply({ type: "reply", id: request.id, ok: false, error, badInput });
    }
  }

  private async carryOut(request: Exclude<Request, { op: "input" | "detach" }>): Promise<void> {
    const ts = this.toolstack;
    const ok = { type: "reply", id: request.id, ok: true } as const;
    switch (request.op) {
      case "create": {
        if (!request.attach) {
          const { domain } = await ts.create(request.config, request.path);
          this.reply({ ...ok, domain });
          return;
        }
        // The console is attached inside create, before the domain runs, so a short-lived domain's output is not missed;
        // what it writes meanwhile waits in `output` until the reply has gone.
        this.detach();
        const listener = this.listenerFor();
        this.holdOutput = true;
        try {
          const { domain, console } = await ts.create(request.config, request.path, { console: listener });
          if (this.listener === listener) this.attachment = console ?? null;
          this.reply({ ...ok, domain });
        } finally {
          this.holdOutput = false;
          this.flush();
        }
        return;
      }
      case "list":
        this.reply({ ...ok, domains: request.domains?.length ? request.domains.map((d) => ts.domainInfo(d)) : ts.list() });
        return;
      case "console": {
        const domain = ts.domainInfo(request.domain);
        this.reply({ ...ok, domain });
        this.attach(request.domain);
        return;
      }
      case "destroy":
        ts.destroy(request.domain);
        break;
      case "pause":
        ts.pause(request.domain);
        break;
      case "unpause":
        ts.unpause(request.domain);
        break;
      case "shutdown":
        ts.shutdown(request.domain);
        break;
      case "sched-credit": {
        const { domain, weight, cap } = request;
        if (domain !== undefined && (weight !== undefined || cap !== undefined)) ts.setSchedCredit(domain, { weight, cap });
        this.reply({ ...ok, domains: domain !== undefined ? [ts.domainInfo(domain)] : ts.list() });
        return;
      }
      case "stop":
        this.reply(ok);
        this.options.onStop?.();
        return;
    }
    this.reply(ok);
  }

  private reply(reply: Reply): void {
    if (!this.closed) this.send(reply);
  }

  private attach(domain: string): void {
    this.detach();
    const listener = this.listenerFor();
    const attachment = this.toolstack.console(domain, listener);
    // The domain may have ended during console(): then it is already detached.
    if (this.listener === listener) this.attachment = attachment;
  }

  /** A listener that forwards a console to this client, made the session's current one. */
  private listenerFor(): ConsoleListener {
    const listener: ConsoleListener = {
      output: (bytes) => this.queueOutput(bytes),
      notice: (message) => this.event({ type: "notice", message }),
      ended: (message) => {
        this.event({ type: "end", message });
        if (this.listener === listener) {
          this.listener = null;
          this.attachment = null;
        }
      },
    };
    this.listener = listener;
    return listener;
  }

  private detach(): void {
    this.attachment?.detach();
    this.attachment = null;
    this.listener = null;
  }

  /** Notices and the end come after the output written before them (and after the reply, while it is awaited). */
  private event(event: ConsoleEvent): void {
    if (this.holdOutput) {
      this.held.push(event);
      return;
    }
    this.flush();
    if (!this.closed) this.send(event);
  }

  private queueOutput(bytes: Uint8Array): void {
    if (this.options.congested?.()) {
      this.dropped += bytes.length;
      return;
    }
    this.output.push(bytes);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.closed || this.holdOutput) return;
    if (this.dropped > 0) {
      this.send({ type: "notice", message: `${this.dropped} bytes of console output were dropped: the console was not reading fast enough` });
      this.dropped = 0;
    }
    if (this.output.length > 0) {
      let size = 0;
      for (const b of this.output) size += b.length;
      const all = new Uint8Array(size);
      let at = 0;
      for (const b of this.output) {
        all.set(b, at);
        at += b.length;
      }
      this.output = [];
      this.send({ type: "output", data: toBase64(all) });
    }
    const held = this.held;
    this.held = [];
    for (const event of held) this.event(event);
  }
}
