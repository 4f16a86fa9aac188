import { afterEach, describe, expect, it } from 'vitest';
import { createOpenStack } from '../../../src/openstack/index.js';
import { OpenStackError } from '../../../src/openstack/errors.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { FakeOpenStack, novaServer, novaService, type FakeOpenStackOptions } from '../../helpers/fake-openstack.js';
import { cloudFor, failure } from './cloud.js';

let fake: FakeOpenStack;

afterEach(async () => {
  await fake?.close();
});

async function novaFor(opts: FakeOpenStackOptions = {}, cloud: Parameters<typeof cloudFor>[1] = {}) {
  fake = await new FakeOpenStack(opts).start();
  return createOpenStack(cloudFor(fake, cloud), { logger: silentLogger, retryBaseDelayMs: 5 }).nova;
}

describe('microversion negotiation', () => {
  it('uses 2.93 when Nova supports more', async () => {
    const nova = await novaFor({ novaMaxVersion: '2.96' });
    expect(await nova.microversion()).toBe('2.93');
  });

  it("uses Nova's maximum when it is below 2.93", async () => {
    const nova = await novaFor({ novaMaxVersion: '2.60' });
    expect(await nova.microversion()).toBe('2.60');
    await nova.listComputeServices();
    expect(fake.callsTo('nova', 'GET', '/os-services')[0]!.headers['openstack-api-version']).toBe('compute 2.60');
  });

  it('reads the version document once and sends the header on every call', async () => {
    const nova = await novaFor();
    fake.services.push(novaService('cmp1'));
    await nova.listComputeServices();
    await nova.listHypervisors();
    await nova.getServer('nope');
    expect(fake.callsTo('nova', 'GET', '/')).toHaveLength(1);
    const apiCalls = fake.calls.filter((c) => c.service === 'nova' && c.path !== '/');
    expect(apiCalls).toHaveLength(3);
    const version = (path: string) => apiCalls.find((c) => c.path.startsWith(path))!.headers['openstack-api-version'];
    expect(version('/os-services')).toBe('compute 2.93');
    expect(version('/servers/')).toBe('compute 2.93');
    // Hypervisors at 2.87: from 2.88 the listing waits on every compute Nova believes up (a dead one: 60 s, then 500).
    expect(version('/os-hypervisors')).toBe('compute 2.87');
  });

  it('refuses a Nova older than 2.53 with a message naming the URL and both versions', async () => {
    const nova = await novaFor({ novaMaxVersion: '2.42' });
    const err = await failure(nova.listComputeServices());
    expect(err).toBeInstanceOf(OpenStackError);
    expect(err.code).toBe('nova_too_old');
    expect(err.message).toBe(`Nova at ${fake.computeUrl} supports up to 2.42; cmpha needs 2.53 (Pike) or newer`);
    expect(fake.callsTo('nova', 'GET', '/os-services')).toHaveLength(0);
  });

  it('finds the version document when the catalog URL carries the project id', async () => {
    fake = await new FakeOpenStack().start();
    const { nova, session } = createOpenStack(cloudFor(fake), { logger: silentLogger });
    // The version document sits at /v2.1/, not under the project.
    const { versionDocumentUrl } = await import('../../../src/openstack/nova.js');
    expect(versionDocumentUrl(`${fake.computeUrl}/p-0001`)).toBe(`${fake.computeUrl}/`);
    expect(versionDocumentUrl(fake.baseUrl + '/compute')).toBe(`${fake.baseUrl}/compute/`);
    expect(await session.endpoint('compute')).toBe(fake.computeUrl);
    expect(await nova.microversion()).toBe('2.93');
  });
});

