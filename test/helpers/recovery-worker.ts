// A recovery worker in its own process, built by the composition root as `cmpha run` builds it (leader lease,
// leader-only Nova and BMCs, the probe-based liveness check), so a test can SIGKILL it mid-evacuation and start
// another. Without a detector, it tries the lease every `standbyEveryMs` while it does not hold it (a standby's
// round), and renews it on its own timer while it does.
// Usage: node --import tsx test/helpers/recovery-worker.ts CONFIG_JSON_FILE
// The file holds { configPath, redisUrl, prefix, config overrides..., tuning, leaseMs?, standbyEveryMs? }.
import { readFileSync } from 'node:fs';
import { composeRecovery } from '../../src/app/root.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { keepLease } from '../../src/leadership/keep-lease.js';
import { followLeadership } from '../../src/leadership/follow.js';
import type { QueueTuning } from '../../src/pipeline/create-recovery.js';
import type { NotificationEvent, NotificationService } from '../../src/notifier/types.js';
import { createLogger } from '../../src/shared/logger.js';

interface Spec {
  configPath: string;
  redisUrl: string;
  prefix: string;
  evacuation: Partial<Config['evacuation']>;
  fencing: Partial<Config['fencing']>;
  tuning: QueueTuning;
  leaseMs?: number;
  standbyEveryMs?: number;
}

const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Spec;
const loaded = await loadConfig({ path: spec.configPath, env: {} });
const config: Config = {
  ...loaded,
  evacuation: { ...loaded.evacuation, ...spec.evacuation },
  fencing: { ...loaded.fencing, ...spec.fencing },
  redis: { ...loaded.redis, url: spec.redisUrl, prefix: spec.prefix },
  detector: { ...loaded.detector, ...(spec.leaseMs ? { leaderLeaseMs: spec.leaseMs } : {}) },
};
// Notices go to stdout as JSON lines, so the test sees them without a mail server.
const notifier: NotificationService = {
  async notify(e: NotificationEvent) {
    process.stdout.write(`${JSON.stringify({ notice: e.type, severity: e.severity, incidentId: e.incidentId })}\n`);
    return [{ channel: 'stdout', recipient: 'test', event: e.type, ok: true, at: e.at, attempts: 1 }];
  },
};
const logger = createLogger({ level: 'warn' });
const worker = composeRecovery(config, { logger, notifier, queue: spec.tuning });
const { lease } = worker;
lease.onChange((leading) => process.stdout.write(`recovery worker ${process.pid} ${leading ? 'leads' : 'stands by'}\n`));
const follow = followLeadership(lease, worker, logger);
const keeper = keepLease(lease, { logger });
const tryLease = () => lease.isLeader ? Promise.resolve(true) : lease.acquireOrRenew().catch(() => false);
await tryLease();
await follow.settled();
const standby = setInterval(() => { void tryLease(); }, spec.standbyEveryMs ?? 1000);
process.stdout.write(`recovery worker ${process.pid} ready (${lease.isLeader ? 'leader' : 'standby'})\n`);
process.on('SIGTERM', () => {
  clearInterval(standby);
  keeper.stop();
  void worker.stop().then(() => process.exit(0));
});
