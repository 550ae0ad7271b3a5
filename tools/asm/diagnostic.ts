// tools/asm/diagnostic.ts — what the assembler says about a source, and where.
//
// NASM prints `file:line: error: message` (and `warning:`); editors and CI
// logs know that shape, so every stage of tools/asm reports in it. Files are
// read through a resolver so the same assembler runs in Node (the file
// system) and in the browser (whatever the page holds).

export type Severity = "error" | "warning";

export interface Diagnostic {
  file: string;
  line: number;
  severity: Severity;
  message: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}: ${d.severity}: ${d.message}`;
}

/** Finds `%include` and `incbin` files. `fromFile` is the file that names them. */
export interface FileResolver {
  readText(name: string, fromFile: string): { file: string; text: string } | null;
  readBinary(name: string, fromFile: string): { file: string; bytes: Uint8Array } | null;
}
