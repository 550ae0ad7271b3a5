// test/tools/asm/sources.test.ts — every .asm file in the repository's
// guests/ and test/ assembles without errors, and where NASM is installed,
// to exactly NASM's bytes. Guest images are what the CPU will run; if our
// assembler and NASM ever disagree on one, every later figure is suspect.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { assemble } from "../../../tools/asm/index.js";
import { nodeResolver } from "../../../tools/asm/node.js";
import { formatDiagnostic } from "../../../tools/asm/diagnostic.js";
import { firstDifference, hasNasm, nasm } from "../../support/nasm.js";

function asmFiles(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...asmFiles(path));
    else if (name.endsWith(".asm")) found.push(path);
  }
  return found;
}

const INCLUDE = "guests/include";
const files = [...asmFiles("guests"), ...asmFiles("test")];

describe("every .asm under guests/ and test/", () => {
  it("there are guest sources to check", () => {
    expect(files.length).toBeGreaterThan(0);
  });

  let compared = 0;
  for (const file of files) {
    it(file, () => {
      const r = assemble(readFileSync(file, "utf8"), { file, resolver: nodeResolver([INCLUDE]) });
      expect(r.diagnostics.filter((d) => d.severity === "error").map(formatDiagnostic)).toEqual([]);
      if (!hasNasm) return;
      const reference = nasm({ file }, {}, [INCLUDE]);
      expect(reference.stderr).toBe("");
      expect(firstDifference(r.bytes, reference.bytes)).toBeNull();
      compared++;
    });
  }

  it("says how many were compared with NASM", () => {
    console.log(hasNasm ? `sources: ${compared} of ${files.length} .asm files byte-identical with NASM` : "sources: nasm not on the PATH; assembled without comparing");
  });
});
