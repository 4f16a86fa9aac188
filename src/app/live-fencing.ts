import { createHash } from 'node:crypto';
import { Secret } from '../config/secret.js';
import type { Config, HostConfig } from '../config/types.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';

/**
 * The hosts' fence settings as the config file says now. A fence reads them again before it acts, and the
 * controller on its own timer, so a BMC password fixed in the config (or in its password_file) while an incident
 * waits for a fence is used without a restart. Only `[host:NAME]` sections are taken from a new read; every other
 * section stays as the process started with it. A config that no longer loads keeps the settings in force.
 */
export class LiveFencing {
  #config: Config;
  #prints: Map<string, string>;
  #reading: Promise<string[]> | null = null;

  constructor(config: Config, private readonly reread: (() => Promise<Config>) | undefined, private readonly logger: Logger) {
    this.#config = config;
    this.#prints = fingerprints(config);
  }

  current(): Config {
    return this.#config;
  }

  /** Reads the config again; the hosts whose fencing changed, now in force. Reads that overlap share one. Never throws. */
  refresh(): Promise<string[]> {
    if (!this.reread) return Promise.resolve([]);
    this.#reading ??= this.read(this.reread).finally(() => { this.#reading = null; });
    return this.#reading;
  }

  private async read(reread: () => Promise<Config>): Promise<string[]> {
    let fresh: Config;
    try {
      fresh = await reread();
    } catch (err) {
      this.logger.warn({ err: errorMessage(err) }, 'the config could not be read again: the fence settings in force stay');
      return [];
    }
    const prints = fingerprints(fresh);
    const changed = [...new Set([...prints.keys(), ...this.#prints.keys()])].filter((h) => prints.get(h) !== this.#prints.get(h)).sort();
    if (changed.length === 0) return [];
    // Hosts whose fencing did not change keep their objects, so their devices are not built again.
    const hosts: Record<string, HostConfig> = {};
    for (const [name, h] of Object.entries(fresh.hosts)) hosts[name] = changed.includes(name) ? h : this.#config.hosts[name] ?? h;
    this.#config = { ...this.#config, hosts };
    this.#prints = prints;
    this.logger.warn({ hosts: changed }, 'fence settings changed in the config: the new ones are in force');
    return changed;
  }
}

function fingerprints(config: Config): Map<string, string> {
  return new Map(Object.values(config.hosts).map((h) => [h.name, fingerprint(h)]));
}

/** A host's fencing as one digest: secrets by their hash, so a changed password counts and none is kept in the clear. */
function fingerprint(h: HostConfig): string {
  return createHash('sha256').update(JSON.stringify(canonical({ fence: h.fence, levels: h.fenceLevels ?? null, storage: h.storageIps ?? [] }))).digest('hex');
}

function canonical(v: unknown): unknown {
  if (v instanceof Secret) return `secret:${createHash('sha256').update(v.reveal()).digest('hex')}`;
  if (v instanceof RegExp) return `regexp:${v.source}/${v.flags}`;
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, canonical(x)]));
  return v;
}
