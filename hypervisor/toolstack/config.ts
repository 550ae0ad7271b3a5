// hypervisor/toolstack/config.ts — domain configurations in xl.cfg syntax.
//
// Xen's toolstack describes a domain in a small file of `KEY = VALUE`
// settings (xl.cfg(5)): a value is a string in double or single quotes, a
// number, or a list in brackets; `#` starts a comment; settings end at a
// newline or a `;`, and a list may span lines. We read the same files, so a
// config written for xl works here and the other way round, for the keys
// this hypervisor understands. Anything else is refused with the file, the
// line and the reason: a typo must not silently become a default.

export class ConfigError extends Error {
  constructor(readonly file: string, readonly line: number, reason: string) {
    super(`${file}:${line}: ${reason}`);
  }
}

export type ConfigValue = string | number | ConfigValue[];

export interface Setting {
  value: ConfigValue;
  line: number;
}

/** What happens when the guest shuts down for a reason (xl.cfg "on_poweroff" and its kin). */
export type ShutdownAction = "destroy" | "restart" | "preserve" | "rename-restart";

export interface DomainConfig {
  file: string;
  name: string;
  type: "pv" | "hvm" | "pvh";
  /** The kernel image, resolved against the config file's folder. */
  kernel: string;
  ramdisk?: string;
  /** MiB. */
  memory: number;
  vcpus: number;
  /** The credit scheduler's weight (xl's cpu_weight, 1-65535, default 256) and cap (percent of one CPU, 0: none). */
  cpuWeight: number;
  cap: number;
  /** The kernel command line (`extra`, or `cmdline`). */
  extra: string;
  onPoweroff: ShutdownAction;
  onReboot: ShutdownAction;
  onCrash: ShutdownAction;
  /** Every setting as written, for the keys later issues read (disk, vif, hap). */
  settings: Map<string, Setting>;
}

/** The keys understood, and what each must hold. */
const KEYS: Record<string, "string" | "number" | "list"> = {
  name: "string",
  type: "string",
  kernel: "string",
  ramdisk: "string",
  memory: "number",
  maxmem: "number",
  vcpus: "number",
  maxvcpus: "number",
  cpu_weight: "number",
  cap: "number",
  extra: "string",
  cmdline: "string",
  on_poweroff: "string",
  on_reboot: "string",
  on_crash: "string",
  disk: "list",
  vif: "list",
  hap: "number",
};

const ACTIONS: readonly string[] = ["destroy", "restart", "preserve", "rename-restart"];

/** Parses xl.cfg text into settings by key; throws ConfigError. */
export function parseXlConfig(text: string, file: string): Map<string, Setting> {
  const settings = new Map<string, Setting>();
  let at = 0;
  let line = 1;
  const fail = (reason: string): never => {
    throw new ConfigError(file, line, reason);
  };
  const skipBlank = (newlines: boolean): void => {
    while (at < text.length) {
      const c = text[at];
      if (c === "#") {
        while (at < text.length && text[at] !== "\n") at++;
      } else if (c === " " || c === "\t" || c === "\r") {
        at++;
      } else if (c === "\n" && newlines) {
        line++;
        at++;
      } else {
        return;
      }
    }
  };
  const value = (): ConfigValue => {
    const c = text[at];
    if (c === '"' || c === "'") {
      at++;
      let s = "";
      while (at < text.length && text[at] !== c) {
        if (text[at] === "\n") fail("a string may not span lines");
        if (c === '"' && text[at] === "\\" && at + 1 < text.length) {
          const e = text[at + 1];
          s += e === "n" ? "\n" : e === "t" ? "\t" : e;
          at += 2;
          continue;
        }
        s += text[at++];
      }
      if (at >= text.length) fail("a string is not closed");
      at++;
      return s;
    }
    if (c === "[") {
      at++;
      const list: ConfigValue[] = [];
      for (;;) {
        skipBlank(true);
        if (text[at] === "]") {
          at++;
          return list;
        }
        if (at >= text.length) fail("a list is not closed");
        list.push(value());
        skipBlank(true);
        if (at >= text.length) fail("a list is not closed");
        if (text[at] === ",") at++;
        else if (text[at] !== "]") fail(`expected "," or "]" in a list, found ${describe(text[at])}`);
      }
    }
    const m = /^(0x[0-9a-fA-F]+|[0-9]+)(?![\w.])/.exec(text.slice(at));
    if (!m) fail(`expected a value (a "string", a number or a [list]), found ${describe(text[at])}`);
    at += m![0].length;
    return Number(m![0]);
  };
  for (;;) {
    skipBlank(true);
    if (at >= text.length) return settings;
    if (text[at] === ";") {
      at++;
      continue;
    }
    const key = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(at));
    if (!key) fail(`expected a setting name, found ${describe(text[at])}`);
    at += key![0].length;
    const keyLine = line;
    skipBlank(false);
    if (text[at] !== "=") fail(`expected "=" after ${key![0]}`);
    at++;
    skipBlank(false);
    const v = value();
    skipBlank(false);
    if (at < text.length && text[at] !== "\n" && text[at] !== ";") fail(`unexpected ${describe(text[at])} after the value of ${key![0]}`);
    settings.set(key![0], { value: v, line: keyLine });
  }
}

