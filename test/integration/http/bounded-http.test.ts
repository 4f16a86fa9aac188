import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient } from '../../../src/openstack/http.js';
import { OpenStackError } from '../../../src/openstack/errors.js';
import { RedfishHttp } from '../../../src/fencing/redfish-http.js';
import { FenceCode } from '../../../src/fencing/codes.js';
import { CmphaError } from '../../../src/shared/errors.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { createNotificationService } from '../../../src/notifier/service.js';
import { startMisbehavingServer, type MisbehavingServer } from '../../helpers/misbehaving-http.js';
import { captureLogger, escalation, event, notifier } from '../../unit/notifier/fixtures.js';

// Every outgoing HTTP client (cloud APIs, Redfish BMCs, webhooks) is bounded in total time and in answer size by
// the one shared exchange. Each case is checked against a real loopback server misbehaving on the wire.

const TIMEOUT_MS = 600;
/** Generous: the bound is TIMEOUT_MS; a loaded machine may add seconds, a missing bound adds forever. */
const WITHIN_MS = 8_000;

let srv: MisbehavingServer;
beforeAll(async () => { srv = await startMisbehavingServer({ trickleMs: 50 }); });
afterAll(async () => { await srv.close(); });
afterEach(() => { srv.mode = 'ok'; srv.written.clear(); });

function nova(opts: { maxResponseBytes?: number; timeoutMs?: number } = {}): HttpClient {
  return new HttpClient({ timeoutMs: opts.timeoutMs ?? TIMEOUT_MS, retries: 0, insecure: false, logger: silentLogger, ...(opts.maxResponseBytes ? { maxResponseBytes: opts.maxResponseBytes } : {}) });
}

async function rejection(p: Promise<unknown>): Promise<{ err: CmphaError; ms: number }> {
  const started = Date.now();
  try {
    await p;
  } catch (err) {
    if (err instanceof CmphaError) return { err, ms: Date.now() - started };
    throw err;
  }
  throw new Error('expected the call to fail');
}

describe('OpenStack API calls', () => {
  it('ends a call whose body trickles after the headers at api_timeout', async () => {
    srv.mode = 'trickle';
    const client = nova();
    const { err, ms } = await rejection(client.send({ service: 'nova', method: 'GET', url: `${srv.url}/v2.1/os-services`, idempotent: true }));
    client.close();
    expect(err).toBeInstanceOf(OpenStackError);
    expect(err.code).toBe('timeout');
    expect(err.retryable).toBe(true);
    expect(err.message).toBe(`Nova GET /v2.1/os-services timed out: the body was not complete within ${TIMEOUT_MS} ms (headers had arrived) (api_timeout)`);
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(ms).toBeLessThan(WITHIN_MS);
    // The server kept sending until the client gave up: the bound is the client's, not the server's.
    expect(srv.written.get('/v2.1/os-services')).toBeGreaterThan(1);
  });

  it('ends a call whose body stalls half-way at api_timeout', async () => {
    srv.mode = 'stall';
    const client = nova();
    const { err, ms } = await rejection(client.send({ service: 'nova', method: 'GET', url: `${srv.url}/v2.1/os-hypervisors`, idempotent: true }));
    client.close();
    expect(err.code).toBe('timeout');
    expect(ms).toBeLessThan(WITHIN_MS);
  });

  it('retries a trickling answer like any timeout, each attempt bounded', async () => {
    srv.mode = 'trickle';
    const client = new HttpClient({ timeoutMs: 300, retries: 2, retryBaseDelayMs: 10, insecure: false, logger: silentLogger });
    const before = srv.requests.length;
    const { err, ms } = await rejection(client.send({ service: 'nova', method: 'GET', url: `${srv.url}/v2.1/servers/detail`, idempotent: true }));
    client.close();
    expect(err.code).toBe('timeout');
    expect(srv.requests.length - before).toBe(3);
    expect(ms).toBeLessThan(WITHIN_MS);
  });

  it('refuses a 64 MiB answer without Content-Length, naming the endpoint, and stops reading', async () => {
    srv.mode = 'huge';
    const client = nova({ maxResponseBytes: 1024 * 1024, timeoutMs: 20_000 });
    const { err } = await rejection(client.send({ service: 'nova', method: 'GET', url: `${srv.url}/v2.1/servers/detail?host=cmp-3`, idempotent: true }));
    client.close();
    expect(err.code).toBe('nova_response_too_large');
    expect(err.retryable).toBe(false);
    expect(err.message).toBe('Nova GET /v2.1/servers/detail?host=cmp-3 refused: the answer is larger than the 1 MiB accepted (raise [cloud] max_response_size if this answer is expected)');
    // The connection was dropped: far less than the 64 MiB offered crossed it (socket buffers hold a few MiB).
    expect(srv.written.get('/v2.1/servers/detail?host=cmp-3')).toBeLessThan(32 * 1024 * 1024);
  });

  it('refuses an answer whose Content-Length is over the cap before reading it', async () => {
    srv.mode = 'huge-declared';
    const client = nova({ maxResponseBytes: 1024 * 1024 });
    const { err } = await rejection(client.send({ service: 'placement', method: 'GET', url: `${srv.url}/resource_providers`, idempotent: true }));
    client.close();
    expect(err.code).toBe('placement_response_too_large');
    expect(err.message).toContain(`declares ${64 * 1024 * 1024} bytes, more than the 1 MiB accepted`);
  });

  it('reports a POST whose answer was refused for its size as outcome unknown, not as a plain failure', async () => {
    srv.mode = 'huge';
    const client = nova({ maxResponseBytes: 64 * 1024, timeoutMs: 20_000 });
    const { err } = await rejection(client.send({ service: 'nova', method: 'POST', url: `${srv.url}/v2.1/servers/x/action`, body: { evacuate: {} }, idempotent: false, outcomeUnknownCode: 'nova_evacuate_outcome_unknown' }));
    client.close();
    expect(err.code).toBe('nova_evacuate_outcome_unknown');
  });

  it('reuses keep-alive connections under concurrency without breaking a request that got a reused socket', async () => {
    const client = nova();
    const before = srv.connections();
    const queue = Array.from({ length: 60 }, (_, i) => i);
    const results: unknown[] = [];
    await Promise.all(Array.from({ length: 6 }, async () => {
      for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
        results.push((await client.send({ service: 'nova', method: 'GET', url: `${srv.url}/v2.1/servers/${i}`, idempotent: true })).data);
      }
    }));
    client.close();
    expect(results).toHaveLength(60);
    expect(results.every((r) => JSON.stringify(r) === '{"ok":true}')).toBe(true);
    expect(srv.connections() - before).toBeLessThanOrEqual(12);
  });

  it('still reads a normal answer', async () => {
    const client = nova();
    const res = await client.send<{ ok: boolean }>({ service: 'nova', method: 'GET', url: `${srv.url}/v2.1/`, idempotent: true });
    client.close();
    expect(res.data).toEqual({ ok: true });
  });
});

