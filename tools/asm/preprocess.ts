// tools/asm/preprocess.ts — NASM's preprocessor: macros, conditionals,
// repetition and includes, one expanded line at a time.
//
// The model is NASM 2.16's (manual chapter 4, checked line by line against
// `nasm -E`). Source lines are read from a stack of inputs: files, macro
// expansions and %rep bodies. Each line, in order:
//   1. is stored raw if a %macro or %rep body is being collected;
//   2. has its macro parameters (%1, %{10}, %0, %00, %%local, %?) replaced if
//      it comes from a multi-line macro — at the time it is read, so that
//      %rotate inside a %rep inside the macro sees the rotated parameters;
//   3. is a directive (`%define`, `%if`, ...), obeyed and consumed, or, in a
//      false %if branch, dropped (only the %if nesting is followed);
//   4. has its single-line macros expanded: a macro's expansion is rescanned
//      together with the rest of the line, with that macro disabled until
//      the rescan has passed its expansion (so `%define a a+1` stops), then
//      `%+` and adjacent tokens are pasted and, if anything was pasted, the
//      line is scanned again;
//   5. is a multi-line macro call (optionally after a label) and is replaced
//      by the macro's body, or is handed to the assembler.
//
// Lines from a multi-line macro report the file:line of the outermost line
// that called the macro (where NASM reports errors in a macro, too); lines
// from a %rep report their own line in the body, unless the %rep itself came
// from a macro. Macro-local labels `%%x` become `..@N.x` and context-local
// ones `%$x` become `..@M.x`, N and M counting macro calls and %push from 0
// as NASM does, so even those names match `nasm -E`.
//
// The assembler runs the preprocessor afresh on every pass and pulls lines
// with next(), defining its symbols in between, so `%if` can test an `equ`
// constant defined above it (NASM's critical expressions).
//
// Everything that could run away is bounded: %rep counts, macro nesting,
// the size of one line's expansion and the total number of lines read.

import type { Diagnostic, FileResolver, Severity } from "./diagnostic.js";
import { evaluate, type SymbolValue } from "./expr.js";
import { isIdChar, isIdStart, matchOperator, scanNumber, scanString, stringBytes, tokenize } from "./lex.js";

export interface PreprocessOptions {
  /** Name for diagnostics. */
  file: string;
  /** -DNAME=VALUE ("" for -DNAME), defined before line 1 like %define. */
  defines?: Record<string, string>;
  /** For %include; without one %include is an error. */
  resolver?: FileResolver;
  /** Assembler symbols defined so far, for %if on equ constants. */
  lookupSymbol?: (name: string) => SymbolValue | undefined;
  /** Define NASM's standard macros (`bits`, `section`, `align`, `struc`, ...)
   * as `nasm -E` shows them expanded into primitive `[bits 32]`-style
   * directives. Off by default: the assembler implements those directives
   * itself. */
  standardMacros?: boolean;
}

export interface PreprocessedLine {
  text: string;
  file: string;
  line: number;
}

const MAX_INCLUDE_DEPTH = 64;
const MAX_MACRO_DEPTH = 10000;
const MAX_REP_COUNT = 1_000_000;
const MAX_LINE_TOKENS = 1_000_000;
const MAX_LINES = 5_000_000;
const MAX_RESCANS = 1000;

// ---------------------------------------------------------------- tokens

/**
 * The preprocessor's tokens. Besides the assembler's ones it knows
 * whitespace (significant for pasting) and its own `%` forms:
 * param `%1 %{10} %0 %00`, local `%%x`, ctx `%$x %$$x %{$x}`, paste `%+`,
 * macname `%? %??`, indirect `%[...]`, preproc `%name` (a directive at the
 * start of a line). "end" marks where a macro's expansion ends during a scan.
 */
type PKind =
  | "ws" | "id" | "num" | "str" | "op" | "other"
  | "param" | "local" | "ctx" | "paste" | "macname" | "indirect" | "preproc"
  | "sparam" | "end";

interface PTok {
  kind: PKind;
  text: string;
  /** "sparam": which parameter of a single-line macro. */
  index?: number;
  /** "end": the macro whose expansion ends here. */
  macro?: SMacro;
}

const WS: PTok = { kind: "ws", text: " " };

function ppTokenize(line: string): PTok[] {
  const out: PTok[] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    const c = line[i]!;
    if (c === " " || c === "\t" || c === "\r" || c === "\f" || c === "\v" || c === "\n") {
      while (i < n && /[ \t\r\f\v\n]/.test(line[i]!)) i++;
      out.push(WS);
      continue;
    }
    if (c === ";") break;
    if (c === "'" || c === '"' || c === "`") {
      const end = scanString(line, i);
      const j = end < 0 ? n : end;
      out.push({ kind: "str", text: line.slice(i, j) });
      i = j;
      continue;
    }
    if (c === "%") {
      const d = line[i + 1];
      if (d === "%") {
        if (i + 2 < n && isIdChar(line[i + 2]!)) {
          let j = i + 2;
          while (j < n && isIdChar(line[j]!)) j++;
          out.push({ kind: "local", text: line.slice(i, j) });
          i = j;
        } else {
          out.push({ kind: "op", text: "%%" });
          i += 2;
        }
        continue;
      }
      if (d === "$") {
        let j = i + 1;
        while (line[j] === "$") j++;
        while (j < n && isIdChar(line[j]!)) j++;
        out.push({ kind: "ctx", text: line.slice(i, j) });
        i = j;
        continue;
      }
      if (d === "{") {
        const close = line.indexOf("}", i + 2);
        if (close < 0) { out.push({ kind: "other", text: line.slice(i) }); break; }
        const inner = line.slice(i + 2, close);
        const kind: PKind = /^\d+$/.test(inner) ? "param" : inner.startsWith("$") ? "ctx" : "other";
        out.push({ kind, text: line.slice(i, close + 1) });
        i = close + 1;
        continue;
      }
      if (d === "[") {
        let depth = 0, j = i + 1;
        for (; j < n; j++) {
          const e = line[j]!;
          if (e === "'" || e === '"' || e === "`") {
            const end = scanString(line, j);
            if (end < 0) { j = n; break; }
            j = end - 1;
          } else if (e === "[") depth++;
          else if (e === "]" && --depth === 0) break;
        }
        out.push({ kind: "indirect", text: line.slice(i, Math.min(j + 1, n)) });
        i = j + 1;
        continue;
      }
      if (d === "+") { out.push({ kind: "paste", text: "%+" }); i += 2; continue; }
      if (d === "?") {
        const two = line[i + 2] === "?";
        out.push({ kind: "macname", text: two ? "%??" : "%?" });
        i += two ? 3 : 2;
        continue;
      }
      if (d !== undefined && d >= "0" && d <= "9") {
        let j = i + 1;
        while (j < n && /[0-9]/.test(line[j]!)) j++;
        out.push({ kind: "param", text: line.slice(i, j) });
        i = j;
        continue;
      }
      if (d !== undefined && isIdStart(d)) {
        let j = i + 1;
        while (j < n && isIdChar(line[j]!)) j++;
        out.push({ kind: "preproc", text: line.slice(i, j) });
        i = j;
        continue;
      }
      out.push({ kind: "op", text: "%" });
      i++;
      continue;
    }
    if (isIdStart(c) || (c === "$" && i + 1 < n && isIdStart(line[i + 1]!))) {
      let j = i + 1;
      while (j < n && isIdChar(line[j]!)) j++;
      out.push({ kind: "id", text: line.slice(i, j) });
      i = j;
      continue;
    }
    if ((c >= "0" && c <= "9") || (c === "$" && /[0-9]/.test(line[i + 1] ?? ""))) {
      const { end } = scanNumber(line, i);
      out.push({ kind: "num", text: line.slice(i, end) });
      i = end;
      continue;
    }
    const op = matchOperator(line, i);
    if (op !== undefined) {
      out.push({ kind: "op", text: op });
      i += op.length;
      continue;
    }
    out.push({ kind: "other", text: c });
    i++;
  }
  return out;
}

