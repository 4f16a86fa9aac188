import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { parseDuration } from '../shared/duration.js';
import { createOutgoingProxy, type OutgoingProxy } from '../shared/outgoing-proxy.js';
import { maskUrlPassword } from '../shared/mask-url.js';
import { isIpLiteral } from './fields.js';
import { parseIni, type ParsedIni } from './ini-file.js';
import { hostSection } from './host-schema.js';
import { notifierSection } from './notifier-schema.js';
import { SECTIONS, cloudSection, legacySection } from './schema.js';
import { parseCommandTemplate } from '../shared/command-template.js';
import { Secret } from './secret.js';
import type { ApiToken, CephConfig, CloudAuth, CloudConfig, Config, FenceConfig, FenceDeviceName, HostConfig, NotifierConfig, RedisConfig } from './types.js';

export interface ConfigIssue {
  readonly file: string;
  readonly section?: string;
  readonly key?: string;
  readonly line?: number;
  readonly message: string;
}

/** Every problem found in one pass, so an operator fixes them all at once. Never holds a secret value. */
export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
  lines(): string[] {
    return this.issues.map(formatIssue);
  }
}

export function formatIssue(i: ConfigIssue): string {
  const file = i.line === undefined ? i.file : `${i.file}:${i.line}`;
  const where = [file, i.section !== undefined ? `[${i.section}]` : undefined, i.key].filter(Boolean).join(' ');
  return `${where}: ${i.message}`;
}

export interface LoadOptions {
  /** cmpha.conf; when absent, CMPHA_CONFIG, then /etc/cmpha/cmpha.conf if it exists, else none. */
  readonly path?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** For clouds.yaml lookup (./clouds.yaml). */
  readonly cwd?: string;
  /**
   * Further checks of the typed config by the modules that own a part of it (e.g. each notifier's
   * channel-specific keys), so their problems are reported with the rest and exit 2 at load time.
   */
  readonly checks?: readonly ((config: Config) => readonly ConfigIssue[])[];
}

export const DEFAULT_CONFIG_PATH = '/etc/cmpha/cmpha.conf';
const SECRET_OPTION_KEYS = new Set(['password', 'auth_token', 'token', 'secret', 'api_key']);

