// tools/asm/lex.ts — NASM's tokens for one source line after preprocessing.
//
// An assembly line is identifiers, numbers, strings and operators. The rules
// are NASM's scanner (nasm.us manual 3.1, 3.4): an identifier starts with a
// letter, `_`, `.`, `?` or `@` and continues with letters, digits and
// `_ $ # @ ~ . ?`; a `$` in front of an identifier makes it a symbol even if
// it spells a register or keyword (`$eax`). A number starts with a digit (or
// is `$` and a digit, old-style hex) and its whole run of letters, digits and
// underscores is read at once, then given a radix by prefix (`0x 0h 0d 0t 0q
// 0o 0b 0y`) or suffix (`h x d t q o b y`) as NASM's readnum does: the two
// are only both honoured when they differ, so `0bh` is 11 and `0x10h` is an
// error. Values wrap to 64 bits.
//
// Strings come in three quotes: '...' and "..." hold their bytes verbatim,
// `...` understands C escapes (manual 3.4.2). A string's bytes are the UTF-8
// encoding of the text, as NASM reads its source as bytes.

export type TokenKind = "id" | "num" | "str" | "op" | "float";

export interface Token {
  kind: TokenKind;
  /** Exactly as written (for "str" including the quotes; for a `$`-escaped
   * identifier without the `$`). */
  text: string;
  /** "num": the number, wrapped to 64 bits (two's complement, unsigned view). */
  value?: bigint;
  /** "str": the decoded contents. */
  bytes?: Uint8Array;
  /** "id": written with a leading `$`, so never a register or keyword. */
  symbol?: boolean;
}

/** Operators, longest first so that a longest match is the first match. */
const OPERATORS = [
  "<=>", "<<<", ">>>",
  "//", "%%", "<<", ">>", "&&", "||", "^^", "==", "!=", "<>", "<=", ">=", "$$",
  "+", "-", "*", "/", "%", "&", "|", "^", "~", "!", "=", "<", ">",
  "(", ")", "[", "]", ",", ":", "?", "$", "{", "}",
];

export function isIdStart(c: string): boolean {
  return /[A-Za-z_.?@]/.test(c);
}

