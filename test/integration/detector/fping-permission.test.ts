import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { checkFpingPermission, createFpingProber } from '../../../src/detector/fping-prober.js';
import { silentLogger } from '../../../src/shared/logger.js';

// fping without CAP_NET_RAW, as under `podman run` without --cap-add NET_RAW: the probe error names the fix.
// Only 127.0.0.1 is pinged; without the capability nothing is sent at all.

const root = fileURLToPath(new URL('../../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'cmpha-netraw-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const opts = { probeTimeoutMs: 200, probePacketIntervalMs: 1, probeCount: 1 };

describe('fping without CAP_NET_RAW', () => {
  it('through a wrapper that drops the capability (exit 126): probe_not_permitted, saying --cap-add NET_RAW', async () => {
    const wrapper = join(dir, 'fping-no-net-raw');
    writeFileSync(wrapper, '#!/bin/sh\nexec setpriv --bounding-set=-net_raw fping "$@"\n');
    chmodSync(wrapper, 0o755);
    const err = await checkFpingPermission(createFpingProber({ ...opts, fpingPath: wrapper }, { logger: silentLogger }));
    expect(err?.code).toBe('probe_not_permitted');
    expect(err?.retryable).toBe(false);
    expect(err?.message).toContain('fping lacks CAP_NET_RAW');
    expect(err?.message).toContain('--cap-add NET_RAW');
    expect(err?.message).toContain('AmbientCapabilities=CAP_NET_RAW');
    expect(err?.message).toContain('exit 126');
  });

  // The whole process as a container runs it: an unprivileged user whose bounding set lacks CAP_NET_RAW, so
  // exec of fping (file capability cap_net_raw=ep) is refused with EPERM.
  const script = join(dir, 'check.mts');
  writeFileSync(script, `import { checkFpingPermission, createFpingProber } from ${JSON.stringify(`${root}src/detector/fping-prober.ts`)};
import { silentLogger } from ${JSON.stringify(`${root}src/shared/logger.ts`)};
const err = await checkFpingPermission(createFpingProber({ fpingPath: 'fping', probeTimeoutMs: 200, probePacketIntervalMs: 1, probeCount: 1 }, { logger: silentLogger }));
process.stdout.write(JSON.stringify(err ? { code: err.code, message: err.message } : null));
`);
  chmodSync(dir, 0o755);
  const asNobody = (bounding: string[]) => spawnSync('setpriv', [
    '--reuid=nobody', '--regid=nogroup', '--clear-groups', ...bounding,
    process.execPath, '--import', `${root}node_modules/tsx/dist/esm/index.mjs`, script,
  ], { encoding: 'utf8', timeout: 60_000, cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent' } });

  it('as an unprivileged user without the capability (EPERM): the same error', () => {
    const r = asNobody(['--bounding-set=-net_raw']);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { code: string; message: string } | null;
    expect(out?.code).toBe('probe_not_permitted');
    expect(out?.message).toContain('--cap-add NET_RAW');
    expect(out?.message).toContain('EPERM');
  });

  it('as the same user with the capability left in the bounding set: fping works', () => {
    const r = asNobody([]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toBeNull();
  });
});
