import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Secret } from '../../../src/config/secret.js';
import { createNotificationService } from '../../../src/notifier/service.js';
import { freePort } from '../../helpers/ports.js';
import { startWebhookSink, type WebhookSink } from '../../helpers/webhook-sink.js';
import { captureLogger, escalation, event, notifier } from '../../unit/notifier/fixtures.js';

const TOKEN = 'tw-auth-token-5ecret-value';
const SID = 'AC0123456789abcdef0123456789abcdef';

describe('webhook channel against a real HTTP server', () => {
  let sink: WebhookSink;
  beforeAll(async () => {
    sink = await startWebhookSink();
  });
  afterAll(async () => {
    await sink?.close();
  });
  beforeEach(() => {
    sink.respondWith(() => ({ status: 201, body: '{"sid":"SM1"}' }));
  });

  const twilio = (preset: 'twilio-sms' | 'twilio-call', extra: Record<string, string | Secret> = {}) =>
    notifier({
      name: preset,
      type: 'webhook',
      recipients: ['+15550001111'],
      options: { preset, base_url: sink.url, account_sid: SID, auth_token: new Secret(TOKEN), from: '+15559990000', retry_delay: '10ms', ...extra },
    });

  const fenceFailed = event({ type: 'fence-failed', severity: 'critical', incidentId: 'inc-7', summary: 'BMC of cmp-3 does not answer; power state unknown', instances: [] });

  it('twilio-sms posts To/From/Body form-encoded with basic auth sid:token', async () => {
    const before = sink.requests.length;
    const svc = createNotificationService({ notifiers: [twilio('twilio-sms')], escalation: escalation(), logger: captureLogger().logger });
    const records = await svc.notify(fenceFailed);
    await svc.stop();
    expect(records).toMatchObject([{ channel: 'twilio-sms', recipient: '+15550001111', ok: true, attempts: 1 }]);
    const req = sink.requests[before]!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe(`/2010-04-01/Accounts/${SID}/Messages.json`);
    expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(req.headers.authorization).toBe(`Basic ${Buffer.from(`${SID}:${TOKEN}`).toString('base64')}`);
    expect(req.form.get('To')).toBe('+15550001111');
    expect(req.form.get('From')).toBe('+15559990000');
    expect(req.form.get('Body')).toBe('cmpha CRIT fence-failed cmp-3: BMC of cmp-3 does not answer; power state unknown');
    expect(req.body).not.toContain(TOKEN);
  });

  it('twilio-call posts a TwiML <Say> with the alert, XML-escaped', async () => {
    const before = sink.requests.length;
    const svc = createNotificationService({ notifiers: [twilio('twilio-call')], escalation: escalation({ maxRepeats: 0 }), logger: captureLogger().logger });
    await svc.notify({ ...fenceFailed, summary: 'BMC <cmp-3> & PDU unreachable' });
    await svc.stop();
    const req = sink.requests[before]!;
    expect(req.path).toBe(`/2010-04-01/Accounts/${SID}/Calls.json`);
    expect(req.form.get('To')).toBe('+15550001111');
    expect(req.form.get('Twiml')).toBe('<Response><Say>cmpha alert fence-failed cmp-3: BMC &lt;cmp-3&gt; &amp; PDU unreachable</Say></Response>');
  });

  it('slack posts {"text": ...} with quotes and newlines JSON-escaped', async () => {
    const before = sink.requests.length;
    const slack = notifier({ name: 'chat', type: 'webhook', options: { preset: 'slack', url: `${sink.url}/services/{{token}}`, token: new Secret('T000/B000/XYZ') } });
    const svc = createNotificationService({ notifiers: [slack], escalation: escalation(), logger: captureLogger().logger });
    const records = await svc.notify(event({ summary: 'host "cmp-3" died\nall fine now' }));
    await svc.stop();
    expect(records).toMatchObject([{ channel: 'chat', recipient: 'chat', ok: true }]);
    const req = sink.requests[before]!;
    expect(req.url).toBe('/services/T000%2FB000%2FXYZ');
    expect(req.headers['content-type']).toBe('application/json');
    const body = JSON.parse(req.body) as { text: string };
    expect(Object.keys(body)).toEqual(['text']);
    expect(body.text.startsWith('*INFO: Host failure: instances recovered (cmp-3)*\nHost failure: instances recovered')).toBe(true);
    expect(body.text).toContain('host "cmp-3" died\nall fine now');
  });

  it('retries on HTTP 500 with backoff and succeeds', async () => {
    const before = sink.requests.length;
    sink.respondWith((_r, n) => (n - before <= 2 ? { status: 500, body: 'upstream broken' } : { status: 201 }));
    const svc = createNotificationService({ notifiers: [twilio('twilio-sms')], escalation: escalation(), logger: captureLogger().logger });
    const records = await svc.notify(fenceFailed);
    await svc.stop();
    expect(records).toMatchObject([{ ok: true, attempts: 3 }]);
    expect(sink.requests.length - before).toBe(3);
  });

  it('gives up after the retries on a gateway that keeps failing, naming the status', async () => {
    const before = sink.requests.length;
    sink.respondWith(() => ({ status: 503, body: 'maintenance' }));
    const svc = createNotificationService({ notifiers: [twilio('twilio-sms', { retries: '2' })], escalation: escalation(), logger: captureLogger().logger });
    const records = await svc.notify(fenceFailed);
    await svc.stop();
    expect(records).toMatchObject([{ ok: false, attempts: 3, error: `webhook ${sink.url} answered HTTP 503: maintenance (after 3 attempts)` }]);
    expect(sink.requests.length - before).toBe(3);
  });

  it('does not retry on HTTP 400, and keeps the token out of the record and the log', async () => {
    const before = sink.requests.length;
    // A gateway echoing what it got must not leak the token through our error message.
    sink.respondWith((r) => ({ status: 400, body: `{"message":"bad To","auth":"${r.headers.authorization}","token":"${TOKEN}"}` }));
    const { logger, lines } = captureLogger();
    const svc = createNotificationService({ notifiers: [twilio('twilio-sms')], escalation: escalation(), logger });
    const records = await svc.notify(fenceFailed);
    await svc.stop();
    expect(records).toMatchObject([{ ok: false, attempts: 1 }]);
    expect(records[0]!.error).toMatch(/answered HTTP 400: .*bad To/);
    expect(sink.requests.length - before).toBe(1);
    const everything = JSON.stringify(records) + lines.join('\n');
    expect(everything).not.toContain(TOKEN);
    expect(everything).not.toContain(Buffer.from(`${SID}:${TOKEN}`).toString('base64'));
    expect(lines.some((l) => l.includes('notification failed'))).toBe(true);
  });

  it('reports a closed port as unreachable after its retries', async () => {
    const port = await freePort();
    const dead = notifier({ name: 'hook', type: 'webhook', options: { url: `http://127.0.0.1:${port}/x`, retries: '1', retry_delay: '10ms' } });
    const svc = createNotificationService({ notifiers: [dead], escalation: escalation(), logger: captureLogger().logger });
    const records = await svc.notify(event());
    await svc.stop();
    expect(records).toMatchObject([{ channel: 'hook', ok: false, attempts: 2 }]);
    expect(records[0]!.error).toMatch(new RegExp(`cannot reach webhook http://127\\.0\\.0\\.1:${port}: connect ECONNREFUSED 127\\.0\\.0\\.1:${port} \\(after 2 attempts\\)`));
  });

  it('ends a request the gateway never answers at the channel timeout', async () => {
    sink.respondWith(() => ({ status: 200, hang: true }));
    const hook = notifier({ name: 'slow', type: 'webhook', options: { url: `${sink.url}/slow`, timeout: '200ms', retries: '0' } });
    const svc = createNotificationService({ notifiers: [hook], escalation: escalation(), logger: captureLogger().logger });
    const records = await svc.notify(event());
    await svc.stop();
    expect(records).toMatchObject([{ channel: 'slow', ok: false, attempts: 1, error: `webhook ${sink.url} did not answer in time` }]);
  });
});
