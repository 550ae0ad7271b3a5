// tools/asm/assembler.ts — NASM's assembly passes for the flat `bin` format.
//
// The preprocessor hands over expanded lines one at a time; each line is a
// label, a directive, data, or an instruction for the encoder. Like NASM the
// whole source is assembled again and again: a pass uses the symbol values of
// the pass before for forward references, and instruction sizes (short or
// near jumps, imm8 or imm32, disp8 or disp32) follow those values. When a
// pass ends with every symbol where the previous pass left it, the layout is
// stable and that pass's bytes are the output. Errors are reported from that
// last pass only, so a forward reference is never an error by itself.
//
// Sections follow NASM's `-f bin` rules (NASM manual 8.1): `.text` comes
// first at the `org` address, the other progbits sections follow in the order
// they were declared, each aligned (4 by default, raised by `align=` and by
// `align` inside it), and nobits sections (`.bss`) come after all of them.
// Gaps between sections are zero bytes in the file.

import { type Diagnostic, type FileResolver, type Severity } from "./diagnostic.js";
import { type Token, tokenize, stripComment } from "./lex.js";
import { type ExprContext, type ExprValue, type SymbolValue, parseExpression } from "./expr.js";
import { Preprocessor, type PreprocessedLine } from "./preprocess.js";
import { encode, isMnemonic, PREFIXES } from "./encode.js";
import { type Operand, type MemOperand, type Size, registerInfo } from "./operand.js";

export interface AssembleOptions {
  /** The source's name in diagnostics and the base for relative `%include`. */
  file?: string;
  /** `-D` definitions: NAME → value ("" for a bare `-DNAME`). */
  defines?: Record<string, string>;
  /** Finds `%include` and `incbin` files; without one both are errors. */
  resolver?: FileResolver;
  /** Upper bound on passes before giving up on a layout that never settles. */
  maxPasses?: number;
}

export interface AssembleResult {
  /** The flat binary, as `nasm -f bin` writes it. Empty when there were errors. */
  bytes: Uint8Array;
  /** Every label and `equ` constant with its final value (addresses include `org`). */
  symbols: Map<string, number>;
  /** A listing in the shape of NASM's `-l`: line, address, bytes, source. */
  listing: string;
  diagnostics: Diagnostic[];
  /** No errors (warnings allowed). */
  ok: boolean;
}

/** The most bytes one source may produce: a guard against `times 1e12 db 0`. */
const MAX_OUTPUT_BYTES = 512 * 1024 * 1024;

const SIZE_KEYWORDS: Record<string, Size> = {
  byte: 8, word: 16, dword: 32, fword: 48, qword: 64, tword: 80,
};

const DATA_SIZES: Record<string, number> = { db: 1, dw: 2, dd: 4, dq: 8 };
const RESERVE_SIZES: Record<string, number> = { resb: 1, resw: 2, resd: 4, resq: 8, rest: 10, reso: 16 };

/** A growable byte buffer for one section's contents. */
class ByteBuffer {
  bytes = new Uint8Array(256);
  length = 0;

  ensure(extra: number): void {
    if (this.length + extra <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.length + extra) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  push(data: Uint8Array): void {
    this.ensure(data.length);
    this.bytes.set(data, this.length);
    this.length += data.length;
  }

  fill(value: number, count: number): void {
    this.ensure(count);
    this.bytes.fill(value, this.length, this.length + count);
    this.length += count;
  }
}

interface Section {
  name: string;
  nobits: boolean;
  /** Alignment of the section's start; raised by `align` inside it. */
  align: number;
  /** `start=`: a fixed address. */
  start?: bigint;
  /** `vstart=`: labels count from here instead of from the load address. */
  vstart?: bigint;
  /** `follows=`: placed right after the named section. */
  follows?: string;
  data: ByteBuffer;
  /** Size in bytes (nobits sections have no data). */
  size: number;
  declared: number;
}

/** Where a section landed: its load address and the address its labels count from. */
interface Placement {
  address: bigint;
  vaddress: bigint;
}

interface SymbolEntry {
  value: bigint;
  relocs: number;
  section?: string;
  /** Offset within the section, for labels (resolved against the layout). */
  offset?: number;
}

interface ListingEntry {
  source: PreprocessedLine;
  address?: number;
  bytes: number[];
  reserved: number;
}

interface StrucState {
  name: string;
  saved: Section | null;
  savedAbsolute: bigint | null;
}

interface IstrucState {
  name: string;
  start: number;
}

/** One pass over the source. */
class Pass {
  readonly diagnostics: Diagnostic[] = [];
  readonly symbols = new Map<string, SymbolEntry>();
  readonly sections = new Map<string, Section>();
  readonly listing: ListingEntry[] = [];
  section: Section;
  /** Non-null inside `absolute`: the address of the next reserved byte. */
  absolute: bigint | null = null;
  bits: 16 | 32 = 16;
  org: bigint | null = null;
  lastGlobal = "";
  struc: StrucState | null = null;
  istruc: IstrucState[] = [];
  line: PreprocessedLine = { text: "", file: "", line: 0 };
  listEntry: ListingEntry | null = null;
  totalBytes = 0;
  /** Inside `times`: `$` is the start of the whole line in every copy, as in NASM. */
  timesStart: SymbolValue | null = null;

  constructor(
    readonly options: AssembleOptions,
    /** Symbols of the previous pass, for forward references. */
    readonly previous: Map<string, SymbolEntry>,
    readonly placements: Map<string, Placement>,
  ) {
    this.section = this.declareSection(".text");
  }

  run(source: string): void {
    const pp = new Preprocessor(source, {
      file: this.options.file ?? "<input>",
      defines: this.options.defines,
      resolver: this.options.resolver,
      lookupSymbol: (name) => this.symbolValue(name, false),
    });
    for (let line = pp.next(); line !== null; line = pp.next()) {
      this.line = line;
      this.listEntry = { source: line, bytes: [], reserved: 0 };
      this.listing.push(this.listEntry);
      if (this.totalBytes > MAX_OUTPUT_BYTES) {
        this.error(`output exceeds ${MAX_OUTPUT_BYTES} bytes`);
        break;
      }
      this.assembleLine(line.text);
    }
    if (this.struc) this.error(`\`struc ${this.struc.name}' has no \`endstruc'`);
    for (const d of pp.diagnostics) this.diagnostics.push(d);
  }

