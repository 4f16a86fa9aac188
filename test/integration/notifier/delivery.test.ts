import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Secret } from '../../../src/config/secret.js';
import type { IdentityApi, KeystoneUser } from '../../../src/openstack/types.js';
import { createNotificationService } from '../../../src/notifier/service.js';
import { freePort } from '../../helpers/ports.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { startSmtp, type SmtpServerHandle } from '../../helpers/smtp.js';
import { startWebhookSink, type WebhookSink } from '../../helpers/webhook-sink.js';
import { captureLogger, escalation, event, instance, notifier } from '../../unit/notifier/fixtures.js';

/** Keystone's answer for the users in these tests (Keystone itself does not run here). */
class Directory implements IdentityApi {
  readonly lookups: string[] = [];
  constructor(private readonly users: Record<string, KeystoneUser>) {}
  async getUser(id: string): Promise<KeystoneUser | null> {
    this.lookups.push(id);
    return this.users[id] ?? null;
  }
}

describe('delivery rules with real Redis, SMTP and HTTP', () => {
  let redisServer: RedisServer;
  let redis: Redis;
  let smtp: SmtpServerHandle;
  let sink: WebhookSink;
  beforeAll(async () => {
    redisServer = await startRedis();
    redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
    smtp = await startSmtp();
    sink = await startWebhookSink();
  });
  afterAll(async () => {
    redis?.disconnect();
    await smtp?.close();
    await sink?.close();
    await redisServer?.stop();
  });

  const hook = (name: string, extra: Partial<Parameters<typeof notifier>[0]> = {}) =>
    notifier({ name, type: 'webhook', options: { url: `${sink.url}/${name}`, retry_delay: '10ms' }, ...extra });
  const hits = (name: string) => sink.requests.filter((r) => r.path === `/${name}`);

  it('sends the same event for the same host and incident once per recipient within the dedup window, also across restarts', async () => {
    const make = () => createNotificationService({ notifiers: [hook('dedup')], escalation: escalation(), redis, keyPrefix: 'dd', logger: captureLogger().logger });
    const first = make();
    const e = event({ type: 'incident-opened', severity: 'warning', incidentId: 'inc-d1' });
    expect(await first.notify(e)).toMatchObject([{ ok: true, attempts: 1 }]);
    expect(await first.notify({ ...e, at: e.at + 1000 })).toMatchObject([{ ok: true, attempts: 0, skipped: 'duplicate' }]);
    await first.stop();
    const restarted = make();
    expect(await restarted.notify(e)).toMatchObject([{ skipped: 'duplicate' }]);
    // Another incident of the same host is news.
    expect(await restarted.notify({ ...e, incidentId: 'inc-d2' })).toMatchObject([{ ok: true, attempts: 1 }]);
    await restarted.stop();
    expect(hits('dedup')).toHaveLength(2);
  });

  it('a host suspected (warning) and then confirmed dead and held back (critical) is paged twice: the severity is part of the event', async () => {
    const svc = createNotificationService({ notifiers: [hook('sev', { events: ['*', 'host-suspected'] })], escalation: escalation(), redis, keyPrefix: 'sev', logger: captureLogger().logger });
    const e = event({ type: 'host-suspected', severity: 'warning', host: 'cmp-9', incidentId: undefined, summary: 'cmp-9 is suspected down: confirming' });
    expect(await svc.notify(e)).toMatchObject([{ ok: true, attempts: 1 }]);
    const dead = { ...e, severity: 'critical' as const, summary: 'cmp-9 is confirmed dead and is not recovered: HA is disarmed', at: e.at + 5000 };
    expect(await svc.notify(dead)).toMatchObject([{ ok: true, attempts: 1 }]);
    // The same critical again is a repeat.
    expect(await svc.notify({ ...dead, at: dead.at + 1000 })).toMatchObject([{ skipped: 'duplicate' }]);
    await svc.stop();
    expect(hits('sev')).toHaveLength(2);
  });

  it('sends a failed delivery again on the next event (only delivered messages count as sent)', async () => {
    const port = await freePort();
    const e = event({ type: 'agent-down', severity: 'warning', incidentId: undefined, host: 'cmp-9' });
    const broken = createNotificationService({ notifiers: [notifier({ name: 'retry', type: 'webhook', options: { url: `http://127.0.0.1:${port}/x`, retries: '0' } })], escalation: escalation(), redis, keyPrefix: 'dd2', logger: captureLogger().logger });
    expect(await broken.notify(e)).toMatchObject([{ ok: false }]);
    await broken.stop();
    const fixed = createNotificationService({ notifiers: [notifier({ name: 'retry', type: 'webhook', options: { url: `${sink.url}/retry` } })], escalation: escalation(), redis, keyPrefix: 'dd2', logger: captureLogger().logger });
    expect(await fixed.notify(e)).toMatchObject([{ ok: true, attempts: 1 }]);
    await fixed.stop();
  });

  it('caps messages per recipient per hour so a flapping host cannot flood anyone', async () => {
    const { logger, lines } = captureLogger();
    const svc = createNotificationService({ notifiers: [hook('flap', { recipients: ['+15550003333'] })], escalation: escalation({ rateLimitPerHour: 3 }), redis, keyPrefix: 'rl', logger });
    const results = [];
    for (let i = 0; i < 5; i++) results.push(...(await svc.notify(event({ type: 'incident-opened', severity: 'warning', incidentId: `inc-flap-${i}` }))));
    await svc.stop();
    expect(results.map((r) => r.ok)).toEqual([true, true, true, false, false]);
    expect(results[3]).toMatchObject({ skipped: 'rate-limited', attempts: 0, error: 'rate limit: 3 messages to +15550003333 in the last hour already' });
    expect(hits('flap')).toHaveLength(3);
    expect(lines.filter((l) => l.includes('rate limit reached'))).toHaveLength(2);
  });

  it('tells each instance owner once per incident about their own instances, by Keystone email or metadata', async () => {
    const identity = new Directory({
      u1: { id: 'u1', name: 'alice', email: 'alice@example.org' },
      u2: { id: 'u2', name: 'bob', email: 'bob@example.org' },
      u3: { id: 'u3', name: 'carol' },
      u4: { id: 'u4', name: 'dave' },
    });
    const users = notifier({ name: 'owners', type: 'email', audience: 'users', options: { host: '127.0.0.1', port: String(smtp.port), tls: 'none', from: 'cloud@example.org' } });
    const sms = notifier({ name: 'owner-sms', type: 'webhook', audience: 'users', options: { preset: 'twilio-sms', base_url: `${sink.url}/sms`, account_sid: 'AC1', auth_token: new Secret('t0k3n-users'), from: '+15559990000' } });
    const svc = createNotificationService({
      notifiers: [users, sms],
      escalation: escalation({ userMetadataEmailKey: 'owner_email', userMetadataPhoneKey: 'owner_phone', notifyUsersSms: true }),
      identity,
      redis,
      keyPrefix: 'users',
      logger: captureLogger().logger,
    });
    const before = smtp.messages.length;
    const instances = [
      instance({ id: 'i-a1', name: 'alice-web', userId: 'u1', downtimeMs: 95_000 }),
      instance({ id: 'i-a2', name: 'alice-db', userId: 'u1', targetHost: 'cmp-8', downtimeMs: 140_000 }),
      instance({ id: 'i-b1', name: 'bob-app', userId: 'u2', targetHost: null, state: 'ERROR' }),
      instance({ id: 'i-c1', name: 'carol-vm', userId: 'u3', metadata: { owner_email: 'ops-team@example.org', owner_phone: '+15550004444' } }),
      instance({ id: 'i-d1', name: 'dave-vm', userId: 'u4' }),
    ];
    const e = event({ type: 'incident-partial', severity: 'warning', incidentId: 'inc-u1', instances });
    const records = await svc.notify(e);
    await smtp.waitForMessages(before + 3);
    const mails = smtp.messages.slice(before);
    const to = (addr: string) => mails.filter((m) => m.envelopeTo.includes(addr));
    expect(mails).toHaveLength(3);
    const alice = to('alice@example.org');
    expect(alice).toHaveLength(1);
    expect(alice[0]!.subject).toBe('[cmpha] Your instances were restarted on another host after cmp-3 failed');
    expect(alice[0]!.text).toContain('alice-web (i-a1): moved from cmp-3 to cmp-7, back after about 1m35s');
    expect(alice[0]!.text).toContain('alice-db (i-a2): moved from cmp-3 to cmp-8, back after about 2m20s');
    expect(alice[0]!.text).not.toContain('bob-app');
    expect(to('bob@example.org')[0]!.text).toContain('bob-app (i-b1): NOT moved yet and still down');
    expect(to('ops-team@example.org')[0]!.text).toContain('carol-vm (i-c1)');
    expect(identity.lookups.filter((u) => u === 'u1')).toHaveLength(1);
    expect(records.filter((r) => r.skipped === 'no-recipient').map((r) => r.error)).toEqual([
      'no email address for user u4 (Keystone has none; metadata key owner_email) (instance i-d1)',
      'no phone number for user u1 (metadata key owner_phone) (instance i-a1)',
      'no phone number for user u1 (metadata key owner_phone) (instance i-a2)',
      'no phone number for user u2 (metadata key owner_phone) (instance i-b1)',
      'no phone number for user u4 (metadata key owner_phone) (instance i-d1)',
    ]);
    const texts = hits('sms/2010-04-01/Accounts/AC1/Messages.json');
    expect(texts.map((r) => r.form.get('To'))).toEqual(['+15550004444']);
    expect(texts[0]!.form.get('Body')).toBe('cmpha: host cmp-3 failed; your instance(s) carol-vm were restarted on another host (inc-u1)');

    // The incident ends later: nobody hears about it twice.
    const again = await svc.notify({ ...e, type: 'incident-resolved', severity: 'info' });
    expect(again.filter((r) => r.ok && !r.skipped)).toEqual([]);
    expect(smtp.messages.length - before).toBe(3);
    await svc.stop();
  });

  it('sends no SMS to owners unless notify_users_sms is on, and no mail when notify_users is off', async () => {
    const users = notifier({ name: 'owners2', type: 'email', audience: 'users', options: { host: '127.0.0.1', port: String(smtp.port), tls: 'none', from: 'cloud@example.org' } });
    const sms = notifier({ name: 'owner-sms2', type: 'webhook', audience: 'users', options: { preset: 'twilio-sms', base_url: `${sink.url}/sms2`, account_sid: 'AC1', auth_token: new Secret('x-token'), from: '+15559990000' } });
    const inst = [instance({ metadata: { phone: '+15550005555' } })];
    const identity = new Directory({ u1: { id: 'u1', name: 'alice', email: 'alice@example.org' } });
    const off = createNotificationService({ notifiers: [users, sms], escalation: escalation({ userMetadataPhoneKey: 'phone' }), identity, logger: captureLogger().logger });
    const r1 = await off.notify(event({ incidentId: 'inc-u2', instances: inst }));
    expect(r1.map((r) => [r.channel, r.recipient, r.ok])).toEqual([['owners2', 'alice@example.org', true]]);
    const none = createNotificationService({ notifiers: [users, sms], escalation: escalation({ notifyUsers: false, notifyUsersSms: true, userMetadataPhoneKey: 'phone' }), identity, logger: captureLogger().logger });
    expect(await none.notify(event({ incidentId: 'inc-u3', instances: inst }))).toEqual([]);
    await off.stop();
    await none.stop();
    expect(sink.requests.filter((r) => r.path.startsWith('/sms2'))).toHaveLength(0);
  });

  it('a dead channel neither blocks nor prevents the others', async () => {
    const closed = await freePort();
    sink.respondWith((r) => (r.path === '/hang' ? { status: 200, hang: true } : { status: 200 }));
    const { logger } = captureLogger();
    const svc = createNotificationService({
      notifiers: [
        notifier({ name: 'dead-mail', type: 'email', recipients: ['ops@example.org'], options: { host: '127.0.0.1', port: String(closed), tls: 'none', from: 'c@example.org', retries: '3', retry_delay: '200ms' } }),
        notifier({ name: 'hanging', type: 'webhook', options: { url: `${sink.url}/hang`, timeout: '2s', retries: '0' } }),
        hook('alive'),
        notifier({ name: 'log', type: 'log' }),
      ],
      escalation: escalation(),
      logger,
    });
    let finished = false;
    const pending = svc.notify(event({ type: 'incident-failed', severity: 'critical', incidentId: 'inc-f1' })).then((r) => {
      finished = true;
      return r;
    });
    await sink.waitForRequests(sink.requests.length + 1);
    while (hits('alive').length === 0) await sink.waitForRequests(sink.requests.length + 1);
    // The working channel delivered while the others were still failing.
    expect(finished).toBe(false);
    const records = await pending;
    await svc.stop();
    sink.respondWith(() => ({ status: 200 }));
    const by = Object.fromEntries(records.map((r) => [r.channel, r]));
    expect(by.alive).toMatchObject({ ok: true, attempts: 1 });
    expect(by.log).toMatchObject({ ok: true });
    expect(by['dead-mail']).toMatchObject({ ok: false, attempts: 4 });
    expect(by['dead-mail']!.error).toContain('ECONNREFUSED');
    expect(by.hanging).toMatchObject({ ok: false, attempts: 1, error: `webhook ${sink.url} did not answer in time` });
  });
});
