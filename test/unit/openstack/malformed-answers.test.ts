import { afterEach, describe, expect, it } from 'vitest';
import { createOpenStack } from '../../../src/openstack/index.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { FakeOpenStack, novaServer, novaService } from '../../helpers/fake-openstack.js';
import { cloudFor, failure } from './cloud.js';

// The client boundary: a 2xx body that is not the documented shape is a retryable nova_malformed_answer naming the
// endpoint and the field, retried like a 5xx, and never an empty list, a default or a host called 12345.

let fake: FakeOpenStack;
afterEach(async () => {
  await fake?.close();
});

async function clients() {
  fake = await new FakeOpenStack().start();
  fake.services.push(novaService('cmp1'), novaService('spare1'));
  fake.servers.push(novaServer('11111111-1111-4111-8111-111111111111', 'cmp1'), novaServer('22222222-2222-4222-8222-222222222222', 'cmp1'));
  return createOpenStack(cloudFor(fake, { retries: 2 }), { logger: silentLogger, retryBaseDelayMs: 1 });
}

describe('malformed Nova answers', () => {
  it.each([
    ['servers without an id', { servers: [{ ...novaServer('x', 'cmp1'), id: undefined }] }, /servers\[0\]\.id is missing/],
    ['a server list that is not a list', { servers: { a: 1 } }, /servers is an object/],
    ['no server list at all', { padding: 'x'.repeat(10_000) }, /servers is missing/],
    ['a host that is a number', { servers: [novaServer('x', 'cmp1', { 'OS-EXT-SRV-ATTR:host': 12345 })] }, /servers\[0\]\.OS-EXT-SRV-ATTR:host is the number 12345/],
  ])('%s: a retryable error naming the endpoint and the field, after the usual retries', async (_what, body, field) => {
    const { nova } = await clients();
    fake.fail('nova', 'GET', '/servers/detail', { status: 200, body }, 10);
    const err = await failure(nova.listServersOnHost('cmp1'));
    expect(err).toMatchObject({ code: 'nova_malformed_answer', retryable: true, status: 200 });
    expect(err.message).toMatch(/^Nova GET \/compute\/v2\.1\/servers\/detail\?all_tenants=1&host=cmp1&limit=500 answered 200 with a malformed body: /);
    expect(err.message).toMatch(field);
    expect(fake.callsTo('nova', 'GET', '/servers/detail')).toHaveLength(3);
  });

  it('a changes-since answer is checked like every server list', async () => {
    const { nova } = await clients();
    fake.fail('nova', 'GET', '/servers/detail', { status: 200, body: { servers: [novaServer('x', 'cmp1', { status: 7 })] } }, 10);
    const err = await failure(nova.listServersChangedSince(new Date('2031-03-04T05:06:07.123Z')));
    expect(err).toMatchObject({ code: 'nova_malformed_answer', retryable: true });
    expect(err.message).toContain('/servers/detail?all_tenants=1&changes-since=2031-03-04T05%3A06%3A07.123Z&limit=500');
    expect(err.message).toMatch(/servers\[0\]\.status is the number 7/);
  });

  it('one garbled answer is retried like a 5xx and the real answer is used', async () => {
    const { nova } = await clients();
    fake.fail('nova', 'GET', /^\/servers\/1111/, { status: 200, body: { server: { id: 42 } } }, 1);
    const s = await nova.getServer('11111111-1111-4111-8111-111111111111');
    expect(s).toMatchObject({ id: '11111111-1111-4111-8111-111111111111', host: 'cmp1', status: 'ACTIVE' });
  });

  it('a service list with a state Nova never sends is not read as "down"', async () => {
    const { nova } = await clients();
    fake.fail('nova', 'GET', '/os-services', { status: 200, body: { services: [novaService('cmp1', { state: 'sideways' })] } }, 10);
    const err = await failure(nova.listComputeServices());
    expect(err).toMatchObject({ code: 'nova_malformed_answer', retryable: true });
    expect(err.message).toMatch(/services\[0\]\.state is the string "sideways"/);
  });

  it('a garbled 200 to an evacuate is "outcome unknown" (re-read), never "refused" and never resent', async () => {
    const { nova } = await clients();
    fake.fail('nova', 'POST', /\/action$/, { status: 200, raw: '<html>200 OK' }, 1);
    const err = await failure(nova.evacuate('11111111-1111-4111-8111-111111111111', 'spare1'));
    expect(err.code).toBe('nova_evacuate_outcome_unknown');
    expect(fake.callsTo('nova', 'POST', '/servers/11111111-1111-4111-8111-111111111111/action')).toHaveLength(1);
  });
});
