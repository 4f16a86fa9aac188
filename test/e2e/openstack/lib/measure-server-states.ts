// What a dead host leaves behind, and what Nova then accepts: one server per state on compute1, its
// nova-compute killed, each server's state and Nova's answers to evacuate, os-resetState and lock printed as
// one JSON line per observation. Run under the lab lock, as root, from the repository:
//   source /var/lib/cmpha-lab/etc/openrc && openstack quota set --instances 40 --cores 40 admin
//   flock -w 1500 /run/cmpha-lab.lock npx tsx test/e2e/openstack/lib/measure-server-states.ts
// Figures go to docs/openstack-lab.md ("Server states on a dead host"). Leaves the lab reset.
import { labHost, LabNova, readLab, resetLab, until, type NovaServer } from '../lab.js';

const SOURCE = 'compute1';
const TARGET = 'compute2';

const lab = readLab();
const nova = await LabNova.connect(lab);
const rest = nova.rest;
const out = (o: Record<string, unknown>) => console.log(JSON.stringify(o));

interface Srv extends NovaServer { locked?: boolean; locked_reason?: string | null }
const show = async (id: string): Promise<Srv> => (await rest.novaOk<{ server: Srv }>('GET', `/servers/${id}`, undefined, '2.73')).server;
const brief = (s: Srv) => ({ status: s.status, vm_state: s['OS-EXT-STS:vm_state'], task_state: s['OS-EXT-STS:task_state'], host: s['OS-EXT-SRV-ATTR:host'], locked: s.locked, locked_reason: s.locked_reason });
const action = async (id: string, body: unknown, mv = '2.73') => {
  const r = await rest.nova('POST', `/servers/${id}/action`, body, mv);
  return { status: r.status, body: r.text.slice(0, 300) };
};
const settle = (id: string, what: string, ok: (s: Srv) => boolean, ms = 120_000) => until(what, ms, async () => { const s = await show(id); return ok(s) ? s : undefined; }, 1000);

await resetLab(nova);
const flavors = (await rest.novaOk<{ flavors: { id: string; name: string }[] }>('GET', '/flavors')).flavors;
let small = flavors.find((f) => f.name === 'lab.small')?.id;
if (!small) small = (await rest.novaOk<{ flavor: { id: string } }>('POST', '/flavors', { flavor: { name: 'lab.small', vcpus: 1, ram: 96, disk: 0 } })).flavor.id;
const image = (await rest.call<{ images: { id: string }[] }>('image', 'GET', '/v2/images?name=lab-image')).body.images[0]!.id;

const names = ['active', 'error', 'shutoff', 'paused', 'suspended', 'rescued', 'shelved', 'locked', 'reboot', 'resize', 'snapshot', 'livemig', 'coldmig', 'errtask'] as const;
const ids: Record<string, string> = {};
// The admin project's default quota (10 instances) is below this run's 14 servers: run
// `openstack quota set --instances 40 --cores 40 admin` first (the lab keeps it).
for (let i = 0; i < names.length; i += 5) {
  await Promise.all(names.slice(i, i + 5).map(async (n) => { ids[n] = (await nova.boot(`st-${n}`, SOURCE)).id; }));
}

// States that need a living compute: made before it dies.
out({ step: 'os-resetState error', ...(await action(ids.error!, { 'os-resetState': { state: 'error' } })) });
out({ step: 'os-stop', ...(await action(ids.shutoff!, { 'os-stop': null })) });
out({ step: 'pause', ...(await action(ids.paused!, { pause: null })) });
out({ step: 'suspend', ...(await action(ids.suspended!, { suspend: null })) });
out({ step: 'rescue', ...(await action(ids.rescued!, { rescue: null })) });
out({ step: 'shelve', ...(await action(ids.shelved!, { shelve: null })) });
out({ step: 'lock 2.73 with locked_reason', ...(await action(ids.locked!, { lock: { locked_reason: 'owner: do not touch' } })) });
await settle(ids.shutoff!, 'shutoff', (s) => s.status === 'SHUTOFF');
await settle(ids.paused!, 'paused', (s) => s.status === 'PAUSED');
await settle(ids.suspended!, 'suspended', (s) => s.status === 'SUSPENDED');
await settle(ids.rescued!, 'rescued', (s) => s.status === 'RESCUE');
await settle(ids.shelved!, 'shelved', (s) => s.status.startsWith('SHELVED') && s['OS-EXT-STS:task_state'] === null);

