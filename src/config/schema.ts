import { accessSync, constants } from 'node:fs';
import { z } from 'zod';
import { defineSection, fieldDefaults, key, secretKey, type SectionDecl, type Decls } from './declare.js';
import { cephKeys } from '../fencing/ceph/ceph-keys.js';
import { kdumpKeys } from '../fencing/kdump/kdump-keys.js';
import { fenceLevelsField } from './fence-levels-field.js';
import { POWER_DEVICE_NAMES } from '../fencing/devices/registry.js';
import { hostDefaultsSection } from './host-schema.js';
import { policyRules, priorityTiers } from './policy-fields.js';
import { Secret } from './secret.js';
import { bool, byteSize, commandTemplate, countPerWindow, duration, fraction, hostPortList, integer, ipList, keyValue, list, listenAddress, oneOf, optionalInteger, text, url } from './fields.js';

// The sections of cmpha.conf with fixed names, one declaration per key. Host and notifier sections are
// declared in host-schema.ts and notifier-schema.ts, their driver- and channel-specific keys by the modules
// that use them (src/fencing, src/notifier); the [ceph] keys by the storage fence (src/fencing/ceph/ceph-keys.ts).

/** keystoneauth and the service catalog spell interfaces both ways. */
const INTERFACE_ALIASES = { publicURL: 'public', internalURL: 'internal', adminURL: 'admin' } as const;
const INTERFACES = ['public', 'internal', 'admin'] as const;
/** The clouds cmpha has an adapter for (src/compute/nova, src/compute/cloudpods). */
export const CLOUD_TYPES = ['openstack', 'cloudpods'] as const;

export const cloudSection = defineSection(
  'cloud',
  'How cmpha reaches the cloud: OpenStack (Nova), or a Cloudpods region (type = cloudpods, whose identity service speaks Keystone v3: the same auth keys). Settings may also come from a clouds.yaml cloud (`cloud` or OS_CLOUD; a `secure.yaml` beside it is merged over it, as openstackclient does) and the standard OS_* environment variables; precedence, lowest first: clouds.yaml < secure.yaml < OS_* environment < [ser] < [cloud]. The account needs the admin role (services, evacuate, all-tenant server lists).',
  {
    type: key('type', oneOf(CLOUD_TYPES, 'openstack'), 'Which cloud cmpha protects: openstack (Nova) or cloudpods (a Cloudpods region: its compute_v2 endpoint in the catalog of its Keystone-v3-compatible identity service; docs/cloudpods.md).'),
    cloud: key('cloud', text(), 'Name of a cloud in clouds.yaml (as OS_CLOUD).'),
    cloudsFile: key('clouds_file', text(), 'Path of clouds.yaml (default: OS_CLIENT_CONFIG_FILE, ./clouds.yaml, ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml). secure.yaml is looked for in the same directories (or OS_CLIENT_SECURE_FILE).'),
    authType: key('auth_type', oneOf(['password', 'v3password', 'v3applicationcredential', 'applicationcredential'], 'password'), 'password or v3applicationcredential.'),
    authUrl: key('auth_url', text(), 'Keystone v3 URL (OS_AUTH_URL).', { example: 'https://keystone.example.com:5000/v3' }),
    username: key('username', text(), 'User name for password auth (OS_USERNAME).', { example: 'cmpha' }),
    userId: key('user_id', text(), 'User id, instead of username.'),
    password: secretKey('password', 'Password (OS_PASSWORD). Prefer password_file, a file holding it (trailing newline ignored).', { example: 'CHANGE_ME' }),
    userDomainName: key('user_domain_name', text(), 'Domain of the user (OS_USER_DOMAIN_NAME).', { example: 'Default' }),
    userDomainId: key('user_domain_id', text(), 'Domain id of the user (OS_USER_DOMAIN_ID).'),
    projectName: key('project_name', text(), 'Project to scope the token to (OS_PROJECT_NAME).', { example: 'admin' }),
    projectId: key('project_id', text(), 'Project id, instead of project_name.'),
    projectDomainName: key('project_domain_name', text(), 'Domain of the project (default: the user\'s domain).', { example: 'Default' }),
    projectDomainId: key('project_domain_id', text(), 'Domain id of the project.'),
    applicationCredentialId: key('application_credential_id', text(), 'Application credential id (auth_type = v3applicationcredential).'),
    applicationCredentialName: key('application_credential_name', text(), 'Application credential name (needs username or user_id).'),
    applicationCredentialSecret: secretKey('application_credential_secret', 'Application credential secret. Prefer the _file form.'),
    regionName: key('region_name', text(), 'Region to pick endpoints from (OS_REGION_NAME); any region when unset.'),
    interface: key('interface', oneOf(INTERFACES, 'public', INTERFACE_ALIASES), 'Endpoint interface: public, internal or admin (OS_INTERFACE; keystoneauth\'s publicURL/internalURL/adminURL are accepted).'),
    validInterfaces: key('valid_interfaces', list(), 'keystoneauth\'s name for interface, as in the [nova] section of other services: one of public, internal, admin. Only one may be given (cmpha does not fall back between interfaces).'),
    cacert: key('cacert', text(), 'CA bundle for TLS verification (OS_CACERT).'),
    cafile: key('cafile', text(), 'keystoneauth\'s name for cacert.'),
    insecure: key('insecure', bool(false), 'Skip TLS verification (OS_INSECURE). Never in production.'),
    timeoutMs: key('api_timeout', duration('30s', { min: '1s' }), 'Bound of each OpenStack API call in total: connecting, headers and the whole body (a Nova that sends headers and then stalls fails at this bound).'),
    retries: key('api_retries', integer(3, 0, 10), 'Retries of idempotent calls on 5xx, timeouts and resets (never of evacuate).'),
    maxResponseBytes: key('max_response_size', byteSize('32MiB', { min: 64 * 1024 }), 'Largest API answer accepted (units KiB, MiB, GiB); a larger one is refused with an error naming the endpoint instead of filling memory. BMC and webhook answers are capped at 1 MiB.'),
    proxy: key('proxy', text(), 'HTTP proxy (http://[user:password@]host:port) for every outgoing HTTP client: Keystone, Nova, Placement, Redfish BMCs and webhooks; https goes through CONNECT. cmpha never reads HTTP_PROXY/HTTPS_PROXY from the environment: unset means direct. The password is masked wherever the URL is printed or logged.', { default: '' }),
    noProxy: key('no_proxy', list(), 'Comma-separated destinations reached directly although proxy is set: host names, domains (.example), IP addresses and CIDR ranges (10.0.0.0/8). List the BMC network here when BMCs are reached directly.'),
  },
  {
    check: (c) => {
      const out: { key: string; message: string }[] = [];
      if (c.cacert !== undefined && c.cafile !== undefined) out.push({ key: 'cafile', message: 'set both cacert and cafile (the same setting); keep one' });
      if (c.proxy === undefined && c.noProxy.length > 0) out.push({ key: 'no_proxy', message: 'is set without proxy; cmpha never reads HTTP(S)_PROXY from the environment, so there is nothing to bypass' });
      if (c.validInterfaces !== undefined && c.validInterfaces.length > 0) {
        const bad = c.validInterfaces.filter((i) => !(INTERFACES as readonly string[]).includes(i) && !(i in INTERFACE_ALIASES));
        if (bad.length > 0) out.push({ key: 'valid_interfaces', message: `"${bad.join(',')}" is not one of ${INTERFACES.join(', ')}` });
        else if (c.validInterfaces.length > 1) out.push({ key: 'valid_interfaces', message: `cmpha uses one interface; give one of ${c.validInterfaces.join(', ')} (did you mean interface = ${normaliseInterface(c.validInterfaces[0]!)}?)` });
      }
      return out;
    },
  },
);

