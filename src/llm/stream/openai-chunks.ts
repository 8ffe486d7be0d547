/**
 * Moved: OpenAI's chunks are rendered by src/exchange/render/openai-chat.ts (the EventSink stream
 * translators write to). These re-exports keep older imports working.
 */
export { DONE_FRAME, sseFrame } from '../../exchange/render/openai-chat.ts';
