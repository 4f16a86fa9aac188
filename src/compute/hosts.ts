import type { ComputeHost } from './types.js';

/** The compute host named `name` in a list the cloud gave (a list may name other hosts too). */
export function hostNamed(hosts: readonly ComputeHost[], name: string): ComputeHost | undefined {
  return hosts.find((h) => h.name === name);
}
