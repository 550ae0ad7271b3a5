// hypervisor/abi/elfnote.ts — the Xen ELF notes of a PV kernel, mirroring xen/include/public/elfnote.h.
//
// A PV kernel describes itself in PT_NOTE entries named "Xen": where to
// enter, where its hypercall page goes, which ABI it speaks (PAE_MODE,
// XEN_VERSION "xen-3.0"), and what it needs (FEATURES). The domain builder
// reads them before anything else. Numbers and the builder's checks:
// XEN-ABI.md 7.1.

/** The name every Xen note carries (NUL-terminated in the file). */
export const XEN_ELFNOTE_NAME = "Xen";

export const XEN_ELFNOTE_INFO = 0;
export const XEN_ELFNOTE_ENTRY = 1;
export const XEN_ELFNOTE_HYPERCALL_PAGE = 2;
export const XEN_ELFNOTE_VIRT_BASE = 3;
export const XEN_ELFNOTE_PADDR_OFFSET = 4;
export const XEN_ELFNOTE_XEN_VERSION = 5;
export const XEN_ELFNOTE_GUEST_OS = 6;
export const XEN_ELFNOTE_GUEST_VERSION = 7;
export const XEN_ELFNOTE_LOADER = 8;
export const XEN_ELFNOTE_PAE_MODE = 9;
export const XEN_ELFNOTE_FEATURES = 10;
export const XEN_ELFNOTE_BSD_SYMTAB = 11;
export const XEN_ELFNOTE_HV_START_LOW = 12;
export const XEN_ELFNOTE_L1_MFN_VALID = 13;
export const XEN_ELFNOTE_SUSPEND_CANCEL = 14;
export const XEN_ELFNOTE_INIT_P2M = 15;
export const XEN_ELFNOTE_MOD_START_PFN = 16;
export const XEN_ELFNOTE_SUPPORTED_FEATURES = 17;
export const XEN_ELFNOTE_PHYS32_ENTRY = 18;
export const XEN_ELFNOTE_PHYS32_RELOC = 19;
export const XEN_ELFNOTE_CRASH_INFO = 0x1000001;
export const XEN_ELFNOTE_CRASH_REGS = 0x1000002;
export const XEN_ELFNOTE_DUMPCORE_NONE = 0x2000000;
export const XEN_ELFNOTE_DUMPCORE_HEADER = 0x2000001;
export const XEN_ELFNOTE_DUMPCORE_XEN_VERSION = 0x2000002;
export const XEN_ELFNOTE_DUMPCORE_FORMAT_VERSION = 0x2000003;

/** How a note's value is written: a NUL-terminated string, or a 4- or 8-byte number. */
export type ElfNoteKind = "string" | "number";

/** The kind of each note whose value XEN-ABI.md 7.1 describes (an address, a string, a bitmap). */
export const XEN_ELFNOTE_KINDS: Readonly<Record<number, ElfNoteKind>> = {
  [XEN_ELFNOTE_ENTRY]: "number",
  [XEN_ELFNOTE_HYPERCALL_PAGE]: "number",
  [XEN_ELFNOTE_VIRT_BASE]: "number",
  [XEN_ELFNOTE_PADDR_OFFSET]: "number",
  [XEN_ELFNOTE_XEN_VERSION]: "string",
  [XEN_ELFNOTE_GUEST_OS]: "string",
  [XEN_ELFNOTE_GUEST_VERSION]: "string",
  [XEN_ELFNOTE_LOADER]: "string",
  [XEN_ELFNOTE_PAE_MODE]: "string",
  [XEN_ELFNOTE_FEATURES]: "string",
  [XEN_ELFNOTE_HV_START_LOW]: "number",
  [XEN_ELFNOTE_INIT_P2M]: "number",
  [XEN_ELFNOTE_SUPPORTED_FEATURES]: "number",
  [XEN_ELFNOTE_PHYS32_ENTRY]: "number",
};

/** XEN_VERSION must start with this. */
export const XEN_ELFNOTE_XEN_VERSION_PREFIX = "xen-3.0";
/** PAE_MODE values that select the xen-3.0-x86_32p guest type (XEN-ABI.md 1.1). */
export const XEN_PAE_MODES_PAE: readonly string[] = ["yes", "bimodal", "yes,bimodal"];
