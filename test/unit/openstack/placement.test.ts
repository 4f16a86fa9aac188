import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createOpenStack } from '../../../src/openstack/index.js';
import { OpenStackError } from '../../../src/openstack/errors.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { FakeOpenStack, type FakeOpenStackOptions, type FakeProvider } from '../../helpers/fake-openstack.js';
import { captureLogger, cloudFor, failure } from './cloud.js';

let fake: FakeOpenStack;

afterEach(async () => {
  await fake?.close();
});

async function placementFor(opts: FakeOpenStackOptions = {}, retries = 3) {
  fake = await new FakeOpenStack(opts).start();
  return createOpenStack(cloudFor(fake, { retries }), { logger: silentLogger, retryBaseDelayMs: 5 }).placement;
}

/** A compute node's provider the way Nova's resource tracker writes it. */
function provider(name: string, over: Partial<FakeProvider> = {}): FakeProvider {
  return {
    uuid: randomUUID(), name, generation: 3,
    inventories: {
      VCPU: { total: 16, reserved: 0, allocation_ratio: 4.0, max_unit: 16 },
      MEMORY_MB: { total: 65536, reserved: 512, allocation_ratio: 1.5, max_unit: 65536 },
      DISK_GB: { total: 500, reserved: 0, allocation_ratio: 1.0, max_unit: 500 },
    },
    usages: { VCPU: 10, MEMORY_MB: 20480, DISK_GB: 80 },
    ...over,
  };
}

