// tools/asm/index.ts — the assembler's public face: NASM source in, flat binary out.
//
// `assemble` runs anywhere JavaScript does (Node, the browser, a worker);
// files for `%include` and `incbin` come through a resolver, so nothing here
// touches a file system. tools/asm/node.ts supplies the Node resolver.

export { assemble, type AssembleOptions, type AssembleResult } from "./assembler.js";
export { type Diagnostic, type FileResolver, formatDiagnostic } from "./diagnostic.js";
