// A recovery worker in its own process, so a test can SIGKILL it mid-evacuation and start another.
// Usage: node --import tsx test/helpers/recovery-worker.ts CONFIG_JSON_FILE
// The file holds { configPath, redisUrl, prefix, config overrides..., tuning }.
import { readFileSync } from 'node:fs';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { startRecoveryWorker } from '../../src/pipeline/start-recovery-worker.js';
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
}

const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Spec;
const loaded = await loadConfig({ path: spec.configPath, env: {} });
const config: Config = {
  ...loaded,
  evacuation: { ...loaded.evacuation, ...spec.evacuation },
  fencing: { ...loaded.fencing, ...spec.fencing },
  redis: { ...loaded.redis, url: spec.redisUrl, prefix: spec.prefix },
};
// Notices go to stdout as JSON lines, so the test sees them without a mail server.
const notifier: NotificationService = {
  async notify(e: NotificationEvent) {
    process.stdout.write(`${JSON.stringify({ notice: e.type, severity: e.severity, incidentId: e.incidentId })}\n`);
    return [{ channel: 'stdout', recipient: 'test', event: e.type, ok: true, at: e.at, attempts: 1 }];
  },
};
const logger = createLogger({ level: 'warn' });
const worker = await startRecoveryWorker(config, { logger, notifier, queue: spec.tuning });
process.stdout.write(`recovery worker ${process.pid} ready\n`);
process.on('SIGTERM', () => {
  void worker.stop().then(() => process.exit(0));
});