function toText(tokens: PTok[]): string {
  let s = "";
  for (const t of tokens) if (t.kind !== "end") s += t.kind === "ws" ? " " : t.text;
  return s;
}

function trim(tokens: PTok[]): PTok[] {
  let a = 0, b = tokens.length;
  while (a < b && tokens[a]!.kind === "ws") a++;
  while (b > a && tokens[b - 1]!.kind === "ws") b--;
  return tokens.slice(a, b);
}

function solid(tokens: PTok[]): PTok[] {
  return tokens.filter((t) => t.kind !== "ws" && t.kind !== "end");
}

/** Which neighbours paste together without `%+` (NASM's tokseq_match):
 * after macro parameters, an identifier takes identifiers, numbers and
 * operators and a number takes numbers; after single-line macros, names
 * (plain, context-local or `%`-prefixed) take names and numbers. */
interface PasteRule {
  heads: ReadonlySet<PKind>;
  tails(head: PTok, next: PTok): boolean;
}

const PARAM_PASTE: PasteRule = {
  heads: new Set<PKind>(["id", "num"]),
  tails: (head, next) => (head.kind === "num" ? next.kind === "num" : ["id", "num", "op", "other"].includes(next.kind)),
};

const SMACRO_PASTE: PasteRule = {
  heads: new Set<PKind>(["id", "ctx", "preproc"]),
  tails: (_head, next) => ["id", "ctx", "preproc", "num"].includes(next.kind),
};

/**
 * Pastes adjacent tokens by the rule (and `a %+ b` if `explicit`): the
 * joined text is read again, so `exc_stub_` and `3` make `exc_stub_3`.
 */
function pasteRuns(tokens: PTok[], rule: PasteRule, explicit: boolean): { tokens: PTok[]; pasted: boolean } {
  const out: PTok[] = [];
  let pasted = false;
  const n = tokens.length;
  for (let i = 0; i < n; i++) {
    const t = tokens[i]!;
    if (t.kind === "paste" && explicit) {
      let j = i + 1;
      while (j < n && (tokens[j]!.kind === "ws" || tokens[j]!.kind === "paste")) j++;
      while (out.length > 0 && out[out.length - 1]!.kind === "ws") out.pop();
      if (j >= n) break;
      pasted = true;
      const left = out.pop();
      if (left === undefined) { i = j - 1; continue; }
      out.push(...ppTokenize(left.text + tokens[j]!.text));
      i = j;
      continue;
    }
    if (rule.heads.has(t.kind)) {
      let j = i + 1;
      while (j < n && rule.tails(t, tokens[j]!)) j++;
      if (j > i + 1) {
        pasted = true;
        out.push(...ppTokenize(tokens.slice(i, j).map((x) => x.text).join("")));
        i = j - 1;
        continue;
      }
    }
    out.push(t);
  }
  return { tokens: out, pasted };
}

/** Splits at top-level commas; `{...}` groups (and its braces are dropped
 * when it is the whole piece); with `parens`, parentheses group too. */
function splitArgs(tokens: PTok[], parens: boolean): PTok[][] {
  return splitRaw(tokens, parens).map(unbrace);
}

function splitRaw(tokens: PTok[], parens: boolean): PTok[][] {
  const args: PTok[][] = [];
  let cur: PTok[] = [];
  let depth = 0;
  for (const t of tokens) {
    if (t.kind === "op") {
      if (t.text === "{" || (parens && t.text === "(")) depth++;
      else if ((t.text === "}" || (parens && t.text === ")")) && depth > 0) depth--;
      else if (t.text === "," && depth === 0) { args.push(cur); cur = []; continue; }
    }
    cur.push(t);
  }
  args.push(cur);
  return args;
}

function unbrace(arg: PTok[]): PTok[] {
  const t = trim(arg);
  if (t.length >= 2 && t[0]!.text === "{" && t[t.length - 1]!.text === "}") {
    let depth = 0;
    for (let i = 0; i < t.length; i++) {
      if (t[i]!.text === "{") depth++;
      else if (t[i]!.text === "}" && --depth === 0 && i < t.length - 1) return t;
    }
    return trim(t.slice(1, -1));
  }
  return t;
}

// ---------------------------------------------------------------- strings

const decoder = new TextDecoder();

function unquote(text: string): Uint8Array {
  const closed = text.length >= 2 && text[text.length - 1] === text[0];
  return stringBytes(closed ? text : text + text[0]);
}

/** NASM's quoting of a string it makes (%defstr, %strcat, %substr): single
 * quotes if possible, else double, else backquotes with escapes. */
function quote(bytes: Uint8Array): string {
  const printable = bytes.every((b) => b >= 0x20 && b < 0x7f);
  if (printable) {
    const s = decoder.decode(bytes);
    if (!s.includes("'")) return `'${s}'`;
    if (!s.includes('"')) return `"${s}"`;
  }
  let s = "`";
  for (const b of bytes) {
    if (b === 0x60 || b === 0x5c) s += "\\" + String.fromCharCode(b);
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += "\\x" + b.toString(16).padStart(2, "0");
  }
  return s + "`";
}

// ---------------------------------------------------------------- macros

interface SMacro {
  name: string;
  caseSensitive: boolean;
  /** -1: written without parentheses. */
  nparams: number;
  /** The last parameter takes the rest of the arguments (`x+`). */
  greedy: boolean;
  /** Per parameter: `=` evaluate, `&` make a string. */
  modes: ("" | "=" | "&")[];
  body: PTok[];
  /** Built-ins such as __?LINE?__ compute their expansion. */
  dynamic?: () => PTok[];
}

interface BodyLine {
  text: string;
  file: string;
  line: number;
}

interface MMacro {
  name: string;
  caseSensitive: boolean;
  nmin: number;
  /** Infinity for `*`. */
  nmax: number;
  greedy: boolean;
  defaults: PTok[][];
  body: BodyLine[];
  /** The body uses %00, so a label before the call is a parameter. */
  capturesLabel: boolean;
  /** Defined with %rmacro: may call itself. Others are not expanded inside
   * their own expansion. */
  recursive: boolean;
}

interface Location {
  file: string;
  line: number;
}

interface FileFrame {
  kind: "file";
  file: string;
  lines: string[];
  pos: number;
  condDepth: number;
}

interface MacroFrame {
  kind: "macro";
  macro: MMacro;
  lines: BodyLine[];
  pos: number;
  /** Arguments after defaults; nparams of them count for %0 and %rotate. */
  params: PTok[][];
  nparams: number;
  rotate: number;
  unique: number;
  calledAs: string;
  label: PTok[];
  callSite: Location;
  condDepth: number;
}

interface RepFrame {
  kind: "rep";
  lines: BodyLine[];
  pos: number;
  remaining: number;
  macro: MacroFrame | null;
  callSite: Location | null;
  condDepth: number;
}

type Frame = FileFrame | MacroFrame | RepFrame;

interface Context {
  name: string;
  unique: number;
  smacros: Map<string, SMacro[]>;
}

/** One level of %if: "active" emits lines, "looking" has not found its true
 * branch yet, "done" has had it, "never" is inside a false branch. */
interface Cond {
  state: "active" | "looking" | "done" | "never";
  sawElse: boolean;
  where: Location;
}

interface Defining {
  kind: "macro" | "rep";
  depth: number;
  lines: BodyLine[];
  where: Location;
  macro?: MMacro;
  count?: number;
  repMacro?: MacroFrame | null;
  repCallSite?: Location | null;
}

