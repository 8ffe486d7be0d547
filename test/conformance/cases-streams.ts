/**
 * Kong's stream fixtures that concern our providers: single real frames (01-unit_spec "stream
 * format tests"), the framing cases of `streaming-chunk-formats` (SSE, newline-delimited JSON, AWS
 * event stream), Bedrock's recorded ConverseStream (`bedrock/chunks`, 09-streaming spec) and
 * Gemini's JSON-array streams (`partial-json-*`).
 */
import type { LlmRouteType, ProviderName, StreamEvent, StreamFraming, Usage } from '../../src/llm/types.ts';

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
  framing: StreamFraming;
  /**
   * Kong's expected entry as our event, when Kong writes it differently: an AWS message is
   * `{"body": payload, "headers": {...}}` in Kong, `{event: <:event-type>, data: payload}` here.
   */
  fromKong?(data: string): StreamEvent;
}

export const FRAMING_CASES: FramingCase[] = [
  { dir: 'unit/streaming-chunk-formats/text-event-stream', framing: 'sse' },
  { dir: 'unit/streaming-chunk-formats/complete-json', framing: 'ndjson' },
  {
    dir: 'unit/streaming-chunk-formats/aws',
    framing: 'aws-eventstream',
    fromKong: (data) => {
      const message = JSON.parse(data) as { body: string; headers: Record<string, string> };
      return { event: message.headers[':event-type'], data: message.body };
    },
  },
];

/** A whole provider stream recorded by Kong, in pieces, through decoder and translator. */
export interface RecordedStreamCase {
  files: string[];
  /** How the files hold the bytes. */
  encoding: 'base64' | 'raw';
  provider: ProviderName;
  route: LlmRouteType;
  toolCalls: { id: string; name: string; arguments: string }[];
  text: string;
  finish: string;
  usage: Usage | null;
  /**
   * The golden client frames, in `test/conformance/recordings/` (Kong's fixture directory is
   * shared and read-only): `<golden>.expected.json`, and `<golden>.usage.expected.json` when the
   * client asked for `stream_options.include_usage` (checked by test/unit/llm-stream.test.ts).
   */
  golden: string;
}

export const RECORDED_STREAM_CASES: RecordedStreamCase[] = [
  {
    // 09-streaming_integration_spec: a tool call streamed by ConverseStream (Cohere Command R on Bedrock).
    files: ['bedrock/chunks/chunk-1.txt', 'bedrock/chunks/chunk-2.txt', 'bedrock/chunks/chunk-3.txt'],
    encoding: 'base64',
    provider: 'bedrock',
    route: 'llm/v1/chat',
    toolCalls: [{ id: 'tooluse_UxbKWVKgTqe8cKjPPzopiQ', name: 'add', arguments: '{"a": 2, "b": 12}' }],
    text: '',
    finish: 'tool_calls',
    usage: { prompt_tokens: 478, completion_tokens: 44, total_tokens: 522 },
    golden: 'kong-bedrock-chunks',
  },
];

/**
 * Gemini's `streamGenerateContent` without `alt=sse` answers one JSON array, written piece by
 * piece. We ask for SSE; a JSON array that still comes back (a proxy, an `upstream_url` without the
 * query) is read whole by the driver, which merges the pieces. Kong's cases are cuts of such arrays:
 * their inputs joined are whole arrays.
 */
export interface JsonArrayCase {
  inputs: string[];
  /** The answer's text: a file holding it, or the files whose `data` entries are its pieces. */
  expected: { text: string } | { pieces: string[] };
}

export const JSON_ARRAY_CASES: JsonArrayCase[] = [
  {
    // The first cut of an array and the last: together one array of six answers.
    inputs: ['unit/streaming-chunk-formats/partial-json-beginning/input.bin', 'unit/streaming-chunk-formats/partial-json-end/input.bin'],
    expected: { pieces: ['unit/streaming-chunk-formats/partial-json-beginning/expected-output.json', 'unit/streaming-chunk-formats/partial-json-end/expected-output.json'] },
  },
];

export function framingFiles(c: FramingCase): { input: string; expected: string } {
  return { input: `${c.dir}/input.bin`, expected: `${c.dir}/expected-output.json` };
}
