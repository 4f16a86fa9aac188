import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Secret } from '../../../src/config/secret.js';
import type { RedisConfig } from '../../../src/config/types.js';
import { connectRedisOnce } from '../../../src/shared/redis-connect.js';
import { freePort, waitForTcp } from '../../helpers/ports.js';
import { ProcessGroup } from '../../helpers/processes.js';
import { makeTestPki, type TestPki } from '../../helpers/test-pki.js';

// Debian's redis-server speaking only TLS, requiring client certificates, with an ACL user: the connection
// factory reaches it through [redis] tls_* keys, and says clearly when a piece is missing.
describe('Redis over TLS with a client certificate and an ACL user', () => {
  const group = new ProcessGroup();
  let dir: string;
  let pki: TestPki;
  let port: number;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cmpha-redis-tls-'));
    pki = makeTestPki(dir);
    port = await freePort();
    group.start('redis-server', [
      '--bind', '127.0.0.1', '--port', '0', '--tls-port', String(port), '--dir', dir, '--save', '', '--appendonly', 'no',
      '--tls-cert-file', pki.serverCert, '--tls-key-file', pki.serverKey, '--tls-ca-cert-file', pki.ca, '--tls-auth-clients', 'yes',
      '--user', 'default', 'off', '--user', 'cmpha', 'on', '>tls-test-pw', '~cmpha:*', '+@all',
    ]);
    await waitForTcp(port);
  });
  afterAll(async () => {
    await group.stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  const config = (over: Partial<RedisConfig> = {}): RedisConfig => ({
    url: `rediss://127.0.0.1:${port}`, prefix: 'cmpha', username: 'cmpha', password: new Secret('tls-test-pw'),
    tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey }, ...over,
  });

  it('connects with the CA, the client certificate and the ACL user, and can write its own keys', async () => {
    const r = await connectRedisOnce(config());
    try {
      expect(await r.set('cmpha:tls-probe', '1')).toBe('OK');
      await expect(r.set('other:key', '1')).rejects.toThrow(/NOPERM/);
    } finally {
      r.disconnect();
    }
  });

  it('fails with a message naming [redis] and never the password, without the client certificate or the CA', async () => {
    for (const bad of [config({ tls: { ca: pki.ca } }), config({ tls: {} }), config({ password: new Secret('wrong-pw') })]) {
      const err = await connectRedisOnce(bad, 3000).then(() => null, (e: unknown) => e as Error);
      expect(err).not.toBeNull();
      expect(err!.message).toMatch(/^cannot reach Redis at rediss:\/\/127\.0\.0\.1:\d+ \(\[redis\]\)/);
      expect(err!.message).not.toMatch(/tls-test-pw|wrong-pw/);
    }
  });
});