/** A line as read, before directives: where it is reported and which
 * multi-line macro call (if any) its parameters belong to. */
interface SourceLine {
  text: string;
  where: Location;
  macro: MacroFrame | null;
  fromMacro: boolean;
}

class Fatal extends Error {}

// NASM's standard macros, in the form `nasm -f bin -E` expands them.
const STANDARD_MACROS = `
%define __?SECT?__
%define __SECT__ __?SECT?__
%imacro section 1+.nolist
%define __?SECT?__ [section %1]
__?SECT?__
%endmacro
%imacro segment 1+.nolist
%define __?SECT?__ [segment %1]
__?SECT?__
%endmacro
%define __?SECTALIGN_ALIGN_UPDATES_SECTION?__ 1
%imacro sectalign 1+.nolist
%ifidni %1,off
%define __?SECTALIGN_ALIGN_UPDATES_SECTION?__ 0
%elifidni %1,on
%define __?SECTALIGN_ALIGN_UPDATES_SECTION?__ 1
%else
[sectalign %1]
%endif
%endmacro
%imacro absolute 1+.nolist
%define __?SECT?__ [absolute %1]
__?SECT?__
%endmacro
%imacro struc 1-2.nolist 0
%push
%define %$strucname %1
[absolute %2]
%$strucname:
%endmacro
%imacro endstruc 0.nolist
%{$strucname}_size equ ($-%$strucname)
%pop
__?SECT?__
%endmacro
%imacro istruc 1.nolist
%push
%define %$strucname %1
%$strucstart:
%endmacro
%imacro at 1-2+.nolist
%defstr %$member %1
%substr %$member1 %$member 1
%ifidn %$member1, '.'
times (%$strucname%1-%$strucname)-($-%$strucstart) db 0
%else
times (%1-%$strucname)-($-%$strucstart) db 0
%endif
%2
%endmacro
%imacro iend 0.nolist
times %{$strucname}_size-($-%$strucstart) db 0
%pop
%endmacro
%imacro align 1-2+.nolist nop
%if __?SECTALIGN_ALIGN_UPDATES_SECTION?__
sectalign %1
%endif
times (((%1) - (($-$$) % (%1))) % (%1)) %2
%endmacro
%imacro alignb 1-2+.nolist
%if __?SECTALIGN_ALIGN_UPDATES_SECTION?__
sectalign %1
%endif
%ifempty %2
[warning push]
[warning -zeroing]
resb (((%1) - (($-$$) % (%1))) % (%1))
[warning pop]
%else
times (((%1) - (($-$$) % (%1))) % (%1)) %2
%endif
%endmacro
%imacro bits 1+.nolist
[bits %1]
%endmacro
%imacro use16 0.nolist
[bits 16]
%endmacro
%imacro use32 0.nolist
[bits 32]
%endmacro
%imacro org 1+.nolist
[org %1]
%endmacro
%imacro cpu 1+.nolist
[cpu %1]
%endmacro
%imacro default 1+.nolist
[default %1]
%endmacro
%imacro global 1-*.nolist
%rep %0
[global %1]
%rotate 1
%endrep
%endmacro
%imacro extern 1-*.nolist
%rep %0
[extern %1]
%rotate 1
%endrep
%endmacro
%imacro common 1-*.nolist
%rep %0
[common %1]
%rotate 1
%endrep
%endmacro
`;

const MACRO_DIRECTIVES = new Set(["macro", "imacro", "rmacro", "irmacro"]);

const CONDITIONALS = new Set([
  "if", "ifn", "elif", "elifn", "else", "endif",
  ...["def", "macro", "idn", "idni", "num", "str", "id", "empty", "ctx", "token", "env"].flatMap((c) => [
    `if${c}`, `ifn${c}`, `elif${c}`, `elifn${c}`,
  ]),
]);

export class Preprocessor {
  readonly diagnostics: Diagnostic[] = [];

  private readonly stack: Frame[] = [];
  /** How many expansions of each multi-line macro are on the stack. */
  private readonly expanding = new Map<MMacro, number>();
  private macroDepth = 0;
  private readonly smacros = new Map<string, SMacro[]>();
  private readonly mmacros = new Map<string, MMacro[]>();
  private readonly conds: Cond[] = [];
  private readonly contexts: Context[] = [];
  private defining: Defining | null = null;
  private unique = 0;
  private linesRead = 0;
  private finished = false;
  private current: SourceLine = { text: "", where: { file: "", line: 0 }, macro: null, fromMacro: false };
  /** Lines made by the last call (a macro call's label line) waiting to be returned. */
  private readonly pending: PreprocessedLine[] = [];

  constructor(source: string, private readonly options: PreprocessOptions) {
    this.defineBuiltins();
    if (options.standardMacros) this.runPrelude(STANDARD_MACROS, "<standard macros>");
    for (const [name, value] of Object.entries(options.defines ?? {})) {
      this.runPrelude(`%define ${name} ${value}`, "<command line>");
    }
    this.stack.push({ kind: "file", file: options.file, lines: splitLines(source), pos: 0, condDepth: 0 });
  }

  /** The next expanded line, or null at the end of the input (or after %fatal). */
  next(): PreprocessedLine | null {
    try {
      return this.nextLine();
    } catch (e) {
      if (e instanceof Fatal) {
        this.finished = true;
        this.stack.length = 0;
        this.pending.length = 0;
        return null;
      }
      throw e;
    }
  }

  // ---------------------------------------------------------------- diagnostics

  private report(severity: Severity, message: string, where: Location = this.current.where): void {
    this.diagnostics.push({ file: where.file, line: where.line, severity, message });
  }

  private error(message: string, where?: Location): void {
    this.report("error", message, where);
  }

  private warn(message: string, where?: Location): void {
    this.report("warning", message, where);
  }

  private fatal(message: string, where?: Location): never {
    this.report("error", message, where);
    throw new Fatal(message);
  }

  // ---------------------------------------------------------------- input

  private runPrelude(text: string, file: string): void {
    const saved = this.stack.splice(0);
    this.stack.push({ kind: "file", file, lines: splitLines(text), pos: 0, condDepth: 0 });
    while (this.stack.length > 0) {
      const l = this.nextLine();
      if (l === null) break;
      if (l.text.trim() !== "") this.error(`unexpected output \`${l.text.trim()}'`, l);
    }
    this.finished = false;
    this.stack.push(...saved);
  }

  /** The next raw line from the innermost input, or null when all are done. */
  private readLine(): SourceLine | null {
    for (;;) {
      const frame = this.stack[this.stack.length - 1];
      if (frame === undefined) return null;
      if (++this.linesRead > MAX_LINES) this.fatal(`more than ${MAX_LINES} lines: runaway %rep or macro`);
      if (frame.kind === "file") {
        if (frame.pos >= frame.lines.length) {
          this.popFrame();
          continue;
        }
        const first = frame.pos;
        let text = frame.lines[frame.pos++]!;
        // A backslash at the very end of a line joins the next one, before
        // comments are removed (so a comment can swallow the next line).
        while (text.endsWith("\\") && frame.pos < frame.lines.length) {
          text = text.slice(0, -1) + frame.lines[frame.pos++]!;
        }
        return { text, where: { file: frame.file, line: first + 1 }, macro: null, fromMacro: false };
      }
      if (frame.pos >= frame.lines.length) {
        if (frame.kind === "rep" && --frame.remaining > 0) {
          frame.pos = 0;
          continue;
        }
        this.popFrame();
        continue;
      }
      const body = frame.lines[frame.pos++]!;
      if (frame.kind === "macro") {
        return { text: body.text, where: frame.callSite, macro: frame, fromMacro: true };
      }
      return {
        text: body.text,
        where: frame.callSite ?? { file: body.file, line: body.line },
        macro: frame.macro,
        fromMacro: frame.callSite !== null,
      };
    }
  }

