import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../../src/api/index.js';
import { Secret } from '../../../src/config/secret.js';
import type { HostReport, RoundReport } from '../../../src/detector/types.js';
import { StormBrakeStore } from '../../../src/detector/storm-brake-store.js';
import { IncidentStore } from '../../../src/incidents/incident-store.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';

// The API server on a real Redis, with a detector round given by the test.
const READ = 'reader-token-000000000000';
const WRITE = 'writer-token-000000000000';
let redisServer: RedisServer;
let redis: Redis;
let server: ApiServer;
let anon: ApiServer;
const probes: string[] = [];

function host(name: string, verdict: HostReport['verdict']): HostReport {
  return { host: name, zone: 'nova', verdict, action: 'none', evidence: { host: name, reasons: [`${name} is ${verdict}`] } as unknown as HostReport['evidence'] };
}
const round: RoundReport = {
  round: 7, kind: 'round', blindReason: null, startedAt: Date.now() - 1000, durationMs: 12, leader: true, dryRun: false, isolated: false, isolationReason: null, probeFailed: null,
  stormBrake: { active: false, reason: null, since: null, overridden: false, count: 0 },
  hosts: [host('compute1', 'healthy'), host('compute2', 'suspect'), host('compute3', 'maintenance')],
};

async function call(s: ApiServer, path: string, opts: { token?: string; method?: string; body?: string } = {}) {
  const res = await fetch(`http://127.0.0.1:${s.port}${path}`, {
    method: opts.method ?? 'GET',
    headers: { ...(opts.token ? { 'X-Auth-Token': opts.token } : {}), 'Content-Type': 'application/json' },
    ...(opts.body !== undefined ? { body: opts.body } : {}),
  });
  return { status: res.status, body: await res.json() as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
}
const note = (hostname: string, event = 'STOPPED') => JSON.stringify({ notification: { type: 'COMPUTE_HOST', hostname, generated_time: new Date().toISOString(), payload: { event } } });

beforeAll(async () => {
  redisServer = await startRedis();
  redis = new Redis(redisServer.url);
  const base = {
    redis, prefix: 'api-it', lastRound: () => round, hosts: {}, logger: silentLogger,
    probe: { requestProbe: (h: string) => { probes.push(h); } },
  };
  const tokens = [{ name: 'oncall', role: 'read' as const, secret: new Secret(READ) }, { name: 'robot', role: 'write' as const, secret: new Secret(WRITE) }];
  server = await startApiServer({ ...base, config: { listen: { host: '127.0.0.1', port: 0 }, tokens, anonymousRead: false, notificationDuplicateWindowMs: 180_000 } });
  anon = await startApiServer({ ...base, config: { listen: { host: '127.0.0.1', port: 0 }, tokens, anonymousRead: true, notificationDuplicateWindowMs: 180_000 } });
});

afterAll(async () => {
  await server?.close();
  await anon?.close();
  redis?.disconnect();
  await redisServer?.stop();
});

describe('API server', () => {
  it('of identical notifications sent at once, exactly one is accepted; the host is probed once', async () => {
    const answers = await Promise.all(Array.from({ length: 6 }, () => call(server, '/v1/notifications', { token: WRITE, method: 'POST', body: note('compute2') })));
    expect(answers.map((a) => a.status).sort()).toEqual([202, 409, 409, 409, 409, 409]);
    expect(answers.find((a) => a.status === 409)!.body).toEqual({ conflictingRequest: { code: 409, message: 'Notification received from host compute2 of type COMPUTE_HOST is duplicate.' } });
    expect(probes).toEqual(['compute2']);
    const accepted = answers.find((a) => a.status === 202)!.body.notification;
    expect(accepted).toMatchObject({ hostname: 'compute2', status: 'new', created_by: 'robot', type: 'COMPUTE_HOST' });
    // A different payload for the same host is news.
    expect((await call(server, '/v1/notifications', { token: WRITE, method: 'POST', body: note('compute2', 'STARTED') })).status).toBe(202);
    expect(probes).toEqual(['compute2']);
  });

  it('answers a host under maintenance 409 and an unknown one 400, as Masakari does', async () => {
    expect((await call(server, '/v1/notifications', { token: WRITE, method: 'POST', body: note('compute3') })).body.conflictingRequest.message)
      .toContain('is ignored as the host is already under maintenance');
    expect((await call(server, '/v1/notifications', { token: WRITE, method: 'POST', body: note('compute9') })).body)
      .toEqual({ badRequest: { code: 400, message: 'Host with name compute9 could not be found.' } });
    expect((await call(server, '/v1/notifications', { token: WRITE, method: 'POST', body: '{not json' })).status).toBe(400);
    expect((await call(server, '/v1/notifications', { token: WRITE, method: 'POST', body: 'x'.repeat(70_000) })).body.overLimit.code).toBe(413);
    expect((await call(server, '/v1/notifications', { token: READ, method: 'POST', body: note('compute1') })).body.forbidden.code).toBe(403);
  });

  it('records an ack with the token name in the incident', async () => {
    const store = new IncidentStore(redis, 'api-it');
    await store.create({ id: 'compute2-1', host: 'compute2', failureStartedAt: Date.now(), evidence: {} });
    const r = await call(server, '/v1/incidents/compute2-1/ack', { token: WRITE, method: 'POST', body: '{}' });
    expect(r.status).toBe(200);
    expect(r.body.incident.ack.by).toBe('API token robot');
    expect((await store.get('compute2-1'))!.timeline.map((t) => t.message)).toContain('acknowledged by API token robot');
    const hosts = (await call(server, '/v1/hosts', { token: READ })).body.hosts as Array<{ host: string; openIncident: { id: string } | null }>;
    expect(hosts.find((h) => h.host === 'compute2')!.openIncident!.id).toBe('compute2-1');
    const again = await call(server, '/v1/incidents/compute2-1/ack', { token: WRITE, method: 'POST', body: '{"by":"bob"}' });
    expect(again.body).toMatchObject({ alreadyAcknowledged: true, incident: { ack: { by: 'API token robot' } } });
  });

  it('with anonymous_read, reads need no token and writes still do', async () => {
    expect((await call(anon, '/v1/storm-brake')).status).toBe(200);
    expect((await call(anon, '/v1/storm-brake/resume', { method: 'POST' })).body.error.code).toBe('unauthenticated');
    expect((await call(server, '/v1/storm-brake')).status).toBe(401);
    const page = await fetch(`http://127.0.0.1:${server.port}/`);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await page.text()).toContain('<script src="/status.js" defer></script>');
  });

  it('resume reports the brake it found and leaves the request for the active controller', async () => {
    await new StormBrakeStore(redis, 'api-it').save({ active: true, since: Date.UTC(2026, 0, 1), reason: '3 of 4 enabled hosts look dead', alerted: true, resumedHosts: null });
    expect((await call(server, '/v1/storm-brake', { token: READ })).body).toMatchObject({ active: true, since: '2026-01-01T00:00:00.000Z', reason: '3 of 4 enabled hosts look dead' });
    const r = await call(server, '/v1/storm-brake/resume', { token: WRITE, method: 'POST' });
    expect(r.body).toEqual({ brakeActive: true, reason: '3 of 4 enabled hosts look dead', since: '2026-01-01T00:00:00.000Z', resumeRequested: true, requestedBy: 'robot' });
    expect(await new StormBrakeStore(redis, 'api-it').resumeRequested()).toBe(true);
  });
});

