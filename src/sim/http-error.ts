/** An HTTP answer thrown from deep inside a handler; the server turns it into a response as it is. */
export class SimHttpError extends Error {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, body: unknown, headers: Record<string, string> = {}) {
    super(typeof body === 'object' && body !== null ? JSON.stringify(body) : String(body));
    this.name = 'SimHttpError';
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

const NOVA_FAULT_KEYS: Record<number, string> = {
  400: 'badRequest',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'itemNotFound',
  405: 'badMethod',
  409: 'conflictingRequest',
  413: 'overLimit',
  415: 'badMediaType',
  429: 'overLimit',
  501: 'notImplemented',
  503: 'serviceUnavailable',
};

/** Nova's fault body: {"badRequest": {"code": 400, "message": "..."}}; other codes use computeFault. */
export function novaError(status: number, message: string): SimHttpError {
  const key = NOVA_FAULT_KEYS[status] ?? 'computeFault';
  return new SimHttpError(status, { [key]: { code: status, message } });
}

/** Neutron's fault body. */
export function neutronError(status: number, type: string, message: string): SimHttpError {
  return new SimHttpError(status, { NeutronError: { type, message, detail: '' } });
}

const KEYSTONE_TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
};

/** Keystone's (and keystonemiddleware's) error body. */
export function keystoneError(status: number, message: string): SimHttpError {
  return new SimHttpError(status, { error: { code: status, message, title: KEYSTONE_TITLES[status] ?? 'Error' } });
}

export const UNAUTHORIZED_MESSAGE = 'The request you have made requires authentication.';