  // ---------------------------------------------------------------- diagnostics

  report(severity: Severity, message: string): void {
    this.diagnostics.push({ file: this.line.file, line: this.line.line, severity, message });
  }

  error(message: string): void {
    this.report("error", message);
  }

  warn(message: string): void {
    this.report("warning", message);
  }

  // ---------------------------------------------------------------- sections and symbols

  declareSection(name: string): Section {
    let s = this.sections.get(name);
    if (!s) {
      s = {
        name,
        nobits: name === ".bss",
        align: name === ".text" ? 1 : 4,
        data: new ByteBuffer(),
        size: 0,
        declared: this.sections.size,
      };
      this.sections.set(name, s);
    }
    return s;
  }

  /** Offset of the next byte within the current section (or the absolute address). */
  get here(): number {
    return this.section.size;
  }

  /** The address labels in `section` count from, by the previous pass's layout. */
  sectionBase(section: Section): bigint {
    const p = this.placements.get(section.name);
    if (section.vstart !== undefined) return section.vstart;
    if (p) return p.vaddress;
    return section.name === ".text" ? this.org ?? 0n : 0n;
  }

  hereValue(): SymbolValue {
    if (this.timesStart) return this.timesStart;
    if (this.absolute !== null) return { value: this.absolute, relocs: 0 };
    return { value: this.sectionBase(this.section) + BigInt(this.here), relocs: 1, section: this.section.name };
  }

  sectionStartValue(): SymbolValue {
    if (this.absolute !== null) return { value: this.absolute, relocs: 0 };
    return { value: this.sectionBase(this.section), relocs: 1, section: this.section.name };
  }

  /** The full name of a label as written: `.x` belongs to the last non-local label. */
  qualify(name: string): string {
    if (name.startsWith(".") && !name.startsWith("..")) return this.lastGlobal + name;
    return name;
  }

  symbolValue(name: string, qualify = true): SymbolValue | undefined {
    const full = qualify ? this.qualify(name) : name;
    const entry = this.symbols.get(full) ?? this.previous.get(full);
    if (!entry) return undefined;
    if (entry.offset !== undefined && entry.section !== undefined) {
      const section = this.sections.get(entry.section);
      const base = section ? this.sectionBase(section) : entry.value - BigInt(entry.offset);
      return { value: base + BigInt(entry.offset), relocs: entry.relocs, section: entry.section };
    }
    return { value: entry.value, relocs: entry.relocs, section: entry.section };
  }

  exprContext(allowRegisters = false): ExprContext {
    return {
      lookup: (name) => this.symbolValue(name),
      here: this.hereValue(),
      sectionStart: this.sectionStartValue(),
      allowRegisters,
    };
  }

  defineLabel(name: string): void {
    if (!name.startsWith(".") && !name.startsWith("..@")) this.lastGlobal = name;
    const full = this.qualify(name);
    if (this.symbols.has(full)) {
      this.error(`label \`${full}' inconsistently redefined`);
      return;
    }
    if (this.absolute !== null) {
      this.symbols.set(full, { value: this.absolute, relocs: 0 });
    } else {
      const offset = this.here;
      this.symbols.set(full, {
        value: this.sectionBase(this.section) + BigInt(offset),
        relocs: 1,
        section: this.section.name,
        offset,
      });
    }
  }

  defineConstant(name: string, value: ExprValue): void {
    const full = this.qualify(name);
    if (this.symbols.has(full)) {
      this.error(`label \`${full}' inconsistently redefined`);
      return;
    }
    this.symbols.set(full, { value: value.value, relocs: value.relocs, section: value.section });
  }

  // ---------------------------------------------------------------- output

  emit(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.absolute !== null) {
      this.error("attempt to assemble code in [ABSOLUTE] space");
      return;
    }
    if (this.section.nobits) {
      this.warn("attempt to initialize memory in a nobits section: ignored");
      this.section.size += bytes.length;
      this.listEntry!.reserved += bytes.length;
      return;
    }
    this.section.data.push(bytes);
    this.section.size += bytes.length;
    this.totalBytes += bytes.length;
    if (this.listEntry) {
      if (this.listEntry.address === undefined) this.listEntry.address = this.section.size - bytes.length;
      if (this.listEntry.bytes.length < 64) for (const b of bytes) this.listEntry.bytes.push(b);
    }
  }

  reserve(count: number): void {
    if (count < 0) {
      this.error("RESx value is negative");
      return;
    }
    if (this.listEntry && this.listEntry.address === undefined) {
      this.listEntry.address = this.absolute !== null ? Number(BigInt.asUintN(32, this.absolute)) : this.here;
    }
    if (this.listEntry) this.listEntry.reserved += count;
    if (this.absolute !== null) {
      this.absolute += BigInt(count);
      return;
    }
    if (!this.section.nobits) {
      this.section.data.fill(0, count);
      this.totalBytes += count;
    }
    this.section.size += count;
  }

  // ---------------------------------------------------------------- lines

  assembleLine(rawText: string): void {
    const text = stripComment(rawText).trim();
    if (text === "") return;
    const lexed = tokenize(text);
    if (lexed.error) {
      this.error(lexed.error);
      return;
    }
    this.assembleTokens(lexed.tokens);
  }

