/**
 * ai-sanitizer detectors: each with values it must find and look-alikes it must not (checksums:
 * one digit changed is a different, invalid number), the priority between overlapping detectors,
 * and the safety checks on custom patterns.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detect, DETECTED_KINDS, type DetectedKind } from '../../src/plugins/ai-sanitizer/detectors/index.ts';
import { detectEmails } from '../../src/plugins/ai-sanitizer/detectors/email.ts';
import { detectPhones } from '../../src/plugins/ai-sanitizer/detectors/phone.ts';
import { detectCards, luhnValid } from '../../src/plugins/ai-sanitizer/detectors/card.ts';
import { detectIbans, ibanCheckDigits } from '../../src/plugins/ai-sanitizer/detectors/iban.ts';
import { detectBsns, detectDnis, detectNinos, detectNirs, detectSsns } from '../../src/plugins/ai-sanitizer/detectors/national-id.ts';
import { detectIpv4, detectIpv6 } from '../../src/plugins/ai-sanitizer/detectors/ip.ts';
import { detectUrlCredentials } from '../../src/plugins/ai-sanitizer/detectors/url-credentials.ts';
import { detectApiKeys, detectAwsSecrets, detectPrivateKeys } from '../../src/plugins/ai-sanitizer/detectors/secrets.ts';
import { detectHighEntropy, shannonEntropy } from '../../src/plugins/ai-sanitizer/detectors/entropy.ts';
import { compileCustomPattern, detectCustom, validateCustomPattern } from '../../src/plugins/ai-sanitizer/detectors/custom.ts';
import type { Span } from '../../src/plugins/ai-sanitizer/detectors/types.ts';

/** The matched strings, in order. */
const found = (spans: Span[], text: string) => spans.sort((a, b) => a.start - b.start).map((s) => text.slice(s.start, s.end));

/** Each valid value is found exactly (inside a sentence); each invalid one is not found at all. */
function check(detector: (t: string) => Span[], valid: string[], invalid: string[]) {
  for (const v of valid) {
    const text = `see ${v}, thanks`;
    assert.deepEqual(found(detector(text), text), [v], `should find ${v}`);
  }
  for (const v of invalid) {
    const text = `see ${v}, thanks`;
    assert.deepEqual(found(detector(text), text), [], `should not find ${v}`);
  }
}

test('emails', () => {
  check(detectEmails, ['jane.doe@example.org', 'a+tag@sub.example.co.uk', "o'brien@example.ie", 'x_y-z@ex-ample.io'], ['jane@localhost', '@example.org', 'jane@.org', 'jane@example.c0m']);
});

test('phone numbers: international for every country, national read as North American', () => {
  const run = '12 34 56 78 90 11 +44 20 7946 0958 and 5 (213) 373-4253';
  assert.deepEqual(found(detectPhones(run), run), ['+44 20 7946 0958', '(213) 373-4253']);
  check(detectPhones, ['+1 (213) 373-4253', '+44 20 7946 0958', '+33 6 12 34 56 78', '+49 30 901820', '(213) 373-4253', '213-373-4253'], ['12345', '2024-01-15', '1.2.3.4', '+1 (000) 000-0000']);
});

test('payment cards: Luhn, issuer ranges and lengths', () => {
  check(
    detectCards,
    ['4111 1111 1111 1111', '4111-1111-1111-1111', '5555555555554444', '3782 822463 10005', '2223003122003222', '378282246310005', '6011111111111117', '3530111333300000', '6200000000000005', '30569309025904'],
    // Luhn off by one digit; a valid Luhn with no issuer (1…); a Visa at an impossible length; mixed separators
    // and a Luhn-valid Maestro number spread over irregular groups (`5698 7654 32 4111`)
    ['4111 1111 1111 1112', '1234567812345670', '41111111111111111', '4111 1111-1111 1111', '0000000000000000', '5698 7654 32 4111'],
  );
  // a card right after other digit groups: the run that swallowed its first group is scanned again
  const after = 'ssn 123-45-6789 4111 1111 1111 1111 and 0 5555555555554444';
  assert.deepEqual(found(detectCards(after), after), ['4111 1111 1111 1111', '5555555555554444']);
  assert.equal(luhnValid('79927398713'), true);
  assert.equal(luhnValid('79927398710'), false);
});

test('IBANs: per-country length and mod-97', () => {
  check(
    detectIbans,
    ['GB82WEST12345698765432', 'GB82 WEST 1234 5698 7654 32', 'DE89370400440532013000', 'FR1420041010050500013M02606', 'NL91ABNA0417164300', 'NO9386011117947', 'BE68539007547034'],
    ['GB82WEST12345698765433', 'GB82WEST1234569876543', 'XX82WEST12345698765432', 'DE89370400440532013001'],
  );
  assert.equal(ibanCheckDigits('GB', 'WEST12345698765432'), '82');
});