export function normaliseInterface(i: string): (typeof INTERFACES)[number] {
  return (INTERFACE_ALIASES as Record<string, (typeof INTERFACES)[number]>)[i] ?? (i as (typeof INTERFACES)[number]);
}

export const legacySection = defineSection(
  'ser',
  'The original tool\'s section, still accepted. OS_TENANT_NAME/OS_PROJECT_NAME = project, OS_DEFAULT_DOMAIN = domain of user and project (`default` is taken as the domain id), INTERVAL = [detector] interval in seconds.',
  {
    OS_TENANT_NAME: key('OS_TENANT_NAME', text(), 'Legacy OS_TENANT_NAME.'),
    OS_PROJECT_NAME: key('OS_PROJECT_NAME', text(), 'Legacy OS_PROJECT_NAME.'),
    OS_USERNAME: key('OS_USERNAME', text(), 'Legacy OS_USERNAME.'),
    OS_PASSWORD: key('OS_PASSWORD', text(), 'Legacy OS_PASSWORD.'),
    OS_AUTH_URL: key('OS_AUTH_URL', text(), 'Legacy OS_AUTH_URL.'),
    OS_DEFAULT_DOMAIN: key('OS_DEFAULT_DOMAIN', text(), 'Legacy OS_DEFAULT_DOMAIN.'),
    INTERVAL: key('INTERVAL', text(), 'Legacy detector interval, in seconds.'),
  },
);

export const defaultSection = defineSection(
  'DEFAULT',
  'Accepted because every OpenStack service has one. cmpha reads only `debug` from it; any other key belongs in a named section (the error says which).',
  {
    debug: key('debug', bool(false), 'As oslo.log\'s debug: log at debug level unless [logging] level is set.'),
  },
);