  /** Pops the innermost input without any checks. */
  private dropFrame(): Frame {
    const frame = this.stack.pop()!;
    if (frame.kind === "macro") {
      this.macroDepth--;
      this.expanding.set(frame.macro, this.expanding.get(frame.macro)! - 1);
    }
    return frame;
  }

  private popFrame(): void {
    const frame = this.dropFrame();
    if (this.conds.length > frame.condDepth) {
      const what = frame.kind === "file" ? "end of file" : frame.kind === "macro" ? `end of macro \`${frame.macro.name}'` : "end of %rep";
      this.error(`expected \`%endif' before ${what}`, this.conds[frame.condDepth]!.where);
      this.conds.length = frame.condDepth;
    }
  }

  private nextLine(): PreprocessedLine | null {
    for (;;) {
      const waiting = this.pending.shift();
      if (waiting !== undefined) return waiting;
      if (this.finished) return null;
      const src = this.readLine();
      if (src === null) {
        this.finish();
        return null;
      }
      this.current = src;
      const out = this.processLine(src);
      if (out !== null) return out;
    }
  }

  private finish(): void {
    this.finished = true;
    if (this.defining) {
      const d = this.defining;
      this.error(d.kind === "macro" ? `end of file while still defining macro \`${d.macro!.name}'` : "end of file while still in %rep", d.where);
      this.defining = null;
    }
    for (const c of this.conds) this.error("expected `%endif' before end of file", c.where);
    this.conds.length = 0;
  }

  private emitting(): boolean {
    const top = this.conds[this.conds.length - 1];
    return top === undefined || top.state === "active";
  }

  // ---------------------------------------------------------------- one line

  private processLine(src: SourceLine): PreprocessedLine | null {
    if (this.defining) {
      this.collect(src);
      return null;
    }
    let tokens = ppTokenize(src.text);
    if (src.macro) tokens = this.substituteParams(tokens, src.macro);
    const first = trim(tokens)[0];
    if (first?.kind === "preproc") {
      const name = first.text.slice(1).toLowerCase();
      if (!this.emitting() && !CONDITIONALS.has(name)) return null;
      this.directive(name, trim(tokens).slice(1), src);
      return null;
    }
    if (!this.emitting()) return null;

    const expanded = this.expandLine(tokens);
    if (this.callMacro(expanded, src)) return this.pending.shift() ?? null;
    return { text: toText(trim(expanded)), ...src.where };
  }

  /** Stores one line of a %macro or %rep body, watching for nested ones. */
  private collect(src: SourceLine): void {
    const d = this.defining!;
    const first = trim(ppTokenize(src.text))[0];
    const name = first?.kind === "preproc" ? first.text.slice(1).toLowerCase() : "";
    const opens = d.kind === "macro" ? MACRO_DIRECTIVES.has(name) : name === "rep";
    const closes = d.kind === "macro" ? name === "endmacro" || name === "endm" : name === "endrep" || name === "endr";
    if (opens) d.depth++;
    if (closes && --d.depth === 0) {
      this.defining = null;
      if (d.kind === "macro") {
        const m = d.macro!;
        m.body = d.lines;
        m.capturesLabel = d.lines.some((l) => ppTokenize(l.text).some((t) => t.kind === "param" && t.text === "%00"));
        const key = m.name.toLowerCase();
        this.mmacros.set(key, [m, ...(this.mmacros.get(key) ?? [])]);
      } else if (d.count! > 0 && d.lines.length > 0) {
        this.stack.push({
          kind: "rep", lines: d.lines, pos: 0, remaining: d.count!,
          macro: d.repMacro ?? null, callSite: d.repCallSite ?? null, condDepth: this.conds.length,
        });
      }
      return;
    }
    d.lines.push({ text: src.text, file: src.where.file, line: src.where.line });
  }

  // ---------------------------------------------------------------- multi-line macro parameters

  private substituteParams(tokens: PTok[], frame: MacroFrame): PTok[] {
    let changed = false;
    const out: PTok[] = [];
    for (const t of tokens) {
      switch (t.kind) {
        case "param": {
          changed = true;
          const digits = t.text.replace(/[%{}]/g, "");
          if (digits === "00") { out.push(...frame.label); break; }
          const n = parseInt(digits, 10);
          if (n === 0) { out.push({ kind: "num", text: String(frame.nparams) }); break; }
          if (n <= frame.nparams) out.push(...frame.params[(n - 1 + frame.rotate) % frame.nparams]!);
          break;
        }
        case "local":
          changed = true;
          out.push({ kind: "id", text: `..@${frame.unique}.${t.text.slice(2)}` });
          break;
        case "macname":
          changed = true;
          out.push({ kind: "id", text: t.text === "%?" ? frame.calledAs : frame.macro.name });
          break;
        case "indirect": {
          const inner = this.substituteParams(ppTokenize(t.text.slice(2, -1)), frame);
          out.push({ kind: "indirect", text: `%[${toText(inner)}]` });
          changed = true;
          break;
        }
        default:
          out.push(t);
      }
    }
    // Parameters paste onto what touches them (`pre%1post`).
    return changed ? pasteRuns(out, PARAM_PASTE, false).tokens : tokens;
  }

  // ---------------------------------------------------------------- single-line macros

  private defineBuiltins(): void {
    const builtin = (name: string, make: () => PTok[]): void => {
      this.smacros.set(name.toLowerCase(), [{ name, caseSensitive: true, nparams: -1, greedy: false, modes: [], body: [], dynamic: make }]);
    };
    const num = (n: number): PTok[] => [{ kind: "num", text: String(n) }];
    const str = (s: string): PTok[] => [{ kind: "str", text: quote(new TextEncoder().encode(s)) }];
    for (const prefix of ["__?", "__"]) {
      const suffix = prefix === "__?" ? "?__" : "__";
      builtin(`${prefix}LINE${suffix}`, () => num(this.current.where.line));
      builtin(`${prefix}FILE${suffix}`, () => str(this.current.where.file));
      builtin(`${prefix}NASM_MAJOR${suffix}`, () => num(2));
      builtin(`${prefix}NASM_MINOR${suffix}`, () => num(16));
      builtin(`${prefix}NASM_SUBMINOR${suffix}`, () => num(1));
      builtin(`${prefix}NASM_VER${suffix}`, () => str("2.16.01"));
      builtin(`${prefix}OUTPUT_FORMAT${suffix}`, () => [{ kind: "id", text: "bin" }]);
    }
  }

  /** The table a macro name belongs to: global, or a context's for `%$x`. */
  private smacroTable(tok: PTok, report: boolean): { table: Map<string, SMacro[]>; name: string; ctx?: Context } | null {
    if (tok.kind === "id") return { table: this.smacros, name: tok.text };
    if (tok.kind !== "ctx") return null;
    const body = tok.text.startsWith("%{") ? tok.text.slice(2, -1) : tok.text.slice(1);
    let depth = 0;
    while (body[depth] === "$") depth++;
    const name = body.slice(depth);
    if (depth > this.contexts.length) {
      if (report) {
        const n = this.contexts.length;
        this.error(this.contexts.length === 0
          ? `\`${tok.text}': context stack is empty`
          : `\`${name}': context stack is only ${n} level${n === 1 ? "" : "s"} deep`);
      }
      return null;
    }
    const ctx = this.contexts[this.contexts.length - depth]!;
    return { table: ctx.smacros, name, ctx };
  }

  private findSmacros(table: Map<string, SMacro[]>, name: string): SMacro[] {
    return (table.get(name.toLowerCase()) ?? []).filter((m) => !m.caseSensitive || m.name === name);
  }