describe('mapping Nova JSON', () => {
  it('maps compute services, including forced_down and a zone-less updated_at', async () => {
    const nova = await novaFor();
    const svc = novaService('cmp1', { state: 'down', status: 'disabled', forced_down: true, disabled_reason: 'cmpha: fenced' });
    fake.services.push(svc, novaService('cmp2'), { ...novaService('ctl'), binary: 'nova-scheduler' });
    const list = await nova.listComputeServices();
    expect(fake.callsTo('nova', 'GET', '/os-services')[0]!.query).toEqual({ binary: 'nova-compute' });
    expect(list.map((s) => s.host)).toEqual(['cmp1', 'cmp2']);
    expect(list[0]).toEqual({
      id: svc.id, binary: 'nova-compute', host: 'cmp1', zone: 'nova', state: 'down', status: 'disabled',
      forcedDown: true, disabledReason: 'cmpha: fenced', updatedAt: new Date('2024-05-01T10:00:00.000Z'),
    });
    const one = await nova.listComputeServices({ host: 'cmp2' });
    expect(one.map((s) => s.host)).toEqual(['cmp2']);
  });

  it('updates a service by UUID with forced_down, status and disabled_reason', async () => {
    const nova = await novaFor();
    const svc = novaService('cmp1');
    fake.services.push(svc);
    const updated = await nova.updateService(svc.id as string, { forcedDown: true });
    expect(updated.forcedDown).toBe(true);
    expect(updated.state).toBe('down');
    await nova.updateService(svc.id as string, { status: 'disabled', disabledReason: 'cmpha: host cmp1 fenced' });
    const puts = fake.callsTo('nova', 'PUT');
    expect(puts.map((c) => [c.path, c.body])).toEqual([
      [`/os-services/${svc.id}`, { forced_down: true }],
      [`/os-services/${svc.id}`, { status: 'disabled', disabled_reason: 'cmpha: host cmp1 fenced' }],
    ]);
  });

  it('maps a server with addresses, metadata, owner and the embedded flavor', async () => {
    const nova = await novaFor();
    fake.servers.push(novaServer('s-1', 'cmp1', {
      status: 'REBUILD', 'OS-EXT-STS:task_state': 'rebuild_spawning', 'OS-EXT-STS:vm_state': 'active',
      addresses: {
        private: [
          { addr: '198.18.1.10', version: 4, 'OS-EXT-IPS:type': 'fixed' },
          { addr: '2001:db8::10', version: 6, 'OS-EXT-IPS:type': 'fixed' },
          { addr: '198.19.0.5', version: 4, 'OS-EXT-IPS:type': 'floating' },
        ],
        storage: [{ addr: '198.18.2.10', version: 4 }],
      },
      metadata: { ha: 'true', priority: '10' },
    }));
    const s = await nova.getServer('s-1');
    expect(s).toEqual({
      id: 's-1', name: 'vm-s-1', status: 'REBUILD', taskState: 'rebuild_spawning', vmState: 'active', host: 'cmp1',
      availabilityZone: 'nova',
      addresses: [
        { network: 'private', addr: '198.18.1.10', version: 4, type: 'fixed' },
        { network: 'private', addr: '2001:db8::10', version: 6, type: 'fixed' },
        { network: 'private', addr: '198.19.0.5', version: 4, type: 'floating' },
        { network: 'storage', addr: '198.18.2.10', version: 4, type: undefined },
      ],
      metadata: { ha: 'true', priority: '10' },
      userId: 'u-owner', projectId: 'p-owner',
      flavor: { vcpus: 2, ramMb: 4096, name: 'm1.medium', extraSpecs: {} },
      updatedAt: new Date('2024-05-01T10:00:00Z'),
    });
  });

  it('returns null for a server Nova does not know', async () => {
    const nova = await novaFor();
    expect(await nova.getServer('gone')).toBeNull();
  });

  it('maps hypervisors with service host and host_ip, and leaves usage undefined when Nova sends none', async () => {
    const nova = await novaFor();
    fake.hypervisors.push({
      id: 'h-uuid-1', hypervisor_hostname: 'cmp1.example.org', host_ip: '198.18.0.11', state: 'up', status: 'enabled',
      hypervisor_type: 'fake', service: { host: 'cmp1', id: 'svc-1', disabled_reason: null },
    });
    const [h] = await nova.listHypervisors();
    expect(h).toEqual({
      id: 'h-uuid-1', hostname: 'cmp1.example.org', serviceHost: 'cmp1', hostIp: '198.18.0.11', state: 'up', status: 'enabled',
      vcpus: undefined, vcpusUsed: undefined, memoryMb: undefined, memoryMbUsed: undefined,
    });
  });

  it('keeps hypervisor usage below 2.88 and follows hypervisors_links', async () => {
    const nova = await novaFor({ novaMaxVersion: '2.87', maxLimit: 2 });
    for (let i = 1; i <= 3; i++) {
      fake.hypervisors.push({ id: `h-${i}`, hypervisor_hostname: `cmp${i}`, host_ip: `198.18.0.${10 + i}`, state: 'up', status: 'enabled', service: { host: `cmp${i}` }, vcpus: 8, vcpus_used: i, memory_mb: 1024, memory_mb_used: 0 });
    }
    const list = await nova.listHypervisors();
    expect(list.map((h) => [h.serviceHost, h.vcpusUsed])).toEqual([['cmp1', 1], ['cmp2', 2], ['cmp3', 3]]);
    expect(fake.callsTo('nova', 'GET', '/os-hypervisors/detail')).toHaveLength(2);
  });

  it('lists aggregates and adds a host to one', async () => {
    const nova = await novaFor();
    fake.aggregates.push({ id: 7, uuid: 'agg-uuid', name: 'ha-pool', hosts: ['cmp1'], availability_zone: 'az1', metadata: {} });
    expect(await nova.listAggregates()).toEqual([{ id: '7', name: 'ha-pool', hosts: ['cmp1'], availabilityZone: 'az1', metadata: {} }]);
    await nova.addHostToAggregate('7', 'spare1');
    expect(fake.callsTo('nova', 'POST', '/os-aggregates/7/action')[0]!.body).toEqual({ add_host: { host: 'spare1' } });
    expect((await nova.listAggregates())[0]!.hosts).toEqual(['cmp1', 'spare1']);
  });

  it('lists evacuation migrations of one instance', async () => {
    const nova = await novaFor();
    fake.migrations.push(
      { id: 12, uuid: 'm-uuid-12', instance_uuid: 's-1', migration_type: 'evacuation', status: 'done', source_compute: 'cmp1', dest_compute: 'spare1', created_at: '2024-05-01T10:00:00.000000', updated_at: '2024-05-01T10:00:05.000000' },
      { id: 13, instance_uuid: 's-2', migration_type: 'evacuation', status: 'accepted', source_compute: 'cmp1', dest_compute: null, created_at: '2024-05-01T10:00:01.000000', updated_at: null },
      { id: 14, instance_uuid: 's-1', migration_type: 'live-migration', status: 'completed', source_compute: 'cmp3', dest_compute: 'cmp1', created_at: null, updated_at: null },
    );
    const list = await nova.listMigrations({ instanceId: 's-1', type: 'evacuation' });
    expect(fake.callsTo('nova', 'GET', '/os-migrations')[0]!.query).toEqual({ instance_uuid: 's-1', migration_type: 'evacuation' });
    expect(list).toEqual([{
      id: '12', uuid: 'm-uuid-12', instanceId: 's-1', type: 'evacuation', status: 'done', sourceCompute: 'cmp1', destCompute: 'spare1',
      createdAt: new Date('2024-05-01T10:00:00Z'), updatedAt: new Date('2024-05-01T10:00:05Z'),
    }]);
  });
});

