import { FIXED_SECTIONS } from '../config/schema.js';
import type { Config, HostConfig } from '../config/types.js';
import { powerDeviceType } from '../fencing/devices/registry.js';
import { formatDuration } from '../shared/duration.js';
import { maskUrl, maskUrlsIn } from '../shared/mask-url.js';

/** One effective setting under its INI name, as `cmpha config validate` prints it. */
export interface Setting {
  readonly section: string;
  readonly key: string;
  readonly value: string;
  /** For a host key taken from a shared section: that section (`host_defaults`, `host:compute-*`). */
  readonly from?: string;
}

function show(v: unknown, isDuration: boolean): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (isDuration && typeof v === 'number') return formatDuration(v);
  // Fence levels: `|` between levels (tried in order), `,` between the devices of one level, as written.
  if (Array.isArray(v) && v.length > 0 && v.every((l) => Array.isArray(l))) return (v as unknown[][]).map((l) => l.join(', ')).join(' | ');
  if (Array.isArray(v)) return v.map((x: unknown) => (typeof x === 'object' && x !== null && 'host' in x && 'port' in x ? `${String(x.host)}:${String(x.port)}`
    // Evacuability rules print as written (normalised), so they read back to the same rules.
    : typeof x === 'object' && x !== null && 'text' in x && 'source' in x ? String(x.text) : String(x))).join(', ');
  if (typeof v === 'object' && 'host' in v && 'port' in v) return `${String((v as { host: string }).host)}:${String((v as { port: number }).port)}`;
  // A count per window (`max_recoveries = 3 per 30m`).
  if (typeof v === 'object' && 'count' in v && 'windowMs' in v) return `${String((v as { count: number }).count)} per ${formatDuration((v as { windowMs: number }).windowMs)}`;
  if (typeof v === 'object' && 'key' in v && 'value' in v) return `${String((v as { key: string }).key)}=${String((v as { value: string }).value)}`;
  // A name → name map (`pci_alias_resources = a1:CUSTOM_PCI_10DE_1EB8`) prints as written.
  if (v instanceof Map) return [...v].map(([k, x]) => `${String(k)}:${String(x)}`).join(', ');
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
  const add = (section: string, key: string, value: string | undefined, from?: string) => {
    if (value !== undefined && value !== '') out.push({ section, key, value: maskUrlsIn(value), ...(from !== undefined ? { from } : {}) });
  };
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
      if (prop in typed) add(section.name, decl.ini, durationInSeconds(prop, typed[prop]) ?? show(typed[prop], prop.endsWith('Ms')));
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
  // Token files by path (a path is no secret; the token in it is).
  for (const role of ['read', 'write'] as const) add('api', `${role}_token_files`, config.api.tokens.filter((t) => t.role === role).map((t) => t.file ?? t.name).join(', '));

  for (const h of Object.values(config.hosts)) hostSettings(h, config.fencing.fenceLevels, add);
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

/** A duration held in whole seconds (`ipmi_timeout`, `blocklist_expire`: the tools take seconds), as a duration. */
function durationInSeconds(prop: string, v: unknown): string | undefined {
  return prop.endsWith('S') && typeof v === 'number' ? formatDuration(v * 1000) : undefined;
}

type Add = (section: string, key: string, value: string | undefined, from?: string) => void;

/**
 * A host's every effective key, those it takes from [host_defaults] or a pattern section marked with that
 * section. Its fence levels only where they differ from [fencing] fence_levels (else they read back the same).
 */
function hostSettings(h: HostConfig, fencingLevels: HostConfig['fenceLevels'], add: Add): void {
  const s = `host:${h.name}`;
  const put = (key: string, value: string | undefined) => add(s, key, value, h.inherited?.[key]);
  put('mgmt_ip', h.mgmtIp);
  const storage = h.storageIps ?? [];
  put(storage.length === 1 ? 'storage_ip' : 'storage_ips', storage.join(', '));
  put('tunnel_ip', h.tunnelIp);
  put('driver', h.fence.driver);
  const type = powerDeviceType(h.fence.driver);
  if (type) {
    // The device's own view of its settings (address, credentials masked, commands), then the keys it keeps
    // under its name (ipmi_*, redfish_*).
    for (const [k, v] of Object.entries(type.shown(h.fence))) put(k, typeof v === 'string' || v === undefined ? v : show(v, false));
    const own = (h.fence as unknown as Record<string, Record<string, unknown> | undefined>)[type.name];
    if (own) {
      for (const [prop, decl] of Object.entries(type.keys)) put(decl.ini, durationInSeconds(prop, own[prop]) ?? show(own[prop], false));
    }
  }
  const levels = h.fenceLevels ?? [];
  if (levels.length > 0 && show(levels, false) !== show(fencingLevels, false)) put('fence_levels', show(levels, false));
  if (h.agentCommand) put('agent_command', commandText(h.agentCommand));
}

/** argv back as a command template: an argument with blanks or quotes in quotes (no escapes in templates). */
function commandText(argv: readonly string[]): string {
  return argv.map((a) => (a !== '' && !/[\s'"]/.test(a) ? a : a.includes("'") ? `"${a}"` : `'${a}'`)).join(' ');
}

/** A value as the INI file needs it: quoted (JSON) when it would otherwise lose a `;`/`#`, a quote or blanks. */
function iniValue(v: string): string {
  return /[;#]|^\s|\s$|^["']/.test(v) ? JSON.stringify(v) : v;
}

/** The table form: the file as an operator would write it; an inherited host key says where it comes from. */
export function formatSettings(settings: readonly Setting[]): string {
  // One header per section, in the order sections first appear (a file may not open a section twice).
  const order = [...new Set(settings.map((s) => s.section))];
  let out = '';
  let section = '';
  for (const s of order.flatMap((name) => settings.filter((x) => x.section === name))) {
    if (s.section !== section) {
      out += `${out ? '\n' : ''}[${s.section}]\n`;
      section = s.section;
    }
    const value = iniValue(s.value);
    const from = s.from === undefined ? '' : `inherited from [${s.from}]`;
    // A comment may follow a plain value after blanks; a quoted one takes it on the line above.
    if (from && value !== s.value) out += `# ${from}\n${s.key} = ${value}\n`;
    else out += `${s.key} = ${value}${from ? `  ; ${from}` : ''}\n`;
  }
  return out;
}
