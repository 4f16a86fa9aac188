import { z } from 'zod';
import type { Logger } from '../shared/logger.js';
import { checkAnswer } from './answer-check.js';
import { OpenStackError } from './errors.js';
import type { HttpResponse } from './http.js';
import type { KeystoneSession } from './keystone.js';
import { compareMicroversions, parseMicroversion } from './nova.js';
import type { CallOptions, HostCapacity, Hypervisor, PlacementApi, ProviderInventory, ResourceProvider } from './types.js';

/**
 * The Placement microversion cmpha sends. Inventories and usages exist from 1.0; 1.14 (Queens) is the first
 * with nested providers, so a provider list answered at it names root and parent, and any cloud whose Nova
 * has 2.88 (Yoga) has a Placement far newer.
 */
export const PLACEMENT_MICROVERSION = '1.14';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface VersionInfo { id?: string; max_version?: string; min_version?: string; status?: string }

/** Placement over HTTP: the few reads that tell how much room a compute host has left. */
export class PlacementClient implements PlacementApi {
  readonly #session: KeystoneSession;
  readonly #logger: Logger;
  #checked: Promise<string | null> | null = null;
  #warned = false;

  constructor(session: KeystoneSession, deps: { logger: Logger }) {
    this.#session = session;
    this.#logger = deps.logger;
  }

  /**
   * The Placement endpoint, once its version document says it speaks PLACEMENT_MICROVERSION; null when the
   * catalog has none or it is too old. A failure to read the document is thrown and not remembered.
   */
  endpoint(opts: CallOptions = {}): Promise<string | null> {
    if (!this.#checked) {
      this.#checked = this.#check(opts.signal).then(
        (base) => {
          // A missing endpoint is not remembered: the next token's catalog may have one.
          if (base === null) this.#checked = null;
          return base;
        },
        (err: unknown) => {
          this.#checked = null;
          throw err;
        },
      );
    }
    return this.#checked;
  }

  /** The provider named `name` (Nova names a compute node's provider by its hypervisor_hostname), or null. */
  async findProvider(name: string, opts: CallOptions = {}): Promise<ResourceProvider | null> {
    const base = await this.endpoint(opts);
    if (base === null) return null;
    const res = await this.#get<ResourceProvider[]>(base, `/resource_providers?name=${encodeURIComponent(name)}`, opts.signal, placementAnswers.providers);
    return res.data.find((p) => p.name === name) ?? null;
  }

  /** The provider's inventory per resource class (VCPU, MEMORY_MB, DISK_GB...); null when Placement has no such provider. */
  async inventories(uuid: string, opts: CallOptions = {}): Promise<Record<string, ProviderInventory> | null> {
    const base = await this.endpoint(opts);
    if (base === null) return null;
    const res = await this.#getOrNull<Record<string, ProviderInventory>>(base, `/resource_providers/${encodeURIComponent(uuid)}/inventories`, opts.signal, placementAnswers.inventories);
    return res ? res.data : null;
  }

  /** What the provider's consumers (servers, incoming moves) use per resource class; null when there is no such provider. */
  async usages(uuid: string, opts: CallOptions = {}): Promise<Record<string, number> | null> {
    const base = await this.endpoint(opts);
    if (base === null) return null;
    const res = await this.#getOrNull<Record<string, number>>(base, `/resource_providers/${encodeURIComponent(uuid)}/usages`, opts.signal, placementAnswers.usages);
    return res ? res.data : null;
  }

  async hostCapacity(hypervisor: Pick<Hypervisor, 'id' | 'hostname'>, opts: CallOptions = {}): Promise<HostCapacity | null> {
    if ((await this.endpoint(opts)) === null) return null;
    // From 2.53 the hypervisor id is the compute node's UUID, which is its provider's UUID: one call saved.
    let uuid = UUID_RE.test(hypervisor.id) ? hypervisor.id : null;
    let inv = uuid ? await this.inventories(uuid, opts) : null;
    if (!inv && hypervisor.hostname) {
      const provider = await this.findProvider(hypervisor.hostname, opts);
      uuid = provider?.uuid ?? null;
      inv = uuid ? await this.inventories(uuid, opts) : null;
    }
    if (!uuid || !inv) return null;
    const vcpu = inv.VCPU;
    const ram = inv.MEMORY_MB;
    if (!vcpu || !ram) return null;
    const used = await this.usages(uuid, opts);
    if (!used) return null;
    return { vcpusFree: free(vcpu, used.VCPU ?? 0), ramMbFree: free(ram, used.MEMORY_MB ?? 0), providerUuid: uuid };
  }

  readonly providerTreeFacts = async (hypervisor: Pick<Hypervisor, 'id' | 'hostname'>, opts: CallOptions = {}): Promise<{ resources: Map<string, number>; traits: Set<string> } | null> => {
    const base = await this.endpoint(opts);
    if (base === null) return null;
    const root = UUID_RE.test(hypervisor.id) && (await this.inventories(hypervisor.id, opts)) ? hypervisor.id : (await this.findProvider(hypervisor.hostname, opts))?.uuid;
    if (!root) return null;
    const tree = (await this.#get<ResourceProvider[]>(base, `/resource_providers?in_tree=${encodeURIComponent(root)}`, opts.signal, placementAnswers.providers)).data;
    const resources = new Map<string, number>();
    const traits = new Set<string>();
    for (const p of tree) {
      const inv = await this.inventories(p.uuid, opts) ?? {};
      const used = await this.usages(p.uuid, opts) ?? {};
      for (const [rc, i] of Object.entries(inv)) resources.set(rc, (resources.get(rc) ?? 0) + Math.max(0, free(i, used[rc] ?? 0)));
      const t = await this.#getOrNull<string[]>(base, `/resource_providers/${encodeURIComponent(p.uuid)}/traits`, opts.signal, placementAnswers.traits);
      for (const name of t?.data ?? []) traits.add(name);
    }
    return { resources, traits };
  };

  async #check(signal?: AbortSignal): Promise<string | null> {
    let base: string;
    try {
      base = await this.#session.endpoint('placement', signal);
    } catch (err) {
      if ((err as { code?: string }).code !== 'endpoint_not_found') throw err;
      this.#warnOnce({}, 'the catalog has no placement endpoint: spare capacity comes from the hypervisor figures, without allocation ratios');
      return null;
    }
    const res = await this.#session.send<{ versions?: VersionInfo[] }>({
      service: 'placement', method: 'GET', url: `${base}/`, idempotent: true, signal,
    });
    const doc = res.data?.versions?.find((v) => v.id === 'v1.0') ?? res.data?.versions?.[0];
    const max = parseMicroversion(doc?.max_version ?? '');
    if (!max || compareMicroversions(max, parseMicroversion(PLACEMENT_MICROVERSION)!) < 0) {
      this.#warnOnce({ endpoint: base, serverMax: doc?.max_version ?? null, needs: PLACEMENT_MICROVERSION },
        'Placement is too old for cmpha to read capacity: spare capacity comes from the hypervisor figures, without allocation ratios');
      return null;
    }
    this.#logger.debug({ endpoint: base, serverMax: doc!.max_version, microversion: PLACEMENT_MICROVERSION }, 'placement found');
    return base;
  }

  #warnOnce(fields: Record<string, unknown>, message: string): void {
    if (this.#warned) return;
    this.#warned = true;
    this.#logger.warn(fields, message);
  }

  #get<T>(base: string, path: string, signal: AbortSignal | undefined, validate: (d: unknown) => T): Promise<HttpResponse<T>> {
    return this.#session.send<T>({
      service: 'placement', method: 'GET', url: base + path, idempotent: true, signal, validate,
      headers: { 'OpenStack-API-Version': `placement ${PLACEMENT_MICROVERSION}` },
    });
  }

  async #getOrNull<T>(base: string, path: string, signal: AbortSignal | undefined, validate: (d: unknown) => T): Promise<HttpResponse<T> | null> {
    try {
      return await this.#get<T>(base, path, signal, validate);
    } catch (err) {
      if (err instanceof OpenStackError && err.status === 404) return null;
      throw err;
    }
  }
}

