import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNotificationService } from '../../../src/notifier/service.js';
import { startWebhookSink, type WebhookSink } from '../../helpers/webhook-sink.js';
import { captureLogger, escalation, event, notifier } from '../../unit/notifier/fixtures.js';

describe('webhook over HTTPS', () => {
  let dir: string;
  let sink: WebhookSink;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cmpha-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
    sink = await startWebhookSink(undefined, { tls: { key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')) } });
  });
  afterAll(async () => {
    await sink?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a certificate it cannot verify, without retrying', async () => {
    const svc = createNotificationService({ notifiers: [notifier({ name: 'hook', type: 'webhook', options: { url: `${sink.url}/in`, retry_delay: '10ms' } })], escalation: escalation(), logger: captureLogger().logger });
    const records = await svc.notify(event());
    await svc.stop();
    expect(records).toMatchObject([{ ok: false, attempts: 1 }]);
    expect(records[0]!.error).toBe(`cannot verify the TLS certificate of webhook ${sink.url}: DEPTH_ZERO_SELF_SIGNED_CERT self-signed certificate (set cacert to the CA that signed it)`);
    expect(sink.requests).toHaveLength(0);
  });

  it('trusts the server with cacert', async () => {
    const svc = createNotificationService({ notifiers: [notifier({ name: 'hook', type: 'webhook', options: { url: `${sink.url}/in`, cacert: path.join(dir, 'cert.pem') } })], escalation: escalation(), logger: captureLogger().logger });
    const records = await svc.notify(event());
    await svc.stop();
    expect(records).toMatchObject([{ ok: true, attempts: 1 }]);
    expect(sink.requests.map((r) => r.path)).toEqual(['/in']);
  });
});