describe('listServersOnHost pagination', () => {
  it('follows servers_links across 3 pages, keeping the query but not the link\'s scheme and host', async () => {
    // Behind a proxy Nova builds next links from its own address; following it verbatim would fail here.
    const nova = await novaFor({ maxLimit: 2, linkBase: 'https://nova-api.internal.invalid:8774/v2.1' });
    for (let i = 1; i <= 5; i++) fake.servers.push(novaServer(`s-${i}`, 'cmp1'));
    fake.servers.push(novaServer('s-other', 'cmp2'));
    const list = await nova.listServersOnHost('cmp1');
    expect(list.map((s) => s.id)).toEqual(['s-1', 's-2', 's-3', 's-4', 's-5']);
    const calls = fake.callsTo('nova', 'GET', '/servers/detail');
    expect(calls.map((c) => c.query)).toEqual([
      { all_tenants: '1', host: 'cmp1', limit: '500' },
      { all_tenants: '1', host: 'cmp1', limit: '500', marker: 's-2' },
      { all_tenants: '1', host: 'cmp1', limit: '500', marker: 's-4' },
    ]);
  });

  it('stops at a full last page whose next page is empty', async () => {
    const nova = await novaFor({ maxLimit: 2 });
    for (let i = 1; i <= 4; i++) fake.servers.push(novaServer(`s-${i}`, 'cmp1'));
    expect((await nova.listServersOnHost('cmp1')).map((s) => s.id)).toEqual(['s-1', 's-2', 's-3', 's-4']);
    expect(fake.callsTo('nova', 'GET', '/servers/detail')).toHaveLength(3);
  });
});

