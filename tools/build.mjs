#!/usr/bin/env node
// tools/build.mjs — `npm run build`: the core wasm, the TypeScript, the guest images.
//
// Plain JavaScript because it must run before anything is compiled. Each
// step compares modification times and skips what is already up to date, so
// a second `npm run build` (and the one `npm test` starts with) costs about
// a second. Steps, in dependency order:
//   1. TypeScript (tools/, hypervisor/, web/) → build/js with tsc
//   2. core/ (AssemblyScript) → build/core.wasm with asc, release target
//   3. guests/**/NAME/NAME.asm → build/guests/**/NAME.bin with our own tools/asm

import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);

/** Newest modification time (ms) among files under `paths` whose names pass `accept`. */
function newest(paths, accept = () => true) {
  let t = 0;
  const visit = (p) => {
    if (!existsSync(p)) return;
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const name of readdirSync(p)) if (name !== "node_modules") visit(join(p, name));
    } else if (accept(p)) {
      t = Math.max(t, st.mtimeMs);
    }
  };
  for (const p of paths) visit(p);
  return t;
}

function mtime(p) {
  return existsSync(p) ? statSync(p).mtimeMs : 0;
}

function run(what, cmd, args) {
  const started = Date.now();
  const r = spawnSync(cmd, args, { stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`build: ${what} failed`);
    process.exit(r.status ?? 1);
  }
  console.log(`build: ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

const bin = (name) => join(root, "node_modules", ".bin", name);

// 1. TypeScript.
// A stamp written after each successful compile: tsc's own .tsbuildinfo is
// also written by `tsc --noEmit`, so its age says nothing about build/js.
const tsStamp = "build/js/.stamp";
const tsNewest = Math.max(newest(["tools", "hypervisor", "web", "core/layout.ts"], (p) => p.endsWith(".ts")), mtime("tsconfig.json"));
if (tsNewest > mtime(tsStamp) || !existsSync("build/js/tools/cli.js")) {
  run("TypeScript → build/js", bin("tsc"), ["-p", "."]);
  writeFileSync(tsStamp, "");
}
if (existsSync("build/js/tools/cli.js")) chmodSync("build/js/tools/cli.js", 0o755);

// 2. The core.
const coreNewest = Math.max(newest(["core"], (p) => p.endsWith(".ts")), mtime("asconfig.json"));
if (coreNewest > mtime("build/core.wasm")) run("core → build/core.wasm", bin("asc"), ["core/index.ts", "--target", "release"]);

// 3. Guests: every guests/**/NAME/NAME.asm is a guest image's main source.
const guestSources = [];
const findGuests = (dir) => {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      const main = join(p, `${name}.asm`);
      if (existsSync(main)) guestSources.push(main);
      findGuests(p);
    }
  }
};
findGuests("guests");
if (guestSources.length) {
  const { assemble, formatDiagnostic } = await import(pathToFileURL(join(root, "build/js/tools/asm/index.js")).href);
  const { nodeResolver } = await import(pathToFileURL(join(root, "build/js/tools/asm/node.js")).href);
  const toolNewest = newest(["build/js/tools/asm"], (p) => p.endsWith(".js"));
  const includeDir = join(root, "guests", "include");
  let built = 0;
  for (const src of guestSources) {
    const out = join("build", dirname(dirname(src)), `${basename(src, ".asm")}.bin`);
    const inputs = Math.max(newest([dirname(src), includeDir]), toolNewest);
    if (inputs <= mtime(out)) continue;
    const result = assemble(readFileSync(src, "utf8"), { file: src, resolver: nodeResolver([includeDir]) });
    for (const d of result.diagnostics) console.error(formatDiagnostic(d));
    if (!result.ok) {
      console.error(`build: ${src} has errors`);
      process.exit(1);
    }
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, result.bytes);
    built++;
  }
  if (built) console.log(`build: ${built} guest image(s) → build/guests`);
}
