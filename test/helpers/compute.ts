import { novaBackend, type NovaBackend, type NovaBackendOptions } from '../../src/compute/nova/index.js';
import type { Config } from '../../src/config/types.js';
import type { NovaApi } from '../../src/openstack/types.js';

/**
 * The compute backend over a Nova double (RecordingNova, FakeNova, the simulator's client), with the marks of
 * `config` (the defaults, `cmpha` and `down_prepare`, unless given): what the detector, the pipeline and the
 * CLI see of it.
 */
export function computeOf(nova: NovaApi, opts: Partial<NovaBackendOptions> & { readonly config?: Pick<Config, 'evacuation'> } = {}): NovaBackend {
  const { config, ...rest } = opts;
  return novaBackend(nova, {
    reasonPrefix: config?.evacuation.disabledReasonPrefix ?? 'cmpha',
    spareReasonPrefix: config?.evacuation.spareReasonPrefix ?? 'down_prepare',
    ...rest,
  });
}
