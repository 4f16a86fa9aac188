# A stand-in for a VM's disk client: librbd (the library qemu links) holding one image open read-write and
# writing 4 KiB every INTERVAL seconds, one JSON line per write on stdout. It keeps going after a failed write,
# so a fenced writer shows every later write refused (errno 108, ESHUTDOWN) rather than just dying.
# usage: rbd-writer.py CONF CLIENT_ID POOL/IMAGE[,POOL/IMAGE...] INTERVAL
# Several images: one process holds them all open (as one host's many VMs would) and writes to each in turn.
import json
import sys
import time

import rados
import rbd

conf, client_id, specs, interval = sys.argv[1], sys.argv[2], sys.argv[3].split(','), float(sys.argv[4])


def say(**event):
    print(json.dumps(event), flush=True)


def errno_of(err):
    e = getattr(err, 'errno', None)
    return abs(e) if isinstance(e, int) else -1


cluster = rados.Rados(conffile=conf, rados_id=client_id)
cluster.connect(timeout=15)
ioctxs = {}
images = []
try:
    for spec in specs:
        pool, name = spec.split('/', 1)
        if pool not in ioctxs:
            ioctxs[pool] = cluster.open_ioctx(pool)
        images.append(rbd.Image(ioctxs[pool], name))
except Exception as err:  # noqa: BLE001 - reported, then exit non-zero
    say(event='open-failed', errno=errno_of(err), error=str(err))
    sys.exit(3)
say(event='open', addr=cluster.get_addrs())
n = 0
while True:
    n += 1
    block = (b'%s %d ' % (cluster.get_addrs().encode(), n)).ljust(4096, b'.')
    for image in images:
        try:
            image.write(block, (n % 1024) * 4096)
            say(event='write', n=n, ok=True)
        except Exception as err:  # noqa: BLE001 - every failure is the measurement
            say(event='write', n=n, ok=False, errno=errno_of(err), error=type(err).__name__)
    time.sleep(interval)
