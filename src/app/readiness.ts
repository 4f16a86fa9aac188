import type { Config } from '../config/types.js';
import type { RoundReport } from '../detector/types.js';
import type { ReadinessReport } from '../metrics/http-server.js';
import { errorMessage } from '../shared/errors.js';

/** What /readyz needs to know about the detector: its last round, or why the last one failed. */
export interface RoundState {
  readonly last: RoundReport | null;
  readonly lastError: string | null;
}

/** Bound of the Redis PING behind /readyz. */
const PING_TIMEOUT_MS = 2000;

async function pingRedis(ping: () => Promise<string>): Promise<{ ok: boolean; detail: string }> {
  try {
    const ok = (await Promise.race([ping(), new Promise<string>((_, rej) => setTimeout(() => rej(new Error('timed out')), PING_TIMEOUT_MS))])) === 'PONG';
    return { ok, detail: ok ? 'PONG' : 'unexpected reply' };
  } catch (err) {
    return { ok: false, detail: errorMessage(err) };
  }
}

/** Ready: Redis answers, the detector ran a round lately, and that round reached Nova and was not isolated. */
export async function readinessOf(ping: () => Promise<string>, rounds: RoundState, detector: Config['detector']): Promise<ReadinessReport> {
  const redis = await pingRedis(ping);
  const { last, lastError } = rounds;
  const age = last ? (Date.now() - (last.startedAt + last.durationMs)) / 1000 : null;
  const detectorOk = age !== null && age * 1000 < Math.max(3 * detector.intervalMs, 30_000);
  const novaOk = last !== null && lastError === null && !last.isolated;
  return {
    ready: redis.ok && detectorOk && novaOk,
    checks: {
      redis,
      nova: { ok: novaOk, detail: lastError ?? (last?.isolationReason ?? (last ? 'reachable' : 'no round yet')) },
      detector: { ok: detectorOk, lastRoundAgeSeconds: age },
      role: last?.leader ? 'leader' : 'standby',
    },
  };
}
