import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSim, type RunningSim } from '../../src/sim/index.js';
import { layerConfig } from '../helpers/layer-config.js';
import { freePort } from '../helpers/ports.js';
import { ProcessGroup } from '../helpers/processes.js';
import { openstackCli } from '../helpers/openstack-cli.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

// `cmpha run` on the simulated cloud with [api] enabled: the API with its tokens, Debian's openstack client
// (python3-masakariclient) feeding Masakari notifications, and the status page in Debian's headless Chromium
// during a failover, as a person would look at it.
const root = new URL('../../', import.meta.url).pathname;
const bin = path.join(root, 'bin/cmpha.js');
const READ = 'read-token-0123456789abcdef';
const WRITE = 'write-token-0123456789abcdef';
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A fresh headless Chromium profile for one test's page; closed and removed whatever the test did. */
async function inChromium(fn: (page: Page) => Promise<void>): Promise<void> {
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'cmpha-chromium-'));
  const ctx = await chromium.launchPersistentContext(userDataDir, { executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_FLAGS, viewport: { width: 1100, height: 900 } }).catch((err: unknown) => {
    rmSync(userDataDir, { recursive: true, force: true });
    throw err;
  });
  try {
    await fn(ctx.pages()[0] ?? await ctx.newPage());
  } finally {
    await ctx.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }
}

const group = new ProcessGroup();
const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-api-'));
// Screenshots land in the test's own directory; CMPHA_SCREENSHOT_DIR=docs refreshes the ones docs/ shows.
const shots = process.env.CMPHA_SCREENSHOT_DIR ? path.resolve(root, process.env.CMPHA_SCREENSHOT_DIR) : dir;
let sim: RunningSim;
let redis: RedisServer;
let base: string;
let apiPort: number;
let logs = '';

