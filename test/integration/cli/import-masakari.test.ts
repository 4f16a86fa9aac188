import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../../src/api/index.js';
import { runImportMasakari, runImportMasakariLive } from '../../../src/cli/commands/import.js';
import { Secret } from '../../../src/config/secret.js';
import type { SegmentConfig } from '../../../src/config/types.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { configTexts } from '../../helpers/config-text.js';
import { openstackCli } from '../../helpers/openstack-cli.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';

// A deployment's segments read with Debian's openstack client (-f json) from a Masakari-compatible API (cmpha's
// own, serving two segments), imported, and loaded back: the round trip keeps hosts, reserved hosts and methods.
// The same read straight from the API (--url): cmpha's own Masakari API stands in for masakari-api, which is not
// among the test packages; python3-masakariclient's tests (test/integration/api/masakari-segments.test.ts) hold
// it to Masakari's answers.
const TOKEN = 'import-reader-token-0000';
const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-import-'));
const texts = configTexts();
let redisServer: RedisServer;
let redis: Redis;
let server: ApiServer;

const segments: SegmentConfig[] = [
  { name: 'rack1', hosts: ['compute1', 'compute2'], reservedHosts: ['compute2'], recoveryMethod: 'rh_priority', serviceType: 'COMPUTE', enabled: true },
  { name: 'rack2', hosts: ['compute3'], reservedHosts: [], recoveryMethod: 'auto', serviceType: 'COMPUTE', enabled: true },
];

beforeAll(async () => {
  redisServer = await startRedis();
  redis = new Redis(redisServer.url);
  server = await startApiServer({
    redis, prefix: 'import-it', lastRound: () => null, hosts: {}, logger: silentLogger, segments, probe: { requestProbe: () => undefined },
    config: { listen: { host: '127.0.0.1', port: 0 }, tokens: [{ name: 'reader', role: 'write', secret: new Secret(TOKEN) }], anonymousRead: false, notificationDuplicateWindowMs: 180_000 },
  });
});

afterAll(async () => {
  await server?.close();
  redis?.disconnect();
  await redisServer?.stop();
  texts.remove();
  rmSync(dir, { recursive: true, force: true });
});

describe('cmpha import masakari', () => {
  it('turns `openstack segment list -f json` and `segment host list -f json` into a cmpha.conf that loads', async () => {
    const openstack = openstackCli({ endpoint: `http://127.0.0.1:${server.port}/v1`, token: TOKEN, home: dir });
    const files: string[] = [];
    for (const [name, args] of [['segments', ['segment', 'list']], ['rack1', ['segment', 'host', 'list', 'rack1']], ['rack2', ['segment', 'host', 'list', 'rack2']]] as const) {
      const r = await openstack(...args, '-f', 'json');
      expect(r.err).toBe('');
      const f = path.join(dir, `${name}.json`);
      writeFileSync(f, r.out);
      files.push(f);
    }
    let stderr = '';
    const out = path.join(dir, 'segments.conf');
    const code = runImportMasakari(files[0]!, files.slice(1), { out }, { write: () => true }, { write: (s: string) => { stderr += s; } });
    expect(code).toBe(0);
    expect(stderr).toContain('2 segment(s), 3 host(s) read');
    const c = await texts.load(readFileSync(out, 'utf8'));
    expect(c.segments?.map((s) => [s.name, s.hosts, s.reservedHosts, s.recoveryMethod])).toEqual([
      ['rack1', ['compute1', 'compute2'], ['compute2'], 'rh_priority'],
      ['rack2', ['compute3'], [], 'auto'],
    ]);
    // control_attributes (cmpha shows `fence none`) are fencing, which cmpha keeps in [host:NAME].
    expect(stderr).toContain('control_attributes "fence none" not carried over');
  }, 300_000);

  it('reads a running Masakari API with --url, the token from a file or OS_TOKEN, never from argv', async () => {
    // A segment made through the API, with hosts, is read like the others.
    const post = (p: string, body: unknown) => fetch(`http://127.0.0.1:${server.port}/v1${p}`, { method: 'POST', headers: { 'X-Auth-Token': TOKEN, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post('/segments', { segment: { name: 'lab', recovery_method: 'rh_priority', service_type: 'COMPUTE' } })).status).toBe(201);
    for (const [name, reserved] of [['compute4', false], ['compute5', true]] as const) {
      expect((await post('/segments/lab/hosts', { host: { name, type: 'COMPUTE', control_attributes: 'SSH', reserved } })).status).toBe(201);
    }
    const tokenFile = path.join(dir, 'masakari.token');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const out = path.join(dir, 'live.conf');
    let stderr = '';
    const url = `http://127.0.0.1:${server.port}/v1`;
    expect(await runImportMasakariLive({ url, tokenFile, out }, {}, { write: () => true }, { write: (s: string) => { stderr += s; } })).toBe(0);
    expect(stderr).toContain(`3 segment(s), 5 host(s) read from ${url}; written to ${out}`);
    const c = await texts.load(readFileSync(out, 'utf8'));
    expect(c.segments?.map((s) => [s.name, s.hosts, s.reservedHosts, s.recoveryMethod])).toEqual([
      ['rack1', ['compute1', 'compute2'], ['compute2'], 'rh_priority'],
      ['rack2', ['compute3'], [], 'auto'],
      ['lab', ['compute4', 'compute5'], ['compute5'], 'rh_priority'],
    ]);

    let printed = '';
    expect(await runImportMasakariLive({ url }, { OS_TOKEN: TOKEN }, { write: (s: string) => { printed += s; return true; } }, { write: () => true })).toBe(0);
    expect(printed).toContain('[segment:lab]');

    const wrong = 'not-the-token-000000';
    let refused = '';
    expect(await runImportMasakariLive({ url }, { OS_TOKEN: wrong }, { write: () => true }, { write: (s: string) => { refused += s; } })).toBe(2);
    expect(refused).toMatch(/401/);
    expect(refused).not.toContain(wrong);
    let none = '';
    expect(await runImportMasakariLive({ url }, {}, { write: () => true }, { write: (s: string) => { none += s; } })).toBe(2);
    expect(none).toContain('no token for --url: give --token-file FILE');
  }, 120_000);

  it('refuses input that is not the client\'s JSON, naming the file', () => {
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, '+----+\n| table |\n');
    let stderr = '';
    expect(runImportMasakari(bad, [], {}, { write: () => true }, { write: (s: string) => { stderr += s; } })).toBe(2);
    expect(stderr).toContain(`${bad} is not JSON`);
  });
});
