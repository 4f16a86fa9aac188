import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// The README's first command, end to end: Redis, the simulated cloud and cmpha, one host powered off.
describe('cmpha demo', () => {
  it('fences the powered-off host, evacuates its ACTIVE and ERROR servers to the spare; then fences a hung host with a dead BMC through its storage; exits 0', async () => {
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

    // The second failure: a hung host with a dead BMC, fenced through its storage, one writer per disk after.
    const second = lines.slice(lines.findIndex((l) => l.startsWith('second failure: ')));
    const host2 = /^second failure: (\S+)/.exec(second[0] ?? '')?.[1];
    expect(host2).toBeDefined();
    const at = (re: RegExp) => second.findIndex((l) => re.test(l));
    const level1Failed = at(/level 1 redfish .*FAILED bmc_unreachable/);
    const storageFenced = at(new RegExp(`${host2} fenced by level 2 \\(ceph\\)`));
    expect(level1Failed).toBeGreaterThan(-1);
    expect(storageFenced).toBeGreaterThan(level1Failed);
    expect(at(/level 2 ceph .*confirmed: osdmap e\d+ lists 198\.19\.\d+\.\d+:0\/0/)).toBeGreaterThan(-1);
    expect(at(/forced down/)).toBeGreaterThan(storageFenced);
    expect(at(/single-writer proof: (\d+) of \1 server\(s\) on Ceph have exactly one writer per disk, on their new host; 0 double writer/)).toBeGreaterThan(storageFenced);
    expect(second.some((l) => new RegExp(`incident ${host2}-\\d+: RESOLVED`).test(l))).toBe(true);
    // Each failure's lines in time order, in plain words.
    for (const block of [lines.slice(0, lines.findIndex((l) => l.startsWith('second failure: '))), second]) {
      const times = block.map((l) => /^ {2}\+ *(\d+\.\d)s {2}/.exec(l)?.[1]).filter((t) => t !== undefined).map(Number);
      expect(times.length).toBeGreaterThan(5);
      expect(times).toEqual([...times].sort((a, b) => a - b));
    }
    expect(out).not.toMatch(/ is maintenance/);
    expect(out).not.toMatch(/(\S+) -> \1 /);
    expect(code).toBe(0);
  }, 240_000);
});
