import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { parseCommandTemplate, renderCommand } from '../../../src/shared/command-template.js';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

describe('remediation command templates', () => {
  it('splits like a shell would, quotes grouping, with nothing expanded', () => {
    expect(parseCommandTemplate(`ssh -o BatchMode=yes root@{mgmt_ip} 'systemctl restart nova-compute' "$HOME"`, 'x'))
      .toEqual(['ssh', '-o', 'BatchMode=yes', 'root@{mgmt_ip}', 'systemctl restart nova-compute', '$HOME']);
  });
  it('names the place of a bad template', () => {
    expect(() => parseCommandTemplate('docker restart {container}', '[host:c1] agent_command')).toThrow(/\[host:c1\] agent_command: unknown placeholder \{container\}/);
    expect(() => parseCommandTemplate(`ssh 'unterminated`, 'here')).toThrow(/here: unterminated ' quote/);
    expect(() => parseCommandTemplate('   ', 'here')).toThrow(/here: the command is empty/);
  });
  it('puts each value inside its own argument, and refuses a value a remote shell would read as syntax', () => {
    const argv = parseCommandTemplate('ssh root@{mgmt_ip} docker restart nova_compute_{host}', 'x');
    expect(renderCommand(argv, { host: 'cmp-1.dc', mgmt_ip: '198.18.0.9' })).toEqual(['ssh', 'root@198.18.0.9', 'docker', 'restart', 'nova_compute_cmp-1.dc']);
    expect(() => renderCommand(argv, { host: 'x; touch /tmp/x', mgmt_ip: '198.18.0.9' })).toThrow(/refusing to put "x; touch \/tmp\/x"/);
    expect(() => renderCommand(argv, { host: '$(id)', mgmt_ip: '198.18.0.9' })).toThrow(/refusing/);
    expect(() => renderCommand(argv, { host: 'c1', mgmt_ip: null })).toThrow(/needs \{mgmt_ip\}, and none is known for host "c1"/);
  });
  it('a bad template in the config file is an error naming section and key', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-tpl-'));
    const file = path.join(dir, 'cmpha.conf');
    writeFileSync(file, '[cloud]\nauth_url = http://127.0.0.1:1/v3\nusername = a\npassword = b\nproject_name = p\n[remediation]\nagent_command = ssh {nope}\n');
    try {
      await expect(loadConfig({ path: file, env: {} })).rejects.toThrow(/\[remediation\] agent_command.*unknown placeholder \{nope\}/s);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