async function api(p: string, opts: { token?: string | null; method?: string; body?: unknown } = {}) {
  const token = opts.token === undefined ? READ : opts.token;
  const res = await fetch(`${base}${p}`, {
    method: opts.method ?? 'GET',
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(opts.body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
  return { status: res.status, body: await res.json() as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Debian's openstack client with python3-masakariclient, pointed at cmpha. */
const openstack = (...args: string[]) => openstackCli({ endpoint: `${base}/v1`, token: WRITE, home: dir })(...args);

beforeAll(async () => {
  redis = await startRedis();
  sim = await runSim({ hosts: 4, instancesPerHost: 2, spares: 1, reportIntervalSeconds: 1, serviceDownTimeSeconds: 6, evacuateSeconds: 3, seed: 5 });
  apiPort = await freePort();
  base = `http://127.0.0.1:${apiPort}`;
  writeFileSync(path.join(dir, 'oncall.token'), `${READ}\n`, { mode: 0o600 });
  writeFileSync(path.join(dir, 'automation.token'), `${WRITE}\n`, { mode: 0o600 });
  layerConfig(sim.configPath, {
    detector: { interval: '1s', heartbeat_timeout: '3s', leader_lease: '5s' },
    fencing: { poll_interval: '200ms' },
    evacuation: { verify_poll_interval: '300ms', stagger: '50ms' },
    redis: { url: redis.url, prefix: 'cmpha-api-test' },
    metrics: { enabled: 'false' },
    api: { enabled: 'true', listen: `127.0.0.1:${apiPort}`, read_token_files: path.join(dir, 'oncall.token'), write_token_files: path.join(dir, 'automation.token') },
    logging: { format: 'json' },
  });
  const child = group.start(process.execPath, [bin, 'run', '--config', sim.configPath]);
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { logs += d; });
  await until('the first round in /v1/hosts', async () => (await api('/v1/hosts')).status === 200, 30_000);
}, 60_000);

afterAll(async () => {
  await group.stopAll();
  await sim?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('cmpha API', () => {
  it('needs a token, and a write token to write; errors are JSON with a code', async () => {
    expect(await api('/v1/incidents', { token: null })).toEqual({ status: 401, body: { error: { code: 'unauthenticated', message: expect.stringContaining('Bearer') as string, status: 401 } } });
    expect((await api('/v1/incidents', { token: 'not-a-token-at-all' })).body.error.code).toBe('bad_token');
    const ro = await api('/v1/storm-brake/resume', { method: 'POST' });
    expect(ro.status).toBe(403);
    expect(ro.body.error).toMatchObject({ code: 'read_only_token', message: expect.stringContaining('token oncall may only read') as string });
    expect((await api('/v1/incidents/nope')).body.error.code).toBe('incident_not_found');
    expect((await api('/v1/nothing-here')).status).toBe(404);
    expect(logs).not.toContain(READ);
    expect(logs).not.toContain(WRITE);
  });

  it('lists every host with its verdict and evidence, and the brake', async () => {
    const { body } = await api('/v1/hosts');
    expect(body.hosts.map((h: { host: string }) => h.host).sort()).toEqual(['compute1', 'compute2', 'compute3', 'compute4', 'spare1']);
    const c1 = body.hosts.find((h: { host: string }) => h.host === 'compute1');
    expect(c1).toMatchObject({ verdict: 'healthy', evidence: { nova: { says: 'up' } } });
    expect(body.round.startedAt).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
    expect((await api('/v1/hosts/compute2')).body.host.host).toBe('compute2');
    expect((await api('/v1/storm-brake')).body).toMatchObject({ active: false });
  });

  it('serves the OpenAPI document shipped in docs/, and every GET path in it exists', async () => {
    const served = await (await fetch(`${base}/v1/openapi.json`)).json() as { paths: Record<string, Record<string, unknown>> };
    expect(served).toEqual(JSON.parse(readFileSync(path.join(root, 'docs/openapi.json'), 'utf8')));
    for (const [p, ops] of Object.entries(served.paths)) {
      if (!ops.get) continue;
      const r = await api(p.replace('{id}', 'x').replace('{host}', 'compute1').replace('{uuid}', '00000000-0000-0000-0000-000000000000'));
      expect(r.body.error?.code ?? r.body.itemNotFound?.message ?? 'ok', p).not.toBe('not_found');
    }
  });

  it('takes Masakari notifications from the real openstack client: a live host is probed and left alone', async () => {
    const created = await openstack('notification', 'create', '-f', 'json', 'COMPUTE_HOST', 'compute3', new Date().toISOString().slice(0, 19),
      JSON.stringify({ event: 'STOPPED', host_status: 'UNKNOWN', cluster_status: 'OFFLINE' }));
    expect(created.err).toBe('');
    expect(created.code).toBe(0);
    const n = JSON.parse(created.out) as { notification_uuid: string; type: string; status: string };
    expect(n.type).toBe('COMPUTE_HOST');
    expect(logs).toMatch(/"host":"compute3".*probe requested now|probe requested now.*"host":"compute3"/);

    // Evidence, not proof: cmpha probes compute3, finds it alive, opens nothing.
    const seen = await until('the notification to be judged', async () => {
      const r = await api(`/v1/notifications/${n.notification_uuid}`);
      return r.body.notification.status === 'ignored' ? r.body.notification : undefined;
    }, 30_000);
    expect(seen.message).toBe('cmpha probed compute3 after the notification and found it healthy');
    expect(seen.created_by).toBe('automation');
    expect((await api('/v1/incidents')).body.incidents.filter((i: { host: string }) => i.host === 'compute3')).toEqual([]);

    const dup = await openstack('notification', 'create', 'COMPUTE_HOST', 'compute3', new Date().toISOString().slice(0, 19),
      JSON.stringify({ event: 'STOPPED', host_status: 'UNKNOWN', cluster_status: 'OFFLINE' }));
    expect(dup.code).not.toBe(0);
    expect(dup.err).toMatch(/duplicate/i);

    const vm = await openstack('notification', 'create', 'VM', 'compute3', new Date().toISOString().slice(0, 19),
      JSON.stringify({ event: 'LIFECYCLE', instance_uuid: '3fa85f64-5717-4562-b3fc-2c963f66afa6', vir_domain_event: 'STOPPED_FAILED' }));
    // A server Nova does not know: recorded, and ignored once the leader looks at it.
    expect(vm.err).toBe('');
    expect(vm.code).toBe(0);

    const unknown = await openstack('notification', 'create', 'COMPUTE_HOST', 'compute99', new Date().toISOString().slice(0, 19), '{"event":"STOPPED"}');
    expect(unknown.code).not.toBe(0);
    expect(unknown.err).toContain('Host with name compute99 could not be found.');

    const listed = await openstack('notification', 'list', '-f', 'json');
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.out) as Array<Record<string, string>>).filter((x) => x.type === 'COMPUTE_HOST').map((x) => x.notification_uuid)).toEqual([n.notification_uuid]);

    // No [segment:NAME] in this cmpha.conf: one implicit segment of every watched host.
    const segments = await openstack('segment', 'list', '-f', 'json');
    expect(segments.code).toBe(0);
    expect((JSON.parse(segments.out) as Array<Record<string, string>>).map((x) => [x.name, x.recovery_method])).toEqual([['cmpha', 'rh_priority']]);
  }, 240_000);

  it('shows a failover on the status page in Chromium: the dead host, its incident and its steps', async () => {
    const victim = 'compute1';
    await fetch(`${sim.controlUrl}/sim/hosts/${victim}/power-off`, { method: 'POST' });
    // A Masakari host monitor would say the same; cmpha still proves it dead itself.
    const note = await api('/v1/notifications', { token: WRITE, method: 'POST', body: { notification: { type: 'COMPUTE_HOST', hostname: victim, generated_time: new Date().toISOString(), payload: { event: 'STOPPED', host_status: 'UNKNOWN', cluster_status: 'OFFLINE' } } } });
    expect(note.status).toBe(202);

    const incident = await until('an incident for compute1', async () => (await api('/v1/incidents')).body.incidents.find((i: { host: string }) => i.host === victim), 60_000);
    await inChromium(async (page) => {
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(e.message));
      page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
      await page.goto(`${base}/#token=${READ}`);
      // What a person sees: compute1 dead and recovering in the host table with its incident and why it was
      // judged dead, the incident in the list, and the recovery steps as they happen.
      const row = page.locator('#hosts tr[data-host="compute1"]');
      await row.locator('.pill').filter({ hasText: 'recovering' }).waitFor({ timeout: 60_000 });
      expect(await row.locator('.pill').first().textContent()).toBe('dead');
      expect(await row.textContent()).toContain(`incident ${incident.id}`);
      expect(await row.textContent()).toMatch(/management IP 198\.18\.0\.11 is silent/);
      await page.locator(`#incidents tr[data-id="${incident.id}"]`).waitFor({ timeout: 30_000 });
      await page.locator('#timeline li .step').filter({ hasText: 'evacuate' }).first().waitFor({ timeout: 60_000 });
      expect(await page.locator('#incident-title').textContent()).toContain(`Incident ${incident.id}: compute1`);
      expect(await page.locator('#timeline li .step').allTextContents()).toEqual(expect.arrayContaining(['open', 'fence']));
      expect(await page.locator('#timeline').textContent()).toContain('host compute1 confirmed dead');
      expect(await page.locator('#hosts tr[data-host="compute2"] .pill').textContent()).toBe('healthy');
      expect(page.url()).not.toContain(READ);
      await page.screenshot({ path: path.join(shots, 'status-page.png'), fullPage: true });

      // An ack through the API is recorded with the token's name and shows on the page.
      const ack = await api(`/v1/incidents/${incident.id}/ack`, { token: WRITE, method: 'POST', body: { by: 'alice' } });
      expect(ack.status).toBe(200);
      expect(ack.body.incident.ack.by).toBe('alice (API token automation)');
      await page.locator('#timeline li').filter({ hasText: 'acknowledged by alice (API token automation)' }).waitFor({ timeout: 20_000 });

      // Readable on a phone: nothing wider than the screen but the tables' own scroll boxes.
      await page.setViewportSize({ width: 390, height: 844 });
      await page.locator('#incident-title').waitFor();
      expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
      await page.screenshot({ path: path.join(shots, 'status-page-phone.png'), fullPage: false });
      // Failed over and still disabled: the page says so instead of "maintenance, never acted on".
      await row.filter({ hasText: 'failed over' }).waitFor({ timeout: 60_000 });
      expect(await row.textContent()).toContain(`disabled by cmpha in incident ${incident.id} (resolved); bring it back with cmpha host restore compute1`);
      // The page loads nothing from outside and runs without a script error (the CSP would report either).
      expect(pageErrors).toEqual([]);
    });

    const done = await until('the incident to close', async () => {
      const r = (await api(`/v1/incidents/${incident.id}`)).body.incident;
      return ['resolved', 'partial', 'failed'].includes(r.status) ? r : undefined;
    }, 90_000);
    expect(done.status).toBe('resolved');
    const n = (await api(`/v1/notifications/${note.body.notification.notification_uuid}`)).body.notification;
    expect(n).toMatchObject({ status: 'finished', incident_id: incident.id });
  }, 300_000);

  it('a host whose BMC is gone waits for a fence; a write token confirms it over the API and the recovery goes on', async () => {
    const victim = 'compute4';
    await fetch(`${sim.controlUrl}/sim/hosts/${victim}/bmc`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ mode: 'error' }) });
    await fetch(`${sim.controlUrl}/sim/hosts/${victim}/power-off`, { method: 'POST' });
    const waiting = await until('compute4 to wait for a fence', async () => {
      const i = (await api('/v1/incidents')).body.incidents.find((x: { host: string; status: string }) => x.host === victim);
      return i?.status === 'awaiting_fence' ? i : undefined;
    }, 90_000);
    const confirm = (token: string, body: unknown) => api(`/v1/hosts/${victim}/fence-confirm`, { token, method: 'POST', body });
    expect((await confirm(READ, { confirm: true })).body.error.code).toBe('read_only_token');
    expect((await confirm(WRITE, { note: 'forgot to say yes' })).body.error.code).toBe('confirm_required');
    expect((await api('/v1/hosts/compute2/fence-confirm', { token: WRITE, method: 'POST', body: { confirm: true } })).body.error)
      .toMatchObject({ code: 'no_fence_awaited', status: 409 });
    const ok = await confirm(WRITE, { confirm: true, by: 'alice', note: 'power cords pulled in rack 4' });
    expect(ok.status).toBe(200);
    expect(ok.body.incident).toMatchObject({ id: waiting.id, status: 'fenced' });
    const done = await until('compute4 to be recovered', async () => {
      const r = (await api(`/v1/incidents/${waiting.id}`)).body.incident;
      return ['resolved', 'partial', 'failed'].includes(r.status) ? r : undefined;
    }, 90_000);
    expect(done.status).toBe('resolved');
    expect(done.timeline.map((t: { message: string }) => t.message).join('\n')).toContain('fence confirmed by alice (API token automation)');
    expect(done.timeline.map((t: { message: string }) => t.message).join('\n')).toContain('power cords pulled in rack 4');
    await fetch(`${sim.controlUrl}/sim/hosts/${victim}/bmc`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ mode: 'ok' }) });
  }, 240_000);

  it('shows the storm brake on the page while most hosts fall at once, and clears it when they come back', async () => {
    // compute1 and compute4 were failed over and stay disabled: two of the three enabled hosts left fall.
    const storm = ['compute2', 'compute3'];
    for (const h of storm) await fetch(`${sim.controlUrl}/sim/hosts/${h}/power-off`, { method: 'POST' });
    await inChromium(async (page) => {
      // A fresh browser has no token: the page asks for one and shows nothing until it has it.
      await page.goto(`${base}/`);
      await page.locator('#login').waitFor({ timeout: 20_000 });
      expect(await page.locator('#error').textContent()).toBe('A token is needed to read this page.');
      await page.locator('#token').fill(READ);
      await page.locator('#login button').click();
      await page.locator('#login').waitFor({ state: 'hidden', timeout: 20_000 });
      const banner = page.locator('#brake');
      await banner.filter({ hasText: 'Storm brake ON' }).waitFor({ timeout: 60_000 });
      expect(await banner.textContent()).toMatch(/look dead or suspect/);
      expect((await api('/v1/storm-brake')).body).toMatchObject({ active: true, reason: expect.stringMatching(/limit max_dead_fraction/) as string });
      // Nobody opened an incident for the storm's hosts.
      expect((await api('/v1/incidents')).body.incidents.filter((i: { host: string }) => storm.includes(i.host))).toEqual([]);
      await page.screenshot({ path: path.join(shots, 'status-page-storm.png'), fullPage: false });

      for (const h of storm) await fetch(`${sim.controlUrl}/sim/hosts/${h}/power-on`, { method: 'POST' });
      await banner.waitFor({ state: 'hidden', timeout: 60_000 });
      expect((await api('/v1/storm-brake')).body.active).toBe(false);
    });
  }, 180_000);

  it('disarms and arms HA from the status page: refused with a read token, done with a write token and recorded with its name', async () => {
    await inChromium(async (page) => {
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(e.message));
      const disarm = async () => {
        await page.locator('#disarm-scope').selectOption('host');
        await page.locator('#disarm-name').fill('compute3');
        await page.locator('#disarm-reason').fill('firmware update');
        await page.locator('#disarm-until').fill('2h');
        await page.locator('#disarm-form button[type=submit]').click();
      };
      await page.goto(`${base}/#token=${READ}`);
      await page.locator('#hosts tr[data-host="compute3"]').waitFor({ timeout: 30_000 });
      await disarm();
      await page.locator('#ha-result').filter({ hasText: 'disarm refused' }).waitFor({ timeout: 20_000 });
      expect(await page.locator('#ha-result').textContent()).toContain('(a write token is needed)');
      expect((await api('/v1/ha')).body.disarmed).toEqual([]);

      // The page opened anew with a write token (a hash change alone does not reload it).
      await page.goto('about:blank');
      await page.goto(`${base}/#token=${WRITE}`);
      await page.locator('#hosts tr[data-host="compute3"]').waitFor({ timeout: 30_000 });
      await disarm();
      const banner = page.locator('#disarms');
      await banner.filter({ hasText: 'HA DISARMED for host compute3' }).waitFor({ timeout: 20_000 });
      expect(await banner.textContent()).toMatch(/by API token automation since .* until .*: firmware update \(in effect\)/);
      expect((await api('/v1/ha')).body.disarmed).toMatchObject([{ key: 'host:compute3', reason: 'firmware update', by: 'API token automation' }]);

      await banner.locator('button[data-key="host:compute3"]').click();
      await banner.waitFor({ state: 'hidden', timeout: 20_000 });
      expect(await page.locator('#ha-result').textContent()).toBe('armed host:compute3');
      expect((await api('/v1/ha')).body.disarmed).toEqual([]);
      expect(pageErrors).toEqual([]);
    });
  }, 120_000);
});
