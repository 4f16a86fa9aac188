import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// The README's demo on a Cloudpods region: Redis, the simulated region and cmpha, one KVM host powered off.
describe('cmpha demo --cloud cloudpods', () => {
  it('fences the powered-off host before it is set offline, rescue-migrates its guests to the spare, verifies them running and answering; exits 0', async () => {
    const bin = new URL('../../../bin/cmpha.js', import.meta.url).pathname;
    const child = spawn(process.execPath, [bin, 'demo', '--cloud', 'cloudpods'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(out).toMatch(/simulated Cloudpods region/);
    const lines = out.split('\n');
    const fenced = lines.findIndex((l) => /power of compute1 reads back off/.test(l));
    const isolated = lines.findIndex((l) => /force-down /.test(l));
    const firstMove = lines.findIndex((l) => /evacuate requested/.test(l));
    expect(fenced).toBeGreaterThan(-1);
    expect(isolated).toBeGreaterThan(fenced);
    expect(firstMove).toBeGreaterThan(isolated);
    expect(out).toMatch(/incident compute1-\d+: RESOLVED/);
    expect(lines.filter((l) => /compute1 -> spare1\s+ACTIVE\s+\(verified\)/.test(l)).length).toBeGreaterThan(0);
    expect(out).toMatch(/answers again on spare1/);
    expect(code).toBe(0);
  }, 240_000);
});
