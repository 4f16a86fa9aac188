import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IncidentStore } from '../../../src/incidents/incident-store.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';

// On-call reads and acknowledges incidents with a file that holds only [redis], as an account that cannot
// read cmpha.conf (the Keystone and BMC passwords). Runs the built binary as user nobody.
const bin = new URL('../../../bin/cmpha.js', import.meta.url).pathname;
const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-ops-'));
chmodSync(dir, 0o755);
let redisServer: RedisServer;
let redis: Redis;
const ops = path.join(dir, 'cmpha-ops.conf');
const full = path.join(dir, 'cmpha.conf');

function asNobody(...args: string[]) {
  return spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, bin, ...args], {
    encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: dir }, timeout: 60_000,
  });
}

beforeAll(async () => {
  redisServer = await startRedis();
  redis = new Redis(redisServer.url);
  const store = new IncidentStore(redis, 'site1');
  await store.create({ id: 'compute3-1', host: 'compute3', failureStartedAt: Date.UTC(2026, 0, 1), evidence: {} });
  writeFileSync(ops, `[redis]\nurl = ${redisServer.url}\nprefix = site1\n`, { mode: 0o644 });
  writeFileSync(full, '[cloud]\npassword = keystone-admin-secret\n[host:compute3]\ndriver = ipmi\npassword = bmc-secret\n', { mode: 0o600 });
});

afterAll(async () => {
  redis?.disconnect();
  await redisServer?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('on-call with only [redis]', () => {
  it('cannot read the full config, and does not need to', () => {
    const denied = asNobody('--config', full, 'check');
    expect(denied.status).toBe(2);
    expect(denied.stderr).toMatch(/cannot read.*EACCES/);

    const list = asNobody('--config', ops, 'incidents', '-f', 'value', '-c', 'id', '-c', 'host', '-c', 'status');
    expect(list.stderr).toBe('');
    expect(list.status).toBe(0);
    expect(list.stdout).toBe('compute3-1 compute3 open\n');

    const show = asNobody('incidents', 'show', 'compute3-1', '--config', ops, '-f', 'json');
    expect(show.status).toBe(0);
    const inc = JSON.parse(show.stdout) as { host: string; openedAt: string; timeline: Array<{ step: string; at: string }> };
    expect(inc.host).toBe('compute3');
    expect(inc.openedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(inc.timeline[0]!.step).toBe('open');
  });

  it('disarms and arms a host with only [redis]: pending on its open incident, recorded with who, refused without a reason or a scope', () => {
    const d = asNobody('--config', ops, 'ha', 'disarm', '--host', 'compute3', '--reason', 'BMC firmware', '--until', '2h');
    expect(d.stderr).toBe('');
    expect(d.status).toBe(0);
    expect(d.stdout).toMatch(/^host compute3 disarmed by nobody@.* \(cli\) at .* until .*: BMC firmware; pending until incident compute3-1 ends/);
    expect(asNobody('--config', ops, 'ha', 'disarm', '--host', 'compute3').status).toBe(2);
    const noScope = asNobody('--config', ops, 'ha', 'disarm', '--reason', 'x');
    expect(noScope.status).toBe(2);
    expect(noScope.stderr).toContain('name exactly one scope');
    const st = asNobody('--config', ops, 'ha', 'status', '-f', 'json');
    expect(st.status).toBe(0);
    const status = JSON.parse(st.stdout) as { disarmed: Array<{ scope: string; state: string; pendingOn: string[] }>; audit: Array<{ action: string; by: string }> };
    expect(status.disarmed).toEqual([expect.objectContaining({ scope: 'host:compute3', state: 'pending', pendingOn: ['compute3-1'] })]);
    expect(status.audit[0]).toMatchObject({ action: 'disarm', by: expect.stringMatching(/^nobody@/) });
    const a = asNobody('--config', ops, 'ha', 'arm', '--host', 'compute3', '--reason', 'firmware done');
    expect(a.status).toBe(0);
    expect(a.stdout).toMatch(/^armed host compute3 \(disarmed by nobody@/);
    const again = asNobody('--config', ops, 'ha', 'arm', '--host', 'compute3');
    expect(again.status).toBe(1);
    expect(again.stderr).toBe('cmpha ha arm: host compute3 is not disarmed (nothing is)\n');
  }, 180_000);

  it('acknowledges with one command; notify ack is its deprecated alias', async () => {
    const ack = asNobody('--config', ops, 'incidents', 'ack', 'compute3-1', '--by', 'alice');
    expect(ack.status).toBe(0);
    expect(ack.stdout).toBe('incident compute3-1 acknowledged by alice; repeated notifications stop\n');
    const rec = await new IncidentStore(redis, 'site1').get('compute3-1');
    expect(rec!.ack?.by).toBe('alice');
    expect(rec!.timeline.at(-1)!.message).toBe('acknowledged by alice');
    expect(JSON.parse((await redis.get('site1:ack:compute3-1'))!)).toMatchObject({ by: 'alice' });

    const again = asNobody('--config', ops, 'notify', 'ack', 'compute3-1');
    expect(again.status).toBe(0);
    expect(again.stderr).toContain('cmpha notify ack is deprecated: use cmpha incidents ack');
    expect(again.stdout).toContain('already acknowledged');
  });

  it('names the key of a bad [redis] setting and exits 2', () => {
    const bad = path.join(dir, 'bad-ops.conf');
    writeFileSync(bad, '[redis]\nurl = redis://127.0.0.1:1\nprefx = site1\n', { mode: 0o644 });
    const r = asNobody('--config', bad, 'incidents');
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(`${bad}:3 [redis] prefx: unknown key`);
  });
});
