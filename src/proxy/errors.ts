/** Kong's default messages for gateway-generated answers (`kong/pdk/response.lua`). */
const MESSAGES: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  408: 'Request timeout',
  409: 'Conflict',
  413: 'Payload too large',
  414: 'URI too long',
  415: 'Unsupported media type',
  426: 'Upgrade required',
  429: 'Too many requests',
  431: 'Request header fields too large',
  499: 'Client closed request',
  500: 'An unexpected error occurred',
  501: 'Not implemented',
  502: 'An invalid response was received from the upstream server',
  503: 'The upstream server is currently unavailable',
  504: 'The upstream server is timing out',
};

export function defaultMessage(status: number): string {
  return MESSAGES[status] ?? 'Unknown error';
}

/** A failure to reach or read the upstream, already classified into the status Kong answers. */
export class UpstreamError extends Error {
  readonly status: 502 | 503 | 504;
  /** The connection was never established: nothing reached the upstream, a retry is safe. */
  readonly beforeSend: boolean;
  readonly code: string;
  /** How many times the request was tried before giving up (retries included), for the log. */
  attempts = 1;
  constructor(status: 502 | 503 | 504, message: string, code: string, beforeSend: boolean) {
    super(message);
    this.status = status;
    this.code = code;
    this.beforeSend = beforeSend;
  }
}

/** An error with an HTTP answer for the client (bad input and the like). */
export class ClientError extends Error {
  readonly status: number;
  readonly body: unknown;
  constructor(status: number, body: unknown) {
    super(typeof body === 'object' && body && 'message' in body ? String((body as { message: unknown }).message) : `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}