  /**
   * Expands single-line macros, `%[...]`, context-local names and `%+` in a
   * line, rescanning while pasting makes new tokens.
   */
  private expandLine(tokens: PTok[]): PTok[] {
    let cur = tokens;
    // The first round pastes even if nothing expanded, so `%+` always works.
    let expanded = true;
    for (let round = 0; round < MAX_RESCANS; round++) {
      const once = this.expandOnce(cur);
      if (!expanded && !once.expanded) return once.tokens;
      const p = pasteRuns(once.tokens, SMACRO_PASTE, true);
      if (!p.pasted) return p.tokens;
      cur = p.tokens;
      expanded = false;
    }
    this.error("macro expansion does not settle");
    return cur;
  }

  private expandOnce(tokens: PTok[]): { tokens: PTok[]; expanded: boolean } {
    // A stack of the tokens still to scan, the next one on top.
    const pending = tokens.slice().reverse();
    const out: PTok[] = [];
    const active = new Map<SMacro, number>();
    let budget = MAX_LINE_TOKENS;
    let expanded = false;
    while (pending.length > 0) {
      const t = pending.pop()!;
      if (t.kind === "end") {
        active.set(t.macro!, active.get(t.macro!)! - 1);
        continue;
      }
      if (t.kind === "indirect") {
        out.push(...this.expandLine(ppTokenize(t.text.slice(2, -1))));
        expanded = true;
        continue;
      }
      const where = t.kind === "id" || t.kind === "ctx" ? this.smacroTable(t, true) : null;
      if (where === null) {
        out.push(t);
        continue;
      }
      const call = this.matchSmacro(where.table, where.name, pending, active);
      if (call === null) {
        if (where.ctx && t.kind === "ctx") {
          out.push({ kind: "id", text: `..@${where.ctx.unique}.${where.name}` });
          expanded = true;
        } else out.push(t);
        continue;
      }
      expanded = true;
      const expansion = this.instantiate(call.macro, call.args);
      budget -= expansion.length;
      if (budget < 0) {
        this.error("macro expansion too large (runaway recursion?)");
        return { tokens: out, expanded };
      }
      active.set(call.macro, (active.get(call.macro) ?? 0) + 1);
      pending.push({ kind: "end", text: "", macro: call.macro });
      for (let i = expansion.length - 1; i >= 0; i--) pending.push(expansion[i]!);
    }
    return { tokens: out, expanded };
  }

  /**
   * Which definition of `name` applies at this point of a scan, consuming
   * its parenthesised arguments from `pending`; null if none (not a macro, only
   * defined with other parameter counts, or disabled inside its own
   * expansion).
   */
  private matchSmacro(
    table: Map<string, SMacro[]>,
    name: string,
    pending: PTok[],
    active: Map<SMacro, number>,
  ): { macro: SMacro; args: PTok[][] } | null {
    const defs = this.findSmacros(table, name);
    if (defs.length === 0) return null;
    const plain = defs.find((m) => m.nparams < 0);
    const withParams = defs.filter((m) => m.nparams >= 0);
    const usable = (m: SMacro | undefined): m is SMacro => m !== undefined && !(active.get(m) ?? 0);
    if (withParams.length > 0) {
      const parsed = peekArgs(pending);
      if (parsed !== null) {
        const n = parsed.args.length;
        const m = withParams.find((d) => d.nparams === n || (n === 1 && d.nparams === 0 && parsed.args[0]!.length === 0))
          ?? withParams.find((d) => d.greedy && n >= d.nparams);
        if (m !== undefined) {
          if (!usable(m)) return null;
          for (const t of pending.splice(pending.length - parsed.consumed)) if (t.kind === "end") active.set(t.macro!, active.get(t.macro!)! - 1);
          let args = m.nparams === 0 ? [] : parsed.args;
          if (m.greedy && args.length > m.nparams) {
            const joined: PTok[] = [];
            args.slice(m.nparams - 1).forEach((a, i) => { if (i > 0) joined.push({ kind: "op", text: "," }); joined.push(...a); });
            args = [...args.slice(0, m.nparams - 1), joined];
          }
          return { macro: m, args };
        }
        if (plain === undefined) {
          this.warn(`single-line macro \`${name}' exists, but not taking ${n} parameter${n === 1 ? "" : "s"}`);
          return null;
        }
      }
    }
    return usable(plain) ? { macro: plain, args: [] } : null;
  }

  private instantiate(m: SMacro, args: PTok[][]): PTok[] {
    if (m.dynamic) return m.dynamic();
    const out: PTok[] = [];
    for (const t of m.body) {
      if (t.kind !== "sparam") { out.push(t); continue; }
      const arg = args[t.index!] ?? [];
      const mode = m.modes[t.index!];
      if (mode === "=") {
        const v = this.evaluateTokens(this.expandLine(arg), "parameter");
        out.push({ kind: "num", text: v === null ? "0" : String(v) });
      } else if (mode === "&") {
        out.push({ kind: "str", text: quote(new TextEncoder().encode(toText(trim(arg)))) });
      } else out.push(...arg);
    }
    return out;
  }

  private defineSmacro(table: Map<string, SMacro[]>, m: SMacro): void {
    const key = m.name.toLowerCase();
    const old = table.get(key) ?? [];
    const clash = old.filter((o) => !o.caseSensitive || !m.caseSensitive || o.name === m.name);
    if (clash.some((o) => (o.nparams < 0) !== (m.nparams < 0) && !o.dynamic)) {
      this.error(`macro \`${m.name}' defined both with and without parameters`);
    }
    const keep = old.filter((o) => !clash.includes(o) || ((o.nparams < 0) === (m.nparams < 0) && o.nparams !== m.nparams));
    table.set(key, [...keep, m]);
  }

  // ---------------------------------------------------------------- multi-line macro calls

  private findMmacros(name: string): MMacro[] {
    return (this.mmacros.get(name.toLowerCase()) ?? []).filter((m) => !m.caseSensitive || m.name === name);
  }

  /** The macros a line may call: not those expanding now, unless %rmacro. */
  private callableMmacros(name: string): MMacro[] {
    return this.findMmacros(name).filter((m) => m.recursive || !this.expanding.get(m));
  }

