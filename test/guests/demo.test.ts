// test/guests/demo.test.ts — guests/demo, the kernel `npm start` boots: it greets, echoes each
// line typed into COM1 (through its IRQ 4 handler), edits with Backspace, and leaves on "exit".

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { boot } from "../support/machine.js";

const DEMO = "build/guests/demo.bin";
const GREETING =
  "Hello from xenoscope's demo kernel.\r\n" +
  "No BIOS and no OS here: each key you press reaches me through the\r\n" +
  "COM1 UART's interrupt (IRQ 4), and I echo every line you type.\r\n" +
  'Type "exit" or press Ctrl-D to stop me; Ctrl-] detaches.\r\n';

describe("guests/demo on the bare machine", () => {
  it("greets, echoes a typed line, and exits with status 1 on \"exit\"", async () => {
    const { serial, end, machine } = await boot(readFileSync(DEMO), { input: "hello, machine\rexit\r" });
    expect(serial).toBe(`${GREETING}> hello, machine\r\nyou typed: hello, machine\r\n> exit\r\nGoodbye.\r\n`);
    expect(end.status).toBe(1);
    expect(machine.interrupts).toBeGreaterThan(0); // the input came through IRQ 4, not polling
  });

  it("takes LF and CR LF line ends, erases with Backspace and DEL, and ignores empty lines", async () => {
    const { serial } = await boot(readFileSync(DEMO), { input: "one\r\ntwx\x7fo\nthree\x08\x08ee\n\nexit\n" });
    expect(serial).toBe(
      `${GREETING}> one\r\nyou typed: one\r\n> twx\b \bo\r\nyou typed: two\r\n> three\b \b\b \bee\r\nyou typed: three\r\n` +
        "> \r\n> exit\r\nGoodbye.\r\n",
    );
  });

  it("abandons the line on Ctrl-C and stops on Ctrl-D", async () => {
    const { serial, end } = await boot(readFileSync(DEMO), { input: "oops\x03\x04" });
    expect(serial).toBe(`${GREETING}> oops^C\r\n> \r\nGoodbye.\r\n`);
    expect(end.status).toBe(1);
  });

  it("ends with status 4 when the input runs out: halted, waiting for an interrupt that cannot come", async () => {
    const { end } = await boot(readFileSync(DEMO), { input: "bye\r" });
    expect(end).toMatchObject({ status: 4, reason: "halted" });
  });

  it("repeats bit for bit: two runs with the same input give the same trace", async () => {
    const a = await boot(readFileSync(DEMO), { input: "same\rexit\r" });
    const b = await boot(readFileSync(DEMO), { input: "same\rexit\r" });
    expect(a.trace.length).toBeGreaterThan(100);
    expect(b.trace).toEqual(a.trace);
  });
});
