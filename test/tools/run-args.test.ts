// test/tools/run-args.test.ts — `xenoscope run`'s options and its console merge, in process.
// (test/tools/run.test.ts runs the built command and checks its exit statuses.)

import { describe, expect, it } from "vitest";
import { ConsoleMerge, parseRunArgs } from "../../tools/run.js";

describe("xenoscope run arguments", () => {
  it("defaults to the bare machine, 128 MiB, the real-time clock", () => {
    expect(parseRunArgs(["kernel.bin"])).toEqual({
      image: "kernel.bin", machine: "bare", memMiB: 128, clock: "realtime", stats: false, portLog: [],
    });
  });

  it("takes every option, in either --opt value or --opt=value form", () => {
    expect(
      parseRunArgs(["--machine", "bare", "--mem=64", "--clock", "deterministic", "--format", "rom", "--timeout", "2.5",
        "--trace", "t.log", "--stats", "--port-log", "0xE9", "--port-log=244", "k.bin"]),
    ).toEqual({
      image: "k.bin", machine: "bare", memMiB: 64, clock: "deterministic", format: "rom", timeoutSeconds: 2.5,
      trace: "t.log", stats: true, portLog: [0xe9, 0xf4],
    });
  });

  it("answers --machine xen with 'not available yet'", () => {
    expect(parseRunArgs(["--machine", "xen", "k.bin"])).toEqual({ error: expect.stringMatching(/not available yet/) });
  });

  const bad: [string[], RegExp][] = [
    [[], /no image/],
    [["a.bin", "b.bin"], /more than one image/],
    [["--mem", "0", "k.bin"], /--mem needs a whole number/],
    [["--mem", "1.5", "k.bin"], /--mem needs a whole number/],
    [["--mem", "4096", "k.bin"], /--mem needs a whole number/],
    [["--clock", "fast", "k.bin"], /--clock must be/],
    [["--format", "pe", "k.bin"], /--format must be/],
    [["--timeout", "-1", "k.bin"], /--timeout needs a positive/],
    [["--timeout"], /--timeout needs a positive/],
    [["--port-log", "0x10000", "k.bin"], /--port-log needs a port/],
    [["--port-log", "com1", "k.bin"], /--port-log needs a port/],
    [["--machine", "pc", "k.bin"], /unknown machine/],
    [["--frobnicate", "k.bin"], /unknown option/],
  ];
  for (const [argv, reason] of bad) {
    it(`rejects ${argv.join(" ") || "no arguments"} with a one-line reason`, () => {
      expect(parseRunArgs(argv)).toEqual({ error: expect.stringMatching(reason) });
    });
  }
});

describe("console merge of COM1 and port 0xE9", () => {
  function merge() {
    const shown: number[] = [];
    const m = new ConsoleMerge((b) => shown.push(b));
    const text = () => String.fromCharCode(...shown);
    const serial = (s: string) => [...s].forEach((c) => m.serial(c.charCodeAt(0)));
    const debug = (s: string) => [...s].forEach((c) => m.debugConsole(c.charCodeAt(0)));
    return { serial, debug, text };
  }

  it("shows a byte written to both ports once, when the guest writes each byte to both in turn", () => {
    const { serial, debug, text } = merge();
    for (const c of "hello\n") {
      serial(c);
      debug(c);
    }
    expect(text()).toBe("hello\n");
  });

  it("shows a line written to one port and then to the other once", () => {
    const { serial, debug, text } = merge();
    serial("one line\n");
    debug("one line\n");
    expect(text()).toBe("one line\n");
  });

  it("shows everything when the ports carry different text", () => {
    const { serial, debug, text } = merge();
    serial("to COM1\n");
    debug("to 0xE9\n");
    serial("COM1 again\n");
    expect(text()).toBe("to COM1\nto 0xE9\nCOM1 again\n");
  });

  it("shows text that one port repeats and then extends once, followed by the extension", () => {
    const { serial, debug, text } = merge();
    serial("same");
    debug("same, and more");
    expect(text()).toBe("same, and more");
  });

  it("shows a guest that only uses one port in full", () => {
    const { debug, text } = merge();
    const long = "x".repeat(1000);
    debug(long);
    expect(text()).toBe(long);
  });
});
