// test/guests/hello.test.ts — guests/hello boots on the bare machine: greeting on COM1 and 0xE9, then isa-debug-exit.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { boot } from "../support/machine.js";

describe("guests/hello on the bare machine", () => {
  it("prints its greeting on COM1 and port 0xE9 and exits through isa-debug-exit with status 1", async () => {
    const { serial, debug, end } = await boot(readFileSync("build/guests/hello.bin"));
    expect(serial).toBe("Hello from xenoscope's hello guest.\n");
    expect(debug).toBe(serial);
    expect(end).toEqual({ status: 1, reason: "debug-exit", message: "" });
  });
});
