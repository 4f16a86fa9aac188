/** Redis keys the detector owns, under the configured `[redis] prefix`. */
export const detectorKeys = (prefix: string) => ({
  leader: `${prefix}:detector:leader`,
  brake: `${prefix}:detector:storm-brake`,
  resume: `${prefix}:detector:storm-brake:resume`,
});
