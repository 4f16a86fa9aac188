import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Secret } from '../../../src/config/secret.js';
import type { NotifierConfig } from '../../../src/config/types.js';
import { checkNotifiers } from '../../../src/doctor/check-notifiers.js';
import { freePort } from '../../helpers/ports.js';
import { startSmtp, type SmtpServerHandle } from '../../helpers/smtp.js';

// A real SMTP server: doctor connects and logs in, and never sends a message.

let smtp: SmtpServerHandle;
beforeAll(async () => { smtp = await startSmtp({ users: { ha: 'right-pass' } }); });
afterAll(async () => { await smtp?.close(); });

const email = (options: Record<string, string | Secret>): NotifierConfig => ({
  name: 'ops', type: 'email', events: ['*'], minSeverity: 'info', audience: 'admins', recipients: ['ops@example.org'], options,
});

describe('checkNotifiers', () => {
  it('ok when the SMTP server accepts the login; nothing is sent', async () => {
    const [c] = await checkNotifiers([email({ host: '127.0.0.1', port: String(smtp.port), tls: 'none', from: 'ha@example.org', username: 'ha', password: new Secret('right-pass') })], { smtp: true, timeoutMs: 3000 });
    expect(c).toEqual({ name: 'notifier:ops', status: 'ok', detail: `email: SMTP server 127.0.0.1:${smtp.port} accepts connections and the login (nothing sent)` });
    expect(smtp.messages).toHaveLength(0);
  });

  it('warns on a refused login without printing the password, and on a closed port', async () => {
    const [bad] = await checkNotifiers([email({ host: '127.0.0.1', port: String(smtp.port), tls: 'none', from: 'ha@example.org', username: 'ha', password: new Secret('wrong-pass') })], { smtp: true, timeoutMs: 3000 });
    expect(bad!.status).toBe('warn');
    expect(bad!.detail).toMatch(/^SMTP authentication failed at 127\.0\.0\.1:\d+ \(535\)/);
    expect(bad!.detail).not.toContain('wrong-pass');
    const port = await freePort();
    const [closed] = await checkNotifiers([email({ host: '127.0.0.1', port: String(port), tls: 'none', from: 'ha@example.org' })], { smtp: true, timeoutMs: 1000 });
    expect(closed).toMatchObject({ status: 'warn' });
    expect(closed!.detail).toContain(`127.0.0.1:${port}`);
  });

  it('fails a notifier whose options do not parse, naming the key', async () => {
    const [c] = await checkNotifiers([email({ host: '127.0.0.1', from: 'not-an-address' })], { smtp: false, timeoutMs: 1000 });
    expect(c).toEqual({ name: 'notifier:ops', status: 'fail', detail: '[notifier:ops] from: "not-an-address" is not an email address' });
  });
});