  /** If the line calls a multi-line macro, pushes its expansion (and queues
   * the label line, when the macro does not take the label as %00). */
  private callMacro(tokens: PTok[], src: SourceLine): boolean {
    const line = trim(tokens);
    let i = 0;
    if (line[0]?.kind !== "id") return false;
    let label: PTok[] = [];
    if (this.callableMmacros(line[0].text).length === 0) {
      i = 1;
      if (line[i]?.kind === "ws") i++;
      if (line[i]?.kind === "op" && line[i]!.text === ":") {
        i++;
        if (line[i]?.kind === "ws") i++;
      }
      if (line[i]?.kind !== "id" || this.callableMmacros(line[i]!.text).length === 0) return false;
      label = [line[0]];
    }
    const nameTok = line[i]!;
    const candidates = this.callableMmacros(nameTok.text);
    const rest = trim(line.slice(i + 1));
    const raw = rest.length === 0 ? [] : splitRaw(rest, false);
    if (raw.length > 1 && trim(raw[raw.length - 1]!).length === 0) {
      // NASM's legacy rule: `m a,` is a call with one parameter.
      this.warn(`dropping trailing empty parameter in call to multi-line macro \`${nameTok.text}'`);
      raw.pop();
    }
    let args = raw.map(unbrace);
    const given = args.length;
    const fits = (m: MMacro, n: number): boolean => (n >= m.nmin && n <= m.nmax) || (m.greedy && n > m.nmax);
    const m = candidates.find((c) => fits(c, args.length));
    if (m === undefined) {
      this.warn(`multi-line macro \`${nameTok.text}' exists, but not taking ${given} parameter${given === 1 ? "" : "s"}`);
      return false;
    }
    if (m.greedy && args.length > m.nmax) {
      // The last parameter takes the rest of the line as written, commas and all.
      let commas = 0, start = 0, depth = 0;
      for (; start < rest.length && commas < m.nmax - 1; start++) {
        const r = rest[start]!;
        if (r.kind !== "op") continue;
        if (r.text === "{") depth++;
        else if (r.text === "}" && depth > 0) depth--;
        else if (r.text === "," && depth === 0) commas++;
      }
      args = [...args.slice(0, m.nmax - 1), trim(rest.slice(start))];
    }
    if (this.macroDepth >= MAX_MACRO_DEPTH) {
      this.error("interminable multiline macro recursion");
      return false;
    }
    const nparams = Math.max(args.length, Math.min(m.nmin + m.defaults.length, m.nmax));
    const params: PTok[][] = [];
    for (let k = 0; k < nparams; k++) params.push(k < args.length ? args[k]! : m.defaults[k - m.nmin] ?? []);
    if (label.length > 0 && !m.capturesLabel) {
      this.pending.push({ text: `${label[0]!.text}:`, ...src.where });
    }
    this.macroDepth++;
    this.expanding.set(m, (this.expanding.get(m) ?? 0) + 1);
    this.stack.push({
      kind: "macro", macro: m, lines: m.body, pos: 0, params, nparams, rotate: 0,
      unique: this.unique++, calledAs: nameTok.text, label: m.capturesLabel ? label : [],
      callSite: src.where, condDepth: this.conds.length,
    });
    return true;
  }

  // ---------------------------------------------------------------- directives

  private directive(name: string, args: PTok[], src: SourceLine): void {
    if (CONDITIONALS.has(name)) {
      this.conditional(name, args);
      return;
    }
    switch (name) {
      case "define": case "idefine": case "xdefine": case "ixdefine":
        this.define(args, name.startsWith("i"), name.includes("x"));
        return;
      case "undef": case "undefalias": {
        const t = trim(args)[0];
        const where = t ? this.smacroTable(t, true) : null;
        if (where === null) { this.error(`\`%${name}' expects a macro name`); return; }
        const key = where.name.toLowerCase();
        const keep = (where.table.get(key) ?? []).filter((m) => m.caseSensitive && m.name !== where.name);
        if (keep.length > 0) where.table.set(key, keep);
        else where.table.delete(key);
        return;
      }
      case "assign": case "iassign": {
        const parts = this.nameAndRest(args, name);
        if (parts === null) return;
        const v = this.evaluateTokens(this.expandLine(parts.rest), `%${name}`);
        if (v === null) return;
        this.defineSmacro(parts.table, {
          name: parts.name, caseSensitive: name === "assign", nparams: -1, greedy: false, modes: [],
          body: [{ kind: "num", text: String(v) }],
        });
        return;
      }
      case "defstr": case "idefstr": {
        const parts = this.nameAndRest(args, name);
        if (parts === null) return;
        const text = toText(trim(this.expandLine(parts.rest)));
        this.setString(parts, name === "defstr", new TextEncoder().encode(text));
        return;
      }
      case "deftok": case "ideftok": {
        const parts = this.nameAndRest(args, name);
        if (parts === null) return;
        const body = solid(this.expandLine(parts.rest));
        if (body.length !== 1 || body[0]!.kind !== "str") { this.error(`\`%${name}' requires a string as its second parameter`); return; }
        this.defineSmacro(parts.table, {
          name: parts.name, caseSensitive: name === "deftok", nparams: -1, greedy: false, modes: [],
          body: trim(ppTokenize(decoder.decode(unquote(body[0]!.text)))),
        });
        return;
      }
      case "strlen": case "istrlen": {
        const parts = this.nameAndRest(args, name);
        if (parts === null) return;
        const body = solid(this.expandLine(parts.rest));
        if (body.length !== 1 || body[0]!.kind !== "str") { this.error(`\`%${name}' requires a string as its second parameter`); return; }
        this.defineSmacro(parts.table, {
          name: parts.name, caseSensitive: name === "strlen", nparams: -1, greedy: false, modes: [],
          body: [{ kind: "num", text: String(unquote(body[0]!.text).length) }],
        });
        return;
      }
      case "strcat": case "istrcat": {
        const parts = this.nameAndRest(args, name);
        if (parts === null) return;
        const pieces: number[] = [];
        for (const t of solid(this.expandLine(parts.rest))) {
          if (t.kind === "op" && t.text === ",") continue;
          if (t.kind !== "str") { this.error(`non-string passed to \`%${name}' (${t.text})`); return; }
          pieces.push(...unquote(t.text));
        }
        this.setString(parts, name === "strcat", Uint8Array.from(pieces));
        return;
      }
      case "substr": case "isubstr":
        this.substr(args, name);
        return;
      case "macro": case "imacro": case "rmacro": case "irmacro":
        this.startMacro(args, !name.startsWith("i"), name.endsWith("rmacro"), src);
        return;
      case "endmacro": case "endm":
        this.error(`\`%${name}': not defining a macro`);
        return;
      case "unmacro": case "unimacro":
        this.unmacro(args, name === "unmacro");
        return;
      case "rotate": {
        if (src.macro === null) { this.error("`%rotate' invoked outside a macro call"); return; }
        const v = this.evaluateTokens(this.expandLine(args), "%rotate");
        const f = src.macro;
        if (v !== null && f.nparams > 0) f.rotate = Number(((BigInt(f.rotate) + v) % BigInt(f.nparams) + BigInt(f.nparams)) % BigInt(f.nparams));
        return;
      }
      case "exitmacro": {
        const at = this.stack.lastIndexOf(src.macro as Frame);
        if (src.macro === null || at < 0) { this.error("`%exitmacro' not within a macro call"); return; }
        this.conds.length = src.macro.condDepth;
        while (this.stack.length > at) this.dropFrame();
        return;
      }
      case "rep": {
        const expr = this.expandLine(args);
        let count = solid(expr).length === 0 ? null : this.evaluateTokens(expr, "%rep");
        if (solid(expr).length === 0) this.error("`%rep' expects a repeat count");
        if (count !== null && count < 0n) {
          this.warn(`negative repeat count ${count} (treated as 0)`);
          count = 0n;
        }
        if (count !== null && count > BigInt(MAX_REP_COUNT)) {
          this.error(`%rep count ${count} exceeds the limit of ${MAX_REP_COUNT}`);
          count = 0n;
        }
        this.defining = {
          kind: "rep", depth: 1, lines: [], where: src.where, count: Number(count ?? 0n),
          repMacro: src.macro, repCallSite: src.fromMacro ? src.where : null,
        };
        return;
      }
      case "endrep": case "endr":
        this.error(`\`%${name}': no matching \`%rep'`);
        return;
      case "exitrep": {
        let at = this.stack.length - 1;
        while (at >= 0 && this.stack[at]!.kind !== "rep") at--;
        if (at < 0) { this.error("`%exitrep' not within `%rep' block"); return; }
        this.conds.length = this.stack[at]!.condDepth;
        while (this.stack.length > at) this.dropFrame();
        return;
      }
      case "include":
        this.include(args);
        return;
      case "error": case "warning": case "fatal": {
        const body = trim(this.expandLine(args));
        const s = solid(body);
        const text = s.length === 1 && s[0]!.kind === "str" ? decoder.decode(unquote(s[0]!.text)) : toText(body);
        if (name === "fatal") this.fatal(text);
        this.report(name === "error" ? "error" : "warning", text);
        return;
      }
      case "push": case "repl": {
        const t = solid(args)[0];
        const tag = t?.text ?? "";
        if (name === "push") this.contexts.push({ name: tag, unique: this.unique++, smacros: new Map() });
        else if (this.contexts.length === 0) this.error("`%repl': context stack is empty");
        else this.contexts[this.contexts.length - 1]!.name = tag;
        return;
      }
      case "pop": {
        const top = this.contexts[this.contexts.length - 1];
        const t = solid(args)[0];
        if (top === undefined) { this.error("`%pop': context stack is already empty"); return; }
        if (t !== undefined && t.text !== top.name) {
          this.error(`\`%pop' in wrong context: ${top.name || "(anonymous)"}, expected ${t.text}`);
          return;
        }
        this.contexts.pop();
        return;
      }
      case "clear":
        this.smacros.clear();
        this.mmacros.clear();
        this.defineBuiltins();
        return;
      case "line": case "pragma":
        return;
      default:
        this.error(`unknown preprocessor directive \`%${name}'`);
    }
  }

