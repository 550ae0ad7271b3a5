// hypervisor/abi/version.ts — xen_version queries, mirroring xen/include/public/version.h.
//
// xen_version(cmd, arg): XENVER_version returns major << 16 | minor in EAX;
// the others fill a fixed-size buffer (a string, NUL-terminated within it)
// or a small struct. Numbers and sizes: XEN-ABI.md 4 (xen_version); the
// names of 11-14 are the header's.

export const XENVER_version = 0;
export const XENVER_extraversion = 1;
export const XENVER_compile_info = 2;
export const XENVER_capabilities = 3;
export const XENVER_changeset = 4;
export const XENVER_platform_parameters = 5;
export const XENVER_get_features = 6;
export const XENVER_pagesize = 7;
export const XENVER_guest_handle = 8;
export const XENVER_commandline = 9;
export const XENVER_build_id = 10;
/** The *2 variants take a xen_varbuf { u32 len; buf[] } and return the bytes written. */
export const XENVER_extraversion2 = 11;
export const XENVER_capabilities2 = 12;
export const XENVER_changeset2 = 13;
export const XENVER_commandline2 = 14;

/** xen_extraversion_t: char[16]. */
export const XEN_EXTRAVERSION_LEN = 16;
/** xen_capabilities_info_t: char[1024]; a 32-bit PAE PV host lists "xen-3.0-x86_32p". */
export const XEN_CAPABILITIES_INFO_LEN = 1024;
/** xen_changeset_info_t: char[64]. */
export const XEN_CHANGESET_INFO_LEN = 64;

/** struct xen_platform_parameters (4): virt_start, the start of the hypervisor hole. */
export const xen_platform_parameters = { sizeof: 4, virt_start: 0 } as const;

/** struct xen_feature_info (8): which 32-bit word of XENFEAT_* bits, and the bits. */
export const xen_feature_info = { sizeof: 8, submap_idx: 0, submap: 4 } as const;

/** struct xen_varbuf: len u32, then the buffer. */
export const xen_varbuf = { len: 0, buf: 4 } as const;

/** The version number EAX carries for XENVER_version. */
export function xenVersionNumber(major: number, minor: number): number {
  return ((major << 16) | (minor & 0xffff)) >>> 0;
}
