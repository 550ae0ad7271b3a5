// hypervisor/console.ts — console_io: the hypervisor's own console, for guests that have no other.
//
// Xen's console_io hypercall writes a guest's bytes to the hypervisor
// console and reads what was typed there (XEN-ABI.md 3). Real Xen honours
// it only for the console domain or in debug builds; guests use it anyway
// (XTF prints through it), so here every domain may (XEN-ABI.md 1.9), and
// its bytes go to that domain's console. A domU's proper console is the
// ring in start_info (hypervisor/console-ring.ts); typed input reaches
// console_io reads only until the guest has used the ring.

import { CONSOLEIO_read, CONSOLEIO_write, __HYPERVISOR_console_io } from "./abi/xen.js";
import { EFAULT, ENOSYS } from "./abi/errno.js";
import { copyFromGuest, copyToGuest, defineHypercall } from "./hypercall.js";

/** Bytes one console_io write may carry: a guest cannot make the host copy more at once. */
const MAX_WRITE = 16 * 1024;

defineHypercall(__HYPERVISOR_console_io, (ctx, cmd, count, buffer) => {
  switch (cmd) {
    case CONSOLEIO_write: {
      let done = 0;
      while (done < count) {
        const n = Math.min(MAX_WRITE, count - done);
        const bytes = copyFromGuest(ctx, (buffer + done) >>> 0, n);
        if (bytes === null) return -EFAULT;
        ctx.domain.consoleOut(bytes);
        done += n;
      }
      return 0;
    }
    case CONSOLEIO_read: {
      const bytes = ctx.domain.takeConsoleInput(count);
      if (!copyToGuest(ctx, buffer, bytes)) {
        ctx.domain.returnConsoleInput(bytes);
        return -EFAULT;
      }
      return bytes.length;
    }
    default:
      return -ENOSYS;
  }
});
