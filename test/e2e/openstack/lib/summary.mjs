// Prints what the lab suite measured (lab-up.sh and the .lab.ts files write the JSON/env files it reads).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.argv[2];
const read = (f) => (existsSync(path.join(dir, f)) ? readFileSync(path.join(dir, f), 'utf8') : null);
const env = read('last-up.env');
if (env) console.log(`lab: ${env.trim().split('\n').join(', ')}`);
const f = read('failover-timings.json');
const fs = read('failover-sim-timings.json');
if (f) {
  const t = JSON.parse(f);
  const sim = fs ? JSON.parse(fs).seconds : {};
  console.log(`scenario 1 (${t.servers} servers, report_interval ${t.reportInterval} s, service_down_time ${t.serviceDownTime} s), seconds after power-off:`);
  console.log(`  ${'step'.padEnd(22)} ${'lab'.padStart(8)} ${'simulator'.padStart(10)}`);
  for (const [k, v] of Object.entries(t.seconds)) console.log(`  ${k.padEnd(22)} ${String(v).padStart(8)} ${String(sim[k] ?? '-').padStart(10)}`);
}
for (const name of ['lab', 'sim']) {
  const c = read(`contract-${name}.json`);
  if (!c) continue;
  const j = JSON.parse(c);
  console.log(`contract on ${name}: max microversion ${j.maxMicroversion}; task states ${j.taskStates.join(' → ')}; migrations ${j.migrationStatuses.join(' → ')}`);
  for (const o of j.observations.slice(1)) console.log(`  ${o.step.padEnd(44)} ${o.status}`);
}