describe('evacuate and live-migrate', () => {
  it('sends evacuate with host only (no force, no onSharedStorage) and treats 200 with an empty body as success', async () => {
    const nova = await novaFor();
    fake.servers.push(novaServer('s-1', 'cmp1'), novaServer('s-2', 'cmp1'));
    await nova.evacuate('s-1', 'spare1');
    await nova.evacuate('s-2');
    const posts = fake.callsTo('nova', 'POST', /^\/servers\/s-\d\/action$/);
    expect(posts.map((c) => c.body)).toEqual([{ evacuate: { host: 'spare1' } }, { evacuate: {} }]);
    expect(posts.every((c) => c.microversion === '2.93')).toBe(true);
    expect((await nova.getServer('s-1'))!.taskState).toBe('rebuilding');
  });

  it('sends the same evacuate body at the lowest supported microversion', async () => {
    const nova = await novaFor({ novaMaxVersion: '2.53' });
    fake.servers.push(novaServer('s-1', 'cmp1'));
    await nova.evacuate('s-1', 'spare1');
    const [post] = fake.callsTo('nova', 'POST', '/servers/s-1/action');
    expect(post!.microversion).toBe('2.53');
    expect(post!.body).toEqual({ evacuate: { host: 'spare1' } });
  });

  it('never repeats an evacuate after a 500: exactly one POST, outcome unknown', async () => {
    const nova = await novaFor();
    fake.servers.push(novaServer('s-1', 'cmp1'));
    fake.fail('nova', 'POST', '/servers/s-1/action', { status: 500 }, 5);
    const err = await failure(nova.evacuate('s-1', 'spare1'));
    expect(err).toBeInstanceOf(OpenStackError);
    expect(err.code).toBe('nova_evacuate_outcome_unknown');
    expect(err.retryable).toBe(false);
    expect(err.status).toBe(500);
    expect(err.requestId).toMatch(/^req-/);
    expect(err.message).toContain('re-read the state');
    expect(fake.callsTo('nova', 'POST', '/servers/s-1/action')).toHaveLength(1);
  });

  it('never repeats an evacuate after a connection reset', async () => {
    const nova = await novaFor();
    fake.servers.push(novaServer('s-1', 'cmp1'));
    await nova.microversion();
    fake.fail('nova', 'POST', '/servers/s-1/action', { reset: true }, 5);
    const err = await failure(nova.evacuate('s-1', 'spare1'));
    expect(err.code).toBe('nova_evacuate_outcome_unknown');
    expect(err.retryable).toBe(false);
    expect(fake.callsTo('nova', 'POST', '/servers/s-1/action')).toHaveLength(1);
  });

  it("passes Nova's 400 for a source host still in use through as a bad request, not retried", async () => {
    const nova = await novaFor();
    fake.servers.push(novaServer('s-1', 'cmp1'));
    fake.fail('nova', 'POST', '/servers/s-1/action', { status: 400, body: { badRequest: { code: 400, message: 'Compute service of cmp1 is still in use.' } } });
    const err = await failure(nova.evacuate('s-1', 'spare1'));
    expect(err.code).toBe('nova_bad_request');
    expect(err.serviceMessage).toBe('Compute service of cmp1 is still in use.');
    expect(err.message).toBe(`Nova POST /compute/v2.1/servers/s-1/action answered 400: Compute service of cmp1 is still in use. (request ${err.requestId})`);
    expect(fake.callsTo('nova', 'POST', '/servers/s-1/action')).toHaveLength(1);
  });

  it('repeats an evacuate once after a 401, since Nova did not act on it', async () => {
    const nova = await novaFor();
    fake.servers.push(novaServer('s-1', 'cmp1'));
    await nova.microversion();
    fake.revokeTokens();
    await nova.evacuate('s-1', 'spare1');
    expect(fake.callsTo('nova', 'POST', '/servers/s-1/action')).toHaveLength(2);
    expect(fake.authCalls).toHaveLength(2);
  });

  it('live-migrates with block_migration auto and host or null', async () => {
    const nova = await novaFor();
    fake.servers.push(novaServer('s-1', 'cmp1'));
    await nova.liveMigrate('s-1', 'cmp2');
    await nova.liveMigrate('s-1');
    expect(fake.callsTo('nova', 'POST', '/servers/s-1/action').map((c) => c.body)).toEqual([
      { 'os-migrateLive': { host: 'cmp2', block_migration: 'auto' } },
      { 'os-migrateLive': { host: null, block_migration: 'auto' } },
    ]);
  });

  it('never repeats a live-migrate after a 503', async () => {
    const nova = await novaFor();
    fake.servers.push(novaServer('s-1', 'cmp1'));
    fake.fail('nova', 'POST', '/servers/s-1/action', { status: 503 }, 5);
    const err = await failure(nova.liveMigrate('s-1', 'cmp2'));
    expect(err.code).toBe('nova_live_migrate_outcome_unknown');
    expect(fake.callsTo('nova', 'POST', '/servers/s-1/action')).toHaveLength(1);
  });
});

