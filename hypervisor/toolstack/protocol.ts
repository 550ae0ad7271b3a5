// hypervisor/toolstack/protocol.ts — what `xenoscope host` and its clients say to each other.
//
// DESIGN.md, "hypervisor/": the host owns the domains and the xl verbs are
// its clients, over a local socket (and later a WebSocket for the browser).
// The protocol is line-delimited JSON: one message per line, UTF-8. On
// connecting, the host greets with its protocol version; a client that
// speaks another version stops there with a message saying so, so the two
// never misread each other. Then the client sends requests, each with an id
// the host echoes in its reply; the replies come in request order. After a
// successful `console` request (or a `create` with `attach`) the host also
// sends console events for that domain until it ends or the client detaches,
// and the client may send `input`. Bytes travel in base64, since console
// output is not text.
//
// Everything that arrives is checked here (`parseRequest`, `parseHostMessage`)
// before anything acts on it: a malformed line is an error reply, not a crash.

import type { DomainInfo } from "./toolstack.js";

/** Changes whenever a message changes shape. */
export const PROTOCOL_VERSION = 1;

/** The longest line either side accepts (a config file travels in one). */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;

// ------------------------------------------------------------ host → client

/** The host's first line. */
export interface Greeting {
  type: "hello";
  program: "xenoscope-host";
  protocol: number;
  pid: number;
}

export type Reply =
  | { type: "reply"; id: number; ok: true; domain?: DomainInfo; domains?: DomainInfo[] }
  /** `badInput`: the request itself was wrong (a bad config or image: the client exits 64); otherwise it failed (exit 1). */
  | { type: "reply"; id: number; ok: false; error: string; badInput: boolean };

export type ConsoleEvent =
  /** Bytes the guest wrote, base64. */
  | { type: "output"; data: string }
  /** Something for the user that is not the guest's output (a restart, dropped output). */
  | { type: "notice"; message: string }
  /** The console will carry nothing more: the domain ended, or was destroyed. */
  | { type: "end"; message: string };

export type HostMessage = Greeting | Reply | ConsoleEvent;

// ------------------------------------------------------------ client → host

/** The verbs that act on one domain, named by name or domid. */
export const DOMAIN_OPS = ["destroy", "pause", "unpause", "shutdown", "console"] as const;
export type DomainOp = (typeof DOMAIN_OPS)[number];

export type Request =
  /** `path` names the config in messages; the kernel is found relative to its folder, so it is absolute. `attach`: console events follow at once. */
  | { op: "create"; id: number; config: string; path: string; attach?: boolean }
  /** Every domain, or the ones named. */
  | { op: "list"; id: number; domains?: string[] }
  | { op: DomainOp; id: number; domain: string }
  /** xl sched-credit: sets the weight and/or cap of `domain` when given, then replies with the domains (or the one named). */
  | { op: "sched-credit"; id: number; domain?: string; weight?: number; cap?: number }
  /** The host destroys its domains and exits. */
  | { op: "stop"; id: number }
  /** Typed bytes, base64, for the attached console; no reply. */
  | { op: "input"; data: string }
  /** Leave the console; no reply. */
  | { op: "detach" };

// ------------------------------------------------------------ lines

/** One message as a line. */
export function encodeMessage(message: HostMessage | Request): string {
  return `${JSON.stringify(message)}\n`;
}

/**
 * Splits a byte stream into lines: feed it chunks as they arrive, it gives
 * back each complete line (without the newline). A line longer than
 * MAX_LINE_BYTES is an error: the other side is not speaking this protocol.
 */
export class LineSplitter {
  private readonly decoder = new TextDecoder();
  private partial = "";

  push(chunk: Uint8Array): string[] {
    const text = this.partial + this.decoder.decode(chunk, { stream: true });
    const lines = text.split("\n");
    this.partial = lines.pop()!;
    if (this.partial.length > MAX_LINE_BYTES) throw new Error(`a line longer than ${MAX_LINE_BYTES} bytes: not the xenoscope host protocol`);
    return lines;
  }
}

/** A parsed line, or what is wrong with it (and the id of a request to reply to, when it has one). */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string; id?: number };

/** A line as a JSON object, or null when it is not one. */
function object(line: string): Record<string, unknown> | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

