// test/tools/asm/corpus.test.ts — every instruction form, assembled by us and by NASM, read back by iced.
//
// corpus.ts writes some 7,500 instruction lines per width. Byte identity
// with NASM is the test: where NASM is on the PATH the whole corpus goes
// through it as one file and every line's bytes must be ours. iced-x86
// decodes every encoding we produce, and it must be the instruction the
// line wrote; where NASM is absent that is the check that still runs.
//
// NASM's own bytes go through the same iced check first. A line NASM
// rejects, warns about, or encodes as something other than its description
// is a bug in the corpus, not in tools/asm, and is reported as such.

import { describe, expect, it } from "vitest";
import { assemble } from "../../../tools/asm/index.js";
import { formatDiagnostic } from "../../../tools/asm/diagnostic.js";
import { hasNasm, hex, nasm } from "../../support/nasm.js";
import { type Bits, type CorpusLine, corpus, mismatches, slottedSource, splitSlots } from "./corpus.js";

if (!hasNasm) console.warn("corpus.test: nasm is not on the PATH; comparing with NASM is skipped, iced-x86 still decodes every encoding");

/** How many failing lines a report shows; the count of all of them comes first. */
const REPORT_LINES = 20;

/** Failures as a list a test expects to be empty: a summary by instruction family, then the first few lines. */
function report(failures: { line: CorpusLine; why: string }[], total: number): string[] {
  if (failures.length === 0) return [];
  const byGroup = new Map<string, number>();
  for (const f of failures) byGroup.set(f.line.group, (byGroup.get(f.line.group) ?? 0) + 1);
  const groups = [...byGroup].sort((a, b) => b[1] - a[1]).map(([g, n]) => `${g} ${n}`).join(", ");
  return [
    `${failures.length} of ${total} lines (${groups})`,
    ...failures.slice(0, REPORT_LINES).map((f) => `bits ${f.line.bits}: ${f.line.source} — ${f.why}`),
  ];
}

interface Ours {
  /** Each line's bytes; empty where our assembler reported an error. */
  bytes: Uint8Array[];
  errors: { line: CorpusLine; why: string }[];
}

/** Every line through tools/asm on its own, so one bad line cannot hide the others. */
function assembleOurs(lines: CorpusLine[], width: Bits): Ours {
  const bytes: Uint8Array[] = [];
  const errors: Ours["errors"] = [];
  for (const line of lines) {
    const r = assemble(`bits ${width}\n${line.source}\n`, { file: `corpus-${width}.asm` });
    const diagnostics = r.diagnostics.filter((d) => d.severity === "error" || d.severity === "warning");
    if (!r.ok || diagnostics.length) errors.push({ line, why: diagnostics.map(formatDiagnostic).join("; ") || "not ok" });
    bytes.push(r.ok ? r.bytes : new Uint8Array(0));
  }
  return { bytes, errors };
}

const byWidth = new Map<Bits, { lines: CorpusLine[]; ours?: Ours; nasm?: Uint8Array[] }>();

function state(width: Bits) {
  let s = byWidth.get(width);
  if (!s) byWidth.set(width, (s = { lines: corpus(width) }));
  return s;
}

function ours(width: Bits): Ours {
  const s = state(width);
  return (s.ours ??= assembleOurs(s.lines, width));
}

function reference(width: Bits): Uint8Array[] {
  const s = state(width);
  if (!s.nasm) {
    const r = nasm(slottedSource(s.lines, width));
    expect(r.stderr, "NASM rejects or warns about corpus lines (a corpus bug)").toBe("");
    expect(r.ok).toBe(true);
    s.nasm = splitSlots(r.bytes, s.lines.length);
  }
  return s.nasm;
}

for (const width of [16, 32] as const) {
  describe(`bits ${width}`, () => {
    it.skipIf(!hasNasm)("NASM assembles every corpus line to the instruction its description says", () => {
      const { lines } = state(width);
      const bytes = reference(width);
      const failures = lines.flatMap((line, i) => mismatches(line, bytes[i]).map((why) => ({ line, why: `nasm ${hex(bytes[i])}: ${why}` })));
      expect(report(failures, lines.length)).toEqual([]);
    }, 60_000);

    it("our assembler accepts every corpus line without a diagnostic", () => {
      const { lines } = state(width);
      expect(report(ours(width).errors, lines.length)).toEqual([]);
    }, 60_000);

    it.skipIf(!hasNasm)("our assembler writes NASM's bytes for every line", () => {
      const { lines } = state(width);
      const mine = ours(width).bytes;
      const theirs = reference(width);
      let compared = 0;
      const failures: { line: CorpusLine; why: string }[] = [];
      lines.forEach((line, i) => {
        if (mine[i].length === 0) return;
        compared++;
        if (hex(mine[i]) !== hex(theirs[i])) failures.push({ line, why: `ours ${hex(mine[i])} / nasm ${hex(theirs[i])}` });
      });
      console.log(`corpus bits ${width}: compared ${compared} encodings with NASM, ${compared - failures.length} identical`);
      expect(report(failures, compared)).toEqual([]);
    }, 60_000);

    it("iced-x86 decodes every encoding we produce to the instruction written", () => {
      const { lines } = state(width);
      const mine = ours(width).bytes;
      let decoded = 0;
      const failures: { line: CorpusLine; why: string }[] = [];
      lines.forEach((line, i) => {
        if (mine[i].length === 0) return;
        decoded++;
        for (const why of mismatches(line, mine[i])) failures.push({ line, why: `ours ${hex(mine[i])}: ${why}` });
      });
      console.log(`corpus bits ${width}: iced-x86 decoded ${decoded} encodings`);
      expect(report(failures, decoded)).toEqual([]);
    }, 60_000);
  });
}

it("the corpus holds at least 5,000 distinct encodings", () => {
  const distinct = new Set<string>();
  for (const width of [16, 32] as const) for (const bytes of ours(width).bytes) if (bytes.length) distinct.add(hex(bytes));
  console.log(`corpus: ${state(16).lines.length} + ${state(32).lines.length} lines, ${distinct.size} distinct encodings`);
  expect(distinct.size).toBeGreaterThanOrEqual(5000);
}, 60_000);
