import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Secret } from '../../../src/config/secret.js';
import { createNotificationService } from '../../../src/notifier/service.js';
import { freePort } from '../../helpers/ports.js';
import { startSmtp, type SmtpServerHandle } from '../../helpers/smtp.js';
import { captureLogger, escalation, event, instance, notifier } from '../../unit/notifier/fixtures.js';

const PASSWORD = 'smtp-Pa55-w0rd-never-shown';

describe('email channel against a real SMTP server', () => {
  let open: SmtpServerHandle;
  let authed: SmtpServerHandle;
  beforeAll(async () => {
    open = await startSmtp();
    authed = await startSmtp({ users: { cmpha: PASSWORD } });
  });
  afterAll(async () => {
    await open?.close();
    await authed?.close();
  });

  const email = (port: number, extra: Record<string, string | Secret> = {}, recipients = ['ops@example.org', 'lead@example.org']) =>
    notifier({ name: 'mail', type: 'email', recipients, options: { host: '127.0.0.1', port: String(port), tls: 'none', from: 'cmpha@example.org', retry_delay: '10ms', ...extra } });

  it('delivers the incident to every recipient with subject, instance list and HTML', async () => {
    const before = open.messages.length;
    const svc = createNotificationService({ notifiers: [email(open.port)], escalation: escalation(), logger: captureLogger().logger });
    const records = await svc.notify(event({
      type: 'incident-partial',
      severity: 'warning',
      instances: [instance(), instance({ id: 'i-2', name: 'db<1>', targetHost: null, state: 'ERROR', error: 'No valid host' })],
    }));
    await svc.stop();
    expect(records.map((r) => [r.recipient, r.ok, r.attempts])).toEqual([['ops@example.org', true, 1], ['lead@example.org', true, 1]]);
    const mails = open.messages.slice(before);
    expect(mails.map((m) => m.envelopeTo).flat().sort()).toEqual(['lead@example.org', 'ops@example.org']);
    const m = mails[0]!;
    expect(m.envelopeFrom).toBe('cmpha@example.org');
    expect(m.subject).toBe('[cmpha] WARNING: Host failure: some instances NOT recovered (cmp-3)');
    expect(m.text).toContain('web-1 (a1b2c3d4-0000-4000-8000-000000000001): cmp-3 -> cmp-7, ACTIVE, downtime 2m10s');
    expect(m.text).toContain('db<1> (i-2): cmp-3 -> NOT MOVED, ERROR, error: No valid host');
    expect(m.text).toContain('What needs a human:');
    expect(m.html).toContain('db&lt;1&gt;');
    expect(m.html).not.toContain('db<1>');
  });

  it('logs in with username and password when the server requires it', async () => {
    const svc = createNotificationService({ notifiers: [email(authed.port, { username: 'cmpha', password: new Secret(PASSWORD) }, ['ops@example.org'])], escalation: escalation(), logger: captureLogger().logger });
    const records = await svc.notify(event());
    await svc.stop();
    expect(records).toMatchObject([{ ok: true, attempts: 1 }]);
    expect(authed.messages.at(-1)?.user).toBe('cmpha');
  });

  it('reports a wrong password (535) clearly, retries once, and never shows the password', async () => {
    const { logger, lines } = captureLogger();
    const wrong = `${PASSWORD}-wrong`;
    const attemptsBefore = authed.authAttempts.length;
    const svc = createNotificationService({ notifiers: [email(authed.port, { username: 'cmpha', password: new Secret(wrong) }, ['ops@example.org'])], escalation: escalation(), logger });
    const records = await svc.notify(event());
    await svc.stop();
    expect(records).toHaveLength(1);
    const r = records[0]!;
    expect(r.ok).toBe(false);
    expect(r.attempts).toBe(2);
    expect(r.error).toBe(`SMTP authentication failed at 127.0.0.1:${authed.port} (535): 535 Invalid username or password (after 2 attempts)`);
    expect(authed.authAttempts.slice(attemptsBefore)).toEqual([{ user: 'cmpha', ok: false }, { user: 'cmpha', ok: false }]);
    const everything = JSON.stringify(records) + lines.join('\n');
    expect(everything).not.toContain(wrong);
    expect(everything).not.toContain(PASSWORD);
    expect(lines.some((l) => l.includes('notification failed') && l.includes('535'))).toBe(true);
  });

  it('reports a closed port as unreachable after retrying', async () => {
    const port = await freePort();
    const svc = createNotificationService({ notifiers: [email(port, { retries: '2' }, ['ops@example.org'])], escalation: escalation(), logger: captureLogger().logger });
    const records = await svc.notify(event());
    await svc.stop();
    expect(records).toMatchObject([{ channel: 'mail', recipient: 'ops@example.org', ok: false, attempts: 3 }]);
    expect(records[0]!.error).toMatch(new RegExp(`cannot deliver via SMTP server 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED.* \\(after 3 attempts\\)`));
  });
});