export const detectorSection = defineSection(
  'detector',
  'How a dead host is told from a sick one. A host is dead only when every address it has (management, storage, tunnel, instance IPs that answered while it was healthy) has been silent for min_silence (single_signal_silence when it has one independent signal), confirmed by direct probes, and Nova has seen no heartbeat since that silence could have begun (updated_at unchanged for one heartbeat period plus heartbeat_margin on cmpha\'s own clock) or says the service is down.',
  {
    intervalMs: key('interval', duration('1s', { min: '1s' }), 'Time between full rounds (one Nova services list, every enabled host\'s addresses pinged); rounds never overlap. A failure is noticed up to one interval late.'),
    probeIntervalMs: key('probe_interval', duration('1s', { min: '200ms' }), 'Between rounds, hosts under suspicion are pinged and their service re-read this often, so silence is timed, not counted in rounds.'),
    heartbeatIntervalMs: key('heartbeat_interval', duration('10s', { min: '1s' }), 'Heartbeat period assumed for a host until one is learned from how its updated_at advances (Nova\'s report_interval).'),
    heartbeatMarginMs: key('heartbeat_margin', duration('1s', { min: '0s' }), 'Slack added to the heartbeat period before a missing heartbeat counts: covers a late report and the time to read it.'),
    minSilenceMs: key('min_silence', duration('5s', { min: '1s' }), 'Every address of a host with two or more independent signals must stay silent this long before it is dead.'),
    singleSignalSilenceMs: key('single_signal_silence', duration('30s', { min: '1s' }), 'The same for a host whose only independent signal is its management network (no storage_ip, tunnel_ip or answering instance IP): a cut management link looks like death, so wait longer.'),
    heartbeatTimeoutMs: key('heartbeat_timeout', duration('30s', { min: '1s' }), 'Only for a recovery worker started without the detector (`cmpha evacuate`): its last look before fencing treats a service whose updated_at is younger than this as alive. Not used by `cmpha run`, whose last look trusts no clock.'),
    instanceNetworks: key('instance_networks', list(), 'Comma-separated network names whose instance IPs the controller can reach (tenant overlays usually cannot be reached). When empty, no instance IP can veto a fence: `config validate` and `doctor` warn.', { example: 'provider' }),
    isolationAddresses: key('isolation_addresses', ipList(), 'IP literals the controller must reach (e.g. gateways); if none answer, the controller is the one cut off and acts on nothing.'),
    maxDeadHosts: key('max_dead_hosts', integer(2, 1, 100000), 'Storm brake: more dead or suspect hosts than this at once opens no incident.'),
    maxDeadFraction: key('max_dead_fraction', fraction(0.33), 'Storm brake: the same, as a fraction of enabled hosts (per availability zone).'),
    // Optional in the type: a DetectorConfig built by hand (tests, benches) that leaves it out reads no BMC.
    bmcPowerRead: key('bmc_power_read', bool(true).transform((b): boolean | undefined => b), 'Read the chassis power of hosts under suspicion from their BMC (ipmi and redfish drivers: power status only, never a command; one read a host a second at most, four at once): a chassis read off in two reads in a row, while every address has been silent for min_silence and no heartbeat came, proves the host dead without waiting for Nova\'s heartbeat to be overdue. Any address answering still means alive, whatever the BMC says.', { default: 'true' }),
    maxRecoveries: key('max_recoveries', countPerWindow(), 'Slow cascades: at most this many recoveries in any sliding window, counted per availability zone and per aggregate (incidents opened in the window, aborted ones excepted, plus hosts dead now). One more trips the storm brake: it pages and opens nothing until `cmpha resume`. Unset: no window (only max_dead_hosts and max_dead_fraction brake).', { example: '3 per 30m' }),
    maxAggregateFailures: key('max_aggregate_failures', optionalInteger(1, 100000), 'Per-aggregate cap: more hosts of one aggregate dead or with an open incident at once trips the storm brake, as max_recoveries does. Unset: no cap.'),
    disarmLimitMs: key('disarm_limit', duration('24h', { min: '1m' }), 'A disarm (`cmpha ha disarm`) older than this is overdue, as one past its --until: cmpha_ha_disarm_overdue says so and CmphaDisarmOverdue fires.'),
    dryRun: key('dry_run', bool(false), 'Detect and report, act on nothing.'),
    probe: key('probe', oneOf(['fping', 'sim'], 'fping'), 'fping (real ICMP) or sim (ask the simulator; demo and tests only; needs sim_url).'),
    simUrl: key('sim_url', url(undefined, ['http:', 'https:']), 'Control URL of the simulator, required with probe = sim.'),
    fpingPath: key('fping_path', text('fping'), 'fping binary.'),
    probeTimeoutMs: key('probe_timeout', duration('500ms', { min: '50ms' }), 'fping -t: time to wait for each reply.'),
    probePacketIntervalMs: key('probe_packet_interval', duration('1ms', { bareUnit: 'ms' }), 'fping -i: gap between packets to different targets.'),
    probeCount: key('probe_count', integer(2, 1, 10), 'fping -c: pings per address per round; one reply is enough for alive.'),
    leaderLeaseMs: key('leader_lease', duration('30s', { min: '2s' }), 'Leader lease in Redis; a standby takes over when it lapses.'),
  },
  { check: (d) => (d.probe === 'sim' && d.simUrl === undefined ? [{ key: 'probe', message: 'probe = sim needs sim_url (the simulator\'s control URL)' }] : []) },
);

