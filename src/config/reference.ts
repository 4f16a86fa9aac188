// The documentation of every cmpha.conf key, in one place. cmpha.conf.example and docs/configuration.md are
// generated from it (scripts/gen-config-docs.ts) and a test checks it against the zod schemas, so the
// documentation cannot drift from what the loader accepts.

export interface KeyDoc {
  readonly key: string;
  /** As written in the file; '' when there is no default. */
  readonly default: string;
  readonly help: string;
  /** Shown uncommented in cmpha.conf.example with this value. */
  readonly example?: string;
}

export interface SectionDoc {
  readonly section: string;
  readonly help: string;
  readonly keys: readonly KeyDoc[];
}

export const CONFIG_REFERENCE: readonly SectionDoc[] = [
  {
    section: 'cloud',
    help: 'How cmpha reaches OpenStack. Settings may also come from a clouds.yaml cloud (`cloud` or OS_CLOUD) and the standard OS_* environment variables; precedence, lowest first: clouds.yaml < OS_* environment < [ser] < [cloud]. The account needs the admin role (services, evacuate, all-tenant server lists).',
    keys: [
      { key: 'cloud', default: '', help: 'Name of a cloud in clouds.yaml (as OS_CLOUD).' },
      { key: 'clouds_file', default: '', help: 'Path of clouds.yaml (default: OS_CLIENT_CONFIG_FILE, ./clouds.yaml, ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml).' },
      { key: 'auth_type', default: 'password', help: 'password or v3applicationcredential.' },
      { key: 'auth_url', default: '', help: 'Keystone v3 URL (OS_AUTH_URL).', example: 'https://keystone.example.com:5000/v3' },
      { key: 'username', default: '', help: 'User name for password auth (OS_USERNAME).', example: 'cmpha' },
      { key: 'user_id', default: '', help: 'User id, instead of username.' },
      { key: 'password', default: '', help: 'Password (OS_PASSWORD). Prefer password_file.', example: 'CHANGE_ME' },
      { key: 'password_file', default: '', help: 'File holding the password (trailing newline ignored).' },
      { key: 'user_domain_name', default: '', help: 'Domain of the user (OS_USER_DOMAIN_NAME).', example: 'Default' },
      { key: 'user_domain_id', default: '', help: 'Domain id of the user (OS_USER_DOMAIN_ID).' },
      { key: 'project_name', default: '', help: 'Project to scope the token to (OS_PROJECT_NAME).', example: 'admin' },
      { key: 'project_id', default: '', help: 'Project id, instead of project_name.' },
      { key: 'project_domain_name', default: '', help: 'Domain of the project (default: the user\'s domain).', example: 'Default' },
      { key: 'project_domain_id', default: '', help: 'Domain id of the project.' },
      { key: 'application_credential_id', default: '', help: 'Application credential id (auth_type = v3applicationcredential).' },
      { key: 'application_credential_name', default: '', help: 'Application credential name (needs username or user_id).' },
      { key: 'application_credential_secret', default: '', help: 'Application credential secret. Prefer the _file form.' },
      { key: 'application_credential_secret_file', default: '', help: 'File holding the application credential secret.' },
      { key: 'region_name', default: '', help: 'Region to pick endpoints from (OS_REGION_NAME); any region when unset.' },
      { key: 'interface', default: 'public', help: 'Endpoint interface: public, internal or admin (OS_INTERFACE).' },
      { key: 'cacert', default: '', help: 'CA bundle for TLS verification (OS_CACERT).' },
      { key: 'insecure', default: 'false', help: 'Skip TLS verification (OS_INSECURE). Never in production.' },
      { key: 'api_timeout', default: '30s', help: 'Bound of each OpenStack API call in total: connecting, headers and the whole body (a Nova that sends headers and then stalls fails at this bound).' },
      { key: 'api_retries', default: '3', help: 'Retries of idempotent calls on 5xx, timeouts and resets (never of evacuate).' },
      { key: 'max_response_size', default: '32MiB', help: 'Largest API answer accepted (units KiB, MiB, GiB); a larger one is refused with an error naming the endpoint instead of filling memory. BMC and webhook answers are capped at 1 MiB.' },
      { key: 'proxy', default: '', help: 'HTTP proxy (http://[user:password@]host:port) for every outgoing HTTP client: Keystone, Nova, Placement, Redfish BMCs and webhooks; https goes through CONNECT. cmpha never reads HTTP_PROXY/HTTPS_PROXY from the environment: unset means direct. Example: http://proxy.example:3128.' },
      { key: 'no_proxy', default: '', help: 'Comma-separated destinations reached directly although proxy is set: host names, domains (.example), IP addresses and CIDR ranges (10.0.0.0/8). List the BMC network here when BMCs are reached directly. Example: .cloud.example, 10.0.0.0/8.' },
    ],
  },
  {
    section: 'ser',
    help: 'The original tool\'s section, still accepted. OS_TENANT_NAME/OS_PROJECT_NAME = project, OS_DEFAULT_DOMAIN = domain of user and project (`default` is taken as the domain id), INTERVAL = [detector] interval in seconds.',
    keys: ['OS_TENANT_NAME', 'OS_PROJECT_NAME', 'OS_USERNAME', 'OS_PASSWORD', 'OS_AUTH_URL', 'OS_DEFAULT_DOMAIN'].map((key) => ({ key, default: '', help: `Legacy ${key}.` }))
      .concat([{ key: 'INTERVAL', default: '', help: 'Legacy detector interval, in seconds.' }]),
  },
  {
    section: 'detector',
    help: 'How a dead host is told from a sick one. A host is dead only when every address it has (management, storage, tunnel, instance IPs that answered while it was healthy) has been silent for min_silence (single_signal_silence when it has one independent signal), confirmed by direct probes, and Nova has seen no heartbeat since that silence could have begun (updated_at unchanged for one heartbeat period plus heartbeat_margin on cmpha\'s own clock) or says the service is down.',
    keys: [
      { key: 'interval', default: '1s', help: 'Time between full rounds (one Nova services list, every enabled host\'s addresses pinged); rounds never overlap. A failure is noticed up to one interval late.' },
      { key: 'probe_interval', default: '1s', help: 'Between rounds, hosts under suspicion are pinged and their service re-read this often, so silence is timed, not counted in rounds.' },
      { key: 'heartbeat_interval', default: '10s', help: 'Heartbeat period assumed for a host until one is learned from how its updated_at advances (Nova\'s report_interval).' },
      { key: 'heartbeat_margin', default: '1s', help: 'Slack added to the heartbeat period before a missing heartbeat counts: covers a late report and the time to read it.' },
      { key: 'min_silence', default: '5s', help: 'Every address of a host with two or more independent signals must stay silent this long before it is dead.' },
      { key: 'single_signal_silence', default: '30s', help: 'The same for a host whose only independent signal is its management network (no storage_ip, tunnel_ip or answering instance IP): a cut management link looks like death, so wait longer.' },
      { key: 'heartbeat_timeout', default: '30s', help: 'Only for a recovery worker started without the detector (`cmpha evacuate`): its last look before fencing treats a service whose updated_at is younger than this as alive. Not used by `cmpha run`, whose last look trusts no clock.' },
      { key: 'instance_networks', default: '', help: 'Comma-separated network names whose instance IPs the controller can reach (tenant overlays usually cannot be reached).', example: 'provider' },
      { key: 'isolation_addresses', default: '', help: 'IP literals the controller must reach (e.g. gateways); if none answer, the controller is the one cut off and acts on nothing.' },
      { key: 'max_dead_hosts', default: '2', help: 'Storm brake: more dead or suspect hosts than this at once opens no incident.' },
      { key: 'max_dead_fraction', default: '0.33', help: 'Storm brake: the same, as a fraction of enabled hosts (per availability zone).' },
      { key: 'dry_run', default: 'false', help: 'Detect and report, act on nothing.' },
      { key: 'probe', default: 'fping', help: 'fping (real ICMP) or sim (ask the simulator; demo and tests only).' },
      { key: 'sim_url', default: '', help: 'Control URL of the simulator, for probe = sim.' },
      { key: 'fping_path', default: 'fping', help: 'fping binary.' },
      { key: 'probe_timeout', default: '500ms', help: 'fping -t: time to wait for each reply.' },
      { key: 'probe_packet_interval', default: '1ms', help: 'fping -i: gap between packets to different targets.' },
      { key: 'probe_count', default: '2', help: 'fping -c: pings per address per round; one reply is enough for alive.' },
      { key: 'leader_lease', default: '30s', help: 'Leader lease in Redis; a standby takes over when it lapses.' },
    ],
  },
  {
    section: 'fencing',
    help: 'Power-off of a dead host before anything else. No confirmed power-off, no evacuation.',
    keys: [
      { key: 'timeout', default: '30s', help: 'Time for the power state to read back off after power-off.' },
      { key: 'poll_interval', default: '1s', help: 'Power state polling interval while waiting for off.' },
      { key: 'allow_unfenced_evacuation', default: 'false', help: 'Allow driver = noop (labs only): evacuate without power-off. Every incident then says nothing was fenced.' },
      { key: 'ipmitool_path', default: 'ipmitool', help: 'ipmitool binary.' },
      { key: 'attempts', default: '3', help: 'Power-off attempts before the fence fails.' },
      { key: 'fence_levels', default: '', help: 'Default fence levels for every host without its own (Pacemaker\'s topology): levels separated by |, tried in order; devices of one level separated by , and all must confirm; the first level that confirms fences the host. Devices: ipmi, redfish, noop (the host\'s BMC driver) and ceph (storage blocklist). A level a host cannot use (no such driver, no storage_ips) is left out for that host. Unset: each host\'s BMC driver alone. On a host with storage_ips the Ceph fence also runs after any power-off level; its failure then only warns.', example: 'ipmi | ceph' },
    ],
  },
  {
    section: 'ceph',
    help: 'The storage fence: a whole-IP blocklist (IP:0/0) of a host\'s storage addresses on this Ceph cluster, confirmed from the osdmap and from the watchers of its servers\' RBD images. Give the cephx user only mon \'allow r, allow command "osd blocklist"\' osd \'profile rbd-read-only pool=vms\' (one profile per pool). Needs python3-rados and python3-rbd.',
    keys: [
      { key: 'conf', default: '', help: 'A ceph.conf to read (for mon_host and the like).' },
      { key: 'mon_host', default: '', help: 'Monitor addresses, as in ceph.conf (IP literals); overrides conf.' },
      { key: 'user', default: 'cmpha', help: 'cephx user id (client. is optional).' },
      { key: 'keyring_file', default: '', help: 'Keyring of that user. Read by librados only; the key never reaches argv, logs or metrics. Setting it enables the ceph fence device.' },
      { key: 'images_rbd_pool', default: 'vms', help: 'Nova\'s [libvirt] images_rbd_pool: where <server uuid>_disk and its _disk.* siblings live.' },
      { key: 'blocklist_expire', default: '1h', help: 'Expiry of each blocklist entry; renewed every third of it while the incident is open (by swapping IP:0/0 and range IP/32, since a re-add keeps the old expiry). Only cmpha host restore --unfence-storage removes it earlier.' },
      { key: 'confirm_timeout', default: '10s', help: 'Time for the host\'s watchers to vanish from its images after the blocklist is listed.' },
      { key: 'command_timeout', default: '15s', help: 'Time for one call to Ceph (one librados connection for all images and addresses).' },
      { key: 'writer_proof_timeout', default: '2m', help: 'After evacuation, how long the single-writer proof waits for each recovered server to open its disks (exactly one watcher, from its new host). A second writer fails the server at once (double-writer).' },
      { key: 'python', default: '/usr/bin/python3', help: 'The python3 that has python3-rados and python3-rbd.' },
      { key: 'sim_url', default: '', help: 'Control URL of the cloud simulator, whose simulated Ceph then stands in for the cluster (demo and tests only; no keyring needed).' },
    ],
  },
  {
    section: 'host:NAME',
    help: 'One section per compute host (NAME = the nova-compute service host). A host without fencing is never evacuated.',
    keys: [
      { key: 'mgmt_ip', default: '', help: 'Management IP to ping (default: the hypervisor\'s host_ip). IP literal only.', example: '192.0.2.11' },
      { key: 'storage_ip', default: '', help: 'One address on the storage network; the same as a one-element storage_ips (both may be given, they add up).', example: '192.0.2.51' },
      { key: 'tunnel_ip', default: '', help: 'The host\'s address on the tunnel (overlay) network, the same kind of evidence. IP literal only.', example: '192.0.2.91' },
      { key: 'driver', default: 'none', help: 'Fencing driver: ipmi, redfish, noop (labs only) or none.', example: 'ipmi' },
      { key: 'address', default: '', help: 'BMC address (an IP literal for ipmi).', example: '192.0.2.111' },
      { key: 'port', default: '623 (ipmi), 443/80 (redfish)', help: 'BMC port.' },
      { key: 'username', default: '', help: 'BMC user.', example: 'admin' },
      { key: 'password', default: '', help: 'BMC password. Prefer password_file. Reaches ipmitool only through its environment.', example: 'CHANGE_ME' },
      { key: 'password_file', default: '', help: 'File holding the BMC password.' },
      { key: 'ipmi_interface', default: 'lanplus', help: 'ipmitool -I.' },
      { key: 'ipmi_cipher_suite', default: '17', help: 'ipmitool -C (17 on modern BMCs; 3 on older ones and OpenIPMI\'s ipmi_sim).' },
      { key: 'ipmi_timeout', default: '1s', help: 'ipmitool -N: per-try timeout (whole seconds).' },
      { key: 'ipmi_retries', default: '1', help: 'ipmitool -R: retries, so an unreachable BMC fails in seconds.' },
      { key: 'redfish_system', default: '', help: 'Redfish ComputerSystem id (default: the only member of /redfish/v1/Systems).' },
      { key: 'redfish_scheme', default: 'https', help: 'https or http.' },
      { key: 'redfish_auth', default: 'basic', help: 'basic or session.' },
      { key: 'redfish_cacert', default: '', help: 'CA bundle to verify the BMC\'s certificate.' },
      { key: 'redfish_insecure', default: 'false', help: 'Skip TLS verification of the BMC.' },
      { key: 'fence_levels', default: '([fencing] fence_levels)', help: 'This host\'s fence levels, e.g. ipmi | ceph or redfish, ceph | ceph; every device named must exist for the host.' },
      { key: 'storage_ips', default: '', help: 'Comma-separated IP literals of the host on its storage network, the addresses its Ceph clients use: pinged as independent evidence (if one answers the host is not dead), blocklisted by the ceph device, and whose watchers prove a single writer.' },
      { key: 'agent_command', default: '', help: 'This host\'s own [remediation] agent_command (e.g. docker restart nova_compute through ssh on Kolla hosts).' },
    ],
  },
  {
    section: 'evacuation',
    help: 'What is moved, where, and how fast.',
    keys: [
      { key: 'states', default: 'ACTIVE,ERROR', help: 'Server statuses to evacuate.' },
      { key: 'require_metadata', default: '', help: 'Only servers with this metadata KEY=VALUE (e.g. HA_Enabled=True).' },
      { key: 'priority_metadata_key', default: '', help: 'Metadata key holding a number; higher evacuates first.' },
      { key: 'concurrency', default: '4', help: 'Evacuations in flight at once, across all incidents and replicas (one global limit kept in Redis): three hosts down at once still means at most this many.' },
      { key: 'stagger', default: '200ms', help: 'Pause between starting two evacuations of the same incident (not across incidents).' },
      { key: 'max_per_minute', default: '120', help: 'Evacuate calls per minute, across all incidents and replicas (global, a sliding window in Redis).' },
      { key: 'verify_timeout', default: '300s', help: 'Time for an evacuated server to be ACTIVE on another host.' },
      { key: 'verify_poll_interval', default: '2s', help: 'Polling interval while verifying.' },
      { key: 'spare_hosts', default: '', help: 'Comma-separated reserved hosts, besides those disabled with spare_reason_prefix.' },
      { key: 'spare_reason_prefix', default: 'down_prepare', help: 'nova-compute services disabled with a reason starting with this are reserved spares (the original tool\'s convention).' },
      { key: 'spare_add_to_aggregates', default: 'false', help: 'Add the chosen spare to the failed host\'s aggregates.' },
      { key: 'spare_count', default: '1', help: 'Spares to enable per incident at most.' },
      { key: 'disabled_reason_prefix', default: 'cmpha', help: 'Start of the disabled reason set on a failed host.' },
      { key: 'shared_storage', default: 'false', help: 'Instance directories are on shared storage (Ceph, NFS): evacuation keeps an image-backed server\'s disk. When false, `cmpha doctor` warns that evacuating an image-backed server rebuilds it from its image.' },
      { key: 'verify_network', default: 'true', help: 'A server is verified only when, besides running ACTIVE on its new host, its Neutron ports are bound there (not binding_failed) and ACTIVE, and every address of it on [detector] instance_networks that answered before the failure answers again; otherwise it is degraded, with the reason.' },
      { key: 'network_timeout', default: '120s', help: 'Time, after the server runs ACTIVE, for its ports to become ACTIVE and its addresses to answer again.' },
      { key: 'reboot_silent', default: 'false', help: 'Hard-reboot, once, a server whose ports are bound and ACTIVE but whose addresses stay silent for network_timeout, then wait network_timeout once more (the reboot is recorded before it is sent, so a restarted controller does not send a second one).' },
    ],
  },
  {
    section: 'remediation',
    help: 'When nova-compute stops reporting on a host that still answers (agent-down), cmpha can restart it with your command instead of paging. The command is split into arguments like a shell would (quotes group), but no shell runs it; {host} (the Nova host name) and {mgmt_ip} are substituted inside their own argument, and a value with anything but letters, digits and . _ : - is refused. Healed means Nova\'s heartbeat (updated_at) advances again; otherwise, or with no command, the page goes out as before, with the command\'s output. It never fences or evacuates. `cmpha host heal HOST --yes` runs it by hand.',
    keys: [
      { key: 'agent_command', default: '', help: 'Command restarting nova-compute on a host, e.g. ssh -o BatchMode=yes root@{mgmt_ip} systemctl restart nova-compute; [host:NAME] agent_command overrides it per host. Empty: agent-down pages at once, as without remediation.' },
      { key: 'timeout', default: '60s', help: 'Each run is killed (with its process group) after this long.' },
      { key: 'tries', default: '2', help: 'Runs at most, while the heartbeat does not come back.' },
      { key: 'retry_delay', default: '30s', help: 'Pause between two runs.' },
      { key: 'heartbeat_wait', default: '60s', help: 'After each run, how long Nova\'s heartbeat has to advance (at least report_interval, 10 s by default, plus the restart).' },
    ],
  },
  {
    section: 'notifier:NAME',
    help: 'One notification channel. Channel-specific keys (SMTP server, webhook URL and preset, ...) are described in docs/notifications.md. With no notifier configured, notifications go to the log.',
    keys: [
      { key: 'type', default: 'log', help: 'log, email or webhook.', example: 'log' },
      { key: 'events', default: '*', help: 'Comma-separated events this channel takes (* = all).' },
      { key: 'min_severity', default: 'info', help: 'info, warning or critical.' },
      { key: 'audience', default: 'admins', help: 'admins, users (owners of affected instances) or oncall (escalation).' },
      { key: 'recipients', default: '', help: 'Comma-separated addresses or numbers (admins and oncall).' },
    ],
  },
  {
    section: 'escalation',
    help: 'Repeats, deduplication and users.',
    keys: [
      { key: 'repeat_every', default: '15m', help: 'Critical events repeat to the on-call audience this often until acknowledged (cmpha incidents ack ID).' },
      { key: 'max_repeats', default: '4', help: 'Repeats at most.' },
      { key: 'dedup_window', default: '30m', help: 'The same event for the same host and incident is sent once per recipient in this window.' },
      { key: 'rate_limit_per_hour', default: '30', help: 'Messages per recipient per hour at most.' },
      { key: 'user_metadata_email_key', default: '', help: 'Server metadata key holding the owner\'s email (else the Keystone user\'s email).' },
      { key: 'user_metadata_phone_key', default: '', help: 'Server metadata key holding the owner\'s phone number.' },
      { key: 'notify_users', default: 'true', help: 'Tell the owners of moved instances (email channels with audience users).' },
      { key: 'notify_users_sms', default: 'false', help: 'Also by SMS.' },
      { key: 'template_dir', default: '', help: 'Directory of template overrides (<event>.txt, <event>.html, <event>.sms).' },
    ],
  },
  {
    section: 'redis',
    help: 'Incidents, the job queue and the leader lease live in Redis, which must persist (appendonly yes): an empty restart loses incident records.',
    keys: [
      { key: 'url', default: 'redis://127.0.0.1:6379', help: 'Redis URL (redis:// or rediss:// for TLS). Redis Cluster is not supported; for Sentinel set sentinels and master_name. A password inside it (redis://:PASSWORD@HOST) is taken out when the config is read and never printed; password_file is still the better place.' },
      { key: 'username', default: '', help: 'Redis ACL user (default: the default user).' },
      { key: 'password', default: '', help: 'Redis password (kept out of the URL).' },
      { key: 'password_file', default: '', help: 'File holding the Redis password.' },
      { key: 'sentinels', default: '', help: 'Sentinel mode: comma-separated HOST:PORT of the sentinels.' },
      { key: 'master_name', default: '', help: 'Sentinel mode: the monitored master\'s name (required with sentinels).' },
      { key: 'sentinel_password', default: '', help: 'Password of the sentinels themselves (if they require one).' },
      { key: 'sentinel_password_file', default: '', help: 'File holding the sentinel password.' },
      { key: 'tls', default: 'false', help: 'Speak TLS to Redis and the sentinels (implied by rediss://).' },
      { key: 'tls_ca_file', default: '', help: 'CA bundle that signed the Redis server certificate (default: the system CAs).' },
      { key: 'tls_cert_file', default: '', help: 'Client certificate (PEM) when Redis requires one; with tls_key_file.' },
      { key: 'tls_key_file', default: '', help: 'Client private key (PEM) for tls_cert_file.' },
      { key: 'prefix', default: 'cmpha', help: 'Key prefix.' },
      { key: 'job_lock', default: '30s', help: 'How long a recovery worker\'s claim on a queue job lasts without renewal (renewed at half that). Shorter: a worker that hangs without dying loses its job sooner; too short for a loaded machine and a live worker loses it mid-step. A killed worker\'s jobs are handed back within about 10 s whatever this is.' },
      { key: 'stalled_check', default: '30s', help: 'How often the queue looks for jobs whose claim expired. Shorter costs a few Redis calls more per check.' },
    ],
  },
  {
    section: 'metrics',
    help: 'Prometheus metrics and health endpoints.',
    keys: [
      { key: 'enabled', default: 'true', help: 'Serve /metrics, /healthz and /readyz.' },
      { key: 'listen', default: '127.0.0.1:9464', help: 'HOST:PORT to listen on.' },
    ],
  },
  {
    section: 'api',
    help: 'The HTTP API (/v1), the status page (/) and the Masakari-compatible notification intake, served by `cmpha run`. Bearer tokens come from files, one token per file; a token\'s name is the file\'s base name without extension and is recorded in the incident with every write. See docs/api.md.',
    keys: [
      { key: 'enabled', default: 'false', help: 'Serve the API and the status page.' },
      { key: 'listen', default: '127.0.0.1:9465', help: 'HOST:PORT to listen on. It serves incidents and host evidence: bind wider only behind TLS and on purpose.' },
      { key: 'read_token_files', default: '', help: 'Comma-separated files, each holding one token (16+ characters) that may read (incidents, hosts, brake, notifications).' },
      { key: 'write_token_files', default: '', help: 'Comma-separated token files that may also write: ack, resume, POST /v1/notifications.' },
      { key: 'anonymous_read', default: 'false', help: 'GET requests need no token (a wall screen on a trusted network). Writes always need a write token.' },
      { key: 'notification_duplicate_window', default: '180s', help: 'An identical notification (type, host, payload) within this long of another is answered 409, as Masakari\'s duplicate_notification_detection_interval.' },
    ],
  },
  {
    section: 'logging',
    help: 'Logs go to stderr.',
    keys: [
      { key: 'level', default: 'info', help: 'debug, info, warn, error or silent.' },
      { key: 'format', default: 'auto', help: 'json, pretty, or auto (pretty on a terminal).' },
    ],
  },
];

