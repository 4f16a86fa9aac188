import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { runSim, type RunningSim } from '../../src/sim/index.js';
import { CephCluster, CONTROLLER_CAPS } from '../helpers/ceph.js';
import { allActiveOn, movableServers, startCmphaRun, until, type CmphaRun } from '../helpers/cmpha-process.js';
import { startRecordingProxy, type RecordingProxy } from '../helpers/http-proxy.js';
import { IpmiSimLab, type SimulatedBmc } from '../helpers/ipmi-sim.js';
import { freePort } from '../helpers/ports.js';
import { ProcessGroup } from '../helpers/processes.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startSmtp, type SmtpServerHandle } from '../helpers/smtp.js';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook-sink.js';

// Every secret cmpha is given, searched for everywhere an operator or an attacker could read it: the daemon's
// logs, its metrics, the CLI's output (validate, incidents, doctor, notify test, fence status), error paths (a
// Redis that refuses the password, a BMC answering 401, an SMTP server answering 535, a webhook that fails or
// cannot be reached), every value in Redis, what the notification receivers got, and every process's command
// line while it all runs. Each secret is distinctive and random, so a hit anywhere is a leak.

const BIN = new URL('../../bin/cmpha.js', import.meta.url).pathname;
const VICTIM = 'compute1';
const SPARE = 'spare1';

/** `S3cr3t-<random hex>`; IPMI v1.5 limits BMC passwords to 16 characters, so all stay at 16. */
const secret = () => `S3cr3t-${randomBytes(5).toString('hex').slice(0, 9)}`;
const SECRETS = {
  cloudPassword: secret(),
  cloudWrongPassword: secret(),
  ipmiPassword: secret(),
  redfishPassword: secret(),
  redfishPasswordFile: secret(),
  redfishWrongPassword: secret(),
  redfishUnusedPassword: secret(),
  redfishCompute3Password: secret(),
  redisPassword: secret(),
  redisWrongPassword: secret(),
  smtpPassword: secret(),
  smtpWrongPassword: secret(),
  webhookToken: secret(),
  deadWebhookToken: secret(),
  proxyPassword: secret(),
  proxyBadUrlPassword: secret(),
  apiReadToken: secret(),
  apiWriteToken: secret(),
  apiWrongToken: secret(),
  redisBadUrlPassword: secret(),
  /** cephx keys are made by Ceph; filled in once the cluster runs. */
  cephxKey: '',
  cephxWrongKey: '',
};
type SecretName = keyof typeof SECRETS;

/** Where each secret was found: `name in place: …context…`. */
function findSecrets(places: ReadonlyMap<string, string>, allowed: (place: string, name: SecretName) => boolean = () => false): string[] {
  const hits: string[] = [];
  for (const [place, text] of places) {
    for (const [name, value] of Object.entries(SECRETS) as [SecretName, string][]) {
      if (allowed(place, name) || value === '') continue;
      const forms = [value, Buffer.from(value).toString('base64').replace(/=+$/, '')];
      for (const form of forms) {
        const at = text.indexOf(form);
        if (at >= 0) hits.push(`${name} in ${place}: …${text.slice(Math.max(0, at - 120), at + form.length + 40)}…`);
      }
    }
  }
  return hits;
}

/** Every secret found in any process's command line, sampled until stop(); returns the hits. */
function sampleCommandLines(intervalMs: number): { stop(): string[]; samples(): number } {
  const hits = new Set<string>();
  let samples = 0;
  const sample = () => {
    const values = Object.entries(SECRETS) as [SecretName, string][];
    samples++;
    let pids: string[];
    try { pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p)); } catch { return; }
    for (const pid of pids) {
      let cmdline: string;
      try { cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '); } catch { continue; }
      for (const [name, value] of values) if (value !== '' && cmdline.includes(value)) hits.add(`${name} in the command line of pid ${pid}: ${cmdline}`);
    }
  };
  const timer = setInterval(sample, intervalMs);
  sample();
  return { stop() { clearInterval(timer); sample(); return [...hits]; }, samples: () => samples };
}

