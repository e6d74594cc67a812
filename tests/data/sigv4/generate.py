#!/usr/bin/env python3
"""Writes the expected files of every case folder here from botocore.

Each folder holds the inputs (request.txt, context.json), written by hand from
the SigV4 spec, and the outputs this script derives with botocore's own
signers, step by step: canonical request, string to sign, signature and the
signed request, for header auth and for query (presigned URL) auth.

    python3 tests/data/sigv4/generate.py        # rewrite the expected files
    python3 tests/data/sigv4/generate.py --check  # fail if any file differs
"""
import datetime
import json
import os
import sys
import types
from unittest import mock
from urllib.parse import unquote

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode_sequence

HERE = os.path.dirname(os.path.abspath(__file__))
# The classic suite's get-vanilla signature: proves the fixture is the spec's.
GET_VANILLA = '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31'


def parse_request(text):
    """request.txt: 'METHOD TARGET HTTP/1.1', 'Name:value' lines, a blank line, the body."""
    head, _, body = text.partition('\n\n')
    lines = head.split('\n')
    method, _, rest = lines[0].partition(' ')
    target = rest[: -len(' HTTP/1.1')]
    path, _, query = target.partition('?')
    pairs = []
    if query:
        for item in query.split('&'):
            k, _, v = item.partition('=')
            pairs.append((unquote(k), unquote(v)))
    headers = [tuple(h.split(':', 1)) for h in lines[1:] if h]
    return method, path, pairs, headers, body.encode('utf-8')


class Recorder:
    """Wraps a signer's step methods to keep what each step returned."""

    def __init__(self, signer):
        self.steps = {}
        for step in ('canonical_request', 'string_to_sign', 'signature'):
            original = getattr(signer, step)

            def wrapped(*args, _original=original, _step=step):
                out = _original(*args)
                self.steps[_step] = out
                return out

            setattr(signer, step, wrapped)


def make_request(method, path, pairs, headers, body, host):
    # The query goes in the URL exactly as hoist sends it (botocore encodes
    # operation parameters the same way when it builds a URL).
    url = f'https://{host}{path}'
    if pairs:
        url += '?' + percent_encode_sequence(pairs)
    request = AWSRequest(method=method, url=url, data=body)
    for name, value in headers:
        request.headers[name] = value  # appends: repeated headers stay repeated
    return request


def sign_case(case_dir):
    with open(os.path.join(case_dir, 'request.txt'), encoding='utf-8') as f:
        method, path, pairs, headers, body = parse_request(f.read())
    with open(os.path.join(case_dir, 'context.json')) as f:
        ctx = json.load(f)
    c = ctx['credentials']
    creds = Credentials(c['access_key_id'], c['secret_access_key'], c.get('session_token'))
    host = next(v for n, v in headers if n.lower() == 'host')
    when = datetime.datetime.strptime(ctx['timestamp'], '%Y-%m-%dT%H:%M:%SZ')
    s3 = ctx['s3_rules']
    out = {}
    with mock.patch('botocore.auth.get_current_datetime', return_value=when):
        request = make_request(method, path, pairs, headers, body, host)
        if ctx['unsigned_payload']:
            request.context['client_config'] = types.SimpleNamespace(s3={'payload_signing_enabled': False})
            request.context['payload_signing_enabled'] = False
        signer = (S3SigV4Auth if s3 else SigV4Auth)(creds, ctx['service'], ctx['region'])
        rec = Recorder(signer)
        signer.add_auth(request)
        target = request.url.split(host, 1)[1]
        signed = f'{method} {target} HTTP/1.1\n' + ''.join(f'{n}:{v}\n' for n, v in request.headers.items())
        out['header'] = (rec.steps, signed + '\n' + body.decode('utf-8'))

        if len({k for k, _ in pairs}) < len(pairs):
            # botocore's presigner keeps one value per key (parse_qs + dict),
            # so it cannot be the reference for repeated keys: no query files.
            return out
        request = make_request(method, path, pairs, headers, b'', host)
        cls = S3SigV4QueryAuth if s3 else SigV4QueryAuth
        signer = cls(creds, ctx['service'], ctx['region'], expires=ctx['expiration_in_seconds'])
        rec = Recorder(signer)
        signer.add_auth(request)
        target = request.url.split(host, 1)[1]
        signed = f'{method} {target} HTTP/1.1\n' + ''.join(f'{n}:{v}\n' for n, v in request.headers.items())
        out['query'] = (rec.steps, signed + '\n')
    return out


def expected_files(case_dir):
    files = {}
    for kind, (steps, signed) in sign_case(case_dir).items():
        files[f'{kind}-canonical-request.txt'] = steps['canonical_request']
        files[f'{kind}-string-to-sign.txt'] = steps['string_to_sign']
        files[f'{kind}-signature.txt'] = steps['signature']
        files[f'{kind}-signed-request.txt'] = signed
    return files


def main():
    check = '--check' in sys.argv
    bad = 0
    cases = sorted(d for d in os.listdir(HERE) if os.path.isdir(os.path.join(HERE, d)))
    for case in cases:
        files = expected_files(os.path.join(HERE, case))
        if case == 'get-vanilla':
            assert files['header-signature.txt'] == GET_VANILLA, files['header-signature.txt']
        for name, content in files.items():
            path = os.path.join(HERE, case, name)
            if check:
                if not os.path.exists(path):
                    print(f'missing: {case}/{name}')
                    bad += 1
                    continue
                with open(path, encoding='utf-8') as f:
                    if f.read() != content:
                        print(f'differs: {case}/{name}')
                        bad += 1
            else:
                with open(path, 'w', encoding='utf-8', newline='') as f:
                    f.write(content)
    print(f'{len(cases)} cases {"checked" if check else "written"}')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
