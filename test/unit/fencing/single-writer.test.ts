import { describe, expect, it } from 'vitest';
import { judgeWriters } from '../../../src/fencing/ceph/single-writer.js';
import { hostWatchers } from '../../../src/fencing/ceph/storage-fence.js';

const e = { serverId: 's1', serverName: 'vm1', host: 'spare1', hostIps: ['198.18.30.12'] };
const w = (address: string) => ({ address, client: 1, cookie: 2 });

describe('judgeWriters', () => {
  it('one watcher per disk, from the server\'s host: single', () => {
    expect(judgeWriters(e, [{ image: 'vms/s1_disk', watchers: [w('198.18.30.12:0/1')] }, { image: 'vms/s1_disk.config', watchers: [w('198.18.30.12:0/1')] }]).verdict).toBe('single');
  });
  it('a watcher from another host, or two watchers: double-writer, naming them', () => {
    const foreign = judgeWriters(e, [{ image: 'vms/s1_disk', watchers: [w('198.18.30.11:0/9')] }]);
    expect(foreign).toMatchObject({ verdict: 'double-writer', detail: expect.stringContaining('vms/s1_disk 198.18.30.11:0/9') });
    const two = judgeWriters(e, [{ image: 'vms/s1_disk', watchers: [w('198.18.30.12:0/1'), w('198.18.30.12:0/2')] }]);
    expect(two).toMatchObject({ verdict: 'double-writer', detail: expect.stringContaining('has 2 watchers') });
  });
  it('no watcher yet, or unreadable: unproven; no image at all: not on Ceph', () => {
    expect(judgeWriters(e, [{ image: 'vms/s1_disk', watchers: [] }]).verdict).toBe('unproven');
    expect(judgeWriters(e, [{ image: 'vms/s1_disk', errno: 5, error: 'EIO' }]).verdict).toBe('unproven');
    expect(judgeWriters(e, []).verdict).toBe('not-on-ceph');
  });
  it('a host without storage_ips is never called a double writer', () => {
    expect(judgeWriters({ ...e, hostIps: [] }, [{ image: 'vms/s1_disk', watchers: [w('198.18.30.11:0/9')] }]).verdict).toBe('unproven');
  });
});

describe('hostWatchers', () => {
  it('keeps only the host\'s addresses (IPv4 and bracketed IPv6) and lists unreadable images', () => {
    const r = hostWatchers([
      { image: 'a', watchers: [w('198.18.30.11:0/1'), w('198.18.30.111:0/2')] },
      { image: 'b', watchers: [w('[2001:db8::11]:0/3')] },
      { image: 'c', errno: 1, error: 'EPERM' },
      { image: 'd', missing: true },
    ], new Set(['198.18.30.11', '2001:db8::11']));
    expect(r).toEqual({ left: [{ image: 'a', address: '198.18.30.11:0/1' }, { image: 'b', address: '[2001:db8::11]:0/3' }], unreadable: ['c'] });
  });
});
