import type { z } from 'zod';
import { parseDuration } from '../shared/duration.js';
import { ConfigError, type ConfigIssue } from './config-error.js';
import { configFiles, DEFAULT_CONFIG_PATH, plain, readConfigSources, type ConfigLocation, type RawSection } from './config-files.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { readSecret, sectionKeys, type Decls, type Typed } from './declare.js';
import { hostDefaultsSection } from './host-schema.js';
import { instanceFailureSection, segmentSectionDecl } from './masakari-schema.js';
import { notifierSectionDecl } from './notifier-schema.js';
import { resolveCloud } from './resolve-cloud.js';
import { HOST_DEFAULTS, resolveHosts } from './resolve-hosts.js';
import {
  cephSection, kdumpSection, cloudSection, defaultSection, detectorSection, escalationSection, evacuationSection, fencingSection, FIXED_SECTIONS,
  apiSection, legacySection, loggingSection, metricsSection, recoverySection, redisSection, remediationSection,
} from './schema.js';
import { Secret } from './secret.js';
import { didYouMean } from './suggest.js';
import type { ApiToken, CephConfig, Config, NotifierConfig, RedisConfig, SegmentConfig } from './types.js';

export { ConfigError, formatIssue, type ConfigIssue } from './config-error.js';
export { DEFAULT_CONFIG_PATH } from './config-files.js';

export interface LoadOptions extends ConfigLocation {
  /** One cmpha.conf (kept for callers that name a single file); `paths` and `dirs` take several. */
  readonly path?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** For clouds.yaml lookup (./clouds.yaml). */
  readonly cwd?: string;
  /**
   * Further checks of the typed config by the modules that own a part of it (e.g. each notifier's
   * channel-specific keys), so their problems are reported with the rest and exit 2 at load time.
   */
  readonly checks?: readonly ((config: Config) => readonly ConfigIssue[])[];
  /** Things that are valid but probably not what was meant (a pattern section matching no host). */
  readonly onWarning?: (warning: ConfigIssue) => void;
}

const SECRET_OPTION_KEYS = new Set(['password', 'auth_token', 'token', 'secret', 'api_key']);
const FIXED = new Map<string, Decls>([...FIXED_SECTIONS.map((s) => [s.name, s.decls] as [string, Decls]), [HOST_DEFAULTS, hostDefaultsSection.decls], [instanceFailureSection.name, instanceFailureSection.decls]]);
const SECTION_NAMES = [...FIXED.keys(), 'host:NAME', 'notifier:NAME', 'segment:NAME'];