  /** `%assign name ...`-style arguments: the macro's table and name, and the rest. */
  private nameAndRest(args: PTok[], directive: string): { table: Map<string, SMacro[]>; name: string; rest: PTok[] } | null {
    const t = trim(args);
    const where = t[0] ? this.smacroTable(t[0], true) : null;
    if (where === null) {
      this.error(`\`%${directive}' expects a macro identifier`);
      return null;
    }
    return { table: where.table, name: where.name, rest: t.slice(1) };
  }

  private setString(parts: { table: Map<string, SMacro[]>; name: string }, caseSensitive: boolean, bytes: Uint8Array): void {
    this.defineSmacro(parts.table, {
      name: parts.name, caseSensitive, nparams: -1, greedy: false, modes: [],
      body: [{ kind: "str", text: quote(bytes) }],
    });
  }

  private substr(args: PTok[], directive: string): void {
    const parts = this.nameAndRest(args, directive);
    if (parts === null) return;
    const rest = trim(this.expandLine(parts.rest));
    const s = rest[0];
    if (s?.kind !== "str") { this.error(`\`%${directive}' requires a string as its second parameter`); return; }
    const nums = splitArgs(trim(rest.slice(1)), true);
    const bytes = unquote(s.text);
    const len = bytes.length;
    const startV = nums[0] && nums[0].length > 0 ? this.evaluateTokens(nums[0], `%${directive}`) : null;
    if (startV === null) { if (!nums[0] || nums[0].length === 0) this.error(`\`%${directive}' requires a starting index`); return; }
    let count = 1n;
    if (nums.length > 1) {
      const c = this.evaluateTokens(nums[1]!, `%${directive}`);
      if (c === null) return;
      count = c;
    }
    // NASM's arithmetic: 1-based start, a negative count counts from the end.
    let start = startV - 1n;
    if (start < 0n) start = 0n;
    if (count < 0n) count = BigInt(len) + count + 1n - start;
    if (start + count > BigInt(len)) count = BigInt(len) - start;
    const piece = count <= 0n || start >= BigInt(len) ? new Uint8Array(0) : bytes.slice(Number(start), Number(start + count));
    this.setString(parts, directive === "substr", piece);
  }

  private define(args: PTok[], insensitive: boolean, expandNow: boolean): void {
    const t = trim(args);
    const where = t[0] ? this.smacroTable(t[0], true) : null;
    if (where === null) {
      this.error("`%define' expects a macro identifier");
      return;
    }
    let i = 1;
    const names: string[] = [];
    const modes: ("" | "=" | "&")[] = [];
    let greedy = false;
    let nparams = -1;
    if (t[1]?.kind === "op" && t[1].text === "(") {
      nparams = 0;
      i = 2;
      for (; i < t.length; i++) {
        const p = t[i]!;
        if (p.kind === "ws" || (p.kind === "op" && p.text === ",")) continue;
        if (p.kind === "op" && p.text === ")") break;
        if (p.kind === "op" && (p.text === "=" || p.text === "&" || p.text === "!")) {
          modes[names.length] = p.text === "!" ? "" : p.text;
          continue;
        }
        if (p.kind === "op" && p.text === "+") { greedy = true; continue; }
        if (p.kind !== "id") {
          this.error(`\`%define': parameter identifier expected, found \`${p.text}'`);
          return;
        }
        modes[names.length] ??= "";
        names.push(p.text);
      }
      if (t[i]?.text !== ")") {
        this.error("`%define': missing `)' after the parameters");
        return;
      }
      nparams = names.length;
      i++;
    }
    let body = trim(t.slice(i));
    body = expandNow ? trim(this.expandLine(body)) : this.expandIndirect(body);
    const paramBody = body.map((b): PTok => {
      const k = b.kind === "id" ? names.indexOf(b.text) : -1;
      return k >= 0 ? { kind: "sparam", text: b.text, index: k } : b;
    });
    this.defineSmacro(where.table, { name: where.name, caseSensitive: !insensitive, nparams, greedy, modes, body: paramBody });
  }

  /** `%[...]` in a %define body is expanded when the macro is defined. */
  private expandIndirect(tokens: PTok[]): PTok[] {
    if (!tokens.some((t) => t.kind === "indirect")) return tokens;
    const out: PTok[] = [];
    for (const t of tokens) {
      if (t.kind === "indirect") out.push(...this.expandLine(ppTokenize(t.text.slice(2, -1))));
      else out.push(t);
    }
    return ppTokenize(toText(out));
  }

  private startMacro(args: PTok[], caseSensitive: boolean, recursive: boolean, src: SourceLine): void {
    const t = solid(args);
    const nameTok = t[0];
    if (nameTok?.kind !== "id") {
      this.error("`%macro' expects a macro name");
      return;
    }
    const spec = this.macroSpec(trim(args).slice(1));
    const m: MMacro = {
      name: nameTok.text, caseSensitive, body: [], capturesLabel: false, recursive,
      nmin: spec?.nmin ?? 0, nmax: spec?.nmax ?? 0, greedy: spec?.greedy ?? false, defaults: spec?.defaults ?? [],
    };
    this.defining = { kind: "macro", depth: 1, lines: [], where: src.where, macro: m };
  }

  /** `1`, `1-3`, `0-*`, `2+`, `.nolist`, then the defaults. */
  private macroSpec(tokens: PTok[]): { nmin: number; nmax: number; greedy: boolean; defaults: PTok[][] } | null {
    const t = trim(tokens);
    let i = 0;
    while (i < t.length && t[i]!.kind !== "ws") i++;
    const spec = /^(\d+)(?:-(\d+|\*))?(\+)?(\.nolist)?$/i.exec(t.slice(0, i).map((x) => x.text).join(""));
    if (spec === null) {
      this.error("`%macro' expects a parameter count");
      return null;
    }
    const nmin = parseInt(spec[1]!, 10);
    let nmax = spec[2] === undefined ? nmin : spec[2] === "*" ? Infinity : parseInt(spec[2], 10);
    if (nmax < nmin) {
      this.error("minimum parameter count exceeds maximum");
      nmax = nmin;
    }
    const rest = trim(t.slice(i));
    const defaults = rest.length === 0 ? [] : splitArgs(rest, false);
    return { nmin, nmax, greedy: spec[3] !== undefined, defaults };
  }

  private unmacro(args: PTok[], caseSensitive: boolean): void {
    const t = solid(args);
    const name = t[0];
    const spec = this.macroSpec(trim(args).slice(1 + trim(args).indexOf(name!)));
    if (name === undefined || spec === null) return;
    const key = name.text.toLowerCase();
    const list = this.mmacros.get(key) ?? [];
    const keep = list.filter((m) => !(m.nmin === spec.nmin && m.nmax === spec.nmax && m.greedy === spec.greedy
      && m.caseSensitive === caseSensitive && (!caseSensitive || m.name === name.text)));
    if (keep.length === list.length) this.warn(`\`%unmacro' can't find macro \`${name.text}' with that parameter count`);
    if (keep.length > 0) this.mmacros.set(key, keep);
    else this.mmacros.delete(key);
  }

