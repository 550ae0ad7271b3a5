// test/tools/asm/preprocess.test.ts — NASM's preprocessor, checked two ways:
// against `nasm -E` where NASM is installed (the output, modulo whitespace
// and NASM's %line markers, must be the same), and by plain expectations
// that run anywhere.

import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { FileResolver } from "../../../tools/asm/diagnostic.js";
import type { SymbolValue } from "../../../tools/asm/expr.js";
import { Preprocessor, preprocess, type PreprocessOptions } from "../../../tools/asm/preprocess.js";

const hasNasm = (() => {
  try {
    execFileSync("nasm", ["-v"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

/** Lines without NASM's %line markers and blank lines, whitespace reduced
 * to single spaces between words and dropped next to punctuation. */
function normalize(lines: string[]): string[] {
  return lines
    .filter((l) => !l.startsWith("%line"))
    .map((l) => l.replace(/\s*([^\w\s.$@?#~'"`])\s*/g, "$1").replace(/\s+/g, " ").trim())
    .filter((l) => l !== "");
}

function nasmE(source: string, files: Record<string, string> = {}, defines: Record<string, string> = {}): string[] {
  const dir = mkdtempSync(join(tmpdir(), "pp-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  writeFileSync(join(dir, "main.asm"), source);
  const args = ["-E", ...Object.entries(defines).map(([k, v]) => (v === "" ? `-D${k}` : `-D${k}=${v}`)), "main.asm"];
  let out: string;
  try {
    out = execFileSync("nasm", args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    out = (e as { stdout: string }).stdout;
  }
  return normalize(out.split("\n"));
}

function resolverOf(files: Record<string, string>): FileResolver {
  return {
    readText: (name) => (name in files ? { file: name, text: files[name]! } : null),
    readBinary: () => null,
  };
}

function run(source: string, options: Partial<PreprocessOptions> = {}) {
  return preprocess(source, { file: "main.asm", ...options });
}

/** The expanded, non-empty lines. */
function pp(source: string, options: Partial<PreprocessOptions> = {}): string[] {
  return normalize(run(source, options).lines.map((l) => l.text));
}

function messages(source: string, options: Partial<PreprocessOptions> = {}): string[] {
  return run(source, options).diagnostics.map((d) => `${d.line}: ${d.severity}: ${d.message}`);
}

// ---------------------------------------------------------------- against nasm -E

const NASM_CASES: Record<string, string> = {
  "single-line macros rescan with the rest of the line and stop at themselves": `
%define a b
%define b a
x a b
%define f g
%define g(x) x+1
f(2)
%define h(x) [x]
h(h(3))
%define k k+1
k
%define t1 t2
%define t2(x) x*2
t1 (4)
`,
  "%xdefine expands at definition, %define at use": `
%define a 1
%xdefine xa a
%define la a
%define a 99
xa la
%xdefine xx 1
%xdefine xx xx+1
xx
%define yy 1
%define yy yy+1
yy
`,
  "macro arguments group with parentheses and braces": `
%define p(x, y) x - y
p((1,2),3)
p({1,2},3)
%define Q(x) x
Q(1) Q (2) Q()
%define E() e
E() E
%define g(a,b+) [a|b]
g(1,2,3)
%define st(&x) x
st(hello world)
%define ev(=x) x
ev(3*4)
`,
  "%+ and %[...] paste tokens": `
%assign v 3
exc_stub_ %+ v:
%define w 3
pre%[w]post
pre %+ w
%assign q 10
%xdefine cat pre %+ q %+ post
cat
%define e1 %[q]
%assign q 11
e1
`,
  "%assign computes integers, negative ones included": `
%assign n -5
n
%assign n2 0-n
n2
%assign A 5*3+1
%iassign B 0x10
A B b
%define E 2+3
%assign C E*2
C
`,
  "string functions": `
%define S 'hi'
%strlen L S
%strlen L2 'abc'
%substr s1 'hello' 2
%substr s2 'hello' 2,3
%substr s4 'hello' 2,-1
%substr s5 'hello' 9
%strcat sc 'a', "b", 'c"d'
%defstr ds foo bar  baz
%deftok dt 'mov eax, 1'
L L2 s1 s2 s4 s5 sc ds
dt
%strcat S2 'ab', "'"
S2
`,
  "multi-line macros: counts, defaults, greedy, labels, locals": `
%macro m 1-3 a,b
  db %0, %1, %2, %3
%endmacro
m x
m x, y
m x, y, z
m (p,q), {r, s}
%macro m2 1-3 a
  db %0, %1, %2, %3
%endmacro
m2 x
%macro g 1+
  dd %1
%endmacro
g 1, 2, 3
lbl: g 4
lbl2 g 5
%macro two 2+
 %1 | %2
%endmacro
two a, b, c
%macro loc 0
%%here: jmp %%here
%endmacro
loc
loc
%macro lab 1
%00: db %1
%endmacro
mylabel: lab 7
%macro big 10
 db %{10}, %10, %9
%endmacro
big 1,2,3,4,5,6,7,8,9,10
%macro qm 1
 %? %?? %00
%endmacro
here: qm 1
`,
  "overloading, %unmacro, case and wrong counts": `
%macro ov 1
 one %1
%endmacro
%macro ov 2
 two %1 %2
%endmacro
ov a
ov a,b
%unmacro ov 1
ov a
%macro m0 0
 zero
%endmacro
m0
  M0
%imacro im 0
 imac
%endmacro
IM
%macro cnt 0-*
 db %0
%endmacro
cnt (a,b), c
cnt a,
cnt ,
cnt
cnt {a,b},{}
`,
  "%rotate and %rep inside a macro": `
%macro rot 3
%rep 3
 db %1
 %rotate 1
%endrep
%endmacro
rot 1,2,3
%macro va 1-*
 db %0 %1
%rotate -1
 db %1
%endmacro
va 1,2,3
%macro dm 2-3 9
 db %0
%rotate 1
 db %1,%2,%3
%endmacro
dm 1,2
%macro pst 2
 pre%1post %1%2 %2.x %1_%2
 x%[%1]y
%endmacro
pst ab, cd
pst , cd
`,
  "macros that define macros and single-line macros": `
%macro defm 1
%macro %1_m 0
 db '%1'
%endmacro
%endmacro
defm abc
abc_m
%macro dl 1
%define %1_val %1*2
%endmacro
dl abc
abc_val
%macro outer 2
 inner %2, %1
%endmacro
%macro inner 2
 db %1 - %2
%endmacro
outer 1, 2
`,
  "%rep nests, counts %assign and stops at %exitrep": `
%assign i 0
%rep 3
 %assign j 0
 %rep 2
  db i, j
  %assign j j+1
 %endrep
 %assign i i+1
%endrep
%assign i 0
%rep 10
%if i = 3
%exitrep
%endif
db i
%assign i i+1
%endrep
%rep 0
 never
%endrep
%macro loc 0
%%x:
%endmacro
%rep 2
loc
%endrep
`,
  "conditionals of every kind": `
%assign A 16
%if 1
 yes1
%elif 2
 no
%else
 no
%endif
%if 0
 no
%elif A > 10
 yes2
%endif
%ifidn a, a
 yes3
%endif
%ifidni a, B
 no
%endif
%ifnidn a, A
 yes5
%endif
%ifnum 12
 yes6
%endif
%ifstr 'x'
 yes7
%endif
%ifid foo
 yes8
%endif
%ifempty
 yes9
%endif
%ifdef A
 yes11
%endif
%ifndef ZZZ
 yes12
%elifdef A
 no
%endif
%ifidn 'a', "a"
 yes13
%endif
%ifidn a+b, a + b
 yes14
%endif
%ifnstr foo
 yes15
%endif
%if (1 << 3) == 8 && ~0 == -1
 yes16
%endif
%ifnidni foo, FOO
 no
%else
 yes17
%endif
%macro mm 1
%endmacro
%ifmacro mm
 yes18
%endif
%ifmacro mm 1
 yes19
%endif
%ifmacro mm 2
 no
%endif
%if 0
 %if 1
  no
 %else
  no
 %endif
%endif
`,
  "context stack and context-local names": `
%push foo
%$a: %$$b
%macro loc 0
%%x:
%endmacro
loc
%push bar
%$a: %$$a
%repl baz
%$c
%pop
%pop
loc
%push one
%define %$v 1
%push two
%define %$v 2
%$v %$$v %{$v}_x %{$$v}_y
%ifdef %$v
 defd
%endif
%ifctx two
 ctx2
%endif
%pop
%pop
%macro ctxm 0
%push ctxm
%define %$v 42
%$lbl: dd %$v
%pop
%endmacro
ctxm
ctxm
`,
  "standard macros: sections, struc, istruc, align": `
bits 32
section .data
struc point
  .x: resd 1
  .y: resd 1
endstruc
struc hdr, 8
  h_a resb 1
  alignb 4
  h_b resd 1
endstruc
pt: istruc point
  at .x, dd 1
  at .y, dd 2
iend
section .text
align 16
align 8, db 0
absolute 0x100
buf: resb 4
section .bss
alignb 16
global start, other
extern foo
org 0x7c00
use16
`,
  "line continuation, comments and builtins": `
long \\
  line
%define bs(x) x + \\
  1
bs(2)
c ; a comment \\
swallowed
mov eax, 5 %% 3 ; kept operator
__LINE__ __?LINE?__
$foo
`,
};

describe("the same output as nasm -E", () => {
  for (const [name, source] of Object.entries(NASM_CASES)) {
    it.skipIf(!hasNasm)(name, () => {
      expect(pp(source, { standardMacros: true })).toEqual(nasmE(source));
    });
  }

  it.skipIf(!hasNasm)("includes a file found by the resolver", () => {
    const files = { "inc1.inc": "inc_line\n%define INCDEF 7\n" };
    const source = `%include "inc1.inc"\nINCDEF\n`;
    expect(pp(source, { resolver: resolverOf(files) })).toEqual(nasmE(source, files));
  });

  it.skipIf(!hasNasm)("honours -D definitions", () => {
    const source = "%ifndef SCALE\n%define SCALE 1\n%endif\n%ifdef FLAG\nflag\n%endif\ndd SCALE*2\n";
    const defines = { SCALE: "3", FLAG: "" };
    expect(pp(source, { defines })).toEqual(nasmE(source, {}, defines));
  });
});

describe("bench.asm", () => {
  const path = "../shared/bench/bench.asm";
  const present = existsSync(path);
  if (!present) it.skip(`${path} is absent`, () => {});
  const variants: Record<string, string>[] = [{}, { SCALE: "3" }, { ONLY: "5" }];
  for (const defines of variants) {
    it.skipIf(!present || !hasNasm)(`preprocesses like nasm -E with ${JSON.stringify(defines)}`, () => {
      const source = readFileSync(path, "utf8");
      const mine = run(source, { file: path, defines, standardMacros: true });
      expect(mine.diagnostics).toEqual([]);
      expect(normalize(mine.lines.map((l) => l.text))).toEqual(nasmE(source, {}, defines));
    });
  }

  it.skipIf(!present)("leaves bits, org and align to the assembler without standard macros", () => {
    const mine = run(readFileSync(path, "utf8"), { file: path, defines: { ONLY: "5" } });
    expect(mine.diagnostics).toEqual([]);
    const text = mine.lines.map((l) => l.text);
    expect(text).toContain("bits 32");
    expect(text).toContain("exc_stub_31:");
    expect(text.filter((l) => l.includes("call run_workload")).length).toBe(2);
  });
});

// ---------------------------------------------------------------- plain expectations

describe("single-line macros", () => {
  it("expands a macro with parameters", () => {
    expect(pp("%define f(a,b) ((a)+(b))\nmov eax, f(1, 2)")).toEqual(["mov eax,((1)+(2))"]);
  });

  it("stops at a macro that refers to itself", () => {
    expect(pp("%define k k+1\nk")).toEqual(["k+1"]);
  });

  it("does not expand inside strings or comments", () => {
    expect(run("%define X 5\ndb 'X' ; X").lines[0]!.text).toBe("db 'X'");
  });

  it("is case-sensitive, except %idefine", () => {
    expect(pp("%define a 1\n%idefine b 2\na A b B")).toEqual(["1 A 2 2"]);
  });

  it("forgets a macro at %undef", () => {
    expect(pp("%define a 1\n%undef a\na")).toEqual(["a"]);
  });

  it("pastes %+ with an %assign'd number, as bench.asm's exception stubs do", () => {
    expect(pp("%assign v 0\n%rep 3\nexc_stub_ %+ v:\n%assign v v+1\n%endrep")).toEqual(["exc_stub_0:", "exc_stub_1:", "exc_stub_2:"]);
  });

  it("warns about a call with the wrong number of arguments and leaves it", () => {
    const r = run("%define p(x, y) x\np(1)");
    expect(r.lines[0]!.text).toBe("p(1)");
    expect(r.diagnostics[0]!.message).toBe("single-line macro `p' exists, but not taking 1 parameter");
  });

  it("reports a runaway expansion instead of hanging", () => {
    const lines = ["%define a0 x"];
    for (let i = 1; i <= 24; i++) lines.push(`%define a${i} a${i - 1} a${i - 1}`);
    lines.push("a24");
    expect(messages(lines.join("\n"))[0]).toMatch(/expansion too large/);
  });
});

describe("string directives", () => {
  it("makes a string of an %assign'd number, as bench.asm's banner does", () => {
    expect(pp("%assign N 8000000*3\n%defstr S N\ndb S")).toEqual(["db '24000000'"]);
  });

  it("measures, cuts and joins strings", () => {
    expect(pp("%strlen l 'abc'\n%substr s 'hello' 2,3\n%strcat c 'a', \"'\"\nl s c")).toEqual([`3 'ell' "a'"`]);
  });

  it("turns a string into tokens with %deftok", () => {
    expect(pp("%deftok t 'mov eax, 1'\nt")).toEqual(["mov eax,1"]);
  });
});

describe("multi-line macros", () => {
  it("makes %%labels unique per call, in NASM's ..@N. form", () => {
    expect(pp("%macro w 0\n%%again: jmp %%again\n%endmacro\nw\nw")).toEqual(["..@0.again:jmp ..@0.again", "..@1.again:jmp ..@1.again"]);
  });

  it("fills in default parameters and counts them in %0", () => {
    expect(pp("%macro m 1-3 a,b\ndb %0, %1, %2, %3\n%endmacro\nm x")).toEqual(["db 3,x,a,b"]);
  });

  it("gives a greedy last parameter the rest of the line", () => {
    expect(pp("%macro g 1+\ndd %1\n%endmacro\ng 1, 2, 3")).toEqual(["dd 1,2,3"]);
  });

  it("emits a label before the call as a line of its own", () => {
    expect(pp("%macro m 0\nnop\n%endmacro\nstart: m")).toEqual(["start:", "nop"]);
  });

  it("warns about a call with the wrong number of parameters and leaves the line", () => {
    const r = run("%macro m 2\n%endmacro\nm 1");
    expect(r.lines.map((l) => l.text)).toEqual(["m 1"]);
    expect(r.diagnostics).toEqual([
      { file: "main.asm", line: 3, severity: "warning", message: "multi-line macro `m' exists, but not taking 1 parameter" },
    ]);
  });

  it("does not expand a macro inside itself", () => {
    expect(pp("%macro m 0\nm\n%endmacro\nm")).toEqual(["m"]);
  });

  it("stops a runaway %rmacro recursion with an error", () => {
    expect(messages("%rmacro r 0\nr\n%endmacro\nr")).toContain("4: error: interminable multiline macro recursion");
  });

  it("reports lines of a macro at the line that called it", () => {
    const r = run("%macro m 0\nnop\nhlt\n%endmacro\n\nm");
    expect(r.lines.map((l) => [l.text, l.line])).toEqual([["", 5], ["nop", 6], ["hlt", 6]]);
  });

  it("reports a %error in a macro at the call", () => {
    expect(messages("%macro m 0\n%error inside\n%endmacro\nm")).toEqual(["4: error: inside"]);
  });
});

describe("%rep", () => {
  it("runs nested loops with %assign, as bench.asm's Fibonacci does", () => {
    const src = "%assign fa 0\n%assign fb 1\n%rep 30\n%assign ft fa+fb\n%assign fa fb\n%assign fb ft\n%endrep\ndd fa, fb";
    expect(pp(src)).toEqual(["dd 832040,1346269"]);
  });

  it("reports lines of a %rep at their own line in the body", () => {
    const r = run("%rep 2\nnop\n%endrep");
    expect(r.lines.map((l) => [l.text, l.line])).toEqual([["nop", 2], ["nop", 2]]);
  });

  it("refuses a repeat count beyond its limit", () => {
    expect(messages("%rep 100000000\nnop\n%endrep")[0]).toMatch(/exceeds the limit/);
  });
});

describe("conditionals", () => {
  it("tests an assembler symbol through lookupSymbol", () => {
    const symbols: Record<string, SymbolValue> = { SIZE: { value: 64n, relocs: 0 } };
    expect(pp("%if SIZE > 32\nbig\n%else\nsmall\n%endif", { lookupSymbol: (n) => symbols[n] })).toEqual(["big"]);
  });

  it("asks for symbols only when it reaches the %if (pull model)", () => {
    const defined = new Map<string, SymbolValue>();
    const p = new Preprocessor("X equ 1\n%if X\nyes\n%endif", { file: "main.asm", lookupSymbol: (n) => defined.get(n) });
    expect(p.next()!.text).toBe("X equ 1");
    defined.set("X", { value: 1n, relocs: 0 });
    expect(p.next()!.text).toBe("yes");
    expect(p.next()).toBeNull();
    expect(p.diagnostics).toEqual([]);
  });

  it("reports an undefined symbol in %if", () => {
    expect(messages("%if zz\n%endif")).toEqual(["1: error: symbol `zz' not defined before use"]);
  });

  it("reports division by zero", () => {
    expect(messages("%if 1/0\n%endif")).toEqual(["1: error: division by zero"]);
  });

  it("reports an unterminated %if at its line", () => {
    expect(messages("%if 1\nnop")).toEqual(["1: error: expected `%endif' before end of file"]);
  });

  it("reports %endif and %else without %if", () => {
    expect(messages("%endif\n%else")).toEqual(["1: error: `%endif': no matching `%if'", "2: error: `%else': no matching `%if'"]);
  });
});

describe("definitions that do not end", () => {
  it("reports an unterminated %macro", () => {
    expect(messages("%macro u 0\nnop")).toEqual(["1: error: end of file while still defining macro `u'"]);
  });

  it("reports an unterminated %rep", () => {
    expect(messages("%rep 5\nnop")).toEqual(["1: error: end of file while still in %rep"]);
  });
});

describe("%include", () => {
  it("reads the file through the resolver, reporting its own lines", () => {
    const r = run('%include "a.inc"\nafter', { resolver: resolverOf({ "a.inc": "one\ntwo\n" }) });
    expect(r.lines.map((l) => [l.text, l.file, l.line])).toEqual([["one", "a.inc", 1], ["two", "a.inc", 2], ["after", "main.asm", 2]]);
  });

  it("reports a missing file at the %include", () => {
    expect(messages('\n%include "nofile.inc"', { resolver: resolverOf({}) })).toEqual(["2: error: unable to open include file `nofile.inc'"]);
  });

  it("reports %include without a resolver", () => {
    expect(messages('%include "x.inc"')).toEqual(["1: error: unable to open include file `x.inc'"]);
  });

  it("stops an include that includes itself", () => {
    const r = run('%include "self.inc"', { resolver: resolverOf({ "self.inc": '%include "self.inc"\n' }) });
    expect(r.diagnostics.map((d) => d.message)).toEqual(["`%include' nested more than 64 deep"]);
  });
});

describe("messages", () => {
  it("prints %error and %warning with expanded text and goes on", () => {
    expect(messages("%define X 5\n%error X is wrong\n%warning `a\\tb`")).toEqual(["2: error: 5 is wrong", "3: warning: a\tb"]);
  });

  it("stops at %fatal", () => {
    const r = run("a\n%fatal stop\nb");
    expect(r.lines.map((l) => l.text)).toEqual(["a"]);
    expect(r.diagnostics.map((d) => d.message)).toEqual(["stop"]);
  });

  it("ignores %line and %pragma", () => {
    expect(run("%line 10 x.asm\n%pragma foo bar\nnop").diagnostics).toEqual([]);
  });

  it("reports an unknown directive", () => {
    expect(messages("%frobnicate")).toEqual(["1: error: unknown preprocessor directive `%frobnicate'"]);
  });
});
