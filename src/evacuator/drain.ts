import { requireComputeService } from '../openstack/compute-service.js';
import type { NovaApi, Server } from '../openstack/types.js';
import { mapLimit } from '../shared/map-limit.js';
import { NOVA_LIVE_MIGRATE_OUTCOME_UNKNOWN } from '../openstack/errors.js';
import { CmphaError, errorMessage } from '../shared/errors.js';
import type { Clock } from '../shared/time.js';
import { TERMINAL_MIGRATION } from './types.js';

export interface DrainOptions {
  readonly host: string;
  readonly target?: string;
  readonly disabledReason: string;
  readonly concurrency: number;
  readonly verifyTimeoutMs: number;
  readonly pollIntervalMs: number;
  readonly signal?: AbortSignal;
}

export interface DrainDeps {
  readonly nova: NovaApi;
  readonly clock: Clock;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly progress: (line: string) => void;
}

export interface DrainedServer {
  readonly id: string;
  readonly name: string;
  readonly result: 'moved' | 'failed' | 'not-moved';
  readonly host: string | null;
  readonly detail: string;
}

/**
 * Planned maintenance: disable the host (it is alive, so this is quick), live-migrate every ACTIVE server
 * off it with bounded concurrency and check each one left and runs. Servers that cannot live-migrate
 * (stopped, error) are listed, not touched. A live-migrate POST whose outcome is unknown is re-read, never sent twice.
 */
export async function drainHost(deps: DrainDeps, opts: DrainOptions): Promise<DrainedServer[]> {
  const { nova, progress } = deps;
  const svc = await requireComputeService(nova, opts.host, { signal: opts.signal });
  if (svc.status !== 'disabled') {
    await nova.updateService(svc.id, { status: 'disabled', disabledReason: opts.disabledReason }, { signal: opts.signal });
    progress(`${opts.host}: disabled ("${opts.disabledReason}")`);
  }
  const servers = await nova.listServersOnHost(opts.host, { signal: opts.signal });
  const results: DrainedServer[] = [];
  const movable = servers.filter((s) => s.status === 'ACTIVE');
  for (const s of servers.filter((x) => x.status !== 'ACTIVE')) {
    results.push({ id: s.id, name: s.name, result: 'not-moved', host: s.host, detail: `status ${s.status}: live migration needs ACTIVE` });
  }
  progress(`${opts.host}: ${movable.length} server(s) to live-migrate, ${servers.length - movable.length} left in place`);
  results.push(...await mapLimit(movable, opts.concurrency, (s) => moveOne(deps, opts, s)));
  return results;
}

async function moveOne(deps: DrainDeps, opts: DrainOptions, s: Server): Promise<DrainedServer> {
  const { nova, progress } = deps;
  try {
    await nova.liveMigrate(s.id, opts.target, { signal: opts.signal });
    progress(`${s.name}: live migration requested${opts.target ? ` to ${opts.target}` : ''}`);
  } catch (err) {
    if (!(err instanceof CmphaError && err.code === NOVA_LIVE_MIGRATE_OUTCOME_UNKNOWN)) {
      progress(`${s.name}: live migration refused: ${errorMessage(err)}`);
      return { id: s.id, name: s.name, result: 'failed', host: s.host, detail: errorMessage(err) };
    }
    progress(`${s.name}: outcome of the live-migration request unknown; watching Nova instead of asking again`);
  }
  const deadline = deps.clock.now() + opts.verifyTimeoutMs;
  for (;;) {
    const now = await nova.getServer(s.id, { signal: opts.signal });
    if (!now) return { id: s.id, name: s.name, result: 'failed', host: null, detail: 'deleted during the drain' };
    if (now.host !== opts.host && now.host !== null && now.status === 'ACTIVE' && now.taskState === null) {
      progress(`${s.name}: runs ACTIVE on ${now.host}`);
      return { id: s.id, name: s.name, result: 'moved', host: now.host, detail: `ACTIVE on ${now.host}` };
    }
    const migs = (await nova.listMigrations({ instanceId: s.id, type: 'live-migration' }, { signal: opts.signal }))
      .filter((m) => m.sourceCompute === opts.host);
    const last = migs.sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0))[0];
    if (now.host === opts.host && now.taskState === null && (!last || (TERMINAL_MIGRATION.has(last.status) && last.status !== 'completed' && last.status !== 'done'))) {
      const why = last ? `live migration ${last.status}` : 'Nova shows no live migration';
      if (deps.clock.now() >= deadline || last) return { id: s.id, name: s.name, result: 'failed', host: now.host, detail: why };
    }
    if (deps.clock.now() >= deadline) {
      return { id: s.id, name: s.name, result: 'failed', host: now.host, detail: `not moved within ${opts.verifyTimeoutMs} ms (status ${now.status}, task ${now.taskState ?? 'none'})` };
    }
    await deps.sleep(opts.pollIntervalMs, opts.signal);
  }
}
