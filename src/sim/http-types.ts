import type { IncomingHttpHeaders } from 'node:http';

/** A parsed request as every handler sees it. */
export interface SimRequest {
  readonly method: string;
  readonly url: URL;
  /** The path without query string, e.g. /compute/v2.1/servers/detail. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The JSON body, undefined when there is none; `rawBody` keeps the text. */
  readonly body: unknown;
  readonly rawBody: string;
  /** Set when the body was present but not JSON. */
  readonly bodyError: string | null;
}

export interface SimResponse {
  readonly status: number;
  readonly headers?: Record<string, string>;
  /** JSON-encoded unless `rawBody` is given. Absent: no body. */
  readonly body?: unknown;
  readonly rawBody?: string;
  /** Wait this long before answering (nova-api blocked on an RPC). */
  readonly delayMs?: number;
  /** Destroy the socket instead of answering. */
  readonly drop?: boolean;
}
