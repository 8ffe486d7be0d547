/**
 * Request-time credentials: AWS SigV4 for Bedrock (checked against the mock's independent
 * verifier) and Google service-account tokens for Gemini on Vertex AI (JWT RS256, token exchange,
 * cache, failures).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, createVerify, generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { amzDate, awsCredentials, awsRegion, signAws } from '../../src/llm/auth/aws.ts';
import { clearGcpTokenCache, gcpAccessToken, parseServiceAccount, signAssertion } from '../../src/llm/auth/gcp.ts';
import { getDriver } from '../../src/llm/drivers/index.ts';
import { SigningError, type AuthConfig } from '../../src/llm/types.ts';
import { canonicalRequest } from '../mocks/bedrock.ts';
import { context } from '../conformance/support.ts';

const NO_AUTH: AuthConfig = { header_name: null, header_value: null, param_name: null, param_value: null, param_location: null, allow_override: false };

describe('AWS SigV4', () => {
  const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
  const request = {
    method: 'POST',
    url: 'https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse',
    headers: { 'content-type': 'application/json', 'content-length': '17', 'user-agent': 'x' },
    body: '{"messages":[]}',
  };
  const now = new Date('2024-05-01T12:34:56Z');

  /** The signature recomputed from the SigV4 specification, independently of aws4. */
  function expectedSignature(signedHeaders: Record<string, string>, names: string[]): string {
    const url = new URL(request.url);
    const canonical = canonicalRequest('POST', url.pathname, {}, signedHeaders, names, request.body);
    const stringToSign = ['AWS4-HMAC-SHA256', '20240501T123456Z', '20240501/us-east-1/bedrock/aws4_request', createHash('sha256').update(canonical).digest('hex')].join('\n');
    const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
    const key = hmac(hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, '20240501'), 'us-east-1'), 'bedrock'), 'aws4_request');
    return createHmac('sha256', key).update(stringToSign).digest('hex');
  }

  it('signs content-type, host and x-amz-date, the path encoded once more, and the body', () => {
    const headers = signAws(request, credentials, 'us-east-1', 'bedrock', now);
    assert.equal(headers['x-amz-date'], '20240501T123456Z');
    const m = /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20240501\/us-east-1\/bedrock\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(headers.authorization);
    assert.ok(m, headers.authorization);
    assert.equal(m[1], 'content-type;host;x-amz-date', 'not content-length or client headers: the transport owns those');
    const signed = { 'content-type': 'application/json', host: 'bedrock-runtime.us-east-1.amazonaws.com', 'x-amz-date': '20240501T123456Z' };
    assert.equal(m[2], expectedSignature(signed, ['content-type', 'host', 'x-amz-date']));
    assert.equal(amzDate(now), '20240501T123456Z');
  });

  it('adds and signs a session token', () => {
    const headers = signAws(request, { ...credentials, sessionToken: 'tok' }, 'us-east-1', 'bedrock', now);
    assert.equal(headers['x-amz-security-token'], 'tok');
    assert.match(headers.authorization, /SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,/);
  });

  it('takes credentials and region from the configuration, else the environment', () => {
    const env = { AWS_ACCESS_KEY_ID: 'envid', AWS_SECRET_ACCESS_KEY: 'envsecret', AWS_SESSION_TOKEN: 'envtoken', AWS_REGION: 'eu-central-1' };
    assert.deepEqual(awsCredentials({ ...NO_AUTH, aws_access_key_id: 'a', aws_secret_access_key: 'b' }, env), { accessKeyId: 'a', secretAccessKey: 'b' });
    assert.deepEqual(awsCredentials(NO_AUTH, env), { accessKeyId: 'envid', secretAccessKey: 'envsecret', sessionToken: 'envtoken' });
    assert.equal(awsCredentials({ ...NO_AUTH, aws_access_key_id: 'a' }, {}), null, 'half a key pair is none');
    const options = context({ provider: 'bedrock' }).options;
    assert.equal(awsRegion({ ...options, bedrock: { aws_region: 'us-west-2' } }, env), 'us-west-2');
    assert.equal(awsRegion(options, env), 'eu-central-1');
    assert.equal(awsRegion(options, { AWS_DEFAULT_REGION: 'sa-east-1' }), 'sa-east-1');
    assert.equal(awsRegion(options, {}, 'bedrock-runtime-fips.us-gov-west-1.amazonaws.com'), 'us-gov-west-1');
    assert.equal(awsRegion(options, {}, 'proxy.local'), null);
  });

  it('the bedrock driver signs, passes a Bedrock API key through, and refuses to send unsigned', async () => {
    const bedrock = getDriver('bedrock');
    const ctx = context({ provider: 'bedrock', options: { bedrock: { aws_region: 'us-east-1' } } });
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    try {
      const signed = await bedrock.signRequest!(request, ctx, { ...NO_AUTH, aws_access_key_id: 'AKID', aws_secret_access_key: 'secret' });
      assert.match(signed.authorization, /^AWS4-HMAC-SHA256 Credential=AKID\/\d{8}\/us-east-1\/bedrock\/aws4_request/);
      assert.deepEqual(await bedrock.signRequest!(request, ctx, { ...NO_AUTH, header_name: 'Authorization', header_value: 'Bearer bedrock-api-key' }), {});
      await assert.rejects(bedrock.signRequest!(request, ctx, NO_AUTH), (e: unknown) => e instanceof SigningError && !e.upstream && /no AWS credentials/.test(e.message));
    } finally {
      if (saved.id !== undefined) process.env.AWS_ACCESS_KEY_ID = saved.id;
      if (saved.secret !== undefined) process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
    }
  });
});

