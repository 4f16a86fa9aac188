import { CONFIG_CHECKS } from '../app/config-checks.js';
import { ConfigError, loadConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import { createLogger, type Logger } from '../shared/logger.js';

export const EXIT_CONFIG = 2;

/**
 * Loads and validates the config for a command. On bad config prints one line per problem to stderr and
 * exits 2, as operators' scripts expect from `cmpha config validate`.
 */
export async function loadCliConfig(configPath?: string): Promise<Config> {
  try {
    return await loadConfig({ path: configPath, env: process.env, checks: CONFIG_CHECKS });
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const line of err.lines()) process.stderr.write(`${line}\n`);
      process.exit(EXIT_CONFIG);
    }
    throw err;
  }
}

let levelOverride: Config['logging']['level'] | undefined;
/** Set by the global `--log-level` flag before any command runs. */
export function setLogLevelOverride(level: Config['logging']['level'] | undefined): void {
  levelOverride = level;
}

export function createCliLogger(config: Pick<Config, 'logging'>): Logger {
  const format = config.logging.format;
  const pretty = format === 'pretty' || (format === 'auto' && process.stderr.isTTY === true);
  return createLogger({ level: levelOverride ?? config.logging.level, pretty });
}
