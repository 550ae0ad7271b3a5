// tools/asm/node.ts — the assembler's file access in Node.
//
// NASM looks for `%include` and `incbin` files first relative to the
// directory it runs in, then in each `-I` directory in order. We also try the
// directory of the including file first, which is what every guest source
// here expects and what NASM 2.16 does as well for `%include`.

import { readFileSync, statSync } from "node:fs";
import { dirname, join, resolve as resolvePath } from "node:path";
import type { FileResolver } from "./diagnostic.js";

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

export function nodeResolver(includePaths: string[] = []): FileResolver {
  const find = (name: string, fromFile: string): string | null => {
    const candidates = name.startsWith("/")
      ? [name]
      : [join(dirname(fromFile), name), resolvePath(name), ...includePaths.map((dir) => join(dir, name))];
    for (const c of candidates) if (isFile(c)) return c;
    return null;
  };
  return {
    readText(name, fromFile) {
      const path = find(name, fromFile);
      return path ? { file: path, text: readFileSync(path, "utf8") } : null;
    },
    readBinary(name, fromFile) {
      const path = find(name, fromFile);
      return path ? { file: path, bytes: new Uint8Array(readFileSync(path)) } : null;
    },
  };
}
