import { describe, expect, it } from 'vitest';
import { channelTakes } from '../../../src/notifier/routing.js';

const ch = (events: string[], minSeverity: 'info' | 'warning' | 'critical' = 'info', audience: 'admins' | 'users' | 'oncall' = 'admins') => ({ events, minSeverity, audience });

describe('channelTakes', () => {
  it('takes listed events at or above min_severity', () => {
    expect(channelTakes(ch(['incident-opened']), { type: 'incident-opened', severity: 'warning' })).toBe(true);
    expect(channelTakes(ch(['incident-opened']), { type: 'incident-resolved', severity: 'info' })).toBe(false);
    expect(channelTakes(ch(['*'], 'warning'), { type: 'incident-resolved', severity: 'info' })).toBe(false);
    expect(channelTakes(ch(['*'], 'warning'), { type: 'agent-down', severity: 'warning' })).toBe(true);
  });

  it('leaves host-suspected out of * unless named', () => {
    expect(channelTakes(ch(['*']), { type: 'host-suspected', severity: 'info' })).toBe(false);
    expect(channelTakes(ch(['*', 'host-suspected']), { type: 'host-suspected', severity: 'info' })).toBe(true);
  });

  it('routes with the severity floor of the event type', () => {
    expect(channelTakes(ch(['*'], 'critical'), { type: 'fence-failed', severity: 'info' })).toBe(true);
  });

  it('pages on-call for critical events only', () => {
    expect(channelTakes(ch(['*'], 'info', 'oncall'), { type: 'agent-down', severity: 'warning' })).toBe(false);
    expect(channelTakes(ch(['*'], 'info', 'oncall'), { type: 'storm-brake', severity: 'critical' })).toBe(true);
    expect(channelTakes(ch(['*'], 'info', 'oncall'), { type: 'incident-failed', severity: 'critical' })).toBe(true);
  });
});
