// Glance's error responses are webob's: the body is plain text, HTML or JSON depending on what
// the request's Accept header prefers among text/html and application/json (no Accept: plain
// text; python-glanceclient sends */* and gets HTML, which it strips; openstacksdk and Tempest
// send application/json). A 401 carries keystonemiddleware's WWW-Authenticate header.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, ERROR_STATUS, ERROR_TITLE, WEBOB_TITLE, webobParts, type ErrorKind } from '../../common/errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The error a handler or hook raised, for the fault renderer. */
    glanceError?: unknown;
  }
}

const KIND_BY_STATUS = new Map<number, ErrorKind>(Object.entries(ERROR_STATUS).map(([k, v]) => [v, k as ErrorKind]));

interface MediaRange { type: string; subtype: string; q: number }

function parseAccept(h: string): MediaRange[] | null {
  const out: MediaRange[] = [];
  for (const part of h.split(',')) {
    const p = part.trim();
    if (!p) continue;
    const [range, ...params] = p.split(';').map((s) => s.trim());
    const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)\/([!#$%&'*+.^_`|~0-9A-Za-z-]+)$/.exec(range!);
    if (!m) return null;
    let q = 1;
    for (const prm of params) {
      const qm = /^q\s*=\s*([01](\.\d{0,3})?)$/i.exec(prm);
      if (qm) q = Number(qm[1]);
    }
    out.push({ type: m[1]!.toLowerCase(), subtype: m[2]!.toLowerCase(), q });
  }
  return out;
}

/** webob's acceptable_offers(['text/html', 'application/json'])[0], or null for plain text. */
export function negotiate(accept: string | undefined): 'text/html' | 'application/json' | null {
  if (accept === undefined || accept.trim() === '') return null;
  const ranges = parseAccept(accept);
  if (!ranges) return 'text/html';
  let best: { offer: 'text/html' | 'application/json'; q: number } | null = null;
  for (const offer of ['text/html', 'application/json'] as const) {
    const [t, s] = offer.split('/') as [string, string];
    let q = -1;
    let spec = -1;
    for (const r of ranges) {
      const sp = r.type === t && r.subtype === s ? 2 : r.type === t && r.subtype === '*' ? 1 : r.type === '*' && r.subtype === '*' ? 0 : -1;
      if (sp > spec) { spec = sp; q = r.q; }
    }
    if (q > 0 && (!best || q > best.q)) best = { offer, q };
  }
  return best?.offer ?? null;
}

const htmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#x27;');

function stripTags(s: string): string {
  return s.replace(/\n/g, ' ').replace(/\r/g, '').replace(/<br.*?>/gi, '\n').replace(/<!--.*?-->/g, '').replace(/<.*?>/g, '');
}

/** Python's json.dumps (ensure_ascii) of a flat object of strings. */
function pyJson(o: Record<string, string>): string {
  const enc = (s: string) => JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `{${Object.entries(o).map(([k, v]) => `${enc(k)}: ${enc(v)}`).join(', ')}}`;
}

/** The error a response stands for. */
function errorOf(req: FastifyRequest, status: number): ApiError {
  const e = req.glanceError;
  if (e instanceof ApiError && e.status === status) return e;
  const kind = KIND_BY_STATUS.get(status) ?? (status >= 500 ? 'InternalServerError' : 'BadRequest');
  return new ApiError(kind, '');
}

/** webob's body for an error: (content type, text). */
export function renderWebob(req: FastifyRequest, err: ApiError): { type: string; body: string } {
  const title = WEBOB_TITLE[err.kind] ?? ERROR_TITLE[err.kind];
  const status = `${err.status} ${title}`;
  const { explanation, detail } = webobParts(err);
  const fill = (s: string) => s.replace('${REQUEST_METHOD}', req.method).replace('${CONTENT_TYPE}', String(req.headers['content-type'] ?? '${CONTENT_TYPE}'));
  const template = (esc: (s: string) => string) => {
    if (err.kind === 'MethodNotAllowed') return `The method ${req.method} is not allowed for this resource. <br /><br />\n${esc(detail)}`;
    if (err.kind === 'UnsupportedMediaType') return `${fill('The request media type ${CONTENT_TYPE} is not supported by this server.')}\n<br /><br />\n${esc(detail)}`;
    return `${esc(fill(explanation))}<br /><br />\n${esc(detail)}\n\n`;
  };
  const match = negotiate(req.headers.accept);
  if (match === 'text/html') {
    return { type: 'text/html; charset=UTF-8', body: `<html>\n <head>\n  <title>${status}</title>\n </head>\n <body>\n  <h1>${status}</h1>\n  ${template(htmlEscape)}\n </body>\n</html>` };
  }
  if (match === 'application/json') {
    return { type: 'application/json', body: pyJson({ message: template((s) => s), code: status, title }) };
  }
  return { type: 'text/plain; charset=UTF-8', body: `${status}\n\n${stripTags(template((s) => s))}` };
}

/** Installs the renderer on an API server whose fault formatter is glanceFault. */
export function installGlanceFaults(app: FastifyInstance, wwwAuthenticate: () => string): void {
  app.addHook('onError', async (req, _reply, err) => { req.glanceError = err; });
  app.addHook('onSend', async (req: FastifyRequest, reply: FastifyReply, payload) => {
    const status = reply.statusCode;
    if (status < 400) return payload;
    const err = errorOf(req, status);
    if (status === 401) reply.header('WWW-Authenticate', wwwAuthenticate());
    const { type, body } = renderWebob(req, err);
    reply.header('content-type', type);
    if (req.method === 'HEAD') return '';
    return body;
  });
}
