import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Secret } from '../../../src/config/secret.js';
import { registerNotifyCommands, runNotifyTest } from '../../../src/cli/commands/notify.js';
import { acknowledgeIncident } from '../../../src/cli/commands/incidents.js';
import { freePort } from '../../helpers/ports.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { startSmtp, type SmtpServerHandle } from '../../helpers/smtp.js';
import { startWebhookSink, type WebhookSink } from '../../helpers/webhook-sink.js';
import { captureLogger, escalation, notifier } from '../../unit/notifier/fixtures.js';

function collector() {
  const chunks: string[] = [];
  return { write: (s: string) => chunks.push(s), text: () => chunks.join('') };
}

describe('cmpha notify test / ack', () => {
  let smtp: SmtpServerHandle;
  let sink: WebhookSink;
  let redisServer: RedisServer;
  let dir: string;
  beforeAll(async () => {
    smtp = await startSmtp({ users: { cmpha: 'right-password' } });
    sink = await startWebhookSink();
    redisServer = await startRedis();
    dir = mkdtempSync(path.join(tmpdir(), 'cmpha-notify-'));
  });
  afterAll(async () => {
    await smtp?.close();
    await sink?.close();
    await redisServer?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('prints one line per channel, ok or the error, and exits 1 when one failed', async () => {
    const closed = await freePort();
    const { logger, lines } = captureLogger();
    const out = collector();
    const err = collector();
    const config = {
      escalation: escalation(),
      notifiers: [
        notifier({ name: 'mail', type: 'email', recipients: ['ops@example.org'], options: { host: '127.0.0.1', port: String(smtp.port), tls: 'none', from: 'cmpha@example.org', username: 'cmpha', password: new Secret('right-password') } }),
        notifier({ name: 'pager', type: 'webhook', audience: 'oncall', recipients: ['+15550001111'], options: { preset: 'twilio-sms', base_url: `http://127.0.0.1:${closed}`, account_sid: 'AC9', auth_token: new Secret('pager-token-xyz'), from: '+15559990000', retries: '1', retry_delay: '10ms' } }),
        notifier({ name: 'owners', type: 'email', audience: 'users', options: { host: '127.0.0.1', port: String(smtp.port), tls: 'none', from: 'cmpha@example.org' } }),
        notifier({ name: 'log', type: 'log' }),
      ],
    };
    const before = smtp.messages.length;
    const code = await runNotifyTest(config, {}, out, err, logger);
    expect(code).toBe(1);
    expect(out.text().split('\n')).toEqual([
      'mail: ok (ops@example.org)',
      `pager: FAILED: +15550001111: cannot reach webhook http://127.0.0.1:${closed}: connect ECONNREFUSED 127.0.0.1:${closed} (after 2 attempts)`,
      'owners: skipped: no fixed recipients (an owner channel; set recipients = ... to test it)',
      'log: ok (log)',
      '',
    ]);
    const mail = smtp.messages[before]!;
    expect(mail.subject).toBe('[cmpha] INFO: Test notification');
    expect(mail.text).toContain('Test message from cmpha');
    expect(out.text() + lines.join('\n')).not.toContain('pager-token-xyz');
    expect(out.text() + lines.join('\n')).not.toContain('right-password');
  });

  it('tests only the named channel, and refuses an unknown name with exit 2', async () => {
    const hook = notifier({ name: 'chat', type: 'webhook', options: { preset: 'slack', url: `${sink.url}/chat` } });
    const dead = notifier({ name: 'dead', type: 'webhook', options: { url: `http://127.0.0.1:${await freePort()}/x`, retries: '0' } });
    const config = { escalation: escalation(), notifiers: [hook, dead] };
    const out = collector();
    expect(await runNotifyTest(config, { channel: 'chat' }, out, collector(), captureLogger().logger)).toBe(0);
    expect(out.text()).toBe('chat: ok (chat)\n');
    expect(JSON.parse(sink.requests.at(-1)!.body).text).toContain('Test notification');
    const err = collector();
    expect(await runNotifyTest(config, { channel: 'nope' }, collector(), err, captureLogger().logger)).toBe(2);
    expect(err.text()).toBe('cmpha: no notifier named "nope" (configured: chat, dead)\n');
  });

  it('runs from a real cmpha.conf through the command line', async () => {
    const conf = path.join(dir, 'cmpha.conf');
    writeFileSync(conf, [
      '[cloud]', 'auth_url = http://127.0.0.1:5000/v3', 'username = admin', 'password = x', 'project_name = admin',
      'user_domain_name = Default', 'project_domain_name = Default', '',
      '[logging]', 'level = silent', '',
      '[notifier:chat]', 'type = webhook', 'preset = slack', `url = ${sink.url}/from-conf`, '',
    ].join('\n'));
    const written: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      written.push(String(s));
      return true;
    });
    const program = new Command('cmpha').exitOverride();
    registerNotifyCommands(program);
    const saved = process.exitCode;
    await program.parseAsync(['notify', 'test', '--config', conf], { from: 'user' });
    const code = process.exitCode;
    process.exitCode = saved;
    vi.restoreAllMocks();
    expect(written.join('')).toBe('chat: ok (chat)\n');
    expect(code).toBe(0);
    expect(sink.requests.some((r) => r.path === '/from-conf')).toBe(true);
  });

  it('ack writes the acknowledgement to Redis under the configured prefix', async () => {
    const r = new Redis(redisServer.url);
    try {
      // No incident of that id: a page's ack id; its repeats stop all the same.
      expect(await acknowledgeIncident(r, 'site1', 'inc-99', 'carol')).toEqual({ kind: 'page' });
      expect(JSON.parse((await r.get('site1:ack:inc-99'))!)).toMatchObject({ by: 'carol' });
      await expect(acknowledgeIncident(r, 'site1', 'bad id with spaces', 'carol')).rejects.toThrow('"bad id with spaces" is not an incident id');
    } finally {
      r.disconnect();
    }
  });
});
