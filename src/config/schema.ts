import { z } from 'zod';
import { fenceLevelsField } from './fence-levels-field.js';
import { bool, byteSize, duration, fraction, integer, ipList, list, listenAddress, oneOf, text } from './fields.js';

// One zod object per INI section. Each is strict: an unknown key is an error naming section and key.
// Secrets are plain text here and become `Secret` objects in load.ts, which also reads `*_file` keys.

export const cloudSection = z
  .object({
    cloud: text(),
    clouds_file: text(),
    auth_type: oneOf(['password', 'v3password', 'v3applicationcredential', 'applicationcredential'], 'password'),
    auth_url: text(),
    username: text(),
    user_id: text(),
    password: text(),
    password_file: text(),
    user_domain_name: text(),
    user_domain_id: text(),
    project_name: text(),
    project_id: text(),
    project_domain_name: text(),
    project_domain_id: text(),
    application_credential_id: text(),
    application_credential_name: text(),
    application_credential_secret: text(),
    application_credential_secret_file: text(),
    region_name: text(),
    interface: oneOf(['public', 'internal', 'admin'], 'public'),
    cacert: text(),
    insecure: bool(false),
    api_timeout: duration('30s', { min: '1s' }),
    api_retries: integer(3, 0, 10),
    max_response_size: byteSize('32MiB', { min: 64 * 1024 }),
    proxy: text(),
    no_proxy: list(),
  })
  .strict();

export const legacySection = z
  .object({
    OS_TENANT_NAME: text(),
    OS_PROJECT_NAME: text(),
    OS_USERNAME: text(),
    OS_PASSWORD: text(),
    OS_AUTH_URL: text(),
    OS_DEFAULT_DOMAIN: text(),
    INTERVAL: text(),
  })
  .strict();

export const detectorSection = z
  .object({
    interval: duration('1s', { min: '1s' }),
    probe_interval: duration('1s', { min: '200ms' }),
    heartbeat_timeout: duration('30s', { min: '1s' }),
    heartbeat_interval: duration('10s', { min: '1s' }),
    heartbeat_margin: duration('1s', { min: '0s' }),
    min_silence: duration('5s', { min: '1s' }),
    single_signal_silence: duration('30s', { min: '1s' }),
    instance_networks: list(),
    isolation_addresses: ipList(),
    max_dead_hosts: integer(2, 1, 100000),
    max_dead_fraction: fraction(0.33),
    dry_run: bool(false),
    probe: oneOf(['fping', 'sim'], 'fping'),
    sim_url: text(),
    fping_path: text('fping'),
    probe_timeout: duration('500ms', { min: '50ms' }),
    probe_packet_interval: duration('1ms', { bareUnit: 'ms' }),
    probe_count: integer(2, 1, 10),
    leader_lease: duration('30s', { min: '2s' }),
  })
  .strict();

export const fencingSection = z
  .object({
    timeout: duration('30s', { min: '1s' }),
    poll_interval: duration('1s', { min: '100ms' }),
    allow_unfenced_evacuation: bool(false),
    ipmitool_path: text('ipmitool'),
    attempts: integer(3, 1, 10),
    fence_levels: fenceLevelsField(),
  })
  .strict();

export const cephSection = z
  .object({
    conf: text(),
    mon_host: text(),
    user: text('cmpha'),
    keyring_file: text(),
    images_rbd_pool: text('vms'),
    blocklist_expire: duration('1h', { min: '1m' }),
    confirm_timeout: duration('10s', { min: '1s' }),
    command_timeout: duration('15s', { min: '2s' }),
    writer_proof_timeout: duration('2m', { min: '1s' }),
    python: text('/usr/bin/python3'),
    sim_url: text(),
  })
  .strict();

export const evacuationSection = z
  .object({
    states: list(['ACTIVE', 'ERROR']),
    require_metadata: text(),
    priority_metadata_key: text(),
    concurrency: integer(4, 1, 256),
    stagger: duration('200ms', { bareUnit: 'ms' }),
    max_per_minute: integer(120, 1, 100000),
    verify_timeout: duration('300s', { min: '1s' }),
    verify_poll_interval: duration('2s', { min: '100ms' }),
    spare_hosts: list(),
    spare_reason_prefix: text('down_prepare'),
    spare_add_to_aggregates: bool(false),
    spare_count: integer(1, 0, 100),
    disabled_reason_prefix: text('cmpha'),
    shared_storage: bool(false),
    verify_network: bool(true),
    network_timeout: duration('120s', { min: '1s' }),
    reboot_silent: bool(false),
  })
  .strict();

export const redisSection = z
  .object({
    url: text('redis://127.0.0.1:6379'),
    username: text(),
    password: text(),
    password_file: text(),
    sentinels: list(),
    master_name: text(),
    sentinel_password: text(),
    sentinel_password_file: text(),
    tls: bool(false),
    tls_ca_file: text(),
    tls_cert_file: text(),
    tls_key_file: text(),
    prefix: text('cmpha'),
    job_lock: duration('30s', { min: '1s' }),
    stalled_check: duration('30s', { min: '1s' }),
  })
  .strict();

export const metricsSection = z
  .object({
    enabled: bool(true),
    listen: listenAddress('127.0.0.1:9464'),
  })
  .strict();

export const apiSection = z
  .object({
    enabled: bool(false),
    listen: listenAddress('127.0.0.1:9465'),
    read_token_files: list(),
    write_token_files: list(),
    anonymous_read: bool(false),
    notification_duplicate_window: duration('180s', { min: '0s' }),
  })
  .strict();

export const loggingSection = z
  .object({
    level: oneOf(['debug', 'info', 'warn', 'error', 'silent'], 'info'),
    format: oneOf(['auto', 'json', 'pretty'], 'auto'),
  })
  .strict();

export const escalationSection = z
  .object({
    repeat_every: duration('15m', { min: '1s' }),
    max_repeats: integer(4, 0, 1000),
    dedup_window: duration('30m', { min: '0s' }),
    rate_limit_per_hour: integer(30, 1, 100000),
    user_metadata_email_key: text(),
    user_metadata_phone_key: text(),
    notify_users: bool(true),
    notify_users_sms: bool(false),
    template_dir: text(),
  })
  .strict();

export const remediationSection = z
  .object({
    agent_command: text(),
    timeout: duration('60s', { min: '1s' }),
    tries: integer(2, 1, 10),
    retry_delay: duration('30s', { min: '0s' }),
    heartbeat_wait: duration('60s', { min: '1s' }),
  })
  .strict();

/** The sections a cmpha.conf may hold, besides `[host:NAME]` and `[notifier:NAME]`. */
export const SECTIONS = {
  cloud: cloudSection,
  ser: legacySection,
  detector: detectorSection,
  fencing: fencingSection,
  ceph: cephSection,
  evacuation: evacuationSection,
  redis: redisSection,
  metrics: metricsSection,
  api: apiSection,
  logging: loggingSection,
  escalation: escalationSection,
  remediation: remediationSection,
} as const;
export type SectionName = keyof typeof SECTIONS;
