import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../../src/config';

/** Where tests write the files their sources read (the system's temporary folder), and the shipped samples. */
export const TEST_ROOTS = [fs.realpathSync(os.tmpdir()), path.resolve(__dirname, '../../samples')];

/**
 * What the tests' gateways let sources reach, as the operator of a test machine would set it:
 * sources on this host (the tests' HTTP servers, PostgreSQL and Kafka on 127.0.0.1), and every
 * path (`LOCAL_SOURCE_ROOTS=*`): many tests define jobs on paths that do not exist, which no root
 * would hold. The defaults (samples and the data folder; public addresses only) and the roots are
 * tested in source-access.test.ts, jobs-service.test.ts and source-claims.test.ts.
 */
export const TEST_SOURCE_ACCESS: Pick<Config, 'localSourceRoots' | 'sourceAllowedNetworks'> = {
  localSourceRoots: null,
  sourceAllowedNetworks: ['127.0.0.0/8', '::1/128'],
};

/** {@link TEST_SOURCE_ACCESS} as environment variables, for gateways in processes of their own. */
export const TEST_SOURCE_ENV: Record<string, string> = {
  LOCAL_SOURCE_ROOTS: '*',
  SOURCE_ALLOWED_NETWORKS: TEST_SOURCE_ACCESS.sourceAllowedNetworks.join(','),
};
