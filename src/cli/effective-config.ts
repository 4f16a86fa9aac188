import { CONFIG_REFERENCE } from '../config/reference.js';
import type { Config } from '../config/types.js';
import { formatDuration } from '../shared/duration.js';

/** One effective setting under its INI name, as `cmpha config validate` prints it. */
export interface Setting {
  readonly section: string;
  readonly key: string;
  readonly value: string;
}

const camel = (k: string) => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

function show(v: unknown, isDuration: boolean): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (isDuration && typeof v === 'number') return formatDuration(v);
  if (Array.isArray(v)) return v.map(String).join(', ');
  if (typeof v === 'object' && 'host' in v && 'port' in v) return `${String((v as { host: string }).host)}:${String((v as { port: number }).port)}`;
  if (typeof v === 'object' && 'key' in v && 'value' in v) return `${String((v as { key: string }).key)}=${String((v as { value: string }).value)}`;
  // A Secret prints as *** through String().
  return String(v);
}

/**
 * The validated config back under the keys an operator writes: `[detector] interval = 10s`, not
 * `intervalMs: 10000`. Sections and keys come from the config reference, so a new key shows up here by itself;
 * values come from the typed config (durations as durations, secrets as ***).
 */
export function effectiveSettings(config: Config): Setting[] {
  const out: Setting[] = [];
  const add = (section: string, key: string, value: string | undefined) => { if (value !== undefined && value !== '') out.push({ section, key, value }); };
  const c = config.cloud;
  add('cloud', 'auth_url', c.authUrl);
  add('cloud', 'auth_type', c.auth.type === 'password' ? 'password' : 'v3applicationcredential');
  const auth = c.auth as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(auth)) if (k !== 'type') add('cloud', k === 'secret' ? 'application_credential_secret' : k.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`), show(v, false));
  add('cloud', 'region_name', c.regionName);
  add('cloud', 'interface', c.interface);
  add('cloud', 'cacert', c.cacert);
  add('cloud', 'insecure', String(c.insecure));
  add('cloud', 'api_timeout', formatDuration(c.timeoutMs));
  add('cloud', 'api_retries', String(c.retries));

  for (const doc of CONFIG_REFERENCE) {
    if (doc.section === 'cloud' || doc.section === 'ser' || doc.section.includes(':')) continue;
    const typed = (config as unknown as Record<string, Record<string, unknown> | undefined>)[doc.section];
    if (!typed) continue;
    for (const { key } of doc.keys) {
      const name = camel(key);
      if (name in typed) add(doc.section, key, show(typed[name], false));
      else if (`${name}Ms` in typed) add(doc.section, key, show(typed[`${name}Ms`], true));
    }
  }
  // Tokens by name (the file's base name), never their value.
  for (const role of ['read', 'write'] as const) add('api', `${role}_token_files`, config.api.tokens.filter((t) => t.role === role).map((t) => t.name).join(', '));

  for (const h of Object.values(config.hosts)) {
    const s = `host:${h.name}`;
    add(s, 'mgmt_ip', h.mgmtIp);
    add(s, 'driver', h.fence.driver);
    if (h.fence.driver === 'ipmi' || h.fence.driver === 'redfish') {
      add(s, 'address', h.fence.address);
      add(s, 'port', String(h.fence.port));
      add(s, 'username', h.fence.username);
      add(s, 'password', show(h.fence.password, false));
    }
  }
  for (const n of config.notifiers) {
    const s = `notifier:${n.name}`;
    add(s, 'type', n.type);
    add(s, 'events', n.events.join(', '));
    add(s, 'min_severity', n.minSeverity);
    add(s, 'audience', n.audience);
    add(s, 'recipients', n.recipients.join(', '));
    for (const [k, v] of Object.entries(n.options)) add(s, k, show(v, false));
  }
  return out;
}

/** The table form: the file as an operator would write it. */
export function formatSettings(settings: readonly Setting[]): string {
  let out = '';
  let section = '';
  for (const s of settings) {
    if (s.section !== section) {
      out += `${out ? '\n' : ''}[${s.section}]\n`;
      section = s.section;
    }
    out += `${s.key} = ${s.value}\n`;
  }
  return out;
}
