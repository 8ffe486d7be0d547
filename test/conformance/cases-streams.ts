/**
 * Kong's stream fixtures that concern our providers: single real frames (01-unit_spec "stream
 * format tests") and the framing cases of `streaming-chunk-formats` for SSE and newline-delimited
 * JSON.
 */
import type { LlmRouteType, ProviderName } from '../../src/llm/types.ts';

export interface FrameCase {
  file: string;
  provider: ProviderName;
  route: LlmRouteType;
  /** `expected_stream_choices` of Kong's unit spec. */
  choices: unknown[];
}

const chatChoices = [{ delta: { content: 'the answer' }, finish_reason: null, index: 0, logprobs: null }];
const completionChoices = [{ text: 'the answer', finish_reason: null, index: 0, logprobs: null }];

export const FRAME_CASES: FrameCase[] = [
  { file: 'unit/real-stream-frames/openai/llm-v1-chat.txt', provider: 'openai', route: 'llm/v1/chat', choices: chatChoices },
  { file: 'unit/real-stream-frames/openai/llm-v1-completions.txt', provider: 'openai', route: 'llm/v1/completions', choices: completionChoices },
  { file: 'unit/real-stream-frames/cohere/llm-v1-chat.txt', provider: 'cohere', route: 'llm/v1/chat', choices: chatChoices },
  { file: 'unit/real-stream-frames/cohere/llm-v1-completions.txt', provider: 'cohere', route: 'llm/v1/completions', choices: completionChoices },
];

export interface FramingCase {
  dir: string;
  framing: 'sse' | 'ndjson';
}

export const FRAMING_CASES: FramingCase[] = [
  { dir: 'unit/streaming-chunk-formats/text-event-stream', framing: 'sse' },
  { dir: 'unit/streaming-chunk-formats/complete-json', framing: 'ndjson' },
];

export function framingFiles(c: FramingCase): { input: string; expected: string } {
  return { input: `${c.dir}/input.bin`, expected: `${c.dir}/expected-output.json` };
}