/** Reads cmpha.conf (one or several files), clouds.yaml and OS_* variables; validates everything once; returns a frozen Config. */
export async function loadConfig(opts: LoadOptions = {}): Promise<Config> {
  const env = opts.env ?? {};
  const issues: ConfigIssue[] = [];
  const files = configFiles({ paths: [...(opts.path !== undefined ? [opts.path] : []), ...(opts.paths ?? [])], dirs: opts.dirs ?? [] }, env, issues);
  const sources = readConfigSources(files);
  // One at a time: a spread passes one argument per problem, and a file of a million bad lines overflows the stack.
  for (const p of sources.problems) issues.push(p);
  // Everything after an unreadable file would be "X is required": noise that hides the one real problem.
  const unreadable = issues.filter((i) => i.message.startsWith('cannot read'));
  if (unreadable.length > 0) throw new ConfigError(unreadable);
  const fileName = files.length === 0 ? '(no config file)' : files.length === 1 ? files[0]! : files.join(', ');
  const ctx = new Ctx(files[0] ?? fileName, sources.sections, sources.headers, issues);

  const names = new Set([...sources.headers.keys(), ...sources.sections.keys()]);
  for (const name of names) {
    if (name === '') {
      for (const key of sources.sections.get('')?.keys() ?? []) ctx.issue(undefined, key, `key outside any section${whereKeyBelongs(key)}`);
    } else if (!FIXED.has(name) && !name.startsWith('host:') && !name.startsWith('notifier:') && !name.startsWith('segment:')) {
      ctx.issue(name, undefined, `unknown section${didYouMean(name, SECTION_NAMES)} (known: ${SECTION_NAMES.join(', ')})`);
    }
  }
  for (const key of sources.sections.get('DEFAULT')?.keys() ?? []) {
    if (!(key in defaultSection.object.shape)) ctx.issue('DEFAULT', key, `cmpha reads only ${Object.keys(defaultSection.object.shape).join(', ')} from [DEFAULT]${whereKeyBelongs(key)}`);
  }

  const defaults = ctx.section(defaultSection.name, strip(sources.sections.get('DEFAULT'), defaultSection.object.shape), defaultSection.schema, defaultSection.decls);
  const legacy = ctx.section(legacySection.name, undefined, legacySection.schema, legacySection.decls);
  const cloudRaw = ctx.section(cloudSection.name, undefined, cloudSection.schema, cloudSection.decls);
  const detectorValues = sources.sections.get('detector');
  const deprecated = detectorValues ? [...DEPRECATED_DETECTOR_KEYS.keys()].filter((k) => detectorValues.has(k)) : [];
  for (const k of deprecated) opts.onWarning?.(ctx.located('detector', k, DEPRECATED_DETECTOR_KEYS.get(k)!));
  const detector = ctx.section(detectorSection.name, deprecated.length > 0 ? new Map([...detectorValues!].filter(([k]) => !deprecated.includes(k))) : undefined, detectorSection.schema, detectorSection.decls);
  const fencing = ctx.section(fencingSection.name, undefined, fencingSection.schema, fencingSection.decls);
  const cephRaw = ctx.section(cephSection.name, undefined, cephSection.schema, cephSection.decls);
  const kdumpRaw = ctx.section(kdumpSection.name, undefined, kdumpSection.schema, kdumpSection.decls);
  const evacuation = ctx.section(evacuationSection.name, undefined, evacuationSection.schema, evacuationSection.decls);
  const redis = ctx.section(redisSection.name, undefined, redisSection.schema, redisSection.decls);
  const metrics = ctx.section(metricsSection.name, undefined, metricsSection.schema, metricsSection.decls);
  const api = ctx.section(apiSection.name, undefined, apiSection.schema, apiSection.decls);
  const remediation = ctx.section(remediationSection.name, undefined, remediationSection.schema, remediationSection.decls);
  const recovery = ctx.section(recoverySection.name, undefined, recoverySection.schema, recoverySection.decls);
  const logging = ctx.section(loggingSection.name, undefined, loggingSection.schema, loggingSection.decls);
  const escalation = ctx.section(escalationSection.name, undefined, escalationSection.schema, escalationSection.decls);
  const instanceFailure = ctx.section(instanceFailureSection.name, undefined, instanceFailureSection.schema, instanceFailureSection.decls);
  const segments = resolveSegments(ctx, names);

  const cloud = cloudRaw && legacy ? resolveCloud(ctx, cloudRaw, legacy, env, opts.cwd ?? process.cwd()) : undefined;

  // The original tool's INTERVAL (seconds) is the detector interval unless [detector] interval is set.
  let intervalMs = detector?.intervalMs;
  if (legacy?.INTERVAL !== undefined && !ctx.has('detector', 'interval')) {
    const ms = parseDuration(legacy.INTERVAL, 's');
    if (ms === undefined || ms < 1000) ctx.issue('ser', 'INTERVAL', `"${legacy.INTERVAL}" is not a number of seconds (>= 1)`);
    else intervalMs = ms;
  }

  const ceph = cephRaw ? resolveCeph(ctx, cephRaw, ctx.raw('ceph')) : undefined;
  const hosts = resolveHosts(ctx, sources.sections, {
    allowUnfenced: fencing?.allowUnfencedEvacuation ?? false,
    ...(fencing?.fenceLevels ? { fenceLevels: fencing.fenceLevels } : {}),
    cephConfigured: cephRaw?.keyringFile !== undefined || cephRaw?.simUrl !== undefined,
    kdumpConfigured: kdumpRaw?.enabled === true,
  }, (section, message) => opts.onWarning?.(ctx.located(section, undefined, message)));

  const notifiers: NotifierConfig[] = [];
  for (const name of names) {
    if (!name.startsWith('notifier:')) continue;
    const raw = ctx.section(name, undefined, notifierSectionDecl.schema, notifierSectionDecl.decls);
    if (!raw) continue;
    const common = new Set(sectionKeys(notifierSectionDecl.decls));
    const options: Record<string, string | Secret> = {};
    for (const [key, value] of Object.entries(ctx.raw(name))) {
      if (common.has(key)) continue;
      if (key.endsWith('_file') && SECRET_OPTION_KEYS.has(key.slice(0, -5))) {
        const secret = ctx.readSecretFile(name, key, String(value));
        if (secret) options[key.slice(0, -5)] = secret;
      } else if (SECRET_OPTION_KEYS.has(key)) {
        if (key in options) ctx.issue(name, key, `set both ${key} and ${key}_file; keep one`);
        else options[key] = new Secret(String(value));
      } else {
        options[key] = String(value);
      }
    }
    notifiers.push({ name: name.slice('notifier:'.length), ...raw, options });
  }

  const apiTokens = api ? readApiTokens(ctx, api) : [];

  // No file at all: every required key would be reported missing, each as if the operator had forgotten it.
  if (files.length === 0 && issues.length > 0) {
    throw new ConfigError([{ file: DEFAULT_CONFIG_PATH, message: 'does not exist, and neither --config, $CMPHA_CONFIG nor --config-dir names another config file: write one (cmpha.conf.example lists every key) or point at it with --config PATH or CMPHA_CONFIG=PATH' }]);
  }
  if (issues.length > 0 || !cloud || !detector || !fencing || !evacuation || !redis || !metrics || !api || !logging || !escalation || !remediation || !instanceFailure) {
    throw new ConfigError(issues.length > 0 ? issues : [{ file: fileName, message: 'invalid configuration' }]);
  }

  const config: Config = {
    ...(files.length > 0 ? { path: files[0]! } : {}),
    ...(files.length > 1 ? { paths: files } : {}),
    cloud,
    detector: { ...detector, intervalMs: intervalMs! },
    fencing: { ...fencing, ...(cloud.proxy ? { proxy: cloud.proxy } : {}) },
    hosts,
    ...(ceph ? { ceph } : {}),
    ...(kdumpRaw?.enabled ? { kdump: { listen: kdumpRaw.listen, waitMs: kdumpRaw.waitMs, quietAfterMs: kdumpRaw.quietAfterMs, maxDumpWaitMs: kdumpRaw.maxDumpWaitMs } } : {}),
    // The reserved hosts of an rh_priority segment are spares like [evacuation] spare_hosts.
    evacuation: { ...evacuation, spareHosts: [...new Set([...evacuation.spareHosts, ...segments.filter((g) => g.recoveryMethod === 'rh_priority').flatMap((g) => g.reservedHosts)])] },
    notifiers: notifiers.length > 0 ? notifiers.map((n) => ({ ...n, ...(cloud.proxy ? { proxy: cloud.proxy } : {}) })) : [{ name: 'log', type: 'log', events: ['*'], minSeverity: 'info', audience: 'admins', recipients: [], options: {} }],
    escalation,
    redis,
    metrics,
    api: { enabled: api.enabled, listen: api.listen, tokens: apiTokens, anonymousRead: api.anonymousRead, notificationDuplicateWindowMs: api.notificationDuplicateWindowMs },
    remediation,
    ...(recovery ? { recovery } : {}),
    segments,
    instanceFailure,
    logging: { ...logging, level: !ctx.has('logging', 'level') && defaults?.debug ? 'debug' : logging.level },
  };
  const later = (opts.checks ?? []).flatMap((check) => check(config));
  if (later.length > 0) throw new ConfigError(later.map((i) => ctx.located(i.section, i.key, i.message)));
  return deepFreeze(config);
}