  assembleTokens(tokens: Token[]): void {
    if (tokens.length === 0) return;

    // Primitive directives in brackets: [bits 32], [section .data], [org 0x7c00].
    if (isOp(tokens[0], "[") && isOp(tokens[tokens.length - 1], "]") && tokens.length > 2 && tokens[1].kind === "id") {
      const word = tokens[1].text.toLowerCase();
      if (DIRECTIVES.has(word)) {
        this.directive(word, tokens.slice(2, -1));
        return;
      }
    }

    let pos = 0;
    const first = tokens[0];
    if (first.kind === "id") {
      const word = first.text.toLowerCase();
      if (DIRECTIVES.has(word) && !isOp(tokens[1], ":")) {
        this.directive(word, tokens.slice(1));
        return;
      }
      // `name equ value`
      if (tokens.length >= 2 && tokens[1].kind === "id" && tokens[1].text.toLowerCase() === "equ") {
        this.equ(first.text, tokens.slice(2));
        return;
      }
      if (isOp(tokens[1], ":") && tokens.length >= 3 && tokens[2].kind === "id" && tokens[2].text.toLowerCase() === "equ") {
        this.equ(first.text, tokens.slice(3));
        return;
      }
      // A label: `name:` or a name that is not an instruction or keyword.
      if (isOp(tokens[1], ":")) {
        this.defineLabel(first.text);
        pos = 2;
      } else if (!this.isLineKeyword(word)) {
        if (tokens.length > 1 && !this.isLineKeyword(tokens[1].text.toLowerCase())) {
          this.error(`parser: instruction expected, found \`${first.text}'`);
          return;
        }
        this.defineLabel(first.text);
        if (tokens.length === 1) this.warn("label alone on a line without a colon might be in error");
        pos = 1;
      }
    } else if (first.kind === "op" && first.text === "$" ) {
      this.error("parser: instruction expected");
      return;
    }
    if (pos >= tokens.length) return;
    this.statement(tokens.slice(pos));
  }

  /** Words that may start the part of a line after a label. */
  isLineKeyword(word: string): boolean {
    return (
      isMnemonic(word) || PREFIXES.has(word) || word === "times" || word in DATA_SIZES ||
      word in RESERVE_SIZES || word === "incbin" || word === "equ" || word === "at" ||
      word === "dt" || word === "do" || word === "dy" || word === "dz"
    );
  }

  /** A statement after any label: times, data, reservations, or an instruction. */
  statement(tokens: Token[]): void {
    const word = tokens[0].kind === "id" ? tokens[0].text.toLowerCase() : "";
    if (word === "times") {
      this.times(tokens.slice(1));
      return;
    }
    if (word in DATA_SIZES) {
      this.data(DATA_SIZES[word], tokens.slice(1));
      return;
    }
    if (word in RESERVE_SIZES) {
      this.reserveDirective(RESERVE_SIZES[word], tokens.slice(1));
      return;
    }
    if (word === "dt" || word === "do" || word === "dy" || word === "dz") {
      this.error(`\`${word}' (floating-point and wide data) is not supported`);
      return;
    }
    if (word === "incbin") {
      this.incbin(tokens.slice(1));
      return;
    }
    if (word === "at") {
      this.at(tokens.slice(1));
      return;
    }
    this.instruction(tokens);
  }

  // ---------------------------------------------------------------- expressions

  /** Evaluates a whole token list as one expression. */
  evaluate(tokens: Token[], what: string): ExprValue | null {
    if (tokens.length === 0) {
      this.error(`expression expected for ${what}`);
      return null;
    }
    const r = parseExpression(tokens, 0, this.exprContext());
    if (r.error || !r.value) {
      this.error(r.error ?? `invalid expression for ${what}`);
      return null;
    }
    if (r.next !== tokens.length) {
      this.error(`junk \`${tokens.slice(r.next).map((t) => t.text).join(" ")}' after expression`);
      return null;
    }
    return r.value;
  }

  /** A critical expression: known now, a plain number (TIMES, RESB, ALIGN, ORG). */
  critical(tokens: Token[], what: string): bigint | null {
    const v = this.evaluate(tokens, what);
    if (!v) return null;
    if (v.unknown) {
      this.error(`non-constant argument supplied to ${what}`);
      return null;
    }
    if (v.relocs !== 0) {
      this.error(`${what} must be a scalar value, not an address`);
      return null;
    }
    return v.value;
  }

  /** NASM's "symbol `x' not defined" for each name in `tokens` that is still undefined. */
  reportUndefined(tokens: Token[]): void {
    const names = new Set<string>();
    for (const t of tokens) {
      if (t.kind !== "id") continue;
      const lower = t.text.toLowerCase();
      if (!t.symbol && (registerInfo(lower) || lower in SIZE_KEYWORDS || OPERAND_KEYWORDS.has(lower))) continue;
      if (this.symbolValue(t.text) === undefined) names.add(this.qualify(t.text));
    }
    if (names.size === 0) names.add("(unknown)");
    for (const name of names) this.error(`symbol \`${name}' not defined`);
  }

  // ---------------------------------------------------------------- directives

  directive(word: string, args: Token[]): void {
    switch (word) {
      case "bits": {
        const v = this.critical(args, "`bits'");
        if (v === null) return;
        if (v === 16n || v === 32n) this.bits = Number(v) as 16 | 32;
        else if (v === 64n) this.error("`bits 64' is not supported: xenoscope is a 32-bit machine");
        else this.error(`\`${v}' is not a valid segment size; must be 16, 32 or 64`);
        return;
      }
      case "use16":
      case "use32":
        this.bits = word === "use16" ? 16 : 32;
        return;
      case "org": {
        const v = this.critical(args, "`org'");
        if (v === null) return;
        if (this.org !== null && this.org !== v) this.error("program origin redefined");
        this.org = v;
        return;
      }
      case "section":
      case "segment":
        this.sectionDirective(args);
        return;
      case "absolute": {
        const v = this.evaluate(args, "`absolute'");
        if (!v) return;
        this.absolute = v.value;
        return;
      }
      case "align":
      case "alignb":
        this.align(word, args);
        return;
      case "sectalign": {
        if (args.length === 1 && args[0].kind === "id" && /^(on|off)$/i.test(args[0].text)) return;
        const v = this.critical(args, "`sectalign'");
        if (v !== null && this.absolute === null) this.raiseAlign(Number(v));
        return;
      }
      case "struc":
        this.strucStart(args);
        return;
      case "endstruc":
        this.strucEnd();
        return;
      case "istruc":
        this.istrucStart(args);
        return;
      case "iend":
        this.istrucEnd();
        return;
      case "global":
      case "extern":
      case "common":
      case "static":
      case "cpu":
      case "default":
      case "warning":
      case "map":
      case "float":
      case "list":
      case "nolist":
        // Linkage and listing controls mean nothing in a flat binary; NASM's
        // bin format accepts and ignores them too (an extern used stays undefined).
        return;
      default:
        this.error(`unrecognised directive \`${word}'`);
    }
  }