export const fencingSection = defineSection(
  'fencing',
  'Power-off of a dead host before anything else. No confirmed power-off, no evacuation.',
  {
    timeoutMs: key('timeout', duration('30s', { min: '1s' }), 'Time for the power state to read back off after power-off.'),
    pollIntervalMs: key('poll_interval', duration('1s', { min: '100ms' }), 'Power state polling interval while waiting for off.'),
    allowUnfencedEvacuation: key('allow_unfenced_evacuation', bool(false), 'Allow driver = noop (labs only): evacuate without power-off. Every incident then says nothing was fenced.'),
    ipmitoolPath: key('ipmitool_path', text('ipmitool'), 'ipmitool binary.'),
    attempts: key('attempts', integer(3, 1, 10), 'Power-off attempts before the fence fails.'),
    fenceLevels: key('fence_levels', fenceLevelsField(), `Default fence levels for every host without its own (Pacemaker's topology): levels separated by |, tried in order; devices of one level separated by , and all must confirm; the first level that confirms fences the host. Devices: ${POWER_DEVICE_NAMES.join(', ')} (the host's power device, its driver) ceph (storage blocklist) and kdump (the crash kernel's fence_kdump messages: no power-off; needs [kdump]). A level a host cannot use (no such driver, no storage_ips) is left out for that host. Unset: each host's BMC driver alone. On a host with storage_ips the Ceph fence also runs after any power-off level; its failure then only warns.`, { example: 'ipmi | ceph' }),
  },
);

export const cephSection = defineSection(
  'ceph',
  'The storage fence: a whole-IP blocklist (IP:0/0) of a host\'s storage addresses on this Ceph cluster, confirmed from the osdmap and from the watchers of its servers\' RBD images. Give the cephx user only mon \'allow r, allow command "osd blocklist"\' osd \'profile rbd-read-only pool=vms, profile rbd-read-only pool=volumes\' (one profile per pool). Needs python3-rados and python3-rbd.',
  cephKeys,
);

export const kdumpSection = defineSection(
  'kdump',
  'The kdump fence device: a host whose crash kernel sends fence_kdump messages (Pacemaker\'s protocol, fence_kdump_send from fence-agents) is fenced without a power-off, and a power-off of a host that is sending waits until the dump is written. docs/fencing.md has the kdump.conf lines for the compute hosts.',
  kdumpKeys,
);

/** The lasting states `[evacuation] states` may list (docs/operations.md, "What cmpha does with each server state"). */
export const EVACUABLE_STATES = ['ACTIVE', 'ERROR', 'SHUTOFF', 'PAUSED', 'SUSPENDED', 'RESCUE'] as const;

