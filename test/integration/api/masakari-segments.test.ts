import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../../src/api/index.js';
import { Secret } from '../../../src/config/secret.js';
import type { SegmentConfig } from '../../../src/config/types.js';
import type { HostReport, RoundReport } from '../../../src/detector/types.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { openstackCli } from '../../helpers/openstack-cli.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';

// Masakari's segments and hosts API served by cmpha, driven by Debian's openstack client (python3-masakariclient).
// The file's [segment:NAME] sections seed Redis; what the client changes is kept there (the recovery reads it:
// test/integration/masakari/segments-recovery.test.ts).
const WRITE = 'segment-writer-token-0000';
const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-segments-'));
let redisServer: RedisServer;
let redis: Redis;
let server: ApiServer;
let openstack: ReturnType<typeof openstackCli>;

function host(name: string, verdict: HostReport['verdict']): HostReport {
  return { host: name, zone: 'nova', verdict, action: 'none', evidence: { host: name, reasons: [] } as unknown as HostReport['evidence'] };
}
const round: RoundReport = {
  round: 1, kind: 'round', blindReason: null, startedAt: Date.now(), durationMs: 5, leader: true, dryRun: false, isolated: false, isolationReason: null, probeFailed: null,
  stormBrake: { active: false, reason: null, since: null, overridden: false, count: 0 },
  hosts: ['compute1', 'compute2', 'compute3', 'compute4'].map((h) => host(h, 'healthy')),
};
const segments: SegmentConfig[] = [
  { name: 'rack1', hosts: ['compute1', 'compute2', 'compute3'], reservedHosts: ['compute3'], recoveryMethod: 'rh_priority', serviceType: 'COMPUTE', enabled: true, description: 'rack one' },
  { name: 'rack2', hosts: ['compute4'], reservedHosts: [], recoveryMethod: 'auto', serviceType: 'COMPUTE', enabled: true },
];

beforeAll(async () => {
  redisServer = await startRedis();
  redis = new Redis(redisServer.url);
  server = await startApiServer({
    redis, prefix: 'segments-it', lastRound: () => round, hosts: {}, logger: silentLogger, segments, probe: { requestProbe: () => undefined },
    config: { listen: { host: '127.0.0.1', port: 0 }, tokens: [{ name: 'ops', role: 'write', secret: new Secret(WRITE) }], anonymousRead: false, notificationDuplicateWindowMs: 180_000 },
  });
  openstack = openstackCli({ endpoint: `http://127.0.0.1:${server.port}/v1`, token: WRITE, home: dir });
});

