import type { Command } from 'commander';
import { CONFIG_CHECKS } from '../app/config-checks.js';
import { ConfigError, loadConfig, type LoadOptions } from '../config/load.js';
import type { Config } from '../config/types.js';
import { withResolvedBmcs } from '../fencing/resolve-bmc.js';
import { createLogger, type Logger } from '../shared/logger.js';
import { readBackend } from '../app/cloud-adapter.js';
import type { ComputeBackend } from '../compute/types.js';
import type { OpenStack } from '../openstack/index.js';

export const EXIT_OK = 0;
/** The command ran and something failed (or, for doctor/fence status, would fail). */
export const EXIT_FAILED = 1;
/** Bad usage or bad config: nothing was done. */
export const EXIT_CONFIG = 2;
/** `cmpha check`: the controller could not see the cloud (cut off from its isolation addresses, or the probe failed). */
export const EXIT_BLIND = 3;

/** Printed under `--help` and in the README; one table for every command. */
export const EXIT_CODES_HELP = `
Exit codes:
  0  done (check: every host seen; doctor: failover would work)
  1  the command failed, or something would make failover fail (doctor, fence status, notify test)
  2  bad usage or bad config: nothing was done
  3  check only: the controller could not see the cloud (isolated, or the probe failed)
  4  check --storage only: a Ceph disk has more than one writer`;

/** Commander collector for a repeatable option. */
export function collect(value: string, previous: readonly string[] = []): string[] {
  return [...previous, value];
}

/** One config file, or several (later ones override earlier ones, as oslo's repeated --config-file). */
export type ConfigPaths = string | readonly string[];

/** `--config PATH` (repeatable) on a subcommand, beside the global one given before it. */
export function withConfigOption(cmd: Command): Command {
  return cmd.option('--config <path>', 'config file; repeat for several, later ones override earlier ones (default: $CMPHA_CONFIG or /etc/cmpha/cmpha.conf)', collect);
}

const asList = (p: ConfigPaths | undefined): readonly string[] => (p === undefined ? [] : typeof p === 'string' ? [p] : p);

/** The config files: the subcommand's `--config`, else the global one (`cmpha --config X check`). */
export function configPathOf(program: Command, opts: { config?: ConfigPaths }): readonly string[] | undefined {
  const own = asList(opts.config);
  if (own.length > 0) return own;
  const global = asList(program.opts<{ config?: ConfigPaths }>().config);
  return global.length > 0 ? global : undefined;
}

let globalFiles: readonly string[] = [];
let globalDirs: readonly string[] = [];
/** Set by the global `--config` / `--config-dir` flags before any command runs. */
export function setConfigLocation(files: readonly string[], dirs: readonly string[]): void {
  globalFiles = files;
  globalDirs = dirs;
}

/** Where the config comes from: the command's own `--config` files, else the global ones, then every `--config-dir`. */
export function configLocation(configPath?: ConfigPaths): Pick<LoadOptions, 'paths' | 'dirs'> {
  const own = asList(configPath);
  return { paths: own.length > 0 ? own : globalFiles, dirs: globalDirs };
}

/**
 * Loads and validates the config for a command. On bad config prints one line per problem to stderr and
 * exits 2, as operators' scripts expect from `cmpha config validate`: every command refuses what
 * `validate` refuses, through the same loader and checks.
 */
export async function loadCliConfig(configPath?: ConfigPaths, opts: Pick<LoadOptions, 'onWarning'> = {}): Promise<Config> {
  try {
    return await loadConfig({ ...configLocation(configPath), env: process.env, checks: CONFIG_CHECKS, ...opts });
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
export async function loadFencingCliConfig(configPath?: ConfigPaths): Promise<Config> {
  return withResolvedBmcs(await loadCliConfig(configPath), {
    resolved: () => undefined,
    problem: (_host, _name, message) => process.stderr.write(`warning: ${message}\n`),
  });
}

let levelOverride: Config['logging']['level'] | undefined;
let verbose = false;
let noColor = false;
/** Set by the global `--log-level`, `--verbose` and `--no-color` flags before any command runs. */
export function setCliFlags(flags: { level?: Config['logging']['level']; verbose?: boolean; noColor?: boolean }): void {
  levelOverride = flags.level;
  verbose = flags.verbose === true;
  noColor = flags.noColor === true;
}

/** Set by tests and by the global `--log-level` flag. */
export function setLogLevelOverride(level: Config['logging']['level'] | undefined): void {
  levelOverride = level;
}

/** Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org) or --no-color given. */
export function colorEnabled(stream: { isTTY?: boolean } = process.stderr): boolean {
  return !noColor && (process.env.NO_COLOR ?? '') === '' && stream.isTTY === true;
}

/**
 * The logger of a command. One-shot commands log at warn on a terminal, so their output is not buried in
 * progress logs; `--verbose` gives the [logging] level and `--log-level` any level. The daemon (`run`) and
 * any non-terminal stderr (journald, CI) log at the [logging] level.
 */
export function createCliLogger(config: Pick<Config, 'logging'>, opts: { daemon?: boolean } = {}): Logger {
  const format = config.logging.format;
  const tty = process.stderr.isTTY === true;
  const pretty = format === 'pretty' || (format === 'auto' && tty);
  const quiet = !opts.daemon && tty && !verbose;
  const level = levelOverride ?? (quiet && ['debug', 'info'].includes(config.logging.level) ? 'warn' : config.logging.level);
  return createLogger({ level, pretty, color: colorEnabled() });
}

/** The cloud's compute backend for a one-shot command, built from `[cloud]`: the one place the CLI picks the adapter. */
export function createCliCompute(config: Config, logger: Logger, openstack?: OpenStack): ComputeBackend {
  return readBackend(config, { logger, ...(openstack ? { openstack } : {}) });
}
