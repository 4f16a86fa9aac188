import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../../src/api/index.js';
import { startMasakariIntake } from '../../../src/app/masakari-parts.js';
import { Secret } from '../../../src/config/secret.js';
import type { Config } from '../../../src/config/types.js';
import type { HostReport, RoundReport } from '../../../src/detector/types.js';
import { IncidentStore } from '../../../src/incidents/incident-store.js';
import { enqueue } from '../../../src/masakari/intake.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { freePort } from '../../helpers/ports.js';
import { ProcessGroup } from '../../helpers/processes.js';
import { RecordingNotifier } from '../../helpers/recording-notifier.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';

// Debian's masakari-processmonitor (python3-masakari-monitors) pointed at cmpha's API with keystoneauth's
// admin_token plugin, as docs/masakari.md tells operators: a process in its list is not running and its restart
// command fails, so it sends a PROCESS notification; cmpha takes it and pages. The monitor names the host by
// gethostname(): it runs in a UTS namespace of its own whose host name is compute1 (nothing else is shared away).
const TOKEN = 'processmonitor-token-0000';
const PREFIX = 'pm-it';
const group = new ProcessGroup();
const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-pm-'));
let redisServer: RedisServer;
let redis: Redis;
let api: ApiServer;
let intake: { stop(): Promise<void> };
const notifier = new RecordingNotifier();

const host = (name: string): HostReport => ({ host: name, zone: 'nova', verdict: 'healthy', action: 'none', evidence: { host: name, reasons: [] } as unknown as HostReport['evidence'] });
const round: RoundReport = {
  round: 1, kind: 'round', blindReason: null, startedAt: Date.now(), durationMs: 5, leader: true, dryRun: false, isolated: false, isolationReason: null, probeFailed: null,
  stormBrake: { active: false, reason: null, since: null, overridden: false, count: 0 }, hosts: [host('compute1'), host('compute2')],
};

beforeAll(async () => {
  redisServer = await startRedis();
  redis = new Redis(redisServer.url);
  const port = await freePort();
  api = await startApiServer({
    redis, prefix: PREFIX, lastRound: () => round, hosts: {}, logger: silentLogger, probe: { requestProbe: () => undefined },
    masakari: { submit: (uuid) => enqueue(redis, PREFIX, uuid) },
    config: { listen: { host: '127.0.0.1', port }, tokens: [{ name: 'masakari-monitors', role: 'write', secret: new Secret(TOKEN) }], anonymousRead: false, notificationDuplicateWindowMs: 180_000 },
  });
  intake = startMasakariIntake({
    config: { redis: { prefix: PREFIX } as Config['redis'] }, redis, compute: {} as never, incidents: new IncidentStore(redis, PREFIX), notifier, logger: silentLogger, pollMs: 50,
    healer: { handles: () => false, start: () => false }, probe: () => undefined, mgmtIp: () => null, isLeader: () => true,
  });
  writeFileSync(path.join(dir, 'process_list.yaml'), [
    '-', '    process_name: /usr/bin/cmpha-test-agent', '    start_command: /bin/false', '    pre_start_command:', '    post_start_command:',
    '    restart_command: /bin/false', '    pre_restart_command:', '    post_restart_command:', '    run_as_root: False', '',
  ].join('\n'));
  writeFileSync(path.join(dir, 'masakarimonitors.conf'), [
    '[DEFAULT]', `log_file = ${path.join(dir, 'processmonitor.log')}`,
    '[api]', 'auth_type = admin_token', `endpoint = http://127.0.0.1:${api.port}/v1`, `token = ${TOKEN}`, 'region = RegionOne', 'api_interface = public',
    '[process]', `process_list_path = ${path.join(dir, 'process_list.yaml')}`, 'check_interval = 1', 'restart_retries = 0', 'restart_interval = 1', 'api_retry_max = 3', 'api_retry_interval = 1', '',
  ].join('\n'), { mode: 0o600 });
});

afterAll(async () => {
  await group.stopAll();
  await intake?.stop();
  await api?.close();
  redis?.disconnect();
  await redisServer?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('masakari-processmonitor against cmpha', () => {
  it('reports a process it could not restart; cmpha records the PROCESS notification from the monitor\'s token and pages', async () => {
    group.start('unshare', ['--uts', 'sh', '-c', `hostname compute1 && exec masakari-processmonitor --config-file ${path.join(dir, 'masakarimonitors.conf')}`]);
    const deadline = Date.now() + 120_000;
    let n: Record<string, any> | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
    while (!n || n.status === 'new' || n.status === 'running') {
      if (Date.now() > deadline) throw new Error(`no settled PROCESS notification within 120 s: ${JSON.stringify(n)}`);
      await new Promise((r) => setTimeout(r, 250));
      const res = await fetch(`http://127.0.0.1:${api.port}/v1/notifications?type=PROCESS`, { headers: { 'X-Auth-Token': TOKEN } });
      n = ((await res.json()) as { notifications: Array<Record<string, any>> }).notifications[0]; // eslint-disable-line @typescript-eslint/no-explicit-any
    }
    expect(n).toMatchObject({ type: 'PROCESS', hostname: 'compute1', created_by: 'masakari-monitors', payload: { event: 'STOPPED', process_name: 'cmpha-test-agent' }, status: 'finished' });
    expect(notifier.events.find((e) => e.type === 'process-down')?.summary).toBe('cmpha-test-agent stopped on compute1 and masakari-processmonitor could not restart it');
  }, 180_000);
});
