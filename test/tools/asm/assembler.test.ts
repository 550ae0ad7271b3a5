// test/tools/asm/assembler.test.ts — the assembler's passes, directives and
// bin-format sections, each case a small source with NASM's bytes beside it.
//
// The expected bytes were produced by NASM 2.16 (`nasm -f bin`); where NASM
// is installed each case is also assembled by it again, so an expectation
// can never drift from the reference. Long runs of one byte are written
// `00*57`.

import { describe, expect, it } from "vitest";
import { assemble } from "../../../tools/asm/index.js";
import { formatDiagnostic, type FileResolver } from "../../../tools/asm/diagnostic.js";
import { firstDifference, hasNasm, nasm } from "../../support/nasm.js";

function unpack(spec: string): Uint8Array {
  const out: number[] = [];
  for (const item of spec.split(/\s+/).filter(Boolean)) {
    const [byte, count] = item.split("*");
    for (let i = 0; i < (count ? Number(count) : 1); i++) out.push(parseInt(byte, 16));
  }
  return Uint8Array.from(out);
}

function assembleOk(source: string, resolver?: FileResolver): Uint8Array {
  const r = assemble(source, { file: "t.asm", resolver });
  expect(r.diagnostics.filter((d) => d.severity === "error").map(formatDiagnostic)).toEqual([]);
  return r.bytes;
}

function errorsOf(source: string): string[] {
  return assemble(source, { file: "t.asm" }).diagnostics.filter((d) => d.severity === "error").map(formatDiagnostic);
}

const CASES: { name: string; source: string; bytes: string }[] = [
  {
    name: "sections",
    source: `
org 0x100
db 1
section .data
db 2
x: dd x
section .bss
resb 3
y:
section .text
db 3
dd y
section .foo
db 4
section .rodata align=16
db 5
`,
    bytes: "01 03 27 01 00 00 00 00 02 09 01 00 00 00 00 00 04 00*15 05",
  },
  {
    name: "vstart",
    source: `
db 1
section .data vstart=0x1000
q: db 2
dw q
section .x start=0x40
db 3
`,
    bytes: "01 00 00 00 02 00 10 00*57 03",
  },
  {
    name: "align",
    source: `
db 1
align 8
db 2
section .bss
resb 1
align 4
z: resb 1
section .data
dd z
section .text
alignb 4
db 3
align 4, db 0xcc
db 4
`,
    bytes: "01 90 90 90 90 90 90 90 02 00 00 00 03 cc cc cc 04 00 00 00 1c 00 00 00",
  },
  {
    name: "sectalign",
    source: `
db 1
section .data
db 2
align 16
db 3
`,
    bytes: "01 00*15 02 90*15 03",
  },
  {
    name: "struc",
    source: `
struc pt
.x resd 1
.y resw 1
endstruc
istruc pt
at pt.x, dd 5
at pt.y, dw 6
iend
dd pt_size, pt.y
foo: db 1
.l: db 2
..@3.z: dw .l
`,
    bytes: "05 00 00 00 06 00 06 00 00 00 04 00 00 00 01 02 0f 00",
  },
  {
    name: "bootsector",
    source: `
bits 16
org 0x7c00
start: jmp short main
msg: db 'hi', 0
main: mov si, msg
times 510-($-$$) db 0
dw 0xAA55
`,
    bytes: "eb 03 68 69 00 be 02 7c 00*502 55 aa",
  },
  {
    name: "forward_equ",
    source: `
bits 32
add eax, X
push X
imul ebx, ebx, X
mov eax, [ebx+X]
X equ 5
`,
    bytes: "83 c0 05 6a 05 6b db 05 8b 43 05",
  },
  {
    name: "forward_jumps",
    source: `
bits 32
jmp near1
jz far1
near1: times 100 nop
jmp near1
far1: times 200 nop
jnz far1
jmp back
back:
`,
    bytes: "eb 02 74 66 90*100 eb 9a 90*200 0f 85 32 ff ff ff eb 00",
  },
  {
    name: "locals",
    source: `
bits 32
a: jmp .x
.x: jmp .x
b:
.x: jmp .x
jmp a.x
..@1.y: jmp .x
`,
    bytes: "eb 00 eb fe eb fe eb fa eb fa",
  },
  {
    name: "data",
    source: `
db 'abc', 0, "d", 255, -1
dw 'abc', 1, -2
dd -1, 0x12345678, 'ab'
dq 0x123456789abcdef0, -2
db \`a\\n\\x41\\0\`
db ?
foo db 1
bar: dw foo
`,
    bytes: "61 62 63 00 64 ff ff 61 62 63 00 01 00 fe ff ff ff ff ff 78 56 34 12 61 62 00 00 f0 de bc 9a 78 56 34 12 fe ff ff ff ff ff ff ff 61 0a 41 00 00 01 30 00",
  },
  {
    name: "expressions",
    source: `
dd (1 << 4) | 3, 7 / 2, -7 // 2, -7 %% 2, 7 % 3, 5 > 3, 5 <= 3, ~0, !5, !0, 3 ^ 5, 1 && 0, 1 || 0, 0x10 >> 1, 'ab'
dd 10h, 0b101, 101b, 17q, 17o, 0o17, 0xFF_FF, $1F, 0d99, 99d
`,
    bytes: "13 00 00 00 03 00 00 00 fd ff ff ff ff ff ff ff 01 00 00 00 01 00 00 00 00 00 00 00 ff ff ff ff 00 00 00 00 01 00 00 00 06 00 00 00 00 00 00 00 01 00 00 00 08 00 00 00 61 62 00 00 10 00 00 00 05 00 00 00 05 00 00 00 0f 00 00 00 0f 00 00 00 0f 00 00 00 ff ff 00 00 1f 00 00 00 63 00 00 00 63 00 00 00",
  },
  {
    name: "bits_mix",
    source: `
bits 16
mov ax, 1
mov eax, 1
bits 32
mov ax, 1
mov eax, 1
[bits 16]
inc ax
[BITS 32]
inc ax
`,
    bytes: "b8 01 00 66 b8 01 00 00 00 66 b8 01 00 b8 01 00 00 00 40 66 40",
  },
  {
    name: "resb_text",
    source: `
db 1
resb 3
db 2
resw 1
db 3
`,
    bytes: "01 00 00 00 02 00 00 03",
  },
  {
    name: "absolute",
    source: `
absolute 0x500
buf: resb 16
ptr: resd 1
section .text
dd buf, ptr
`,
    bytes: "00 05 00 00 10 05 00 00",
  },
  {
    name: "dollar",
    source: `
org 0x1000
start: dd $, $$, $-$$
section .data
d: dd $, $$, $-$$, start
`,
    bytes: "00 10 00 00 00 10 00 00 00 00 00 00 0c 10 00 00 0c 10 00 00 00 00 00 00 00 10 00 00",
  },
  {
    name: "times_insn",
    source: `
bits 32
times 3 push eax
times 2 jmp $
times 0 db 1
`,
    bytes: "50 50 50 eb fe eb fc",
  },
];

