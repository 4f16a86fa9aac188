import { execFileSync, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Secret } from '../../../src/config/secret.js';
import { fenceHost } from '../../../src/fencing/fence-host.js';
import { IpmiDriver } from '../../../src/fencing/ipmi-driver.js';
import { IpmiSimLab } from '../../helpers/ipmi-sim.js';

// One network namespace stands in for a compute host; its BMC's power-off hook takes the host's link down.
const NS = `cmpha-fence-${process.pid}`;
const HOST_SIDE = `cfh${process.pid % 100000}`;
const NS_SIDE = `cfn${process.pid % 100000}`;
const MGMT_IP = '198.19.254.2';

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
const alive = (addr: string) => spawnSync('fping', ['-c', '1', '-t', '300', '-q', addr], { stdio: 'ignore' }).status === 0;

describe('a fenced host drops off the network', () => {
  const lab = new IpmiSimLab();

  beforeAll(() => {
    ip('netns', 'add', NS);
    ip('link', 'add', HOST_SIDE, 'type', 'veth', 'peer', 'name', NS_SIDE);
    ip('link', 'set', NS_SIDE, 'netns', NS);
    ip('addr', 'add', '198.19.254.1/30', 'dev', HOST_SIDE);
    ip('-n', NS, 'addr', 'add', `${MGMT_IP}/30`, 'dev', NS_SIDE);
    ip('link', 'set', HOST_SIDE, 'up');
    ip('-n', NS, 'link', 'set', NS_SIDE, 'up');
    ip('-n', NS, 'link', 'set', 'lo', 'up');
  });
  afterAll(async () => {
    await lab.stopAll();
    spawnSync('ip', ['link', 'del', HOST_SIDE], { stdio: 'ignore' });
    spawnSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
  });

  it('answers ping while on, and stops answering once the fence reads back off', async () => {
    await expect.poll(() => alive(MGMT_IP), { timeout: 5000 }).toBe(true);
    const bmc = await lab.start({ power: 'on', onPowerOff: [['ip', '-n', NS, 'link', 'set', NS_SIDE, 'down']] });
    const driver = new IpmiDriver({
      name: 'compute-ns', address: bmc.address, port: bmc.port, username: bmc.username, password: new Secret(bmc.password),
      ipmi: { interface: 'lanplus', cipherSuite: 3, timeoutS: 1, retries: 1 },
    });
    const result = await fenceHost(driver, { timeoutMs: 10_000, pollIntervalMs: 200, attempts: 3 });
    expect(result).toMatchObject({ ok: true, alreadyOff: false });
    await expect.poll(() => alive(MGMT_IP), { timeout: 5000 }).toBe(false);
  });
});