  sectionDirective(args: Token[]): void {
    if (args.length === 0 || args[0].kind !== "id") {
      this.error("section name expected");
      return;
    }
    const name = args[0].text;
    const section = this.declareSection(name);
    // Attributes: progbits nobits align=N start=N vstart=N follows=S vfollows=S
    let i = 1;
    while (i < args.length) {
      const t = args[i];
      if (t.kind !== "id") {
        this.error(`invalid section attribute \`${t.text}'`);
        return;
      }
      const attr = t.text.toLowerCase();
      if (isOp(args[i + 1], "=")) {
        let j = i + 2;
        while (j < args.length && !(args[j].kind === "id" && isOp(args[j + 1], "="))) j++;
        const valueTokens = args.slice(i + 2, j);
        i = j;
        if (attr === "follows" || attr === "vfollows") {
          if (valueTokens.length !== 1 || valueTokens[0].kind !== "id") {
            this.error(`\`${attr}=' needs a section name`);
            return;
          }
          if (attr === "follows") section.follows = valueTokens[0].text;
          else this.error("`vfollows=' is not supported");
          continue;
        }
        const v = this.critical(valueTokens, `\`${attr}='`);
        if (v === null) return;
        if (attr === "align") {
          if (v <= 0n || (v & (v - 1n)) !== 0n) this.error("section alignment must be a power of two");
          else section.align = Number(v);
        } else if (attr === "start") section.start = v;
        else if (attr === "vstart") section.vstart = v;
        else this.error(`unknown section attribute \`${attr}'`);
      } else {
        if (attr === "nobits") section.nobits = true;
        else if (attr === "progbits") section.nobits = false;
        else if (attr !== "noalloc" && attr !== "alloc" && attr !== "exec" && attr !== "noexec" &&
          attr !== "write" && attr !== "nowrite") {
          this.error(`unknown section attribute \`${attr}'`);
        }
        i++;
      }
    }
    this.section = section;
    this.absolute = null;
  }

  /** NASM's `sectalign`, implied by `align`: the section's start moves to a multiple of n. */
  raiseAlign(n: number): void {
    if (n > this.section.align) this.section.align = n;
  }

  align(word: string, args: Token[]): void {
    const comma = topLevelComma(args);
    const amount = this.critical(comma < 0 ? args : args.slice(0, comma), `\`${word}'`);
    if (amount === null) return;
    if (amount <= 0n || (amount & (amount - 1n)) !== 0n) {
      this.error(`\`${word}' needs a power of two`);
      return;
    }
    const n = Number(amount);
    // NASM's standard macro: `sectalign n` then pad from $$ with `times`.
    const offset = this.absolute !== null ? Number(BigInt.asUintN(32, this.absolute)) : this.here;
    const pad = (n - (offset % n)) % n;
    if (this.absolute === null) this.raiseAlign(n);
    if (comma >= 0) {
      const fill = args.slice(comma + 1);
      for (let i = 0; i < pad; i++) this.statement(fill);
      return;
    }
    if (word === "alignb" || this.absolute !== null || this.section.nobits) {
      if (word === "align" && this.section.nobits && this.absolute === null && pad > 0) {
        this.warn("attempt to initialize memory in a nobits section: ignored");
      }
      this.reserve(pad);
      return;
    }
    this.emit(new Uint8Array(pad).fill(0x90));
  }

  equ(name: string, args: Token[]): void {
    const v = this.evaluate(args, "`equ'");
    if (!v) return;
    if (v.regs.length) {
      this.error("`equ' value cannot contain a register");
      return;
    }
    if (v.unknown) {
      this.reportUndefined(args);
      return;
    }
    this.defineConstant(name, v);
  }

  times(args: Token[]): void {
    // The count is the longest expression before the statement it repeats.
    const r = parseExpression(args, 0, this.exprContext());
    if (r.error || !r.value) {
      this.error(r.error ?? "invalid TIMES count");
      return;
    }
    const v = r.value;
    if (v.unknown) {
      this.error("non-constant argument supplied to TIMES");
      return;
    }
    if (v.relocs !== 0) {
      this.error("TIMES count must be a scalar value");
      return;
    }
    const rest = args.slice(r.next);
    if (v.value < 0n) {
      this.error("TIMES value " + v.value + " is negative");
      return;
    }
    if (rest.length === 0) return;
    const count = Number(v.value);
    // Each copy is assembled at its own address (a relative jump in the
    // second copy is encoded from there), but `$` stays the line's start.
    this.timesStart = this.hereValue();
    try {
      for (let i = 0; i < count; i++) {
        if (this.totalBytes > MAX_OUTPUT_BYTES) {
          this.error(`output exceeds ${MAX_OUTPUT_BYTES} bytes`);
          return;
        }
        const before = this.diagnostics.length;
        this.statement(rest);
        if (this.diagnostics.slice(before).some((d) => d.severity === "error")) return;
      }
    } finally {
      this.timesStart = null;
    }
  }

