// test/tools/asm/browser.test.ts — the assembler and the disassembler must
// run in a browser (the trap lab assembles what a student types), so their
// modules may import nothing from Node. esbuild bundles them for the
// browser platform, where any `node:` import is an error, and the bundle
// then assembles and disassembles an instruction with no Node globals used.

import { build } from "esbuild";
import { describe, expect, it } from "vitest";

describe("tools/asm in the browser", () => {
  it("bundles for the browser with no Node imports, and the bundle works", async () => {
    const result = await build({
      stdin: {
        contents: `
          export { assemble } from "./tools/asm/index.ts";
          export { disassemble } from "./tools/asm/disasm.ts";
        `,
        resolveDir: process.cwd(),
        loader: "ts",
      },
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      logLevel: "silent",
    });
    expect(result.errors).toEqual([]);
    const code = result.outputFiles[0].text;
    expect(code).not.toMatch(/from\s+["']node:/);
    const url = `data:text/javascript;base64,${Buffer.from(code).toString("base64")}`;
    const mod = await import(/* @vite-ignore */ url);
    const out = mod.assemble("bits 32\ncli\nmov eax, [ebx+esi*4+8]\n", { file: "lab.asm" });
    expect(Array.from(out.bytes)).toEqual([0xfa, 0x8b, 0x44, 0xb3, 0x08]);
    const text = mod.disassemble(out.bytes, { bits: 32 }).map((i: { text: string }) => i.text);
    expect(text).toEqual(["cli", "mov eax, [ebx+esi*4+8]"]);
  }, 30_000);
});
