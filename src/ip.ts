/**
 * IP addresses and CIDR ranges for the purge allow-list (pure). IPv4 in dotted-quad form and IPv6
 * (RFC 4291 §2.2 text forms, `::` compression and an embedded IPv4 tail); both are held as 16
 * bytes, IPv4 as IPv4-mapped IPv6 (RFC 4291 §2.5.5.2), so `::ffff:10.0.0.1` is `10.0.0.1`.
 * Small on purpose: a library for this was a tenth of the worker's bundle. Checked against
 * ipaddr.js by a property test (ip.test.ts).
 */

const V4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

function v4Bytes(s: string): number[] | null {
  const m = V4.exec(s);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])] : null;
}

function v6Groups(part: string): number[] | null {
  if (part === "") return [];
  const out: number[] = [];
  const pieces = part.split(":");
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i]!;
    if (i === pieces.length - 1 && piece.includes(".")) {
      const v4 = v4Bytes(piece);
      if (!v4) return null;
      out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    } else if (/^[0-9a-f]{1,4}$/i.test(piece)) {
      out.push(parseInt(piece, 16));
    } else {
      return null;
    }
  }
  return out;
}

/** The 16 bytes of an IPv4 or IPv6 address, or null when it is not one. */
export function parseIp(s: string): Uint8Array | null {
  const v4 = v4Bytes(s);
  if (v4) return Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4]);
  if (!s.includes(":") || s.length > 45) return null;
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const head = v6Groups(halves[0]!);
  const tail = halves.length === 2 ? v6Groups(halves[1]!) : [];
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  // An embedded IPv4 tail belongs only at the end.
  if (halves.length === 2 && halves[0]!.includes(".")) return null;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => { out[2 * i] = g >> 8; out[2 * i + 1] = g & 0xff; });
  return out;
}

export interface Cidr {
  bytes: Uint8Array;
  /** Prefix length in the 128-bit space (an IPv4 /8 is 104). */
  bits: number;
}

/** A CIDR range ("10.0.0.0/8", "2001:db8::/32"), or null. */
export function parseCidr(s: string): Cidr | null {
  const slash = s.indexOf("/");
  if (slash === -1) return null;
  const bytes = parseIp(s.slice(0, slash));
  const lenText = s.slice(slash + 1);
  if (!bytes || !/^\d{1,3}$/.test(lenText)) return null;
  const len = Number(lenText);
  const v4 = s.slice(0, slash).indexOf(":") === -1;
  if (len > (v4 ? 32 : 128)) return null;
  return { bytes, bits: v4 ? 96 + len : len };
}

/** Is `ip` (16 bytes) inside the range? */
export function inCidr(ip: Uint8Array, range: Cidr): boolean {
  for (let bit = 0; bit < range.bits; bit += 8) {
    const mask = range.bits - bit >= 8 ? 0xff : (0xff << (8 - (range.bits - bit))) & 0xff;
    if ((ip[bit / 8]! & mask) !== (range.bytes[bit / 8]! & mask)) return false;
  }
  return true;
}

/** An address or a CIDR range (configuration check). */
export function isIpOrCidr(s: string): boolean {
  return parseIp(s) !== null || parseCidr(s) !== null;
}

/** Is the client address allowed by the list (addresses and ranges)? An empty list allows everyone. */
export function ipAllowed(ip: string | null, allow: readonly string[]): boolean {
  if (allow.length === 0) return true;
  const addr = ip === null ? null : parseIp(ip);
  if (!addr) return false;
  return allow.some((entry) => {
    const range = parseCidr(entry);
    if (range) return inCidr(addr, range);
    const one = parseIp(entry);
    return one !== null && one.every((b, i) => b === addr[i]);
  });
}