const isId = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isString = (v: unknown): v is string => typeof v === "string";

/** A client's line as a request, or what is wrong with it (and the id, when there is one to reply to). */
export function parseRequest(line: string): Parsed<Request> {
  const parsed = checkRequest(line);
  return "error" in parsed ? { ok: false, ...parsed } : { ok: true, value: parsed };
}

function checkRequest(line: string): Request | { error: string; id?: number } {
  const m = object(line);
  if (!m) return { error: "not a JSON object" };
  const id = isId(m.id) ? m.id : undefined;
  const bad = (why: string) => ({ error: why, id });
  switch (m.op) {
    case "create":
      if (id === undefined) return bad("create needs an id");
      if (!isString(m.config) || !isString(m.path)) return bad("create needs the config text and its path");
      if (m.attach !== undefined && typeof m.attach !== "boolean") return bad("create: attach must be true or false");
      return { op: "create", id, config: m.config, path: m.path, attach: m.attach === true };
    case "list":
      if (id === undefined) return bad("list needs an id");
      if (m.domains !== undefined && !(Array.isArray(m.domains) && m.domains.every(isString))) return bad("list: domains must be a list of names");
      return { op: "list", id, domains: m.domains as string[] | undefined };
    case "sched-credit": {
      if (id === undefined) return bad("sched-credit needs an id");
      if (m.domain !== undefined && !isString(m.domain)) return bad("sched-credit: domain must be a name");
      for (const key of ["weight", "cap"] as const) {
        if (m[key] !== undefined && !Number.isSafeInteger(m[key])) return bad(`sched-credit: ${key} must be an integer`);
      }
      if ((m.weight !== undefined || m.cap !== undefined) && m.domain === undefined) return bad("sched-credit: setting a weight or cap needs a domain");
      return { op: "sched-credit", id, domain: m.domain as string | undefined, weight: m.weight as number | undefined, cap: m.cap as number | undefined };
    }
    case "stop":
      if (id === undefined) return bad("stop needs an id");
      return { op: "stop", id };
    case "input":
      if (!isString(m.data) || !isBase64(m.data)) return bad("input needs its bytes in base64");
      return { op: "input", data: m.data };
    case "detach":
      return { op: "detach" };
    default:
      if (DOMAIN_OPS.includes(m.op as DomainOp)) {
        if (id === undefined) return bad(`${m.op as string} needs an id`);
        if (!isString(m.domain)) return bad(`${m.op as string} needs a domain`);
        return { op: m.op as DomainOp, id, domain: m.domain };
      }
      return bad(`unknown request ${JSON.stringify(m.op)}`);
  }
}

/** The host's line as a message, or what is wrong with it. */
export function parseHostMessage(line: string): Parsed<HostMessage> {
  const m = object(line);
  if (!m) return { ok: false, error: "not a JSON object" };
  const checked = checkHostMessage(m);
  return typeof checked === "string" ? { ok: false, error: checked } : { ok: true, value: checked };
}

/** The message, or what is wrong with it. */
function checkHostMessage(m: Record<string, unknown>): HostMessage | string {
  switch (m.type) {
    case "hello":
      if (m.program !== "xenoscope-host" || !isId(m.protocol) || !isId(m.pid)) return "a greeting that is not a xenoscope host's";
      return m as unknown as Greeting;
    case "reply":
      if (!isId(m.id) || typeof m.ok !== "boolean") return "a reply without an id or ok";
      if (!m.ok && !isString(m.error)) return "a failed reply without its error";
      return m as unknown as Reply;
    case "output":
      if (!isString(m.data) || !isBase64(m.data)) return "console output not in base64";
      return { type: "output", data: m.data };
    case "notice":
    case "end":
      if (!isString(m.message)) return `a ${m.type} without its message`;
      return { type: m.type, message: m.message };
    default:
      return `an unknown message ${JSON.stringify(m.type)}`;
  }
}

// ------------------------------------------------------------ bytes

function isBase64(s: string): boolean {
  return /^[A-Za-z0-9+/]*={0,2}$/.test(s) && s.length % 4 === 0;
}

/** Bytes as base64, with what Node and browsers both have. */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
