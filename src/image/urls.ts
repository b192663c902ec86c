// Which external URLs the image service may fetch (web-download, http locations): http or https,
// a host the operator listed ([image] web_download_allowed_hosts, loopback only by default) and,
// when listed, an allowed port. Glance's import_filtering_opts, with an allow-list instead of a
// deny-list, so that nothing outside the machine is reached unless the operator says so.

export type UriCheck = { ok: true; url: URL } | { ok: false; reason: string };

export function checkExternalUri(uri: unknown, allowedHosts: string[], allowedPorts: number[]): UriCheck {
  if (typeof uri !== 'string' || !uri) return { ok: false, reason: 'empty external URI' };
  let u: URL;
  try { u = new URL(uri); } catch { return { ok: false, reason: `invalid external URI: ${uri}` }; }
  const scheme = u.protocol.replace(/:$/, '');
  if (scheme !== 'http' && scheme !== 'https') return { ok: false, reason: `scheme not allowed for external URI: ${uri}` };
  const host = u.hostname.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (!host || !allowedHosts.includes(host)) return { ok: false, reason: `host not allowed for external URI: ${uri}` };
  const port = u.port ? Number(u.port) : scheme === 'https' ? 443 : 80;
  if (allowedPorts.length && !allowedPorts.includes(port)) return { ok: false, reason: `port not allowed for external URI: ${uri}` };
  return { ok: true, url: u };
}