/** Reads cmpha.conf, clouds.yaml and OS_* variables; validates everything once; returns a frozen Config. */
export async function loadConfig(opts: LoadOptions = {}): Promise<Config> {
  const env = opts.env ?? {};
  const issues: ConfigIssue[] = [];
  const file = opts.path ?? env.CMPHA_CONFIG ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined);

  let parsed: ParsedIni = { sections: new Map(), lines: new Map(), problems: [] };
  if (file !== undefined) {
    let text: string | undefined;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      // Everything after this would be "X is required": noise that hides the one real problem.
      throw new ConfigError([{ file, message: `cannot read the config file: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]);
    }
    if (text !== undefined) {
      parsed = parseIni(text);
      for (const p of parsed.problems) issues.push({ file, line: p.line, section: p.section, message: p.message });
    }
  }
  const fileName = file ?? '(no config file)';
  const ctx = new Ctx(fileName, parsed, issues);

  for (const name of parsed.sections.keys()) {
    if (name === '') {
      for (const key of Object.keys(parsed.sections.get('')!)) ctx.issue(undefined, key, 'key outside any section');
    } else if (!(name in SECTIONS) && !name.startsWith('host:') && !name.startsWith('notifier:')) {
      ctx.issue(name, undefined, `unknown section (known: ${[...Object.keys(SECTIONS), 'host:NAME', 'notifier:NAME'].join(', ')})`);
    }
  }

  const legacy = ctx.section('ser', legacySection);
  const cloudRaw = ctx.section('cloud', cloudSection);
  const detector = ctx.section('detector', SECTIONS.detector);
  const fencing = ctx.section('fencing', SECTIONS.fencing);
  const cephRaw = ctx.section('ceph', SECTIONS.ceph);
  const evacuation = ctx.section('evacuation', SECTIONS.evacuation);
  const redis = ctx.section('redis', SECTIONS.redis);
  const metrics = ctx.section('metrics', SECTIONS.metrics);
  const api = ctx.section('api', SECTIONS.api);
  const logging = ctx.section('logging', SECTIONS.logging);
  const escalation = ctx.section('escalation', SECTIONS.escalation);
  const remediation = ctx.section('remediation', SECTIONS.remediation);
  const template = (section: string, value: string | undefined): readonly string[] | undefined => {
    if (value === undefined) return undefined;
    try {
      return parseCommandTemplate(value, `[${section}] agent_command`);
    } catch (err) {
      ctx.issue(section, 'agent_command', err instanceof Error ? err.message.replace(/^\[[^\]]*\] agent_command: /, '') : String(err));
      return undefined;
    }
  };

  const cloud = cloudRaw && legacy ? resolveCloud(ctx, cloudRaw, legacy, env, opts.cwd ?? process.cwd()) : undefined;

  // The original tool's INTERVAL (seconds) is the detector interval unless [detector] interval is set.
  let intervalMs = detector?.interval;
  if (legacy?.INTERVAL !== undefined && !ctx.has('detector', 'interval')) {
    const ms = parseDuration(legacy.INTERVAL, 's');
    if (ms === undefined || ms < 1000) ctx.issue('ser', 'INTERVAL', `"${legacy.INTERVAL}" is not a number of seconds (>= 1)`);
    else intervalMs = ms;
  }

  const hosts: Record<string, HostConfig> = {};
  for (const name of parsed.sections.keys()) {
    if (!name.startsWith('host:')) continue;
    const host = name.slice('host:'.length).trim();
    const raw = ctx.section(name, hostSection);
    if (!raw) continue;
    if (host === '') { ctx.issue(name, undefined, 'host name missing after "host:"'); continue; }
    const fence = resolveFence(ctx, name, raw, fencing?.allow_unfenced_evacuation ?? false);
    const agentCommand = template(name, raw.agent_command);
    const fenceLevels = fence ? resolveFenceLevels(ctx, name, raw, fence, fencing?.fence_levels, cephRaw?.keyring_file !== undefined || cephRaw?.sim_url !== undefined) : undefined;
    if (fence && fenceLevels) {
      hosts[host] = {
        name: host,
        ...(raw.mgmt_ip ? { mgmtIp: raw.mgmt_ip } : {}),
        storageIps: storageIpsOf(raw),
        ...(raw.tunnel_ip ? { tunnelIp: raw.tunnel_ip } : {}),
        fence,
        fenceLevels,
        ...(agentCommand ? { agentCommand } : {}),
      };
    }
  }
  let ceph: CephConfig | undefined;
  if (cephRaw?.sim_url !== undefined) {
    ceph = {
      user: cephRaw.user!.replace(/^client\./, ''), keyringFile: '', imagesRbdPool: cephRaw.images_rbd_pool!,
      blocklistExpireS: Math.round(cephRaw.blocklist_expire / 1000), confirmTimeoutMs: cephRaw.confirm_timeout,
      commandTimeoutMs: cephRaw.command_timeout, writerProofTimeoutMs: cephRaw.writer_proof_timeout, python: cephRaw.python!,
      simUrl: cephRaw.sim_url,
    };
  } else if (cephRaw?.keyring_file !== undefined) {
    if (cephRaw.conf === undefined && cephRaw.mon_host === undefined) ctx.issue('ceph', 'mon_host', 'mon_host or conf is required with keyring_file');
    if (cephRaw.conf !== undefined && !existsSync(cephRaw.conf)) ctx.issue('ceph', 'conf', `${cephRaw.conf} does not exist`);
    // The keyring is read by librados alone; here only that it is there.
    if (!existsSync(cephRaw.keyring_file)) ctx.issue('ceph', 'keyring_file', `${cephRaw.keyring_file} does not exist`);
    ceph = {
      ...(cephRaw.conf ? { conf: cephRaw.conf } : {}), ...(cephRaw.mon_host ? { monHost: cephRaw.mon_host } : {}),
      user: cephRaw.user!.replace(/^client\./, ''), keyringFile: cephRaw.keyring_file, imagesRbdPool: cephRaw.images_rbd_pool!,
      blocklistExpireS: Math.round(cephRaw.blocklist_expire / 1000), confirmTimeoutMs: cephRaw.confirm_timeout,
      commandTimeoutMs: cephRaw.command_timeout, writerProofTimeoutMs: cephRaw.writer_proof_timeout, python: cephRaw.python!,
    };
  } else if (cephRaw && Object.keys(ctx.raw('ceph')).length > 0) {
    ctx.issue('ceph', 'keyring_file', 'is required: without it there is no storage fence');
  }

  const notifiers: NotifierConfig[] = [];
  for (const name of parsed.sections.keys()) {
    if (!name.startsWith('notifier:')) continue;
    const raw = ctx.section(name, notifierSection);
    if (!raw) continue;
    const { type, events, min_severity, audience, recipients, ...rest } = raw;
    const options: Record<string, string | Secret> = {};
    for (const [key, value] of Object.entries(rest)) {
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
    notifiers.push({ name: name.slice('notifier:'.length), type, events, minSeverity: min_severity, audience, recipients, options });
  }

  let requireMetadata: { key: string; value: string } | undefined;
  if (evacuation?.require_metadata !== undefined) {
    const m = /^([^=]+)=(.*)$/.exec(evacuation.require_metadata);
    if (!m) ctx.issue('evacuation', 'require_metadata', `"${evacuation.require_metadata}" is not KEY=VALUE`);
    else requireMetadata = { key: m[1]!.trim(), value: m[2]!.trim() };
  }

  const globalAgentCommand = template('remediation', remediation?.agent_command);

  const redisConfig = redis ? resolveRedis(ctx, redis) : undefined;

  const apiTokens = api ? readApiTokens(ctx, api) : [];

  if (issues.length > 0 || !cloud || !detector || !fencing || !evacuation || !redis || !redisConfig || !metrics || !api || !logging || !escalation || !remediation) {
    throw new ConfigError(issues.length > 0 ? issues : [{ file: fileName, message: 'invalid configuration' }]);
  }

  const config: Config = {
    ...(file !== undefined ? { path: file } : {}),
    cloud,
    detector: {
      intervalMs: intervalMs!,
      heartbeatTimeoutMs: detector.heartbeat_timeout,
      probeIntervalMs: detector.probe_interval,
      heartbeatIntervalMs: detector.heartbeat_interval,
      heartbeatMarginMs: detector.heartbeat_margin,
      minSilenceMs: detector.min_silence,
      singleSignalSilenceMs: detector.single_signal_silence,
      instanceNetworks: detector.instance_networks,
      isolationAddresses: detector.isolation_addresses,
      maxDeadHosts: detector.max_dead_hosts,
      maxDeadFraction: detector.max_dead_fraction,
      dryRun: detector.dry_run,
      probe: detector.probe,
      ...(detector.sim_url ? { simUrl: detector.sim_url } : {}),
      fpingPath: detector.fping_path!,
      probeTimeoutMs: detector.probe_timeout,
      probePacketIntervalMs: detector.probe_packet_interval,
      probeCount: detector.probe_count,
      leaderLeaseMs: detector.leader_lease,
    },
    fencing: {
      timeoutMs: fencing.timeout,
      pollIntervalMs: fencing.poll_interval,
      allowUnfencedEvacuation: fencing.allow_unfenced_evacuation,
      ipmitoolPath: fencing.ipmitool_path!,
      attempts: fencing.attempts,
      ...opt('proxy', cloud.proxy),
      ...(fencing.fence_levels ? { fenceLevels: fencing.fence_levels } : {}),
    },
    hosts,
    ...(ceph ? { ceph } : {}),
    evacuation: {
      states: evacuation.states.map((s) => s.toUpperCase()),
      ...(requireMetadata ? { requireMetadata } : {}),
      ...(evacuation.priority_metadata_key ? { priorityMetadataKey: evacuation.priority_metadata_key } : {}),
      concurrency: evacuation.concurrency,
      staggerMs: evacuation.stagger,
      maxPerMinute: evacuation.max_per_minute,
      verifyTimeoutMs: evacuation.verify_timeout,
      verifyPollIntervalMs: evacuation.verify_poll_interval,
      spareHosts: evacuation.spare_hosts,
      spareReasonPrefix: evacuation.spare_reason_prefix!,
      spareAddToAggregates: evacuation.spare_add_to_aggregates,
      spareCount: evacuation.spare_count,
      disabledReasonPrefix: evacuation.disabled_reason_prefix!,
      sharedStorage: evacuation.shared_storage,
      verifyNetwork: evacuation.verify_network,
      networkTimeoutMs: evacuation.network_timeout,
      rebootSilent: evacuation.reboot_silent,
    },
    notifiers: notifiers.length > 0 ? notifiers.map((n) => ({ ...n, ...opt('proxy', cloud.proxy) })) : [{ name: 'log', type: 'log', events: ['*'], minSeverity: 'info', audience: 'admins', recipients: [], options: {} }],
    escalation: {
      repeatEveryMs: escalation.repeat_every,
      maxRepeats: escalation.max_repeats,
      dedupWindowMs: escalation.dedup_window,
      rateLimitPerHour: escalation.rate_limit_per_hour,
      ...(escalation.user_metadata_email_key ? { userMetadataEmailKey: escalation.user_metadata_email_key } : {}),
      ...(escalation.user_metadata_phone_key ? { userMetadataPhoneKey: escalation.user_metadata_phone_key } : {}),
      notifyUsers: escalation.notify_users,
      notifyUsersSms: escalation.notify_users_sms,
      ...(escalation.template_dir ? { templateDir: escalation.template_dir } : {}),
    },
    redis: { ...redisConfig, jobLockMs: redis.job_lock, stalledCheckMs: redis.stalled_check },
    metrics: { enabled: metrics.enabled, listen: metrics.listen },
    api: { enabled: api.enabled, listen: api.listen, tokens: apiTokens, anonymousRead: api.anonymous_read, notificationDuplicateWindowMs: api.notification_duplicate_window },
    logging: { level: logging.level, format: logging.format },
    remediation: {
      ...(globalAgentCommand ? { agentCommand: globalAgentCommand } : {}),
      timeoutMs: remediation.timeout,
      tries: remediation.tries,
      retryDelayMs: remediation.retry_delay,
      heartbeatWaitMs: remediation.heartbeat_wait,
    },
  };
  const later = (opts.checks ?? []).flatMap((check) => check(config));
  if (later.length > 0) throw new ConfigError(later.map((i) => ({ ...i, file: fileName })));
  return deepFreeze(config);
}

/** Collects issues with their location while sections are validated. */
class Ctx {
  constructor(
    readonly file: string,
    private readonly parsed: ParsedIni,
    private readonly issues: ConfigIssue[],
  ) {}

  issue(section: string | undefined, key: string | undefined, message: string, file = this.file): void {
    const line = section !== undefined && key !== undefined ? this.parsed.lines.get(`${section}\0${key}`) : undefined;
    this.issues.push({ file, ...(section !== undefined ? { section } : {}), ...(key !== undefined ? { key } : {}), ...(line !== undefined && file === this.file ? { line } : {}), message });
  }

  has(section: string, key: string): boolean {
    return this.parsed.sections.get(section)?.[key] !== undefined;
  }

  raw(section: string): Record<string, string | boolean> {
    return { ...(this.parsed.sections.get(section) ?? {}) };
  }

  section<S extends z.ZodType>(name: string, schema: S): z.output<S> | undefined {
    const result = schema.safeParse(this.raw(name));
    if (result.success) return result.data;
    for (const issue of result.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) this.issue(name, key, 'unknown key');
      } else {
        this.issue(name, issue.path.map(String).join('.') || undefined, issue.message);
      }
    }
    return undefined;
  }

  readSecretFile(section: string, key: string, filePath: string): Secret | undefined {
    try {
      return new Secret(readFileSync(filePath, 'utf8').replace(/\r?\n$/, ''));
    } catch (err) {
      this.issue(section, key, `cannot read secret file ${filePath}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
      return undefined;
    }
  }

  /** A secret from `key` or `key_file` (not both). */
  secret(section: string, key: string, value: string | undefined, filePath: string | undefined): Secret | undefined {
    if (value !== undefined && filePath !== undefined) {
      this.issue(section, key, `set both ${key} and ${key}_file; keep one`);
      return undefined;
    }
    if (filePath !== undefined) return this.readSecretFile(section, `${key}_file`, filePath);
    return value === undefined ? undefined : new Secret(value);
  }
}

const MIN_TOKEN_LENGTH = 16;

/** One token per file; its name is the file's base name without extension, and names must be unique. */
function readApiTokens(ctx: Ctx, api: z.output<typeof SECTIONS.api>): ApiToken[] {
  const tokens: ApiToken[] = [];
  for (const [key, role] of [['read_token_files', 'read'], ['write_token_files', 'write']] as const) {
    for (const file of api[key]) {
      const secret = ctx.readSecretFile('api', key, file);
      if (!secret) continue;
      const name = path.basename(file).replace(/\.[^.]*$/, '');
      if (secret.reveal().trim().length < MIN_TOKEN_LENGTH) ctx.issue('api', key, `token in ${file} is shorter than ${MIN_TOKEN_LENGTH} characters`);
      else if (tokens.some((t) => t.name === name)) ctx.issue('api', key, `two token files are named ${name}; the name is recorded with every write, so it must be unique`);
      else if (tokens.some((t) => t.secret.reveal() === secret.reveal().trim())) ctx.issue('api', key, `token in ${file} is the same as another token`);
      else tokens.push({ name, role, secret: new Secret(secret.reveal().trim()) });
    }
  }
  if (api.enabled && tokens.length === 0 && !api.anonymous_read) ctx.issue('api', 'read_token_files', 'the API is enabled but no token file is set: nobody could use it');
  return tokens;
}

/**
 * [redis]: a plain or TLS URL, or Sentinel. A `redis+sentinel://` URL is refused here, because ioredis would
 * read it as a Unix socket path and fail every command with ENOENT long after validation said yes.
 */
function resolveRedis(ctx: Ctx, raw: z.output<typeof SECTIONS.redis>): RedisConfig | undefined {
  const url = raw.url!;
  let parsed: URL | undefined;
  if (/^redis\+sentinel:/i.test(url)) {
    ctx.issue('redis', 'url', 'redis+sentinel:// URLs are not supported: set sentinels = HOST:PORT,... and master_name instead');
  } else if (/^rediss?\+?cluster:/i.test(url)) {
    ctx.issue('redis', 'url', 'Redis Cluster is not supported: use one master with replicas and Sentinel');
  } else {
    try {
      parsed = new URL(url);
    } catch {
      ctx.issue('redis', 'url', `"${maskUrlPassword(url)}" is not a URL (use redis://HOST:PORT[/DB] or rediss://...)`);
    }
    if (parsed && parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
      ctx.issue('redis', 'url', `scheme "${parsed.protocol}" is not supported (use redis:// or rediss://)`);
      parsed = undefined;
    }
    if (parsed && parsed.pathname.length > 1 && !/^\/\d+$/.test(parsed.pathname)) {
      ctx.issue('redis', 'url', `path "${parsed.pathname}" is not a database number (redis://HOST:PORT/DB)`);
      parsed = undefined;
    }
  }
  const sentinels: { host: string; port: number }[] = [];
  for (const entry of raw.sentinels) {
    const m = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d{1,5})$/.exec(entry);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) ctx.issue('redis', 'sentinels', `"${entry}" is not HOST:PORT`);
    else sentinels.push({ host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) });
  }
  if (raw.sentinels.length > 0 && !raw.master_name) ctx.issue('redis', 'master_name', 'is required with sentinels (the name the sentinels monitor)');
  if (raw.sentinels.length === 0 && raw.master_name) ctx.issue('redis', 'sentinels', 'is required with master_name');
  // A password inside the URL becomes a Secret here, like every other one, and the URL kept is without it:
  // the URL is printed (`config validate`) and logged, the password never. [redis] password wins over it.
  const urlPassword = parsed?.password ? new Secret(decodeURIComponent(parsed.password)) : undefined;
  const password = ctx.secret('redis', 'password', raw.password, raw.password_file) ?? urlPassword;
  const sentinelPassword = ctx.secret('redis', 'sentinel_password', raw.sentinel_password, raw.sentinel_password_file);
  if (sentinelPassword && raw.sentinels.length === 0) ctx.issue('redis', 'sentinel_password', 'only applies with sentinels');
  const tlsOn = raw.tls || parsed?.protocol === 'rediss:';
  const files = { ca: raw.tls_ca_file, cert: raw.tls_cert_file, key: raw.tls_key_file };
  for (const [what, file] of Object.entries(files)) {
    if (file === undefined) continue;
    if (!tlsOn) ctx.issue('redis', `tls_${what}_file`, 'is set but TLS is off (set tls = true or use rediss://)');
    else if (!existsSync(file)) ctx.issue('redis', `tls_${what}_file`, `${file} does not exist`);
  }
  if ((files.cert === undefined) !== (files.key === undefined)) ctx.issue('redis', files.cert ? 'tls_key_file' : 'tls_cert_file', 'a client certificate needs both tls_cert_file and tls_key_file');
  if (!parsed) return undefined;
  parsed.password = '';
  return {
    url: parsed.href,
    ...(raw.username ? { username: raw.username } : {}),
    ...(password ? { password } : {}),
    prefix: raw.prefix!,
    ...(sentinels.length > 0 ? { sentinels, masterName: raw.master_name! } : {}),
    ...(sentinelPassword ? { sentinelPassword } : {}),
    ...(tlsOn ? { tls: { ...(files.ca ? { ca: files.ca } : {}), ...(files.cert ? { cert: files.cert } : {}), ...(files.key ? { key: files.key } : {}) } } : {}),
  };
}

