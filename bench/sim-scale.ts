/**
 * Simulator scale: a world of 5,000 hosts × 20 servers. Times startup, a full paginated
 * servers/detail?all_tenants=1 walk (limit 1000), the nova-compute service list and the hypervisor list,
 * prints the figures and writes them under "Simulator scale" in docs/benchmarks.md.
 *
 *   npx tsx bench/sim-scale.ts [--hosts 5000] [--per-host 20] [--no-write]
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runSim } from '../src/sim/index.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const hosts = arg('--hosts', 5000);
const perHost = arg('--per-host', 20);
const write = !process.argv.includes('--no-write');
const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await fn();
  return [v, performance.now() - t0];
}

const [sim, startMs] = await timed(() => runSim({ hosts, instancesPerHost: perHost, spares: 10 }));
try {
  const creds = (await (await fetch(`${sim.controlUrl}/sim/credentials`)).json()) as { admin: { username: string; password: string } };
  const auth = await fetch(`${sim.authUrl}/auth/tokens`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { name: creds.admin.username, domain: { name: 'Default' }, password: creds.admin.password } } },
        scope: { project: { name: 'admin', domain: { name: 'Default' } } },
      },
    }),
  });
  const token = auth.headers.get('x-subject-token')!;
  const headers = { 'X-Auth-Token': token, 'OpenStack-API-Version': 'compute 2.53' };
  const compute = `${sim.controlUrl}/compute/v2.1`;

  const [walk, walkMs] = await timed(async () => {
    let url: string | undefined = `${compute}/servers/detail?all_tenants=1&limit=1000`;
    let count = 0;
    let pages = 0;
    let bytes = 0;
    while (url) {
      const r = await fetch(url, { headers });
      const text = await r.text();
      if (r.status !== 200) throw new Error(`servers/detail ${r.status}: ${text.slice(0, 200)}`);
      bytes += text.length;
      const body = JSON.parse(text) as { servers: unknown[]; servers_links?: { rel: string; href: string }[] };
      count += body.servers.length;
      pages++;
      url = body.servers_links?.find((l) => l.rel === 'next')?.href;
    }
    return { count, pages, bytes };
  });

  const [services, servicesMs] = await timed(async () => {
    const r = await fetch(`${compute}/os-services?binary=nova-compute`, { headers });
    return ((await r.json()) as { services: unknown[] }).services.length;
  });

  const [hyps, hypsMs] = await timed(async () => {
    let url: string | undefined = `${compute}/os-hypervisors/detail?limit=1000`;
    let n = 0;
    while (url) {
      const r = await fetch(url, { headers });
      const body = (await r.json()) as { hypervisors: unknown[]; hypervisors_links?: { rel: string; href: string }[] };
      n += body.hypervisors.length;
      url = body.hypervisors_links?.find((l) => l.rel === 'next')?.href;
    }
    return n;
  });

  const [hostPage, hostMs] = await timed(async () => {
    const r = await fetch(`${compute}/servers/detail?all_tenants=1&host=compute2500`, { headers });
    return ((await r.json()) as { servers: unknown[] }).servers.length;
  });

  // The detector's call, about every 5 s: what Nova changed in the last minute (nothing, in a quiet cloud).
  const since = new Date(Date.now() - 60_000).toISOString();
  const [changed, changedMs] = await timed(async () => {
    const r = await fetch(`${compute}/servers/detail?all_tenants=1&changes-since=${since}&limit=500`, { headers });
    return ((await r.json()) as { servers: unknown[] }).servers.length;
  });

  const peakRss = process.resourceUsage().maxRSS * 1024;
  const figures = {
    hosts: sim.world.hostList.length,
    servers: sim.world.serverList.length,
    startMs: Math.round(startMs),
    walkMs: Math.round(walkMs),
    walkPages: walk.pages,
    walkServers: walk.count,
    walkMb: mb(walk.bytes),
    servicesMs: Math.round(servicesMs),
    services,
    hypervisorsMs: Math.round(hypsMs),
    hypervisors: hyps,
    hostFilterMs: Math.round(hostMs),
    hostFilterServers: hostPage,
    changesSinceMs: Math.round(changedMs),
    changesSinceServers: changed,
    peakRssMb: mb(peakRss),
  };
  console.log(JSON.stringify(figures, null, 2));
  if (figures.walkServers !== figures.servers) throw new Error(`the walk saw ${figures.walkServers} of ${figures.servers} servers`);
  if (startMs > 30_000) console.error(`startup took ${figures.startMs} ms: over the 30 s target`);

  if (write) {
    const file = path.join(import.meta.dirname, '..', 'docs', 'benchmarks.md');
    const section = [
      '## Simulator scale',
      '',
      `Measured with \`npx tsx bench/sim-scale.ts\` on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim() ?? 'unknown'}), in-process over loopback HTTP.`,
      '',
      '| what | figure |',
      '| --- | --- |',
      `| world | ${figures.hosts} hosts, ${figures.servers} servers |`,
      `| startup (build world, listen, write cmpha.conf) | ${(figures.startMs / 1000).toFixed(2)} s (target < 30 s) |`,
      `| full \`servers/detail?all_tenants=1\` walk, limit 1000 | ${(figures.walkMs / 1000).toFixed(2)} s, ${figures.walkPages} pages, ${figures.walkMb} MB of JSON |`,
      `| \`os-services?binary=nova-compute\` | ${figures.servicesMs} ms, ${figures.services} services |`,
      `| \`os-hypervisors/detail\` walk, limit 1000 | ${figures.hypervisorsMs} ms, ${figures.hypervisors} hypervisors |`,
      `| \`servers/detail?all_tenants=1&host=compute2500\` | ${figures.hostFilterMs} ms, ${figures.hostFilterServers} servers |`,
      `| \`servers/detail?all_tenants=1&changes-since=<a minute ago>\` (the detector's call, about every 5 s) | ${figures.changesSinceMs} ms, ${figures.changesSinceServers} servers |`,
      `| peak RSS | ${figures.peakRssMb} MB |`,
      '',
      '',
    ].join('\n');
    let doc = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n\n';
    const start = doc.indexOf('## Simulator scale');
    if (start >= 0) {
      const next = doc.indexOf('\n## ', start + 1);
      doc = doc.slice(0, start) + section + (next >= 0 ? doc.slice(next + 1) : '');
    } else {
      doc = `${doc.replace(/\n*$/, '\n\n')}${section}`;
    }
    writeFileSync(file, doc);
    console.log(`wrote the "Simulator scale" section of ${file}`);
  }
} finally {
  await sim.close();
}