  data(unit: number, args: Token[]): void {
    if (args.length === 0) {
      this.warn(`no operand for data declaration`);
      return;
    }
    const out: number[] = [];
    for (const item of splitTopLevel(args)) {
      if (item.length === 0) {
        this.error("expression expected in data declaration");
        return;
      }
      if (item.length === 1 && item[0].kind === "str") {
        const bytes = item[0].bytes!;
        for (const b of bytes) out.push(b);
        const pad = (unit - (bytes.length % unit)) % unit;
        for (let i = 0; i < pad; i++) out.push(0);
        continue;
      }
      if (item.length === 1 && isOp(item[0], "?")) {
        for (let i = 0; i < unit; i++) out.push(0);
        continue;
      }
      if (item.some((t) => t.kind === "float")) {
        this.error("floating-point constants are not supported");
        return;
      }
      const v = this.evaluate(item, "data");
      if (!v) return;
      if (v.regs.length) {
        this.error("invalid operand in data declaration: a register");
        return;
      }
      if (v.relocs !== 0 && v.relocs !== 1) {
        this.error("data value is not a simple address or number");
        return;
      }
      if (v.unknown) {
        this.reportUndefined(item);
        return;
      }
      if (v.relocs === 1 && unit === 1) {
        this.error("8-bit relocation is not supported in a flat binary: use a difference of labels");
        return;
      }
      this.checkDataBounds(v.value, unit);
      let x = BigInt.asUintN(64, v.value);
      for (let i = 0; i < unit; i++) {
        out.push(Number(x & 0xffn));
        x >>= 8n;
      }
    }
    this.emit(Uint8Array.from(out));
  }

  /** NASM warns when a value does not fit its data unit, signed or unsigned. */
  checkDataBounds(value: bigint, unit: number): void {
    if (unit >= 8) return;
    const bits = BigInt(unit * 8);
    const min = -(1n << (bits - 1n));
    const max = (1n << bits) - 1n;
    if (value < min || value > max) {
      const name = unit === 1 ? "byte" : unit === 2 ? "word" : "dword";
      this.warn(`${name} data exceeds bounds`);
    }
  }

  reserveDirective(unit: number, args: Token[]): void {
    const v = this.evaluate(args, "RESx");
    if (!v) return;
    if (v.unknown) {
      this.error("non-constant argument supplied to RESx");
      return;
    }
    if (v.relocs !== 0) {
      this.error("RESx count must be a scalar value");
      return;
    }
    const bytes = v.value * BigInt(unit);
    if (bytes > BigInt(MAX_OUTPUT_BYTES)) {
      this.error(`RESx of ${bytes} bytes is too large`);
      return;
    }
    this.reserve(Number(bytes));
  }

  incbin(args: Token[]): void {
    const parts = splitTopLevel(args);
    if (parts.length === 0 || parts[0].length !== 1 || parts[0][0].kind !== "str") {
      this.error("`incbin' expects a file name string");
      return;
    }
    const name = new TextDecoder().decode(parts[0][0].bytes!);
    const resolver = this.options.resolver;
    const found = resolver?.readBinary(name, this.line.file) ?? null;
    if (!found) {
      this.error(`unable to open file \`${name}' for incbin`);
      return;
    }
    let skip = 0;
    let length = found.bytes.length;
    if (parts.length > 1) {
      const v = this.critical(parts[1], "`incbin' offset");
      if (v === null) return;
      skip = Math.min(Number(v < 0n ? 0n : v), found.bytes.length);
      length = found.bytes.length - skip;
    }
    if (parts.length > 2) {
      const v = this.critical(parts[2], "`incbin' length");
      if (v === null) return;
      length = Math.min(Number(v < 0n ? 0n : v), length);
    }
    this.emit(found.bytes.subarray(skip, skip + length));
  }

  // ---------------------------------------------------------------- struc and istruc

  /** `struc name`: NASM's standard macro enters absolute space at 0 with `name` as the label. */
  strucStart(args: Token[]): void {
    const parts = splitTopLevel(args);
    if (parts.length === 0 || parts[0].length !== 1 || parts[0][0].kind !== "id") {
      this.error("`struc' expects a structure name");
      return;
    }
    if (this.struc) {
      this.error("`struc' inside another `struc'");
      return;
    }
    let start = 0n;
    if (parts.length > 1) {
      const v = this.critical(parts[1], "`struc' offset");
      if (v === null) return;
      start = v;
    }
    this.struc = { name: parts[0][0].text, saved: this.section, savedAbsolute: this.absolute };
    this.absolute = start;
    this.defineLabel(parts[0][0].text);
  }

  strucEnd(): void {
    const s = this.struc;
    if (!s) {
      this.error("`endstruc' without `struc'");
      return;
    }
    const start = this.symbolValue(s.name, false);
    const size = this.absolute! - (start?.value ?? 0n);
    this.struc = null;
    this.defineConstant(`${s.name}_size`, { value: size, relocs: 0, unknown: false, regs: [] });
    this.absolute = s.savedAbsolute;
    if (s.saved) this.section = s.saved;
  }

  istrucStart(args: Token[]): void {
    if (args.length !== 1 || args[0].kind !== "id") {
      this.error("`istruc' expects a structure name");
      return;
    }
    this.istruc.push({ name: args[0].text, start: this.here });
  }

  /** `at field, data`: pad with zeros up to the field's offset, then assemble the data. */
  at(args: Token[]): void {
    const ist = this.istruc[this.istruc.length - 1];
    if (!ist) {
      this.error("`at' outside `istruc'");
      return;
    }
    const comma = topLevelComma(args);
    const fieldTokens = comma < 0 ? args : args.slice(0, comma);
    const field = this.critical(fieldTokens, "`at'");
    if (field === null) return;
    const base = this.symbolValue(ist.name, false);
    if (!base) {
      this.error(`structure \`${ist.name}' is not defined`);
      return;
    }
    const pad = Number(field - base.value) - (this.here - ist.start);
    if (pad < 0) {
      this.error("`at' field lies before data already emitted");
      return;
    }
    this.emit(new Uint8Array(pad));
    if (comma >= 0 && comma + 1 < args.length) this.statement(args.slice(comma + 1));
  }

  istrucEnd(): void {
    const ist = this.istruc.pop();
    if (!ist) {
      this.error("`iend' without `istruc'");
      return;
    }
    const size = this.symbolValue(`${ist.name}_size`, false);
    if (!size) {
      this.error(`\`${ist.name}_size' is not defined`);
      return;
    }
    const pad = Number(size.value) - (this.here - ist.start);
    if (pad < 0) {
      this.error(`\`istruc ${ist.name}' holds more than the structure's size`);
      return;
    }
    this.emit(new Uint8Array(pad));
  }

  // ---------------------------------------------------------------- instructions

