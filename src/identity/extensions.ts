// The identity API's further areas, each in its own module under api/: delegation (trusts,
// application credentials, OAuth1), credentials, federation, endpoint filtering, policies,
// domain configuration and unified limits. Each registers its routes, tables' hooks and, where it
// issues tokens, its auth method and token resolver.

import type { FastifyInstance } from 'fastify';
import type { IdentityContext } from './context.js';
import type { TokenService } from './tokens.js';
import type { Authenticator } from './authenticate.js';
import type { Revocations } from './revocations.js';
import { federationExtension } from './api/federation.js';
import { endpointFilterExtension } from './api/endpoint-filter.js';
import { policiesExtension } from './api/policies.js';
import { domainConfigExtension } from './api/domain-config.js';
import { limitsExtension } from './api/limits.js';
import { registerDelegation } from './delegation.js';
import { credentialsAndOAuth1Extension } from './api/oauth1.js';

export interface ExtensionDeps {
  app: FastifyInstance; ctx: IdentityContext; tokens: TokenService; authn: Authenticator; revocations: Revocations;
}

export type Extension = (deps: ExtensionDeps) => Promise<void> | void;

const extensions: Extension[] = [
  registerDelegation,
  federationExtension,
  endpointFilterExtension,
  policiesExtension,
  domainConfigExtension,
  limitsExtension,
  credentialsAndOAuth1Extension,
];

export async function registerExtensions(app: FastifyInstance, ctx: IdentityContext, tokens: TokenService, authn: Authenticator, revocations: Revocations): Promise<void> {
  for (const ext of extensions) await ext({ app, ctx, tokens, authn, revocations });
}
