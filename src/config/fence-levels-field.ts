import { z } from 'zod';
import { FENCE_DEVICE_NAMES, type FenceDeviceName } from '../fencing/devices/registry.js';
import { text } from './fields.js';

export type { FenceDeviceName };

/**
 * `fence_levels = ipmi | ceph` or `redfish, ceph | ceph`: levels separated by `|`, tried in order; the devices
 * of one level separated by `,`, all of which must confirm (Pacemaker's fencing topology).
 */
export function parseFenceLevels(spec: string): { levels: FenceDeviceName[][] } | { error: string } {
  const levels: FenceDeviceName[][] = [];
  for (const [i, part] of spec.split('|').entries()) {
    const devices = part.split(',').map((d) => d.trim()).filter((d) => d !== '');
    if (devices.length === 0) return { error: `level ${i + 1} is empty in "${spec}"` };
    const level: FenceDeviceName[] = [];
    for (const d of devices) {
      if (!(FENCE_DEVICE_NAMES as readonly string[]).includes(d)) return { error: `level ${i + 1}: "${d}" is not a fence device (known: ${FENCE_DEVICE_NAMES.join(', ')})` };
      if (level.includes(d as FenceDeviceName)) return { error: `level ${i + 1} names ${d} twice` };
      level.push(d as FenceDeviceName);
    }
    levels.push(level);
  }
  return { levels };
}

export function fenceLevelsField() {
  return text().transform((t, ctx) => {
    if (t === undefined) return undefined;
    const r = parseFenceLevels(t);
    if ('error' in r) {
      ctx.addIssue({ code: 'custom', message: r.error });
      return z.NEVER;
    }
    return r.levels;
  });
}