function commentLines(text: string): string[] {
  const out: string[] = [];
  let line = '#';
  for (const word of text.split(/\s+/)) {
    if (line.length + word.length + 1 > 100) { out.push(line); line = '#'; }
    line += ` ${word}`;
  }
  out.push(line);
  return out;
}

/** cmpha.conf.example: every key, its default and meaning; example values uncommented. */
export function renderExampleConfig(): string {
  const out = ['# cmpha.conf: every key with its default and meaning. Generated from src/config/reference.ts.',
    '# Durations: 500ms, 20s, 2m, 1h. Lists: comma-separated. Quote values that contain ; or #.', ''];
  for (const s of CONFIG_REFERENCE) {
    if (s.section === 'ser') {
      out.push(...commentLines(s.help), '# [ser]', ...s.keys.map((k) => `# ${k.key} =`), '');
      continue;
    }
    const header = s.section === 'host:NAME' ? 'host:compute1' : s.section === 'notifier:NAME' ? 'notifier:log' : s.section;
    out.push(...commentLines(s.help), `[${header}]`);
    for (const k of s.keys) {
      out.push(...commentLines(`${k.help}${k.default ? ` Default: ${k.default}.` : ''}`));
      out.push(k.example !== undefined ? `${k.key} = ${k.example}` : `# ${k.key} =${k.default && !k.default.includes(' ') ? ` ${k.default}` : ''}`);
    }
    out.push('');
  }
  return out.join('\n');
}

/** docs/configuration.md. */
export function renderConfigDocs(): string {
  const out = ['# Configuration reference', '',
    'Generated from `src/config/reference.ts` by `npm run gen:config`; a test fails when it is out of date.', '',
    '`cmpha.conf` is an INI file in the OpenStack `.conf` style. Durations take units (`500ms`, `20s`, `2m`, `1h`), lists are comma-separated, booleans are `true`/`false`. Quote a value that contains `;` or `#` (they start comments). Any secret key has a `*_file` form. Problems are reported one per line with file, line, section and key, and `cmpha` exits 2.', ''];
  for (const s of CONFIG_REFERENCE) {
    out.push(`## [${s.section}]`, '', s.help, '', '| key | default | meaning |', '| --- | --- | --- |');
    for (const k of s.keys) out.push(`| \`${k.key}\` | ${k.default ? `\`${k.default}\`` : ''} | ${k.help.replace(/\|/g, '\\|')} |`);
    out.push('');
  }
  return out.join('\n');
}
