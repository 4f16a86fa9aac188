import { afterEach, describe, expect, it } from 'vitest';
import { passwordToken, startTestSim, type TestSim } from './sim-client.js';

let t: TestSim | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('Keystone v3', () => {
  it('issues a project-scoped token with the catalog for password auth', async () => {
    t = await startTestSim();
    const r = await passwordToken(t.base, t.admin.username, t.admin.password);
    expect(r.status).toBe(201);
    const token = r.headers.get('x-subject-token');
    expect(token).toMatch(/^gAAAAA/);
    expect(token!.length).toBeGreaterThan(150);
    const body = (await r.json()) as { token: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(Date.parse(body.token.expires_at)).toBeGreaterThan(Date.now());
    expect(body.token.project.name).toBe('admin');
    expect(body.token.user.name).toBe('admin');
    const types = body.token.catalog.map((c: { type: string }) => c.type).sort();
    expect(types).toEqual(['compute', 'identity', 'image', 'network', 'placement', 'volumev3']);
    const compute = body.token.catalog.find((c: { type: string }) => c.type === 'compute');
    expect(compute.endpoints.map((e: { interface: string }) => e.interface).sort()).toEqual(['admin', 'internal', 'public']);
    for (const e of compute.endpoints) {
      expect(e.region).toBe('RegionOne');
      expect(e.url).toBe(`${t.base}/compute/v2.1`);
    }
    const identity = body.token.catalog.find((c: { type: string }) => c.type === 'identity');
    expect(identity.endpoints[0].url).toBe(`${t.base}/identity`);
  });

  it("answers 401 with Keystone's body for a wrong password, and does not record the password", async () => {
    t = await startTestSim();
    await t.control('DELETE', '/calls');
    const r = await passwordToken(t.base, 'admin', 'wrong');
    expect(r.status).toBe(401);
    expect(await r.json()).toEqual({ error: { code: 401, message: 'The request you have made requires authentication.', title: 'Unauthorized' } });
    const calls = (await t.control('GET', '/calls')).json;
    expect(calls).toHaveLength(1);
    expect(calls[0].service).toBe('keystone');
    expect(JSON.stringify(calls[0].body)).not.toContain('wrong');
    expect(calls[0].body.auth.identity.password.user.password).toBe('***');
  });

  it('accepts application credentials by id and by name + user', async () => {
    t = await startTestSim();
    const creds = (await t.control('GET', '/credentials')).json.application_credential;
    const login = (ac: unknown) => fetch(`${t!.base}/identity/v3/auth/tokens`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ auth: { identity: { methods: ['application_credential'], application_credential: ac } } }),
    });
    let r = await login({ id: creds.id, secret: creds.secret });
    expect(r.status).toBe(201);
    expect(((await r.json()) as { token: { project: { name: string } } }).token.project.name).toBe('admin');
    r = await login({ name: creds.name, secret: creds.secret, user: { name: 'admin', domain: { name: 'Default' } } });
    expect(r.status).toBe(201);
    r = await login({ id: creds.id, secret: 'nope' });
    expect(r.status).toBe(401);
  });

  it('serves users with e-mail addresses', async () => {
    t = await startTestSim();
    const servers = (await t.nova('GET', '/servers/detail?all_tenants=1&limit=1')).json.servers;
    const r = await fetch(`${t.base}/identity/v3/users/${servers[0].user_id}`, { headers: { 'X-Auth-Token': t.token } });
    expect(r.status).toBe(200);
    const user = ((await r.json()) as { user: { email: string } }).user;
    expect(user.email).toMatch(/@example\.org$/);
    const missing = await fetch(`${t.base}/identity/v3/users/nope`, { headers: { 'X-Auth-Token': t.token } });
    expect(missing.status).toBe(404);
  });

  it('expires tokens: Nova answers 401 to an expired or unknown token, and to revoked ones', async () => {
    t = await startTestSim({ tokenTtlSeconds: 0.3 });
    const fresh = await passwordToken(t.base, t.admin.username, t.admin.password);
    const token = fresh.headers.get('x-subject-token')!;
    expect((await t.nova('GET', '/os-services', { token })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 400));
    const r = await t.nova('GET', '/os-services', { token });
    expect(r.status).toBe(401);
    expect(r.json).toEqual({ error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } });
    expect((await t.nova('GET', '/os-services', { token: 'bogus' })).status).toBe(401);

    const again = (await passwordToken(t.base, t.admin.username, t.admin.password)).headers.get('x-subject-token')!;
    await t.control('POST', '/tokens/revoke');
    expect((await t.nova('GET', '/os-services', { token: again })).status).toBe(401);
  });
});
