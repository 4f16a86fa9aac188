/**
 * What checking Nova's answers at the client boundary costs. Builds pages of servers and services shaped as the
 * simulator (and real Nova at 2.93) sends them, and times, in one run: JSON.parse of the text alone, and
 * JSON.parse followed by the answer check and mapping cmpha does (src/openstack/nova-mappers.ts). The check's
 * share is given as a ratio to the parse.
 *
 *   npx tsx bench/answer-check.ts [--servers 500] [--rounds 200]
 */
import { novaAnswers } from '../src/openstack/nova-mappers.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
const n = arg('--servers', 500);
const rounds = arg('--rounds', 200);

const server = (i: number) => ({
  id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, name: `vm-${i}`, status: 'ACTIVE', tenant_id: 'p1', user_id: 'u1',
  metadata: { ha_priority: '5' }, hostId: 'abc', image: { id: 'img', links: [] },
  flavor: { vcpus: 2, ram: 4096, disk: 20, ephemeral: 0, swap: 0, original_name: 'm1.medium', extra_specs: {} },
  created: '2026-11-25T10:00:00Z', updated: '2026-11-25T10:00:00Z',
  addresses: { provider: [{ version: 4, addr: `198.18.${i >> 8}.${i & 255}`, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': 'fa:16:3e:00:00:01' }] },
  accessIPv4: '', accessIPv6: '', links: [], 'OS-DCF:diskConfig': 'MANUAL', 'OS-EXT-AZ:availability_zone': 'nova',
  'OS-EXT-STS:task_state': null, 'OS-EXT-STS:vm_state': 'active', 'OS-EXT-STS:power_state': 1,
  'OS-EXT-SRV-ATTR:host': 'compute1', 'OS-EXT-SRV-ATTR:hypervisor_hostname': 'compute1',
});
const service = (i: number) => ({
  id: `00000000-0000-4000-9000-${String(i).padStart(12, '0')}`, binary: 'nova-compute', host: `compute${i}`, zone: 'nova',
  state: 'up', status: 'enabled', forced_down: false, disabled_reason: null, updated_at: '2026-11-25T10:00:00.000000',
});
const serversText = JSON.stringify({ servers: Array.from({ length: n }, (_, i) => server(i)) });
const servicesText = JSON.stringify({ services: Array.from({ length: 5 * n }, (_, i) => service(i)) });

function time(fn: () => void): number {
  for (let i = 0; i < Math.min(20, rounds); i++) fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1e6 / rounds;
}

const rows: Array<[string, number, number]> = [];
for (const [what, text, check] of [
  [`servers/detail page, ${n} servers (${(serversText.length / 1e6).toFixed(2)} MB)`, serversText, novaAnswers.servers],
  [`os-services, ${5 * n} services (${(servicesText.length / 1e6).toFixed(2)} MB)`, servicesText, novaAnswers.services],
] as const) {
  const parse = time(() => { JSON.parse(text); });
  const checked = time(() => { (check as (d: unknown) => unknown)(JSON.parse(text)); });
  rows.push([what, parse, checked]);
}
console.log(`Node ${process.version}, ${rounds} rounds each`);
console.log('| answer | JSON.parse alone | parse + check + map | ratio |');
console.log('| --- | --- | --- | --- |');
for (const [what, parse, checked] of rows) console.log(`| ${what} | ${parse.toFixed(2)} ms | ${checked.toFixed(2)} ms | ${(checked / parse).toFixed(2)}× |`);
