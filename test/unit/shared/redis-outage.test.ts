import { describe, expect, it } from 'vitest';
import { isRedisConnectionError, RedisOutageLog } from '../../../src/shared/redis-outage.js';
import type { Logger } from '../../../src/shared/logger.js';

function recordingLogger() {
  const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  const log = (level: string) => (fields: Record<string, unknown>, msg: string) => { lines.push({ level, msg, fields }); };
  const logger = { info: log('info'), warn: log('warn'), error: log('error'), debug: log('debug'), child: () => logger } as unknown as Logger;
  return { logger, lines };
}

describe('RedisOutageLog', () => {
  it('logs one warning when an outage starts, a reminder at most every minute, and one line when Redis is back', () => {
    const { logger, lines } = recordingLogger();
    let now = 1_000_000;
    const log = new RedisOutageLog(logger, () => now);
    // 5 errors a second for 150 s.
    for (let i = 0; i < 750; i++) {
      log.error(new Error('connect ECONNREFUSED 127.0.0.1:6379'));
      now += 200;
    }
    log.ready();
    expect(lines.map((l) => l.msg)).toEqual([
      'Redis unreachable: retrying; no incident can be opened or recovered until it is back',
      'Redis still unreachable',
      'Redis still unreachable',
      'Redis reachable again',
    ]);
    expect(lines[3]!.fields).toMatchObject({ downSeconds: 150, errors: 750 });
  });

  it('ignores errors that trail a recovery, but a later outage is logged again', () => {
    const { logger, lines } = recordingLogger();
    let now = 0;
    const log = new RedisOutageLog(logger, () => now);
    log.error(new Error('ECONNREFUSED'));
    now += 1000;
    log.ready();
    now += 500;
    log.error(new Error('Connection is closed.'));
    expect(log.down).toBe(false);
    now += 60_000;
    log.error(new Error('ECONNREFUSED'));
    expect(log.down).toBe(true);
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(2);
  });

  it('never logs a stack or a command\'s arguments, only the message', () => {
    const { logger, lines } = recordingLogger();
    const log = new RedisOutageLog(logger, () => 0);
    const err = Object.assign(new Error('WRONGPASS invalid username-password pair'), { command: { name: 'auth', args: ['cmpha', 's3cret-pw'] } });
    log.error(err);
    expect(JSON.stringify(lines)).not.toContain('s3cret-pw');
    expect(JSON.stringify(lines)).not.toContain('at ');
  });

  it('tells connection errors from other errors', () => {
    expect(isRedisConnectionError(new Error('connect ECONNREFUSED 127.0.0.1:1'))).toBe(true);
    expect(isRedisConnectionError(new Error('All sentinels are unreachable. Retrying from scratch after 100ms.'))).toBe(true);
    expect(isRedisConnectionError(new Error("READONLY You can't write against a read only replica."))).toBe(true);
    expect(isRedisConnectionError(new Error('Missing lock for job 12. moveToFinished'))).toBe(false);
  });
});
