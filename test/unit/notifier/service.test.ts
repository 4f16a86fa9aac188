import { describe, expect, it } from 'vitest';
import type { NotifierConfig } from '../../../src/config/types.js';
import { createNotificationService } from '../../../src/notifier/service.js';
import type { Channel, RenderedMessage } from '../../../src/notifier/types.js';
import { captureLogger, escalation, event, notifier } from './fixtures.js';

type Behaviour = (message: RenderedMessage, recipient: string, signal: AbortSignal) => Promise<{ attempts: number }>;

/** Channels whose behaviour a test decides, recording what they were asked to send. */
function fakeChannels(behaviours: Record<string, Behaviour>) {
  const sent: { channel: string; recipient: string; message: RenderedMessage }[] = [];
  const factory = (n: NotifierConfig) => {
    const channel: Channel = {
      name: n.name,
      kind: 'webhook',
      budgetMs: 100,
      send: (message, recipient, signal) => {
        sent.push({ channel: n.name, recipient, message });
        return (behaviours[n.name] ?? (async () => ({ attempts: 1 })))(message, recipient, signal);
      },
    };
    return { channel, options: { type: 'log' as const } };
  };
  return { sent, factory };
}

describe('notification service', () => {
  it('writes to the log when no notifier is configured', async () => {
    const { logger, lines } = captureLogger();
    const svc = createNotificationService({ notifiers: [], escalation: escalation(), logger, clock: { now: () => 1234 } });
    const records = await svc.notify(event({ type: 'agent-down', severity: 'warning', summary: 'nova-compute stopped on cmp-3' }));
    await svc.stop();
    expect(records).toEqual([{ channel: 'log', recipient: 'log', event: 'agent-down', ok: true, attempts: 1, at: 1234 }]);
    const line = JSON.parse(lines.find((l) => l.includes('nova-compute stopped'))!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 40, channel: 'log', notification: 'agent-down', host: 'cmp-3', msg: 'cmpha WARN agent-down cmp-3: nova-compute stopped on cmp-3' });
  });

  it('logs the whole alert, beyond 160 characters, with its details and what to do next', async () => {
    const { logger, lines } = captureLogger();
    const svc = createNotificationService({ notifiers: [], escalation: escalation(), logger, clock: { now: () => 1234 } });
    const summary = `storm brake on, no incidents opened: 5 hosts look dead or suspect (cmp-1, cmp-2, cmp-3, cmp-4, cmp-5), more than max_dead_hosts = 2; the last words here must survive`;
    await svc.notify(event({ type: 'storm-brake', severity: 'critical', host: undefined, summary, details: 'Resolve the cause, or run `cmpha resume` to let the current hosts through.' }));
    await svc.stop();
    const line = JSON.parse(lines.find((l) => l.includes('storm brake on'))!) as Record<string, string>;
    expect(line.msg).toBe(`cmpha CRIT storm-brake: ${summary}`);
    expect(line.msg!.length).toBeGreaterThan(160);
    expect(line.details).toBe('Resolve the cause, or run `cmpha resume` to let the current hosts through.');
    expect(line.action).toMatch(/\S/);
  });

  it('routes each event only to the channels that take it', async () => {
    const { sent, factory } = fakeChannels({});
    const svc = createNotificationService({
      notifiers: [
        notifier({ name: 'all', recipients: ['a'] }),
        notifier({ name: 'critical-only', minSeverity: 'critical', recipients: ['c'] }),
        notifier({ name: 'resolved', events: ['incident-resolved'], recipients: ['r'] }),
        notifier({ name: 'suspects', events: ['host-suspected'], recipients: ['s'] }),
      ],
      escalation: escalation(),
      logger: captureLogger().logger,
      channelFactory: factory,
    });
    await svc.notify(event({ type: 'host-suspected', severity: 'info', incidentId: undefined }));
    await svc.notify(event({ type: 'incident-opened', severity: 'warning' }));
    await svc.notify(event({ type: 'incident-failed', severity: 'critical' }));
    await svc.notify(event({ type: 'incident-resolved', severity: 'info', incidentId: 'inc-2' }));
    await svc.stop();
    expect(sent.map((s) => `${s.message.event}->${s.channel}`)).toEqual([
      'host-suspected->suspects',
      'incident-opened->all',
      'incident-failed->all', 'incident-failed->critical-only',
      'incident-resolved->all', 'incident-resolved->resolved',
    ]);
  });

  it('never throws and never waits on a channel that hangs or blows up', async () => {
    const { factory } = fakeChannels({
      hangs: () => new Promise(() => undefined),
      throws: () => { throw 'not even an Error'; },
      rejects: async () => { throw new Error('gateway on fire'); },
    });
    const svc = createNotificationService({
      notifiers: ['hangs', 'throws', 'rejects', 'fine'].map((name) => notifier({ name, recipients: ['x'] })),
      escalation: escalation(),
      logger: captureLogger().logger,
      channelFactory: factory,
    });
    const records = await svc.notify(event());
    await svc.stop();
    expect(Object.fromEntries(records.map((r) => [r.channel, [r.ok, r.error]]))).toEqual({
      hangs: [false, 'gave up: channel time budget used up'],
      throws: [false, 'not even an Error'],
      rejects: [false, 'gateway on fire'],
      fine: [true, undefined],
    });
  });

  it('ignores an unknown event type instead of throwing', async () => {
    const { logger, lines } = captureLogger();
    const svc = createNotificationService({ notifiers: [], escalation: escalation(), logger });
    expect(await svc.notify({ ...event(), type: 'bogus' as never })).toEqual([]);
    await svc.stop();
    expect(lines.some((l) => l.includes('unknown notification event'))).toBe(true);
  });

  it('fails at construction on bad channel options, naming the notifier and key', () => {
    expect(() => createNotificationService({ notifiers: [notifier({ name: 'm', type: 'email', recipients: ['a@b.c'], options: { from: 'x@y.z' } })], escalation: escalation(), logger: captureLogger().logger }))
      .toThrow('[notifier:m] host: is required for an email notifier (the SMTP server)');
  });
});

describe('channel construction', () => {
  it('names the notifier and the file when cacert cannot be read', () => {
    expect(() => createNotificationService({
      notifiers: [notifier({ name: 'hook', type: 'webhook', options: { url: 'https://hook.example/', cacert: '/nonexistent/ca.pem' } })],
      escalation: escalation(),
      logger: captureLogger().logger,
    })).toThrow('[notifier:hook] cacert: cannot read /nonexistent/ca.pem: ENOENT');
  });
});
