// test/hypervisor/toolstack/config.test.ts — xl.cfg files: what is read, and what is refused with its line.

import { describe, expect, it } from "vitest";
import { ConfigError, domainConfig, parseXlConfig } from "../../../hypervisor/toolstack/config.js";

const resolve = (p: string): string => `/cfg/${p}`;

describe("xl.cfg syntax", () => {
  it("reads strings in either quotes, numbers, lists over several lines, comments and ;", () => {
    const s = parseXlConfig(
      `# a domain
name = "one" ; memory = 0x40
kernel='k.elf'   # trailing comment
disk = [ "a.img,raw,xvda,rw",
         'b.img', ]
extra = "console=hvc0 \\"quoted\\""
`,
      "x.cfg",
    );
    expect(s.get("name")).toEqual({ value: "one", line: 2 });
    expect(s.get("memory")).toEqual({ value: 64, line: 2 });
    expect(s.get("kernel")?.value).toBe("k.elf");
    expect(s.get("disk")).toEqual({ value: ["a.img,raw,xvda,rw", "b.img"], line: 4 });
    expect(s.get("extra")?.value).toBe('console=hvc0 "quoted"');
  });

  it("names the line of every syntax error", () => {
    const cases: [string, number, RegExp][] = [
      ['name = "x"\nmemory 64\n', 2, /expected "="/],
      ['name = "x\n', 1, /may not span lines/],
      ["disk = [ 'a'\n", 2, /list is not closed/],
      ["memory = 64MB\n", 1, /expected a value/],
      ['name = "a" "b"\n', 1, /unexpected/],
      ["= 3\n", 1, /expected a setting name/],
      ["disk = [ 'a' 'b' ]\n", 1, /expected "," or "]"/],
    ];
    for (const [text, line, reason] of cases) {
      let error: unknown;
      try {
        parseXlConfig(text, "bad.cfg");
      } catch (e) {
        error = e;
      }
      expect(error, text).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).line, text).toBe(line);
      expect((error as ConfigError).message, text).toMatch(reason);
      expect((error as ConfigError).message, text).toMatch(new RegExp(`^bad\\.cfg:${line}: `));
    }
  });
});

describe("domain configurations", () => {
  it("applies xl's defaults and resolves the kernel against the config's folder", () => {
    const c = domainConfig('name = "hello"\nkernel = "hello.elf"\n', "d.cfg", resolve);
    expect(c).toMatchObject({
      name: "hello", type: "pv", kernel: "/cfg/hello.elf", memory: 128, vcpus: 1, cpuWeight: 256, cap: 0, extra: "",
      onPoweroff: "destroy", onReboot: "restart", onCrash: "destroy",
    });
  });

  it("reads type, memory, vcpus, the credit scheduler's cpu_weight and cap, extra and the shutdown actions", () => {
    const c = domainConfig(
      'name="t"\ntype="pv"\nkernel="k"\nmemory=32\nvcpus=2\ncpu_weight=512\ncap=150\nextra="port=5"\non_crash="preserve"\n',
      "d.cfg",
      resolve,
    );
    expect(c).toMatchObject({ memory: 32, vcpus: 2, cpuWeight: 512, cap: 150, extra: "port=5", onCrash: "preserve" });
  });

  it("refuses unknown keys, wrong kinds, missing names and kernels, and values out of range, with the line", () => {
    const bad: [string, number, RegExp][] = [
      ['name="a"\nkernel="k"\nmemroy=64\n', 3, /unknown setting "memroy"/],
      ['name="a"\nkernel="k"\nmemory="64"\n', 3, /memory must be a number/],
      ['kernel="k"\n', 1, /no name/],
      ['name="a"\n', 1, /no kernel/],
      ['name="a b"\nkernel="k"\n', 1, /must be 1-64 letters/],
      ['name="a"\nkernel="k"\ntype="hvmx"\n', 3, /type "hvmx"/],
      ['name="a"\nkernel="k"\nmemory=2\n', 3, /outside 4-1024/],
      ['name="a"\nkernel="k"\nvcpus=0\n', 3, /outside 1-32/],
      ['name="a"\nkernel="k"\ncpu_weight=0\n', 3, /cpu_weight = 0 is outside 1-65535/],
      ['name="a"\nkernel="k"\nvcpus=2\ncap=201\n', 4, /cap = 201 is outside 0-200/],
      ['name="a"\nkernel="k"\non_poweroff="explode"\n', 3, /on_poweroff = "explode"/],
    ];
    for (const [text, line, reason] of bad) {
      expect(() => domainConfig(text, "d.cfg", resolve), text).toThrow(reason);
      try {
        domainConfig(text, "d.cfg", resolve);
      } catch (e) {
        expect((e as ConfigError).line, text).toBe(line);
      }
    }
  });
});