function resolveFence(ctx: Ctx, section: string, raw: z.output<typeof hostSection>, allowUnfenced: boolean): FenceConfig | undefined {
  switch (raw.driver) {
    case 'none':
      return { driver: 'none' };
    case 'noop':
      if (!allowUnfenced) {
        ctx.issue(section, 'driver', 'noop fencing evacuates without powering the host off; it is refused unless [fencing] allow_unfenced_evacuation = true (labs only)');
        return undefined;
      }
      return { driver: 'noop' };
    case 'ipmi':
    case 'redfish': {
      let ok = true;
      for (const key of ['address', 'username'] as const) {
        if (raw[key] === undefined) { ctx.issue(section, key, `is required for driver ${raw.driver}`); ok = false; }
      }
      // ipmitool would resolve a name through DNS; only IP literals reach it.
      if (raw.driver === 'ipmi' && raw.address !== undefined && !isIpLiteral(raw.address)) {
        ctx.issue(section, 'address', `"${raw.address}" is not an IP literal (ipmitool is given IP addresses only)`);
        ok = false;
      }
      const password = ctx.secret(section, 'password', raw.password, raw.password_file);
      if (!password) {
        if (raw.password === undefined && raw.password_file === undefined) ctx.issue(section, 'password', `password or password_file is required for driver ${raw.driver}`);
        ok = false;
      }
      if (!ok || !password) return undefined;
      if (raw.driver === 'ipmi') {
        return {
          driver: 'ipmi', address: raw.address!, port: raw.port ?? 623, username: raw.username!, password,
          ipmi: { interface: raw.ipmi_interface, cipherSuite: raw.ipmi_cipher_suite, timeoutS: Math.max(1, Math.round(raw.ipmi_timeout / 1000)), retries: raw.ipmi_retries },
        };
      }
      return {
        driver: 'redfish', address: raw.address!, port: raw.port ?? (raw.redfish_scheme === 'https' ? 443 : 80), username: raw.username!, password,
        redfish: {
          ...(raw.redfish_system ? { system: raw.redfish_system } : {}),
          scheme: raw.redfish_scheme, auth: raw.redfish_auth,
          ...(raw.redfish_cacert ? { cacert: raw.redfish_cacert } : {}),
          insecure: raw.redfish_insecure,
        },
      };
    }
  }
}

