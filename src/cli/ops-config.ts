import { accessSync, constants, readFileSync } from 'node:fs';
import { formatIssue, type ConfigIssue } from '../config/load.js';
import { parseIni } from '../config/ini-file.js';
import { SECTIONS } from '../config/schema.js';
import { Secret } from '../config/secret.js';
import type { RedisConfig } from '../config/types.js';
import { CmphaError } from '../shared/errors.js';

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
export function loadOpsConfig(explicit: string | undefined, env: Readonly<Record<string, string | undefined>> = process.env): OpsConfig {
  const file = opsConfigPath(explicit, env);
  const issues: ConfigIssue[] = [];
  const where = file ?? '(no config file)';
  let raw: Record<string, string | boolean> = {};
  const lines = new Map<string, number>();
  if (file !== undefined) {
    let text: string | undefined;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      issues.push({ file, message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
    }
    if (text !== undefined) {
      const parsed = parseIni(text);
      for (const p of parsed.problems) if (p.section === 'redis') issues.push({ file, line: p.line, section: p.section, message: p.message });
      raw = { ...(parsed.sections.get('redis') ?? {}) };
      for (const [k, v] of parsed.lines) if (k.startsWith('redis\0')) lines.set(k.slice('redis\0'.length), v);
    }
  }
  const at = (key?: string): ConfigIssue => ({ file: where, section: 'redis', ...(key ? { key } : {}), ...(key && lines.has(key) ? { line: lines.get(key)! } : {}), message: '' });
  const r = SECTIONS.redis.safeParse(raw);
  if (!r.success) {
    for (const i of r.error.issues) {
      if (i.code === 'unrecognized_keys') for (const key of i.keys) issues.push({ ...at(key), message: 'unknown key' });
      else issues.push({ ...at(i.path.map(String).join('.') || undefined), message: i.message });
    }
  }
  let password: Secret | undefined;
  if (r.success) {
    if (r.data.password !== undefined && r.data.password_file !== undefined) issues.push({ ...at('password'), message: 'set both password and password_file; keep one' });
    else if (r.data.password_file !== undefined) {
      try {
        password = new Secret(readFileSync(r.data.password_file, 'utf8').replace(/\r?\n$/, ''));
      } catch (err) {
        issues.push({ ...at('password_file'), message: `cannot read secret file ${r.data.password_file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}` });
      }
    } else if (r.data.password !== undefined) password = new Secret(r.data.password);
  }
  if (issues.length > 0 || !r.success) throw new CmphaError('config_invalid', issues.map(formatIssue).join('\n'));
  return { ...(file ? { path: file } : {}), redis: { url: r.data.url!, prefix: r.data.prefix!, ...(password ? { password } : {}) } };
}
