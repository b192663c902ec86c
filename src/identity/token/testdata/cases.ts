// Token payloads of every kind, shared by the formatter and Keystone interop tests. `kind` is
// written out by hand (not computed by our code) so the tests check our class selection too.

import type { PayloadKind, TokenPayload } from '../payload.js';

export interface PayloadCase {
  name: string;
  kind: PayloadKind;
  payload: TokenPayload;
}

const AUDIT = 'kSvZ8o4BSNGcPjRY9D1Glg';
const CHAIN = 'Xx0a-_9AbcdefGHIJklmnQ';
const EXPIRES = new Date('2030-01-02T03:04:05Z'); // Keystone truncates expiries to whole seconds
const USER = '2f9b3a6b1c8e4d0f9a7b6c5d4e3f2a1b';
const PROJECT = 'f3e2d1c0b9a8476584736251403f2e1d';
const DOMAIN = '0a1b2c3d4e5f46778899aabbccddeeff';
const TRUST = '9e8d7c6b5a4f43218fedcba987654321';
const GROUP = 'c0ffee00c0ffee00c0ffee00c0ffee00';

export const CASES: PayloadCase[] = [
  {
    name: 'unscoped, uuid user',
    kind: 'unscoped',
    payload: { userId: USER, methods: ['password'], expiresAt: EXPIRES, auditIds: [AUDIT] },
  },
  {
    name: 'unscoped, rescoped from a token (audit chain), LDAP-style 64-hex user id',
    kind: 'unscoped',
    payload: {
      userId: 'd0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f',
      methods: ['token', 'password'],
      expiresAt: EXPIRES,
      auditIds: [AUDIT, CHAIN],
    },
  },
  {
    name: 'unscoped, non-ascii non-uuid user id, no methods, sub-second expiry',
    kind: 'unscoped',
    payload: { userId: 'jürgen', methods: [], expiresAt: new Date('2030-01-02T03:04:05.123Z'), auditIds: [AUDIT] },
  },
  {
    name: 'project-scoped, uuid ids',
    kind: 'projectScoped',
    payload: { userId: USER, methods: ['password'], expiresAt: EXPIRES, auditIds: [AUDIT], projectId: PROJECT },
  },
  {
    name: 'project-scoped, non-uuid project id and user id',
    kind: 'projectScoped',
    payload: { userId: 'admin', methods: ['password', 'external'], expiresAt: EXPIRES, auditIds: [AUDIT], projectId: 'service' },
  },
  {
    name: 'project-scoped, EC2 credential pseudo-method (uint64 bitmask)',
    kind: 'projectScoped',
    payload: { userId: USER, methods: ['ec2credential'], expiresAt: EXPIRES, auditIds: [AUDIT], projectId: PROJECT },
  },
  {
    name: 'domain-scoped, the non-uuid default domain',
    kind: 'domainScoped',
    payload: { userId: USER, methods: ['password'], expiresAt: EXPIRES, auditIds: [AUDIT], domainId: 'default' },
  },
  {
    name: 'domain-scoped, uuid domain',
    kind: 'domainScoped',
    payload: { userId: USER, methods: ['token'], expiresAt: EXPIRES, auditIds: [AUDIT, CHAIN], domainId: DOMAIN },
  },
  {
    name: 'system-scoped',
    kind: 'systemScoped',
    payload: { userId: USER, methods: ['password'], expiresAt: EXPIRES, auditIds: [AUDIT], systemScope: 'all' },
  },
  {
    name: 'trust-scoped',
    kind: 'trustScoped',
    payload: { userId: USER, methods: ['token'], expiresAt: EXPIRES, auditIds: [AUDIT, CHAIN], projectId: PROJECT, trustId: TRUST },
  },
  {
    name: 'federated unscoped, uuid and non-uuid groups',
    kind: 'federatedUnscoped',
    payload: {
      userId: USER,
      methods: ['mapped'],
      expiresAt: EXPIRES,
      auditIds: [AUDIT],
      federatedGroupIds: [GROUP, 'federated_users'],
      identityProviderId: 'myidp',
      protocolId: 'saml2',
    },
  },
  {
    name: 'federated unscoped, no groups, uuid idp',
    kind: 'federatedUnscoped',
    payload: {
      userId: USER,
      methods: ['mapped'],
      expiresAt: EXPIRES,
      auditIds: [AUDIT],
      federatedGroupIds: [],
      identityProviderId: DOMAIN,
      protocolId: 'openid',
    },
  },
  {
    name: 'federated project-scoped',
    kind: 'federatedProjectScoped',
    payload: {
      userId: USER,
      methods: ['token'],
      expiresAt: EXPIRES,
      auditIds: [AUDIT, CHAIN],
      projectId: PROJECT,
      federatedGroupIds: [GROUP],
      identityProviderId: 'myidp',
      protocolId: 'saml2',
    },
  },
  {
    name: 'federated domain-scoped to the default domain',
    kind: 'federatedDomainScoped',
    payload: {
      userId: USER,
      methods: ['token'],
      expiresAt: EXPIRES,
      auditIds: [AUDIT],
      domainId: 'default',
      federatedGroupIds: [GROUP],
      identityProviderId: 'myidp',
      protocolId: 'mapped',
    },
  },
  {
    name: 'OAuth1-scoped',
    kind: 'oauthScoped',
    payload: {
      userId: USER,
      methods: ['oauth1'],
      expiresAt: EXPIRES,
      auditIds: [AUDIT],
      projectId: PROJECT,
      accessTokenId: '5f4e3d2c1b0a49988776655443322110',
    },
  },
  {
    name: 'application-credential-scoped',
    kind: 'applicationCredentialScoped',
    payload: {
      userId: USER,
      methods: ['application_credential'],
      expiresAt: EXPIRES,
      auditIds: [AUDIT],
      projectId: PROJECT,
      appCredId: '1234567890abcdef1234567890abcdef',
    },
  },
];