export function isIdChar(c: string): boolean {
  return /[A-Za-z0-9_$#@~.?]/.test(c);
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= "0" && c <= "9";
}

function radixLetter(c: string): number {
  switch (c.toLowerCase()) {
    case "b": case "y": return 2;
    case "q": case "o": return 8;
    case "d": case "t": return 10;
    case "h": case "x": return 16;
    default: return 0;
  }
}

/**
 * NASM's readnum: the text of one number token (a run of letters, digits,
 * `_` and `$`) to its 64-bit value, or undefined when it is not a number.
 */
export function readNumber(text: string): bigint | undefined {
  let r = 0;
  let q = text.length;
  const len = q;
  if (len === 0) return undefined;
  let pradix = 0, plen = 0, sradix = 0, slen = 0;
  if (len > 2 && text[0] === "0" && (pradix = radixLetter(text[1]!)) !== 0) plen = 2;
  else if (len > 1 && text[0] === "$") { pradix = 16; plen = 1; }
  if (len > 1 && (sradix = radixLetter(text[q - 1]!)) !== 0) slen = 1;
  let radix: number;
  if (pradix > sradix) { radix = pradix; r += plen; }
  else if (sradix > pradix) { radix = sradix; q -= slen; }
  else radix = 10;
  let result = 0n;
  const big = BigInt(radix);
  for (; r < q; r++) {
    const c = text[r]!;
    if (c === "_") continue;
    const digit = parseInt(c, 36);
    if (Number.isNaN(digit) || digit >= radix) return undefined;
    result = result * big + BigInt(digit);
  }
  return BigInt.asUintN(64, result);
}

const utf8 = new TextEncoder();

function utf8Of(codePoint: number): number[] {
  return Array.from(utf8.encode(String.fromCodePoint(codePoint)));
}

/**
 * The bytes of a backquoted string's body (between the quotes), with NASM's
 * escapes: \' \" \` \\ \? \a \b \t \n \v \f \r \e, octal \ooo (up to three
 * digits), hex \xHH (up to two), \uHHHH and \UHHHHHHHH as UTF-8. A backslash
 * before any other character stands for that character.
 */
export function unescapeBackquoted(body: string): Uint8Array {
  const out: number[] = [];
  const simple: Record<string, number> = {
    "'": 0x27, '"': 0x22, "`": 0x60, "\\": 0x5c, "?": 0x3f,
    a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, e: 27,
  };
  for (let i = 0; i < body.length; ) {
    const c = body[i]!;
    if (c !== "\\" || i + 1 >= body.length) {
      const cp = body.codePointAt(i)!;
      out.push(...utf8Of(cp));
      i += cp > 0xffff ? 2 : 1;
      continue;
    }
    const e = body[i + 1]!;
    i += 2;
    if (e in simple) {
      out.push(simple[e]!);
    } else if (e >= "0" && e <= "7") {
      let v = parseInt(e, 8);
      for (let n = 0; n < 2 && i < body.length && /[0-7]/.test(body[i]!); n++) v = v * 8 + parseInt(body[i++]!, 8);
      out.push(v & 0xff);
    } else if (e === "x" || e === "X") {
      let v = 0, n = 0;
      for (; n < 2 && i < body.length && /[0-9A-Fa-f]/.test(body[i]!); n++) v = v * 16 + parseInt(body[i++]!, 16);
      out.push(v);
    } else if (e === "u" || e === "U") {
      const max = e === "u" ? 4 : 8;
      let v = 0, n = 0;
      for (; n < max && i < body.length && /[0-9A-Fa-f]/.test(body[i]!); n++) v = v * 16 + parseInt(body[i++]!, 16);
      out.push(...(v <= 0x10ffff ? utf8Of(v) : []));
    } else {
      const cp = body.codePointAt(i - 1)!;
      out.push(...utf8Of(cp));
      if (cp > 0xffff) i++;
    }
  }
  return Uint8Array.from(out);
}

/** Where the string starting with a quote at `start` ends (index after the
 * closing quote), or -1 when it is not closed on this line. */
export function scanString(text: string, start: number): number {
  const quote = text[start]!;
  for (let i = start + 1; i < text.length; i++) {
    if (quote === "`" && text[i] === "\\") { i++; continue; }
    if (text[i] === quote) return i + 1;
  }
  return -1;
}

/** The decoded contents of a string token's text (quotes included). */
export function stringBytes(text: string): Uint8Array {
  const body = text.slice(1, -1);
  return text[0] === "`" ? unescapeBackquoted(body) : utf8.encode(body);
}

/**
 * NASM's scanner for a number starting at `start` (a digit, or `$` and a
 * digit): the whole run is one token. An `e` followed by a sign, a `p`, a
 * `.`, or an `e` in a number that is not hex make it floating-point.
 */
export function scanNumber(text: string, start: number): { end: number; isFloat: boolean } {
  let j = start;
  let isHex = false, isFloat = false, hasE = false;
  if (text[j] === "$") { j++; isHex = true; }
  for (;;) {
    const d = text[j];
    if (d === undefined) break;
    if (!isHex && (d === "e" || d === "E")) {
      hasE = true;
      j++;
      if (text[j] === "+" || text[j] === "-") { isFloat = true; j++; }
    } else if (d === "h" || d === "H" || d === "x" || d === "X") {
      isHex = true; j++;
    } else if (d === "p" || d === "P") {
      isFloat = true; j++;
      if (text[j] === "+" || text[j] === "-") j++;
    } else if (/[A-Za-z0-9_]/.test(d)) {
      j++;
    } else if (d === ".") {
      isFloat = true; j++;
    } else break;
  }
  if (hasE && !isHex) isFloat = true;
  return { end: j, isFloat };
}

/** The operator written at `pos` (longest match), if any. */
export function matchOperator(text: string, pos: number): string | undefined {
  return OPERATORS.find((o) => text.startsWith(o, pos));
}

export function tokenize(text: string): { tokens: Token[]; error?: string } {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === " " || c === "\t" || c === "\r" || c === "\n" || c === "\f" || c === "\v") { i++; continue; }
    if (c === ";") break;

    if (isIdStart(c) || (c === "$" && i + 1 < text.length && isIdStart(text[i + 1]!))) {
      const escaped = c === "$";
      let j = escaped ? i + 1 : i;
      const start = j;
      while (j < text.length && isIdChar(text[j]!)) j++;
      const name = text.slice(start, j);
      i = j;
      // A lone `?` is the operator of `a ? b : c` (and `db ?`), not a name.
      if (name === "?" && !escaped) { tokens.push({ kind: "op", text: "?" }); continue; }
      const tok: Token = { kind: "id", text: name };
      if (escaped) tok.symbol = true;
      tokens.push(tok);
      continue;
    }

    if (isDigit(c) || (c === "$" && isDigit(text[i + 1]))) {
      const { end: j, isFloat } = scanNumber(text, i);
      const written = text.slice(i, j);
      i = j;
      if (isFloat) { tokens.push({ kind: "float", text: written }); continue; }
      const value = readNumber(written);
      if (value === undefined) return { tokens, error: `invalid number \`${written}'` };
      tokens.push({ kind: "num", text: written, value });
      continue;
    }

    if (c === "'" || c === '"' || c === "`") {
      const end = scanString(text, i);
      if (end < 0) return { tokens, error: `unterminated string` };
      const written = text.slice(i, end);
      tokens.push({ kind: "str", text: written, bytes: stringBytes(written) });
      i = end;
      continue;
    }

    const op = matchOperator(text, i);
    if (op === undefined) return { tokens, error: `unexpected character \`${c}'` };
    tokens.push({ kind: "op", text: op });
    i += op.length;
  }
  return { tokens };
}

/** The line up to its comment: the first `;` outside a string. An unclosed
 * string runs to the end of the line. */
export function stripComment(line: string): string {
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === ";") return line.slice(0, i);
    if (c === "'" || c === '"' || c === "`") {
      const end = scanString(line, i);
      if (end < 0) return line;
      i = end - 1;
    }
  }
  return line;
}