describe('Google service accounts', () => {
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKey = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  let server: Server | undefined;
  let exchanges = 0;
  let answer: (body: string) => [number, unknown] = () => [200, { access_token: `ya29.t${exchanges}`, expires_in: 3599, token_type: 'Bearer' }];

  async function tokenServer(): Promise<string> {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d));
      req.on('end', () => {
        exchanges++;
        const [status, json] = answer(body);
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
  }
  after(() => {
    server?.close();
    clearGcpTokenCache();
  });

  const account = (tokenUri: string, extra: Record<string, unknown> = {}) => JSON.stringify({ type: 'service_account', client_email: 'sa@p.iam.gserviceaccount.com', private_key: privateKey, private_key_id: 'kid1', token_uri: tokenUri, ...extra });

  it('checks the key file, and that token_uri is https (or loopback)', () => {
    const bad = (json: string, message: RegExp) => assert.throws(() => parseServiceAccount(json), (e: unknown) => e instanceof SigningError && message.test(e.message));
    bad('not json', /not valid JSON/);
    bad('[]', /expected a JSON object/);
    bad(JSON.stringify({ private_key: privateKey }), /client_email is missing/);
    bad(JSON.stringify({ client_email: 'x' }), /private_key is missing/);
    bad(account('http://oauth.example.com/token'), /token_uri must be an https URL/);
    bad(account('https://user:pw@oauth.example.com/token'), /must not carry credentials/);
    assert.equal(parseServiceAccount(account('')).token_uri, 'https://oauth2.googleapis.com/token');
    assert.equal(parseServiceAccount(account('http://localhost:9/token')).token_uri, 'http://localhost:9/token');
  });

  it('signs a JWT assertion with RS256 for the cloud-platform scope', () => {
    const jwt = signAssertion(parseServiceAccount(account('https://oauth2.googleapis.com/token')), 1_700_000_000);
    const [h, c, s] = jwt.split('.');
    assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url').toString()), { alg: 'RS256', typ: 'JWT', kid: 'kid1' });
    assert.deepEqual(JSON.parse(Buffer.from(c, 'base64url').toString()), {
      iss: 'sa@p.iam.gserviceaccount.com',
      scope: 'https://www.googleapis.com/auth/cloud-platform',
      aud: 'https://oauth2.googleapis.com/token',
      iat: 1_700_000_000,
      exp: 1_700_003_600,
    });
    assert.ok(createVerify('RSA-SHA256').update(`${h}.${c}`).verify(keys.publicKey, Buffer.from(s, 'base64url')));
  });

  it('exchanges once per hour, shares a pending exchange, and refreshes before expiry', async () => {
    clearGcpTokenCache();
    const uri = await tokenServer();
    exchanges = 0;
    const json = account(uri);
    const [a, b] = await Promise.all([gcpAccessToken(json, 1000), gcpAccessToken(json, 1000)]);
    assert.equal(a, b);
    assert.equal(exchanges, 1);
    assert.equal(await gcpAccessToken(json, 1000 + 3000), a, 'still fresh');
    assert.equal(exchanges, 1);
    const refreshed = await gcpAccessToken(json, 1000 + 3599 - 299);
    assert.notEqual(refreshed, a, 'refreshed five minutes before it expires');
    assert.equal(exchanges, 2);
  });

  it('reports a failed exchange as the credential service’s fault', async () => {
    clearGcpTokenCache();
    const uri = server ? `http://127.0.0.1:${(server.address() as AddressInfo).port}/token` : await tokenServer();
    answer = () => [400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' }];
    await assert.rejects(gcpAccessToken(account(uri)), (e: unknown) => e instanceof SigningError && e.upstream && /status 400: Invalid JWT Signature\./.test(e.message));
    answer = () => [200, { token_type: 'Bearer' }];
    await assert.rejects(gcpAccessToken(account(uri)), (e: unknown) => e instanceof SigningError && e.upstream);
    await assert.rejects(gcpAccessToken(account('http://127.0.0.1:1/token')), (e: unknown) => e instanceof SigningError && e.upstream && /could not reach/.test(e.message));
  });

  it('the gemini driver signs only with gcp_use_service_account', async () => {
    const gemini = getDriver('gemini');
    const ctx = context({ provider: 'gemini' });
    const request = { method: 'POST', url: 'https://x/y', headers: {}, body: '{}' };
    assert.deepEqual(await gemini.signRequest!(request, ctx, { ...NO_AUTH, header_name: 'x-goog-api-key', header_value: 'k' }), {});
    const saved = process.env.GCP_SERVICE_ACCOUNT;
    delete process.env.GCP_SERVICE_ACCOUNT;
    try {
      await assert.rejects(gemini.signRequest!(request, ctx, { ...NO_AUTH, gcp_use_service_account: true }), (e: unknown) => e instanceof SigningError && /GCP_SERVICE_ACCOUNT/.test(e.message));
    } finally {
      if (saved !== undefined) process.env.GCP_SERVICE_ACCOUNT = saved;
    }
  });
});