  instruction(tokens: Token[]): void {
    const prefixes: string[] = [];
    let i = 0;
    while (i < tokens.length && tokens[i].kind === "id" && PREFIXES.has(tokens[i].text.toLowerCase())) {
      // `es` followed by `:` is not a prefix word; it cannot start an instruction anyway.
      prefixes.push(tokens[i].text.toLowerCase());
      i++;
    }
    let mnemonic = "";
    if (i < tokens.length) {
      const t = tokens[i];
      if (t.kind !== "id" || !isMnemonic(t.text.toLowerCase())) {
        this.error(`parser: instruction expected, found \`${t.text}'`);
        return;
      }
      mnemonic = t.text.toLowerCase();
      i++;
    } else if (prefixes.length > 0) {
      // A prefix alone on a line is emitted as its byte (NASM allows `rep` alone).
      mnemonic = "";
    }
    const operands: Operand[] = [];
    for (const part of splitTopLevel(tokens.slice(i))) {
      if (part.length === 0) {
        this.error("operand expected");
        return;
      }
      const op = this.operand(part);
      if (!op) return;
      operands.push(op);
    }
    if (mnemonic === "" && operands.length) {
      this.error("instruction expected after prefix");
      return;
    }
    const offset = this.absolute !== null ? this.absolute : this.sectionBase(this.section) + BigInt(this.here);
    const result = encode({
      mnemonic,
      operands,
      prefixes,
      bits: this.bits,
      offset,
      section: this.section.name,
    });
    if ("error" in result) {
      this.error(result.error);
      return;
    }
    for (const w of result.warnings) this.warn(w);
    if (operands.some((op) => (op.kind === "imm" && op.unknown) || (op.kind === "mem" && op.dispUnknown))) {
      this.reportUndefined(tokens.slice(i));
    }
    this.emit(result.bytes);
  }

  operand(tokens: Token[]): Operand | null {
    let i = 0;
    let size: Size | undefined;
    let strict = false;
    let jump: "short" | "near" | "far" | undefined;
    for (; i < tokens.length && tokens[i].kind === "id"; i++) {
      const w = tokens[i].text.toLowerCase();
      if (w in SIZE_KEYWORDS) {
        if (size !== undefined && size !== SIZE_KEYWORDS[w]) {
          this.error("conflicting operand size specifiers");
          return null;
        }
        size = SIZE_KEYWORDS[w];
      } else if (w === "strict") strict = true;
      else if (w === "short" || w === "near" || w === "far") jump = w;
      else break;
    }
    const rest = tokens.slice(i);
    if (rest.length === 0) {
      this.error("operand expected after size specifier");
      return null;
    }

    // Memory: `[...]`, `es:[...]`
    const bracket = rest.findIndex((t) => isOp(t, "["));
    if (bracket >= 0) {
      let segment: string | undefined;
      if (bracket === 2 && rest[0].kind === "id" && isOp(rest[1], ":")) {
        const reg = registerInfo(rest[0].text);
        if (!reg || reg.cls !== "sreg") {
          this.error(`invalid segment override \`${rest[0].text}'`);
          return null;
        }
        segment = rest[0].text.toLowerCase();
      } else if (bracket !== 0) {
        this.error("invalid memory operand");
        return null;
      }
      if (!isOp(rest[rest.length - 1], "]")) {
        this.error("expecting `]'");
        return null;
      }
      return this.memory(rest.slice(bracket + 1, -1), size, strict, jump, segment);
    }

    // Register.
    if (rest.length === 1 && rest[0].kind === "id" && registerInfo(rest[0].text)) {
      if (size !== undefined && registerInfo(rest[0].text)!.size !== size && registerInfo(rest[0].text)!.cls !== "sreg") {
        this.error("invalid combination of opcode and operands");
        return null;
      }
      return { kind: "reg", name: rest[0].text.toLowerCase() };
    }

    // Immediate, or a far pointer `seg:offset`.
    const ctx = this.exprContext();
    const r = parseExpression(rest, 0, ctx);
    if (r.error || !r.value) {
      this.error(r.error ?? "invalid operand");
      return null;
    }
    let segment: bigint | undefined;
    let v = r.value;
    if (r.next < rest.length) {
      if (!isOp(rest[r.next], ":")) {
        this.error(`junk \`${rest.slice(r.next).map((t) => t.text).join(" ")}' in operand`);
        return null;
      }
      const off = parseExpression(rest, r.next + 1, ctx);
      if (off.error || !off.value) {
        this.error(off.error ?? "invalid far pointer offset");
        return null;
      }
      if (off.next !== rest.length) {
        this.error("junk after far pointer");
        return null;
      }
      if (v.relocs !== 0) {
        this.error("a far pointer's segment must be a number");
        return null;
      }
      segment = v.value;
      v = off.value;
    }
    if (v.regs.length) {
      this.error("invalid operand: register in an expression");
      return null;
    }
    if (v.relocs !== 0 && v.relocs !== 1) {
      this.error("operand is not a simple address or number");
      return null;
    }
    return {
      kind: "imm",
      value: v.value,
      simple: !v.unknown && v.relocs === 0,
      unknown: v.unknown,
      section: v.relocs === 1 ? v.section : undefined,
      size,
      strict,
      jump,
      segment,
    };
  }

