import { CmphaError } from '../../../src/shared/errors.js';
import { OpenStackError } from '../../../src/openstack/errors.js';
import type { CloudAuth, CloudConfig } from '../../../src/config/types.js';
import { Secret } from '../../../src/config/secret.js';
import type { FakeOpenStack } from '../../helpers/fake-openstack.js';

export function passwordAuth(fake: FakeOpenStack, over: Partial<Extract<CloudAuth, { type: 'password' }>> = {}): CloudAuth {
  return {
    type: 'password', username: fake.creds.username, password: new Secret(fake.creds.password),
    userDomainName: fake.creds.userDomain, projectName: fake.creds.projectName, projectDomainName: fake.creds.projectDomain, ...over,
  };
}

export function cloudFor(fake: FakeOpenStack, over: Partial<CloudConfig> = {}): CloudConfig {
  return {
    type: 'openstack', authUrl: fake.authUrl, auth: passwordAuth(fake), interface: 'public', insecure: false,
    timeoutMs: 5000, retries: 3, source: 'test', ...over,
  };
}

export { captureLogger } from '../../helpers/capture-logger.js';

/** The error a call failed with; the test fails if the call succeeds or throws something untyped. */
export async function failure(p: Promise<unknown>): Promise<OpenStackError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof OpenStackError) return err;
    throw err;
  }
  throw new Error('expected the call to fail, it succeeded');
}

export async function cmphaFailure(p: Promise<unknown>): Promise<CmphaError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CmphaError) return err;
    throw err;
  }
  throw new Error('expected the call to fail, it succeeded');
}
