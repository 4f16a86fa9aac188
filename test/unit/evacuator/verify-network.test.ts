import { describe, expect, it } from 'vitest';
import { portOf } from '../../../src/compute/nova/index.js';
import type { GuestPort } from '../../../src/compute/types.js';
import { downFrom, judgePorts } from '../../../src/evacuator/verify-network.js';
import type { IncidentRecord } from '../../../src/incidents/types.js';
import { toPort } from '../../../src/openstack/neutron.js';
import type { Port } from '../../../src/openstack/types.js';

// Neutron's port as the Nova adapter hands it to the recovery.
const port = (p: Partial<Port> = {}): GuestPort => portOf({
  id: 'p1', deviceId: 's1', networkId: 'n1', status: 'ACTIVE', hostId: 'spare1', vifType: 'ovs', fixedIps: ['198.18.32.11'], securityGroups: [], ...p,
});

describe('judgePorts: the server\'s ports came with it', () => {
  it('accepts ports bound to the new host and ACTIVE', () => {
    expect(judgePorts([port(), port({ id: 'p2' })], 'spare1')).toEqual({ kind: 'ok' });
  });
  it('a binding_failed port is final, whatever its status', () => {
    expect(judgePorts([port(), port({ id: 'p2', vifType: 'binding_failed', status: 'DOWN' })], 'spare1'))
      .toEqual({ kind: 'failed', issue: 'port-binding', why: 'port p2 binding_failed on spare1' });
  });
  it('a port still bound to the old host, or to none, is waited for', () => {
    expect(judgePorts([port({ hostId: 'compute1' })], 'spare1')).toMatchObject({ kind: 'waiting', issue: 'port-binding', why: 'port p1 bound to compute1, not spare1' });
    expect(judgePorts([port({ hostId: '' })], 'spare1')).toMatchObject({ kind: 'waiting', why: 'port p1 bound to no host, not spare1' });
  });
  it('a bound port that is not ACTIVE points at the L2 agent', () => {
    expect(judgePorts([port({ status: 'DOWN' })], 'spare1')).toMatchObject({ kind: 'waiting', issue: 'port-down' });
  });
  it('without the right to read bindings only the status counts, and says so', () => {
    expect(judgePorts([port({ hostId: null, vifType: null })], 'spare1')).toEqual({ kind: 'ok', note: 'port bindings not readable with this token: status only' });
  });
});

describe('toPort: Neutron\'s answer as cmpha reads it', () => {
  it('reads the binding fields, and null when the token may not see them', () => {
    expect(toPort({ id: 'p', device_id: 'd', network_id: 'n', status: 'DOWN', 'binding:host_id': 'h', 'binding:vif_type': 'binding_failed', fixed_ips: [{ ip_address: '198.18.0.9' }] }, '/v2.0/ports'))
      .toMatchObject({ id: 'p', hostId: 'h', vifType: 'binding_failed', status: 'DOWN', fixedIps: ['198.18.0.9'] });
    expect(toPort({ id: 'p', status: 'ACTIVE' }, '/v2.0/ports')).toMatchObject({ hostId: null, vifType: null });
  });
  it('refuses a port without an id, naming the request', () => {
    expect(() => toPort({ status: 'ACTIVE' }, '/v2.0/ports')).toThrow(/Neutron answered a port without an id for \/v2.0\/ports/);
  });
});

describe('downFrom: when the user\'s downtime began', () => {
  const rec = { failureStartedAt: 10_000, lastAliveAt: 8_000 } as IncidentRecord;
  it('is the latest sign of life of the host or the server\'s addresses', () => {
    expect(downFrom(rec, [{ ip: 'a', lastAliveAt: 5_000 }])).toBe(8_000);
    expect(downFrom(rec, [{ ip: 'a', lastAliveAt: 9_000 }])).toBe(9_000);
    expect(downFrom({ ...rec, lastAliveAt: undefined }, undefined)).toBe(10_000);
  });
});
