"""Differential test: hoist's SigV4 against botocore's, on randomised requests.

Thousands of seeded random requests (methods; paths and queries full of
reserved, percent-encoded and non-ASCII characters; repeated and odd-cased
headers; bodies, some streamed from files; S3 and other services; session
tokens; UNSIGNED-PAYLOAD) are signed at one fixed time by botocore and by
hoist (tests/tools/sigv4_tool.cpp, one process for all cases). Canonical
requests, strings to sign, signatures and the added headers or presigned URL
must be identical.

    HOIST_SIGV4_TOOL=build/tests/hoist_sigv4_tool python3 -m unittest -v test_sigv4_botocore
"""
import base64
import calendar
import datetime
import hashlib
import json
import os
import random
import subprocess
import types
import unittest
from unittest import mock
from urllib.parse import quote, urlsplit

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode_sequence

SEED = 20240229
HEADER_CASES = 1500
PRESIGN_CASES = 400
# One fixed time for every case: a leap day, one second before midnight.
WHEN = datetime.datetime(2024, 2, 29, 23, 59, 59)
EPOCH = calendar.timegm(WHEN.timetuple())

ENDPOINTS = [
    'https://example.amazonaws.com',
    'https://ec2.eu-west-3.amazonaws.com:443',
    'http://127.0.0.1:5000',
    'http://localhost:80',
    'https://Bucket-Name.S3.us-west-2.AmazonAWS.com',
    'https://s3.amazonaws.com:8443',
]
SERVICES = ['s3', 's3', 'ec2', 'iam', 'ecr', 'sts', 'service']
REGIONS = ['us-east-1', 'eu-west-3', 'ap-southeast-2']
# Characters paths, keys and values are drawn from: unreserved, reserved,
# percent, space, plus and non-ASCII (2, 3 and 4 UTF-8 bytes).
ALPHABET = (
    list('abcXYZ019-_.~') * 3
    + list("!$&'()*+,;=:@/?#[]% ")
    + ['%20', '%2F', '%41', '%%', 'é', '日本', 'ሴ', '😀', '..', '.']
)
SUB_DELIMS = "!$&'()*+,;=:@"
HEADER_NAMES = [
    'X-Amz-Meta-Owner', 'content-type', 'Content-Type', 'X-Custom', 'x-custom', 'X-CUSTOM', 'If-Match',
    'Range', 'Cache-Control', 'x-amz-acl', 'X-Amz-Target', 'Accept', 'My-Header1',
    # botocore never signs these: hoist must skip them too.
    'User-Agent', 'X-Amzn-Trace-Id', 'Expect', 'Connection', 'TE', 'Transfer-Encoding', 'Upgrade',
]
VALUE_CHARS = list('abcXYZ019 -_.,;:/=+*"\'()<>@[]{}?~!#$%^&|') + ['  ', '   ', '\t']


def rand_text(rng, low, high):
    return ''.join(rng.choice(ALPHABET) for _ in range(rng.randint(low, high)))


def rand_path(rng, s3):
    segments = []
    for _ in range(rng.randint(0, 5)):
        r = rng.random()
        segments.append('' if r < 0.1 else '.' if r < 0.15 else '..' if r < 0.2 else rand_text(rng, 1, 8))
    raw = '/' + '/'.join(segments)
    if rng.random() < 0.2:
        raw += '/'
    # The wire path: percent-encoded as a client would (S3 encodes keys with
    # safe='/~'); some keep sub-delimiters or non-ASCII raw, both legal to send.
    safe = '/~'
    if rng.random() < 0.3:
        safe += ''.join(rng.sample(SUB_DELIMS, rng.randint(1, len(SUB_DELIMS))))
    path = quote(raw, safe=safe)
    if rng.random() < 0.15:
        for ch in 'é日本ሴ😀':  # raw UTF-8 on the wire (quote's safe is ASCII only)
            path = path.replace(quote(ch), ch)
    return path


