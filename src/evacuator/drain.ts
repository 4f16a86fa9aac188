import { MOVE_OUTCOME_UNKNOWN, type ComputeBackend, type Guest } from '../compute/types.js';
import { mapLimit } from '../shared/map-limit.js';
import { CmphaError, errorMessage } from '../shared/errors.js';
import type { Clock } from '../shared/time.js';

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
  readonly compute: ComputeBackend;
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
  const { compute, progress } = deps;
  const host = await compute.host(opts.host, { signal: opts.signal });
  if (host.status !== 'disabled') {
    await compute.disable(host, opts.disabledReason, { signal: opts.signal });
    progress(`${opts.host}: disabled ("${opts.disabledReason}")`);
  }
  const servers = await compute.guestsOn(opts.host, { signal: opts.signal });
  const results: DrainedServer[] = [];
  const movable = servers.filter((s) => compute.canLiveMove(s));
  for (const s of servers.filter((x) => !compute.canLiveMove(x))) {
    results.push({ id: s.id, name: s.name, result: 'not-moved', host: s.host, detail: `status ${s.status}: live migration needs ACTIVE` });
  }
  progress(`${opts.host}: ${movable.length} server(s) to live-migrate, ${servers.length - movable.length} left in place`);
  results.push(...await mapLimit(movable, opts.concurrency, (s) => moveOne(deps, opts, s)));
  return results;
}

async function moveOne(deps: DrainDeps, opts: DrainOptions, s: Guest): Promise<DrainedServer> {
  const { compute, progress } = deps;
  try {
    await compute.liveMove(s.id, opts.target ?? null, { signal: opts.signal });
    progress(`${s.name}: live migration requested${opts.target ? ` to ${opts.target}` : ''}`);
  } catch (err) {
    if (!(err instanceof CmphaError && err.code === MOVE_OUTCOME_UNKNOWN)) {
      progress(`${s.name}: live migration refused: ${errorMessage(err)}`);
      return { id: s.id, name: s.name, result: 'failed', host: s.host, detail: errorMessage(err) };
    }
    progress(`${s.name}: outcome of the live-migration request unknown; watching Nova instead of asking again`);
  }
  const deadline = deps.clock.now() + opts.verifyTimeoutMs;
  for (;;) {
    const now = await compute.liveMoveState(s.id, opts.host, { signal: opts.signal });
    if (now.kind === 'gone') return { id: s.id, name: s.name, result: 'failed', host: null, detail: 'deleted during the drain' };
    if (now.kind === 'arrived') {
      progress(`${s.name}: runs ACTIVE on ${now.host}`);
      return { id: s.id, name: s.name, result: 'moved', host: now.host, detail: `ACTIVE on ${now.host}` };
    }
    if (now.kind === 'stopped' && (deps.clock.now() >= deadline || now.final)) return { id: s.id, name: s.name, result: 'failed', host: now.host, detail: now.why };
    if (deps.clock.now() >= deadline) {
      return { id: s.id, name: s.name, result: 'failed', host: now.host, detail: `not moved within ${opts.verifyTimeoutMs} ms (${now.why})` };
    }
    await deps.sleep(opts.pollIntervalMs, opts.signal);
  }
}
