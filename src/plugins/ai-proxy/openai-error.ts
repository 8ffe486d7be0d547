/**
 * OpenAI's error envelope, `{"error": {"message", "type", "code", "param"}}`, for every error a
 * client of an AI route gets: the OpenAI SDKs (and the Vercel AI SDK, LangChain ...) read it to
 * show the real message, and a body without it becomes "400 status code (no body)".
 *
 * - `type` is the class of the error, from the status alone (the table below), so a client can
 *   branch on it the way it branches on OpenAI's own.
 * - `code` names the cause: the status's default from the same table, or what the site that
 *   knows more says (`upstream_unavailable`, `model_not_found`, `no_healthy_targets` ...).
 * - Kong's top-level `message` (and `request_id`) stays beside `error` wherever the gateway wrote
 *   it before, for clients that follow Kong's documentation.
 *
 * The table is documented in docs/ai-proxy.md ("Errors"); keep them together.
 */
import { ClientError } from '../../proxy/errors.ts';

export interface OpenAiErrorObject {
  message: string;
  type: string;
  code: string | null;
  param: string | null;
  /** A provider's own error, when the provider answered one (provider-error.ts). */
  provider?: unknown;
}

export interface OpenAiErrorBody {
  error: OpenAiErrorObject;
}

/** status → [type, default code]. */
const BY_STATUS: Record<number, readonly [string, string]> = {
  400: ['invalid_request_error', 'invalid_request'],
  401: ['authentication_error', 'unauthorized'],
  403: ['permission_error', 'forbidden'],
  404: ['invalid_request_error', 'not_found'],
  405: ['invalid_request_error', 'method_not_allowed'],
  408: ['invalid_request_error', 'request_timeout'],
  409: ['invalid_request_error', 'conflict'],
  413: ['invalid_request_error', 'payload_too_large'],
  414: ['invalid_request_error', 'uri_too_long'],
  415: ['invalid_request_error', 'unsupported_media_type'],
  422: ['invalid_request_error', 'unprocessable_entity'],
  426: ['invalid_request_error', 'upgrade_required'],
  429: ['rate_limit_error', 'rate_limit_exceeded'],
  431: ['invalid_request_error', 'request_header_fields_too_large'],
  500: ['server_error', 'internal_error'],
  501: ['server_error', 'not_implemented'],
  502: ['server_error', 'bad_gateway'],
  503: ['server_error', 'service_unavailable'],
  504: ['timeout_error', 'upstream_timeout'],
};
const OTHER_CLIENT_ERROR = ['invalid_request_error', 'client_error'] as const;
const OTHER_SERVER_ERROR = ['server_error', 'server_error'] as const;

/** The `type` and default `code` of an error answered with `status`. */
export function errorClass(status: number): readonly [type: string, code: string] {
  return BY_STATUS[status] ?? (status >= 500 ? OTHER_SERVER_ERROR : OTHER_CLIENT_ERROR);
}

export interface ErrorFields {
  code?: string;
  param?: string | null;
}

export function openAiError(status: number, message: string, fields: ErrorFields = {}): OpenAiErrorBody {
  const [type, code] = errorClass(status);
  return { error: { message, type, code: fields.code ?? code, param: fields.param ?? null } };
}

/** An error the AI plugins answer (Kong's `{"error":{"message"}}`, now OpenAI's whole envelope). */
export function aiError(status: number, message: string, fields?: ErrorFields): ClientError {
  return new ClientError(status, openAiError(status, message, fields));
}

export function modelNotFound(model: string): ClientError {
  return aiError(404, `The model \`${model}\` does not exist or is not served by this route`, { code: 'model_not_found', param: 'model' });
}

/**
 * What the gateway says when it got no answer from a provider, by the failure's code (undici's or
 * the system's, as UpstreamError carries it): the `code` and a message that names the cause,
 * where Kong's message ("An invalid response was received from the upstream server") does not.
 */
const UPSTREAM_FAILURES: Record<string, readonly [code: string, message: string]> = {
  ECONNREFUSED: ['upstream_unavailable', 'the provider refused the connection'],
  EHOSTUNREACH: ['upstream_unavailable', "the provider's host is unreachable"],
  ENETUNREACH: ['upstream_unavailable', "the provider's network is unreachable"],
  EADDRNOTAVAIL: ['upstream_unavailable', "the provider's address is not available"],
  ENOTFOUND: ['upstream_unavailable', "the provider's host name could not be resolved"],
  EAI_AGAIN: ['upstream_unavailable', "the provider's host name could not be resolved (temporary DNS failure)"],
  EAI_FAIL: ['upstream_unavailable', "the provider's host name could not be resolved"],
  EAI_NONAME: ['upstream_unavailable', "the provider's host name could not be resolved"],
  ECONNRESET: ['upstream_connection_error', 'the provider closed the connection before answering'],
  EPIPE: ['upstream_connection_error', 'the provider closed the connection before answering'],
  UND_ERR_SOCKET: ['upstream_connection_error', 'the provider closed the connection before answering'],
  UND_ERR_CONNECT_TIMEOUT: ['upstream_timeout', 'the provider could not be reached within the connect timeout'],
  UND_ERR_HEADERS_TIMEOUT: ['upstream_timeout', 'the provider did not answer within the read timeout'],
  UND_ERR_BODY_TIMEOUT: ['upstream_timeout', 'the provider stopped sending its answer within the read timeout'],
  MODELGATE_WRITE_TIMEOUT: ['upstream_timeout', 'the request could not be sent to the provider within the write timeout'],
  MODELGATE_EGRESS_BLOCKED: ['upstream_blocked', "the egress policy does not allow the provider's address"],
};

/** `code` and message for an upstream failure's code; null when the table does not know it. */
export function describeUpstreamFailure(failureCode: string | null | undefined): { code: string; message: string } | null {
  const known = failureCode ? UPSTREAM_FAILURES[failureCode] : undefined;
  return known ? { code: known[0], message: known[1] } : null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `error` completed: what is missing comes from the status's table row; other members (`provider`) stay. */
function complete(status: number, error: Record<string, unknown>, fallbackMessage: string | null): OpenAiErrorObject {
  const [type, code] = errorClass(status);
  const { message, type: t, code: c, param, ...rest } = error;
  return {
    message: typeof message === 'string' ? message : (fallbackMessage ?? `HTTP ${status}`),
    type: typeof t === 'string' ? t : type,
    code: typeof c === 'string' || c === null ? c : code,
    param: typeof param === 'string' || param === null ? param : null,
    ...rest,
  };
}

/**
 * Any error body the gateway writes on an AI route, in OpenAI's envelope: Kong's `{"message"}`
 * (a plugin's exit, a body limit, an upstream failure) gets an `error` beside its `message`; an
 * `error` object is completed. `failureCode` is the cause the gateway classified (an upstream
 * failure's code), which gives a better message and code than the status alone. Text and other
 * shapes (an operator's own `request-termination` body) are left as written.
 */
export function openAiErrorBody(status: number, body: unknown, failureCode: string | null): unknown {
  if (!isObject(body)) return body;
  const kong = typeof body.message === 'string' ? body.message : null;
  if (isObject(body.error)) return { ...body, error: complete(status, body.error, kong) };
  if (kong === null || body.error !== undefined) return body;
  const failure = describeUpstreamFailure(failureCode);
  const [type, code] = errorClass(status);
  return { ...body, error: { message: failure?.message ?? kong, type, code: failure?.code ?? code, param: null } };
}
