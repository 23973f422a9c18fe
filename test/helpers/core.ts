import { loadConfig, type Config } from '../../src/config';
import { buildCore, type Core, type CoreOptions } from '../../src/core';
import type { Database } from '../../src/db/orm';
import type { EventBus } from '../../src/events/bus';
import { makeLogger, type Logger } from '../../src/logger';
import { TEST_SOURCE_ACCESS } from './source-access';

/**
 * The core's services over a test's database and bus, built exactly as the composition root
 * builds them (src/core.ts). `config` overrides the defaults (the environment is ignored).
 */
export function testCore(
  db: Pick<Database, 'sql'>,
  bus: EventBus,
  opts: { config?: Partial<Config>; logger?: Logger } & Pick<CoreOptions, 'backends' | 'now' | 'random'> = {},
): Core & { config: Readonly<Config> } {
  const { config: overrides, logger, ...rest } = opts;
  const config = loadConfig({}, { ...TEST_SOURCE_ACCESS, ...overrides });
  return { ...buildCore({ db, bus, config, logger: logger ?? makeLogger('silent'), ...rest }), config };
}
