import type { RawSection, RawValue } from './config-files.js';
import { iniKeys, type Decls } from './declare.js';
import { hostDefaultsSection, hostSectionDecl, sharedHostDecls, type RawHostSection } from './host-schema.js';
import type { FenceDeviceName } from './fence-levels-field.js';
import { levelDeviceType, powerDeviceType } from '../fencing/devices/registry.js';
import type { FenceConfig, HostConfig } from './types.js';

/** What the host resolution needs from the loader: where to report, and how to parse with locations. */
export interface HostContext {
  issue(section: string | undefined, key: string | undefined, message: string): void;
  parse<T>(section: string, values: RawSection, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: readonly { code: string; path: readonly PropertyKey[]; message: string; keys?: readonly string[] }[] } } }, known: Decls): T | undefined;
}

export const HOST_DEFAULTS = 'host_defaults';

function isPattern(name: string): boolean {
  return /[*?]/.test(name);
}

/** Shell-style wildcard match (`*`, `?`), anchored. */
export function matchesPattern(pattern: string, name: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`).test(name);
}

/**
 * Merges the layers of one host, lowest first. A secret set in a higher layer replaces the inherited one in
 * either form, so `password_file` in [host_defaults] and `password` in [host:x] is not "set both".
 */
function layer(layers: readonly RawSection[], secrets: readonly string[]): Map<string, RawValue> {
  const out = new Map<string, RawValue>();
  for (const l of layers) {
    for (const s of secrets) {
      if (l.has(s) || l.has(`${s}_file`)) { out.delete(s); out.delete(`${s}_file`); }
    }
    for (const [k, v] of l) out.set(k, v);
  }
  return out;
}

/**
 * Builds every `[host:NAME]` from [host_defaults], the pattern sections that match it (in file order) and its
 * own section. Pattern sections declare no host; addresses (mgmt_ip, storage_ip, tunnel_ip, address) are per host.
 */
export interface HostFencingDefaults {
  readonly allowUnfenced: boolean;
  /** [fencing] fence_levels. */
  readonly fenceLevels?: readonly (readonly FenceDeviceName[])[];
  readonly cephConfigured: boolean;
  /** [kdump] enabled = true. */
  readonly kdumpConfigured?: boolean;
}

export function resolveHosts(ctx: HostContext, sections: ReadonlyMap<string, RawSection>, fencing: HostFencingDefaults, warn: (section: string, message: string) => void): Record<string, HostConfig> {
  const secrets = Object.values(sharedHostDecls).filter((d) => d.kind === 'secret').map((d) => d.ini);
  const sharedKeys = new Set(Object.values(sharedHostDecls).flatMap(iniKeys));
  const defaults = sections.get(HOST_DEFAULTS) ?? new Map<string, RawValue>();
  // Per-machine keys in a shared section are reported as such, not once more as unknown keys.
  const shareable = (values: RawSection): RawSection => new Map([...values].filter(([k]) => sharedKeys.has(k) || hostSectionDecl.object.shape[k] === undefined));
  const patterns: [string, RawSection][] = [];
  const names: string[] = [];
  for (const [section, values] of sections) {
    if (!section.startsWith('host:')) continue;
    const name = section.slice('host:'.length).trim();
    if (name === '') { ctx.issue(section, undefined, 'host name missing after "host:" (write [host:NAME], NAME as nova-compute reports it)'); continue; }
    if (isPattern(name)) {
      for (const key of values.keys()) {
        if (!sharedKeys.has(key) && hostSectionDecl.object.shape[key] !== undefined) ctx.issue(section, key, `names one machine: set it in each [host:NAME], not in a pattern section`);
      }
      // Reported with its own line; checked against the shared keys.
      ctx.parse(section, shareable(values), hostDefaultsSection.schema, sharedHostDecls);
      patterns.push([name, values]);
    } else {
      names.push(name);
    }
  }
  for (const key of defaults.keys()) {
    if (!sharedKeys.has(key) && hostSectionDecl.object.shape[key] !== undefined) ctx.issue(HOST_DEFAULTS, key, 'names one machine: set it in each [host:NAME]');
  }
  // Checked on its own first, so a bad shared value is reported once, at its line, not once per host.
  ctx.parse(HOST_DEFAULTS, shareable(defaults), hostDefaultsSection.schema, sharedHostDecls);
  const hosts: Record<string, HostConfig> = {};
  for (const name of names) {
    const section = `host:${name}`;
    const matching = patterns.filter(([p]) => matchesPattern(p, name)).map(([, v]) => v);
    const merged = layer([defaults, ...matching, sections.get(section)!], secrets);
    const raw = ctx.parse(section, merged, hostSectionDecl.schema, hostSectionDecl.decls);
    if (!raw) continue;
    const fence = resolveFence(ctx, section, raw, fencing.allowUnfenced);
    if (fence?.driver === 'none') {
      // Written for this host (not inherited from a shared section): the operator believes a BMC is configured.
      const bmcKeys = ['address', 'username', 'password', 'password_file'].filter((k) => sections.get(section)!.has(k));
      if (bmcKeys.length > 0) warn(section, `driver = none: ${bmcKeys.join(', ')} set here ${bmcKeys.length > 1 ? 'are' : 'is'} not used; cmpha calls no BMC for this host (set driver = ipmi or redfish to fence it by power)`);
    }
    const fenceLevels = fence ? resolveFenceLevels(ctx, section, raw, fence, fencing) : undefined;
    if (fence && fenceLevels) {
      hosts[name] = {
        name,
        ...(raw.mgmtIp ? { mgmtIp: raw.mgmtIp } : {}),
        storageIps: storageIpsOf(raw),
        ...(raw.tunnelIp ? { tunnelIp: raw.tunnelIp } : {}),
        fence,
        fenceLevels,
        ...(raw.agentCommand ? { agentCommand: raw.agentCommand } : {}),
        ...(raw.ha === false ? { ha: false } : {}),
        ...inheritedKeys(section, merged),
      };
    }
  }
  for (const [p] of patterns) {
    if (!names.some((n) => matchesPattern(p, n))) warn(`host:${p}`, 'matches no [host:NAME] section (pattern sections only add settings to declared hosts)');
  }
  return hosts;
}

/** The keys a host took from [host_defaults] or a pattern section (`password_file` shows as `password`). */
function inheritedKeys(section: string, merged: ReadonlyMap<string, RawValue>): { inherited?: Record<string, string> } {
  const inherited: Record<string, string> = {};
  for (const [k, v] of merged) if (v.section !== section) inherited[k.replace(/_file$/, '')] = v.section;
  return Object.keys(inherited).length > 0 ? { inherited } : {};
}

/** The host's power device from its `driver`: the device type (src/fencing/devices) reads its own keys. */
function resolveFence(ctx: HostContext, section: string, raw: RawHostSection, allowUnfenced: boolean): FenceConfig | undefined {
  if (raw.driver === 'none') return { driver: 'none' };
  const type = powerDeviceType(raw.driver)!;
  if (type.unfenced && !allowUnfenced) {
    ctx.issue(section, 'driver', `${raw.driver} fencing evacuates without powering the host off; it is refused unless [fencing] allow_unfenced_evacuation = true (labs only)`);
    return undefined;
  }
  let ok = true;
  const settings = type.settings(raw, (raw as unknown as Record<string, Record<string, unknown>>)[type.name] ?? {}, (key, message) => { ctx.issue(section, key, message); ok = false; });
  return ok && settings !== undefined ? { driver: raw.driver, ...settings } as FenceConfig : undefined;
}

/** `storage_ip` (one address) and `storage_ips` (a list) name the same thing: the host's storage-network addresses. */
function storageIpsOf(raw: RawHostSection): readonly string[] {
  return [...new Set([...(raw.storageIp ? [raw.storageIp] : []), ...raw.storageIps])];
}

/**
 * The host's levels: its own `fence_levels` strictly (every device must exist for it), else the [fencing]
 * default with the levels this host cannot use dropped (a default shared by hosts with and without Ceph),
 * else its BMC driver alone. Empty = the host cannot be fenced.
 */
function resolveFenceLevels(ctx: HostContext, section: string, raw: RawHostSection, fence: FenceConfig, fencing: HostFencingDefaults): (readonly FenceDeviceName[])[] | undefined {
  const missing = (d: FenceDeviceName): string | undefined => {
    const level = levelDeviceType(d);
    if (level) {
      const storageIps = storageIpsOf(raw);
      const addresses = [...new Set([...(raw.mgmtIp ? [raw.mgmtIp] : []), ...storageIps, ...(raw.tunnelIp ? [raw.tunnelIp] : [])])];
      return level.unavailable({ driver: fence.driver, cephConfigured: fencing.cephConfigured, storageIps, kdumpConfigured: fencing.kdumpConfigured === true, addresses });
    }
    return fence.driver === d ? undefined : `${d} needs driver = ${d} (this host's driver is ${fence.driver})`;
  };
  if (raw.fenceLevels) {
    let ok = true;
    for (const [i, level] of raw.fenceLevels.entries()) {
      for (const d of level) {
        const why = missing(d);
        if (why) { ctx.issue(section, 'fence_levels', `level ${i + 1}: ${why}`); ok = false; }
      }
    }
    return ok ? raw.fenceLevels : undefined;
  }
  if (fencing.fenceLevels) return fencing.fenceLevels.filter((level) => level.every((d) => missing(d) === undefined));
  return fence.driver === 'none' ? [] : [[fence.driver]];
}
