// tools/asm/cli.ts — `xenoscope asm`: NASM's command line for flat binaries.
//
// The options are NASM's own (`-f bin`, `-o`, `-l`, `-I`, `-D`), so a
// Makefile written for `nasm -f bin` works with `xenoscope asm` in its place.
// Without `-o` the output is the input's name without its extension, as in
// NASM. Nothing is written when there are errors.

import { readFileSync, writeFileSync } from "node:fs";
import { assemble } from "./assembler.js";
import { formatDiagnostic } from "./diagnostic.js";
import { nodeResolver } from "./node.js";

const HELP = `usage: xenoscope asm [-f bin] [-o OUT] [-l LISTING] [-I DIR] [-DNAME[=VALUE]] FILE

Assembles NASM-syntax source into a flat binary, byte for byte what
\`nasm -f bin\` writes.

  -f bin        output format (bin is the only one)
  -o OUT        output file (default: FILE without its extension)
  -l LISTING    also write a listing: line, address, bytes, source
  -I DIR        search DIR for %include and incbin files (repeatable)
  -DNAME[=V]    define a macro before the first line, like %define
  --help        this text

Exit status: 0 assembled, 1 the source has errors, 64 bad arguments or
an unreadable FILE.`;

export interface AsmArgs {
  file: string;
  output?: string;
  listing?: string;
  includePaths: string[];
  defines: Record<string, string>;
}

/** Parses NASM-style arguments; returns a one-line reason when they are bad. */
export function parseAsmArgs(argv: string[]): AsmArgs | { help: true } | { error: string } {
  const args: AsmArgs = { file: "", includePaths: [], defines: {} };
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (flag: string): string | null => {
      if (a.length > flag.length) return a.slice(flag.length);
      i++;
      return i < argv.length ? argv[i] : null;
    };
    if (a === "--help" || a === "-h") return { help: true };
    if (a.startsWith("-f")) {
      const v = value("-f");
      if (v !== "bin") return { error: `output format \`${v ?? ""}' is not supported (only bin)` };
    } else if (a.startsWith("-o")) {
      const v = value("-o");
      if (!v) return { error: "-o needs a file name" };
      args.output = v;
    } else if (a.startsWith("-l")) {
      const v = value("-l");
      if (!v) return { error: "-l needs a file name" };
      args.listing = v;
    } else if (a.startsWith("-I") || a.startsWith("-i")) {
      const v = value(a.slice(0, 2));
      if (!v) return { error: "-I needs a directory" };
      args.includePaths.push(v);
    } else if (a.startsWith("-D") || a.startsWith("-d")) {
      const v = value(a.slice(0, 2));
      if (!v) return { error: "-D needs NAME or NAME=VALUE" };
      const eq = v.indexOf("=");
      const name = eq < 0 ? v : v.slice(0, eq);
      if (!/^[A-Za-z_.?$][\w.?$#@~]*$/.test(name)) return { error: `-D: \`${name}' is not a macro name` };
      args.defines[name] = eq < 0 ? "" : v.slice(eq + 1);
    } else if (a.startsWith("-") && a !== "-") {
      return { error: `unknown option \`${a}'` };
    } else {
      files.push(a);
    }
  }
  if (files.length !== 1) return { error: files.length ? "more than one input file" : "no input file" };
  args.file = files[0];
  return args;
}

export function asmCommand(argv: string[]): number {
  const parsed = parseAsmArgs(argv);
  if ("help" in parsed) {
    console.log(HELP);
    return 0;
  }
  if ("error" in parsed) {
    console.error(`xenoscope asm: ${parsed.error}`);
    return 64;
  }
  let source: string;
  try {
    source = readFileSync(parsed.file, "utf8");
  } catch (err) {
    console.error(`xenoscope asm: cannot read \`${parsed.file}': ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    return 64;
  }
  const result = assemble(source, {
    file: parsed.file,
    defines: parsed.defines,
    resolver: nodeResolver(parsed.includePaths),
  });
  for (const d of result.diagnostics) console.error(formatDiagnostic(d));
  if (!result.ok) return 1;
  const output = parsed.output ?? (parsed.file.replace(/\.[^./]*$/, "") || "nasm.out");
  if (output === parsed.file) {
    console.error(`xenoscope asm: output would overwrite the input \`${parsed.file}': use -o`);
    return 64;
  }
  try {
    writeFileSync(output, result.bytes);
    if (parsed.listing) writeFileSync(parsed.listing, result.listing);
  } catch (err) {
    console.error(`xenoscope asm: cannot write output: ${(err as Error).message}`);
    return 1;
  }
  return 0;
}
