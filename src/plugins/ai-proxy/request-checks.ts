/**
 * Asynchronous request-side checks (`ctx.requestChecks`, src/plugins/shared/response-hooks.ts):
 * awaited in plugin order after the prompt hooks, before any provider is called. A check that
 * changed the request (a webhook's `replace`) makes the body be encoded again: the client's bytes
 * no longer say what is sent. None registered: nothing is awaited.
 */
import type { RequestContext } from '../../proxy/context.ts';
import type { CheckedRequest } from './exchange.ts';
import type { ClientRequest } from '../../llm/types.ts';

export async function runRequestChecks(ctx: Pick<RequestContext, 'requestChecks'>, checked: CheckedRequest): Promise<void> {
  if (checked.kind !== 'llm') return;
  for (const check of ctx.requestChecks) {
    if (await check.check(checked.canonical)) {
      checked.source = null;
      checked.request = checked.canonical.source.body as ClientRequest;
    }
  }
}
