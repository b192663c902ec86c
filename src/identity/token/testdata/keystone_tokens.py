#!/usr/bin/python3
"""Drive Keystone's own Fernet token code for monostack's interop test.

    keystone_tokens.py create   KEY_REPO [MAX_ACTIVE_KEYS]   stdin: [spec]   -> [{token, payload_hex}]
    keystone_tokens.py validate KEY_REPO [MAX_ACTIVE_KEYS]   stdin: [token]  -> [fields | {error}]
    keystone_tokens.py setup    KEY_REPO [MAX_ACTIVE_KEYS]                   -> key file names
    keystone_tokens.py rotate   KEY_REPO [MAX_ACTIVE_KEYS [COUNT]]           -> [key file names after each]

A spec is a dict: kind (payload class), user_id, methods, expires_at (ISO 8601 string, as
Keystone's token model passes it), audit_ids and the optional ids of that kind. Everything
is read and written as JSON.
"""

import json
import os
import sys


def configure(repo, max_keys):
    import keystone.conf
    conf = keystone.conf.CONF
    keystone.conf.configure(conf)
    # No config files: the defaults are what the test compares against.
    conf([], project='keystone', default_config_files=[],
         default_config_dirs=[])
    conf.set_override('key_repository', repo, group='fernet_tokens')
    conf.set_override('max_active_keys', max_keys, group='fernet_tokens')
    return conf


def payload_classes():
    from keystone.token import token_formatters as tf
    return {
        'unscoped': tf.UnscopedPayload,
        'domainScoped': tf.DomainScopedPayload,
        'projectScoped': tf.ProjectScopedPayload,
        'trustScoped': tf.TrustScopedPayload,
        'federatedUnscoped': tf.FederatedUnscopedPayload,
        'federatedProjectScoped': tf.FederatedProjectScopedPayload,
        'federatedDomainScoped': tf.FederatedDomainScopedPayload,
        'oauthScoped': tf.OauthScopedPayload,
        'systemScoped': tf.SystemScopedPayload,
        'applicationCredentialScoped': tf.ApplicationCredentialScopedPayload,
    }


def create(specs):
    from keystone.token import token_formatters as tf
    formatter = tf.TokenFormatter()
    classes = payload_classes()
    out = []
    for s in specs:
        groups = s.get('federated_group_ids')
        token = formatter.create_token(
            s['user_id'], s['expires_at'], s['audit_ids'], classes[s['kind']],
            methods=s['methods'], system=s.get('system'),
            domain_id=s.get('domain_id'), project_id=s.get('project_id'),
            trust_id=s.get('trust_id'),
            federated_group_ids=(None if groups is None
                                 else [{'id': g} for g in groups]),
            identity_provider_id=s.get('identity_provider_id'),
            protocol_id=s.get('protocol_id'),
            access_token_id=s.get('access_token_id'),
            app_cred_id=s.get('app_cred_id'))
        # the exact msgpack bytes inside the token
        out.append({'token': token, 'payload_hex': formatter.unpack(token).hex()})
    return out


def validate(tokens):
    import msgpack
    from keystone.token import token_formatters as tf
    formatter = tf.TokenFormatter()
    out = []
    for token in tokens:
        try:
            (user_id, methods, audit_ids, system, domain_id, project_id,
             trust_id, federated_group_ids, identity_provider_id,
             protocol_id, access_token_id, app_cred_id, issued_at,
             expires_at) = formatter.validate_token(token)
            raw = formatter.unpack(token)
        except Exception as e:  # report, let the test decide
            out.append({'error': '%s: %s' % (type(e).__name__, e)})
            continue
        out.append({
            'version': msgpack.unpackb(raw)[0],
            'payload_hex': raw.hex(),
            'user_id': user_id, 'methods': methods, 'audit_ids': audit_ids,
            'system': system, 'domain_id': domain_id, 'project_id': project_id,
            'trust_id': trust_id,
            'federated_group_ids': (None if federated_group_ids is None
                                    else [g['id'] for g in federated_group_ids]),
            'identity_provider_id': identity_provider_id,
            'protocol_id': protocol_id, 'access_token_id': access_token_id,
            'app_cred_id': app_cred_id, 'issued_at': issued_at,
            'expires_at': expires_at,
        })
    return out


def key_files(repo):
    return sorted(os.listdir(repo), key=lambda n: (not n.isdigit(), int(n) if n.isdigit() else n))


def main():
    mode, repo = sys.argv[1], sys.argv[2]
    max_keys = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    configure(repo, max_keys)
    if mode in ('setup', 'rotate'):
        from keystone.common import fernet_utils
        futils = fernet_utils.FernetUtils(repo, max_keys, 'fernet_tokens')
        if mode == 'setup':
            futils.create_key_directory()
            futils.initialize_key_repository()
            result = key_files(repo)
        else:
            result = []
            for _ in range(int(sys.argv[4]) if len(sys.argv) > 4 else 1):
                futils.rotate_keys()
                result.append(key_files(repo))
    elif mode == 'create':
        result = create(json.load(sys.stdin))
    elif mode == 'validate':
        result = validate(json.load(sys.stdin))
    else:
        raise SystemExit('unknown mode %s' % mode)
    json.dump(result, sys.stdout)


if __name__ == '__main__':
    main()
