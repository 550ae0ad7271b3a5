// test/tools/run-args.test.ts — `xenoscope run`'s options and its console merge, in process.
// (test/tools/run.test.ts runs the built command and checks its exit statuses.)

import { describe, expect, it } from "vitest";
import { ConsoleMerge, formatInputChunk, INPUT_RECORD_HEADER, parseInputRecord, parseRunArgs } from "../../tools/run.js";

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

  it("takes --record and --replay, each with a file, with the deterministic clock", () => {
    expect(parseRunArgs(["--clock", "deterministic", "--record", "in.rec", "--replay=old.rec", "k.bin"])).toEqual({
      image: "k.bin", machine: "bare", memMiB: 128, clock: "deterministic", stats: false, portLog: [],
      record: "in.rec", replay: "old.rec",
    });
  });

  it("takes --machine xen, and refuses the bare machine's own options with it", () => {
    expect(parseRunArgs(["--machine", "xen", "k.elf"])).toMatchObject({ machine: "xen", image: "k.elf" });
    for (const extra of [["--format", "elf"], ["--port-log", "0x80"], ["--trace", "t", "--trace-insns"]]) {
      expect(parseRunArgs(["--machine", "xen", ...extra, "k.elf"])).toEqual({ error: expect.stringMatching(/for --machine bare only/) });
    }
    expect(parseRunArgs(["--machine", "qemu", "k.elf"])).toEqual({ error: expect.stringMatching(/unknown machine/) });
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
    [["--record", "in.rec", "k.bin"], /--record needs --clock deterministic/],
    [["--clock", "realtime", "--replay", "in.rec", "k.bin"], /--replay needs --clock deterministic/],
    [["--clock", "deterministic", "k.bin", "--record"], /--record needs a file name/],
    [["--clock", "deterministic", "--replay=", "k.bin"], /--replay needs a file name/],
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

describe("input records (--record, --replay)", () => {
  it("reads a header and then one chunk a line, TIME and the bytes in hex", () => {
    expect(parseInputRecord(`${INPUT_RECORD_HEADER}\n0 6869\n1500 0D0a\n1500 ff\n`)).toEqual([
      { at: 0, bytes: Uint8Array.of(0x68, 0x69) },
      { at: 1500, bytes: Uint8Array.of(0x0d, 0x0a) },
      { at: 1500, bytes: Uint8Array.of(0xff) },
    ]);
  });

  it("skips blank lines and # comments, and takes CR LF line ends and a missing final newline", () => {
    expect(parseInputRecord(`${INPUT_RECORD_HEADER}\r\n# typed at the prompt\r\n\r\n7 61\r\n# done`)).toEqual([{ at: 7, bytes: Uint8Array.of(0x61) }]);
    expect(parseInputRecord(`${INPUT_RECORD_HEADER}\n`)).toEqual([]);
  });

  it("writes a chunk as the line it reads back", () => {
    const line = formatInputChunk(123456, Uint8Array.of(0x65, 0x78, 0x0d));
    expect(line).toBe("123456 65780d");
    expect(parseInputRecord(`${INPUT_RECORD_HEADER}\n${line}\n`)).toEqual([{ at: 123456, bytes: Uint8Array.of(0x65, 0x78, 0x0d) }]);
  });

  const bad: [string, number, RegExp][] = [
    ["", 1, /the file is empty/],
    ["xenoscope-input 2\n", 1, /version `2' .* not one this xenoscope reads/],
    ["0 61\n", 1, /not an input record/],
    [`${INPUT_RECORD_HEADER}\n5 61\n\n4 62\n`, 4, /the time 4 is before the previous chunk's 5/],
    [`${INPUT_RECORD_HEADER}\n5 6\n`, 2, /is not bytes in hex/],
    [`${INPUT_RECORD_HEADER}\n5 \n`, 2, /`' is not bytes in hex/],
    [`${INPUT_RECORD_HEADER}\n5.5 61\n`, 2, /not a whole number of ns/],
    [`${INPUT_RECORD_HEADER}\n 5 61\n`, 2, /expected `TIME HEXBYTES'/],
    [`${INPUT_RECORD_HEADER}\n5\t61\n`, 2, /expected `TIME HEXBYTES'/],
    [`${INPUT_RECORD_HEADER}\n${"9".repeat(17)} 61\n`, 2, /too large/],
  ];
  for (const [text, line, reason] of bad) {
    it(`refuses ${JSON.stringify(text)} at line ${line}`, () => {
      expect(parseInputRecord(text)).toEqual({ line, error: expect.stringMatching(reason) });
    });
  }
});
