/**
 * Stable error codes of fencing. They end up in incident records, metrics labels and alerts, so they are a
 * public contract: add new ones, never rename.
 */
export const FenceCode = {
  /** The BMC rejected the credentials or the user may not control power. Retrying cannot help. */
  authFailed: 'bmc_auth_failed',
  /** Nothing answered at the BMC's address. May be transient (network), so it is retried. */
  unreachable: 'bmc_unreachable',
  /** The BMC (or the tool talking to it) did not answer in time. Retried. */
  timeout: 'bmc_timeout',
  /** The BMC answered with an error we do not know to be transient. */
  error: 'bmc_error',
  /** TLS verification of the BMC failed (Redfish over HTTPS). Needs a CA (`redfish_cacert`), not a retry. */
  tlsFailed: 'bmc_tls_failed',
  /** The fencing settings cannot work (e.g. a host name where an IP literal is required). */
  configInvalid: 'fence_config_invalid',
  /** The power state never read back `off` within the fence timeout. */
  notOff: 'fence_timeout',
  /** The BMC's answer about power could not be read as on or off. */
  stateUnknown: 'power_state_unknown',
  /** The host has no fence level (or device) that could act. */
  notConfigured: 'fence_not_configured',
  /** Every fence level of the host was tried and none confirmed. */
  allLevelsFailed: 'fence_levels_failed',
  /** [kdump] is enabled but its listener is not bound (port taken, address not local). */
  kdumpNotListening: 'kdump_not_listening',
  /** The kdump device heard no fence_kdump message from the host within [kdump] wait. */
  kdumpNoMessage: 'kdump_no_message',
  /** The caller cancelled the fence step. */
  aborted: 'fence_aborted',
} as const;
export type FenceCodeValue = (typeof FenceCode)[keyof typeof FenceCode];
