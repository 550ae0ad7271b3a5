// hypervisor/abi/io/xs_wire.ts — xenstore's wire protocol, mirroring xen/include/public/io/xs_wire.h.
//
// A guest talks to xenstored through one shared page (start_info.store_mfn)
// holding struct xenstore_domain_interface: a request ring and a response
// ring of 1024 bytes each, with free-running u32 indices masked by the
// ring's size, and an event channel (start_info.store_evtchn) to say "look".
// Through the rings flow messages: a 16-byte header, struct xsd_sockmsg,
// then `len` bytes of payload, at most XENSTORE_PAYLOAD_MAX. Requests are
// answered with the same type, req_id and tx_id, or with type XS_ERROR and
// an errno *name* ("ENOENT\0"); watch events arrive unsolicited with
// req_id and tx_id 0 (XEN-ABI.md 9.5, docs/misc/xenstore.txt).

/** enum xsd_sockmsg_type. XS_DEBUG is the old name of XS_CONTROL; 20 (XS_RESTRICT) was removed. */
export const XS_CONTROL = 0;
export const XS_DEBUG = XS_CONTROL;
export const XS_DIRECTORY = 1;
export const XS_READ = 2;
export const XS_GET_PERMS = 3;
export const XS_WATCH = 4;
export const XS_UNWATCH = 5;
export const XS_TRANSACTION_START = 6;
export const XS_TRANSACTION_END = 7;
export const XS_INTRODUCE = 8;
export const XS_RELEASE = 9;
export const XS_GET_DOMAIN_PATH = 10;
export const XS_WRITE = 11;
export const XS_MKDIR = 12;
export const XS_RM = 13;
export const XS_SET_PERMS = 14;
export const XS_WATCH_EVENT = 15;
export const XS_ERROR = 16;
export const XS_IS_DOMAIN_INTRODUCED = 17;
export const XS_RESUME = 18;
export const XS_SET_TARGET = 19;
export const XS_RESET_WATCHES = 21;
export const XS_DIRECTORY_PART = 22;
export const XS_GET_FEATURE = 23;
export const XS_SET_FEATURE = 24;
export const XS_GET_QUOTA = 25;
export const XS_SET_QUOTA = 26;
/** Number of valid types (XS_TYPE_COUNT). */
export const XS_TYPE_COUNT = 27;
/** Guaranteed to remain an invalid type. */
export const XS_INVALID = 0xffff;

/** The names xenstored logs (sockmsg_string), for traces and tests. */
export const XS_TYPE_NAMES: Readonly<Record<number, string>> = {
  [XS_CONTROL]: "CONTROL", [XS_DIRECTORY]: "DIRECTORY", [XS_READ]: "READ", [XS_GET_PERMS]: "GET_PERMS",
  [XS_WATCH]: "WATCH", [XS_UNWATCH]: "UNWATCH", [XS_TRANSACTION_START]: "TRANSACTION_START",
  [XS_TRANSACTION_END]: "TRANSACTION_END", [XS_INTRODUCE]: "INTRODUCE", [XS_RELEASE]: "RELEASE",
  [XS_GET_DOMAIN_PATH]: "GET_DOMAIN_PATH", [XS_WRITE]: "WRITE", [XS_MKDIR]: "MKDIR", [XS_RM]: "RM",
  [XS_SET_PERMS]: "SET_PERMS", [XS_WATCH_EVENT]: "WATCH_EVENT", [XS_ERROR]: "ERROR",
  [XS_IS_DOMAIN_INTRODUCED]: "IS_DOMAIN_INTRODUCED", [XS_RESUME]: "RESUME", [XS_SET_TARGET]: "SET_TARGET",
  [XS_RESET_WATCHES]: "RESET_WATCHES", [XS_DIRECTORY_PART]: "DIRECTORY_PART", [XS_GET_FEATURE]: "GET_FEATURE",
  [XS_SET_FEATURE]: "SET_FEATURE", [XS_GET_QUOTA]: "GET_QUOTA", [XS_SET_QUOTA]: "SET_QUOTA",
};

/**
 * The errors xenstored may answer, by name (struct xsd_errors xsd_errors[]).
 * An errno not in the list goes out as its first entry, EINVAL. There is no
 * EQUOTA: a quota exceeded is ENOSPC (nodes, node size, transactions,
 * permissions per node) or E2BIG (watches, an over-long reply).
 */
export const XSD_ERRORS = [
  "EINVAL", "EACCES", "EEXIST", "EISDIR", "ENOENT", "ENOMEM", "ENOSPC", "EIO",
  "ENOTEMPTY", "ENOSYS", "EROFS", "EBUSY", "EAGAIN", "EISCONN", "E2BIG", "EPERM",
] as const;
export type XsdError = (typeof XSD_ERRORS)[number];

