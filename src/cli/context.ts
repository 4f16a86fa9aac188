import { CONFIG_CHECKS } from '../app/config-checks.js';
import { ConfigError, loadConfig, type LoadOptions } from '../config/load.js';
import type { Config } from '../config/types.js';
import { withResolvedBmcs } from '../fencing/resolve-bmc.js';
import { createLogger, type Logger } from '../shared/logger.js';

export const EXIT_CONFIG = 2;

/** Commander collector for a repeatable option. */
export function collect(value: string, previous: readonly string[] = []): string[] {
  return [...previous, value];
}

let globalFiles: readonly string[] = [];
let globalDirs: readonly string[] = [];
/** Set by the global `--config-file` / `--config-dir` flags before any command runs. */
export function setConfigLocation(files: readonly string[], dirs: readonly string[]): void {
  globalFiles = files;
  globalDirs = dirs;
}

/** Where the config comes from: the global flags, then the command's own `-c` (as oslo's --config-file, in order). */
export function configLocation(configPath?: string | readonly string[]): Pick<LoadOptions, 'paths' | 'dirs'> {
  const own = configPath === undefined ? [] : typeof configPath === 'string' ? [configPath] : configPath;
  return { paths: [...globalFiles, ...own], dirs: globalDirs };
}

/**
 * Loads and validates the config for a command. On bad config prints one line per problem to stderr and
 * exits 2, as operators' scripts expect from `cmpha config validate`: every command refuses what
 * `validate` refuses, through the same loader and checks.
 */
export async function loadCliConfig(configPath?: string | readonly string[]): Promise<Config> {
  try {
    return await loadConfig({ ...configLocation(configPath), env: process.env, checks: CONFIG_CHECKS });
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const line of err.lines()) process.stderr.write(`${line}\n`);
      process.exit(EXIT_CONFIG);
    }
    throw err;
  }
}

/**
 * For commands that fence (fence, evacuate, host restore): the config with IPMI BMC names resolved, as
 * `cmpha run` resolves them at start; a name that does not resolve is said on stderr.
 */
export async function loadFencingCliConfig(configPath?: string | readonly string[]): Promise<Config> {
  return withResolvedBmcs(await loadCliConfig(configPath), {
    resolved: () => undefined,
    problem: (_host, _name, message) => process.stderr.write(`warning: ${message}\n`),
  });
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
