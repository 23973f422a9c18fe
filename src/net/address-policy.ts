/**
 * Which network addresses sources may reach. By default a source may not reach the gateway's host
 * or its networks: loopback, unspecified, link-local (cloud metadata at 169.254.169.254), private,
 * carrier-grade NAT, unique-local, multicast and broadcast addresses — as IPv4, IPv6 or IPv4-mapped
 * IPv6 — are refused unless `SOURCE_ALLOWED_NETWORKS` allows them. Checked on the address a
 * connection actually goes to (after DNS), never on the name alone.
 */
import net, { BlockList } from 'node:net';

/** The message of every refusal: the same whether anything listens there or not. */
export const ADDRESS_NOT_ALLOWED = 'address not allowed';

/** A connection to an address the policy refuses; thrown (or emitted) before any packet is sent. */
export class AddressNotAllowedError extends Error {
  readonly code = 'EADDRNOTALLOWED';
  constructor(host: string) {
    super(
      `${host}: ${ADDRESS_NOT_ALLOWED} (sources may not reach loopback, link-local or private networks unless SOURCE_ALLOWED_NETWORKS allows them)`,
    );
    this.name = 'AddressNotAllowedError';
  }
}

/** Whether `err` (or one of its causes) is an {@link AddressNotAllowedError}. */
export function isAddressNotAllowed(err: unknown): err is AddressNotAllowedError {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    if (e instanceof AddressNotAllowedError || (e as { code?: unknown }).code === 'EADDRNOTALLOWED') return true;
    e = (e as { cause?: unknown; originalError?: unknown }).cause ?? (e as { originalError?: unknown }).originalError;
  }
  return false;
}

/** Networks refused unless allowed: [address, prefix length]. */
const REFUSED_V4: [string, number][] = [
  ['0.0.0.0', 8], // "this network", incl. the unspecified 0.0.0.0
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata services
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, incl. the broadcast 255.255.255.255
];
const REFUSED_V6: [string, number][] = [
  ['::', 96], // unspecified, loopback ::1 and the deprecated IPv4-compatible form
  ['64:ff9b::', 96], // NAT64: reaches IPv4 addresses through a translator
  ['64:ff9b:1::', 48],
  ['fc00::', 7], // unique-local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
];

/** Where sources may connect. */
export interface AddressPolicy {
  /** Whether a connection to this IP address (v4 or v6) is allowed. */
  allows(ip: string): boolean;
  /** Whether every address is allowed (`SOURCE_ALLOWED_NETWORKS=*`), unix sockets included. */
  readonly allowsAll: boolean;
}

/** Every address allowed: what a policy of `*` is, and what code without a policy assumes. */
export const ALLOW_ALL: AddressPolicy = { allows: () => true, allowsAll: true };

/** Parses `a.b.c.d/n` or `x::y/n` (a bare address is a /32 or /128); throws on anything else. */
export function parseCidr(cidr: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } {
  const [address, bits, extra] = cidr.trim().split('/');
  const v = net.isIP(address);
  if (!v || extra !== undefined) throw new Error(`not a CIDR: ${cidr}`);
  const max = v === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (!/^\d{1,3}$/.test(bits ?? String(max)) || prefix > max) throw new Error(`not a CIDR: ${cidr}`);
  return { address, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

/**
 * The policy for `allowed` (CIDRs, as validated by the configuration; `*` allows every address):
 * an address is allowed when it is in an allowed network or in none of the refused ones.
 */
export function makeAddressPolicy(allowed: readonly string[]): AddressPolicy {
  if (allowed.includes('*')) return ALLOW_ALL;
  const refused = new BlockList();
  for (const [a, p] of REFUSED_V4) refused.addSubnet(a, p, 'ipv4');
  for (const [a, p] of REFUSED_V6) refused.addSubnet(a, p, 'ipv6');
  const allow = new BlockList();
  for (const c of allowed) {
    const { address, prefix, family } = parseCidr(c);
    allow.addSubnet(address, prefix, family);
  }
  return {
    allowsAll: false,
    allows(ip) {
      const v = net.isIP(ip);
      if (!v) return false;
      // BlockList matches IPv4-mapped IPv6 (::ffff:127.0.0.1) against IPv4 rules too.
      const family = v === 4 ? 'ipv4' : 'ipv6';
      return allow.check(ip, family) || !refused.check(ip, family);
    },
  };
}
