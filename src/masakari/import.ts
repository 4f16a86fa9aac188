// `cmpha import masakari`: a Masakari deployment's segments and hosts, as its client prints them
// (`openstack segment list -f json`, `openstack segment host list SEGMENT -f json`), turned into cmpha.conf's
// [segment:NAME] sections, with every part that has no equivalent named rather than dropped in silence.

export interface MasakariSegmentRow {
  readonly uuid: string;
  readonly name: string;
  readonly description?: string | null;
  readonly service_type?: string;
  readonly recovery_method: string;
  readonly enabled?: boolean | string;
  readonly is_enabled?: boolean | string;
}

export interface MasakariHostRow {
  readonly uuid?: string;
  readonly name: string;
  readonly type?: string | null;
  readonly control_attributes?: string | null;
  readonly reserved?: boolean | string;
  readonly on_maintenance?: boolean | string;
  readonly failover_segment_id: string;
}

export interface ImportResult {
  /** cmpha.conf text: one [segment:NAME] per segment that has hosts. */
  readonly conf: string;
  /** What could not be carried over, one sentence each. */
  readonly unmapped: readonly string[];
}

const truthy = (v: unknown) => v === true || (typeof v === 'string' && ['true', '1', 'yes', 'on'].includes(v.toLowerCase()));
const SEGMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._ -]{0,254}$/;

/** The segments and their hosts → [segment:NAME] sections, and what did not map. */
export function importMasakari(segments: readonly MasakariSegmentRow[], hosts: readonly MasakariHostRow[]): ImportResult {
  const unmapped: string[] = [];
  const lines: string[] = [];
  const owner = new Map<string, string>();
  for (const seg of segments) {
    let name = seg.name;
    if (!SEGMENT_NAME.test(name)) {
      name = name.replace(/[^A-Za-z0-9._ -]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 255) || `segment-${seg.uuid.slice(0, 8)}`;
      unmapped.push(`segment "${seg.name}": renamed ${name} (cmpha's section names take letters, digits, spaces, . _ -)`);
    }
    let method = seg.recovery_method;
    if (method === 'reserved_host') {
      method = 'rh_priority';
      unmapped.push(`segment ${name}: recovery_method reserved_host became rh_priority (cmpha never leaves servers down when no reserved host fits: it falls back to the scheduler)`);
    } else if (method === 'auto_priority') {
      method = 'auto';
      unmapped.push(`segment ${name}: recovery_method auto_priority became auto (cmpha does not retry on reserved hosts after the scheduler failed)`);
    } else if (method !== 'auto' && method !== 'rh_priority') {
      unmapped.push(`segment ${name}: unknown recovery_method "${method}", written as rh_priority`);
      method = 'rh_priority';
    }
    const members: string[] = [];
    const reserved: string[] = [];
    for (const h of hosts.filter((x) => x.failover_segment_id === seg.uuid)) {
      const other = owner.get(h.name);
      if (other !== undefined) {
        unmapped.push(`host ${h.name} is in segments ${other} and ${name}: kept in ${other} only (a host belongs to one segment in cmpha)`);
        continue;
      }
      owner.set(h.name, name);
      members.push(h.name);
      if (truthy(h.reserved)) reserved.push(h.name);
      if (truthy(h.on_maintenance)) unmapped.push(`host ${h.name}: on_maintenance is run-time state, not configuration; set it again with \`openstack segment host update ${name} ${h.name} --on_maintenance True\` once cmpha serves the API`);
      if (h.control_attributes) unmapped.push(`host ${h.name}: control_attributes "${h.control_attributes}" not carried over; its fencing goes in [host:${h.name}] (driver, address, credentials)`);
      if (h.type && !/^compute/i.test(h.type)) unmapped.push(`host ${h.name}: type "${h.type}" not carried over (cmpha's hosts are compute hosts)`);
    }
    const enabled = seg.enabled ?? seg.is_enabled;
    const section = [
      `[segment:${name}]`,
      ...(seg.description ? [`description = ${seg.description.replace(/[\r\n]+/g, ' ')}`] : []),
      `hosts = ${members.join(', ')}`,
      ...(reserved.length > 0 ? [`reserved_hosts = ${reserved.join(', ')}`] : []),
      `recovery_method = ${method}`,
      ...(seg.service_type && seg.service_type !== 'COMPUTE' ? [`service_type = ${seg.service_type}`] : []),
      ...(enabled !== undefined && !truthy(enabled) ? ['enabled = false'] : []),
    ];
    if (members.length === 0) {
      unmapped.push(`segment ${name}: no hosts, written commented out (a segment without hosts protects nothing)`);
      lines.push(...section.map((l) => `# ${l}`), '');
    } else {
      lines.push(...section, '');
    }
  }
  for (const h of hosts) {
    if (!segments.some((s) => s.uuid === h.failover_segment_id)) unmapped.push(`host ${h.name}: its segment ${h.failover_segment_id} is not among the segments read`);
  }
  const header = [
    '# Imported from Masakari by `cmpha import masakari`.',
    ...(unmapped.length > 0 ? ['# Not carried over as it was:', ...unmapped.map((u) => `#   - ${u}`)] : ['# Everything was carried over.']),
    '',
  ];
  return { conf: [...header, ...lines].join('\n'), unmapped };
}