export const evacuationSection = defineSection(
  'evacuation',
  'What is moved, where, and how fast.',
  {
    states: key('states', list([...EVACUABLE_STATES]).transform((s, ctx) => {
      const up = s.map((x) => x.toUpperCase());
      // A status that shows a task (HARD_REBOOT, RESIZE, MIGRATING, REBUILD, ...) or one no cloud moves is refused:
      // a server mid-task is judged by the state under the task (docs/operations.md).
      const bad = up.filter((x) => !(EVACUABLE_STATES as readonly string[]).includes(x));
      if (bad.length > 0) {
        ctx.addIssue({ code: 'custom', message: `${bad.join(', ')}: not a lasting state cmpha can move; use some of ${EVACUABLE_STATES.join(', ')} (a server mid-task counts as the state under its task; SHELVED servers cannot be evacuated)` });
        return z.NEVER;
      }
      return up;
    }), 'Lasting server states to evacuate (a server mid-task, e.g. HARD_REBOOT, counts as the state under its task, here ACTIVE). A server whose state is not listed is left on the dead host by choice: named in the incident, not counted as a failure. SHUTOFF, PAUSED, SUSPENDED and RESCUE are moved by default (the default was ACTIVE,ERROR before; stopped, paused and suspended ones are put back in their state on the new host; a rescued one boots from its own disk).', { default: EVACUABLE_STATES.join(',') }),
    requireMetadata: key('require_metadata', keyValue(), 'Only servers with this metadata KEY=VALUE (e.g. HA_Enabled=True).'),
    priorityMetadataKey: key('priority_metadata_key', text(), 'Metadata key holding a number; higher evacuates first (a matching `priority N` rule of policy comes before it).'),
    // Optional in the type (policy, policy_default, tiers): a hand-built config without them moves every server, priority 0, one tier.
    policy: key('policy', policyRules(), 'Evacuability rules, comma-separated, each SOURCE:MATCH -> ACTION. SOURCE: flavor, image, aggregate, metadata (MATCH is KEY=GLOB: a flavor extra spec, an image property, metadata of an aggregate of the failed host, server metadata) or name, project (MATCH is a GLOB on the server name or project id); globs take * and ?, whole value, any case. ACTION: evacuate, never, or priority N. Whether a server moves: the first matching evacuate/never rule, in the order written; none: require_metadata, else policy_default. Priority: the first matching priority rule, else priority_metadata_key. How they combine: docs/operations.md "Which servers move".', { example: 'name:amphora-* -> never, flavor:evacuable=false -> never, metadata:tier=db -> priority 100' }),
    policyDefault: key('policy_default', oneOf(['evacuate', 'never'], 'evacuate').transform((v): 'evacuate' | 'never' | undefined => v), 'What happens to a server no evacuate/never rule of policy matched (and require_metadata unset): evacuate or never.', { default: 'evacuate' }),
    tiers: key('tiers', priorityTiers(), 'Priority thresholds, highest first, that cut the servers of a host into tiers: with tiers = 100, 50, priority >= 100 is tier 1, >= 50 tier 2, the rest tier 3. A tier starts only once every server of the tiers before it is settled (verified, or failed: the gate then opens with a critical note). Empty: one tier, priority only orders.'),
    concurrency: key('concurrency', integer(4, 1, 256), 'Evacuations in flight at once, across all incidents and replicas (one global limit kept in Redis): three hosts down at once still means at most this many.'),
    staggerMs: key('stagger', duration('0ms', { bareUnit: 'ms' }), 'Pause between starting two evacuations of the same incident (not across incidents). 0 (the default): an incident\'s evacuations start as fast as concurrency and max_per_minute let them, which bound the load on Nova across all incidents.'),
    maxPerMinute: key('max_per_minute', integer(120, 1, 100000), 'Evacuate calls per minute, across all incidents and replicas (global, a sliding window in Redis).'),
    verifyTimeoutMs: key('verify_timeout', duration('300s', { min: '1s' }), 'Time for an evacuated server to be ACTIVE on another host.'),
    verifyPollIntervalMs: key('verify_poll_interval', duration('2s', { min: '100ms' }), 'Polling interval while verifying.'),
    // Optional in the type: a config built by hand without them waits 1 h, looking again every 30 s.
    capacityWaitMs: key('capacity_wait', duration('1h').transform((ms): number | undefined => ms), 'How long a server that fits on no host (no spare, no enabled host with its vCPU and RAM free) waits for room, in state awaiting_capacity, before it is given up (the incident ends partial, naming it, and pages). It moves as soon as room appears: a spare added or enabled, a host enabled or returned, another server deleted or moved away. 0: never wait, fail it at once.', { default: '1h' }),
    // Optional in the type: a config built by hand without it knows no PCI alias's class.
    pciAliasResources: key('pci_alias_resources', list().transform((items, ctx): ReadonlyMap<string, string> | undefined => {
      const out = new Map<string, string>();
      for (const item of items) {
        const m = /^([^:\s]+):([A-Z0-9_]+)$/.exec(item);
        if (!m) {
          ctx.addIssue({ code: 'custom', message: `"${item}" is not ALIAS:RESOURCE_CLASS (e.g. a1:CUSTOM_PCI_10DE_1EB8)` });
          return undefined;
        }
        out.set(m[1]!, m[2]!);
      }
      return out;
    }), 'The Placement resource class each PCI alias (flavor extra spec pci_passthrough:alias) is tracked as, ALIAS:RESOURCE_CLASS, comma-separated: what the computes\' nova.conf [pci] alias says (resource_class, or CUSTOM_PCI_<vendor_id>_<product_id>) with [pci] report_in_placement on. The plan, cmpha check --plan and cmpha doctor then say which spare can host such a server; an alias not listed is reported as unknown.', { default: '' }),
    capacityRecheckMs: key('capacity_recheck_interval', duration('30s', { min: '1s' }).transform((ms): number | undefined => ms), 'How often a server waiting for room (awaiting_capacity) looks again for a host with room.', { default: '30s' }),
    spareHosts: key('spare_hosts', list(), 'Comma-separated reserved hosts, besides those disabled with spare_reason_prefix.'),
    spareReasonPrefix: key('spare_reason_prefix', text('down_prepare'), 'nova-compute services disabled with a reason starting with this are reserved spares (the original tool\'s convention).'),
    spareAddToAggregates: key('spare_add_to_aggregates', bool(false), 'Add the chosen spare to the failed host\'s aggregates.'),
    spareCount: key('spare_count', integer(1, 0, 100), 'Spares to enable per incident at most.'),
    disabledReasonPrefix: key('disabled_reason_prefix', text('cmpha'), 'Start of the disabled reason set on a failed host.'),
    // Optional in the type: a config built by hand (tests, the demo) that leaves it out means false.
    sharedStorage: key('shared_storage', bool(false).transform((b): boolean | undefined => b), 'Instance directories are on shared storage (Ceph, NFS): evacuation keeps an image-backed server\'s disk. When false, `cmpha doctor` warns that evacuating an image-backed server rebuilds it from its image.'),
    // Optional in the type as well: a hand-built config without them verifies the network, waits 120 s and never reboots.
    verifyNetwork: key('verify_network', bool(true).transform((b): boolean | undefined => b), 'After a server runs ACTIVE on its new host, check its network: every Neutron port bound to that host (not binding_failed) and ACTIVE, and every address of it on [detector] instance_networks that answered before the failure answers again; otherwise it is degraded, with the reason.', { default: 'true' }),
    networkTimeoutMs: key('network_timeout', duration('120s', { min: '1s' }).transform((ms): number | undefined => ms), 'Time, after the server runs ACTIVE, for its ports to become ACTIVE and its addresses to answer again.', { default: '120s' }),
    networkConcurrency: key('network_concurrency', integer(16, 1, 1024).transform((n): number | undefined => n), 'Servers whose network is verified at once, across all incidents and replicas (a global limit kept in Redis). Apart from concurrency: a server leaves its evacuation slot when Nova shows it ACTIVE on its new host, so one whose address is slow to answer does not hold back the next evacuations.', { default: '16' }),
    rebootSilent: key('reboot_silent', bool(false).transform((b): boolean | undefined => b), 'Hard-reboot, once, a server whose ports are bound and ACTIVE but whose addresses stay silent for network_timeout, then wait network_timeout once more (the reboot is recorded before it is sent, so a restarted controller does not send a second one).', { default: 'false' }),
  },
);

