import { spawn } from 'node:child_process';

export interface CliResult {
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
}

/**
 * Debian's openstack client (with python3-masakariclient) pointed at cmpha's API with admin_token auth: no
 * Keystone. The token goes in the environment, not argv (where ps would show it); HOME is the test's own dir.
 */
export function openstackCli(opts: { readonly endpoint: string; readonly token: string; readonly home: string }) {
  return (...args: string[]): Promise<CliResult> => new Promise((resolve) => {
    const child = spawn('openstack', args, {
      env: { PATH: process.env.PATH ?? '', HOME: opts.home, OS_AUTH_TYPE: 'admin_token', OS_ENDPOINT: opts.endpoint, OS_TOKEN: opts.token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, out, err }); });
  });
}
