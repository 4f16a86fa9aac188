// The Nova contract cmpha relies on, as one scenario that runs the same plain REST calls against any cloud:
// the real Zed lab (contract.lab.ts) and the project's simulator (contract-sim.lab.ts). Each step records what
// the cloud answered, so the two runs can be compared line by line (written to a JSON file).
import { writeFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import type { OsRest, Credentials, RestResponse } from './os-rest.js';

export interface ContractTarget {
  readonly name: string;
  readonly credentials: Credentials;
  /** Host the scenario's server starts on; its nova-compute is stopped midway. */
  readonly source: string;
  /** Enabled, up host the server is evacuated to. */
  readonly dest: string;
  readonly rest: OsRest;
  /** Creates a server on `host` (a member of server group `group` if given) and resolves with its id once Nova says ACTIVE. */
  bootServer(name: string, host: string, group?: string): Promise<string>;
  /** Creates an anti-affinity server group; resolves with its id. */
  createAntiAffinityGroup(name: string): Promise<string>;
  stopCompute(host: string): Promise<void>;
  startCompute(host: string): Promise<void>;
  deleteServer(id: string): Promise<void>;
}

export interface Observation {
  step: string;
  status: number;
  body: string;
  note?: string;
}

export interface ContractRecord {
  target: string;
  maxMicroversion: string | null;
  observations: Observation[];
  taskStates: string[];
  migrationStatuses: string[];
}

const TASK_ORDER = ['rebuilding', 'rebuild_block_device_mapping', 'rebuild_spawning', 'none'];

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function poll<T>(what: string, timeoutMs: number, everyMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

interface Svc { id: string; host: string; state: string; status: string; forced_down: boolean }
interface Srv { status: string; 'OS-EXT-SRV-ATTR:host': string | null; 'OS-EXT-STS:task_state': string | null; 'OS-EXT-STS:vm_state'?: string }
interface Mig { status: string; source_compute: string; dest_compute: string; migration_type: string; instance_uuid: string }

/**
 * Registers the contract's steps as tests, in order, on the target `get()` yields (built in the caller's
 * beforeAll). `recordFile` receives what the cloud answered.
 */
export function contractSteps(get: () => ContractTarget, recordFile: string): void {
  let serverId = '';
  const rec: ContractRecord = { target: '', maxMicroversion: null, observations: [], taskStates: [], migrationStatuses: [] };
  const note = (step: string, r: RestResponse, extra?: string) => {
    rec.target = get().name;
    rec.observations.push({ step, status: r.status, body: r.text.slice(0, 400), ...(extra ? { note: extra } : {}) });
    writeFileSync(recordFile, `${JSON.stringify(rec, null, 2)}\n`);
  };
  const service = async (host: string): Promise<Svc> => {
    const r = await get().rest.nova<{ services: Svc[] }>('GET', `/os-services?binary=nova-compute&host=${host}`);
    const s = r.body.services.find((x) => x.host === host);
    if (!s) throw new Error(`${get().name}: no nova-compute service on ${host} (${r.status})`);
    return s;
  };
  const server = async (): Promise<Srv> => (await get().rest.novaOk<{ server: Srv }>('GET', `/servers/${serverId}`)).server;
  const evacuations = async (): Promise<Mig[]> =>
    (await get().rest.novaOk<{ migrations: Mig[] }>('GET', `/os-migrations?migration_type=evacuation&instance_uuid=${serverId}`, undefined, '2.59')).migrations;

  it('Keystone issues a token in X-Subject-Token with 201', async () => {
    const r = await get().rest.authenticate();
    note('auth', r);
    expect(r.status).toBe(201);
    expect(r.headers.get('x-subject-token')?.length ?? 0).toBeGreaterThan(20);
  });

  it('a microversion outside the supported range is refused with 406', async () => {
    const root = await get().rest.call<{ version: { version: string; min_version: string } }>('compute', 'GET', '/');
    rec.maxMicroversion = root.body?.version?.version ?? null;
    for (const v of ['2.999', '3.0']) {
      const r = await get().rest.nova('GET', '/servers', undefined, v);
      note(`microversion ${v}`, r);
      expect(r.status, `compute ${v}`).toBe(406);
    }
    const ok = await get().rest.nova('GET', '/servers', undefined, rec.maxMicroversion ?? '2.1');
    note(`microversion ${rec.maxMicroversion} (the maximum)`, ok);
    expect(ok.status).toBe(200);
  });

  it('boots a server on the source host', async () => {
    const t = get();
    serverId = await t.bootServer(`contract-${Date.now()}`, t.source);
    const s = await server();
    expect(s.status).toBe('ACTIVE');
    expect(s['OS-EXT-SRV-ATTR:host']).toBe(t.source);
  }, 240_000);

  // Servers in other states on the host that dies (docs/openstack-lab.md, "Server states on a dead host").
  const others = { stopped: '', paused: '', stuck: '' };
  const showOf = async (id: string): Promise<Srv & { locked?: boolean; locked_reason?: string | null }> =>
    (await get().rest.novaOk<{ server: Srv & { locked?: boolean; locked_reason?: string | null } }>('GET', `/servers/${id}`, undefined, '2.73')).server;
  const act = (id: string, body: unknown, mv = '2.73') => get().rest.nova<{ conflictingRequest?: { message: string } }>('POST', `/servers/${id}/action`, body, mv);
  const settled = (id: string, what: string, ok: (s: Srv) => boolean) => poll(what, 180_000, 200, async () => {
    const s = await showOf(id);
    return ok(s) ? s : undefined;
  });

  it('a stopped, a paused and a locked server: os-stop and pause 202, lock with locked_reason (2.73) 202', async () => {
    const t = get();
    const stamp = Date.now();
    const [stopped, paused, stuck] = await Promise.all(['stopped', 'paused', 'stuck'].map((n) => t.bootServer(`contract-${n}-${stamp}`, t.source)));
    Object.assign(others, { stopped, paused, stuck });
    const stop = await act(others.stopped, { 'os-stop': null });
    const pause = await act(others.paused, { pause: null });
    const lock = await act(serverId, { lock: { locked_reason: 'owner: contract lock' } });
    note('os-stop', stop);
    note('pause', pause);
    note('lock with locked_reason', lock);
    expect([stop.status, pause.status, lock.status]).toEqual([202, 202, 202]);
    await settled(others.stopped, 'the stopped server SHUTOFF', (s) => s.status === 'SHUTOFF' && s['OS-EXT-STS:task_state'] === null);
    await settled(others.paused, 'the paused server PAUSED', (s) => s.status === 'PAUSED' && s['OS-EXT-STS:task_state'] === null);
    expect(await showOf(serverId)).toMatchObject({ locked: true, locked_reason: 'owner: contract lock' });
  }, 300_000);

  // An anti-affinity pair: one member on the host that dies, its sibling on the destination.
  const pair = { member: '', sibling: '' };
  it('an anti-affinity group: one member on the source, its sibling on the destination', async () => {
    const t = get();
    const stamp = Date.now();
    const group = await t.createAntiAffinityGroup(`contract-aa-${stamp}`);
    pair.member = await t.bootServer(`contract-aa-member-${stamp}`, t.source, group);
    pair.sibling = await t.bootServer(`contract-aa-sibling-${stamp}`, t.dest, group);
    expect([(await showOf(pair.member))['OS-EXT-SRV-ATTR:host'], (await showOf(pair.sibling))['OS-EXT-SRV-ATTR:host']]).toEqual([t.source, t.dest]);
  }, 240_000);

  it('`force` at 2.68 is refused with 400', async () => {
    const r = await get().rest.nova('POST', `/servers/${serverId}/action`, { evacuate: { host: get().dest, force: true } }, '2.68');
    note('evacuate force at 2.68', r);
    expect(r.status).toBe(400);
  });

  it('evacuate while the source service is up: 400 "Compute service of HOST is still in use."', async () => {
    const t = get();
    const r = await t.rest.nova<{ badRequest?: { code: number; message: string } }>('POST', `/servers/${serverId}/action`, { evacuate: { host: t.dest } }, '2.29');
    note('evacuate while source up', r);
    expect(r.status).toBe(400);
    expect(r.body.badRequest?.message).toBe(`Compute service of ${t.source} is still in use.`);
    expect(await evacuations()).toEqual([]);
  });

  it('forced_down true answers 200 at once and the service reads down', async () => {
    const t = get();
    await t.stopCompute(t.source);
    // Sent while Nova still believes the dead compute up: accepted, cast to nobody, the task never clears.
    const reboot = await act(others.stuck, { reboot: { type: 'HARD' } });
    note('reboot HARD after the compute died', reboot);
    expect(reboot.status).toBe(202);
    expect(await showOf(others.stuck)).toMatchObject({ status: 'HARD_REBOOT', 'OS-EXT-STS:task_state': 'rebooting_hard' });
    const svc = await service(t.source);
    const r = await t.rest.nova<{ service: Svc }>('PUT', `/os-services/${svc.id}`, { forced_down: true }, '2.53');
    note('forced_down true', r);
    expect(r.status).toBe(200);
    expect(r.body.service.forced_down).toBe(true);
    expect((await service(t.source)).state).toBe('down');
  }, 120_000);

  it('evacuate answers 200 with an empty body; task states run rebuilding → block device mapping → spawning → none', async () => {
    const t = get();
    const r = await t.rest.nova('POST', `/servers/${serverId}/action`, { evacuate: { host: t.dest } }, '2.29');
    note('evacuate after forced_down', r);
    expect(r.status).toBe(200);
    expect(r.text).toBe('');
    const seen: string[] = [];
    const final = await poll('the evacuated server ACTIVE on the destination', 180_000, 100, async () => {
      const s = await server();
      const label = `${s.status}/${s['OS-EXT-STS:task_state'] ?? 'none'}`;
      if (seen.at(-1) !== label) seen.push(label);
      return s.status === 'ACTIVE' && s['OS-EXT-STS:task_state'] === null && s['OS-EXT-SRV-ATTR:host'] === t.dest ? s : undefined;
    });
    rec.taskStates = seen;
    note('task states while evacuating', r, seen.join(' → '));
    expect(final['OS-EXT-SRV-ATTR:host']).toBe(t.dest);
    // Polling can miss a short state, never reorder them.
    const order = seen.map((l) => TASK_ORDER.indexOf(l.split('/')[1]!)).filter((i) => i >= 0);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(seen[0]).toMatch(/^REBUILD\//);
    expect(seen.at(-1)).toBe('ACTIVE/none');
    const migs = await poll('the evacuation migration done', 60_000, 200, async () => {
      const m = await evacuations();
      return m.length > 0 && m.every((x) => x.status === 'done') ? m : undefined;
    });
    rec.migrationStatuses.push(...migs.map((m) => m.status));
    expect(migs).toHaveLength(1);
    expect(migs[0]).toMatchObject({ source_compute: t.source, dest_compute: t.dest, status: 'done' });
  }, 240_000);

  it('the locked server was evacuated by an admin and stays locked with its reason; unlock 202', async () => {
    expect(await showOf(serverId)).toMatchObject({ locked: true, locked_reason: 'owner: contract lock', 'OS-EXT-SRV-ATTR:host': get().dest });
    const r = await act(serverId, { unlock: null });
    note('unlock', r);
    expect(r.status).toBe(202);
    expect(await showOf(serverId)).toMatchObject({ locked: false, locked_reason: null });
  });

  it('a dead host\'s paused server: evacuate 409 (vm_state paused); after os-resetState active it evacuates and comes back ACTIVE', async () => {
    const t = get();
    const refused = await act(others.paused, { evacuate: { host: t.dest } }, '2.29');
    note('evacuate a paused server', refused);
    expect(refused.status).toBe(409);
    expect(refused.body.conflictingRequest?.message).toBe(`Cannot 'evacuate' instance ${others.paused} while it is in vm_state paused`);
    const reset = await act(others.paused, { 'os-resetState': { state: 'active' } });
    note('os-resetState active', reset);
    expect(reset.status).toBe(202);
    expect(await showOf(others.paused)).toMatchObject({ status: 'ACTIVE', 'OS-EXT-STS:vm_state': 'active', 'OS-EXT-STS:task_state': null });
    expect((await act(others.paused, { evacuate: { host: t.dest } }, '2.29')).status).toBe(200);
    await settled(others.paused, 'the paused server ACTIVE on the destination', (s) => s.status === 'ACTIVE' && s['OS-EXT-STS:task_state'] === null && s['OS-EXT-SRV-ATTR:host'] === t.dest);
  }, 240_000);

  it('a stuck hard reboot: os-resetState error clears the task (ERROR); evacuate 200; ACTIVE on the destination', async () => {
    const t = get();
    const reset = await act(others.stuck, { 'os-resetState': { state: 'error' } });
    note('os-resetState error on a stuck task', reset);
    expect(reset.status).toBe(202);
    expect(await showOf(others.stuck)).toMatchObject({ status: 'ERROR', 'OS-EXT-STS:vm_state': 'error', 'OS-EXT-STS:task_state': null });
    expect((await act(others.stuck, { evacuate: { host: t.dest } }, '2.29')).status).toBe(200);
    await settled(others.stuck, 'the reset server ACTIVE on the destination', (s) => s.status === 'ACTIVE' && s['OS-EXT-STS:task_state'] === null && s['OS-EXT-SRV-ATTR:host'] === t.dest);
  }, 240_000);

  it('a stopped server evacuates (200) and stays SHUTOFF on the destination', async () => {
    const t = get();
    const r = await act(others.stopped, { evacuate: { host: t.dest } }, '2.29');
    note('evacuate a stopped server', r);
    expect(r.status).toBe(200);
    const s = await settled(others.stopped, 'the stopped server settled on the destination', (x) => x['OS-EXT-STS:task_state'] === null && x['OS-EXT-SRV-ATTR:host'] === t.dest);
    expect(s).toMatchObject({ status: 'SHUTOFF', 'OS-EXT-STS:vm_state': 'stopped' });
  }, 240_000);

  // cmpha's plan keeps group policies, and a named target refused this way is retried without one
  // (src/evacuator/evacuate-server.ts); never forced.
  it('evacuate an anti-affinity member to the host of its sibling: 200, then NoValidHost: ERROR on the dead host, migration error', async () => {
    const t = get();
    const r = await act(pair.member, { evacuate: { host: t.dest } }, '2.29');
    note('evacuate an anti-affinity member to its sibling\'s host', r);
    expect(r.status).toBe(200);
    type Faulted = Srv & { fault?: { message: string } };
    const s = await settled(pair.member, 'the refused evacuation settled', (x) => x['OS-EXT-STS:task_state'] === null && x.status !== 'REBUILD') as Faulted;
    note('anti-affinity member after the refused evacuation', r, `${s.status}/${s['OS-EXT-STS:vm_state']} on ${s['OS-EXT-SRV-ATTR:host']}: ${s.fault?.message}`);
    expect(s).toMatchObject({ status: 'ERROR', 'OS-EXT-STS:vm_state': 'error', 'OS-EXT-SRV-ATTR:host': t.source });
    expect(s.fault?.message).toBe('No valid host was found. There are not enough hosts available.');
    const migs = (await get().rest.novaOk<{ migrations: Mig[] }>('GET', `/os-migrations?migration_type=evacuation&instance_uuid=${pair.member}`, undefined, '2.59')).migrations;
    rec.migrationStatuses.push(...migs.map((m) => `anti-affinity: ${m.status}`));
    expect(migs.map((m) => ({ status: m.status, source_compute: m.source_compute, dest_compute: m.dest_compute })))
      .toEqual([{ status: 'error', source_compute: t.source, dest_compute: t.dest }]);
    expect((await showOf(pair.sibling))['OS-EXT-SRV-ATTR:host']).toBe(t.dest);
  }, 120_000);

  it('forced_down false is refused with 400 while a `done` evacuation migration remains', async () => {
    const t = get();
    const svc = await service(t.source);
    const r = await t.rest.nova<{ badRequest?: { message: string } }>('PUT', `/os-services/${svc.id}`, { forced_down: false }, '2.53');
    note('forced_down false with done migrations', r);
    expect(r.status).toBe(400);
    expect(r.body.badRequest?.message).toContain(`Unable to force up host ${t.source} as \`done\` evacuation migration records remain associated with the host`);
  });

  it('once the source nova-compute runs again its migrations read completed and forced_down false answers 200', async () => {
    const t = get();
    await t.startCompute(t.source);
    const migs = await poll('the evacuation migration completed', 120_000, 500, async () => {
      const m = await evacuations();
      return m.length === 1 && m[0]!.status === 'completed' ? m : undefined;
    });
    rec.migrationStatuses.push(migs[0]!.status);
    // Nova refuses forced_down false while ANY evacuation from the host is still `done`: the restarted compute
    // cleans the four evacuated servers up one by one, so wait for every one of them, not only the first.
    const ours = new Set([serverId, ...Object.values(others)]);
    await poll('every evacuation from the source completed', 120_000, 500, async () => {
      const all = (await t.rest.novaOk<{ migrations: Mig[] }>('GET', '/os-migrations?migration_type=evacuation', undefined, '2.59')).migrations
        .filter((m) => ours.has(m.instance_uuid));
      return all.length === ours.size && all.every((m) => m.status === 'completed') ? all : undefined;
    });
    const svc = await service(t.source);
    const r = await t.rest.nova<{ service: Svc }>('PUT', `/os-services/${svc.id}`, { forced_down: false }, '2.53');
    note('forced_down false after cleanup', r);
    expect(r.status).toBe(200);
    expect(r.body.service.forced_down).toBe(false);
    const up = await poll('the source service up', 120_000, 500, async () => {
      const s = await service(t.source);
      return s.state === 'up' ? s : undefined;
    });
    expect(up.forced_down).toBe(false);
    await t.deleteServer(serverId);
    for (const id of [...Object.values(others), ...Object.values(pair)]) await t.deleteServer(id);
  }, 300_000);

  // The detector's change feed (src/detector/server-changes.ts) reads deleted servers from this list.
  it('changes-since lists the deleted server: DELETED, its last host kept, no addresses; a bad date-time is 400', async () => {
    const t = get();
    const since = new Date(Date.now() - 24 * 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');
    type Listed = Srv & { id: string; addresses: Record<string, unknown>; 'OS-EXT-STS:vm_state': string };
    const gone = await poll('the deleted server in changes-since', 120_000, 1000, async () => {
      const r = await t.rest.novaOk<{ servers: Listed[] }>('GET', `/servers/detail?all_tenants=1&changes-since=${since}`);
      return r.servers.find((x) => x.id === serverId && x.status === 'DELETED');
    });
    expect(gone).toMatchObject({ 'OS-EXT-STS:vm_state': 'deleted', 'OS-EXT-SRV-ATTR:host': t.dest, addresses: {} });
    const bad = await t.rest.nova('GET', '/servers/detail?all_tenants=1&changes-since=yesterday');
    note('changes-since not a date-time', bad);
    expect(bad.status).toBe(400);
    expect(bad.text).toContain("'yesterday' is not a 'date-time'");
  }, 180_000);
}