describe('retries and typed errors', () => {
  it('retries a GET after 500s and a reset, then returns the answer', async () => {
    const nova = await novaFor();
    fake.services.push(novaService('cmp1'));
    fake.fail('nova', 'GET', '/os-services', { status: 500 }, 2);
    fake.fail('nova', 'GET', '/os-services', { reset: true }, 1);
    const list = await nova.listComputeServices();
    expect(list.map((s) => s.host)).toEqual(['cmp1']);
    expect(fake.callsTo('nova', 'GET', '/os-services')).toHaveLength(4);
  });

  it('gives up after `retries` repeats with a retryable nova_unavailable error', async () => {
    const nova = await novaFor({}, { retries: 2 });
    fake.fail('nova', 'GET', '/os-services', { status: 503 }, 10);
    const err = await failure(nova.listComputeServices());
    expect(err.code).toBe('nova_unavailable');
    expect(err.retryable).toBe(true);
    expect(err.status).toBe(503);
    expect(fake.callsTo('nova', 'GET', '/os-services')).toHaveLength(3);
  });

  it('retries a PUT to os-services after a reset', async () => {
    const nova = await novaFor();
    const svc = novaService('cmp1');
    fake.services.push(svc);
    await nova.microversion();
    fake.fail('nova', 'PUT', `/os-services/${svc.id}`, { reset: true }, 1);
    const updated = await nova.updateService(svc.id as string, { forcedDown: true });
    expect(updated.forcedDown).toBe(true);
    expect(fake.callsTo('nova', 'PUT')).toHaveLength(2);
  });

  it('retries the token request after a reset', async () => {
    const nova = await novaFor();
    fake.fail('keystone', 'POST', '/auth/tokens', { reset: true }, 1);
    await nova.listComputeServices();
    expect(fake.authCalls).toHaveLength(2);
  });

  it('does not retry a 4xx and carries status, request id, service, method, path and Nova\'s message', async () => {
    const nova = await novaFor();
    await nova.microversion();
    fake.fail('nova', 'GET', '/os-services', { status: 409, body: { conflictingRequest: { code: 409, message: 'Cannot do that while the service is busy' } } }, 5);
    const err = await failure(nova.listComputeServices({ host: 'cmp1' }));
    expect(err).toBeInstanceOf(OpenStackError);
    expect(err.code).toBe('nova_conflict');
    expect(err.retryable).toBe(false);
    expect(err.status).toBe(409);
    expect(err.service).toBe('nova');
    expect(err.method).toBe('GET');
    expect(err.path).toBe('/compute/v2.1/os-services?binary=nova-compute&host=cmp1');
    expect(err.serviceMessage).toBe('Cannot do that while the service is busy');
    expect(err.requestId).toMatch(/^req-[0-9a-f-]{36}$/);
    expect(err.message).toContain(err.requestId!);
    expect(fake.callsTo('nova', 'GET', '/os-services')).toHaveLength(1);
  });

  it('maps 404 bodies on a PUT to nova_not_found', async () => {
    const nova = await novaFor();
    const err = await failure(nova.updateService('no-such-uuid', { forcedDown: true }));
    expect(err.code).toBe('nova_not_found');
    expect(err.serviceMessage).toBe('Service id no-such-uuid refers to a non-existent service.');
    expect(fake.callsTo('nova', 'PUT')).toHaveLength(1);
  });

  it('aborts a hanging call through the caller\'s AbortSignal, without retrying', async () => {
    const nova = await novaFor();
    await nova.microversion();
    fake.fail('nova', 'GET', '/os-services', { hang: true }, 5);
    const err = await failure(nova.listComputeServices({ signal: AbortSignal.timeout(200) }));
    expect(err).toBeInstanceOf(OpenStackError);
    expect(err.code).toBe('timeout');
    expect(fake.callsTo('nova', 'GET', '/os-services')).toHaveLength(1);
  });

  it('reports a caller abort as aborted', async () => {
    const nova = await novaFor();
    await nova.microversion();
    fake.fail('nova', 'GET', '/os-services', { hang: true }, 5);
    const ctl = new AbortController();
    const pending = failure(nova.listComputeServices({ signal: ctl.signal }));
    setTimeout(() => ctl.abort(), 50);
    const err = await pending;
    expect(err.code).toBe('aborted');
    expect(err.retryable).toBe(false);
  });

  it('times out a hanging GET after timeoutMs and retries it', async () => {
    const nova = await novaFor({}, { timeoutMs: 200, retries: 1 });
    await nova.microversion();
    fake.services.push(novaService('cmp1'));
    fake.fail('nova', 'GET', '/os-services', { hang: true }, 1);
    expect((await nova.listComputeServices()).map((s) => s.host)).toEqual(['cmp1']);
    expect(fake.callsTo('nova', 'GET', '/os-services')).toHaveLength(2);
  });

  it('reports an evacuate that timed out as outcome unknown', async () => {
    const nova = await novaFor({}, { timeoutMs: 200 });
    fake.servers.push(novaServer('s-1', 'cmp1'));
    await nova.microversion();
    fake.fail('nova', 'POST', '/servers/s-1/action', { hang: true }, 5);
    const err = await failure(nova.evacuate('s-1', 'spare1'));
    expect(err.code).toBe('nova_evacuate_outcome_unknown');
    expect(fake.callsTo('nova', 'POST', '/servers/s-1/action')).toHaveLength(1);
  });

  it('reports an evacuate the caller abandoned in flight as outcome unknown, not as a plain abort', async () => {
    const nova = await novaFor();
    fake.servers.push(novaServer('s-1', 'cmp1'));
    await nova.microversion();
    fake.fail('nova', 'POST', '/servers/s-1/action', { hang: true }, 5);
    const err = await failure(nova.evacuate('s-1', 'spare1', { signal: AbortSignal.timeout(150) }));
    expect(err.code).toBe('nova_evacuate_outcome_unknown');
    expect(err.retryable).toBe(false);
    expect(fake.callsTo('nova', 'POST', '/servers/s-1/action')).toHaveLength(1);
  });

  it('does not send an evacuate at all when the caller already gave up', async () => {
    const nova = await novaFor();
    fake.servers.push(novaServer('s-1', 'cmp1'));
    await nova.microversion();
    const ctl = new AbortController();
    ctl.abort();
    const err = await failure(nova.evacuate('s-1', 'spare1', { signal: ctl.signal }));
    expect(err.code).toBe('aborted');
    expect(fake.callsTo('nova', 'POST', '/servers/s-1/action')).toHaveLength(0);
  });

  it('names the service and address when nothing listens', async () => {
    fake = await new FakeOpenStack().start();
    const url = fake.authUrl;
    await fake.close();
    const { session } = createOpenStack(cloudFor(fake, { authUrl: url, retries: 1 }), { logger: silentLogger, retryBaseDelayMs: 5 });
    const err = await failure(session.token());
    expect(err.code).toBe('connection_refused');
    expect(err.message).toBe('Keystone POST /identity/v3/auth/tokens: connection refused');
  });
});