/** `[segment:NAME]` in file order: every reserved host is one of the segment's hosts, and a host is in one segment only. */
function resolveSegments(ctx: Ctx, names: ReadonlySet<string>): SegmentConfig[] {
  const segments: SegmentConfig[] = [];
  const owner = new Map<string, string>();
  for (const section of names) {
    if (!section.startsWith('segment:')) continue;
    const name = section.slice('segment:'.length);
    if (!/^[A-Za-z0-9][A-Za-z0-9._ -]{0,254}$/.test(name)) ctx.issue(section, undefined, 'a segment name is 1-255 letters, digits, spaces, . _ or -, starting with a letter or digit');
    const raw = ctx.section(section, undefined, segmentSectionDecl.schema, segmentSectionDecl.decls);
    if (!raw) continue;
    if (raw.hosts.length === 0) ctx.issue(section, 'hosts', 'is required: a segment without hosts protects nothing');
    for (const h of raw.reservedHosts) if (!raw.hosts.includes(h)) ctx.issue(section, 'reserved_hosts', `${h} is not in hosts; a reserved host is one of the segment's hosts`);
    for (const h of raw.hosts) {
      const other = owner.get(h);
      if (other !== undefined) ctx.issue(section, 'hosts', `${h} is already in [segment:${other}]; a host belongs to one segment`);
      else owner.set(h, name);
    }
    segments.push({ name, ...raw });
  }
  return segments;
}

