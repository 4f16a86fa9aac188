import { afterEach, describe, expect, it } from 'vitest';
import { Secret } from '../../../src/config/secret.js';
import { createOpenStack } from '../../../src/openstack/index.js';
import { OpenStackError } from '../../../src/openstack/errors.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { FakeOpenStack } from '../../helpers/fake-openstack.js';
import { cloudFor, cmphaFailure, failure, passwordAuth } from './cloud.js';

let fake: FakeOpenStack;

afterEach(async () => {
  await fake?.close();
});

async function start(opts: ConstructorParameters<typeof FakeOpenStack>[0] = {}): Promise<FakeOpenStack> {
  fake = await new FakeOpenStack(opts).start();
  return fake;
}

describe('Keystone authentication bodies', () => {
  it('sends a password by user and project names with their domains', async () => {
    await start();
    const { session } = createOpenStack(cloudFor(fake), { logger: silentLogger });
    const token = await session.token();
    expect(token).toMatch(/^gAAAAA/);
    expect(fake.authCalls).toHaveLength(1);
    expect(fake.authCalls[0]!.body).toEqual({
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: 'cmpha', domain: { name: 'Default' }, password: fake.creds.password } },
        },
        scope: { project: { name: 'service', domain: { name: 'Default' } } },
      },
    });
  });

  it('sends a password by user id and project id without domains', async () => {
    await start();
    const auth = { type: 'password' as const, userId: fake.creds.userId, password: new Secret(fake.creds.password), projectId: fake.creds.projectId };
    const { session } = createOpenStack(cloudFor(fake, { auth }), { logger: silentLogger });
    await session.token();
    expect(fake.authCalls[0]!.body).toEqual({
      auth: {
        identity: { methods: ['password'], password: { user: { id: 'u-0001', password: fake.creds.password } } },
        scope: { project: { id: 'p-0001' } },
      },
    });
  });

  it('scopes to a domain when no project is given', async () => {
    await start();
    const auth = passwordAuth(fake, { projectName: undefined, projectDomainName: undefined, domainName: 'Default' });
    const { session } = createOpenStack(cloudFor(fake, { auth }), { logger: silentLogger });
    await session.token();
    expect((fake.authCalls[0]!.body as { auth: { scope: unknown } }).auth.scope).toEqual({ domain: { name: 'Default' } });
  });

  it('sends an application credential by id, without a scope', async () => {
    await start();
    const auth = { type: 'application_credential' as const, id: fake.creds.appCredId, secret: new Secret(fake.creds.appCredSecret) };
    const { session } = createOpenStack(cloudFor(fake, { auth }), { logger: silentLogger });
    await session.token();
    expect(fake.authCalls[0]!.body).toEqual({
      auth: {
        identity: {
          methods: ['application_credential'],
          application_credential: { id: 'ac-0001', secret: fake.creds.appCredSecret },
        },
      },
    });
  });

  it('sends an application credential by name together with its user', async () => {
    await start();
    const auth = {
      type: 'application_credential' as const, name: fake.creds.appCredName, secret: new Secret(fake.creds.appCredSecret),
      username: 'cmpha', userDomainName: 'Default',
    };
    const { session } = createOpenStack(cloudFor(fake, { auth }), { logger: silentLogger });
    await session.token();
    expect(fake.authCalls[0]!.body).toEqual({
      auth: {
        identity: {
          methods: ['application_credential'],
          application_credential: { name: 'cmpha-ha', secret: fake.creds.appCredSecret, user: { name: 'cmpha', domain: { name: 'Default' } } },
        },
      },
    });
  });

  it('accepts auth_url with or without /v3 and posts to /v3/auth/tokens', async () => {
    await start();
    const { session } = createOpenStack(cloudFor(fake, { authUrl: `${fake.baseUrl}/identity/` }), { logger: silentLogger });
    await session.token();
    expect(fake.authCalls).toHaveLength(1);
  });

  it('refuses a wrong password with an unauthorized error that names the user and the auth URL', async () => {
    await start();
    const auth = passwordAuth(fake, { password: new Secret('not-the-password') });
    const { session } = createOpenStack(cloudFor(fake, { auth }), { logger: silentLogger });
    const err = await failure(session.token());
    expect(err).toBeInstanceOf(OpenStackError);
    expect((err as OpenStackError).code).toBe('unauthorized');
    expect((err as OpenStackError).retryable).toBe(false);
    expect((err as OpenStackError).message).toContain('password of user cmpha');
    expect((err as OpenStackError).message).toContain(fake.authUrl);
    expect((err as OpenStackError).message).not.toContain('not-the-password');
    expect(fake.authCalls).toHaveLength(1);
  });
});

