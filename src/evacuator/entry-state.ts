import type { InstanceEntry } from '../incidents/types.js';

/**
 * Nova's part of the evacuation is done: the server runs ACTIVE on its new host, recorded there (`activeAt`,
 * `target`); its network is checked next, outside the evacuation slot.
 */
export function isActiveElsewhere(entry: InstanceEntry): boolean {
  return entry.state === 'evacuated' && entry.activeAt !== undefined && entry.target !== null;
}