describe('Placement client', () => {
  it('computes free vCPU and RAM as (total − reserved) × allocation_ratio − used, by the hypervisor id', async () => {
    const placement = await placementFor();
    const p = provider('cmp1.example.org');
    fake.providers.push(p);
    const cap = await placement.hostCapacity({ id: p.uuid, hostname: 'cmp1.example.org' });
    // VCPU: (16 − 0) × 4 − 10 = 54; MEMORY_MB: (65536 − 512) × 1.5 − 20480 = 77056
    expect(cap).toEqual({ vcpusFree: 54, ramMbFree: 77056, providerUuid: p.uuid });
    const calls = fake.calls.filter((c) => c.service === 'placement' && c.path !== '/');
    expect(calls.map((c) => c.path)).toEqual([`/resource_providers/${p.uuid}/inventories`, `/resource_providers/${p.uuid}/usages`]);
    for (const c of calls) expect(c.headers['openstack-api-version']).toBe('placement 1.14');
    for (const c of calls) expect(c.headers['x-auth-token']).toMatch(/^gAAAAA/);
  });

  it('finds the provider by hypervisor_hostname when the hypervisor id is not a provider UUID', async () => {
    const placement = await placementFor();
    const p = provider('cmp2.example.org', { usages: {} });
    fake.providers.push(provider('cmp1.example.org'), p);
    const cap = await placement.hostCapacity({ id: '7', hostname: 'cmp2.example.org' });
    expect(cap).toEqual({ vcpusFree: 64, ramMbFree: 97536, providerUuid: p.uuid });
    const lookup = fake.callsTo('placement', 'GET', '/resource_providers');
    expect(lookup).toHaveLength(1);
    expect(lookup[0]!.query).toEqual({ name: 'cmp2.example.org' });
  });

  it('falls back to the name when Placement has no provider with the hypervisor id', async () => {
    const placement = await placementFor();
    const p = provider('cmp3');
    fake.providers.push(p);
    const cap = await placement.hostCapacity({ id: randomUUID(), hostname: 'cmp3' });
    expect(cap?.providerUuid).toBe(p.uuid);
  });

  it('answers null for a host Placement does not know, and for a provider without VCPU or MEMORY_MB', async () => {
    const placement = await placementFor();
    expect(await placement.hostCapacity({ id: randomUUID(), hostname: 'ghost' })).toBeNull();
    const disks = provider('storage-only', { inventories: { DISK_GB: { total: 1000 } } });
    fake.providers.push(disks);
    expect(await placement.hostCapacity({ id: disks.uuid, hostname: 'storage-only' })).toBeNull();
  });

  it('answers null without a placement endpoint in the catalog (old clouds), and logs it once', async () => {
    fake = await new FakeOpenStack({ noPlacement: true }).start();
    const { logger, lines } = captureLogger();
    const { placement } = createOpenStack(cloudFor(fake), { logger });
    expect(await placement.hostCapacity({ id: randomUUID(), hostname: 'cmp1' })).toBeNull();
    expect(await placement.hostCapacity({ id: randomUUID(), hostname: 'cmp2' })).toBeNull();
    expect(fake.calls.filter((c) => c.service === 'placement')).toEqual([]);
    const warnings = lines.filter((l) => l.includes('the catalog has no placement endpoint'));
    expect(warnings).toHaveLength(1);
  });

  it('answers null when Placement is older than 1.14', async () => {
    const placement = await placementFor({ placementMaxVersion: '1.10' });
    const p = provider('cmp1');
    fake.providers.push(p);
    expect(await placement.hostCapacity({ id: p.uuid, hostname: 'cmp1' })).toBeNull();
    expect(fake.calls.filter((c) => c.service === 'placement').map((c) => c.path)).toEqual(['/']);
  });

  it('reads the version document once', async () => {
    const placement = await placementFor();
    const p = provider('cmp1');
    fake.providers.push(p);
    await placement.hostCapacity({ id: p.uuid, hostname: 'cmp1' });
    await placement.hostCapacity({ id: p.uuid, hostname: 'cmp1' });
    expect(fake.callsTo('placement', 'GET', '/')).toHaveLength(1);
  });

  it('inventories and usages as Placement stores them; null for an unknown provider', async () => {
    const placement = await placementFor();
    const p = provider('cmp1');
    fake.providers.push(p);
    expect(await placement.inventories(p.uuid)).toEqual({
      VCPU: { total: 16, reserved: 0, allocationRatio: 4, maxUnit: 16 },
      MEMORY_MB: { total: 65536, reserved: 512, allocationRatio: 1.5, maxUnit: 65536 },
      DISK_GB: { total: 500, reserved: 0, allocationRatio: 1, maxUnit: 500 },
    });
    expect(await placement.usages(p.uuid)).toEqual({ VCPU: 10, MEMORY_MB: 20480, DISK_GB: 80 });
    expect(await placement.findProvider('cmp1')).toEqual({ uuid: p.uuid, name: 'cmp1', generation: 3 });
    expect(await placement.findProvider('cmp9')).toBeNull();
    expect(await placement.usages(randomUUID())).toBeNull();
  });

  it('retries a GET whose connection was reset (uwsgi drops keep-alive connections)', async () => {
    const placement = await placementFor();
    const p = provider('cmp1');
    fake.providers.push(p);
    fake.fail('placement', 'GET', `/resource_providers/${p.uuid}/usages`, { reset: true });
    expect((await placement.hostCapacity({ id: p.uuid, hostname: 'cmp1' }))?.vcpusFree).toBe(54);
    expect(fake.callsTo('placement', 'GET', `/resource_providers/${p.uuid}/usages`)).toHaveLength(2);
  });

  it('a Placement that keeps failing throws a typed error naming Placement, the path and its message', async () => {
    const placement = await placementFor({}, 1);
    const p = provider('cmp1');
    fake.providers.push(p);
    fake.fail('placement', 'GET', `/resource_providers/${p.uuid}/inventories`, { status: 503 }, 2);
    const err = await failure(placement.hostCapacity({ id: p.uuid, hostname: 'cmp1' }));
    expect(err).toBeInstanceOf(OpenStackError);
    expect(err).toMatchObject({ code: 'placement_unavailable', service: 'placement', status: 503, retryable: true });
    expect(err.message).toMatch(new RegExp(`^Placement GET /placement/resource_providers/${p.uuid}/inventories answered 503: Unexpected error\\.`));
    expect(err.message).not.toContain(fake.creds.password);
  });

  it('an inventory figure that is not a number is a malformed answer naming it, never a spare that "fits"', async () => {
    const placement = await placementFor({}, 1);
    const p = provider('cmp1', { inventories: { VCPU: { total: 'lots' }, MEMORY_MB: { total: 65536 } } as unknown as FakeProvider['inventories'] });
    fake.providers.push(p);
    const err = await failure(placement.hostCapacity({ id: p.uuid, hostname: 'cmp1' }));
    expect(err).toMatchObject({ code: 'placement_malformed_answer', service: 'placement', status: 200, retryable: true });
    expect(err.message).toMatch(/answered 200 with a malformed body: inventories\.VCPU\.total is the string "lots"/);
  });

  it('a 403 (the token lacks the admin role) is thrown, not mistaken for "no capacity"', async () => {
    const placement = await placementFor();
    const p = provider('cmp1');
    fake.providers.push(p);
    fake.fail('placement', 'GET', `/resource_providers/${p.uuid}/inventories`, {
      status: 403, body: { errors: [{ status: 403, title: 'Forbidden', detail: 'Policy does not allow placement:resource_providers:inventories:list to be performed.', code: 'placement.undefined_code' }] },
    });
    const err = await failure(placement.hostCapacity({ id: p.uuid, hostname: 'cmp1' }));
    expect(err.code).toBe('forbidden');
    expect(err.serviceMessage).toBe('Policy does not allow placement:resource_providers:inventories:list to be performed.');
  });
});
