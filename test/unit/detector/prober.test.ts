import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProber } from '../../../src/detector/prober.js';
import type { CommandResult, CommandRunner } from '../../../src/shared/run-command.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { detectorDefaults } from './test-config.js';

function runner(result: Partial<CommandResult>, calls: Array<{ file: string; args: readonly string[] }>): CommandRunner {
  return async (file, args) => {
    calls.push({ file, args });
    return { exitCode: 1, signal: null, stdout: '', stderr: '', durationMs: 1, ...result };
  };
}

describe('fping prober', () => {
  it('runs one fping with count, timeout, packet interval and -q, and parses stderr', async () => {
    const calls: Array<{ file: string; args: readonly string[] }> = [];
    const stderr = '198.18.0.11 : xmt/rcv/%loss = 2/2/0%, min/avg/max = 0.1/0.1/0.1\n198.18.0.12 : xmt/rcv/%loss = 2/0/100%\n';
    const p = createProber({ ...detectorDefaults, probeCount: 2, probeTimeoutMs: 300, probePacketIntervalMs: 5, fpingPath: '/usr/bin/fping' },
      { logger: silentLogger, run: runner({ exitCode: 1, stderr }, calls) });
    const r = await p.probe(['198.18.0.11', '198.18.0.12', '198.18.0.11']);
    expect(Object.fromEntries(r)).toEqual({ '198.18.0.11': 'alive', '198.18.0.12': 'silent' });
    expect(calls).toEqual([{ file: '/usr/bin/fping', args: ['-c', '2', '-p', '250', '-t', '300', '-i', '5', '-q', '198.18.0.11', '198.18.0.12'] }]);
  });

  it('refuses host names before running anything', async () => {
    const calls: Array<{ file: string; args: readonly string[] }> = [];
    const p = createProber(detectorDefaults, { logger: silentLogger, run: runner({}, calls) });
    await expect(p.probe(['198.18.0.11', 'compute-1.example.org'])).rejects.toThrow(/refusing to probe "compute-1.example.org": not an IP literal/);
    expect(calls).toHaveLength(0);
  });

  it.each([2, 3, 4])('turns fping exit code %i into a probe failure naming the cause', async (code) => {
    const p = createProber(detectorDefaults, { logger: silentLogger, run: runner({ exitCode: code, stderr: 'fping: some problem\n' }, []) });
    await expect(p.probe(['198.18.0.11'])).rejects.toMatchObject({ code: 'probe_failed', message: `fping exited with ${code}: fping: some problem` });
  });

  it('accepts exit code 0', async () => {
    const p = createProber(detectorDefaults, { logger: silentLogger, run: runner({ exitCode: 0, stderr: '198.18.0.11 : xmt/rcv/%loss = 1/1/0%, min/avg/max = 1/1/1\n' }, []) });
    expect((await p.probe(['198.18.0.11'])).get('198.18.0.11')).toBe('alive');
  });

  it('reports a missing fping binary as a probe failure', async () => {
    const p = createProber({ ...detectorDefaults, fpingPath: '/nonexistent/fping' }, { logger: silentLogger });
    await expect(p.probe(['127.0.0.1'])).rejects.toMatchObject({ code: 'probe_failed', message: expect.stringContaining('not installed') });
  });
});

describe('sim prober', () => {
  let server: http.Server;
  let url: string;
  const bodies: unknown[] = [];
  let status = 200;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let data = '';
      req.on('data', (d) => { data += d; });
      req.on('end', () => {
        bodies.push({ path: req.url, body: JSON.parse(data) });
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ '198.18.0.11': true, '198.18.0.12': false, '198.18.0.13': 'maybe' }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => { await new Promise((r) => server.close(r)); });

  it('posts the addresses and maps the answers', async () => {
    const p = createProber({ ...detectorDefaults, probe: 'sim', simUrl: `${url}/` }, { logger: silentLogger });
    const r = await p.probe(['198.18.0.11', '198.18.0.12', '198.18.0.13', '198.18.0.14']);
    expect(Object.fromEntries(r)).toEqual({ '198.18.0.11': 'alive', '198.18.0.12': 'silent', '198.18.0.13': 'unknown', '198.18.0.14': 'unknown' });
    expect(bodies.at(-1)).toEqual({ path: '/sim/probe', body: { addresses: ['198.18.0.11', '198.18.0.12', '198.18.0.13', '198.18.0.14'] } });
  });

  it('fails the probe on an HTTP error', async () => {
    status = 500;
    const p = createProber({ ...detectorDefaults, probe: 'sim', simUrl: url }, { logger: silentLogger });
    await expect(p.probe(['198.18.0.11'])).rejects.toMatchObject({ code: 'probe_failed', message: expect.stringContaining('HTTP 500') });
    status = 200;
  });

  it('needs sim_url', () => {
    expect(() => createProber({ ...detectorDefaults, probe: 'sim' }, { logger: silentLogger })).toThrow(/sim_url/);
  });
});

describe('fping prober at scale', () => {
  it('splits many targets over several fping processes and merges their answers', async () => {
    const calls: Array<{ file: string; args: readonly string[] }> = [];
    const ips = Array.from({ length: 1203 }, (_, i) => `198.18.${Math.floor(i / 250)}.${(i % 250) + 1}`);
    const p = createProber({ ...detectorDefaults, probeCount: 1 }, {
      logger: silentLogger,
      run: async (file, args) => {
        calls.push({ file, args });
        const targets = args.slice(args.indexOf('-q') + 1);
        return { exitCode: 1, signal: null, durationMs: 1, stdout: '', stderr: targets.map((ip, i) => `${ip} : xmt/rcv/%loss = 1/${i % 2}/0%`).join('\n') };
      },
    });
    const r = await p.probe(ips);
    expect(calls.map((c) => c.args.slice(c.args.indexOf('-q') + 1).length)).toEqual([250, 250, 250, 250, 203]);
    expect(r.size).toBe(1203);
    expect([...r.values()].filter((v) => v === 'alive')).toHaveLength(601);
  });

  it('fails the whole probe when one fping process fails', async () => {
    let n = 0;
    const ips = Array.from({ length: 1000 }, (_, i) => `198.18.${Math.floor(i / 250)}.${(i % 250) + 1}`);
    const p = createProber({ ...detectorDefaults, probeCount: 1 }, {
      logger: silentLogger,
      run: async () => (++n === 2 ? { exitCode: 4, signal: null, durationMs: 1, stdout: '', stderr: 'fping: system error\n' } : { exitCode: 0, signal: null, durationMs: 1, stdout: '', stderr: '' }),
    });
    await expect(p.probe(ips)).rejects.toMatchObject({ code: 'probe_failed', message: 'fping exited with 4: fping: system error' });
  });
});