test('US SSN: format rules and invalid areas (no checksum exists)', () => {
  check(detectSsns, ['123-45-6789', '123 45 6789', '772-12-3456'], ['000-12-3456', '666-12-3456', '900-12-3456', '123-00-4567', '123-45-0000', '078-05-1120', '123-456789', '123456789']);
});

test('UK NINO: HMRC prefixes and suffix', () => {
  check(detectNinos, ['AB123456C', 'AB 12 34 56 C', 'JG103759A'], ['DA123456C', 'AO123456C', 'BG123456C', 'AB123456E', 'QQ123456C']);
});

test('Spanish DNI and NIE: the control letter', () => {
  check(detectDnis, ['12345678Z', '12345678-Z', 'X1234567L', 'Y1234567X'], ['12345678A', 'X1234567A']);
});

test('French NIR: the key (Corsica included)', () => {
  check(detectNirs, ['1 84 12 76 451 089 46', '184127645108946', '2 69 05 2A 123 456 88'], ['184127645108947', '2 69 05 2A 123 456 87', '1 84 15 76 451 089 46', '1 84 00 76 451 089 46']);
});

test('Dutch BSN: the 11-proof', () => {
  check(detectBsns, ['111222333', '123456782'], ['111222334', '123456789', '000000000', '1112223330']);
});

test('IPv4 and IPv6', () => {
  check(detectIpv4, ['10.0.0.1', '192.168.1.254', '8.8.8.8', '255.255.255.255'], ['256.1.1.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', 'v1.2.3.4.5']);
  check(detectIpv6, ['2001:db8::1', 'fe80::1ff:fe23:4567:890a', '2001:0db8:85a3:0000:0000:8a2e:0370:7334', '::ffff:192.0.2.1'], ['12:30:45', 'std::vector', '1::2::3', '2001:db8:85a3:0:0:8a2e:370:7334:1', '::1']);
});

test('URLs with credentials: the userinfo only', () => {
  const t = 'connect to postgres://admin:s3cr3t@db.internal:5432/app and https://example.com/a:b@c';
  assert.deepEqual(found(detectUrlCredentials(t), t), ['admin:s3cr3t']);
  const noPass = 'clone ssh://git@github.com/x/y.git';
  assert.deepEqual(detectUrlCredentials(noPass), []);
});

