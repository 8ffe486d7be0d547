/**
 * AWS Signature Version 4 for Bedrock, with `aws4` (signing is easy to get subtly wrong; docs/architecture.md, dependencies).
 * Credentials: `auth.aws_access_key_id` / `auth.aws_secret_access_key` (Kong 3.8), else the
 * environment's `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN` with them),
 * as Kong reads them. The region: `model.options.bedrock.aws_region`, else `AWS_REGION` /
 * `AWS_DEFAULT_REGION`, else the one in an `upstream_url` host (`bedrock-runtime.<region>.amazonaws.com`).
 *
 * Signed: `content-type`, `host`, `x-amz-date` (and `x-amz-security-token`), the method, the
 * path and query exactly as sent (aws4 encodes the path's segments once more, as SigV4 wants for
 * every service but S3: a model id `a:b` travels as `a%3Ab` and is signed as `a%253Ab`) and the
 * body's SHA-256. Not `content-length` or client headers: the transport may set those.
 */
import aws4 from 'aws4';
import { SigningError, type AuthConfig, type ModelOptions, type SignableRequest } from '../types.ts';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** The configured credentials, else the environment's, else null. */
export function awsCredentials(auth: AuthConfig | null, env: NodeJS.ProcessEnv = process.env): AwsCredentials | null {
  const id = auth?.aws_access_key_id;
  const secret = auth?.aws_secret_access_key;
  if (id && secret) return { accessKeyId: id, secretAccessKey: secret };
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    return { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) };
  }
  return null;
}

const BEDROCK_HOST = /^bedrock-runtime(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com$/;

/** The region to sign for (and to build the default URL with); null when none is known. */
export function awsRegion(options: ModelOptions, env: NodeJS.ProcessEnv = process.env, host?: string): string | null {
  const configured = options.bedrock?.aws_region;
  if (configured) return configured;
  if (env.AWS_REGION) return env.AWS_REGION;
  if (env.AWS_DEFAULT_REGION) return env.AWS_DEFAULT_REGION;
  const match = host ? BEDROCK_HOST.exec(host) : null;
  return match ? match[1] : null;
}

/** `YYYYMMDDTHHMMSSZ`. */
export function amzDate(date: Date): string {
  return date.toISOString().replace(/[:-]|\.\d{3}/g, '');
}

/** The SigV4 headers for one request (lower-case names). */
export function signAws(request: SignableRequest, credentials: AwsCredentials, region: string, service: string, now: Date = new Date()): Record<string, string> {
  const url = new URL(request.url);
  const headers: Record<string, string> = {
    host: url.host,
    'content-type': request.headers['content-type'] ?? 'application/json',
    'x-amz-date': amzDate(now),
  };
  if (credentials.sessionToken) headers['x-amz-security-token'] = credentials.sessionToken;
  let signed: { headers?: Record<string, unknown> };
  try {
    const signer = new aws4.RequestSigner(
      { host: url.host, path: `${url.pathname}${url.search}`, method: request.method, service, region, headers, body: request.body, doNotModifyHeaders: true },
      credentials,
    );
    // The date signed must be the one sent: aws4 would read its own clock otherwise.
    signer.datetime = headers['x-amz-date'];
    signed = signer.sign() as { headers?: Record<string, unknown> };
  } catch (error) {
    throw new SigningError(`could not sign the AWS request: ${(error as Error)?.message ?? String(error)}`);
  }
  const authorization = signed.headers?.Authorization ?? signed.headers?.authorization;
  if (typeof authorization !== 'string') throw new SigningError('could not sign the AWS request');
  const out: Record<string, string> = { authorization, 'x-amz-date': headers['x-amz-date'] };
  if (credentials.sessionToken) out['x-amz-security-token'] = credentials.sessionToken;
  return out;
}