/**
 * The host's levels: its own `fence_levels` strictly (every device must exist for it), else the [fencing]
 * default with the levels this host cannot use dropped (a default shared by hosts with and without Ceph),
 * else its BMC driver alone. Empty = the host cannot be fenced.
 */
function resolveFenceLevels(
  ctx: Ctx, section: string, raw: z.output<typeof hostSection>, fence: FenceConfig,
  shared: readonly (readonly FenceDeviceName[])[] | undefined, cephConfigured: boolean,
): (readonly FenceDeviceName[])[] | undefined {
  const missing = (d: FenceDeviceName): string | undefined => {
    if (d === 'ceph') {
      if (!cephConfigured) return 'ceph needs a [ceph] section with keyring_file';
      if (storageIpsOf(raw).length === 0) return 'ceph needs storage_ips (the addresses this host\'s Ceph clients use)';
      return undefined;
    }
    return fence.driver === d ? undefined : `${d} needs driver = ${d} (this host's driver is ${fence.driver})`;
  };
  if (raw.fence_levels) {
    let ok = true;
    for (const [i, level] of raw.fence_levels.entries()) {
      for (const d of level) {
        const why = missing(d);
        if (why) { ctx.issue(section, 'fence_levels', `level ${i + 1}: ${why}`); ok = false; }
      }
    }
    return ok ? raw.fence_levels : undefined;
  }
  if (shared) return shared.filter((level) => level.every((d) => missing(d) === undefined));
  return fence.driver === 'none' ? [] : [[fence.driver]];
}

