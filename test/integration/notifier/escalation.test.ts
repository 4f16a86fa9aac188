import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Secret } from '../../../src/config/secret.js';
import { acknowledge, ackKey } from '../../../src/notifier/ack.js';
import { createNotificationService } from '../../../src/notifier/service.js';
import type { DeliveryRecord } from '../../../src/notifier/types.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { startWebhookSink, type WebhookSink } from '../../helpers/webhook-sink.js';
import { captureLogger, escalation, event, notifier } from '../../unit/notifier/fixtures.js';

const SID = 'AC00000000000000000000000000000001';

describe('escalation of critical events, acknowledged through Redis', () => {
  let redisServer: RedisServer;
  let redis: Redis;
  let operator: Redis;
  let sink: WebhookSink;
  beforeAll(async () => {
    redisServer = await startRedis();
    redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
    operator = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
    sink = await startWebhookSink(() => ({ status: 201 }));
  });
  afterAll(async () => {
    redis?.disconnect();
    operator?.disconnect();
    await sink?.close();
    await redisServer?.stop();
  });

  const phone = (name: string) =>
    notifier({
      name,
      type: 'webhook',
      audience: 'oncall',
      recipients: ['+15550002222'],
      options: { preset: 'twilio-call', base_url: `${sink.url}/${name}`, account_sid: SID, auth_token: new Secret('tok-esc'), from: '+15559990000', retry_delay: '10ms' },
    });
  const callsTo = (name: string) => sink.requests.filter((r) => r.path.startsWith(`/${name}/`));

  it('calls on-call again every repeat_every until someone acknowledges, then stops', async () => {
    const repeats: DeliveryRecord[] = [];
    const svc = createNotificationService({
      notifiers: [phone('acked')],
      escalation: escalation({ repeatEveryMs: 100, maxRepeats: 50 }),
      redis,
      keyPrefix: 'esc1',
      logger: captureLogger().logger,
      onDelivery: (records) => repeats.push(...records),
    });
    const records = await svc.notify(event({ type: 'fence-failed', severity: 'critical', incidentId: 'inc-esc-1', summary: 'power state unknown' }));
    expect(records).toMatchObject([{ channel: 'acked', ok: true }]);
    expect(callsTo('acked')[0]!.form.get('Twiml')).toContain('ack inc-esc-1');

    await sink.waitForRequests(sink.requests.length + 2);
    expect(svc.activeEscalations()).toHaveLength(1);
    // Acknowledged from elsewhere (another process, as `cmpha incidents ack` does): the loop reads Redis.
    await acknowledge(operator, 'esc1', 'inc-esc-1', 'alice');
    await svc.settled();
    const calls = callsTo('acked').length;
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(calls).toBeLessThan(51);
    expect(repeats.length).toBe(calls - 1);
    expect(repeats.every((r) => r.ok && r.channel === 'acked' && r.event === 'fence-failed')).toBe(true);
    expect(svc.activeEscalations()).toEqual([]);
    expect(JSON.parse((await operator.get(ackKey('esc1', 'inc-esc-1')))!)).toMatchObject({ by: 'alice' });

    // A later critical event of the same, acknowledged incident does not start repeating again.
    await svc.notify(event({ type: 'incident-failed', severity: 'critical', incidentId: 'inc-esc-1', summary: 'evacuation failed' }));
    expect(svc.activeEscalations()).toEqual([]);
    await svc.stop();
  });

  it('stops by itself after max_repeats when nobody answers', async () => {
    const svc = createNotificationService({
      notifiers: [phone('unanswered')],
      escalation: escalation({ repeatEveryMs: 50, maxRepeats: 3 }),
      redis,
      keyPrefix: 'esc2',
      logger: captureLogger().logger,
    });
    await svc.notify(event({ type: 'storm-brake', severity: 'critical', host: undefined, incidentId: undefined, summary: '5 of 8 hosts look dead' }));
    await svc.settled();
    expect(callsTo('unanswered')).toHaveLength(4);
    expect(svc.activeEscalations()).toEqual([]);
    await svc.stop();
  });

  it('acknowledge() through the service ends the repeats at once', async () => {
    const svc = createNotificationService({
      notifiers: [phone('direct')],
      escalation: escalation({ repeatEveryMs: 60_000, maxRepeats: 5 }),
      redis,
      keyPrefix: 'esc3',
      logger: captureLogger().logger,
    });
    await svc.notify(event({ type: 'controller-isolated', severity: 'critical', incidentId: 'inc-esc-3', summary: 'cannot reach isolation addresses' }));
    expect(svc.activeEscalations()).toHaveLength(1);
    await svc.acknowledge('inc-esc-3', 'bob');
    await svc.settled();
    expect(callsTo('direct')).toHaveLength(1);
    expect(await operator.exists(ackKey('esc3', 'inc-esc-3'))).toBe(1);
    await svc.stop();
  });

  it('does not page on-call for warnings, and stop() ends running escalations', async () => {
    const svc = createNotificationService({
      notifiers: [phone('quiet')],
      escalation: escalation({ repeatEveryMs: 60_000, maxRepeats: 5 }),
      redis,
      keyPrefix: 'esc4',
      logger: captureLogger().logger,
    });
    expect(await svc.notify(event({ type: 'agent-down', severity: 'warning' }))).toEqual([]);
    await svc.notify(event({ type: 'fence-failed', severity: 'critical', incidentId: 'inc-esc-4' }));
    expect(svc.activeEscalations()).toHaveLength(1);
    await svc.stop();
    expect(svc.activeEscalations()).toEqual([]);
    expect(callsTo('quiet')).toHaveLength(1);
  });
});

describe('when Redis is gone', () => {
  it('still notifies and keeps paging, without waiting for Redis to come back', async () => {
    const server = await startRedis();
    // As the app shares it with BullMQ: commands wait for a reconnect forever.
    const redis = new Redis(server.url, { maxRetriesPerRequest: null });
    redis.on('error', () => undefined); // reconnect attempts fail while the server is down; that is the point
    const sink = await startWebhookSink(() => ({ status: 201 }));
    try {
      await redis.ping();
      await server.stop();
      const { logger, lines } = captureLogger();
      const svc = createNotificationService({
        notifiers: [notifier({ name: 'pager', type: 'webhook', audience: 'oncall', recipients: ['+15550002222'], options: { preset: 'twilio-sms', base_url: sink.url, account_sid: 'AC1', auth_token: new Secret('t-k'), from: '+15559990000' } })],
        escalation: escalation({ repeatEveryMs: 20, maxRepeats: 2 }),
        redis,
        redisTimeoutMs: 100,
        logger,
      });
      const records = await svc.notify(event({ type: 'fence-failed', severity: 'critical', incidentId: 'inc-nr' }));
      expect(records).toMatchObject([{ channel: 'pager', ok: true }]);
      await svc.settled();
      expect(sink.requests).toHaveLength(3);
      expect(lines.some((l) => l.includes('Redis unavailable, using memory'))).toBe(true);
      expect(lines.some((l) => l.includes('cannot read acknowledgement; repeating the page'))).toBe(true);
      await svc.stop();
    } finally {
      redis.disconnect();
      await sink.close();
    }
  });
});
