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