type CloudRaw = z.output<typeof cloudSection>;
type LegacyRaw = z.output<typeof legacySection>;

/** Flat cloud settings in [cloud] key names, merged from lowest to highest precedence. */
type CloudFields = Partial<Record<keyof CloudRaw, string | boolean | number>>;

const ENV_MAP: Record<string, keyof CloudRaw> = {
  OS_AUTH_URL: 'auth_url', OS_AUTH_TYPE: 'auth_type', OS_USERNAME: 'username', OS_USER_ID: 'user_id', OS_PASSWORD: 'password',
  OS_USER_DOMAIN_NAME: 'user_domain_name', OS_USER_DOMAIN_ID: 'user_domain_id', OS_PROJECT_NAME: 'project_name',
  OS_PROJECT_ID: 'project_id', OS_PROJECT_DOMAIN_NAME: 'project_domain_name', OS_PROJECT_DOMAIN_ID: 'project_domain_id',
  OS_APPLICATION_CREDENTIAL_ID: 'application_credential_id', OS_APPLICATION_CREDENTIAL_NAME: 'application_credential_name',
  OS_APPLICATION_CREDENTIAL_SECRET: 'application_credential_secret', OS_REGION_NAME: 'region_name', OS_INTERFACE: 'interface',
  OS_CACERT: 'cacert', OS_INSECURE: 'insecure',
};