  memory(inner: Token[], size: Size | undefined, strict: boolean, jump: "short" | "near" | "far" | undefined,
    segment: string | undefined): MemOperand | null {
    let i = 0;
    let dispSize: 8 | 16 | 32 | undefined;
    let nosplit = false;
    for (; i < inner.length && inner[i].kind === "id"; i++) {
      const w = inner[i].text.toLowerCase();
      if (w === "byte") dispSize = 8;
      else if (w === "word") dispSize = 16;
      else if (w === "dword") dispSize = 32;
      else if (w === "nosplit") nosplit = true;
      else if (w === "abs" || w === "rel") continue;
      else break;
    }
    if (i + 1 < inner.length && inner[i].kind === "id" && isOp(inner[i + 1], ":")) {
      const reg = registerInfo(inner[i].text);
      if (!reg || reg.cls !== "sreg") {
        this.error(`invalid segment override \`${inner[i].text}'`);
        return null;
      }
      if (segment) {
        this.error("two segment overrides");
        return null;
      }
      segment = inner[i].text.toLowerCase();
      i += 2;
    }
    const exprTokens = inner.slice(i);
    if (exprTokens.length === 0) {
      this.error("empty memory reference");
      return null;
    }
    const r = parseExpression(exprTokens, 0, this.exprContext(true));
    if (r.error || !r.value) {
      this.error(r.error ?? "invalid effective address");
      return null;
    }
    if (r.next !== exprTokens.length) {
      this.error("invalid effective address");
      return null;
    }
    const v = r.value;
    if (v.relocs !== 0 && v.relocs !== 1) {
      this.error("invalid effective address: not a simple address");
      return null;
    }
    for (const term of v.regs) {
      const reg = registerInfo(term.reg);
      if (!reg || (reg.cls !== "r16" && reg.cls !== "r32")) {
        this.error("invalid effective address");
        return null;
      }
    }
    // NASM drops a zero displacement whether or not one was written ([eax+0]
    // is [eax]); only an address, an unknown or a bare number counts as one.
    const hasDisp = v.value !== 0n || v.relocs !== 0 || v.unknown || v.regs.length === 0;
    return {
      kind: "mem",
      size,
      strict,
      segment,
      regs: v.regs.filter((t) => t.scale !== 0n),
      disp: v.value,
      hasDisp,
      dispSimple: !v.unknown && v.relocs === 0,
      dispUnknown: v.unknown,
      dispSize,
      nosplit,
      eaHint: v.summed ? "summed" : v.hint?.notBase ? "notbase" : undefined,
      jump: jump === "short" ? undefined : jump,
    };
  }
}

/** Words inside operands that are not symbols. */
const OPERAND_KEYWORDS = new Set(["strict", "short", "near", "far", "nosplit", "abs", "rel", "seg", "wrt"]);

const DIRECTIVES = new Set([
  "bits", "use16", "use32", "org", "section", "segment", "absolute", "align", "alignb", "sectalign",
  "struc", "endstruc", "istruc", "iend", "global", "extern", "common", "static", "cpu", "default",
  "warning", "map", "float", "list", "nolist",
]);

function isOp(t: Token | undefined, text: string): boolean {
  return t !== undefined && t.kind === "op" && t.text === text;
}

/** Index of the first comma outside brackets and parentheses, or -1. */
function topLevelComma(tokens: Token[]): number {
  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.kind !== "op") continue;
    if (t.text === "(" || t.text === "[") depth++;
    else if (t.text === ")" || t.text === "]") depth--;
    else if (t.text === "," && depth === 0) return i;
  }
  return -1;
}

/** Splits a token list at top-level commas; an empty list gives no parts. */
function splitTopLevel(tokens: Token[]): Token[][] {
  if (tokens.length === 0) return [];
  const parts: Token[][] = [];
  let rest = tokens;
  for (let c = topLevelComma(rest); c >= 0; c = topLevelComma(rest)) {
    parts.push(rest.slice(0, c));
    rest = rest.slice(c + 1);
  }
  parts.push(rest);
  return parts;
}

/** Places the sections of a finished pass by NASM's bin rules; returns the address of each. */
function layout(pass: Pass): { placements: Map<string, Placement>; errors: string[] } {
  const placements = new Map<string, Placement>();
  const errors: string[] = [];
  const org = pass.org ?? 0n;
  const all = [...pass.sections.values()];
  const text = pass.sections.get(".text")!;
  const progbits = [text, ...all.filter((s) => s !== text && !s.nobits).sort((a, b) => a.declared - b.declared)];
  const nobits = all.filter((s) => s.nobits && s !== text).sort((a, b) => a.declared - b.declared);
  let end = org;
  const placeOne = (s: Section, after: bigint): bigint => {
    let address: bigint;
    if (s.start !== undefined) address = s.start;
    else {
      // `.text` starts at the origin (rounded up if it asked for alignment);
      // every other section after the one before it.
      const a = BigInt(s.align);
      const from = s === text ? org : after;
      address = ((from + a - 1n) / a) * a;
    }
    if (address < org && !s.nobits) errors.push(`section ${s.name} begins before program origin`);
    placements.set(s.name, { address, vaddress: s.vstart ?? address });
    return address + BigInt(s.size);
  };
  const ordered = [...progbits, ...nobits];
  // `follows=` chains move a section right behind the one it names.
  for (const s of ordered) {
    if (s.follows !== undefined && !pass.sections.has(s.follows)) errors.push(`section \`${s.follows}' named in follows= does not exist`);
  }
  const placed = new Set<string>();
  const place = (s: Section): void => {
    if (placed.has(s.name)) return;
    placed.add(s.name);
    if (s.follows !== undefined && pass.sections.has(s.follows)) {
      const prev = pass.sections.get(s.follows)!;
      place(prev);
      const p = placements.get(prev.name)!;
      const after = p.address + BigInt(prev.size);
      const e = placeOne(s, after);
      if (!s.nobits && e > end) end = e;
      return;
    }
    const e = placeOne(s, s.nobits ? end : end);
    if (e > end) end = e;
  };
  for (const s of progbits) place(s);
  for (const s of nobits) place(s);
  return { placements, errors };
}

/** Writes the progbits sections into one image, from the lowest address, zero-filling gaps. */
function image(pass: Pass, placements: Map<string, Placement>): { bytes: Uint8Array; error?: string } {
  const progbits = [...pass.sections.values()].filter((s) => !s.nobits && s.size > 0);
  if (progbits.length === 0) return { bytes: new Uint8Array(0) };
  // The file starts at the origin, even when the first section was aligned past it.
  const low = pass.org ?? 0n;
  let high = low;
  for (const s of progbits) {
    const p = placements.get(s.name)!.address;
    if (p < low) return { bytes: new Uint8Array(0), error: `section ${s.name} begins before program origin` };
    if (p + BigInt(s.size) > high) high = p + BigInt(s.size);
  }
  const size = high - low;
  if (size > BigInt(MAX_OUTPUT_BYTES)) return { bytes: new Uint8Array(0), error: "sections are too far apart for one flat image" };
  const out = new Uint8Array(Number(size));
  const sorted = progbits.slice().sort((a, b) => Number(placements.get(a.name)!.address - placements.get(b.name)!.address));
  let covered = low;
  for (const s of sorted) {
    const p = placements.get(s.name)!.address;
    if (p < covered) return { bytes: new Uint8Array(0), error: `sections overlap at address 0x${p.toString(16)} (section \`${s.name}')` };
    out.set(s.data.bytes.subarray(0, s.size), Number(p - low));
    covered = p + BigInt(s.size);
  }
  return { bytes: out };
}

