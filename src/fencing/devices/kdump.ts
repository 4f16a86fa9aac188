import { FenceCode } from '../codes.js';
import type { DeviceAnswer, FenceDevice, KdumpEnv, LevelDeviceType } from '../device.js';
import { waitMessage, waitQuiet } from '../kdump/listener.js';

// A host that sends fence_kdump messages is in its crash kernel: the kernel that ran its guests is gone, and the
// crash kernel runs no guest and opens no guest disk, so it is as fenced as a power-off would make it. This device
// proves that and cuts nothing. A power-off of the same host (a later level, or a combined level such as
// `kdump, ipmi`) waits until the messages stop, so the vmcore is written first (kdumpAwarePower below).

const iso = (ms: number) => new Date(ms).toISOString();

/** The crash kernel's fence_kdump messages as a witness in a level. */
export const kdumpDevice: LevelDeviceType<'kdump', Record<never, never>> & { readonly role: 'witness' } = {
  name: 'kdump',
  role: 'witness',
  summary: 'the host\'s crash kernel sending fence_kdump messages (kdump.conf fence_kdump_nodes): fenced without a power-off, and a power-off waits for the dump',
  keys: {},
  unavailable(host) {
    if (!host.kdumpConfigured) return 'kdump needs [kdump] enabled = true (cmpha listens for fence_kdump messages)';
    if ((host.addresses ?? []).length === 0) return 'kdump needs the host\'s addresses in its section (mgmt_ip, storage_ips or tunnel_ip): a fence_kdump sender is known by its address';
    return undefined;
  },
  device(env) {
    if (!env.kdump || (env.addresses ?? []).length === 0) return undefined;
    return crashKernelDevice(env.host, env.addresses!, env.kdump);
  },
  async check(env) {
    // Only the controller listens (a second socket on the port would take its messages); its log says when it cannot.
    if (!env.kdump) return { device: 'kdump', answers: true, detail: 'heard by the running controller (cmpha run), not by this command' };
    return readKdump(env.kdump, env.addresses ?? []);
  },
};

function readKdump(k: KdumpEnv, ips: readonly string[]): DeviceAnswer {
  const why = k.watch.notListening();
  if (why) return { device: 'kdump', answers: false, detail: why };
  const last = k.watch.lastFrom(ips);
  const now = k.watch.clock.now();
  const heard = !last ? 'no fence_kdump message from its addresses yet'
    : now - last.lastAt < k.quietAfterMs ? `IN ITS CRASH KERNEL: ${last.count} message(s) from ${last.ip} since ${iso(last.firstAt)}`
      : `last fence_kdump message from ${last.ip} at ${iso(last.lastAt)}`;
  return { device: 'kdump', answers: true, detail: `listening on ${k.watch.where}; ${heard}` };
}

/** One host's kdump device over the process's listener. */
export function crashKernelDevice(host: string, ips: readonly string[], k: KdumpEnv): FenceDevice {
  return {
    kind: 'kdump',
    target: `${k.watch.where} from ${ips.join(',')}`,
    async fence(opts, emit) {
      const why = k.watch.notListening();
      if (why) return { ok: false, code: FenceCode.kdumpNotListening, reason: why };
      const start = k.watch.clock.now();
      let last = k.watch.lastFrom(ips);
      if (!last || start - last.lastAt >= k.quietAfterMs) {
        emit({ kind: 'wait', detail: `waiting up to ${Math.round(k.waitMs / 1000)} s for a fence_kdump message from ${host} (${ips.join(', ')}) on ${k.watch.where}` });
        try {
          last = await waitMessage(k.watch, ips, start - k.quietAfterMs, k.waitMs, k.pollMs, opts.signal);
        } catch {
          return { ok: false, code: FenceCode.aborted, reason: `waiting for ${host}'s fence_kdump message was cancelled` };
        }
      }
      if (!last || k.watch.clock.now() - last.lastAt >= k.quietAfterMs + k.waitMs) {
        return { ok: false, code: FenceCode.kdumpNoMessage, reason: `no fence_kdump message from ${host} (${ips.join(', ')}) within ${Math.round(k.waitMs / 1000)} s: not in a crash kernel that reports` };
      }
      return {
        ok: true, alreadyOff: false, unfenced: false, poweredOff: false,
        detail: `${host} is in its crash kernel: ${last.count} fence_kdump message(s) from ${last.ip} since ${iso(last.firstAt)}, the last at ${iso(last.lastAt)}; its guests are gone`,
      };
    },
    read: async () => readKdump(k, ips),
  };
}

/**
 * A power device that waits, before its power-off, until the host's crash kernel stops sending (the dump is
 * written), at most max_dump_wait; a host that is not sending is powered off at once. Reads and power-on are
 * the device's own.
 */
export function kdumpAwarePower(power: FenceDevice, host: string, ips: readonly string[], k: KdumpEnv): FenceDevice {
  return {
    ...power,
    async fence(opts, emit) {
      const now = k.watch.clock.now();
      const last = k.watch.lastFrom(ips);
      if (last && now - last.lastAt < k.quietAfterMs) {
        emit({ kind: 'wait', detail: `${host}'s crash kernel is sending fence_kdump messages (${last.count} from ${last.ip} since ${iso(last.firstAt)}): the power-off waits until they stop so the dump is written, at most ${Math.round(k.maxDumpWaitMs / 1000)} s` });
        try {
          const r = await waitQuiet(k.watch, ips, k.quietAfterMs, k.maxDumpWaitMs, k.pollMs, opts.signal);
          emit({ kind: 'wait', detail: r.quiet
            ? `${host}'s fence_kdump messages stopped (the last at ${iso(r.last?.lastAt ?? now)}): powering off after ${Math.round(r.waitedMs / 1000)} s`
            : `${host} still sends fence_kdump messages after ${Math.round(r.waitedMs / 1000)} s (max_dump_wait): powering off anyway; the dump may be incomplete` });
        } catch {
          return { ok: false, code: FenceCode.aborted, reason: `waiting for ${host}'s dump to finish was cancelled` };
        }
      }
      return power.fence(opts, emit);
    },
  };
}
