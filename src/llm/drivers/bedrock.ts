/**
 * Amazon Bedrock (Kong 3.8), through the Converse API:
 * `https://bedrock-runtime.{region}.amazonaws.com:443/model/{modelId}/converse` | `/converse-stream`
 * (AWS's binary event stream), for both route types. Requests are signed with SigV4 (auth/aws.ts):
 * credentials from `auth.aws_access_key_id` / `auth.aws_secret_access_key` or the environment;
 * the region from `model.options.bedrock.aws_region` or the environment. Without AWS credentials
 * a configured header (a Bedrock API key: `Authorization: Bearer <key>`) is sent as it is.
 *
 * The model id (a foundation model, an inference profile or an ARN) is one encoded path segment
 * and the region a DNS label, so neither can change where the request goes (T72). With
 * `upstream_url` (a VPC endpoint, a proxy), a path ending in `/converse` or `/converse-stream` gets
 * the operation that matches the request.
 */
import { RequestError, SigningError, type DriverContext } from '../types.ts';
import { bedrockConverseFormat } from '../formats/bedrock-converse.ts';
import { dnsLabel, modelSegment, safePath, upstreamBase } from '../url.ts';
import { awsCredentials, awsRegion, signAws } from '../auth/aws.ts';
import { defineDriver } from './define.ts';

const OPERATION = /\/(?:converse|converse-stream)$/;

function url(ctx: DriverContext): string {
  const operation = ctx.stream ? 'converse-stream' : 'converse';
  const options = ctx.options;
  let path: string;
  let origin: string;
  if (options.upstream_url) {
    const base = new URL(upstreamBase(options.upstream_url));
    origin = base.origin;
    path = base.pathname;
  } else {
    const region = awsRegion(options);
    if (!region) throw new RequestError('model.options.bedrock.aws_region: required (or the AWS_REGION environment variable)');
    origin = `https://bedrock-runtime.${dnsLabel(region, 'bedrock.aws_region')}.amazonaws.com:443`;
    path = options.upstream_path ? safePath(options.upstream_path) : `/model/${modelSegment(ctx.model, 'bedrock')}/${operation}`;
  }
  return `${origin}${OPERATION.test(path) ? path.replace(OPERATION, `/${operation}`) : path}`;
}

export const bedrockDriver = defineDriver({
  name: 'bedrock',
  endpoint: (ctx) => ({ url: url(ctx), headers: {} }),
  formatFor: () => bedrockConverseFormat,
  async signRequest(request, ctx, auth): Promise<Record<string, string>> {
    const credentials = awsCredentials(auth);
    if (!credentials) {
      // A Bedrock API key in the configured header needs no signature.
      if (auth?.header_name && auth.header_value) return {};
      throw new SigningError('no AWS credentials: set auth.aws_access_key_id and auth.aws_secret_access_key (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)');
    }
    const region = awsRegion(ctx.options, process.env, new URL(request.url).hostname);
    if (!region) throw new SigningError('no AWS region: set model.options.bedrock.aws_region (or AWS_REGION)');
    return signAws(request, credentials, region, 'bedrock');
  },
});
