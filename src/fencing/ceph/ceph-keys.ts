import { key } from '../../config/declare.js';
import { duration, text } from '../../config/fields.js';

/** The `[ceph]` keys: the storage fence's cluster, cephx user and timings, declared next to the code that reads them. */
export const cephKeys = {
  conf: key('conf', text(), 'A ceph.conf to read (for mon_host and the like).'),
  monHost: key('mon_host', text(), 'Monitor addresses, as in ceph.conf (IP literals); overrides conf.'),
  user: key('user', text('cmpha').transform((u) => u.replace(/^client\./, '')), 'cephx user id (client. is optional).', { default: 'cmpha' }),
  keyringFile: key('keyring_file', text(), 'Keyring of that user. Read by librados only; the key never reaches argv, logs or metrics. Setting it enables the ceph fence device.'),
  imagesRbdPool: key('images_rbd_pool', text('vms'), 'Nova\'s [libvirt] images_rbd_pool: where <server uuid>_disk and its _disk.* siblings live.'),
  blocklistExpireS: key('blocklist_expire', duration('1h', { min: '1m' }).transform((ms) => Math.round(ms / 1000)), 'Expiry of each blocklist entry; renewed every third of it while the incident is open (by swapping IP:0/0 and range IP/32, since a re-add keeps the old expiry). Only cmpha host restore --unfence-storage removes it earlier.', { default: '1h' }),
  confirmTimeoutMs: key('confirm_timeout', duration('10s', { min: '1s' }), 'Time for the host\'s watchers to vanish from its images after the blocklist is listed.'),
  commandTimeoutMs: key('command_timeout', duration('15s', { min: '2s' }), 'Time for one call to Ceph (one librados connection for all images and addresses).'),
  writerProofTimeoutMs: key('writer_proof_timeout', duration('2m', { min: '1s' }), 'After evacuation, how long the single-writer proof waits for each recovered server to open its disks (exactly one watcher, from its new host). A second writer fails the server at once (double-writer).'),
  python: key('python', text('/usr/bin/python3'), 'The python3 that has python3-rados and python3-rbd.'),
  simUrl: key('sim_url', text(), 'Control URL of the cloud simulator, whose simulated Ceph then stands in for the cluster (demo and tests only; no keyring needed).'),
} as const;
