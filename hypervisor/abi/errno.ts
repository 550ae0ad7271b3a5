// hypervisor/abi/errno.ts — Xen's error numbers, mirroring xen/include/public/errno.h.
//
// A hypercall fails by returning the negated number in EAX: `return -EINVAL`.
// The numbers are Xen's own (XEN_EPERM ...), which happen to match Linux's
// on x86; guests compare against these, never against the host's errno.
// EINTR (4) and ERESTART (85) are Xen-internal and never reach a guest, so
// they are not exported. Source: XEN-ABI.md 2.3.

export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EIO = 5;
export const ENXIO = 6;
export const E2BIG = 7;
export const ENOEXEC = 8;
export const EBADF = 9;
export const ECHILD = 10;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const EXDEV = 18;
export const ENODEV = 19;
export const ENOTDIR = 20;
export const EISDIR = 21;
export const EINVAL = 22;
export const ENFILE = 23;
export const EMFILE = 24;
export const ENOSPC = 28;
export const EROFS = 30;
export const EMLINK = 31;
export const EDOM = 33;
export const ERANGE = 34;
export const EDEADLK = 35;
export const ENAMETOOLONG = 36;
export const ENOLCK = 37;
export const ENOSYS = 38;
export const ENOTEMPTY = 39;
export const ENODATA = 61;
export const ETIME = 62;
export const EBADMSG = 74;
export const EOVERFLOW = 75;
export const EILSEQ = 84;
export const ENOTSOCK = 88;
export const EMSGSIZE = 90;
export const EOPNOTSUPP = 95;
export const EADDRINUSE = 98;
export const EADDRNOTAVAIL = 99;
export const ENOBUFS = 105;
export const EISCONN = 106;
export const ENOTCONN = 107;
export const ETIMEDOUT = 110;
export const ECONNREFUSED = 111;

/** Every error number by value, for traces and messages. */
export const ERRNO_NAMES: Readonly<Record<number, string>> = {
  [EPERM]: "EPERM", [ENOENT]: "ENOENT", [ESRCH]: "ESRCH", [EIO]: "EIO", [ENXIO]: "ENXIO",
  [E2BIG]: "E2BIG", [ENOEXEC]: "ENOEXEC", [EBADF]: "EBADF", [ECHILD]: "ECHILD", [EAGAIN]: "EAGAIN",
  [ENOMEM]: "ENOMEM", [EACCES]: "EACCES", [EFAULT]: "EFAULT", [EBUSY]: "EBUSY", [EEXIST]: "EEXIST",
  [EXDEV]: "EXDEV", [ENODEV]: "ENODEV", [ENOTDIR]: "ENOTDIR", [EISDIR]: "EISDIR", [EINVAL]: "EINVAL",
  [ENFILE]: "ENFILE", [EMFILE]: "EMFILE", [ENOSPC]: "ENOSPC", [EROFS]: "EROFS", [EMLINK]: "EMLINK",
  [EDOM]: "EDOM", [ERANGE]: "ERANGE", [EDEADLK]: "EDEADLK", [ENAMETOOLONG]: "ENAMETOOLONG",
  [ENOLCK]: "ENOLCK", [ENOSYS]: "ENOSYS", [ENOTEMPTY]: "ENOTEMPTY", [ENODATA]: "ENODATA",
  [ETIME]: "ETIME", [EBADMSG]: "EBADMSG", [EOVERFLOW]: "EOVERFLOW", [EILSEQ]: "EILSEQ",
  [ENOTSOCK]: "ENOTSOCK", [EMSGSIZE]: "EMSGSIZE", [EOPNOTSUPP]: "EOPNOTSUPP",
  [EADDRINUSE]: "EADDRINUSE", [EADDRNOTAVAIL]: "EADDRNOTAVAIL", [ENOBUFS]: "ENOBUFS",
  [EISCONN]: "EISCONN", [ENOTCONN]: "ENOTCONN", [ETIMEDOUT]: "ETIMEDOUT", [ECONNREFUSED]: "ECONNREFUSED",
};

/** A hypercall result as a reader wants it: "-EINVAL" for -22, the number itself otherwise. */
export function describeResult(rc: number): string {
  if (rc < 0 && ERRNO_NAMES[-rc] !== undefined) return `-${ERRNO_NAMES[-rc]}`;
  return String(rc);
}
