import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSim, type TestSim } from './sim-client.js';

// GET /servers/detail with changes-since / changes-before, held to the compute API reference: updated_at at or
// after (before) the time, both ends inclusive; recently deleted servers listed too, with status DELETED;
// changes-before from 2.66; a time Nova cannot read, or a window that ends before it starts, is a 400.

let t: TestSim;
beforeAll(async () => {
  t = await startTestSim({ hosts: 2, instancesPerHost: 2, spares: 0 });
  // Nova's clock two hours behind the world's: every time it writes, and compares against, is on its own clock.
  expect((await t.control('POST', '/clock', { novaSkewSeconds: -7200 })).status).toBe(200);
});
afterAll(async () => {
  await t?.close();
});

type Json = Record<string, unknown>;
const updated = (s: Json) => Date.parse(String(s.updated));
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

async function list(query: string, mv = '2.53'): Promise<Json[]> {
  const r = await t.nova('GET', `/servers/detail?all_tenants=1${query}`, { mv });
  expect(r.status, r.text).toBe(200);
  return r.json.servers as Json[];
}

describe('servers/detail with changes-since and changes-before', () => {
  it('lists what changed at or after the time on Nova\'s clock, deleted servers as DELETED, and pages through them', async () => {
    const before = await list('');
    expect(before).toHaveLength(4);
    const newest = Math.max(...before.map(updated));
    // Written on Nova's clock, not the world's.
    expect(Date.now() - newest).toBeGreaterThan(7000_000);

    // Inclusive: the newest server's own timestamp lists it.
    const atNewest = await list(`&changes-since=${iso(newest)}`);
    expect(atNewest.length).toBeGreaterThan(0);
    expect(atNewest.every((s) => updated(s) >= newest)).toBe(true);

    expect((await t.control('POST', '/clock', { advanceSeconds: 10 })).status).toBe(200);
    const booted = (await t.control('POST', '/servers', { host: 'compute1', name: 'fresh' })).json.server as Json;
    const gone = before.find((s) => s['OS-EXT-SRV-ATTR:host'] === 'compute2')!;
    expect((await t.nova('DELETE', `/servers/${String(gone.id)}`, { mv: '2.53' })).status).toBe(204);

    // No zone: UTC, as the reference says.
    const since = iso(newest + 5000).replace(/Z$/, '');
    const changed = await list(`&changes-since=${since}`);
    expect(changed.map((s) => s.id).sort()).toEqual([booted.id, gone.id].sort());
    expect(changed.find((s) => s.id === gone.id)).toMatchObject({
      status: 'DELETED', 'OS-EXT-STS:vm_state': 'deleted', 'OS-EXT-STS:task_state': null,
      'OS-EXT-SRV-ATTR:host': 'compute2', addresses: {}, 'OS-SRV-USG:terminated_at': expect.any(String),
    });
    expect(changed.find((s) => s.id === booted.id)).toMatchObject({ status: 'ACTIVE', 'OS-EXT-SRV-ATTR:host': 'compute1' });
    // Without a changes filter a deleted server is not listed.
    expect((await list('')).map((s) => s.id)).not.toContain(gone.id);
    // A zone offset is honoured: the same instant written at +02:00.
    const plus2 = new Date(newest + 5000 + 2 * 3600_000).toISOString().replace(/\.\d{3}Z$/, '+02:00');
    expect((await list(`&changes-since=${encodeURIComponent(plus2)}`)).map((s) => s.id).sort()).toEqual([booted.id, gone.id].sort());

    // Pages keep the filter.
    const paged: string[] = [];
    let path: string | null = `/servers/detail?all_tenants=1&changes-since=${since}&limit=1`;
    while (path) {
      const r = await t.nova('GET', path, { mv: '2.53' });
      expect(r.status).toBe(200);
      paged.push(...(r.json.servers as Json[]).map((s) => String(s.id)));
      const next: string | undefined = r.json.servers_links?.find((l: { rel: string }) => l.rel === 'next')?.href;
      path = next ? next.slice(`${t.base}/compute/v2.1`.length) : null;
    }
    expect(paged.sort()).toEqual([booted.id, gone.id].sort());

    // changes-before (2.66): at or before; ignored below 2.66.
    const early = await list(`&changes-before=${iso(newest + 5000)}`, '2.66');
    expect(early.map((s) => s.id)).not.toContain(booted.id);
    expect(early.length).toBe(3);
    expect((await list(`&changes-before=${iso(newest + 5000)}`, '2.65')).map((s) => s.id)).toContain(booted.id);
  });

  it('refuses a time it cannot read and a window that ends before it starts', async () => {
    let r = await t.nova('GET', '/servers/detail?all_tenants=1&changes-since=yesterday', { mv: '2.53' });
    expect(r.status).toBe(400);
    expect(r.json.badRequest.message).toBe("Invalid input for query parameters changes-since. Value: yesterday. 'yesterday' is not a 'date-time'");
    r = await t.nova('GET', '/servers/detail?all_tenants=1&changes-since=2024-02-31T00:00:00Z', { mv: '2.53' });
    expect(r.status).toBe(400);
    r = await t.nova('GET', '/servers/detail?all_tenants=1&changes-since=2024-05-02T00:00:00Z&changes-before=2024-05-01T00:00:00Z', { mv: '2.66' });
    expect(r.status).toBe(400);
    expect(r.json.badRequest.message).toBe('The value of changes-since must be less than or equal to changes-before.');
  });
});
