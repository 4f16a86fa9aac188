export { runDoctor } from './run-doctor.js';
export { formatDoctorReport, doctorJson } from './format.js';
export { admitSpares, type AdmissionHost, type AdmissionSpare, type SpareAdmission } from './spare-admission.js';
export { judgeHost, IMAGE_BACKED_WARNING, type HostFacts } from './host-verdict.js';
export type * from './types.js';