def rand_query(rng, unique_keys):
    pairs = []
    for _ in range(rng.choice([0, 0, 1, 2, 3, 5])):
        if pairs and rng.random() < 0.2 and not unique_keys:
            key = rng.choice(pairs)[0]  # a repeated key
        else:
            key = rand_text(rng, 1, 6)
        value = '' if rng.random() < 0.2 else rand_text(rng, 1, 10)
        if unique_keys and any(k == key for k, _ in pairs):
            continue
        pairs.append((key, value))
    return pairs


def rand_headers(rng, endpoint):
    headers = []
    for _ in range(rng.choice([0, 1, 2, 3, 5])):
        name = rng.choice(HEADER_NAMES)
        value = ''.join(rng.choice(VALUE_CHARS) for _ in range(rng.randint(0, 12)))
        if rng.random() < 0.3:
            value = '  ' + value + ' \t '
        headers.append((name, value))
    if headers and rng.random() < 0.2:
        headers.append((headers[0][0].upper(), 'again'))  # a repeat with other case
    if rng.random() < 0.1:
        headers.append(('Host', urlsplit(endpoint).netloc))  # explicit Host, port and case as written
    return headers


def rand_credentials(rng):
    key = 'AKID' + ''.join(rng.choice('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567') for _ in range(16))
    secret = ''.join(rng.choice('abcdefXYZ0123456789+/') for _ in range(40))
    token = None
    if rng.random() < 0.5:
        token = ''.join(rng.choice('abcXYZ0189+/=') for _ in range(rng.randint(20, 300)))
    return key, secret, token