describe('catalog', () => {
  it('finds the compute endpoint for the configured interface and region', async () => {
    await start({ regions: ['RegionOne', 'RegionTwo'] });
    const one = createOpenStack(cloudFor(fake, { regionName: 'RegionOne', interface: 'internal' }), { logger: silentLogger });
    expect(await one.session.endpoint('compute')).toBe(fake.computeUrl);
    const two = createOpenStack(cloudFor(fake, { regionName: 'RegionTwo' }), { logger: silentLogger });
    expect(await two.session.endpoint('compute')).toBe(`${fake.baseUrl}/compute-RegionTwo/v2.1`);
  });

  it('names what was asked for and what the catalog offers when the endpoint is missing', async () => {
    await start({ regions: ['RegionOne'] });
    const { session } = createOpenStack(cloudFor(fake, { regionName: 'RegionNine', interface: 'admin' }), { logger: silentLogger });
    const err = await cmphaFailure(session.endpoint('compute'));
    expect(err.code).toBe('endpoint_not_found');
    expect(err.message).toContain('no compute endpoint with interface admin in region RegionNine');
    expect(err.message).toContain('compute (public RegionOne, internal RegionOne)');
    expect(err.message).toContain('image (public RegionOne)');
  });

  it('says so when the catalog has no compute service at all', async () => {
    await start({ noCompute: true });
    const { nova } = createOpenStack(cloudFor(fake), { logger: silentLogger });
    await expect(nova.listComputeServices()).rejects.toThrow(/no compute endpoint with interface public in the catalog from .*; it offers: identity/);
  });
});

describe('token lifecycle', () => {
  it('reuses one token for many calls', async () => {
    await start();
    const { nova } = createOpenStack(cloudFor(fake), { logger: silentLogger });
    for (let i = 0; i < 5; i++) await nova.listComputeServices();
    expect(fake.authCalls).toHaveLength(1);
    const tokens = new Set(fake.callsTo('nova', 'GET', '/os-services').map((c) => c.headers['x-auth-token']));
    expect(tokens.size).toBe(1);
  });

  it('authenticates again two minutes before expires_at, without waiting for a 401', async () => {
    await start({ tokenLifetimeMs: 60 * 60_000 });
    let now = Date.now();
    const { nova } = createOpenStack(cloudFor(fake), { logger: silentLogger, clock: { now: () => now } });
    await nova.listComputeServices();
    now += 57 * 60_000;
    await nova.listComputeServices();
    expect(fake.authCalls).toHaveLength(1);
    now += 2 * 60_000;
    await nova.listComputeServices();
    expect(fake.authCalls).toHaveLength(2);
    expect(fake.callsTo('nova').every((c) => c.headers['x-auth-token'] !== undefined)).toBe(true);
  });

  it('renews a revoked token once on 401 and repeats the request with the new one', async () => {
    await start();
    const { nova } = createOpenStack(cloudFor(fake), { logger: silentLogger });
    await nova.listComputeServices();
    const before = fake.callsTo('nova', 'GET', '/os-services').at(-1)!.headers['x-auth-token'];
    fake.revokeTokens();
    const services = await nova.listComputeServices();
    expect(services).toEqual([]);
    expect(fake.authCalls).toHaveLength(2);
    const calls = fake.callsTo('nova', 'GET', '/os-services');
    expect(calls).toHaveLength(3);
    expect(calls[1]!.headers['x-auth-token']).toBe(before);
    expect(calls[2]!.headers['x-auth-token']).not.toBe(before);
  });

  it('shares one renewal between concurrent requests that all got 401', async () => {
    await start({ authDelayMs: 50 });
    const { nova } = createOpenStack(cloudFor(fake), { logger: silentLogger });
    await nova.listComputeServices();
    fake.revokeTokens();
    await Promise.all(Array.from({ length: 8 }, () => nova.listComputeServices()));
    expect(fake.authCalls).toHaveLength(2);
  });

  it('fails on a second 401 instead of looping', async () => {
    await start();
    const { nova } = createOpenStack(cloudFor(fake), { logger: silentLogger });
    await nova.microversion();
    fake.acceptTokens = false;
    const err = await failure(nova.listComputeServices());
    expect(err).toBeInstanceOf(OpenStackError);
    expect(err.code).toBe('unauthorized');
    expect(err.status).toBe(401);
    expect(err.message).toContain('also with a fresh token');
    expect(fake.callsTo('nova', 'GET', '/os-services')).toHaveLength(2);
    expect(fake.authCalls).toHaveLength(2);
  });
});

describe('IdentityApi.getUser', () => {
  it('returns the user with their email', async () => {
    await start();
    fake.users.push({ id: 'u-owner', name: 'alice', email: 'alice@example.org', domain_id: 'default', enabled: true });
    const { identity } = createOpenStack(cloudFor(fake), { logger: silentLogger });
    expect(await identity.getUser('u-owner')).toEqual({ id: 'u-owner', name: 'alice', email: 'alice@example.org' });
    expect(fake.callsTo('keystone', 'GET', '/users/u-owner')).toHaveLength(1);
  });

  it('returns null for an unknown user and leaves email undefined when there is none', async () => {
    await start();
    fake.users.push({ id: 'u-bob', name: 'bob', domain_id: 'default', enabled: true });
    const { identity } = createOpenStack(cloudFor(fake), { logger: silentLogger });
    expect(await identity.getUser('u-nobody')).toBeNull();
    expect(await identity.getUser('u-bob')).toEqual({ id: 'u-bob', name: 'bob', email: undefined });
  });

  it('says the token lacks permission on 403', async () => {
    await start();
    fake.forbidUsers = true;
    const { identity } = createOpenStack(cloudFor(fake), { logger: silentLogger });
    const err = await failure(identity.getUser('u-owner'));
    expect(err).toBeInstanceOf(OpenStackError);
    expect(err.code).toBe('forbidden');
    expect(err.status).toBe(403);
    expect(err.message).toContain('the token lacks permission to read Keystone users');
    expect(err.requestId).toMatch(/^req-/);
  });
});
