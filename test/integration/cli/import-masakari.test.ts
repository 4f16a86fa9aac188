import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../../src/api/index.js';
import { runImportMasakari } from '../../../src/cli/commands/import.js';
import { Secret } from '../../../src/config/secret.js';
import type { SegmentConfig } from '../../../src/config/types.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { configTexts } from '../../helpers/config-text.js';
import { openstackCli } from '../../helpers/openstack-cli.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';

// A deployment's segments read with Debian's openstack client (-f json) from a Masakari-compatible API (cmpha's
// own, serving two segments), imported, and loaded back: the round trip keeps hosts, reserved hosts and methods.
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

  it('refuses input that is not the client\'s JSON, naming the file', () => {
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, '+----+\n| table |\n');
    let stderr = '';
    expect(runImportMasakari(bad, [], {}, { write: () => true }, { write: (s: string) => { stderr += s; } })).toBe(2);
    expect(stderr).toContain(`${bad} is not JSON`);
  });
});
