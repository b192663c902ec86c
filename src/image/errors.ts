// Glance's faults are webob exceptions: `HTTPNotFound(explanation=msg)` replaces the status's
// default text, `HTTPForbidden(msg)` adds msg as a detail after it, and `HTTPNotFound()` shows
// the default text alone. These build the matching ApiErrors; common/errors.ts glanceFault and
// api/faults.ts render them as webob does.

import { ApiError, type ErrorKind } from '../common/errors.js';

/** webob's HTTPXxx(explanation=msg). */
export const explain = (kind: ErrorKind, msg: string, headers?: Record<string, string>): ApiError =>
  new ApiError(kind, msg, { headers });

/** webob's HTTPXxx(msg): the default explanation, then msg as the detail. */
export const detail = (kind: ErrorKind, msg: string, headers?: Record<string, string>): ApiError =>
  new ApiError(kind, msg, { headers, detail: { webobDetail: true } });

/** webob's HTTPXxx(): the default explanation only. */
export const bare = (kind: ErrorKind, headers?: Record<string, string>): ApiError =>
  new ApiError(kind, '', { headers });

export const badRequest = (msg: string) => explain('BadRequest', msg);
export const forbidden = (msg: string) => explain('Forbidden', msg);
export const notFound = (msg: string) => explain('NotFound', msg);
export const conflict = (msg: string) => explain('Conflict', msg);
export const tooLarge = (msg: string) => explain('PayloadTooLarge', msg);

/** Glance's domain errors before the API maps them to statuses (glance.common.exception). */
export class GlanceError extends Error {
  constructor(readonly type:
    | 'NotFound' | 'Forbidden' | 'Invalid' | 'Conflict' | 'Duplicate' | 'ReadonlyProperty' | 'ReservedProperty'
    | 'InvalidImageStatusTransition' | 'BadStoreUri' | 'DuplicateLocation' | 'StorageQuotaFull' | 'ImageSizeLimitExceeded'
    | 'LimitExceeded' | 'ValueError', message: string) {
    super(message);
    this.name = 'GlanceError';
  }
}

export const glanceError = (type: GlanceError['type'], message: string) => new GlanceError(type, message);
