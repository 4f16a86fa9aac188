import { accessSync, constants, readFileSync } from 'node:fs';
import { formatIssue, resolveRedis, type ConfigIssue } from '../config/load.js';
import { parseIni } from '../config/ini-file.js';
import type { RedisConfig } from '../config/types.js';
import { CmphaError, errorMessage } from '../shared/errors.js';
import { connectRedisOnce } from '../shared/redis-connect.js';

/** The on-call file: only [redis], readable by the cmpha-ops group; no Keystone or BMC secret in it. */
export const OPS_CONFIG_PATH = '/etc/cmpha/cmpha-ops.conf';
const FULL_CONFIG_PATH = '/etc/cmpha/cmpha.conf';

export interface OpsConfig {
  readonly path?: string;
  readonly redis: RedisConfig;
}

function readable(file: string): boolean {
  try {
    accessSync(file, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/** --config, then $CMPHA_CONFIG, then /etc/cmpha/cmpha-ops.conf, then /etc/cmpha/cmpha.conf, if readable. */
export function opsConfigPath(explicit: string | undefined, env: Readonly<Record<string, string | undefined>>): string | undefined {
  return explicit ?? env.CMPHA_CONFIG ?? [OPS_CONFIG_PATH, FULL_CONFIG_PATH].find(readable);
}

/**
 * What reading and acknowledging incidents needs: the [redis] section and nothing else. Every other section
 * is skipped unread and unvalidated, so the full cmpha.conf works too, but an on-call account that may read
 * only cmpha-ops.conf never needs the Keystone password or a BMC password.
 */
export function loadOpsConfig(explicit: string | readonly string[] | undefined, env: Readonly<Record<string, string | undefined>> = process.env): OpsConfig {
  const given = explicit === undefined ? [] : typeof explicit === 'string' ? [explicit] : [...explicit];
  const fallback = opsConfigPath(undefined, env);
  const files = given.length > 0 ? given : fallback !== undefined ? [fallback] : [];
  const issues: ConfigIssue[] = [];
  // Several files: later ones override earlier ones key by key, as for cmpha.conf.
  const raw: Record<string, string | boolean> = {};
  const lines = new Map<string, { file: string; line: number }>();
  for (const file of files) {
    let text: string | undefined;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      issues.push({ file, message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
    }
    if (text !== undefined) {
      const parsed = parseIni(text);
      for (const p of parsed.problems) if (p.section === 'redis') issues.push({ file, line: p.line, section: p.section, message: p.message });
      Object.assign(raw, parsed.sections.get('redis') ?? {});
      for (const [k, v] of parsed.lines.get('redis') ?? []) lines.set(k, { file, line: v });
    }
  }
  const where = files.at(-1) ?? '(no config file)';
  const at = (key?: string): ConfigIssue => {
    const l = key !== undefined ? lines.get(key) : undefined;
    return { file: l?.file ?? where, section: 'redis', ...(key ? { key } : {}), ...(l ? { line: l.line } : {}), message: '' };
  };
  // The same [redis] declaration as cmpha.conf's, so Sentinel, TLS and ACL users work for on-call too.
  const { redis, problems } = resolveRedis(raw);
  for (const p of problems) issues.push({ ...at(p.key), message: p.message });
  if (issues.length > 0 || !redis) throw new CmphaError('config_invalid', issues.map(formatIssue).join('\n'));
  return { ...(files.length > 0 ? { path: files.at(-1)! } : {}), redis };
}

/** Exit codes `withOpsRedis` sets: a config it cannot read, or a failure of the work itself. */
const EXIT_OPS_CONFIG = 2;
const EXIT_OPS_FAILED = 1;

/**
 * Runs an on-call command's work with the [redis] of the ops config: a config problem exits 2 with its message, a
 * failure of the work exits `exitCodeOf(err)` (1 by default) with "cmpha LABEL: message"; Redis is always let go.
 */
export async function withOpsRedis(
  configPath: string | readonly string[] | undefined, label: string,
  work: (config: OpsConfig, redis: Awaited<ReturnType<typeof connectRedisOnce>>) => Promise<void>,
  exitCodeOf: (err: unknown) => number = () => EXIT_OPS_FAILED,
): Promise<void> {
  let config: OpsConfig;
  try {
    config = loadOpsConfig(configPath);
  } catch (err) {
    process.stderr.write(`${errorMessage(err)}\n`);
    process.exitCode = EXIT_OPS_CONFIG;
    return;
  }
  let redis: Awaited<ReturnType<typeof connectRedisOnce>> | undefined;
  try {
    redis = await connectRedisOnce(config.redis);
    await work(config, redis);
  } catch (err) {
    process.stderr.write(`cmpha ${label}: ${errorMessage(err)}\n`);
    process.exitCode = exitCodeOf(err);
  } finally {
    redis?.disconnect();
  }
}
