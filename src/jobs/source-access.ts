import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config';
import type { SourceConfig } from '../domain';
import { badInput, coerceError } from '../errors';
import type { Logger } from '../logger';
import { globBase } from '../backends/local/ingest/glob';
import { rootsCheck } from '../backends/local/ingest/roots';
import type { SourceAccess } from '../backends/local/ingest/sources';
import { makeAddressPolicy } from '../net/address-policy';

/** What sources may reach in this gateway, from its configuration (LOCAL_SOURCE_ROOTS, SOURCE_ALLOWED_NETWORKS). */
export function sourceAccessFrom(config: Pick<Config, 'localSourceRoots' | 'sourceAllowedNetworks'>): Required<SourceAccess> {
  return { allowedRoots: config.localSourceRoots, allowedNetworks: makeAddressPolicy(config.sourceAllowedNetworks) };
}

/**
 * Refuses (BAD_USER_INPUT on `field`) a LOCAL source whose path — the directory part before any
 * wildcard, `..` and symbolic links resolved — lies outside `roots` (null: anywhere). The message is
 * the same whether anything exists there or not. The executor checks every file it opens again, so
 * a glob or a link cannot reach out either.
 */
export function checkLocalRoots(source: SourceConfig, roots: readonly string[] | null, field: string): void {
  if (!roots || source.type !== 'LOCAL' || typeof source.params.path !== 'string') return;
  if (!rootsCheck(roots)(globBase(source.params.path))) {
    throw badInput(field, `must lie inside the directories LOCAL sources may read (LOCAL_SOURCE_ROOTS: ${roots.join(', ')})`);
  }
}

/**
 * At start: creates the gateway's data folder for LOCAL sources (`JOBWIRE_DATA_DIR/data`) when it
 * is one of the roots and missing, and says what sources may reach. A folder that cannot be created
 * is a warning (LOCAL sources there then find nothing), not a reason to refuse to start.
 */
export function prepareSourceAccess(config: Pick<Config, 'localSourceRoots' | 'sourceAllowedNetworks' | 'dataDir'>, logger: Logger): void {
  const dataFolder = path.join(config.dataDir, 'data');
  if (config.localSourceRoots?.includes(dataFolder)) {
    try {
      fs.mkdirSync(dataFolder, { recursive: true });
    } catch (err) {
      const e = coerceError(err);
      logger.warn({ err: e }, `cannot create the data folder for LOCAL sources ${dataFolder}: ${e.message}`);
    }
  }
  logger.info(
    {
      localSourceRoots: config.localSourceRoots ?? '* (any path this process can read)',
      sourceAllowedNetworks: config.sourceAllowedNetworks.length ? config.sourceAllowedNetworks : 'public addresses only',
    },
    'what sources may reach',
  );
}
