// test/tools/run.test.ts — `xenoscope run` as a user runs it: the built command, tiny guests
// written here in assembly, and the exit statuses of DESIGN.md's command-line conventions.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { assemble } from "../../tools/asm/index.js";

const CLI = "build/js/tools/cli.js";
const dir = mkdtempSync(join(tmpdir(), "xenoscope-run-"));

function xenoscope(args: string[], input = "") {
  const r = spawnSync(process.execPath, [CLI, "run", ...args], { encoding: "latin1", input, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Assembles `source` into a file in the test's directory and returns its path. */
function image(name: string, source: string): string {
  const r = assemble(source, { file: `${name}.asm` });
  expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  const path = join(dir, `${name}.bin`);
  writeFileSync(path, r.bytes);
  return path;
}

/** A multiboot kernel (a.out kludge at 1 MiB) whose entry runs `body`. */
function kernel(name: string, body: string): string {
  return image(name, `
    bits 32
    org 0x100000
    start:  jmp entry
            align 4
    mb:     dd 0x1BADB002, 0x10000, -(0x1BADB002 + 0x10000), mb, start, end, end, entry
    entry:
    ${body}
    end:
  `);
}

describe("xenoscope run", () => {
  it("has --help naming every option and the exit statuses", () => {
    const r = xenoscope(["--help"]);
    expect(r.status).toBe(0);
    for (const option of ["--machine", "--mem", "--trace", "--trace-insns", "--stats", "--port-log", "--timeout", "--clock", "--format", "--record", "--replay", "Ctrl-]", "124"]) {
      expect(r.stdout).toContain(option);
    }
  });

  it("boots hello.bin, shows its greeting once though it goes to COM1 and 0xE9, and exits 1", () => {
    const r = xenoscope(["build/guests/hello.bin"]);
    expect(r.stdout).toBe("Hello from xenoscope's hello guest.\n");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(1);
  });

  it("sends stdin to COM1: the demo echoes a piped line, in real time and in deterministic mode", () => {
    for (const clock of ["realtime", "deterministic"]) {
      const r = xenoscope(["--clock", clock, "build/guests/demo.bin"], "piped line\nexit\n");
      expect(r.stdout).toContain("> piped line\r\nyou typed: piped line\r\n> exit\r\nGoodbye.\r\n");
      expect(r.status).toBe(1);
    }
  });

  // A kernel that takes ten IRQ 0 ticks of the PIT at 100 Hz, sleeping in HLT between them.
  const ticker = () =>
    kernel("ticker", `
            lgdt    [gdtr]
            jmp     0x08:.flat
    .flat:  mov     ax, 0x10
            mov     ds, ax
            mov     es, ax
            mov     ss, ax
            mov     esp, 0x90000
            mov     eax, tick                       ; IDT gate 0x20: interrupt gate to tick
            mov     [idt + 0x20 * 8], ax
            mov     word [idt + 0x20 * 8 + 2], 0x08
            mov     word [idt + 0x20 * 8 + 4], 0x8E00
            shr     eax, 16
            mov     [idt + 0x20 * 8 + 6], ax
            lidt    [idtr]
            mov     al, 0x11                        ; PICs: vectors 0x20 and 0x28, only IRQ 0 open
            out     0x20, al
            out     0xA0, al
            mov     al, 0x20
            out     0x21, al
            mov     al, 0x28
            out     0xA1, al
            mov     al, 4
            out     0x21, al
            mov     al, 2
            out     0xA1, al
            mov     al, 1
            out     0x21, al
            out     0xA1, al
            mov     al, 0xFE
            out     0x21, al
            mov     al, 0xFF
            out     0xA1, al
            mov     al, 0x34                        ; PIT counter 0, mode 2, 1193182 / 11932 = 100 Hz
            out     0x43, al
            mov     ax, 11932
            out     0x40, al
            mov     al, ah
            out     0x40, al
            sti
    .wait:  hlt
            cmp     dword [ticks], 10
            jb      .wait
            mov     al, 0
            out     0xF4, al
    tick:   inc     dword [ticks]
            push    eax
            mov     al, 0x20                        ; EOI
            out     0x20, al
            pop     eax
            iretd
            align   8
    gdt:    dq      0, 0x00CF9A000000FFFF, 0x00CF92000000FFFF
    gdtr:   dw      23
            dd      gdt
    idtr:   dw      0x30 * 8 - 1
            dd      idt
    ticks:  dd      0
    idt:    times 0x30 * 8 db 0
    `);

  it("drives the PIT's IRQ 0 through the PICs: ten ticks at 100 Hz take 100 ms of virtual time", () => {
    const trace = join(dir, "ticks.log");
    const r = xenoscope(["--clock", "deterministic", "--stats", "--trace", trace, ticker()]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/\(\d+ exits, 10 interrupts\)/);
    const ticks = readFileSync(trace, "utf8").split("\n").filter((l) => / interrupt vector 0x20$/.test(l));
    expect(ticks).toHaveLength(10);
    // HLT skipped the time between ticks: a few hundred instructions for 100 ms.
    expect(Number(ticks[9]!.split(" ")[0])).toBeLessThan(2000);
  });

  it("keeps real time in real-time mode: ten ticks at 100 Hz take at least 90 ms", () => {
    const started = performance.now();
    expect(xenoscope([ticker()]).status).toBe(1);
    expect(performance.now() - started).toBeGreaterThan(90);
  });

  it("exits (v << 1) | 1 when the guest writes v to isa-debug-exit", () => {
    expect(xenoscope([kernel("exit41", "mov al, 0x41\nout 0xf4, al")]).status).toBe(0x83);
  });

  it("exits 4 with a message when the guest halts with interrupts off", () => {
    const r = xenoscope([kernel("halt", "cli\nhlt")]);
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(/halted with interrupts off \(status 4\)/);
  });

  it("exits 2 with a message when the guest triple-faults", () => {
    // An empty IDT: INT3 cannot be delivered (#GP), nor can the #GP (#DF), nor the #DF.
    const r = xenoscope([kernel("triple", "lidt [idtr]\nint3\nidtr: dw 0\ndd 0")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/triple-faulted/);
  });

  it("exits 6 when the guest resets the machine through port 0x92", () => {
    const r = xenoscope([kernel("reset", "in al, 0x92\nor al, 1\nout 0x92, al\njmp $")]);
    expect(r.status).toBe(6);
    expect(r.stderr).toMatch(/reset the machine/);
  });

  it("exits 124 when --timeout passes", () => {
    const r = xenoscope(["--clock", "deterministic", "--timeout", "0.001", kernel("spin", "jmp $")]);
    expect(r.status).toBe(124);
    expect(r.stderr).toMatch(/timeout/);
  });

  it("starts a raw ROM image at the reset vector, in real mode", () => {
    const rom = image("rom", "bits 16\nmov al, 0x2a\nout 0xf4, al\ncli\nhlt\ntimes 16 - ($ - $$) db 0");
    expect(xenoscope([rom]).status).toBe((0x2a << 1) | 1);
  });

  it("loads an ELF32 executable at its physical addresses and enters it like a multiboot kernel", () => {
    const elf = image("elf", `
      bits 32
      org 0x100000
      ehdr:   db 0x7f, "ELF", 1, 1, 1, 0
              times 8 db 0
              dw 2, 3                         ; ET_EXEC, EM_386
              dd 1, entry, phdr - $$, 0, 0    ; e_version, e_entry, e_phoff, e_shoff, e_flags
              dw 52, 32, 1, 0, 0, 0           ; e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx
      phdr:   dd 1, 0, $$, $$, size, size, 5, 0x1000
      entry:  cmp eax, 0x2BADB002             ; entered like a multiboot kernel
              jne .bad
              mov al, 7
              out 0xf4, al
      .bad:   cli
              hlt
      size    equ $ - $$
    `);
    expect(xenoscope([elf]).status).toBe(15);
  });

  it("prints every byte written to a --port-log port on stderr, in hex, one line each", () => {
    const r = xenoscope(["--port-log", "0xe9", kernel("portlog", "mov al, 'A'\nout 0xe9, al\nmov ax, 0x4342\nout 0xe9, ax\nmov al, 0\nout 0xf4, al")]);
    expect(r.stdout).toBe("AB");
    expect(r.stderr).toBe("port 0xe9 <- 0x41\nport 0xe9 <- 0x42\n");
    expect(r.status).toBe(1);
  });

  it("prints instructions and MIPS with --stats, and writes each exit to the --trace file", () => {
    const trace = join(dir, "trace.log");
    const r = xenoscope(["--stats", "--trace", trace, "build/guests/hello.bin"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^xenoscope: \d+ instructions in [\d.]+ s: [\d.]+ MIPS \(\d+ exits, 0 interrupts\)\n$/);
    const lines = readFileSync(trace, "utf8").trimEnd().split("\n");
    expect(lines[0]).toMatch(/^0 boot multiboot a\.out kludge/);
    expect(lines).toContain(lines.find((l) => / out 0xf4\/1 = 0x0$/.test(l)));
    expect(lines.at(-1)).toMatch(/^\d+ end debug-exit status 1$/);
  });

  it("exits 64 with a one-line reason for bad arguments, a multiboot kernel for --machine xen, or a file it cannot read", () => {
    const cases: [string[], RegExp][] = [
      [[], /no image to run/],
      [["--mem", "0", "build/guests/hello.bin"], /--mem needs/],
      [["--machine", "xen", "build/guests/hello.bin"], /no Xen ELF notes|not an ELF|ELF image/],
      [[join(dir, "missing.bin")], /cannot read .*missing\.bin/],
      [["--trace", join(dir, "no", "such", "dir", "t.log"), "build/guests/hello.bin"], /cannot write the trace/],
    ];
    for (const [args, reason] of cases) {
      const r = xenoscope(args);
      expect(r.status).toBe(64);
      expect(r.stderr).toMatch(reason);
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    }
  });

  it("exits 64 with the loader's reason for an image it cannot load", () => {
    const hello = readFileSync("build/guests/hello.bin");
    const broken = Buffer.from(hello);
    broken[12] ^= 0xff; // the multiboot checksum
    const path = join(dir, "broken.bin");
    writeFileSync(path, broken);
    const r = xenoscope([path]);
    expect(r.status).toBe(64);
    expect(r.stderr).toMatch(/broken\.bin: the multiboot magic at file offset 0x4 has a bad checksum/);
    const small = xenoscope(["--mem", "1", "build/guests/hello.bin"]);
    expect(small.status).toBe(64);
    expect(small.stderr).toMatch(/beyond RAM \(1 MiB\); try a larger --mem/);
  });
});
