// The policy engine: oslo.policy's rule language and enforcement semantics.
export {
  type Credentials,
  type EnforcerOptions,
  type RuleDefault,
  Enforcer,
  PolicyNotRegistered,
  forbiddenAction,
  tokenScope,
} from './enforcer.js';
export { type Check, type PolicyLogger, checkToString, parseRule } from './parser.js';
export { PolicyFileError, parsePolicyFile } from './policy-file.js';
