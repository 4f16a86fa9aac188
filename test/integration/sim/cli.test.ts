import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ProcessGroup, waitForLine } from '../../helpers/processes.js';

const group = new ProcessGroup();
afterAll(async () => {
  await group.stopAll();
});

const entry = path.join(import.meta.dirname, 'cli-entry.ts');

describe('cmpha sim', () => {
  it('prints one JSON line with its URLs and a ready config, serves the world, and cleans up on SIGTERM', async () => {
    const child = group.start(process.execPath, ['--import', 'tsx', entry, 'sim', '--listen', '127.0.0.1:0', '--hosts', '3', '--instances-per-host', '2', '--spares', '2', '--evacuate-seconds', '0.5', '--faults', '{"latencyMs":1}']);
    const line = await waitForLine(child, /^\{"auth_url"/, 20_000);
    const info = JSON.parse(line) as { auth_url: string; control_url: string; config: string };
    expect(info.auth_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/identity\/v3$/);
    expect(info.control_url).toBe(info.auth_url.replace('/identity/v3', ''));
    const conf = readFileSync(info.config, 'utf8');
    expect(conf).toContain(`auth_url = ${info.auth_url}`);
    expect(conf).toContain(`sim_url = ${info.control_url}`);
    expect(conf).toContain('probe = sim');
    expect(conf).toContain('spare_reason_prefix = down_prepare');
    for (const h of ['compute1', 'compute2', 'compute3', 'spare1', 'spare2']) expect(conf).toContain(`[host:${h}]`);
    expect(conf).toMatch(/\[host:compute1\]\nmgmt_ip = 198\.18\.0\.11\nstorage_ip = 198\.19\.0\.11\ndriver = redfish\naddress = 127\.0\.0\.1\nport = \d+\nredfish_scheme = http\nredfish_system = compute1\nusername = root\npassword = \S+/);

    const password = /\[cloud\][\s\S]*?password = (\S+)/.exec(conf)![1]!;
    const r = await fetch(`${info.auth_url}/auth/tokens`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'admin', domain: { name: 'Default' }, password } } }, scope: { project: { name: 'admin', domain: { name: 'Default' } } } } }),
    });
    expect(r.status).toBe(201);
    const state = (await (await fetch(`${info.control_url}/sim/state`)).json()) as { hosts: unknown[]; servers: unknown[] };
    expect(state.hosts).toHaveLength(5);
    expect(state.servers).toHaveLength(6);
    expect((await (await fetch(`${info.control_url}/sim/faults`)).json()) as unknown).toMatchObject({ latencyMs: 1, errorRate: 0 });

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await group.stop(child, 'SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(info.config)).toBe(false);
  });

  it('refuses a non-loopback listen address', async () => {
    const child = group.start(process.execPath, ['--import', 'tsx', entry, 'sim', '--listen', '0.0.0.0:0']);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/loopback/);
  });
});
