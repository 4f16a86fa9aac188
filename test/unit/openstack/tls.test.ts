import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createOpenStack } from '../../../src/openstack/index.js';
import { runCommand } from '../../../src/shared/run-command.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { FakeOpenStack } from '../../helpers/fake-openstack.js';
import { cloudFor, cmphaFailure, failure } from './cloud.js';

let dir: string;
let tls: { key: string; cert: string };
let fake: FakeOpenStack | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cmpha-tls-'));
  const res = await runCommand('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=cmpha test CA',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  ], { timeoutMs: 20_000 });
  if (res.exitCode !== 0) throw new Error(`openssl failed: ${res.stderr}`);
  tls = { key: await readFile(join(dir, 'key.pem'), 'utf8'), cert: await readFile(join(dir, 'cert.pem'), 'utf8') };
});

afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('TLS settings', () => {
  it('trusts the CA named by cacert', async () => {
    fake = await new FakeOpenStack({ tls }).start();
    const { nova } = createOpenStack(cloudFor(fake, { cacert: join(dir, 'cert.pem') }), { logger: silentLogger });
    expect(await nova.microversion()).toBe('2.93');
  });

  it('refuses an unknown certificate with a hint to set cacert, without retrying', async () => {
    fake = await new FakeOpenStack({ tls }).start();
    const { session } = createOpenStack(cloudFor(fake), { logger: silentLogger, retryBaseDelayMs: 5 });
    const err = await failure(session.token());
    expect(err.code).toBe('tls_error');
    expect(err.message).toContain('set cacert');
    expect(fake.authCalls).toHaveLength(0);
  });

  it('skips verification when insecure is set', async () => {
    fake = await new FakeOpenStack({ tls }).start();
    const { nova } = createOpenStack(cloudFor(fake, { insecure: true }), { logger: silentLogger });
    expect(await nova.microversion()).toBe('2.93');
  });

  it('names the CA file it cannot read', async () => {
    fake = await new FakeOpenStack().start();
    const missing = join(dir, 'no-such-ca.pem');
    const err = await cmphaFailure((async () => createOpenStack(cloudFor(fake!, { cacert: missing }), { logger: silentLogger }))());
    expect(err.code).toBe('config_cacert_unreadable');
    expect(err.message).toContain(`cacert = ${missing}`);
  });
});
