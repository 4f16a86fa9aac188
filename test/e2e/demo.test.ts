import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// The README's first command, end to end: Redis, the simulated cloud and cmpha, one host powered off.
describe('cmpha demo', () => {
  it('fences the powered-off host, evacuates its ACTIVE and ERROR servers to the spare and exits 0', async () => {
    const bin = new URL('../../bin/cmpha.js', import.meta.url).pathname;
    const child = spawn(process.execPath, [bin, 'demo'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(out).toMatch(/compute1 is dead/);
    expect(out).toMatch(/power of compute1 reads back off/);
    // Order matters: the fence reads back off before anything is forced down or evacuated.
    const lines = out.split('\n');
    const fenced = lines.findIndex((l) => /reads back off/.test(l));
    const forced = lines.findIndex((l) => /forced down/.test(l));
    const firstEvacuate = lines.findIndex((l) => /evacuate requested/.test(l));
    expect(fenced).toBeGreaterThan(-1);
    expect(forced).toBeGreaterThan(fenced);
    expect(firstEvacuate).toBeGreaterThan(forced);
    expect(out).toMatch(/incident compute1-\d+: RESOLVED/);
    const moved = lines.filter((l) => /compute1 -> spare1\s+ACTIVE\s+\(verified\)/.test(l));
    expect(moved.length).toBeGreaterThan(0);
    expect(out).toMatch(/notify\s+\[info\] .*incident-resolved/);
    expect(code).toBe(0);
  }, 120_000);
});
