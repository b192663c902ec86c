// Compute API microversions (2.1 up to Nova 26's 2.93): the requested version comes from
// `OpenStack-API-Version: compute 2.x` or the legacy `X-OpenStack-Nova-API-Version: 2.x`; none means
// 2.1, `latest` the newest. Out of range is 406, a malformed value 400 (Nova's wording). Every
// response says which version answered and that it varies by those headers.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../common/errors.js';

export const MIN_VERSION = '2.1';
export const MAX_VERSION = '2.93';

export class Microversion {
  constructor(readonly major: number, readonly minor: number) {}
  static parse(s: string): Microversion | null {
    const m = /^(\d+)\.(\d+)$/.exec(s.trim());
    return m ? new Microversion(Number(m[1]), Number(m[2])) : null;
  }
  /** True when this version is at least `v` ("2.47"). */
  atLeast(v: string): boolean {
    const o = Microversion.parse(v)!;
    return this.major > o.major || (this.major === o.major && this.minor >= o.minor);
  }
  /** True when this version is at most `v`. */
  atMost(v: string): boolean {
    const o = Microversion.parse(v)!;
    return this.major < o.major || (this.major === o.major && this.minor <= o.minor);
  }
  toString(): string { return `${this.major}.${this.minor}`; }
}

const MIN = Microversion.parse(MIN_VERSION)!;
const MAX = Microversion.parse(MAX_VERSION)!;

declare module 'fastify' {
  interface FastifyRequest {
    /** The compute API microversion of this request. */
    computeVersion: Microversion;
  }
}

function requested(req: FastifyRequest): string | null {
  const h = req.headers['openstack-api-version'];
  if (typeof h === 'string') {
    // "compute 2.60" — possibly one of several comma-separated service versions.
    for (const part of h.split(',')) {
      const [svc, ver] = part.trim().split(/\s+/);
      if (svc?.toLowerCase() === 'compute' && ver) return ver;
    }
  }
  const legacy = req.headers['x-openstack-nova-api-version'];
  return typeof legacy === 'string' && legacy.trim() ? legacy.trim() : null;
}

/** Sets req.computeVersion and the response headers; throws 400/406 for a bad version. */
export function negotiateMicroversion(req: FastifyRequest, reply: FastifyReply): void {
  const raw = requested(req);
  let v = MIN;
  if (raw !== null) {
    if (raw.toLowerCase() === 'latest') v = MAX;
    else {
      const p = Microversion.parse(raw);
      if (!p) throw new ApiError('BadRequest', `API Version String ${raw} is of invalid format. Must be of format MajorNum.MinorNum.`);
      if (!(p.atLeast(MIN_VERSION) && p.atMost(MAX_VERSION))) {
        throw new ApiError('NotAcceptable', `Version ${raw} is not supported by the API. Minimum is ${MIN_VERSION} and maximum is ${MAX_VERSION}.`);
      }
      v = p;
    }
  }
  req.computeVersion = v;
  reply.header('OpenStack-API-Version', `compute ${v}`);
  reply.header('X-OpenStack-Nova-API-Version', v.toString());
  reply.header('Vary', 'OpenStack-API-Version, X-OpenStack-Nova-API-Version');
}

/** 404 for routes that exist only from (or until) a microversion, as Nova's versioned routing. */
export function requireVersion(req: FastifyRequest, min: string, max?: string): void {
  if (!req.computeVersion.atLeast(min) || (max && !req.computeVersion.atMost(max))) {
    throw new ApiError('NotFound', 'The resource could not be found.');
  }
}
export { MIN as MIN_MICROVERSION, MAX as MAX_MICROVERSION };
