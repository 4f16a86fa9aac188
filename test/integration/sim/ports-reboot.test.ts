import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSim, type TestSim } from './sim-client.js';

// The simulator's Neutron ports and Nova's reboot action, held to what the real services answer.

let t: TestSim;
beforeAll(async () => {
  t = await startTestSim({ hosts: 2, instancesPerHost: 3, spares: 1 });
});
afterAll(async () => {
  await t.close();
});

const ports = async (deviceId: string) => {
  const r = await fetch(`${t.base}/network/v2.0/ports?device_id=${deviceId}`, { headers: { 'X-Auth-Token': t.token } });
  expect(r.status).toBe(200);
  return ((await r.json()) as { ports: Record<string, unknown>[] }).ports;
};

describe('simulated Neutron ports', () => {
  it('GET /v2.0/ports?device_id= answers the server\'s ports bound to its host; a binding fault makes them binding_failed and DOWN', async () => {
    const st = (await t.control('GET', '/state?host=compute1')).json;
    const active = st.servers.find((s: { status: string }) => s.status === 'ACTIVE');
    const before = await ports(active.id);
    expect(before.length).toBeGreaterThan(0);
    for (const p of before) expect(p).toMatchObject({ device_id: active.id, 'binding:host_id': 'compute1', 'binding:vif_type': 'ovs', status: 'ACTIVE' });
    expect((await t.control('POST', '/hosts/compute1/port-binding/fail')).status).toBe(200);
    for (const p of await ports(active.id)) expect(p).toMatchObject({ 'binding:host_id': 'compute1', 'binding:vif_type': 'binding_failed', status: 'DOWN' });
    const probe = (await t.control('POST', '/probe', { addresses: [active.ip] })).json;
    expect(probe[active.ip]).toBe(false);
    await t.control('POST', '/hosts/compute1/port-binding/ok');
    expect((await ports(active.id))[0]).toMatchObject({ 'binding:vif_type': 'ovs', status: 'ACTIVE' });
  });
});

describe('simulated Nova reboot', () => {
  it('202 for a HARD reboot; 400 for a bad type; a silent guest answers again after it', async () => {
    const st = (await t.control('GET', '/state?host=compute2')).json;
    const active = st.servers.find((s: { status: string }) => s.status === 'ACTIVE');
    expect((await t.nova('POST', `/servers/${active.id}/action`, { body: { reboot: { type: 'COLD' } } })).status).toBe(400);
    expect((await t.control('POST', `/servers/${active.id}/guest-silent`, { silent: true })).status).toBe(200);
    expect((await t.control('POST', '/probe', { addresses: [active.ip] })).json[active.ip]).toBe(false);
    const r = await t.nova('POST', `/servers/${active.id}/action`, { body: { reboot: { type: 'HARD' } } });
    expect(r.status).toBe(202);
    expect(r.text).toBe('');
    expect((await t.control('POST', '/probe', { addresses: [active.ip] })).json[active.ip]).toBe(true);
    const actions = (await t.nova('GET', `/servers/${active.id}/os-instance-actions`)).json.instanceActions as { action: string }[];
    expect(actions[0]!.action).toBe('reboot');
  });

  it('409 while a task runs on the server', async () => {
    const st = (await t.control('GET', '/state?host=compute1')).json;
    const active = st.servers.find((s: { status: string }) => s.status === 'ACTIVE');
    await t.control('POST', '/hosts/compute1/power-off');
    await t.forceDown('compute1');
    expect((await t.nova('POST', `/servers/${active.id}/action`, { mv: '2.53', body: { evacuate: { host: 'compute2' } } })).status).toBe(200);
    const r = await t.nova('POST', `/servers/${active.id}/action`, { body: { reboot: { type: 'HARD' } } });
    expect(r.status).toBe(409);
    expect(r.json.conflictingRequest.message).toMatch(/Cannot 'reboot' instance .* while it is in task_state/);
  });
});
