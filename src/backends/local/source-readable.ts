/**
 * Whether this gateway may read a LOCAL run's source, asked before claiming it, so that replicas
 * with different `LOCAL_SOURCE_ROOTS` or `SOURCE_ALLOWED_NETWORKS` each take only the runs they can
 * execute. Cheap and conservative: the path's directory part against the roots (the executor still
 * checks every file it opens), and an HTTP URL's host — an IP literal, or every address its name
 * resolves to — against the address policy. When in doubt (a name that does not resolve) the run
 * counts as readable and fails, if it must, while it executes.
 */
import crypto from 'node:crypto';
import dns from 'node:dns/promises';
import net from 'node:net';
import type { Config } from '../../config';
import type { SourceConfig } from '../../domain';
import { makeAddressPolicy } from '../../net/address-policy';
import { globBase } from './ingest/glob';
import { rootsCheck } from './ingest/roots';

/** What a claimer needs to tell the runs it may read. */
export interface ReadableCheck {
  /**
   * Stands for this gateway's source settings: gateways with the same one may read the same
   * sources (the resolved roots and allowed networks, hashed).
   */
  readonly fingerprint: string;
  /** Why this gateway may not read `source`, or null when it may (as far as can be told without reading it). */
  notReadable(source: Pick<SourceConfig, 'type' | 'params'>): Promise<string | null>;
}

/** The check for a gateway configured with `config`. */
export function makeReadableCheck(config: Pick<Config, 'localSourceRoots' | 'sourceAllowedNetworks'>): ReadableCheck {
  const roots = config.localSourceRoots;
  const inside = roots ? rootsCheck(roots) : () => true;
  const policy = makeAddressPolicy(config.sourceAllowedNetworks);
  const fingerprint = crypto
    .createHash('sha256')
    .update(JSON.stringify({ roots: roots ? [...roots].sort() : '*', networks: [...config.sourceAllowedNetworks].sort() }))
    .digest('hex')
    .slice(0, 12);
  return {
    fingerprint,
    async notReadable(source) {
      if (source.type === 'LOCAL') {
        const p = source.params.path;
        return typeof p === 'string' && !inside(globBase(p)) ? 'its path is outside the LOCAL_SOURCE_ROOTS of this gateway' : null;
      }
      if (source.type !== 'HTTP' || policy.allowsAll) return null;
      let host: string;
      try {
        host = new URL(String(source.params.url)).hostname.replace(/^\[(.*)\]$/, '$1');
      } catch {
        return null;
      }
      const refused = 'its address is not allowed by the SOURCE_ALLOWED_NETWORKS of this gateway';
      if (net.isIP(host)) return policy.allows(host) ? null : refused;
      const addresses = await dns.lookup(host, { all: true }).catch(() => null);
      return addresses?.length && !addresses.some((a) => policy.allows(a.address)) ? refused : null;
    },
  };
}