  private include(args: PTok[]): void {
    const t = solid(this.expandLine(args));
    let name: string | null = null;
    if (t.length === 1 && t[0]!.kind === "str") name = decoder.decode(unquote(t[0]!.text));
    else if (t.length >= 2 && t[0]!.text === "<" && t[t.length - 1]!.text === ">") name = toText(t.slice(1, -1));
    if (name === null) { this.error("`%include' expects a file name"); return; }
    const depth = this.stack.filter((f) => f.kind === "file").length;
    if (depth > MAX_INCLUDE_DEPTH) { this.error(`\`%include' nested more than ${MAX_INCLUDE_DEPTH} deep`); return; }
    const found = this.options.resolver?.readText(name, this.current.where.file) ?? null;
    if (found === null) {
      this.error(`unable to open include file \`${name}'`);
      return;
    }
    this.stack.push({ kind: "file", file: found.file, lines: splitLines(found.text), pos: 0, condDepth: this.conds.length });
  }

  // ---------------------------------------------------------------- conditionals

  private conditional(name: string, args: PTok[]): void {
    const top = this.conds[this.conds.length - 1];
    if (name === "endif") {
      if (top === undefined) this.error("`%endif': no matching `%if'");
      else this.conds.pop();
      return;
    }
    if (name === "else") {
      if (top === undefined) { this.error("`%else': no matching `%if'"); return; }
      if (top.sawElse) this.warn("`%else' after `%else' ignored");
      top.sawElse = true;
      top.state = top.state === "looking" ? "active" : top.state === "never" ? "never" : "done";
      return;
    }
    if (name.startsWith("el")) {
      if (top === undefined) { this.error(`\`%${name}': no matching \`%if'`); return; }
      if (top.sawElse) {
        this.warn(`\`%${name}' after \`%else', ignoring content`);
        top.state = top.state === "never" ? "never" : "done";
        return;
      }
      if (top.state === "looking") top.state = this.test(name.slice(2), args) ? "active" : "looking";
      else if (top.state === "active") top.state = "done";
      return;
    }
    const outer = this.emitting();
    const cond: Cond = { state: "never", sawElse: false, where: this.current.where };
    this.conds.push(cond);
    if (outer) cond.state = this.test(name, args) ? "active" : "looking";
  }

  /** Evaluates `%if...` (name without the `el`), including the `n` forms. */
  private test(name: string, args: PTok[]): boolean {
    let kind = name.slice(2);
    let negate = false;
    if (kind.startsWith("n") && kind !== "num") { negate = true; kind = kind.slice(1); }
    return this.testKind(kind, args) !== negate;
  }

  private testKind(kind: string, args: PTok[]): boolean {
    switch (kind) {
      case "": {
        const v = this.evaluateTokens(this.expandLine(args), "%if");
        return v !== null && v !== 0n;
      }
      case "def": {
        const t = solid(args)[0];
        const where = t ? this.smacroTable(t, false) : null;
        if (t === undefined) this.error("`%ifdef' expects a macro identifier");
        return where !== null && this.findSmacros(where.table, where.name).length > 0;
      }
      case "macro": {
        const t = solid(args);
        if (t[0] === undefined) { this.error("`%ifmacro' expects a macro name"); return false; }
        const ms = this.findMmacros(t[0].text);
        if (t.length === 1) return ms.length > 0;
        const spec = this.macroSpec(trim(args).slice(trim(args).indexOf(t[0]) + 1));
        if (spec === null) return false;
        return ms.some((m) => m.nmin <= spec.nmax && spec.nmin <= m.nmax);
      }
      case "idn": case "idni": {
        const parts = splitArgs(this.expandLine(args), false);
        if (parts.length !== 2) { this.error(`\`%if${kind}' expects two comma-separated arguments`); return false; }
        const a = solid(parts[0]!), b = solid(parts[1]!);
        if (a.length !== b.length) return false;
        return a.every((x, k) => {
          const y = b[k]!;
          if (x.kind === "str" && y.kind === "str") {
            const p = decoder.decode(unquote(x.text)), q = decoder.decode(unquote(y.text));
            return kind === "idni" ? p.toLowerCase() === q.toLowerCase() : p === q;
          }
          return kind === "idni" ? x.text.toLowerCase() === y.text.toLowerCase() : x.text === y.text;
        });
      }
      case "num": case "str": case "id": case "token": {
        const t = solid(this.expandLine(args));
        if (kind === "token") return t.length === 1;
        let k = 0;
        if (kind === "num" && t[0]?.kind === "op" && t[0].text === "-") k = 1;
        const want = kind === "num" ? "num" : kind === "str" ? "str" : "id";
        return t[k]?.kind === want;
      }
      case "empty":
        return solid(this.expandLine(args)).length === 0;
      case "ctx": {
        const t = solid(args);
        const top = this.contexts[this.contexts.length - 1];
        return top !== undefined && t.some((x) => x.text === top.name);
      }
      case "env":
        return false;
      default:
        this.error(`unknown preprocessor directive \`%if${kind}'`);
        return false;
    }
  }

  // ---------------------------------------------------------------- expressions

  /** A critical expression: every symbol must be known now. */
  private evaluateTokens(tokens: PTok[], what: string): bigint | null {
    const text = toText(trim(tokens));
    const lexed = tokenize(text);
    if (lexed.error !== undefined) {
      this.error(`${what}: ${lexed.error}`);
      return null;
    }
    let missing: string | undefined;
    const r = evaluate(lexed.tokens, {
      lookup: (name) => {
        const v = this.options.lookupSymbol?.(name);
        if (v === undefined) missing ??= name;
        return v;
      },
    });
    if (r.error !== undefined) {
      this.error(r.error.startsWith("expression") || r.error.startsWith("division") ? r.error : `${what}: ${r.error}`);
      return null;
    }
    const v = r.value!;
    if (v.unknown) {
      this.error(`symbol \`${missing ?? "?"}' not defined before use`);
      return null;
    }
    if (v.relocs !== 0) {
      this.error(`non-constant value given to \`${what}'`);
      return null;
    }
    return v.value;
  }
}

function splitLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/** Looks ahead in a scan for `( args )` after a macro name (whitespace and
 * expansion ends may come between); parentheses nest, braces group. */
function peekArgs(pending: PTok[]): { args: PTok[][]; consumed: number } | null {
  let k = pending.length - 1;
  while (k >= 0 && (pending[k]!.kind === "ws" || pending[k]!.kind === "end")) k--;
  if (k < 0 || pending[k]!.kind !== "op" || pending[k]!.text !== "(") return null;
  const inner: PTok[] = [];
  let depth = 0;
  for (let j = k - 1; j >= 0; j--) {
    const t = pending[j]!;
    if (t.kind === "end") continue;
    if (t.kind === "op" && (t.text === "(" || t.text === "{")) depth++;
    if (t.kind === "op" && (t.text === ")" || t.text === "}")) {
      if (depth === 0) {
        if (t.text !== ")") return null;
        return { args: splitArgs(inner, true), consumed: pending.length - j };
      }
      depth--;
    }
    inner.push(t);
  }
  return null;
}

/** Runs the preprocessor to the end. */
export function preprocess(source: string, options: PreprocessOptions): { lines: PreprocessedLine[]; diagnostics: Diagnostic[] } {
  const pp = new Preprocessor(source, options);
  const lines: PreprocessedLine[] = [];
  for (let l = pp.next(); l !== null; l = pp.next()) lines.push(l);
  return { lines, diagnostics: pp.diagnostics };
}