def header_case(rng, i):
    service = rng.choice(SERVICES)
    s3 = service == 's3'
    endpoint = rng.choice(ENDPOINTS)
    r = rng.random()
    body = b'' if r < 0.4 else bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 3000)))
    key, secret, token = rand_credentials(rng)
    case = {
        'id': i, 'mode': 'header', 's3': s3, 'service': service, 'region': rng.choice(REGIONS),
        'method': rng.choice(['GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'PATCH']),
        'endpoint': endpoint, 'path': rand_path(rng, s3), 'query': rand_query(rng, False),
        'headers': rand_headers(rng, endpoint), 'body_b64': base64.b64encode(body).decode(),
        'body_file': bool(body) and rng.random() < 0.3,
        'unsigned': rng.random() < (0.25 if s3 else 0.05),
        'access_key': key, 'secret_key': secret, 'time': EPOCH,
    }
    if token:
        case['token'] = token
    if not case['unsigned'] and rng.random() < 0.1:
        case['payload_hash'] = hashlib.sha256(body).hexdigest()  # a hash the caller already knows
    return case


def presign_case(rng, i):
    service = rng.choice(SERVICES)
    endpoint = rng.choice(ENDPOINTS)
    key, secret, token = rand_credentials(rng)
    headers = [h for h in rand_headers(rng, endpoint) if h[0].lower() != 'content-type']
    case = {
        'id': i, 'mode': 'query', 's3': service == 's3', 'service': service, 'region': rng.choice(REGIONS),
        'method': rng.choice(['GET', 'GET', 'PUT', 'DELETE', 'HEAD']), 'endpoint': endpoint,
        'path': rand_path(rng, service == 's3'), 'query': rand_query(rng, True), 'headers': headers,
        'expires': rng.choice([1, 60, 3600, 86400, 604800, rng.randint(1, 604800)]),
        'access_key': key, 'secret_key': secret, 'time': EPOCH,
    }
    if token:
        case['token'] = token
    return case


class Recorder:
    """Wraps a botocore signer's step methods to keep what each returned."""

    def __init__(self, signer):
        self.steps = {}
        for step in ('canonical_request', 'string_to_sign', 'signature'):
            original = getattr(signer, step)

            def wrapped(*args, _original=original, _step=step):
                self.steps[_step] = out = _original(*args)
                return out

            setattr(signer, step, wrapped)


def botocore_sign(case):
    """Signs the case's wire request with botocore; returns steps and result."""
    url = case['endpoint'] + case['path']
    if case['query']:
        url += '?' + percent_encode_sequence(case['query'])
    body = base64.b64decode(case.get('body_b64', ''))
    request = AWSRequest(method=case['method'], url=url, data=body)
    for name, value in case['headers']:
        request.headers[name] = value  # appends, so repeats stay repeated
    creds = Credentials(case['access_key'], case['secret_key'], case.get('token'))
    if case['mode'] == 'query':
        cls = S3SigV4QueryAuth if case['s3'] else SigV4QueryAuth
        signer = cls(creds, case['service'], case['region'], expires=case['expires'])
    else:
        signer = (S3SigV4Auth if case['s3'] else SigV4Auth)(creds, case['service'], case['region'])
        if case['unsigned']:
            if case['s3']:
                request.context['client_config'] = types.SimpleNamespace(s3={'payload_signing_enabled': False})
            else:
                request.context['payload_signing_enabled'] = False
    recorder = Recorder(signer)
    with mock.patch('botocore.auth.get_current_datetime', return_value=WHEN):
        signer.add_auth(request)
    return recorder.steps, request


def hoist_sign(cases):
    tool = os.environ.get('HOIST_SIGV4_TOOL')
    if not tool:
        raise unittest.SkipTest('HOIST_SIGV4_TOOL is not set (ctest sets it)')
    stdin = ''.join(json.dumps(c) + '\n' for c in cases)
    proc = subprocess.run([tool], input=stdin, capture_output=True, text=True, check=True, timeout=600)
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(results) == len(cases), (len(results), len(cases))
    return results


def query_items(url):
    return sorted(urlsplit(url).query.split('&'))


class SigV4AgainstBotocore(unittest.TestCase):
    def compare(self, cases):
        compared = 0
        for case, got in zip(cases, hoist_sign(cases)):
            ctx = f"case {case['id']} ({case['mode']}, {case['service']})"
            self.assertNotIn('error', got, ctx)
            steps, request = botocore_sign(case)
            self.assertEqual(got['canonical_request'], steps['canonical_request'], ctx)
            self.assertEqual(got['string_to_sign'], steps['string_to_sign'], ctx)
            self.assertEqual(got['signature'], steps['signature'], ctx)
            if case['mode'] == 'query':
                # Same URL up to the order of parameters (botocore does not sort).
                self.assertEqual(got['url'].split('?')[0], request.url.split('?')[0], ctx)
                self.assertEqual(query_items(got['url']), query_items(request.url), ctx)
            else:
                sent = {}
                for name, value in got['headers']:
                    sent.setdefault(name.lower(), value)
                for name in ('Authorization', 'X-Amz-Date', 'X-Amz-Security-Token', 'X-Amz-Content-SHA256'):
                    self.assertEqual(sent.get(name.lower()), request.headers.get(name), f'{ctx}: {name}')
            compared += 1
        return compared

    def test_header_signing(self):
        rng = random.Random(SEED)
        cases = [header_case(rng, i) for i in range(HEADER_CASES)]
        n = self.compare(cases)
        kinds = {
            's3': sum(c['s3'] for c in cases),
            'unsigned-payload': sum(c['unsigned'] for c in cases),
            'session-token': sum('token' in c for c in cases),
            'file-body': sum(c['body_file'] for c in cases),
        }
        print(f'\nheader signing: {n} cases identical to botocore {kinds}')
        self.assertGreaterEqual(n, 1000)

    def test_presigned_urls(self):
        rng = random.Random(SEED + 1)
        cases = [presign_case(rng, i) for i in range(PRESIGN_CASES)]
        n = self.compare(cases)
        print(f'\npresigned URLs: {n} cases identical to botocore (S3 {sum(c["s3"] for c in cases)})')
        self.assertGreaterEqual(n, 200)


if __name__ == '__main__':
    unittest.main()
