import { describe, expect, it } from 'vitest';
import { hostUuid, masakariTime, parseGeneratedTime, validateNotification } from '../../../src/api/masakari-notifications.js';

const body = (n: Record<string, unknown>) => ({ notification: { type: 'COMPUTE_HOST', hostname: 'compute1', generated_time: '2017-04-24 08:34:46', payload: { event: 'STOPPED', host_status: 'UNKNOWN', cluster_status: 'OFFLINE' }, ...n } });

describe('Masakari notification intake', () => {
  it("accepts Masakari's own sample request", () => {
    expect(validateNotification(body({}))).toEqual({
      type: 'COMPUTE_HOST', hostname: 'compute1', generatedAt: Date.UTC(2017, 3, 24, 8, 34, 46), payload: { event: 'STOPPED', host_status: 'UNKNOWN', cluster_status: 'OFFLINE' },
    });
  });

  it("accepts the instance monitor's and the process monitor's payloads", () => {
    expect(validateNotification(body({ type: 'VM', payload: { event: 'LIFECYCLE', instance_uuid: 'a1', vir_domain_event: 'STOPPED_FAILED' } }))).toMatchObject({
      type: 'VM', payload: { event: 'LIFECYCLE', instance_uuid: 'a1', vir_domain_event: 'STOPPED_FAILED' },
    });
    expect(validateNotification(body({ type: 'PROCESS', payload: { event: 'stopped', process_name: 'nova-compute' } }))).toMatchObject({ type: 'PROCESS', payload: { event: 'stopped', process_name: 'nova-compute' } });
  });

  it.each([
    [{ type: 'VM' }, 400, 'invalid_notification', "Additional properties are not allowed ('host_status', 'cluster_status' were unexpected)"],
    [{ type: 'VM', payload: { event: 'LIFECYCLE', vir_domain_event: 'STOPPED_FAILED' } }, 400, 'invalid_notification', "'instance_uuid' is a required property"],
    [{ type: 'PROCESS', payload: { event: 'STOPPED' } }, 400, 'invalid_notification', "'process_name' is a required property"],
    [{ type: 'PROCESS', payload: { event: 'GONE', process_name: 'nova-compute' } }, 400, 'invalid_notification', 'It is not one of STARTED, STOPPED'],
    [{ type: 'DISK' }, 400, 'invalid_notification', 'It is not one of COMPUTE_HOST, VM, PROCESS'],
    [{ hostname: 'no spaces' }, 400, 'invalid_notification', 'field/attribute hostname'],
    [{ generated_time: 'yesterday' }, 400, 'invalid_notification', "It is not a 'date-time'"],
    [{ payload: { event: 'CRASHED' } }, 400, 'invalid_notification', 'It is not one of STARTED, STOPPED'],
    [{ payload: { host_status: 'UNKNOWN' } }, 400, 'invalid_notification', "'event' is a required property"],
    [{ payload: { event: 'STOPPED', extra: 1 } }, 400, 'invalid_notification', "Additional properties are not allowed ('extra' was unexpected)"],
    [{ segment: 'x' }, 400, 'invalid_notification', "('segment' was unexpected)"],
  ])('refuses %j with a clear error', (patch, status, code, message) => {
    let err: { status?: number; code?: string; message?: string } = {};
    try { validateNotification(body(patch)); } catch (e) { err = e as typeof err; }
    expect(err).toMatchObject({ status, code });
    expect(err.message).toContain(message);
  });

  it('reads the time forms Masakari accepts; no zone is UTC', () => {
    expect(parseGeneratedTime('2026-12-01T20:00:00')).toBe(Date.UTC(2026, 11, 1, 20));
    expect(parseGeneratedTime('2026-12-01T20:00:00.123456Z')).toBe(Date.UTC(2026, 11, 1, 20, 0, 0, 123));
    expect(parseGeneratedTime('2026-12-01T22:00:00+02:00')).toBe(Date.UTC(2026, 11, 1, 20));
    expect(parseGeneratedTime('2026-13-01T20:00:00')).toBeUndefined();
    expect(masakariTime(Date.UTC(2017, 3, 24, 8, 34, 46))).toBe('2017-04-24T08:34:46.000000');
  });

  it('gives every host a stable UUID of its own', () => {
    expect(hostUuid('compute1')).toBe(hostUuid('compute1'));
    expect(hostUuid('compute1')).not.toBe(hostUuid('compute2'));
    expect(hostUuid('compute1')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
