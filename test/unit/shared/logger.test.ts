import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { captureLogger } from '../../helpers/capture-logger.js';
import { createLogger } from '../../../src/shared/logger.js';


/** Keys of a raw JSON line as written, duplicates included (JSON.parse would hide them). */
function rawKeys(line: string): string[] {
  return [...line.matchAll(/[{,]"([^"]+)":/g)].map((m) => m[1]!);
}

describe('log lines', () => {
  it('carry each key once when a child binds a key the logged object repeats', () => {
    const { logger, lines } = captureLogger();
    logger.child({ component: 'pipeline' }).child({ incidentId: 'cmp-3-1700000000' })
      .info({ incidentId: 'cmp-3-1700000000', step: 'fence' }, 'fenced');
    const keys = rawKeys(lines[0]!);
    expect(keys.filter((k) => k === 'incidentId')).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ component: 'pipeline', incidentId: 'cmp-3-1700000000', step: 'fence', msg: 'fenced' });
  });

  it('let an inner child\'s binding replace an outer one of the same name', () => {
    const { logger, lines } = captureLogger();
    const doctor = logger.child({ component: 'cli' }).child({ component: 'doctor' });
    doctor.warn({ check: 'redis' }, 'appendonly is off');
    doctor.child({ host: 'cmp-1' }).error({ component: 'fencing' }, 'BMC unreachable');
    expect(lines.map((l) => rawKeys(l).filter((k) => k === 'component').length)).toEqual([1, 1]);
    expect(lines.map((l) => (JSON.parse(l) as { component: string }).component)).toEqual(['doctor', 'fencing']);
    expect(JSON.parse(lines[1]!)).toMatchObject({ host: 'cmp-1', level: 50 });
  });

  it('still redacts secrets and honours the level', () => {
    const { logger, lines } = captureLogger();
    logger.child({ component: 'x' }).info({ component: 'x', password: 'hunter2-secret' }, 'login');
    expect(lines[0]).not.toContain('hunter2-secret');
    expect(JSON.parse(lines[0]!)).toMatchObject({ password: '***' });
    const quiet = createLogger({ level: 'warn', destination: new Writable({ write(_c, _e, cb) { lines.push('written'); cb(); } }) });
    quiet.child({ a: 1 }).info({ a: 2 }, 'not written');
    expect(lines).toHaveLength(1);
  });
});
