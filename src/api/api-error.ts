/**
 * An error the API answers with: HTTP status, a stable code a script can match, and a message for a person.
 * The cmpha routes answer `{"error":{"code","message","status"}}`; the Masakari-compatible routes answer
 * Masakari's fault shape (`{"badRequest":{"code":400,"message"}}`) so its client prints the message.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The fault names Masakari (as Nova) puts around an error body, by HTTP status. */
const MASAKARI_FAULTS: Record<number, string> = {
  400: 'badRequest', 401: 'unauthorized', 403: 'forbidden', 404: 'itemNotFound', 405: 'badMethod',
  409: 'conflictingRequest', 413: 'overLimit', 415: 'badMediaType', 501: 'notImplemented', 503: 'serviceUnavailable',
};

export function errorBody(err: ApiError, style: 'cmpha' | 'masakari'): unknown {
  if (style === 'masakari') return { [MASAKARI_FAULTS[err.status] ?? 'computeFault']: { code: err.status, message: err.message } };
  return { error: { code: err.code, message: err.message, status: err.status } };
}