test('API keys and cloud secrets, each by its format', () => {
  const cases: [DetectedKind, string][] = [
    ['openai_key', 'sk-proj-' + 'Ab3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3kM5oQ7s'],
    ['openai_key', 'sk-' + 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8s9T0u1V2w3X4'],
    ['anthropic_key', 'sk-ant-api03-' + 'x'.repeat(40) + '-AbC_9'],
    ['aws_access_key', 'AKIAIOSFODNN7EXAMPLE'],
    ['aws_access_key', 'ASIAY34FZKBOKMUTVV7A'],
    ['gcp_api_key', 'AIza' + 'SyD-1234567890abcdefghijklmnopqrstu'],
    ['github_token', 'ghp_' + 'a'.repeat(36)],
    ['github_token', 'github_pat_' + '11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz'],
    ['slack_token', 'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx'],
    ['stripe_key', 'sk_live_' + '4eC39HqLyjWDarjtT1zdp7dc'],
    ['stripe_key', 'rk_live_' + '4eC39HqLyjWDarjtT1zdp7dc'],
    ['jwt', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U'],
  ];
  for (const [kind, value] of cases) {
    const text = `key=${value} done`;
    const spans = detectApiKeys(text);
    assert.equal(spans.length, 1, value);
    assert.equal(spans[0].kind, kind, value);
    assert.equal(text.slice(spans[0].start, spans[0].end), value);
  }
  for (const notKey of ['sk-short', 'AKIA1234', 'AKIAIOSFODNN7EXAMPL', 'ghp_tooshort', 'xoxq-123456789012', 'sk_live_', 'eyJhbGciOiJIUzI1NiJ9', 'task-management-system-overview-document']) {
    assert.deepEqual(detectApiKeys(`x ${notKey} y`), [], notKey);
  }
});

test('AWS secret keys only near an access key id or the words aws / secret', () => {
  const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
  const near = `aws_access_key_id=AKIAIOSFODNN7EXAMPLE\naws_secret_access_key=${secret}`;
  assert.deepEqual(found(detectAwsSecrets(near), near), [secret]);
  const alone = `the value ${secret} appears here`;
  assert.deepEqual(detectAwsSecrets(alone), []);
  const hash = 'secret sha1 9fceb02d0ae598e95dc970b74767f19372d61af8';
  assert.deepEqual(detectAwsSecrets(hash), []);
});

test('PEM private keys, and GCP service-account keys in their JSON', () => {
  const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\nabc+/=\n-----END RSA PRIVATE KEY-----';
  const text = `here:\n${pem}\nend`;
  const spans = detectPrivateKeys(text);
  assert.deepEqual(found(spans, text), [pem]);
  assert.equal(spans[0].kind, 'private_key');
  const sa = '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0B\\n-----END PRIVATE KEY-----\\n", "client_email": "x@p.iam.gserviceaccount.com"}';
  const gcp = detectPrivateKeys(sa);
  assert.equal(gcp.length, 1);
  assert.equal(gcp[0].kind, 'gcp_private_key');
  assert.deepEqual(detectPrivateKeys('-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----'), []);
  assert.deepEqual(detectPrivateKeys('-----BEGIN PRIVATE KEY-----\nMIIB (never ends)'), []);
});

test('high-entropy tokens: random tokens yes; words, paths, UUIDs, hex hashes, short tokens no', () => {
  const token = 'Zx8Kq2Lm9Vb4Nc7Rt1Yw6Hs3Jd5Fg0Pa';
  check(detectHighEntropy, [token, 'aB3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3kM5oQ7s/+=='], [
    'internationalization-localization',
    'src/plugins/ai-sanitizer/detectors/index',
    '123e4567-e89b-12d3-a456-426614174000',
    '9fceb02d0ae598e95dc970b74767f19372d61af8',
    'Zx8Kq2Lm9Vb4Nc7Rt1Yw6Hs3', // 24 characters: under the minimum
    'ThisIsAVeryLongCamelCaseIdentifierName2',
  ]);
  assert.ok(shannonEntropy(token) > 4.2);
  assert.equal(shannonEntropy('aaaa'), 0);
});

test('custom patterns: vetted at config time (safe-regex2 and linear time), matched case-insensitively when asked', () => {
  for (const p of ['(a+)+$', '(x+x+)+y', '(a|a)*$', '(a)\\1']) assert.match(validateCustomPattern(p) ?? '', /^unsafe regex/, p);
  assert.match(validateCustomPattern('[') ?? '', /^invalid regex/);
  assert.match(validateCustomPattern('a*') ?? '', /empty string/);
  assert.match(validateCustomPattern('a'.repeat(501)) ?? '', /longer than 500/);
  assert.equal(validateCustomPattern('EMP-\\d{6}'), undefined);
  const pats = [compileCustomPattern('employee', 'EMP-\\d{6}'), compileCustomPattern('project', '(?i)project-[a-z]{4}')];
  const text = 'EMP-123456 works on PROJECT-ABCD and emp-123456';
  assert.deepEqual(found(detectCustom(pats, text), text), ['EMP-123456', 'PROJECT-ABCD']);
});

test('detect: priority between overlapping detectors, only the enabled kinds, sorted spans', () => {
  const all = { kinds: new Set(DETECTED_KINDS), custom: [] };
  const pem = '-----BEGIN PRIVATE KEY-----\nZx8Kq2Lm9Vb4Nc7Rt1Yw6Hs3Jd5Fg0PaZx8Kq2Lm9\n-----END PRIVATE KEY-----';
  const text = `mail bob@example.com key ${pem} ant sk-ant-api03-${'y'.repeat(30)} ip 10.1.2.3`;
  const spans = detect(text, all);
  assert.deepEqual(spans.map((s) => s.kind), ['email', 'private_key', 'anthropic_key', 'ipv4']);
  for (let i = 1; i < spans.length; i++) assert.ok(spans[i - 1].end <= spans[i].start);
  const onlyEmail = detect(text, { kinds: new Set<DetectedKind>(['email']), custom: [] });
  assert.deepEqual(onlyEmail.map((s) => s.kind), ['email']);
  assert.deepEqual(detect('', all), []);
});

test('detectors stay linear on adversarial input', () => {
  const all = { kinds: new Set(DETECTED_KINDS), custom: [] };
  for (const evil of ['a'.repeat(50_000) + '@', '1'.repeat(50_000), ':'.repeat(50_000), 'GB82' + 'A'.repeat(50_000), 'sk-' + '-'.repeat(50_000), '-----BEGIN PRIVATE KEY-----' + 'A'.repeat(50_000)]) {
    // completes: a catastrophic pattern would not finish within the test runner's timeout
    assert.ok(Array.isArray(detect(evil, all)));
  }
});