export const redisSection = defineSection(
  'redis',
  'Incidents, the job queue and the leader lease live in Redis, which must persist (appendonly yes): an empty restart loses incident records. A single server by `url`, or a Sentinel-managed primary by `sentinels` and `master_name`.',
  {
    url: key('url', redisUrl(), 'Redis URL, redis://HOST:PORT[/DB] or rediss:// for TLS. Redis Cluster is not supported; for Sentinel set sentinels and master_name (with sentinels only the URL\'s database number counts). Prefer password_file to a password in the URL; either way it is masked wherever the URL is printed or logged.'),
    username: key('username', text(), 'ACL user (Redis 6+); the password is then that user\'s.'),
    password: secretKey('password', 'Redis password (kept out of the URL). Prefer password_file, a file holding it.'),
    prefix: key('prefix', text('cmpha'), 'Key prefix.'),
    // Optional in the type: a RedisConfig built by hand (tests) leaves them to the queue's defaults.
    jobLockMs: key('job_lock', duration('30s', { min: '1s' }).transform((ms): number | undefined => ms), 'How long a recovery worker\'s claim on a queue job lasts without renewal (renewed at half that). Shorter: a worker that hangs without dying loses its job sooner; too short for a loaded machine and a live worker loses it mid-step. A killed worker\'s jobs are handed back within about 10 s whatever this is.', { default: '30s' }),
    stalledCheckMs: key('stalled_check', duration('30s', { min: '1s' }).transform((ms): number | undefined => ms), 'How often the queue looks for jobs whose claim expired. Shorter costs a few Redis calls more per check.', { default: '30s' }),
    sentinels: key('sentinels', hostPortList(), 'Comma-separated Sentinel addresses HOST:PORT; when set, cmpha asks them for the current primary of master_name instead of using url\'s host.'),
    masterName: key('master_name', text(), 'Name of the monitored primary (sentinel.conf\'s `sentinel monitor NAME`); required with sentinels.'),
    sentinelPassword: secretKey('sentinel_password', 'Password of the Sentinels themselves (requirepass in sentinel.conf), when they have one. Prefer sentinel_password_file.'),
    tlsEnabled: key('tls', bool(false), 'Speak TLS to Redis and the Sentinels (implied by a rediss:// url).'),
    tlsCaFile: key('tls_ca_file', text(), 'CA bundle that signed the Redis (and Sentinel) certificates.'),
    tlsCertFile: key('tls_cert_file', text(), 'Client certificate, for Redis servers that require one (tls-auth-clients).'),
    tlsKeyFile: key('tls_key_file', text(), 'Private key of tls_cert_file.'),
  },
  {
    check: (r) => {
      const out: { key: string; message: string }[] = [];
      if (r.sentinels.length > 0 && r.masterName === undefined) out.push({ key: 'master_name', message: 'is required with sentinels (the name in sentinel.conf\'s `sentinel monitor`)' });
      if (r.masterName !== undefined && r.sentinels.length === 0) out.push({ key: 'sentinels', message: 'is required with master_name (HOST:PORT of each Sentinel)' });
      if (r.sentinelPassword !== undefined && r.sentinels.length === 0) out.push({ key: 'sentinel_password', message: 'is set but sentinels is not' });
      const tlsOn = r.tlsEnabled || /^rediss:/i.test(r.url);
      for (const [k, f] of [['tls_ca_file', r.tlsCaFile], ['tls_cert_file', r.tlsCertFile], ['tls_key_file', r.tlsKeyFile]] as const) {
        if (f === undefined) continue;
        if (!tlsOn) { out.push({ key: k, message: 'is set but TLS is off (set tls = true or use rediss://)' }); continue; }
        try {
          accessSync(f, constants.R_OK);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          out.push({ key: k, message: code === 'ENOENT' ? `${f} does not exist` : `cannot read ${f}: ${code ?? 'error'}` });
        }
      }
      if ((r.tlsCertFile === undefined) !== (r.tlsKeyFile === undefined)) out.push({ key: r.tlsCertFile === undefined ? 'tls_cert_file' : 'tls_key_file', message: 'a client certificate needs both tls_cert_file and tls_key_file' });
      return out;
    },
    // `sentinels` and `tls` are present only when in use, so a single plain server reads as it always did.
    finish: ({ tlsEnabled, tlsCaFile, tlsCertFile, tlsKeyFile, sentinels, ...r }): RedisShape => {
      const tls = tlsEnabled || /^rediss:/i.test(r.url);
      // A password inside the URL becomes a Secret here, like every other one, and the URL kept is without it:
      // the URL is printed (`config validate`) and logged, the password never. [redis] password wins over it.
      const { url, password } = splitUrlPassword(r.url);
      return {
        ...r,
        url,
        ...(r.password === undefined && password !== undefined ? { password } : {}),
        ...(sentinels.length > 0 ? { sentinels } : {}),
        ...(tls ? { tls: { ...(tlsCaFile !== undefined ? { ca: tlsCaFile } : {}), ...(tlsCertFile !== undefined ? { cert: tlsCertFile } : {}), ...(tlsKeyFile !== undefined ? { key: tlsKeyFile } : {}) } } : {}),
      };
    },
  },
);