describe("assembler: NASM's bytes for directives, data and sections", () => {
  for (const c of CASES) {
    it(`${c.name}`, () => {
      const got = assembleOk(c.source);
      expect(firstDifference(got, unpack(c.bytes))).toBeNull();
      if (hasNasm) expect(firstDifference(got, nasm(c.source).bytes)).toBeNull();
    });
  }
});

describe("assembler: files, symbols and listing", () => {
  const files: Record<string, string> = { "inc/defs.inc": "MAGIC equ 0x1BADB002\n", "blob.bin": "ABCDEFGH" };
  const resolver: FileResolver = {
    readText: (name) => (name in files ? { file: name, text: files[name] } : null),
    readBinary: (name) => (name in files ? { file: name, bytes: new TextEncoder().encode(files[name]) } : null),
  };

  it("%include reads through the resolver and incbin takes an offset and a length", () => {
    const bytes = assembleOk(`%include "inc/defs.inc"\ndd MAGIC\nincbin "blob.bin", 2, 3\n`, resolver);
    expect(Array.from(bytes)).toEqual([0x02, 0xb0, 0xad, 0x1b, 0x43, 0x44, 0x45]);
  });

  it("reports every label and constant with its address after org", () => {
    const r = assemble("org 0x7c00\nstart: nop\n.inner: nop\nLEN equ $ - start\n", { file: "t.asm" });
    expect(r.symbols.get("start")).toBe(0x7c00);
    expect(r.symbols.get("start.inner")).toBe(0x7c01);
    expect(r.symbols.get("LEN")).toBe(2);
  });

  it("lists each line with its address and bytes", () => {
    const r = assemble("bits 32\nstart: mov eax, 1\ndb 'hi'\n", { file: "t.asm" });
    const lines = r.listing.split("\n");
    expect(lines[0]).toMatch(/^\s+1\s+bits 32$/);
    expect(lines[1]).toMatch(/^\s+2 00000000 B801000000\s+start: mov eax, 1$/);
    expect(lines[2]).toMatch(/^\s+3 00000005 6869\s+db 'hi'$/);
  });
});

describe("assembler: errors are reported, never thrown", () => {
  it("names an undefined symbol with file and line", () => {
    expect(errorsOf("nop\njmp nowhere\n")).toEqual([expect.stringMatching(/^t\.asm:2: error: .*/)]);
  });

  it("rejects a short jump that does not reach", () => {
    expect(errorsOf("bits 32\njmp short far_away\ntimes 200 nop\nfar_away:\n")).toEqual([
      expect.stringMatching(/^t\.asm:2: error: .*short jump/i),
    ]);
  });

  it("rejects a negative TIMES count and an unknown instruction", () => {
    expect(errorsOf("times -1 db 0\n")).toEqual([expect.stringMatching(/^t\.asm:1: error: .*negative/)]);
    expect(errorsOf("bits 32\nfrobnicate eax\n")).toEqual([expect.stringMatching(/^t\.asm:2: error: /)]);
  });

  it("rejects a label defined twice", () => {
    expect(errorsOf("a: nop\na: nop\n")).toEqual([expect.stringMatching(/^t\.asm:2: error: .*redefined/)]);
  });

  it("writes no bytes when there are errors", () => {
    const r = assemble("db 1\nmov eax, [bx+cx]\n", { file: "t.asm" });
    expect(r.ok).toBe(false);
    expect(r.bytes.length).toBe(0);
  });

  it("survives hostile input without throwing", () => {
    for (const src of ["[", "]]]", "db", "dd 1/0", "times 1e9", "%macro", "mov [", "section", "org", "%rep 5", "equ 3", "x equ", "`"]) {
      expect(() => assemble(src, { file: "t.asm" })).not.toThrow();
    }
  });
});