/**
 * Precedence, lowest first: clouds.yaml (cloud named by [cloud] cloud or OS_CLOUD) < OS_* environment <
 * the legacy [ser] section < [cloud]. The config file wins over the environment as a command line would.
 */
function resolveCloud(ctx: Ctx, cloudRaw: CloudRaw, legacy: LegacyRaw, env: Readonly<Record<string, string | undefined>>, cwd: string): CloudConfig | undefined {
  const fields: CloudFields = {};
  const sources: string[] = [];
  const cloudName = cloudRaw.cloud ?? env.OS_CLOUD;
  if (cloudName !== undefined) {
    const fromYaml = readCloudsYaml(ctx, cloudName, cloudRaw.clouds_file ?? env.OS_CLIENT_CONFIG_FILE, env, cwd);
    if (fromYaml) { Object.assign(fields, fromYaml.fields); sources.push(`clouds.yaml ${fromYaml.file} cloud ${cloudName}`); }
  }
  const fromEnv: CloudFields = {};
  for (const [name, key] of Object.entries(ENV_MAP)) {
    const v = env[name];
    if (v !== undefined && v !== '') fromEnv[key] = v;
  }
  if (fromEnv.project_name === undefined && env.OS_TENANT_NAME) fromEnv.project_name = env.OS_TENANT_NAME;
  if (Object.keys(fromEnv).length > 0) { Object.assign(fields, fromEnv); sources.push('OS_* environment'); }

  // The original tool: [ser] OS_* keys; OS_DEFAULT_DOMAIN names the domain of both user and project.
  const fromLegacy: CloudFields = {};
  if (legacy.OS_AUTH_URL) fromLegacy.auth_url = legacy.OS_AUTH_URL;
  if (legacy.OS_USERNAME) fromLegacy.username = legacy.OS_USERNAME;
  if (legacy.OS_PASSWORD) fromLegacy.password = legacy.OS_PASSWORD;
  const project = legacy.OS_PROJECT_NAME ?? legacy.OS_TENANT_NAME;
  if (project) fromLegacy.project_name = project;
  if (legacy.OS_DEFAULT_DOMAIN) {
    // `default` is the id of Keystone's built-in domain; anything else is taken as a name.
    const asId = legacy.OS_DEFAULT_DOMAIN === 'default';
    fromLegacy[asId ? 'user_domain_id' : 'user_domain_name'] = legacy.OS_DEFAULT_DOMAIN;
    fromLegacy[asId ? 'project_domain_id' : 'project_domain_name'] = legacy.OS_DEFAULT_DOMAIN;
  }
  if (Object.keys(fromLegacy).length > 0) { Object.assign(fields, fromLegacy); sources.push('[ser]'); }

  const explicit: CloudFields = {};
  for (const [key, value] of Object.entries(ctx.raw('cloud')) as [keyof CloudRaw, string | boolean][]) {
    if (key !== 'cloud' && key !== 'clouds_file') explicit[key] = value;
  }
  if (explicit.password_file !== undefined) delete fields.password;
  if (explicit.application_credential_secret_file !== undefined) delete fields.application_credential_secret;
  if (Object.keys(explicit).length > 0) { Object.assign(fields, explicit); sources.push('[cloud]'); }

  // Re-validate the merged view so values from env/clouds.yaml get the same checks as the file's.
  const merged = cloudSection.safeParse(fields);
  if (!merged.success) {
    for (const i of merged.error.issues) ctx.issue('cloud', i.path.map(String).join('.') || undefined, `${i.message} (from ${sources.join(' + ') || 'defaults'})`);
    return undefined;
  }
  const c = merged.data;
  const where = sources.length > 0 ? sources.join(' + ') : 'nothing';
  let ok = true;
  const need = (cond: boolean, key: string, msg: string) => {
    if (!cond) { ctx.issue('cloud', key, `${msg} (looked in ${where}; set it in [cloud], the OS_* environment or a clouds.yaml cloud)`); ok = false; }
  };
  need(c.auth_url !== undefined, 'auth_url', 'is required');
  if (c.auth_url !== undefined && !/^https?:\/\/[^\s]+$/.test(c.auth_url)) {
    ctx.issue('cloud', 'auth_url', `"${c.auth_url}" is not an http(s) URL`);
    ok = false;
  }
  let auth: CloudAuth | undefined;
  if (c.auth_type === 'password' || c.auth_type === 'v3password') {
    const password = ctx.secret('cloud', 'password', c.password, c.password_file);
    need(password !== undefined || (c.password === undefined && c.password_file !== undefined), 'password', 'is required for password auth');
    need(c.username !== undefined || c.user_id !== undefined, 'username', 'username or user_id is required for password auth');
    need(c.project_name !== undefined || c.project_id !== undefined, 'project_name', 'project_name or project_id is required (cmpha needs a project-scoped admin token)');
    if (c.username !== undefined && c.user_domain_name === undefined && c.user_domain_id === undefined) {
      need(false, 'user_domain_name', 'user_domain_name or user_domain_id is required with username');
    }
    if (password) {
      auth = {
        type: 'password', password,
        ...opt('username', c.username), ...opt('userId', c.user_id), ...opt('userDomainName', c.user_domain_name),
        ...opt('userDomainId', c.user_domain_id), ...opt('projectName', c.project_name), ...opt('projectId', c.project_id),
        ...opt('projectDomainName', c.project_domain_name ?? (c.project_domain_id === undefined ? c.user_domain_name : undefined)),
        ...opt('projectDomainId', c.project_domain_id ?? (c.project_domain_name === undefined && c.user_domain_name === undefined ? c.user_domain_id : undefined)),
      };
    }
  } else {
    const secret = ctx.secret('cloud', 'application_credential_secret', c.application_credential_secret, c.application_credential_secret_file);
    need(secret !== undefined || c.application_credential_secret_file !== undefined, 'application_credential_secret', 'is required for application credential auth');
    need(c.application_credential_id !== undefined || (c.application_credential_name !== undefined && (c.username !== undefined || c.user_id !== undefined)),
      'application_credential_id', 'application_credential_id, or application_credential_name with username/user_id, is required');
    if (secret) {
      auth = {
        type: 'application_credential', secret,
        ...opt('id', c.application_credential_id), ...opt('name', c.application_credential_name), ...opt('username', c.username),
        ...opt('userId', c.user_id), ...opt('userDomainName', c.user_domain_name), ...opt('userDomainId', c.user_domain_id),
      };
    }
  }
  if (c.cacert !== undefined && !existsSync(c.cacert)) { ctx.issue('cloud', 'cacert', `CA file ${c.cacert} does not exist`); ok = false; }
  let proxy: OutgoingProxy | undefined;
  if (c.proxy !== undefined) {
    const p = createOutgoingProxy(c.proxy, c.no_proxy);
    if (typeof p === 'string') { ctx.issue('cloud', p.startsWith('no_proxy') ? 'no_proxy' : 'proxy', p); ok = false; } else proxy = p;
  } else if (c.no_proxy.length > 0) {
    ctx.issue('cloud', 'no_proxy', 'is set without proxy; cmpha never reads HTTP(S)_PROXY from the environment, so there is nothing to bypass');
    ok = false;
  }
  if (!ok || !auth) return undefined;
  return {
    authUrl: c.auth_url!.replace(/\/+$/, ''),
    auth,
    ...opt('regionName', c.region_name),
    interface: c.interface,
    ...opt('cacert', c.cacert),
    insecure: c.insecure,
    timeoutMs: c.api_timeout,
    retries: c.api_retries,
    maxResponseBytes: c.max_response_size,
    ...opt('proxy', proxy),
    source: where,
  };
}

