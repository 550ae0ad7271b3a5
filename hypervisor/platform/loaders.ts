// hypervisor/platform/loaders.ts — which loader an image needs, and running it.
//
// The bare machine boots three kinds of image (DESIGN.md, "Layers"): a
// multiboot v1 kernel (a valid header in its first 8 KiB: multiboot.ts), a
// 32-bit ELF executable without one (elf32.ts), or a raw ROM image started
// at the reset vector (rom.ts). Detection looks in that order; a format can
// also be forced, e.g. for a ROM image that happens to contain the
// multiboot magic.

import { hex, LoadError, type BootPlan, type PhysicalMemory } from "./boot.js";
import { isElf, loadElf32 } from "./elf32.js";
import { findMultibootHeader, findMultibootMagic, loadMultiboot } from "./multiboot.js";
import type { MultibootOptions } from "./multiboot-info.js";
import { prepareRom, ROM_MAX } from "./rom.js";

export type ImageFormat = "multiboot" | "elf" | "rom";
export const IMAGE_FORMATS: readonly ImageFormat[] = ["multiboot", "elf", "rom"];

export function detectImageFormat(image: Uint8Array): ImageFormat {
  if (findMultibootHeader(image)) return "multiboot";
  const magicAt = findMultibootMagic(image);
  if (magicAt !== undefined) {
    // A kernel whose header went bad must not quietly run as a ROM image.
    throw new LoadError(`the multiboot magic at file offset ${hex(magicAt)} has a bad checksum (use --format rom if this is a ROM image)`);
  }
  if (isElf(image)) return "elf";
  if (image.length <= ROM_MAX) return "rom";
  throw new LoadError(`not a multiboot kernel, an ELF32 executable, or a ROM image of at most 1 MiB (${image.length} bytes)`);
}

/** Loads `image` into `memory` (kernels) or prepares it as the ROM, and says how to start it. */
export function loadImage(image: Uint8Array, memory: PhysicalMemory, options: MultibootOptions & { format?: ImageFormat }): BootPlan {
  const format = options.format ?? detectImageFormat(image);
  switch (format) {
    case "multiboot":
      return loadMultiboot(image, memory, options);
    case "elf":
      return loadElf32(image, memory, options);
    case "rom":
      return prepareRom(image);
  }
}
