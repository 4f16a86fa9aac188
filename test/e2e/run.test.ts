import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSim, type RunningSim } from '../../src/sim/index.js';
import { isEvacuatePost, simCalls } from '../helpers/cmpha-process.js';
import { freePort } from '../helpers/ports.js';
import { ProcessGroup } from '../helpers/processes.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

// `cmpha run` as operators start it, against the simulated cloud: the daemon, its metrics endpoint and a failover.
describe('cmpha run', () => {
  const group = new ProcessGroup();
  let sim: RunningSim;
  let redis: RedisServer;
  let metricsPort: number;
  let overrides: string;

  beforeAll(async () => {
    redis = await startRedis();
    sim = await runSim({ hosts: 3, instancesPerHost: 3, spares: 1, reportIntervalSeconds: 1, serviceDownTimeSeconds: 6, evacuateSeconds: 1, seed: 11 });
    metricsPort = await freePort();
    // A second config file, as an operator layers site settings over a base one: its keys override the sim's.
    overrides = path.join(path.dirname(sim.configPath), 'overrides.conf');
    writeFileSync(overrides, [
      '', '[detector]', 'interval = 1s', 'heartbeat_timeout = 3s', 'leader_lease = 5s',
      '[fencing]', 'poll_interval = 200ms',
      '[evacuation]', 'verify_poll_interval = 300ms', 'stagger = 50ms',
      '[redis]', `url = ${redis.url}`, 'prefix = cmpha-run-test',
      '[metrics]', `listen = 127.0.0.1:${metricsPort}`,
      '[logging]', 'format = json', '',
    ].join('\n'));
  });
  afterAll(async () => {
    await group.stopAll();
    await sim?.close();
    await redis?.stop();
  });

  it('serves metrics and readiness, recovers a powered-off host, and stops cleanly on SIGTERM', async () => {
    const bin = new URL('../../bin/cmpha.js', import.meta.url).pathname;
    const child = group.start(process.execPath, [bin, 'run', '--config', sim.configPath, '--config', overrides]);
    let logs = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => { logs += d; });
    const base = `http://127.0.0.1:${metricsPort}`;
    await until(async () => (await fetch(`${base}/readyz`).catch(() => null))?.status === 200, 20_000);
    const ready = await (await fetch(`${base}/readyz`)).json() as { ready: boolean; checks: { role: string } };
    expect(ready).toMatchObject({ ready: true, checks: { role: 'leader' } });

    const victim = 'compute1';
    const movable = sim.world.serverList.filter((s) => s.host === victim && (s.vmState === 'active' || s.vmState === 'error')).map((s) => s.id);
    expect(movable.length).toBeGreaterThan(0);
    await fetch(`${sim.controlUrl}/sim/hosts/${victim}/power-off`, { method: 'POST' });

    type State = { servers: { id: string; host: string; status: string }[] };
    await until(async () => {
      const st = await (await fetch(`${sim.controlUrl}/sim/state`)).json() as State;
      return movable.every((id) => { const s = st.servers.find((x) => x.id === id); return s?.host === 'spare1' && s.status === 'ACTIVE'; });
    }, 60_000);

    // One evacuate per server (the recovery's lock and unlock are server actions too, and not counted here).
    const evacuations = (await simCalls(sim)).filter(isEvacuatePost);
    expect(evacuations).toHaveLength(movable.length);

    await until(async () => /cmpha_incidents_closed_total\{outcome="resolved"\} 1/.test(await (await fetch(`${base}/metrics`)).text()), 20_000);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/cmpha_failover_duration_seconds_count 1/);
    expect(text).toMatch(/cmpha_evacuations_total\{result="ok"\} \d+/);
    expect(text).toMatch(/^cmpha_last_failover_info\{host="compute1",outcome="resolved"\} 1$/m);
    expect(text).toMatch(/^cmpha_last_failover_duration_seconds \d/m);
    expect(text).toMatch(/^cmpha_readiness_check\{check="redis"\} 1$/m);
    expect(text).toMatch(/^process_resident_memory_bytes [1-9]/m);
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(lint.stdout + lint.stderr).toBe('');
    expect(lint.status).toBe(0);

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    process.kill(child.pid!, 'SIGTERM');
    expect(await exited).toBe(0);
    // The BMC and cloud passwords never reach the log.
    const password = /password = (.+)/.exec((await import('node:fs')).readFileSync(sim.configPath, 'utf8'))![1]!;
    expect(logs).not.toContain(password);
    expect(logs).toMatch(/cmpha controller started/);
  }, 120_000);

  it('--dry-run stops promptly on SIGTERM and logs that it stopped', async () => {
    const bin = new URL('../../bin/cmpha.js', import.meta.url).pathname;
    const child = group.start(process.execPath, [bin, 'run', '--dry-run', '--config', sim.configPath, '--config', overrides]);
    let logs = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => { logs += d; });
    await until(async () => (await fetch(`http://127.0.0.1:${metricsPort}/readyz`).catch(() => null)) !== null && /cmpha controller started/.test(logs), 20_000);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const signalled = Date.now();
    process.kill(child.pid!, 'SIGTERM');
    expect(await exited).toBe(0);
    const tookMs = Date.now() - signalled;
    // It had waited 10 s for queue workers that a dry run never starts.
    expect(tookMs).toBeLessThan(5000);
    const lines = logs.trim().split('\n').map((l) => JSON.parse(l) as { msg: string });
    expect(lines.at(-1)!.msg).toMatch(/^stopped/);
  }, 60_000);

  it('says at start that fping lacks CAP_NET_RAW and how to grant it, when raw sockets are refused', async () => {
    const { mkdtempSync, writeFileSync, chmodSync, readFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'cmpha-run-netraw-'));
    // Exec of fping with its capability is refused, as in a container without --cap-add NET_RAW; the wrapper
    // also refuses any target but loopback, so nothing could leave the machine even if it ran.
    const wrapper = join(dir, 'fping');
    writeFileSync(wrapper, [
      '#!/bin/sh',
      'for a in "$@"; do case "$a" in -*|[0-9]|[0-9][0-9]|[0-9][0-9][0-9]|[0-9][0-9][0-9][0-9]|127.*) ;; *) exit 3 ;; esac; done',
      'exec setpriv --bounding-set=-net_raw fping "$@"', '',
    ].join('\n'));
    chmodSync(wrapper, 0o755);
    const config = join(dir, 'cmpha.conf');
    writeFileSync(config, readFileSync(sim.configPath, 'utf8')
      .replace(/probe = sim\nsim_url = .*\n/, `probe = fping\nfping_path = ${wrapper}\n`));
    const site = join(dir, 'site.conf');
    writeFileSync(site, readFileSync(overrides, 'utf8')
      .replace('prefix = cmpha-run-test', 'prefix = cmpha-run-netraw')
      .replace(`listen = 127.0.0.1:${metricsPort}`, `listen = 127.0.0.1:${await freePort()}`));
    const bin = new URL('../../bin/cmpha.js', import.meta.url).pathname;
    const child = group.start(process.execPath, [bin, 'run', '--config', config, '--config', site]);
    let logs = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => { logs += d; });
    try {
      await until(async () => /cmpha controller started/.test(logs), 30_000);
      const line = logs.split('\n').find((l) => l.includes('fping may not send ICMP'));
      expect(line, logs).toBeDefined();
      expect(line).toContain('--cap-add NET_RAW');
      expect(line).toContain('AmbientCapabilities=CAP_NET_RAW');
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      process.kill(child.pid!, 'SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

async function until(cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