function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

const CLOUDS_AUTH_KEYS: Record<string, keyof CloudRaw> = {
  auth_url: 'auth_url', username: 'username', user_id: 'user_id', password: 'password', user_domain_name: 'user_domain_name',
  user_domain_id: 'user_domain_id', project_name: 'project_name', project_id: 'project_id', tenant_name: 'project_name',
  project_domain_name: 'project_domain_name', project_domain_id: 'project_domain_id',
  application_credential_id: 'application_credential_id', application_credential_name: 'application_credential_name',
  application_credential_secret: 'application_credential_secret',
};

/** openstacksdk's search order for clouds.yaml. */
function cloudsYamlCandidates(explicit: string | undefined, env: Readonly<Record<string, string | undefined>>, cwd: string): string[] {
  if (explicit !== undefined) return [explicit];
  const home = env.HOME ?? homedir();
  return [path.join(cwd, 'clouds.yaml'), path.join(home, '.config/openstack/clouds.yaml'), '/etc/openstack/clouds.yaml'];
}

function readCloudsYaml(ctx: Ctx, name: string, explicit: string | undefined, env: Readonly<Record<string, string | undefined>>, cwd: string): { file: string; fields: CloudFields } | undefined {
  const candidates = cloudsYamlCandidates(explicit, env, cwd);
  const file = candidates.find((f) => existsSync(f));
  if (file === undefined) {
    ctx.issue('cloud', 'cloud', `cloud "${name}" requested but no clouds.yaml found (looked in ${candidates.join(', ')})`);
    return undefined;
  }
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    const e = err as { linePos?: { line: number }[]; code?: string };
    const line = e.linePos?.[0]?.line;
    ctx.issue(undefined, undefined, `malformed YAML${line !== undefined ? ` at line ${line}` : ''}: ${e.code ?? 'parse error'}`, file);
    return undefined;
  }
  const clouds = (doc as { clouds?: Record<string, unknown> } | null)?.clouds;
  if (clouds === undefined || clouds === null || typeof clouds !== 'object') {
    ctx.issue(undefined, 'clouds', 'has no "clouds:" mapping', file);
    return undefined;
  }
  const entry = (clouds as Record<string, unknown>)[name];
  if (entry === undefined || entry === null || typeof entry !== 'object') {
    ctx.issue(`clouds.${name}`, undefined, `no such cloud (clouds here: ${Object.keys(clouds).join(', ') || 'none'})`, file);
    return undefined;
  }
  const e = entry as Record<string, unknown>;
  const fields: CloudFields = {};
  const auth = (e.auth ?? {}) as Record<string, unknown>;
  if (typeof auth !== 'object') {
    ctx.issue(`clouds.${name}`, 'auth', 'must be a mapping', file);
    return undefined;
  }
  for (const [k, v] of Object.entries(auth)) {
    const key = CLOUDS_AUTH_KEYS[k];
    if (key === undefined) { ctx.issue(`clouds.${name}.auth`, k, 'unknown key', file); continue; }
    if (typeof v !== 'string' && typeof v !== 'number') { ctx.issue(`clouds.${name}.auth`, k, 'must be a string', file); continue; }
    fields[key] = String(v);
  }
  const top: Record<string, keyof CloudRaw> = { auth_type: 'auth_type', region_name: 'region_name', interface: 'interface', cacert: 'cacert' };
  for (const [k, key] of Object.entries(top)) if (e[k] !== undefined) fields[key] = String(e[k]);
  if (e.verify !== undefined) fields.insecure = e.verify === false || e.verify === 'false' ? 'true' : 'false';
  if (e.insecure !== undefined) fields.insecure = String(e.insecure);
  return { file, fields };
}

function deepFreeze<T>(obj: T): T {
  if (obj && typeof obj === 'object' && !(obj instanceof Secret) && !Object.isFrozen(obj)) {
    for (const v of Object.values(obj)) deepFreeze(v);
    Object.freeze(obj);
  }
  return obj;
}

/** `storage_ip` (one address) and `storage_ips` (a list) name the same thing: the host's storage-network addresses. */
function storageIpsOf(raw: { storage_ip?: string; storage_ips: readonly string[] }): readonly string[] {
  return [...new Set([...(raw.storage_ip ? [raw.storage_ip] : []), ...raw.storage_ips])];
}
