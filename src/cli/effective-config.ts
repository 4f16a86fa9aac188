import { FIXED_SECTIONS } from '../config/schema.js';
import type { Config } from '../config/types.js';
import { formatDuration } from '../shared/duration.js';
import { maskUrl, maskUrlsIn } from '../shared/mask-url.js';

/** One effective setting under its INI name, as `cmpha config validate` prints it. */
export interface Setting {
  readonly section: string;
  readonly key: string;
  readonly value: string;
}

function show(v: unknown, isDuration: boolean): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (isDuration && typeof v === 'number') return formatDuration(v);
  if (Array.isArray(v)) return v.map((x: unknown) => (typeof x === 'object' && x !== null && 'host' in x && 'port' in x ? `${String(x.host)}:${String(x.port)}` : String(x))).join(', ');
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
  // A password written into a URL (Redis, a webhook, a proxy) is masked like a Secret.
  const add = (section: string, key: string, value: string | undefined) => { if (value !== undefined && value !== '') out.push({ section, key, value: maskUrlsIn(value) }); };
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
  if (c.maxResponseBytes !== undefined) add('cloud', 'max_response_size', String(c.maxResponseBytes));
  if (c.proxy) {
    add('cloud', 'proxy', maskUrl(c.proxy.url.href));
    add('cloud', 'no_proxy', c.proxy.noProxy.entries.join(', '));
  }

  // Every other fixed section by its declarations: the typed property of each INI key, durations as durations.
  for (const section of FIXED_SECTIONS) {
    if (section.name === 'cloud' || section.name === 'ser' || section.name === 'DEFAULT') continue;
    const typed = (config as unknown as Record<string, Record<string, unknown> | undefined>)[section.name];
    if (!typed) continue;
    for (const [prop, decl] of Object.entries(section.decls)) {
      if (prop in typed) add(section.name, decl.ini, show(typed[prop], prop.endsWith('Ms')));
    }
  }
  // [redis] TLS is reshaped by its declaration into one object (present only when on).
  const tls = config.redis.tls;
  if (tls) {
    add('redis', 'tls', 'true');
    add('redis', 'tls_ca_file', tls.ca);
    add('redis', 'tls_cert_file', tls.cert);
    add('redis', 'tls_key_file', tls.key);
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