/** Keys an older cmpha.conf may still hold: accepted, ignored, and named with what replaced them. */
const DEPRECATED_DETECTOR_KEYS = new Map([
  ['confirm_rounds', 'is deprecated and ignored: silence is now timed, not counted in rounds; use min_silence (how long every address must stay silent) and probe_interval (how often a suspect is probed)'],
]);

/**
 * [redis] alone, validated by its declaration (Sentinel, TLS, ACL user and the secrets read from their files):
 * for commands that need nothing else, such as the on-call ones reading a file that holds only [redis].
 */
export function resolveRedis(values: Readonly<Record<string, string | boolean>>): { redis?: RedisConfig; problems: { key?: string; message: string }[] } {
  const r = redisSection.schema.safeParse(values);
  if (r.success) return { redis: r.data, problems: [] };
  const problems: { key?: string; message: string }[] = [];
  for (const i of r.error.issues) {
    if (i.code === 'unrecognized_keys') for (const key of i.keys) problems.push({ key, message: 'unknown key' });
    else {
      const key = i.path.map(String).join('.');
      problems.push({ ...(key ? { key } : {}), message: i.message });
    }
  }
  return { problems };
}

const MIN_TOKEN_LENGTH = 16;

/** One token per file; its name is the file's base name without extension, and names must be unique. */
function readApiTokens(ctx: Ctx, api: Typed<typeof apiSection.decls>): ApiToken[] {
  const tokens: ApiToken[] = [];
  for (const [prop, key, role] of [['readTokenFiles', 'read_token_files', 'read'], ['writeTokenFiles', 'write_token_files', 'write']] as const) {
    for (const file of api[prop]) {
      const { secret, problem } = readSecret(key, undefined, file);
      if (problem) ctx.issue('api', key, problem.message);
      if (!secret) continue;
      const name = path.basename(file).replace(/\.[^.]*$/, '');
      const token = secret.reveal().trim();
      if (token.length < MIN_TOKEN_LENGTH) ctx.issue('api', key, `token in ${file} is shorter than ${MIN_TOKEN_LENGTH} characters`);
      else if (tokens.some((t) => t.name === name)) ctx.issue('api', key, `two token files are named ${name}; the name is recorded with every write, so it must be unique`);
      else if (tokens.some((t) => t.secret.reveal() === token)) ctx.issue('api', key, `token in ${file} is the same as another token`);
      else tokens.push({ name, role, secret: new Secret(token), file });
    }
  }
  if (api.enabled && tokens.length === 0 && !api.anonymousRead) ctx.issue('api', 'read_token_files', 'the API is enabled but no token file is set: nobody could use it');
  return tokens;
}

/** [ceph]: the storage fence when it names a keyring (or the simulator); a [ceph] without one is refused. */
function resolveCeph(ctx: Ctx, c: Typed<typeof cephSection.decls>, written: Record<string, unknown>): CephConfig | undefined {
  const common = {
    user: c.user, imagesRbdPool: c.imagesRbdPool, volumePools: c.volumePools, blocklistExpireS: c.blocklistExpireS, confirmTimeoutMs: c.confirmTimeoutMs,
    commandTimeoutMs: c.commandTimeoutMs, writerProofTimeoutMs: c.writerProofTimeoutMs, python: c.python,
  };
  if (c.simUrl !== undefined) return { ...common, keyringFile: '', simUrl: c.simUrl };
  if (c.keyringFile !== undefined) {
    if (c.conf === undefined && c.monHost === undefined) ctx.issue('ceph', 'mon_host', 'mon_host or conf is required with keyring_file');
    if (c.conf !== undefined && !existsSync(c.conf)) ctx.issue('ceph', 'conf', `${c.conf} does not exist`);
    // The keyring is read by librados alone; here only that it is there.
    if (!existsSync(c.keyringFile)) ctx.issue('ceph', 'keyring_file', `${c.keyringFile} does not exist`);
    return { ...common, keyringFile: c.keyringFile, ...(c.conf ? { conf: c.conf } : {}), ...(c.monHost ? { monHost: c.monHost } : {}) };
  }
  if (Object.keys(written).length > 0) ctx.issue('ceph', 'keyring_file', 'is required: without it there is no storage fence');
  return undefined;
}