function describe(c: string | undefined): string {
  if (c === undefined) return "the end of the file";
  if (c === "\n") return "the end of the line";
  return `"${c}"`;
}

/**
 * Reads a domain configuration: the settings, checked against the keys
 * understood, with xl's defaults. `resolve` turns a path in the file into
 * one the host can open (relative to the config file's folder).
 */
export function domainConfig(text: string, file: string, resolve: (path: string) => string): DomainConfig {
  const settings = parseXlConfig(text, file);
  for (const [key, s] of settings) {
    const want = KEYS[key];
    if (!want) throw new ConfigError(file, s.line, `unknown setting "${key}" (understood: ${Object.keys(KEYS).join(", ")})`);
    const got = Array.isArray(s.value) ? "list" : typeof s.value;
    if (got !== want) throw new ConfigError(file, s.line, `${key} must be a ${want}, not a ${got}`);
  }
  const str = (key: string): string | undefined => settings.get(key)?.value as string | undefined;
  const num = (key: string): number | undefined => settings.get(key)?.value as number | undefined;
  const line = (key: string): number => settings.get(key)?.line ?? 1;

  const name = str("name");
  if (name === undefined) throw new ConfigError(file, 1, "no name: a domain needs name = \"...\"");
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(name)) throw new ConfigError(file, line("name"), `name "${name}" must be 1-64 letters, digits, or . _ : -`);
  const type = str("type") ?? "pv";
  if (type !== "pv" && type !== "hvm" && type !== "pvh") throw new ConfigError(file, line("type"), `type "${type}" must be "pv", "hvm" or "pvh"`);
  const kernel = str("kernel");
  if (kernel === undefined) throw new ConfigError(file, 1, "no kernel: a domain needs kernel = \"...\"");
  const memory = num("memory") ?? 128;
  if (memory < 4 || memory > 1024) throw new ConfigError(file, line("memory"), `memory = ${memory} MiB is outside 4-1024`);
  const vcpus = num("vcpus") ?? 1;
  if (vcpus < 1 || vcpus > 32) throw new ConfigError(file, line("vcpus"), `vcpus = ${vcpus} is outside 1-32`);
  const cpuWeight = num("cpu_weight") ?? 256;
  if (!Number.isInteger(cpuWeight) || cpuWeight < 1 || cpuWeight > 65535) {
    throw new ConfigError(file, line("cpu_weight"), `cpu_weight = ${cpuWeight} is outside 1-65535`);
  }
  const cap = num("cap") ?? 0;
  if (!Number.isInteger(cap) || cap < 0 || cap > 100 * vcpus) {
    throw new ConfigError(file, line("cap"), `cap = ${cap} is outside 0-${100 * vcpus} (percent of one CPU, for ${vcpus} vCPU${vcpus > 1 ? "s" : ""})`);
  }
  const action = (key: string, fallback: ShutdownAction): ShutdownAction => {
    const v = str(key) ?? fallback;
    if (!ACTIONS.includes(v)) throw new ConfigError(file, line(key), `${key} = "${v}" must be one of ${ACTIONS.join(", ")}`);
    return v as ShutdownAction;
  };
  const ramdisk = str("ramdisk");
  return {
    file,
    name,
    type,
    kernel: resolve(kernel),
    ramdisk: ramdisk === undefined ? undefined : resolve(ramdisk),
    memory,
    vcpus,
    cpuWeight,
    cap,
    extra: str("extra") ?? str("cmdline") ?? "",
    onPoweroff: action("on_poweroff", "destroy"),
    onReboot: action("on_reboot", "restart"),
    onCrash: action("on_crash", "destroy"),
    settings,
  };
}