afterAll(async () => {
  await server?.close();
  redis?.disconnect();
  await redisServer?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function call(p: string, method = 'GET', body?: unknown) {
  const res = await fetch(`http://127.0.0.1:${server.port}${p}`, {
    method, headers: { 'X-Auth-Token': WRITE, 'Content-Type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

const json = <T>(r: { code: number | null; out: string; err: string }): T => {
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.out) as T;
};

describe('Masakari segments through openstack segment ...', () => {
  it('lists and shows the segments seeded from cmpha.conf, creates one, and changes or deletes any of them', async () => {
    const list = json<Array<Record<string, unknown>>>(await openstack('segment', 'list', '-f', 'json'));
    expect(list.map((s) => [s.name, s.recovery_method])).toEqual([['rack1', 'rh_priority'], ['rack2', 'auto']]);

    const shown = json<Record<string, unknown>>(await openstack('segment', 'show', 'rack1', '-f', 'json'));
    expect(shown).toMatchObject({ name: 'rack1', recovery_method: 'rh_priority', service_type: 'COMPUTE', description: 'rack one' });

    const created = json<Record<string, unknown>>(await openstack('segment', 'create', 'lab', 'auto', 'COMPUTE', '--description', 'made by hand', '-f', 'json'));
    expect(created).toMatchObject({ name: 'lab', recovery_method: 'auto', description: 'made by hand' });
    expect(json<Array<Record<string, unknown>>>(await openstack('segment', 'list', '-f', 'json')).map((s) => s.name)).toEqual(['rack1', 'rack2', 'lab']);

    const strict = await openstack('segment', 'create', 'strict', 'reserved_host', 'COMPUTE');
    expect(strict.code).not.toBe(0);
    expect(strict.err).toContain('recovery_method reserved_host is not supported');

    const twice = await call('/v1/segments', 'POST', { segment: { name: 'rack1', recovery_method: 'auto', service_type: 'COMPUTE' } });
    expect([twice.status, twice.body.conflictingRequest?.message]).toEqual([409, 'Failover segment with name rack1 already exists.']);

    // A seeded segment is changed in Redis, where the recovery reads it.
    const changed = json<Record<string, unknown>>(await openstack('segment', 'update', 'rack1', '--recovery_method', 'auto', '-f', 'json'));
    expect(changed).toMatchObject({ name: 'rack1', recovery_method: 'auto' });
    expect((await call('/v1/segments/rack1', 'PUT', { segment: { recovery_method: 'rh_priority' } })).body.segment.recovery_method).toBe('rh_priority');

    const renamed = await call(`/v1/segments/${String(created.uuid)}`, 'PUT', { segment: { description: 'still by hand' } });
    expect(renamed.body.segment.description).toBe('still by hand');
    expect((await call(`/v1/segments/${String(created.uuid)}`, 'DELETE')).status).toBe(204);
    expect((await call('/v1/segments/rack2', 'DELETE')).status).toBe(204);
    expect((await call('/v1/segments', 'GET')).body.segments.map((s: { name: string }) => s.name)).toEqual(['rack1']);
  }, 300_000);

  it('lists a segment\'s hosts with their reserved flag; on_maintenance is set at run time and stops that host\'s notifications', async () => {
    const hosts = json<Array<Record<string, unknown>>>(await openstack('segment', 'host', 'list', 'rack1', '-f', 'json'));
    expect(hosts.map((h) => [h.name, h.reserved, h.on_maintenance])).toEqual([['compute1', false, false], ['compute2', false, false], ['compute3', true, false]]);

    const updated = json<Record<string, unknown>>(await openstack('segment', 'host', 'update', 'rack1', 'compute1', '--on_maintenance', 'True', '-f', 'json'));
    expect(updated).toMatchObject({ name: 'compute1', on_maintenance: true });

    const note = await openstack('notification', 'create', 'COMPUTE_HOST', 'compute1', new Date().toISOString().slice(0, 19), '{"event":"STOPPED"}');
    expect(note.code).not.toBe(0);
    expect(note.err).toContain("Notification received from host compute1 of type 'COMPUTE_HOST' is ignored as the host is already under maintenance.");

    const reserve = json<Record<string, unknown>>(await openstack('segment', 'host', 'update', 'rack1', 'compute2', '--reserved', 'True', '-f', 'json'));
    expect(reserve).toMatchObject({ name: 'compute2', reserved: true });
    const rename = await openstack('segment', 'host', 'update', 'rack1', 'compute1', '--name', 'compute7');
    expect(rename.code).not.toBe(0);
    expect(rename.err).toContain('cmpha does not change name (the Nova service host name) through the API');

    const unknown = await call('/v1/segments/rack1/hosts', 'POST', { host: { name: 'compute9', type: 'COMPUTE', control_attributes: 'SSH' } });
    expect([unknown.status, unknown.body.badRequest?.message]).toEqual([400, 'Compute service with name compute9 could not be found.']);
    const again = await call('/v1/segments/rack1/hosts', 'POST', { host: { name: 'compute2', type: 'COMPUTE', control_attributes: 'SSH' } });
    expect([again.status, again.body.conflictingRequest?.message]).toEqual([409, 'Host with name compute2 already exists.']);
    const added = json<Record<string, unknown>>(await openstack('segment', 'host', 'create', 'compute4', 'COMPUTE', 'SSH', 'rack1', '-f', 'json'));
    expect(added).toMatchObject({ name: 'compute4', reserved: false });
    expect((await call('/v1/segments/rack1/hosts/compute4', 'DELETE')).status).toBe(204);
    expect((await call('/v1/segments/rack1/hosts', 'GET')).body.hosts.map((h: { name: string; reserved: boolean }) => [h.name, h.reserved])).toEqual([
      ['compute1', false], ['compute2', true], ['compute3', true],
    ]);

    const back = await call('/v1/segments/rack1/hosts/compute1', 'PUT', { host: { on_maintenance: 'False' } });
    expect(back.body.host.on_maintenance).toBe(false);
    const accepted = await call('/v1/notifications', 'POST', { notification: { type: 'COMPUTE_HOST', hostname: 'compute1', generated_time: new Date().toISOString(), payload: { event: 'STOPPED' } } });
    expect(accepted.status).toBe(202);
  }, 300_000);

  it('writes to one segment at once all take effect: none is written over by another that read the same version', async () => {
    const hostsOf = async () => (await call('/v1/segments/rack1/hosts', 'GET')).body.hosts.map((h: { name: string; reserved: boolean }) => [h.name, h.reserved]);
    expect(await hostsOf()).toEqual([['compute1', false], ['compute2', true], ['compute3', true]]);
    // Four writes to rack1 sent together: each one reads the segment, changes its own host and writes it back.
    const answers = await Promise.all([
      call('/v1/segments/rack1/hosts/compute1', 'PUT', { host: { reserved: true } }),
      call('/v1/segments/rack1/hosts/compute2', 'PUT', { host: { reserved: false } }),
      call('/v1/segments/rack1/hosts/compute3', 'PUT', { host: { reserved: false } }),
      call('/v1/segments/rack1/hosts', 'POST', { host: { name: 'compute4', type: 'COMPUTE', control_attributes: 'SSH', reserved: true } }),
    ]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 201]);
    expect(await hostsOf()).toEqual([['compute1', true], ['compute2', false], ['compute3', false], ['compute4', true]]);
  }, 60_000);
});
