import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { Secret } from '../../../src/config/secret.js';
import { createOpenStack } from '../../../src/openstack/index.js';
import type { OpenStackError } from '../../../src/openstack/errors.js';
import { FakeOpenStack, novaServer, novaService } from '../../helpers/fake-openstack.js';
import { captureLogger, cloudFor, failure, passwordAuth } from './cloud.js';

let fake: FakeOpenStack;

afterEach(async () => {
  await fake?.close();
});

/** Every form in which an error may end up in a log, an alert or an incident record. */
function renderings(err: Error): string[] {
  return [err.message, String(err), err.stack ?? '', inspect(err, { depth: 10 }), JSON.stringify(err), JSON.stringify((err as { context?: unknown }).context)];
}

describe('secrets stay out of logs and errors', () => {
  it('never shows the password or a token, through auth, renewal, retries and failures', async () => {
    fake = await new FakeOpenStack().start();
    const { logger, lines } = captureLogger();
    const { nova, session } = createOpenStack(cloudFor(fake, { retries: 1 }), { logger, retryBaseDelayMs: 5 });
    fake.services.push(novaService('cmp1'));
    fake.servers.push(novaServer('s-1', 'cmp1'));
    const errors: OpenStackError[] = [];

    await nova.listComputeServices();
    fake.revokeTokens();
    await nova.listComputeServices();
    fake.fail('nova', 'GET', '/os-services', { status: 500 }, 1);
    await nova.listComputeServices();
    fake.fail('nova', 'POST', '/servers/s-1/action', { reset: true }, 1);
    errors.push(await failure(nova.evacuate('s-1', 'spare1')));
    fake.fail('nova', 'GET', '/servers/s-1', { status: 400, body: { badRequest: { code: 400, message: 'bad marker' } } }, 1);
    errors.push(await failure(nova.getServer('s-1')));
    fake.acceptTokens = false;
    errors.push(await failure(nova.listComputeServices()));
    fake.acceptTokens = true;
    fake.fail('keystone', 'POST', '/auth/tokens', { status: 503 }, 5);
    session.invalidate();
    errors.push(await failure(nova.listComputeServices()));

    const tokens = fake.callsTo('nova').map((c) => c.headers['x-auth-token']).filter((t): t is string => t !== undefined);
    expect(new Set(tokens).size).toBeGreaterThanOrEqual(2);
    expect(lines.length).toBeGreaterThan(10);
    expect(errors.map((e) => e.code)).toEqual(['nova_evacuate_outcome_unknown', 'nova_bad_request', 'unauthorized', 'keystone_unavailable']);
    const output = [...lines, ...errors.flatMap(renderings)].join('\n');
    expect(output).not.toContain(fake.creds.password);
    for (const t of tokens) expect(output).not.toContain(t);
    // Sanity: the log really carries the calls, so the absence above means something.
    expect(output).toContain('/os-services');
  });

  it('keeps a rejected password out of the error and the log', async () => {
    fake = await new FakeOpenStack().start();
    const { logger, lines } = captureLogger();
    const wrong = 'Wr0ng-but-still-secret';
    const { session } = createOpenStack(cloudFor(fake, { auth: passwordAuth(fake, { password: new Secret(wrong) }) }), { logger });
    const err = await failure(session.token());
    expect(err.code).toBe('unauthorized');
    // The password did go to Keystone, so the absence below is not for lack of having it.
    expect(fake.authCalls[0]!.rawBody).toContain(wrong);
    expect([...lines, ...renderings(err)].join('\n')).not.toContain(wrong);
  });

  it('scrubs a secret that a service echoes back in its error message', async () => {
    fake = await new FakeOpenStack().start();
    const { logger, lines } = captureLogger();
    const auth = { type: 'application_credential' as const, id: fake.creds.appCredId, secret: new Secret(fake.creds.appCredSecret) };
    const { nova } = createOpenStack(cloudFor(fake, { auth }), { logger });
    await nova.microversion();
    fake.fail('nova', 'GET', '/os-services', { status: 400, body: { badRequest: { code: 400, message: `invalid filter ${fake.creds.appCredSecret}` } } }, 1);
    const err = await failure(nova.listComputeServices());
    expect(err.serviceMessage).toBe('invalid filter ***');
    expect([...lines, ...renderings(err)].join('\n')).not.toContain(fake.creds.appCredSecret);
  });
});