/**
 * [redis] url: a plain or TLS URL. `redis+sentinel://` is refused because ioredis would read it as a Unix socket
 * path and fail every command with ENOENT long after validation said yes; Cluster URLs likewise.
 */
function redisUrl() {
  const plain = url('redis://127.0.0.1:6379', ['redis:', 'rediss:']);
  const field = z.union([z.string(), z.number(), z.boolean()]).optional().transform((v, ctx) => {
    const t = v === undefined ? undefined : String(v).trim();
    if (t !== undefined && /^rediss?\+sentinel:/i.test(t)) ctx.addIssue({ code: 'custom', message: 'redis+sentinel:// URLs are not supported: set sentinels = HOST:PORT,... and master_name instead' });
    else if (t !== undefined && /^rediss?(\+|-)cluster:/i.test(t)) ctx.addIssue({ code: 'custom', message: 'Redis Cluster is not supported: use one primary with replicas and Sentinel' });
    else if (t !== undefined && /^[a-z][a-z0-9+.-]*:/i.test(t) && !/^rediss?:/i.test(t) && URL.canParse(t)) {
      ctx.addIssue({ code: 'custom', message: `scheme "${new URL(t).protocol}" is not supported (use redis:// or rediss://)` });
    } else {
      const r = plain.safeParse(v);
      if (!r.success) for (const i of r.error.issues) ctx.addIssue({ code: 'custom', message: i.message });
      else {
        const p = new URL(r.data).pathname;
        if (p.length > 1 && !/^\/\d+$/.test(p)) ctx.addIssue({ code: 'custom', message: `path "${p}" is not a database number (redis://HOST:PORT/DB)` });
        else return r.data;
      }
    }
    return z.NEVER;
  });
  fieldDefaults.add(field, fieldDefaults.get(plain)!);
  return field;
}

/** The typed [redis] section. */
export interface RedisShape {
  readonly url: string;
  readonly username?: string;
  readonly password?: Secret;
  readonly prefix: string;
  /** How long a worker's claim on a queue job lasts without renewal (BullMQ lockDuration). */
  readonly jobLockMs?: number;
  /** How often BullMQ looks for jobs whose lock expired (stalledInterval). */
  readonly stalledCheckMs?: number;
  /** Set (non-empty) only when Sentinel finds the primary. */
  readonly sentinels?: readonly { readonly host: string; readonly port: number }[];
  /** Set with sentinels. */
  readonly masterName?: string;
  readonly sentinelPassword?: Secret;
  /** Set when TLS is on; the members are file paths (checked readable at load time). */
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string };
}

export const metricsSection = defineSection(
  'metrics',
  'Prometheus metrics and health endpoints.',
  {
    enabled: key('enabled', bool(true), 'Serve /metrics, /healthz and /readyz.'),
    listen: key('listen', listenAddress('127.0.0.1:9464'), 'HOST:PORT to listen on.'),
  },
);

export const apiSection = defineSection(
  'api',
  'The HTTP API (/v1), the status page (/) and the Masakari-compatible notification intake, served by `cmpha run`. Bearer tokens come from files, one token per file; a token\'s name is the file\'s base name without extension and is recorded in the incident with every write. See docs/api.md.',
  {
    enabled: key('enabled', bool(false), 'Serve the API and the status page.'),
    listen: key('listen', listenAddress('127.0.0.1:9465'), 'HOST:PORT to listen on. It serves incidents and host evidence: bind wider only behind TLS and on purpose.'),
    readTokenFiles: key('read_token_files', list(), 'Comma-separated files, each holding one token (16+ characters) that may read (incidents, hosts, brake, notifications).'),
    writeTokenFiles: key('write_token_files', list(), 'Comma-separated token files that may also write: ack, resume, POST /v1/notifications.'),
    anonymousRead: key('anonymous_read', bool(false), 'GET requests need no token (a wall screen on a trusted network). Writes always need a write token.'),
    notificationDuplicateWindowMs: key('notification_duplicate_window', duration('180s', { min: '0s' }), 'An identical notification (type, host, payload) within this long of another is answered 409, as Masakari\'s duplicate_notification_detection_interval.'),
  },
);

export const loggingSection = defineSection(
  'logging',
  'Logs go to stderr.',
  {
    level: key('level', oneOf(['debug', 'info', 'warn', 'error', 'silent'], 'info'), 'debug, info, warn, error or silent.'),
    format: key('format', oneOf(['auto', 'json', 'pretty'], 'auto'), 'json, pretty, or auto (pretty on a terminal).'),
  },
);