/** Room left for new consumers, rounded down: Placement admits a claim only while used + claim ≤ capacity. */
function free(inv: ProviderInventory, used: number): number {
  return Math.floor((inv.total - inv.reserved) * inv.allocationRatio - used);
}

const amount = z.number().finite();

// Placement's own defaults for the fields an inventory may leave out.
const inventorySchema = z.object({
  total: amount.nonnegative(),
  reserved: amount.nonnegative().optional(),
  allocation_ratio: amount.positive().optional(),
  max_unit: amount.nonnegative().optional(),
}).transform((i): ProviderInventory => ({ total: i.total, reserved: i.reserved ?? 0, allocationRatio: i.allocation_ratio ?? 1, maxUnit: i.max_unit ?? i.total }));

const providerSchema = z.object({ uuid: z.string().min(1), name: z.string().min(1), generation: z.number().int().optional() })
  .transform((p): ResourceProvider => ({ uuid: p.uuid, name: p.name, generation: p.generation ?? 0 }));

/** Checks of Placement's bodies: a figure that is not a number is an error naming it, never a silent "fits". */
const placementAnswers = {
  providers: (d: unknown) => checkAnswer(z.object({ resource_providers: z.array(providerSchema) }), d).resource_providers,
  inventories: (d: unknown) => checkAnswer(z.object({ inventories: z.record(z.string(), inventorySchema) }), d).inventories,
  usages: (d: unknown) => checkAnswer(z.object({ usages: z.record(z.string(), amount.nonnegative()) }), d).usages,
  traits: (d: unknown) => checkAnswer(z.object({ traits: z.array(z.string()) }), d).traits,
};
