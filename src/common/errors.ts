// Expected errors: bad input, missing things, refused access. Each kind maps to exactly one HTTP
// status here, so a new kind does not compile until it has one. Bugs are plain Errors and become
// a 500 with the request id in the log; an ApiError never does.

export const ERROR_STATUS = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  NotAcceptable: 406,
  Conflict: 409,
  Gone: 410,
  PreconditionFailed: 412,
  PayloadTooLarge: 413,
  UnsupportedMediaType: 415,
  RangeNotSatisfiable: 416,
  TooManyRequests: 429,
  InternalServerError: 500,
  NotImplemented: 501,
  ServiceUnavailable: 503,
} as const;

export type ErrorKind = keyof typeof ERROR_STATUS;

/** The HTTP reason phrase OpenStack services print as `title`. */
export const ERROR_TITLE: Record<ErrorKind, string> = {
  BadRequest: 'Bad Request',
  Unauthorized: 'Unauthorized',
  Forbidden: 'Forbidden',
  NotFound: 'Not Found',
  MethodNotAllowed: 'Method Not Allowed',
  NotAcceptable: 'Not Acceptable',
  Conflict: 'Conflict',
  Gone: 'Gone',
  PreconditionFailed: 'Precondition Failed',
  PayloadTooLarge: 'Request Entity Too Large',
  UnsupportedMediaType: 'Unsupported Media Type',
  RangeNotSatisfiable: 'Requested Range Not Satisfiable',
  TooManyRequests: 'Too Many Requests',
  InternalServerError: 'Internal Server Error',
  NotImplemented: 'Not Implemented',
  ServiceUnavailable: 'Service Unavailable',
};

export class ApiError extends Error {
  readonly kind: ErrorKind;
  readonly status: number;
  /** Extra response headers (WWW-Authenticate, Allow, Retry-After...). */
  readonly headers: Record<string, string>;
  /** Service-specific fields for the body (e.g. Nova's fault name, Neutron's type). */
  readonly detail: Record<string, unknown>;

  constructor(kind: ErrorKind, message: string, opts: { headers?: Record<string, string>; detail?: Record<string, unknown> } = {}) {
    super(message);
    this.name = 'ApiError';
    this.kind = kind;
    this.status = ERROR_STATUS[kind];
    this.headers = opts.headers ?? {};
    this.detail = opts.detail ?? {};
  }
}

export const badRequest = (msg: string) => new ApiError('BadRequest', msg);
export const notFound = (msg: string) => new ApiError('NotFound', msg);
export const conflict = (msg: string) => new ApiError('Conflict', msg);
export const forbidden = (msg: string) => new ApiError('Forbidden', msg);
export const unauthorized = (msg = 'The request you have made requires authentication.') =>
  new ApiError('Unauthorized', msg);

/**
 * How a service renders an ApiError as a response body. Each service picks its OpenStack format
 * (Keystone's {"error": {...}}, Nova's {"itemNotFound": {...}}, Neutron's {"NeutronError": {...}}).
 */
export type FaultFormatter = (err: ApiError) => unknown;

/** Keystone: {"error": {"code": 404, "message": "...", "title": "Not Found"}} */
export const keystoneFault: FaultFormatter = (err) => ({
  error: { code: err.status, message: err.message, title: ERROR_TITLE[err.kind] },
});

/**
 * Glance: webob's error bodies. A message is webob's `explanation` (it replaces the status's
 * default text) unless `detail.webobDetail` is true, when it is the `detail` shown after the
 * default explanation (Glance's `HTTPForbidden(msg)` versus `HTTPForbidden(explanation=msg)`).
 * This renders webob's JSON form, {"message": "...<br /><br />\n...", "code": "404 Not Found",
 * "title": "Not Found"}; the image service turns it into webob's plain-text or HTML form when the
 * request's Accept header prefers those, as webob does.
 */
export const WEBOB_TITLE: Partial<Record<ErrorKind, string>> = {
  RangeNotSatisfiable: 'Request Range Not Satisfiable',
};

export const WEBOB_EXPLANATION: Record<ErrorKind, string> = {
  BadRequest: 'The server could not comply with the request since it is either malformed or otherwise incorrect.',
  Unauthorized: 'This server could not verify that you are authorized to access the document you requested. Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required.',
  Forbidden: 'Access was denied to this resource.',
  NotFound: 'The resource could not be found.',
  MethodNotAllowed: 'The method ${REQUEST_METHOD} is not allowed for this resource.',
  NotAcceptable: 'The resource could not be generated that was acceptable to your browser (content of type ${HTTP_ACCEPT}.',
  Conflict: 'There was a conflict when trying to complete your request.',
  Gone: 'This resource is no longer available. No forwarding address is given.',
  PreconditionFailed: 'Request precondition failed.',
  PayloadTooLarge: 'The body of your request was too large for this server.',
  UnsupportedMediaType: 'The request media type ${CONTENT_TYPE} is not supported by this server.',
  RangeNotSatisfiable: 'The Range requested is not available.',
  TooManyRequests: 'The user has sent too many requests in a given amount of time.',
  InternalServerError: 'The server has either erred or is incapable of performing the requested operation.',
  NotImplemented: 'The request method ${REQUEST_METHOD} is not implemented for this server.',
  ServiceUnavailable: 'The server is currently unavailable. Please try again at a later time.',
};

/** webob's explanation and detail of an ApiError (see WEBOB_EXPLANATION). */
export function webobParts(err: ApiError): { explanation: string; detail: string } {
  const isDetail = err.detail.webobDetail === true;
  const explanation = isDetail || !err.message ? WEBOB_EXPLANATION[err.kind] : err.message;
  return { explanation, detail: isDetail ? err.message : '' };
}

export const glanceFault: FaultFormatter = (err) => {
  const { explanation, detail } = webobParts(err);
  const title = WEBOB_TITLE[err.kind] ?? ERROR_TITLE[err.kind];
  return { message: `${explanation}<br /><br />\n${detail}\n\n`, code: `${err.status} ${title}`, title };
};

/** Nova's fault names (nova.api.openstack.wsgi.Fault), by status; others are computeFault. */
const NOVA_FAULT_NAME: Partial<Record<number, string>> = {
  400: 'badRequest', 401: 'unauthorized', 403: 'forbidden', 404: 'itemNotFound', 405: 'badMethod',
  409: 'conflictingRequest', 413: 'overLimit', 415: 'badMediaType', 429: 'overLimit',
  501: 'notImplemented', 503: 'serviceUnavailable',
};

/**
 * Nova (and Cinder): {"itemNotFound": {"code": 404, "message": "..."}}. A 401 from the token
 * middleware is keystonemiddleware's own body, {"error": {...}}, as it is in front of Nova.
 */
export const novaFault: FaultFormatter = (err) => {
  if (err.kind === 'Unauthorized') return keystoneFault(err);
  const name = (err.detail.faultName as string | undefined) ?? NOVA_FAULT_NAME[err.status] ?? 'computeFault';
  return { [name]: { code: err.status, message: err.message } };
};
