import { CmphaError } from '../shared/errors.js';

/** The services cmpha calls; `cloudpods` is a Cloudpods region's compute_v2 API (src/openstack/cloudpods.ts). */
export type OpenStackService = 'keystone' | 'nova' | 'neutron' | 'placement' | 'cinder' | 'cloudpods' | 'glance' | 'masakari';

/**
 * A 2xx answer whose body is not the documented shape (a field missing or mistyped, a list that is not a
 * list). Retryable: one garbled answer is retried like a 5xx; the message names the endpoint and the field.
 */
export const NOVA_MALFORMED_ANSWER = 'nova_malformed_answer';

/** A POST evacuate failed in a way that leaves open whether Nova acted; re-read the server and its migrations. */
export const NOVA_EVACUATE_OUTCOME_UNKNOWN = 'nova_evacuate_outcome_unknown';
export const NOVA_LIVE_MIGRATE_OUTCOME_UNKNOWN = 'nova_live_migrate_outcome_unknown';
/** A POST migrate to a Cloudpods region failed in a way that leaves open whether it acted; re-read the guest. */
export const CLOUDPODS_MIGRATE_OUTCOME_UNKNOWN = 'cloudpods_migrate_outcome_unknown';

export interface OpenStackErrorDetails {
  readonly service: OpenStackService;
  readonly method: string;
  /** Path and query of the request, never a full URL with credentials and never a header. */
  readonly path: string;
  readonly status?: number;
  readonly requestId?: string;
  /** The message the service put in its error body, when it gave one. */
  readonly serviceMessage?: string;
  /** For a malformed answer: the field that did not fit (`servers[3].id`). */
  readonly field?: string;
}

/**
 * Every failure of a call to Keystone, Nova or Neutron, translated at the client boundary so callers
 * decide on `code` and `retryable` instead of HTTP details. Context holds no token and no request body.
 */
export class OpenStackError extends CmphaError {
  readonly service: OpenStackService;
  readonly method: string;
  readonly path: string;
  readonly status: number | undefined;
  readonly requestId: string | undefined;
  readonly serviceMessage: string | undefined;

  constructor(
    code: string,
    message: string,
    details: OpenStackErrorDetails,
    opts: { retryable?: boolean; cause?: unknown } = {},
  ) {
    super(code, message, {
      retryable: opts.retryable ?? false,
      cause: opts.cause,
      context: { ...details },
    });
    this.name = 'OpenStackError';
    this.service = details.service;
    this.method = details.method;
    this.path = details.path;
    this.status = details.status;
    this.requestId = details.requestId;
    this.serviceMessage = details.serviceMessage;
  }
}

export function isOpenStackError(err: unknown, code?: string): err is OpenStackError {
  return err instanceof OpenStackError && (code === undefined || err.code === code);
}

const SERVICE_LABEL: Record<OpenStackService, string> = { keystone: 'Keystone', nova: 'Nova', neutron: 'Neutron', placement: 'Placement', cinder: 'Cinder', cloudpods: 'the Cloudpods region', glance: 'Glance', masakari: 'Masakari' };

export function serviceLabel(service: OpenStackService): string {
  return SERVICE_LABEL[service];
}

/** Stable code for an HTTP error status; 401/403 are the same whichever service answered. */
export function codeForStatus(service: OpenStackService, status: number): { code: string; retryable: boolean } {
  if (status === 401) return { code: 'unauthorized', retryable: false };
  if (status === 403) return { code: 'forbidden', retryable: false };
  if (status === 400) return { code: `${service}_bad_request`, retryable: false };
  if (status === 404) return { code: `${service}_not_found`, retryable: false };
  if (status === 409) return { code: `${service}_conflict`, retryable: false };
  // Rate limiting passes with time: the caller may try again later, but this layer does not.
  if (status === 429) return { code: `${service}_rate_limited`, retryable: true };
  if (status >= 500) return { code: `${service}_unavailable`, retryable: true };
  return { code: `${service}_http_${status}`, retryable: false };
}