export const escalationSection = defineSection(
  'escalation',
  'Repeats, deduplication and users.',
  {
    repeatEveryMs: key('repeat_every', duration('15m', { min: '1s' }), 'Critical events repeat to the on-call audience this often until acknowledged (cmpha incidents ack ID).'),
    maxRepeats: key('max_repeats', integer(4, 0, 1000), 'Repeats at most.'),
    dedupWindowMs: key('dedup_window', duration('30m', { min: '0s' }), 'The same event for the same host and incident is sent once per recipient in this window.'),
    rateLimitPerHour: key('rate_limit_per_hour', integer(30, 1, 100000), 'Messages per recipient per hour at most.'),
    userMetadataEmailKey: key('user_metadata_email_key', text(), 'Server metadata key holding the owner\'s email (else the Keystone user\'s email).'),
    userMetadataPhoneKey: key('user_metadata_phone_key', text(), 'Server metadata key holding the owner\'s phone number.'),
    notifyUsers: key('notify_users', bool(true), 'Tell the owners of moved instances (email channels with audience users).'),
    notifyUsersSms: key('notify_users_sms', bool(false), 'Also by SMS.'),
    templateDir: key('template_dir', text(), 'Directory of template overrides (<event>.txt, <event>.html, <event>.sms).'),
  },
);

export const recoverySection = defineSection(
  'recovery',
  'After an incident closes: whether cmpha brings its repaired host back by itself. Off by default; `cmpha host restore` is the manual way, and the same code does both.',
  {
    returnRepairedHosts: key('return_repaired_hosts', bool(false), 'Once a host cmpha fenced is repaired and powered on, and its nova-compute heartbeat has been back and steady for steady_for: unset forced_down, lift its storage blocklist (only when cmpha saw it power-cycle: the fence read its power off), enable it, and put a spare the incident enabled but did not use back into the reserved pool. Each step goes into the closed incident\'s timeline (step return).'),
    steadyForMs: key('steady_for', duration('2m', { min: '1s' }), 'How long the returned host\'s heartbeat must move without a gap longer than [detector] heartbeat_interval + heartbeat_margin before it is returned.'),
    powerOnFencedHosts: key('power_on_fenced_hosts', bool(false), 'Power a host cmpha powered off back on, through its power device, once its incident is closed and every server has left it. It stays forced down and disabled until it is healthy (and is returned then only with return_repaired_hosts).'),
    checkIntervalMs: key('check_interval', duration('10s', { min: '1s' }), 'How often the leader looks at the hosts cmpha isolated.'),
    computeNovaConf: key('compute_nova_conf', text(), 'A copy of the nova.conf the compute hosts run (as your config management renders it): `cmpha doctor` reads its [DEFAULT] resume_guests_state_on_host_boot, which must be false on hosts cmpha powers back on or returns. Unset: doctor warns with what to verify by hand.'),
    returnTimeoutMs: key('return_timeout', duration('10m', { min: '1s' }), 'Each wait of a return (migrations cleaned up, forced_down accepted, service up) gives up after this long; the host is left as the timeline says and tried again on a later look.'),
  },
);

export const remediationSection = defineSection(
  'remediation',
  'When nova-compute stops reporting on a host that still answers (agent-down), cmpha can restart it with your command instead of paging. The command is split into arguments like a shell would (quotes group), but no shell runs it; {host} (the Nova host name) and {mgmt_ip} are substituted inside their own argument, and a value with anything but letters, digits and . _ : - is refused. Healed means Nova\'s heartbeat (updated_at) advances again; otherwise, or with no command, the page goes out as before, with the command\'s output. It never fences or evacuates. `cmpha host heal HOST --yes` runs it by hand.',
  {
    agentCommand: key('agent_command', commandTemplate(), 'Command restarting nova-compute on a host, e.g. ssh -o BatchMode=yes root@{mgmt_ip} systemctl restart nova-compute; [host:NAME] agent_command overrides it per host. Empty: agent-down pages at once, as without remediation.'),
    timeoutMs: key('timeout', duration('60s', { min: '1s' }), 'Each run is killed (with its process group) after this long.'),
    tries: key('tries', integer(2, 1, 10), 'Runs at most, while the heartbeat does not come back.'),
    retryDelayMs: key('retry_delay', duration('30s', { min: '0s' }), 'Pause between two runs.'),
    heartbeatWaitMs: key('heartbeat_wait', duration('60s', { min: '1s' }), 'After each run, how long Nova\'s heartbeat has to advance (at least report_interval, 10 s by default, plus the restart).'),
  },
);

/** The sections with fixed names, in the order the reference shows them. */
export const FIXED_SECTIONS = [defaultSection, cloudSection, legacySection, detectorSection, fencingSection, cephSection, kdumpSection, evacuationSection, redisSection, metricsSection, apiSection, loggingSection, escalationSection, remediationSection, recoverySection] as const;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnySection = SectionDecl<Decls, any>;

/** Section name → its strict INI shape: exactly the keys each section accepts. */
export const SECTIONS = Object.fromEntries([...FIXED_SECTIONS, hostDefaultsSection].map((s: AnySection) => [s.name, s.object])) as Readonly<Record<string, AnySection['object']>>;
export type SectionName = (typeof FIXED_SECTIONS)[number]['name'];

function splitUrlPassword(url: string): { url: string; password?: Secret } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { url };
  }
  if (!u.password) return { url };
  const password = new Secret(decodeURIComponent(u.password));
  u.password = '';
  const shown = u.toString();
  return { url: !url.endsWith('/') && shown.endsWith('/') && u.pathname === '/' ? shown.slice(0, -1) : shown, password };
}