describe('Redfish BMC calls', () => {
  const bmc = () => new RedfishHttp({ name: 'cmp-3', scheme: 'http', address: '127.0.0.1', port: srv.port, insecure: false });

  it('ends a call whose body trickles after the headers at the request timeout', async () => {
    srv.mode = 'trickle';
    const { err, ms } = await rejection(bmc().request('GET', '/redfish/v1/Systems/1', { timeoutMs: TIMEOUT_MS, signal: new AbortController().signal }));
    expect(err.code).toBe(FenceCode.timeout);
    expect(err.retryable).toBe(true);
    expect(err.message).toBe(`cmp-3: BMC at http://127.0.0.1:${srv.port} did not answer GET /redfish/v1/Systems/1 within ${TIMEOUT_MS} ms (headers came, the body did not finish)`);
    expect(ms).toBeLessThan(WITHIN_MS);
  });

  it('refuses an oversized answer instead of cutting it silently', async () => {
    srv.mode = 'huge';
    const { err } = await rejection(bmc().request('GET', '/redfish/v1/Systems', { timeoutMs: 20_000, signal: new AbortController().signal }));
    expect(err.code).toBe(FenceCode.error);
    expect(err.message).toBe(`cmp-3: BMC at http://127.0.0.1:${srv.port} answered GET /redfish/v1/Systems with more than 1 MiB; refused`);
  });
});

describe('webhook calls', () => {
  it('ends a delivery whose answer trickles at the channel timeout and retries it', async () => {
    srv.mode = 'trickle';
    const hook = notifier({ name: 'sms', type: 'webhook', options: { url: `${srv.url}/hook`, timeout: `${TIMEOUT_MS}ms`, retries: '1', retry_delay: '10ms' } });
    const svc = createNotificationService({ notifiers: [hook], escalation: escalation(), logger: captureLogger().logger });
    const started = Date.now();
    const records = await svc.notify(event());
    await svc.stop();
    expect(records).toMatchObject([{ channel: 'sms', ok: false, attempts: 2 }]);
    expect(records[0]!.error).toBe(`webhook ${srv.url} did not answer in time (HTTP 200 came, the body did not finish) (after 2 attempts)`);
    expect(Date.now() - started).toBeLessThan(WITHIN_MS);
  });

  it('refuses an oversized answer without retrying', async () => {
    srv.mode = 'huge';
    const hook = notifier({ name: 'sms', type: 'webhook', options: { url: `${srv.url}/hook`, timeout: '20s', retries: '2', retry_delay: '10ms' } });
    const svc = createNotificationService({ notifiers: [hook], escalation: escalation(), logger: captureLogger().logger });
    const records = await svc.notify(event());
    await svc.stop();
    expect(records).toMatchObject([{ channel: 'sms', ok: false, attempts: 1 }]);
    expect(records[0]!.error).toBe(`webhook ${srv.url} answered HTTP 200, refused: the answer is larger than the 1 MiB accepted`);
  });
});