function sameSymbols(a: Map<string, SymbolEntry>, b: Map<string, SymbolEntry>, resolve: (e: SymbolEntry) => bigint): boolean {
  if (a.size !== b.size) return false;
  for (const [name, e] of a) {
    const o = b.get(name);
    if (!o || resolve(o) !== resolve(e)) return false;
  }
  return true;
}

function hex(n: number, width: number): string {
  return n.toString(16).toUpperCase().padStart(width, "0");
}

/** NASM's listing layout: `%6d %08X %-24s source`, long data continued with a trailing `-`. */
function formatListing(entries: ListingEntry[]): string {
  const out: string[] = [];
  let n = 0;
  for (const e of entries) {
    n++;
    const num = String(n).padStart(6);
    const text = e.source.text.replace(/\s+$/, "");
    if (e.address === undefined) {
      out.push(`${num}${" ".repeat(34)}${text}`);
      continue;
    }
    const addr = hex(e.address >>> 0, 8);
    let field = e.bytes.map((b) => hex(b, 2)).join("");
    if (e.reserved > 0 && e.bytes.length === 0) field = `<res ${hex(e.reserved, 8)}>`;
    const chunks: string[] = [];
    for (let i = 0; i < field.length; i += 18) chunks.push(field.slice(i, i + 18));
    if (chunks.length === 0) chunks.push("");
    out.push(`${num} ${addr} ${(chunks[0] + (chunks.length > 1 ? "-" : "")).padEnd(24)}${text}`);
    for (let c = 1; c < chunks.length; c++) {
      out.push(`${num} ${hex((e.address + c * 9) >>> 0, 8)} ${(chunks[c] + (c < chunks.length - 1 ? "-" : "")).padEnd(24)}`);
    }
  }
  return out.join("\n") + "\n";
}

/**
 * Assembles NASM-syntax source to a flat binary, as `nasm -f bin` does.
 * Never throws on bad input: every problem is a diagnostic.
 */
export function assemble(source: string, options: AssembleOptions = {}): AssembleResult {
  const maxPasses = options.maxPasses ?? 32;
  let previous = new Map<string, SymbolEntry>();
  let placements = new Map<string, Placement>();
  let last: Pass | null = null;
  for (let passNo = 1; passNo <= maxPasses; passNo++) {
    // A pass is final when it reproduces the previous pass's symbols; we
    // only know that after running it, so every pass keeps its listing and
    // diagnostics and the last one's are reported.
    const pass = new Pass(options, previous, placements);
    pass.run(source);
    const laid = layout(pass);
    const resolve = (e: SymbolEntry): bigint => {
      if (e.offset !== undefined && e.section !== undefined) {
        const s = pass.sections.get(e.section)!;
        const p = laid.placements.get(e.section);
        return (s.vstart ?? p?.address ?? 0n) + BigInt(e.offset);
      }
      return e.value;
    };
    const stable = passNo > 1 && sameSymbols(pass.symbols, previous, resolve) && samePlacements(laid.placements, placements);
    last = pass;
    if (stable || pass.diagnostics.some((d) => d.severity === "error" && isFatal(d))) {
      return finish(pass, laid.placements, laid.errors);
    }
    previous = new Map([...pass.symbols].map(([k, e]) => [k, { ...e, value: resolve(e) }]));
    placements = laid.placements;
  }
  const diagnostics = last ? last.diagnostics.slice() : [];
  diagnostics.push({ file: options.file ?? "<input>", line: 0, severity: "error", message: `unable to settle the layout in ${maxPasses} passes` });
  return { bytes: new Uint8Array(0), symbols: new Map(), listing: "", diagnostics, ok: false };
}

function isFatal(d: Diagnostic): boolean {
  return d.message.startsWith("%fatal") || d.message.includes("output exceeds");
}

function samePlacements(a: Map<string, Placement>, b: Map<string, Placement>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, p] of a) {
    const o = b.get(name);
    if (!o || o.address !== p.address || o.vaddress !== p.vaddress) return false;
  }
  return true;
}

function finish(pass: Pass, placements: Map<string, Placement>, layoutErrors: string[]): AssembleResult {
  const diagnostics = pass.diagnostics.slice();
  for (const message of layoutErrors) diagnostics.push({ file: pass.options.file ?? "<input>", line: 0, severity: "error", message });
  const img = image(pass, placements);
  if (img.error) diagnostics.push({ file: pass.options.file ?? "<input>", line: 0, severity: "error", message: img.error });
  const symbols = new Map<string, number>();
  for (const [name, e] of pass.symbols) {
    let value = e.value;
    if (e.offset !== undefined && e.section !== undefined) {
      const s = pass.sections.get(e.section)!;
      value = (s.vstart ?? placements.get(e.section)?.address ?? 0n) + BigInt(e.offset);
    }
    symbols.set(name, Number(BigInt.asIntN(64, value)));
  }
  // Listing addresses are section offsets; NASM lists them the same way.
  const ok = !diagnostics.some((d) => d.severity === "error");
  return {
    bytes: ok ? img.bytes : new Uint8Array(0),
    symbols,
    listing: formatListing(pass.listing),
    diagnostics: dedupe(diagnostics),
    ok,
  };
}

function dedupe(list: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return list.filter((d) => {
    const key = `${d.file}:${d.line}:${d.severity}:${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export type { PreprocessedLine };
