/** Redis keys the detector owns, under the configured `[redis] prefix`. */
export const detectorKeys = (prefix: string) => ({
  leader: `${prefix}:detector:leader`,
  brake: `${prefix}:detector:storm-brake`,
  resume: `${prefix}:detector:storm-brake:resume`,
  /** Hash: scope key → the disarm (disarm.ts). */
  disarms: `${prefix}:ha:disarms`,
  /** List, newest first: every disarm and arm with who, when and why. */
  disarmAudit: `${prefix}:ha:audit`,
});
