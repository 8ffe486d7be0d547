/**
 * Prompt hooks: how the prompt plugins (ai-prompt-decorator, ai-prompt-guard) read and change the
 * prompt whatever API the client speaks (issue 18). In their access phase they only register a
 * hook on the request (`ctx.promptHooks`); the AI exchange parses the client's body with its API's
 * adapter (OpenAI chat / completions, OpenAI Responses, Anthropic Messages) and runs the hooks on
 * the CanonicalRequest right after (`applyPromptHooks`), in plugin order, before any provider body
 * is planned. A hook that refuses throws its plugin's ClientError, as the access phase did.
 *
 * ai-prompt-template stays a body step in its access phase: until a template is rendered the body
 * is not a request any adapter can parse.
 */
import type { RequestContext } from '../../proxy/context.ts';
import type { CanonicalRequest, Message, Role } from '../../exchange/types.ts';

/**
 * One prompt plugin's step over the parsed request. `null`: the request carries no prompt (an
 * embeddings request), which a prompt plugin refuses as it always has.
 *
 * Contract: a hook that changes the request assigns new values to what it changes (`req.messages`,
 * `req.source`), never edits the arrays and objects it was given in place. That is how
 * applyPromptHooks sees a change, and it keeps the client's parsed body (which the json-reuse
 * ClientJson compares by identity to copy the client's bytes) exactly as the client sent it.
 */
export type PromptHook = (req: CanonicalRequest | null) => void;

/**
 * Runs the request's prompt hooks in plugin order; true when they changed the request (its
 * messages, prompt or source body), so what goes upstream is no longer the client's bytes.
 */
export function applyPromptHooks(ctx: Pick<RequestContext, 'promptHooks'>, req: CanonicalRequest | null): boolean {
  const hooks = ctx.promptHooks;
  if (hooks.length === 0) return false;
  if (req === null) {
    for (const hook of hooks) hook(null);
    return false;
  }
  const { messages, prompt, source } = req;
  const body = source.body;
  for (const hook of hooks) hook(req);
  return req.messages !== messages || req.prompt !== prompt || req.source !== source || req.source.body !== body;
}

/** A configured prompt as a canonical message: one text part. */
export function textMessage(role: Role, text: string): Message {
  return { role, parts: [{ type: 'text', text }] };
}
