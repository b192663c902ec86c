// OAuth1 signatures against vectors made with python3-oauthlib (the library Keystone verifies with).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  authorizationHeader, baseStringUri, checkMandatoryParams, escape, OAuthRequestError, parseAuthorizationHeader,
  readOAuthParams, verifySignature,
} from './oauth1-signature.js';

// oauthlib.oauth1.Client('0685bd9184jfhq22', client_secret='kd94hf93k423kf44', resource_owner_key='ad180jjd733klru7',
//   resource_owner_secret='pfkkdhi9sl3r4s00', verifier='hfdp7dh39dks9884', nonce='7d8f3e4a', timestamp='137131201')
//   .sign('http://Example.com:80/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b', http_method='POST')
const V1 = {
  uri: 'http://Example.com:80/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b',
  header: 'OAuth oauth_nonce="7d8f3e4a", oauth_timestamp="137131201", oauth_version="1.0", oauth_signature_method="HMAC-SHA1", oauth_consumer_key="0685bd9184jfhq22", oauth_token="ad180jjd733klru7", oauth_verifier="hfdp7dh39dks9884", oauth_signature="RLQFLji7RU0PTUf4KhLZFLuEQLU%3D"',
};
// The same with HMAC-SHA256, a lower-case method, another port and '+' in the query.
const V2 = {
  uri: 'https://EXAMPLE.com:8443/v3/auth/tokens?x=1+2',
  header: 'OAuth oauth_nonce="7d8f3e4a", oauth_timestamp="137131201", oauth_version="1.0", oauth_signature_method="HMAC-SHA256", oauth_consumer_key="9djdj82h48djs9d2", oauth_token="kkk9d7dh3k39sjv7", oauth_signature="hWJFLxkm1rbd8z0LGE2kCfEm2qzxUgp76%2BelOy19abE%3D"',
};

test('verifies signatures oauthlib made (HMAC-SHA1 with query parameters, HMAC-SHA256)', () => {
  const p1 = readOAuthParams({ method: 'POST', uri: V1.uri, authorization: V1.header });
  assert.equal(p1.clientKey, '0685bd9184jfhq22');
  assert.equal(p1.verifier, 'hfdp7dh39dks9884');
  assert.ok(verifySignature(p1, 'kd94hf93k423kf44', 'pfkkdhi9sl3r4s00'));
  assert.ok(!verifySignature(p1, 'kd94hf93k423kf44', 'wrong'));
  assert.ok(!verifySignature(p1, 'wrong', 'pfkkdhi9sl3r4s00'));
  // The query is signed: another value breaks the signature.
  assert.ok(!verifySignature(readOAuthParams({ method: 'POST', uri: V1.uri.replace('a3=a', 'a3=b'), authorization: V1.header }), 'kd94hf93k423kf44', 'pfkkdhi9sl3r4s00'));
  // So is the method.
  assert.ok(!verifySignature(readOAuthParams({ method: 'GET', uri: V1.uri, authorization: V1.header }), 'kd94hf93k423kf44', 'pfkkdhi9sl3r4s00'));

  const p2 = readOAuthParams({ method: 'post', uri: V2.uri, authorization: V2.header });
  assert.ok(verifySignature(p2, 'j49sk3j29djd', 'dh893hdasih9'));
});

test('our client signs what the verifier accepts, also PLAINTEXT', () => {
  for (const signatureMethod of ['HMAC-SHA1', 'HMAC-SHA256', 'HMAC-SHA512', 'PLAINTEXT']) {
    const h = authorizationHeader({ method: 'POST', uri: 'http://127.0.0.1:5000/v3/OS-OAUTH1/request_token?x=%20y', consumerKey: 'ck', consumerSecret: 's&cr t', token: 'tk', tokenSecret: 'ts', callback: 'oob', signatureMethod });
    const p = readOAuthParams({ method: 'POST', uri: 'http://127.0.0.1:5000/v3/OS-OAUTH1/request_token?x=%20y', authorization: h });
    assert.equal(p.callback, 'oob');
    assert.ok(verifySignature(p, 's&cr t', 'ts'), signatureMethod);
    assert.ok(!verifySignature(p, 's&cr t', 'other'), signatureMethod);
  }
});

test('base string URI and escaping follow RFC 5849 (as oauthlib)', () => {
  assert.equal(baseStringUri('HTTP://Example.COM:80/a%2Fb?q=1#f'), 'http://example.com/a%2Fb');
  assert.equal(baseStringUri('https://h:443'), 'https://h/');
  assert.equal(baseStringUri('http://h:5000/v3'), 'http://h:5000/v3');
  assert.equal(baseStringUri('http://[::1]:80/a b'), 'http://[::1]/a%20b');
  assert.equal(escape("a b+c~d!*'()é"), 'a%20b%2Bc~d%21%2A%27%28%29%C3%A9');
});

test('bad requests are OAuthRequestErrors with oauthlib descriptions', () => {
  const err = (f: () => unknown, d: RegExp) => assert.throws(f, (e: unknown) => e instanceof OAuthRequestError && d.test(e.description));
  err(() => parseAuthorizationHeader('Basic abc'), /Malformed authorization header/);
  err(() => parseAuthorizationHeader('OAuth novalue'), /Malformed/);
  err(() => readOAuthParams({ method: 'POST', uri: 'http://h/x' }), /Missing mandatory OAuth parameters/);
  err(() => readOAuthParams({ method: 'POST', uri: 'http://h/x?oauth_nonce=1', authorization: 'OAuth oauth_nonce="2"' }), /only 1 signature/);
  err(() => readOAuthParams({ method: 'POST', uri: 'http://h/x?a=%zz', authorization: 'OAuth oauth_nonce="2"' }), /Invalid hex/);
  const now = Date.now();
  const ts = String(Math.floor(now / 1000));
  const ok = { oauth_signature: 'x', oauth_consumer_key: 'a'.repeat(32), oauth_nonce: '123abc', oauth_timestamp: ts, oauth_signature_method: 'HMAC-SHA1' };
  const params = (o: Record<string, string>) => readOAuthParams({ method: 'POST', uri: 'http://h/x', authorization: 'OAuth ' + Object.entries(o).map(([k, v]) => `${k}="${v}"`).join(', ') });
  checkMandatoryParams(params(ok), now);
  err(() => checkMandatoryParams(params({ ...ok, oauth_signature: '' }), now), /Missing mandatory/);
  err(() => checkMandatoryParams(params({ ...ok, oauth_signature_method: 'MD5' }), now), /Invalid signature, MD5/);
  err(() => checkMandatoryParams(params({ ...ok, oauth_version: '2.0' }), now), /Invalid OAuth version/);
  err(() => checkMandatoryParams(params({ ...ok, oauth_timestamp: '12' }), now), /Invalid timestamp size/);
  err(() => checkMandatoryParams(params({ ...ok, oauth_timestamp: String(Number(ts) - 601) }), now), /differ from allowed by over 600 seconds/);
  err(() => checkMandatoryParams(params({ ...ok, oauth_consumer_key: 'XYZ' }), now), /Invalid client key format/);
  err(() => checkMandatoryParams(params({ ...ok, oauth_nonce: 'not-hex' }), now), /Invalid nonce format/);
});