/** struct xsd_sockmsg: 16 bytes, then `len` bytes of payload. */
export const xsd_sockmsg = {
  sizeof: 16,
  type: 0,
  req_id: 4,
  tx_id: 8,
  len: 12,
} as const;

/** enum xs_watch_type: the strings of a WATCH_EVENT payload. */
export const XS_WATCH_PATH = 0;
export const XS_WATCH_TOKEN = 1;

/** What WRITE may be asked to do (XS_WRITE_*; unused by the wire format itself). */
export const XS_WRITE_NONE = "NONE";
export const XS_WRITE_CREATE = "CREATE";
export const XS_WRITE_CREATE_EXCL = "CREATE|EXCL";

export const XENSTORE_RING_SIZE = 1024;

/** An index's byte within a ring (MASK_XENSTORE_IDX). */
export function MASK_XENSTORE_IDX(idx: number): number {
  return idx & (XENSTORE_RING_SIZE - 1);
}

/** struct xenstore_domain_interface: 2080 bytes used of the page. */
export const xenstore_domain_interface = {
  sizeof: 2080,
  req: 0,
  rsp: 1024,
  req_cons: 2048,
  req_prod: 2052,
  rsp_cons: 2056,
  rsp_prod: 2060,
  server_features: 2064,
  connection: 2068,
  error: 2072,
  evtchn_port: 2076,
} as const;

/** Violating this is very bad: xenstored drops the connection. See docs/misc/xenstore.txt. */
export const XENSTORE_PAYLOAD_MAX = 4096;
/** Violating these just gets you an error back. */
export const XENSTORE_ABS_PATH_MAX = 3072;
export const XENSTORE_REL_PATH_MAX = 2048;

/** server_features bits. */
export const XENSTORE_SERVER_FEATURE_RECONNECTION = 1;
export const XENSTORE_SERVER_FEATURE_ERROR = 2;
export const XENSTORE_SERVER_FEATURE_WATCHDEPTH = 4;
export const XENSTORE_SERVER_FEATURE_DOMID_ANY = 8;

/** Valid values of the connection field. */
export const XENSTORE_CONNECTED = 0;
export const XENSTORE_RECONNECT = 1;

/** Valid values of the error field. */
export const XENSTORE_ERROR_NONE = 0;
export const XENSTORE_ERROR_COMM = 1;
export const XENSTORE_ERROR_RINGIDX = 2;
export const XENSTORE_ERROR_PROTO = 3;

/** A message's header fields (struct xsd_sockmsg without len, which the payload's length gives). */
export interface XsMessage {
  type: number;
  reqId: number;
  txId: number;
  payload: Uint8Array;
}

/** Header and payload as bytes, little-endian as on x86. */
export function encodeXsMessage(msg: XsMessage): Uint8Array {
  const bytes = new Uint8Array(xsd_sockmsg.sizeof + msg.payload.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(xsd_sockmsg.type, msg.type >>> 0, true);
  view.setUint32(xsd_sockmsg.req_id, msg.reqId >>> 0, true);
  view.setUint32(xsd_sockmsg.tx_id, msg.txId >>> 0, true);
  view.setUint32(xsd_sockmsg.len, msg.payload.length, true);
  bytes.set(msg.payload, xsd_sockmsg.sizeof);
  return bytes;
}

/** The header of 16 bytes: type, req_id, tx_id, len. */
export function decodeXsHeader(header: Uint8Array): { type: number; reqId: number; txId: number; len: number } {
  const view = new DataView(header.buffer, header.byteOffset, xsd_sockmsg.sizeof);
  return {
    type: view.getUint32(xsd_sockmsg.type, true),
    reqId: view.getUint32(xsd_sockmsg.req_id, true),
    txId: view.getUint32(xsd_sockmsg.tx_id, true),
    len: view.getUint32(xsd_sockmsg.len, true),
  };
}

/** Payload bytes as a string, one character per byte, so that no byte is lost or changed. */
export function payloadText(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 4096) s += String.fromCharCode(...bytes.subarray(i, i + 4096));
  return s;
}

/** A string of such characters back to bytes (each character's low 8 bits). */
export function textBytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
  return bytes;
}

/** The NUL-terminated strings at the start of a payload; bytes after the last NUL are not a string (get_strings). */
export function payloadStrings(bytes: Uint8Array): string[] {
  const strings: string[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0) continue;
    strings.push(payloadText(bytes.subarray(start, i)));
    start = i + 1;
  }
  return strings;
}