interface CliResult { readonly args: readonly string[]; readonly code: number | null; readonly stdout: string; readonly stderr: string }

describe('secrets', () => {
  const group = new ProcessGroup();
  const bmcs = new IpmiSimLab();
  const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-secrets-'));
  let sim: RunningSim | undefined;
  let redis: RedisServer | undefined;
  let smtp: SmtpServerHandle | undefined;
  let sink: WebhookSink | undefined;
  let proxy: RecordingProxy | undefined;
  // Started first (it is the slowest) and stopped in afterAll whatever happened to the test.
  let cephStarting: Promise<CephCluster> | undefined;

  afterAll(async () => {
    await group.stopAll();
    await bmcs.stopAll();
    await sim?.close();
    await redis?.stop();
    await smtp?.close();
    await sink?.close();
    await proxy?.close();
    await (await cephStarting?.catch(() => undefined))?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const file = (name: string, content: string, mode = 0o600) => {
    const p = path.join(dir, name);
    writeFileSync(p, content, { mode });
    return p;
  };

  async function cli(config: string, args: readonly string[], timeoutMs = 30_000): Promise<CliResult> {
    const child = group.start(process.execPath, [BIN, ...args, '--config', config]);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => { void group.stop(child, 'SIGKILL'); }, timeoutMs);
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    clearTimeout(timer);
    return { args, code, stdout, stderr };
  }

  function writeConfig(name: string, o: {
    sim: RunningSim; bmc: SimulatedBmc; redisLines: readonly string[]; metricsPort: number; prefix: string;
    smtpPort: number; sinkPort: number; deadPort: number; proxyPort: number; ipmitool: string; cloudPasswordFile?: string; apiPort: number;
  }): string {
    const h = (n: string) => o.sim.world.hostList.find((x) => x.name === n)!;
    const redfish = (n: string, auth: readonly string[], address = '127.0.0.1') => [
      '', `[host:${n}]`, `mgmt_ip = ${h(n).mgmtIp}`, `storage_ip = ${h(n).storageIp}`, 'driver = redfish', `address = ${address}`,
      `port = ${o.sim.http.port}`, 'redfish_scheme = http', `redfish_system = ${n}`, `username = ${h(n).bmc.username}`, ...auth,
    ];
    return file(name, [
      '[cloud]',
      // Keystone (127.0.0.2 is not in no_proxy) is reached through the proxy; Nova, from the catalog, directly.
      `auth_url = ${o.sim.authUrl.replace('//127.0.0.1:', '//127.0.0.2:')}`, 'username = admin', `password_file = ${o.cloudPasswordFile ?? path.join(dir, 'cloud.pass')}`,
      'user_domain_name = Default', 'project_name = admin', 'project_domain_name = Default', 'region_name = RegionOne',
      `proxy = http://cmpha:${SECRETS.proxyPassword}@127.0.0.1:${o.proxyPort}`, 'no_proxy = 127.0.0.1',
      '[detector]', 'probe = sim', `sim_url = ${o.sim.controlUrl}`, 'instance_networks = provider',
      'interval = 1s', 'heartbeat_timeout = 3s', 'leader_lease = 5s',
      '[fencing]', 'poll_interval = 200ms', `ipmitool_path = ${o.ipmitool}`,
      '[evacuation]', 'spare_reason_prefix = down_prepare', 'verify_poll_interval = 300ms', 'stagger = 50ms',
      '[redis]', ...o.redisLines, `prefix = ${o.prefix}`,
      '[metrics]', `listen = 127.0.0.1:${o.metricsPort}`,
      '[api]', 'enabled = true', `listen = 127.0.0.1:${o.apiPort}`,
      `read_token_files = ${path.join(dir, 'api-read.token')}`, `write_token_files = ${path.join(dir, 'api-write.token')}`,
      // debug: what an operator turns on when something is wrong, and where request details are logged.
      '[logging]', 'format = json', 'level = debug',
      '', `[host:${VICTIM}]`, `mgmt_ip = ${h(VICTIM).mgmtIp}`, `storage_ip = ${h(VICTIM).storageIp}`, 'driver = ipmi', 'address = 127.0.0.1',
      `port = ${o.bmc.port}`, `username = ${o.bmc.username}`, `password_file = ${path.join(dir, 'ipmi.pass')}`, 'ipmi_cipher_suite = 3',
      ...redfish('compute2', [`password = ${SECRETS.redfishPassword}`]),
      // compute3's BMC is given a wrong password: it answers 401.
      ...redfish('compute3', [`password_file = ${path.join(dir, 'redfish-wrong.pass')}`]),
      // The spare's BMC through the proxy too.
      ...redfish(SPARE, [`password_file = ${path.join(dir, 'redfish.pass')}`], '127.0.0.2'),
      '', '[notifier:mail]', 'type = email', 'host = 127.0.0.1', `port = ${o.smtpPort}`, 'tls = none', 'username = cmpha',
      `password_file = ${path.join(dir, 'smtp.pass')}`, 'from = cmpha@example.org', 'recipients = oncall@example.org', 'retries = 0',
      '', '[notifier:badmail]', 'type = email', 'host = 127.0.0.1', `port = ${o.smtpPort}`, 'tls = none', 'username = cmpha',
      `password = ${SECRETS.smtpWrongPassword}`, 'from = cmpha@example.org', 'recipients = oncall@example.org', 'retries = 0',
      // Through the proxy (127.0.0.2 is not in no_proxy): the proxy password travels as Proxy-Authorization.
      '', '[notifier:hook]', 'type = webhook', 'preset = generic-json', `url = http://127.0.0.2:${o.sinkPort}/hook?key={{token}}`,
      `token_file = ${path.join(dir, 'webhook.token')}`, 'header.Authorization = Bearer {{token}}', 'retries = 1', 'retry_delay = 200ms',
      '', '[notifier:deadhook]', 'type = webhook', 'preset = generic-json', `url = http://127.0.0.1:${o.deadPort}/hook?key={{token}}`,
      `token = ${SECRETS.deadWebhookToken}`, 'retries = 1', 'retry_delay = 200ms', '',
    ].join('\n'));
  }

  it('no configured secret appears in logs, metrics, CLI output, error messages, Redis, notifications or command lines', async () => {
    const started = Date.now();
    const cmdlines = sampleCommandLines(100);
    try {
      file('cloud.pass', `${SECRETS.cloudPassword}\n`);
      file('cloud-wrong.pass', `${SECRETS.cloudWrongPassword}\n`);
      file('ipmi.pass', `${SECRETS.ipmiPassword}\n`);
      file('redfish.pass', `${SECRETS.redfishPasswordFile}\n`);
      file('redfish-wrong.pass', `${SECRETS.redfishWrongPassword}\n`);
      file('redis.pass', `${SECRETS.redisPassword}\n`);
      file('smtp.pass', `${SECRETS.smtpPassword}\n`);
      file('webhook.token', `${SECRETS.webhookToken}\n`);
      file('api-read.token', `${SECRETS.apiReadToken}\n`);
      file('api-write.token', `${SECRETS.apiWriteToken}\n`);
      // Every ipmitool invocation's argv, exactly (a sample of /proc could miss a 50 ms process).
      const argvLog = path.join(dir, 'ipmitool-argv.log');
      const ipmitool = file('ipmitool', `#!/bin/sh\nprintf '%s\\n' "$*" >> '${argvLog}'\nexec ipmitool "$@"\n`, 0o700);
      chmodSync(ipmitool, 0o700);
      writeFileSync(argvLog, '');

      cephStarting = CephCluster.start({ bindIp: '127.0.0.1' });
      cephStarting.catch(() => undefined);
      [redis, sim, smtp, sink, proxy] = await Promise.all([
        startRedis({ password: SECRETS.redisPassword }),
        runSim({ hosts: 3, instancesPerHost: 3, spares: 1, reportIntervalSeconds: 1, serviceDownTimeSeconds: 6, evacuateSeconds: 1, seed: 31, adminPassword: SECRETS.cloudPassword }),
        startSmtp({ users: { cmpha: SECRETS.smtpPassword } }),
        // The first delivery fails (a 500), so the retry and failure paths run too.
        startWebhookSink((_req, n) => (n === 1 ? { status: 500, body: '{"error":"busy"}' } : { status: 200, body: '{"ok":true}' })),
        startRecordingProxy(),
      ]);
      const bmc = await bmcs.start({ username: 'admin', password: SECRETS.ipmiPassword });
      // The simulator tells BMCs apart by their credentials, so each gets its own password. compute1 is
      // fenced through ipmi_sim; its Redfish password is never configured.
      const bmcPasswords: Record<string, string> = {
        [VICTIM]: SECRETS.redfishUnusedPassword, compute2: SECRETS.redfishPassword, compute3: SECRETS.redfishCompute3Password, [SPARE]: SECRETS.redfishPasswordFile,
      };
      for (const host of sim.world.hostList) host.bmc.password = bmcPasswords[host.name]!;
      const [metricsPort, wrongMetricsPort, deadPort, apiPort, wrongApiPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
      const common = { sim, bmc, apiPort, smtpPort: smtp.port, sinkPort: sink.port, deadPort, proxyPort: Number(new URL(proxy.url).port), ipmitool };
      const prefix = `cmpha-secrets-${process.pid}`;
      const config = writeConfig('cmpha.conf', {
        ...common, metricsPort, prefix, redisLines: [`url = ${redis.url}`, `password_file = ${path.join(dir, 'redis.pass')}`],
      });
      // The same, but Redis is given a wrong password, inside its URL.
      const wrongConfig = writeConfig('wrong-redis.conf', {
        ...common, metricsPort: wrongMetricsPort, apiPort: wrongApiPort, prefix, redisLines: [`url = redis://:${SECRETS.redisWrongPassword}@127.0.0.1:${redis.port}`],
      });

      // The same, with a cloud password Keystone refuses.
      const wrongCloudConfig = writeConfig('wrong-cloud.conf', {
        ...common, metricsPort: wrongMetricsPort, apiPort: wrongApiPort, prefix, cloudPasswordFile: path.join(dir, 'cloud-wrong.pass'),
        redisLines: [`url = ${redis.url}`, `password_file = ${path.join(dir, 'redis.pass')}`],
      });

      // The same, with nothing listening where the proxy should be.
      const deadProxyConfig = writeConfig('dead-proxy.conf', {
        ...common, proxyPort: deadPort, metricsPort: wrongMetricsPort, apiPort: wrongApiPort, prefix,
        redisLines: [`url = ${redis.url}`, `password_file = ${path.join(dir, 'redis.pass')}`],
      });
      writeFileSync(deadProxyConfig, readFileSync(deadProxyConfig, 'utf8').replace('[cloud]\n', '[cloud]\napi_retries = 0\n'));

      const outputs = new Map<string, string>();
      const keep = (r: CliResult, label = `cmpha ${r.args.join(' ')}`) => {
        outputs.set(`${label} (stdout)`, r.stdout);
        outputs.set(`${label} (stderr)`, r.stderr);
        return r;
      };
      // URLs that do not parse (a stray space), with a password inside: refused, naming the key, password masked.
      const badUrls = file('bad-urls.conf', readFileSync(config, 'utf8')
        .replace(/^proxy = .*$/m, `proxy = http://:${SECRETS.proxyBadUrlPassword}@127.0.0.1 :3128`)
        .replace(/^url = redis:.*$/m, `url = redis://:${SECRETS.redisBadUrlPassword}@127.0.0.1 :${redis.port}`)
        .replace(/^password_file = .*redis\.pass$/m, ''));
      const [validate, wrongValidate, badValidate] = await Promise.all([
        cli(config, ['config', 'validate']), cli(wrongConfig, ['config', 'validate']), cli(badUrls, ['config', 'validate']),
      ]);
      keep(validate);
      keep(wrongValidate, 'cmpha config validate (wrong Redis password)');
      keep(badValidate, 'cmpha config validate (unparseable URLs)');
      expect(validate.code, validate.stderr).toBe(0);
      expect(wrongValidate.code, wrongValidate.stderr).toBe(0);
      expect(badValidate.code).toBe(2);
      expect(badValidate.stderr).toMatch(/\[cloud\] proxy: proxy http:\/\/\*\*\*@127\.0\.0\.1 :3128 is not a URL/);
      expect(badValidate.stderr).toMatch(/\[redis\] url: .*is not a URL/);

      const run: CmphaRun = startCmphaRun(group, { path: config, metricsPort });
      const base = `http://127.0.0.1:${metricsPort}`;
      await until(async () => ((await (await fetch(`${base}/readyz`)).json()) as { checks?: { role?: string } }).checks?.role === 'leader', 30_000, 'cmpha to lead');

      // A second controller with a wrong Redis password, beside the real one, for a few seconds.
      const wrongRun = startCmphaRun(group, { path: wrongConfig, metricsPort: wrongMetricsPort });
      const movable = movableServers(sim, VICTIM);
      expect(movable.length).toBeGreaterThan(0);
      await fetch(`${sim.controlUrl}/sim/hosts/${VICTIM}/power-off`, { method: 'POST' });
      const [wrongDoctor, wrongIncidents, wrongCloudDoctor] = await Promise.all([
        cli(wrongConfig, ['doctor', '--no-smtp']),
        cli(wrongConfig, ['incidents', 'list']),
        cli(wrongCloudConfig, ['doctor', '--no-smtp']),
      ]);
      keep(wrongDoctor, 'cmpha doctor (wrong Redis password)');
      keep(wrongIncidents, 'cmpha incidents list (wrong Redis password)');
      keep(wrongCloudDoctor, 'cmpha doctor (wrong cloud password)');
      expect(wrongIncidents.stderr).toMatch(/WRONGPASS/);
      expect(wrongDoctor.code).toBe(1);
      expect(wrongCloudDoctor.code).toBe(1);
      expect(wrongCloudDoctor.stdout + wrongCloudDoctor.stderr).toMatch(/401|auth/i);
      await wrongRun.waitForLog(/WRONGPASS/, 20_000);
      await group.stop(wrongRun.child);
      outputs.set('cmpha run (wrong Redis password) (stderr)', wrongRun.logs());
      expect(wrongRun.logs()).toMatch(/WRONGPASS/);

      // Ceph: the controller's cephx key (read by librados in the helper, never by cmpha), and a keyring
      // Ceph refuses.
      // Runs beside the failover; awaited before the search.
      const cephChecks = (async () => {
        const ceph = await cephStarting!;
        const cephUser = await ceph.createUser('cmpha', CONTROLLER_CAPS);
        SECRETS.cephxKey = cephUser.key;
        SECRETS.cephxWrongKey = execFileSync('ceph-authtool', ['--gen-print-key'], { encoding: 'utf8' }).trim();
        const wrongKeyring = file('wrong.keyring', `[client.cmpha]\n\tkey = ${SECRETS.cephxWrongKey}\n`);
        const cephSection = (keyring: string, timeout: string) => ['', '[ceph]', `mon_host = ${ceph.monHost}`, 'user = cmpha', `keyring_file = ${keyring}`, `command_timeout = ${timeout}`, ''].join('\n');
        const cephConfig = file('ceph.conf', `${readFileSync(config, 'utf8')}${cephSection(cephUser.keyringPath, '20s')}`);
        const wrongCephConfig = file('wrong-ceph.conf', `${readFileSync(config, 'utf8')}${cephSection(wrongKeyring, '5s')}`);
        const [cephValidate, storage, wrongStorage] = await Promise.all([
          cli(cephConfig, ['config', 'validate']),
          cli(cephConfig, ['check', '--storage', '--json']),
          cli(wrongCephConfig, ['check', '--storage']),
        ]);
        keep(cephValidate, 'cmpha config validate (ceph)');
        keep(storage, 'cmpha check --storage (ceph)');
        keep(wrongStorage, 'cmpha check --storage (refused cephx key)');
        expect(cephValidate.code, cephValidate.stderr).toBe(0);
        expect(storage.code, storage.stderr).toBe(0);
        // librados connected with the key and read the pool (no server of the simulator has a disk there).
        expect((JSON.parse(storage.stdout) as { servers: { verdict: string }[] }).servers.map((x) => x.verdict)).toContain('not-on-ceph');
        expect(wrongStorage.code, wrongStorage.stdout).not.toBe(0);
        // A refused key shows as a failed or timed-out connect, depending on how fast the mon answers.
        expect(wrongStorage.stderr).toMatch(/client\.cmpha@127\.0\.0\.1:\d+: (connect failed|no answer within)/);
      })();
      cephChecks.catch(() => undefined);

      await until(() => allActiveOn(sim!, movable, SPARE), 60_000, 'every server ACTIVE on the spare');
      await until(async () => /cmpha_incidents_closed_total\{outcome="resolved"\} 1/.test(await (await fetch(`${base}/metrics`)).text()), 30_000, 'the incident to close resolved');
      outputs.set('/metrics', await (await fetch(`${base}/metrics`)).text());
      outputs.set('/readyz', await (await fetch(`${base}/readyz`)).text());
      // The HTTP API with each token, and with one it refuses.
      const api = `http://127.0.0.1:${apiPort}`;
      const apiGet = async (p: string, token: string) => {
        const r = await fetch(`${api}${p}`, { headers: { authorization: `Bearer ${token}` } });
        const text = await r.text();
        outputs.set(`API GET ${p} (${r.status})`, `${JSON.stringify(Object.fromEntries(r.headers))} ${text}`);
        return r.status;
      };
      expect(await apiGet('/v1/incidents', SECRETS.apiReadToken)).toBe(200);
      expect(await apiGet('/v1', SECRETS.apiWriteToken)).toBe(200);
      expect(await apiGet('/v1/incidents?status=open', SECRETS.apiWrongToken)).toBe(401);
      outputs.set('API GET / (status page)', await (await fetch(`${api}/`)).text());
      expect(bmc.powerOffRequests()).toBeGreaterThan(0);

      const list = keep(await cli(config, ['incidents', 'list', '--json']));
      const incidents = JSON.parse(list.stdout) as { id: string }[];
      expect(incidents.length).toBeGreaterThan(0);
      const id = incidents[0]!.id;
      const [show, showJson, doctor, notifyTest, fenceStatus, deadProxyNotify, deadProxyFence, deadProxyDoctor] = await Promise.all([
        cli(config, ['incidents', 'show', id]),
        cli(config, ['incidents', 'show', id, '--json']),
        cli(config, ['doctor', '--json']),
        cli(config, ['notify', 'test']),
        cli(config, ['fence', 'status', '--all']),
        cli(deadProxyConfig, ['notify', 'test', '--channel', 'hook']),
        cli(deadProxyConfig, ['fence', 'status', SPARE]),
        cli(deadProxyConfig, ['doctor', '--no-smtp']),
      ]);
      for (const r of [show, showJson, doctor, notifyTest, fenceStatus]) keep(r);
      keep(deadProxyNotify, 'cmpha notify test (proxy down)');
      keep(deadProxyFence, 'cmpha fence status (proxy down)');
      keep(deadProxyDoctor, 'cmpha doctor (proxy down)');
      expect(deadProxyNotify.stdout).toMatch(/hook: FAILED/);
      expect(deadProxyFence.code).toBe(1);
      expect(deadProxyDoctor.code).toBe(1);
      expect(show.code, show.stderr).toBe(0);
      // The error paths ran: compute3's BMC refused its password, badmail got a 535, deadhook found nobody.
      expect(fenceStatus.stdout + fenceStatus.stderr).toMatch(/401/);
      expect(fenceStatus.code).toBe(1);
      // The right passwords work: doctor read compute2's and the spare's power through Redfish.
      const doctorHosts = (JSON.parse(doctor.stdout) as { hosts: { host: string; fencing?: { works?: boolean } }[] }).hosts;
      const fencing = (name: string) => doctorHosts.find((x) => x.host === name)?.fencing?.works;
      expect([fencing('compute2'), fencing(SPARE), fencing('compute3')]).toEqual([true, true, false]);
      expect(JSON.stringify(doctorHosts.find((x) => x.host === 'compute3'))).toMatch(/401/);
      expect(notifyTest.stdout).toMatch(/badmail: FAILED/);
      expect(notifyTest.stdout).toMatch(/deadhook: FAILED/);
      expect(smtp.authAttempts.some((a) => !a.ok)).toBe(true);
      // Keystone, the spare's BMC and the webhook went through the proxy.
      expect(proxy.seen.map((x) => x.line).join('\n')).toMatch(/POST http:\/\/127\.0\.0\.2:\d+\/identity\/v3\/auth\/tokens/);
      expect(proxy.seen.map((x) => x.line).join('\n')).toMatch(/GET http:\/\/127\.0\.0\.2:\d+\/redfish\/v1\/Systems\/spare1/);
      expect(proxy.seen.map((x) => x.line).join('\n')).toMatch(/\/hook\?key=/);
      expect(proxy.seen.every((x) => x.auth !== undefined)).toBe(true);

      await cephChecks;

      await group.stop(run.child);
      outputs.set('cmpha run (stderr)', run.logs());

      // Every key and value in Redis.
      const client = new Redis({ host: '127.0.0.1', port: redis.port, password: SECRETS.redisPassword, lazyConnect: true, maxRetriesPerRequest: 1 });
      await client.connect();
      try {
        let keys = 0;
        for await (const batch of client.scanStream({ count: 500 }) as AsyncIterable<string[]>) {
          for (const key of batch) {
            keys++;
            const type = await client.type(key);
            let value: unknown;
            if (type === 'string') value = await client.get(key);
            else if (type === 'hash') value = await client.hgetall(key);
            else if (type === 'list') value = await client.lrange(key, 0, -1);
            else if (type === 'set') value = await client.smembers(key);
            else if (type === 'zset') value = await client.zrange(key, 0, -1, 'WITHSCORES');
            else if (type === 'stream') value = await client.xrange(key, '-', '+');
            else value = (await client.dumpBuffer(key))?.toString('latin1');
            outputs.set(`Redis ${type} ${key}`, `${key} ${JSON.stringify(value)}`);
          }
        }
        expect(keys).toBeGreaterThan(0);
      } finally {
        client.disconnect();
      }

      const ipmiArgv = readFileSync(argvLog, 'utf8');
      expect(ipmiArgv).toMatch(/power (status|off)/);
      outputs.set('ipmitool argv', ipmiArgv);

      // What the receivers got: mails carry no secret at all; the webhook's own token may only be where the
      // channel puts it (its url and Authorization header), never its body.
      expect(smtp.messages.length).toBeGreaterThan(0);
      smtp.messages.forEach((m, i) => outputs.set(`mail ${i + 1} (${m.subject})`, m.raw));
      expect(sink.requests.length).toBeGreaterThan(1);
      sink.requests.forEach((r, i) => {
        outputs.set(`webhook ${i + 1} body`, r.body);
        outputs.set(`webhook ${i + 1} url and headers`, `${r.url} ${JSON.stringify(r.headers)}`);
      });

      const hits = [
        ...findSecrets(outputs, (place, name) => name === 'webhookToken' && /^webhook \d+ url and headers$/.test(place)),
        ...cmdlines.stop(),
      ];
      expect(cmdlines.samples()).toBeGreaterThan(10);
      expect(hits).toEqual([]);
      process.stderr.write(`secrets: ${Object.keys(SECRETS).length} secrets searched in ${outputs.size} places and ${cmdlines.samples()} command-line samples in ${Date.now() - started} ms\n`);
    } finally {
      cmdlines.stop();
    }
  }, 150_000);
});
