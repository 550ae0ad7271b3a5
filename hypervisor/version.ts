// hypervisor/version.ts — xen_version: which Xen this is, and what it offers the guest.
//
// Guests ask the version before anything else (Linux and XTF both do), and
// learn the hypervisor's features from XENVER_get_features. We report the
// Xen release whose public ABI we follow (XEN-ABI.md), and as extra version
// our own name, so a guest can tell it runs on xenoscope.

import { EFAULT, EINVAL, ENOSYS } from "./abi/errno.js";
import {
  XENVER_capabilities, XENVER_changeset, XENVER_commandline, XENVER_compile_info, XENVER_extraversion,
  XENVER_get_features, XENVER_guest_handle, XENVER_pagesize, XENVER_platform_parameters, XENVER_version,
  XEN_CAPABILITIES_INFO_LEN, XEN_CHANGESET_INFO_LEN, XEN_EXTRAVERSION_LEN,
} from "./abi/version.js";
import {
  XENFEAT_gnttab_map_avail_bits, XENFEAT_highmem_assist, XENFEAT_mmu_pt_update_preserve_ad, XENFEAT_pae_pgdir_above_4gb,
} from "./abi/features.js";
import { HYPERVISOR_VIRT_START } from "./abi/arch_x86_32.js";
import { __HYPERVISOR_xen_version } from "./abi/xen.js";
import { copyToGuest, defineHypercall, readGuestU32, type HypercallContext } from "./hypercall.js";

export const XEN_MAJOR = 4;
export const XEN_MINOR = 19;
export const XEN_EXTRAVERSION = "-xenoscope";
/** The one guest type offered (XEN-ABI.md 1.1). */
export const XEN_CAPABILITIES = "xen-3.0-x86_32p";

/** A NUL-padded string of `size` bytes. */
function fixedString(text: string, size: number): Uint8Array {
  const out = new Uint8Array(size);
  out.set(new TextEncoder().encode(text).subarray(0, size - 1));
  return out;
}

function put(ctx: HypercallContext, arg: number, bytes: Uint8Array): number {
  return copyToGuest(ctx, arg, bytes) ? 0 : -EFAULT;
}

function u32s(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint32(i * 4, v >>> 0, true));
  return out;
}

defineHypercall(__HYPERVISOR_xen_version, (ctx, cmd, arg) => {
  switch (cmd) {
    case XENVER_version:
      return (XEN_MAJOR << 16) | XEN_MINOR;
    case XENVER_extraversion:
      return put(ctx, arg, fixedString(XEN_EXTRAVERSION, XEN_EXTRAVERSION_LEN));
    case XENVER_compile_info:
      // compiler[64], compile_by[16], compile_domain[32], compile_date[32]
      return put(ctx, arg, new Uint8Array([...fixedString("tsc", 64), ...fixedString("xenoscope", 16), ...fixedString("", 32), ...fixedString("", 32)]));
    case XENVER_capabilities:
      return put(ctx, arg, fixedString(XEN_CAPABILITIES, XEN_CAPABILITIES_INFO_LEN));
    case XENVER_changeset:
      return put(ctx, arg, fixedString("xenoscope", XEN_CHANGESET_INFO_LEN));
    case XENVER_platform_parameters:
      return put(ctx, arg, u32s(HYPERVISOR_VIRT_START));
    case XENVER_get_features: {
      const index = readGuestU32(ctx, arg);
      if (index === null) return -EFAULT;
      const submap = index !== 0 ? 0 :
        (1 << XENFEAT_pae_pgdir_above_4gb) | (1 << XENFEAT_mmu_pt_update_preserve_ad) |
        (1 << XENFEAT_highmem_assist) | (1 << XENFEAT_gnttab_map_avail_bits);
      return put(ctx, (arg + 4) >>> 0, u32s(submap));
    }
    case XENVER_pagesize:
      return 4096;
    case XENVER_guest_handle:
      return put(ctx, arg, new Uint8Array(16));
    case XENVER_commandline:
      return put(ctx, arg, new Uint8Array(1024));
    default:
      return cmd < 0 || cmd > 0x7fffffff ? -EINVAL : -ENOSYS;
  }
});