// The host dies (agent SIGKILLed); Nova still believes it up for service_down_time, so actions are accepted
// and cast to a compute that will never take them.
await labHost('compute-stop', SOURCE, 'KILL');
const t0 = Date.now();
out({ step: 'reboot HARD', ...(await action(ids.reboot!, { reboot: { type: 'HARD' } })) });
out({ step: 'resize', ...(await action(ids.resize!, { resize: { flavorRef: small } })) });
out({ step: 'createImage', ...(await action(ids.snapshot!, { createImage: { name: 'st-snap' } })) });
out({ step: 'os-migrateLive', ...(await action(ids.livemig!, { 'os-migrateLive': { host: TARGET, block_migration: 'auto' } })) });
out({ step: 'migrate', ...(await action(ids.coldmig!, { migrate: null })) });
out({ step: 'reboot HARD (to be reset to error)', ...(await action(ids.errtask!, { reboot: { type: 'HARD' } })) });
await new Promise((r) => setTimeout(r, 5000));
for (const n of names) out({ step: 'after the kill, service still up', server: n, ...brief(await show(ids[n]!)) });
await until(`${SOURCE} down`, 120_000, async () => (await nova.service(SOURCE)).state === 'down', 1000);
out({ step: `${SOURCE} reads down`, seconds: Math.round((Date.now() - t0) / 1000) });
// The conductor's RPC to the dead source times out after rpc_response_timeout (60 s): let that happen.
await new Promise((r) => setTimeout(r, Math.max(0, 70_000 - (Date.now() - t0))));
const fd = await nova.updateService(SOURCE, { forced_down: true });
out({ step: 'forced_down true', status: fd.status });
const before: Record<string, Srv> = {};
for (const n of names) { before[n] = await show(ids[n]!); out({ step: 'on the dead host', server: n, ...brief(before[n]!) }); }

// Evacuate as it is.
const evac = (n: string) => action(ids[n]!, { evacuate: { host: TARGET } }, '2.29');
const accepted: string[] = [];
for (const n of names) {
  const r = await evac(n);
  out({ step: 'evacuate as is', server: n, ...r });
  if (r.status === 200) accepted.push(n);
}
// The refused: os-resetState, then evacuate again.
for (const n of names.filter((x) => !accepted.includes(x))) {
  const state = n === 'errtask' ? 'error' : 'active';
  const rr = await action(ids[n]!, { 'os-resetState': { state } });
  const s = await show(ids[n]!);
  out({ step: `os-resetState ${state}`, server: n, ...rr, after: brief(s) });
  const r = await evac(n);
  out({ step: 'evacuate after reset', server: n, ...r });
  if (r.status === 200) accepted.push(n);
}
for (const n of accepted) {
  const s = await settle(ids[n]!, `${n} rebuilt`, (x) => x['OS-EXT-STS:task_state'] === null && x.status !== 'REBUILD', 180_000).catch(async () => show(ids[n]!));
  out({ step: 'after evacuate', server: n, was: before[n]!.status, ...brief(s) });
}
// A locked server stays locked through the evacuation; the lock belongs to whoever set it.
out({ step: 'unlock by admin', ...(await action(ids.locked!, { unlock: null })) });
out({ step: 'locked after unlock', ...brief(await show(ids.locked!)) });
const snaps = (await rest.call<{ images: { id: string; name: string; status: string }[] }>('image', 'GET', '/v2/images?name=st-snap')).body.images;
out({ step: 'snapshot images', images: snaps.map((i) => i.status) });
for (const i of snaps) await rest.call('image', 'DELETE', `/v2/images/${i.id}`);
void image;
await resetLab(nova);
out({ step: 'lab reset' });
