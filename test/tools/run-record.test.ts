// test/tools/run-record.test.ts — `xenoscope run --record FILE` and `--replay FILE`: the
// input COM1 receives, written with the virtual time it arrived at, and given back at
// those times so a deterministic run repeats bit for bit, console and trace alike.
// (Parsing is in run-args.test.ts; keys typed at a terminal, replayed exactly, are
// in test/hypervisor/platform/input-replay.test.ts.)

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const CLI = "build/js/tools/cli.js";
const DEMO = "build/guests/demo.bin";
const dir = mkdtempSync(join(tmpdir(), "xenoscope-record-"));
const file = (name: string) => join(dir, name);

function xenoscope(args: string[], input = "") {
  const r = spawnSync(process.execPath, [CLI, "run", ...args], { encoding: "latin1", input, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A deterministic run of the demo with `--trace --trace-insns`: its console, status and trace file. */
function demo(name: string, options: string[], input = "") {
  const trace = file(`${name}.trace`);
  const r = xenoscope(["--clock", "deterministic", "--trace", trace, "--trace-insns", ...options, DEMO], input);
  return { ...r, trace: readFileSync(trace) };
}

describe("xenoscope run --record and --replay", () => {
  it("describes both options and the record's format in --help", () => {
    const help = xenoscope(["--help"]).stdout;
    for (const text of ["--record FILE", "--replay FILE", "xenoscope-input 1", "TIME HEXBYTES"]) expect(help).toContain(text);
  });

  it("records piped stdin as one chunk at time 0, and replays it to the same console and trace, ignoring stdin", () => {
    const rec = file("piped.rec");
    const piped = demo("piped", ["--record", rec], "same\nexit\n");
    expect(piped.status).toBe(1);
    expect(piped.stdout).toContain("> same\r\nyou typed: same\r\n> exit\r\nGoodbye.\r\n");
    expect(readFileSync(rec, "latin1")).toBe(`xenoscope-input 1\n0 ${Buffer.from("same\nexit\n").toString("hex")}\n`);

    const replay = demo("piped-replay", ["--replay", rec], "other\nexit\n");
    expect(replay.status).toBe(1);
    expect(replay.stdout).toBe(piped.stdout);
    expect(replay.trace.equals(piped.trace)).toBe(true);
  }, 60_000);

  // Times in ns: the greeting is printed during the first 4,000 or so, then the demo sleeps
  // in HLT until a key comes, and the clock skips ahead to it.
  const record = (times: number[]) =>
    ["xenoscope-input 1", "# \"he\" and \"llo\\r\" while the greeting prints; \"exit\\r\" much later", "",
      `${times[0]} 6865`, `${times[1]} 6c6c6f0d`, `${times[2]} 65786974`, `${times[2]} 0d`, ""].join("\n");

  it("gives COM1 each chunk at its time, records it back unchanged, and a replay of that repeats the run exactly", () => {
    const script = file("script.rec");
    writeFileSync(script, record([1500, 2600, 40_000]));
    const rec = file("scripted.rec");
    const first = demo("scripted", ["--replay", script, "--record", rec]);
    expect(first.status).toBe(1);
    expect(first.stdout).toContain("> hello\r\nyou typed: hello\r\n> exit\r\nGoodbye.\r\n");
    expect(readFileSync(rec, "latin1")).toBe("xenoscope-input 1\n1500 6865\n2600 6c6c6f0d\n40000 65786974\n40000 0d\n");
    const lines = first.trace.toString("latin1").split("\n");
    expect(lines).toContain("1500 input com1 2 bytes at 1500 ns");
    expect(lines.some((l) => / input com1 1 byte at 40000 ns$/.test(l))).toBe(true);

    const again = demo("scripted-again", ["--replay", rec]);
    expect(again.status).toBe(1);
    expect(again.stdout).toBe(first.stdout);
    expect(again.trace.equals(first.trace)).toBe(true);

    // The same bytes a hundred instructions later: the same text on the console, another run.
    const later = file("later.rec");
    writeFileSync(later, record([1600, 2600, 40_000]));
    const other = demo("later", ["--replay", later]);
    expect(other.status).toBe(1);
    expect(other.stdout).toBe(first.stdout);
    expect(other.trace.equals(first.trace)).toBe(false);
  }, 60_000);

  it("refuses a file that is not an input record with its line and the reason, status 64", () => {
    const cases: [string, RegExp][] = [
      ["", /bad\.rec:1: the file is empty/],
      ["xenoscope-input 2\n", /bad\.rec:1: version `2' of the input record format is not one this xenoscope reads/],
      ["0 6869\n", /bad\.rec:1: not an input record: the first line must be `xenoscope-input 1'/],
      ["xenoscope-input 1\n10 68\n# fine\n5 69\n", /bad\.rec:4: the time 5 is before the previous chunk's 10/],
      ["xenoscope-input 1\n10 6\n", /bad\.rec:2: `6' is not bytes in hex, two digits each/],
      ["xenoscope-input 1\n10 zz\n", /bad\.rec:2: `zz' is not bytes in hex/],
      ["xenoscope-input 1\n-1 68\n", /bad\.rec:2: the time `-1' is not a whole number of ns/],
      ["xenoscope-input 1\n10\n", /bad\.rec:2: expected `TIME HEXBYTES'/],
      ["xenoscope-input 1\n10 68 69\n", /bad\.rec:2: expected `TIME HEXBYTES'/],
      ["xenoscope-input 1\n99999999999999999999 68\n", /bad\.rec:2: the time 99999999999999999999 is too large/],
    ];
    const bad = file("bad.rec");
    for (const [text, reason] of cases) {
      writeFileSync(bad, text);
      const r = xenoscope(["--clock", "deterministic", "--replay", bad, DEMO]);
      expect(r.status).toBe(64);
      expect(r.stderr).toMatch(reason);
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(r.stdout).toBe(""); // refused before the guest ran
    }
  });

  it("exits 64 without --clock deterministic, for a record it cannot read, and for one it cannot write", () => {
    const cases: [string[], RegExp][] = [
      [["--record", file("r.rec"), DEMO], /--record needs --clock deterministic/],
      [["--clock", "realtime", "--replay", file("r.rec"), DEMO], /--replay needs --clock deterministic/],
      [["--clock", "deterministic", "--replay", file("missing.rec"), DEMO], /cannot read the input record .*missing\.rec/],
      [["--clock", "deterministic", "--record", join(dir, "no", "such", "dir", "r.rec"), DEMO], /cannot write the input record/],
    ];
    for (const [args, reason] of cases) {
      const r = xenoscope(args);
      expect(r.status).toBe(64);
      expect(r.stderr).toMatch(reason);
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    }
  });
});
