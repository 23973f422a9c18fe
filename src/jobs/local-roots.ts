import type { SourceConfig } from '../domain';
import { badInput } from '../errors';
import { globBase } from '../backends/local/ingest/glob';
import { rootsCheck } from '../backends/local/ingest/roots';

/**
 * With `LOCAL_SOURCE_ROOTS` set, refuses (BAD_USER_INPUT on `field`) a LOCAL source whose path —
 * the directory part before any wildcard, `..` and symbolic links resolved — lies outside them.
 * The executor checks every file it opens again, so a glob cannot reach out either.
 */
export function checkLocalRoots(source: SourceConfig, roots: readonly string[] | undefined, field: string): void {
  if (!roots?.length || source.type !== 'LOCAL' || typeof source.params.path !== 'string') return;
  if (!rootsCheck(roots)(globBase(source.params.path))) {
    throw badInput(field, `must lie inside the directories LOCAL sources may read (${roots.join(', ')})`);
  }
}