/** " (it belongs in [detector])" when a key of another section was put where it is not read. */
function whereKeyBelongs(key: string): string {
  const owners = [...FIXED.entries()].filter(([name, decls]) => name !== 'DEFAULT' && sectionKeys(decls).includes(key)).map(([name]) => `[${name}]`);
  if (owners.length > 0) return `; it belongs in ${owners.join(' or ')}`;
  const all = [...FIXED.entries()].flatMap(([name, decls]) => sectionKeys(decls).map((k) => ({ k, name })));
  const hint = didYouMean(key, all.map((a) => a.k));
  const m = /did you mean (.*)\?/.exec(hint);
  if (!m) return '';
  const owner = all.find((a) => a.k === m[1]);
  return ` (did you mean [${owner!.name}] ${m[1]}?)`;
}

function strip(section: RawSection | undefined, shape: Record<string, unknown>): RawSection | undefined {
  if (!section) return undefined;
  return new Map([...section].filter(([k]) => k in shape));
}

/** Collects issues with their file, line, section and key while sections are validated. */
class Ctx {
  constructor(
    readonly file: string,
    private readonly sections: ReadonlyMap<string, RawSection>,
    private readonly headers: ReadonlyMap<string, { readonly file: string; readonly line: number }>,
    private readonly issues: ConfigIssue[],
  ) {}

  /** An issue placed where the key (or else the section) was written. */
  located(section: string | undefined, key: string | undefined, message: string, values?: RawSection): ConfigIssue {
    const where = key !== undefined ? (values ?? this.sections.get(section ?? ''))?.get(key) : undefined;
    const header = section !== undefined ? this.headers.get(section) : undefined;
    const file = where?.file ?? header?.file ?? this.file;
    const line = where?.line ?? header?.line;
    const inherited = where !== undefined && section !== undefined && where.section !== section ? ` (set in [${where.section}])` : '';
    return { file, ...(section !== undefined ? { section } : {}), ...(key !== undefined ? { key } : {}), ...(line !== undefined && line > 0 ? { line } : {}), message: `${message}${inherited}` };
  }

  /** `file` (and `line`) place an issue in another file than cmpha.conf, e.g. clouds.yaml. */
  issue(section: string | undefined, key: string | undefined, message: string, file?: string, line?: number): void {
    const located = this.located(section, key, message);
    this.push(file !== undefined ? { file, ...(line !== undefined ? { line } : {}), ...(section !== undefined ? { section } : {}), ...(key !== undefined ? { key } : {}), message } : located);
  }

  /**
   * A value in [host_defaults] or a pattern section is checked there and again in every host that inherits
   * it: report it once, where it was written, not once per host.
   */
  private push(issue: ConfigIssue): void {
    const base = (m: string) => m.replace(/ \(set in \[[^\]]+\]\)$/, '');
    if (issue.line !== undefined && this.issues.some((i) => i.file === issue.file && i.line === issue.line && i.key === issue.key && base(i.message) === base(issue.message))) return;
    this.issues.push(issue);
  }

  has(section: string, key: string): boolean {
    return this.sections.get(section)?.get(key) !== undefined;
  }

  raw(section: string): Record<string, string | boolean> {
    return plain(this.sections.get(section));
  }

  /** Validates one section (its values as written, or `values` when merged from several), reporting every problem. */
  section<T>(name: string, values: RawSection | undefined, schema: z.ZodType<T, Record<string, unknown>>, decls: Decls): T | undefined {
    return this.parse(name, values ?? this.sections.get(name) ?? new Map(), schema, decls);
  }

  parse<T>(name: string, values: RawSection, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: readonly { code: string; path: readonly PropertyKey[]; message: string; keys?: readonly string[] }[] } } }, decls: Decls): T | undefined {
    const result = schema.safeParse(plain(values));
    if (result.success) return result.data;
    for (const issue of result.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys ?? []) this.push(this.located(name, key, `unknown key${didYouMean(key, sectionKeys(decls))}`, values));
      } else {
        this.push(this.located(name, issue.path.map(String).join('.') || undefined, issue.message, values));
      }
    }
    return undefined;
  }

  readSecretFile(section: string, key: string, filePath: string): Secret | undefined {
    const { secret, problem } = readSecret(key.slice(0, -'_file'.length), undefined, filePath);
    if (problem) this.issue(section, problem.key ?? key, problem.message);
    return secret;
  }
}

function deepFreeze<T>(obj: T): T {
  if (obj && typeof obj === 'object' && !(obj instanceof Secret) && !Object.isFrozen(obj)) {
    for (const v of Object.values(obj)) deepFreeze(v);
    Object.freeze(obj);
  }
  return obj;
}
