// Masakari's instance monitor against real Nova: a server booted on compute1 (Nova's fake driver) and marked
// HA_Enabled=True; a libvirtd of the test's own (test/helpers/libvirt.ts) runs a diskless QEMU guest under TCG whose
// UUID is that server's; Debian's masakari-instancemonitor, naming its host compute1, watches it and reports to
// cmpha's API with one of cmpha's write tokens (keystoneauth admin_token, in its config file). The guest's QEMU
// process is killed: the monitor's STOPPED_FAILED notification makes cmpha stop and start the server through real
// Nova, and Nova's own instance actions show the stop and the start.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLibvirt, writeInstanceMonitorConfig, type TestLibvirt } from '../../helpers/libvirt.js';
import { freePort } from '../../helpers/ports.js';
import { ProcessGroup } from '../../helpers/processes.js';
import { CmphaHarness } from './cmpha-harness.js';
import { LabNova, readLab, resetLab, until, type NovaServer } from './lab.js';

const lab = readLab();
const TOKEN = 'lab-instancemonitor-token-0000';
const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-lab-im-'));
const group = new ProcessGroup();
let nova: LabNova;
let cmpha: CmphaHarness;
let libvirt: TestLibvirt;
let server: NovaServer;
let apiPort: number;

const readLog = (f: string) => { try { return readFileSync(f, 'utf8'); } catch { return ''; } };
async function api(p: string): Promise<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return await (await fetch(`http://127.0.0.1:${apiPort}${p}`, { headers: { 'X-Auth-Token': TOKEN } })).json() as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

describe('real Nova: masakari-instancemonitor reports a crashed guest, cmpha restarts the server', () => {
  beforeAll(async () => {
    nova = await LabNova.connect(lab);
    await resetLab(nova);
    server = await nova.boot('ha-vm-1', 'compute1');
    await nova.rest.novaOk('POST', `/servers/${server.id}/metadata`, { metadata: { HA_Enabled: 'True' } });
    apiPort = await freePort();
    const tokenFile = path.join(dir, 'masakari-monitors.token');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    cmpha = await CmphaHarness.start(lab, {
      name: 'instance-monitor',
      settings: { 'api.enabled': 'true', 'api.listen': `127.0.0.1:${apiPort}`, 'api.write_token_files': tokenFile, 'instance_failure.poll_interval': '500ms' },
    });
    libvirt = await startLibvirt();
  }, 600_000);

  afterAll(async () => {
    await group.stopAll();
    await libvirt?.stop();
    await cmpha?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('kill the guest\'s QEMU process: a VM notification, then os-stop and os-start on real Nova, the server ACTIVE on compute1', async () => {
    const qemu = await libvirt.startGuest(server.id, 'instance-lab-1');
    const { conf, log } = writeInstanceMonitorConfig(dir, { hostname: 'compute1', apiPort, token: TOKEN, libvirtUri: libvirt.uri });
    group.start('masakari-instancemonitor', ['--config-file', conf]);
    await until('the instance monitor to receive libvirt events', 60_000, async () => {
      await libvirt.virsh('suspend', 'instance-lab-1');
      await libvirt.virsh('resume', 'instance-lab-1');
      return /libvirt Event Received/.test(readLog(log)) ? true : undefined;
    }, 500);

    process.kill(qemu, 'SIGKILL');
    const n = await until(`the VM notification for ${server.id} settled`, 180_000, async () => {
      const found = (await api('/v1/notifications?type=VM')).notifications?.find((x: { payload: { instance_uuid: string } }) => x.payload.instance_uuid === server.id);
      return found && found.status !== 'new' && found.status !== 'running' ? found : undefined;
    }, 1000);
    expect(n).toMatchObject({ hostname: 'compute1', created_by: 'masakari-monitors', status: 'finished', payload: { event: 'LIFECYCLE', vir_domain_event: 'STOPPED_FAILED' } });
    const rec = (await api(`/v1/vm-failures/${n.incident_id}`)).vmFailure;
    expect(rec).toMatchObject({ serverId: server.id, host: 'compute1', status: 'resolved' });
    expect(await nova.server(server.id)).toMatchObject({ status: 'ACTIVE', 'OS-EXT-SRV-ATTR:host': 'compute1' });
    const actions = await nova.rest.novaOk<{ instanceActions: Array<{ action: string }> }>('GET', `/servers/${server.id}/os-instance-actions`);
    expect(actions.instanceActions.map((a) => a.action).filter((a) => a === 'stop' || a === 'start').sort()).toEqual(['start', 'stop']);
  }, 420_000);
});