describe('API /v1/ha', () => {
  it('disarms with a write token (who = token and person), pending on an open incident in the zone; status shows it; arm answers 409 for a scope not disarmed', async () => {
    await new IncidentStore(redis, 'api-it').create({ id: 'compute1-9', host: 'compute1', failureStartedAt: Date.now(), evidence: { zone: 'nova' } });
    expect((await call(server, '/v1/ha/disarm', { token: READ, method: 'POST', body: '{"zone":"nova","reason":"x"}' })).status).toBe(403);
    expect((await call(server, '/v1/ha/disarm', { token: WRITE, method: 'POST', body: '{"zone":"nova"}' })).body.error.code).toBe('reason_required');
    expect((await call(server, '/v1/ha/disarm', { token: WRITE, method: 'POST', body: '{"zone":"nova","host":"compute1","reason":"x"}' })).body.error.code).toBe('bad_disarm_scope');
    expect((await call(server, '/v1/ha/disarm', { token: WRITE, method: 'POST', body: '{"zone":"nova","reason":"x","until":"yesterday"}' })).body.error.code).toBe('bad_until');
    const r = await call(server, '/v1/ha/disarm', { token: WRITE, method: 'POST', body: '{"zone":"nova","reason":"kernel updates","until":"2h","by":"carol"}' });
    expect(r.status).toBe(200);
    expect(r.body.disarm).toMatchObject({ key: 'zone:nova', by: 'carol (API token robot)', reason: 'kernel updates', state: 'pending', pendingOn: expect.arrayContaining(['compute1-9']), overdue: null });
    expect(r.body.disarm.until).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(r.body.message).toContain('zone nova disarmed by carol (API token robot)');
    const st = await call(server, '/v1/ha', { token: READ });
    expect(st.body.disarmed.map((d: { key: string }) => d.key)).toEqual(['zone:nova']);
    expect(st.body.audit[0]).toMatchObject({ action: 'disarm', by: 'carol (API token robot)', reason: 'kernel updates' });
    expect((await call(server, '/v1/ha/arm', { token: WRITE, method: 'POST', body: '{"zone":"az9"}' })).status).toBe(409);
    expect((await call(server, '/v1/ha/arm', { token: WRITE, method: 'POST', body: '{"zone":"nova","reason":"done"}' })).body).toEqual({ armed: ['zone:nova'] });
    expect((await call(server, '/v1/ha', { token: READ })).body.disarmed).toEqual([]);
  });
});

describe('API server without Redis', () => {
  it('answers 503 with a code instead of hanging while Redis is away', async () => {
    const down = await startRedis();
    const conn = new Redis(down.url, { maxRetriesPerRequest: null });
    conn.on('error', () => undefined);
    await conn.ping();
    const s = await startApiServer({
      redis: conn, prefix: 'api-down', lastRound: () => round, hosts: {}, logger: silentLogger, probe: { requestProbe: () => undefined },
      config: { listen: { host: '127.0.0.1', port: 0 }, tokens: [{ name: 'oncall', role: 'read', secret: new Secret(READ) }], anonymousRead: false, notificationDuplicateWindowMs: 180_000 },
    });
    try {
      await down.stop();
      const r = await call(s, '/v1/incidents', { token: READ });
      expect(r).toEqual({ status: 503, body: { error: { code: 'backend_timeout', message: 'no answer from Redis within 10 s; try again', status: 503 } } });
    } finally {
      await s.close();
      conn.disconnect();
    }
  }, 40_000);
});
