import { CmphaError, errorMessage } from '../shared/errors.js';
import { withTimeout } from '../shared/time.js';
import { assertIpLiterals } from './fping-prober.js';
import type { Prober, ProbeResult } from './types.js';

/**
 * Asks the cloud simulator which addresses would answer (`POST {simUrl}/sim/probe`), for demos and tests
 * where the hosts are not real. Answers that are not booleans count as unknown.
 */
export function createSimProber(opts: { simUrl: string; timeoutMs: number }): Prober {
  const url = `${opts.simUrl.replace(/\/+$/, '')}/sim/probe`;
  return {
    kind: 'sim',
    async probe(ips, signal) {
      const targets = [...new Set(ips)];
      if (targets.length === 0) return new Map();
      assertIpLiterals(targets);
      let body: unknown;
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ addresses: targets }),
          signal: withTimeout(opts.timeoutMs, signal),
        });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        body = await res.json();
      } catch (err) {
        throw new CmphaError('probe_failed', `simulator probe at ${url} failed: ${errorMessage(err)}`, { retryable: true, cause: err });
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw new CmphaError('probe_failed', `simulator probe at ${url} answered something other than an object`);
      }
      const answers = body as Record<string, unknown>;
      const out = new Map<string, ProbeResult>();
      for (const ip of targets) {
        const a = answers[ip];
        out.set(ip, a === true ? 'alive' : a === false ? 'silent' : 'unknown');
      }
      return out;
    },
  };
}
