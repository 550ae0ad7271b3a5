// test/tools/asm/lex.test.ts — NASM's tokens, one form per test; the values
// were checked against `nasm -f bin` 2.16.01.

import { describe, expect, it } from "vitest";
import { stripComment, tokenize, type Token } from "../../../tools/asm/lex.js";

function tokens(text: string): Token[] {
  const r = tokenize(text);
  expect(r.error).toBeUndefined();
  return r.tokens;
}

function num(text: string): bigint | undefined {
  const t = tokens(text);
  expect(t).toHaveLength(1);
  expect(t[0]!.kind).toBe("num");
  return t[0]!.value;
}

function bytes(text: string): number[] {
  const t = tokens(text);
  expect(t).toHaveLength(1);
  expect(t[0]!.kind).toBe("str");
  return Array.from(t[0]!.bytes!);
}

describe("identifiers", () => {
  it("reads NASM's identifier characters, including a leading dot, ? and @", () => {
    expect(tokens("mov .loop ?x @@a ..@3.again a$b#c~d").map((t) => t.text))
      .toEqual(["mov", ".loop", "?x", "@@a", "..@3.again", "a$b#c~d"]);
  });

  it("makes $name a symbol, spelled without the $, so $eax is not a register", () => {
    const [t] = tokens("$eax");
    expect(t).toEqual({ kind: "id", text: "eax", symbol: true });
  });

  it("reads a lone ? as the operator of ?:", () => {
    expect(tokens("a ? b : c").map((t) => t.kind)).toEqual(["id", "op", "id", "op", "id"]);
  });

  it("keeps $ and $$ as operators", () => {
    expect(tokens("$ - $$").map((t) => [t.kind, t.text])).toEqual([["op", "$"], ["op", "-"], ["op", "$$"]]);
  });
});

describe("numbers", () => {
  it("reads decimal with and without radix marks", () => {
    expect([num("123"), num("123d"), num("0d123"), num("123t"), num("0t123")]).toEqual([123n, 123n, 123n, 123n, 123n]);
  });

  it("reads hex as 0x, 0h, a trailing h or x, and $ with a digit", () => {
    expect([num("0x1F"), num("0h1f"), num("1Fh"), num("$1F"), num("10x"), num("0FFh")]).toEqual([31n, 31n, 31n, 31n, 16n, 255n]);
  });

  it("reads binary and octal in every spelling", () => {
    expect([num("0b101"), num("101b"), num("0y101"), num("101y")]).toEqual([5n, 5n, 5n, 5n]);
    expect([num("17q"), num("17o"), num("0q17"), num("0o17")]).toEqual([15n, 15n, 15n, 15n]);
  });

  it("ignores underscores inside a number", () => {
    expect([num("1_000"), num("1__2"), num("0x_ff_ff")]).toEqual([1000n, 12n, 0xffffn]);
  });

  it("lets a suffix win over a prefix of a different radix, as readnum does: 0bh is 11", () => {
    expect(num("0bh")).toBe(11n);
  });

  it("treats 0x and 0b alone as the suffixed number 0", () => {
    expect([num("0x"), num("0b")]).toEqual([0n, 0n]);
  });

  it("wraps values to 64 bits", () => {
    expect(num("18446744073709551617")).toBe(1n);
    expect(num("0xFFFFFFFFFFFFFFFF")).toBe(0xffffffffffffffffn);
  });

  it("rejects a number followed by junk", () => {
    expect(tokenize("12xz").error).toMatch(/invalid number/);
    expect(tokenize("0x10h").error).toMatch(/invalid number/);
    expect(tokenize("12h_").error).toMatch(/invalid number/);
  });

  it("lexes floating-point forms as floats, but 1eh as hex", () => {
    expect(tokens("1.5 1e3 0x1p3 1e+5").map((t) => t.kind)).toEqual(["float", "float", "float", "float"]);
    expect(num("1eh")).toBe(0x1en);
  });
});

describe("strings", () => {
  it("keeps single- and double-quoted strings verbatim", () => {
    expect(bytes(`'a\\n"'`)).toEqual([0x61, 0x5c, 0x6e, 0x22]);
    expect(bytes(`"a\\"`)).toEqual([0x61, 0x5c]);
  });

  it("processes C escapes in backquoted strings", () => {
    expect(bytes("`a\\qb\\x41\\101\\u00e9\\e`")).toEqual([0x61, 0x71, 0x62, 0x41, 0x41, 0xc3, 0xa9, 0x1b]);
    expect(bytes("`\\n\\t\\0\\\\\\``")).toEqual([10, 9, 0, 0x5c, 0x60]);
  });

  it("reads at most two hex and three octal digits of an escape", () => {
    expect(bytes("`\\xfff`")).toEqual([0xff, 0x66]);
    expect(bytes("`\\1234`")).toEqual([0x53, 0x34]);
  });

  it("encodes non-ASCII text as UTF-8", () => {
    expect(bytes("'é'")).toEqual([0xc3, 0xa9]);
  });

  it("reports an unterminated string", () => {
    expect(tokenize("db 'abc").error).toMatch(/unterminated/);
    expect(tokenize("db `abc\\`").error).toMatch(/unterminated/);
  });
});

describe("operators", () => {
  it("matches the longest operator", () => {
    expect(tokens("a<=>b<<<c>>>d//e%%f<<g>>h&&i||j^^k==l!=m<>n<=o>=p").filter((t) => t.kind === "op").map((t) => t.text))
      .toEqual(["<=>", "<<<", ">>>", "//", "%%", "<<", ">>", "&&", "||", "^^", "==", "!=", "<>", "<=", ">="]);
  });

  it("splits a memory operand into its parts", () => {
    expect(tokens("mov eax, [es:ebx+esi*4-8]").map((t) => t.text))
      .toEqual(["mov", "eax", ",", "[", "es", ":", "ebx", "+", "esi", "*", "4", "-", "8", "]"]);
  });

  it("stops at a comment", () => {
    expect(tokens("inc eax ; one more").map((t) => t.text)).toEqual(["inc", "eax"]);
  });

  it("rejects characters NASM does not know", () => {
    expect(tokenize("a \\ b").error).toMatch(/unexpected character/);
  });
});

describe("stripComment", () => {
  it("cuts at the first semicolon outside a string", () => {
    expect(stripComment("db ';', \";\", `\\`;` ; real")).toBe("db ';', \";\", `\\`;` ");
  });

  it("leaves a line without a comment alone", () => {
    expect(stripComment("mov eax, 1")).toBe("mov eax, 1");
  });

  it("lets an unclosed string run to the end of the line", () => {
    expect(stripComment("db 'abc ; def")).toBe("db 'abc ; def");
  });
});
