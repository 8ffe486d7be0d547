/**
 * Fixture files no conformance test uses, each with its reason. README.md beside this file lists
 * the same paths (fixture-coverage.test.ts checks both ways), together with the places where a
 * used fixture's expected value deliberately differs from ours (cases-unit.ts `request`/`response`).
 */
const NOT_OUR_PROVIDERS = 'Gemini and Bedrock are not among the six providers of the guide (they arrive with the routing work)';
const NOT_OUR_FRAMING = 'Gemini (JSON array) and AWS event-stream framing: none of our six providers streams that way';

export const UNUSED_FIXTURES: Readonly<Record<string, string>> = {
  'json-schema.json': "Kong's JSON schema of request bodies: documentation, not translation data (validate.ts implements and tests the rules)",
  'oas.yaml': "Kong's OpenAPI description of the plugin's routes: documentation, not translation data",
  'openai/llm-v1-embeddings/responses/good.json': 'llm/v1/embeddings is not a route type of ai-proxy here (nor in Kong 3.9)',
  'gemini/llm-v1-chat/responses/fails_safety.json': NOT_OUR_PROVIDERS,
  'gemini/llm-v1-chat/responses/good.json': NOT_OUR_PROVIDERS,
  'gemini/request-transformer/response-in-json.json': NOT_OUR_PROVIDERS,
  'bedrock/chunks/chunk-1.txt': NOT_OUR_PROVIDERS,
  'bedrock/chunks/chunk-2.txt': NOT_OUR_PROVIDERS,
  'bedrock/chunks/chunk-3.txt': NOT_OUR_PROVIDERS,
  'native/gemini/request/basic-chat.json': NOT_OUR_PROVIDERS,
  'native/gemini/request/basic-multimodal.json': NOT_OUR_PROVIDERS,
  'native/gemini/request/with-functions.json': NOT_OUR_PROVIDERS,
  'native/gemini/request/with-functions-and-chatter.json': NOT_OUR_PROVIDERS,
  'native/bedrock/request/with-functions-and-chatter.json': NOT_OUR_PROVIDERS,
  'unit/expected-requests/bedrock/llm-v1-chat.json': NOT_OUR_PROVIDERS,
  'unit/expected-requests/gemini/llm-v1-chat.json': NOT_OUR_PROVIDERS,
  'unit/real-responses/bedrock/llm-v1-chat.json': NOT_OUR_PROVIDERS,
  'unit/real-responses/gemini/llm-v1-chat.json': NOT_OUR_PROVIDERS,
  'unit/expected-responses/bedrock/llm-v1-chat.json': NOT_OUR_PROVIDERS,
  'unit/expected-responses/gemini/llm-v1-chat.json': NOT_OUR_PROVIDERS,
  'unit/streaming-chunk-formats/aws/input.bin': NOT_OUR_FRAMING,
  'unit/streaming-chunk-formats/aws/expected-output.json': NOT_OUR_FRAMING,
  'unit/streaming-chunk-formats/partial-json-beginning/input.bin': NOT_OUR_FRAMING,
  'unit/streaming-chunk-formats/partial-json-beginning/expected-output.json': NOT_OUR_FRAMING,
  'unit/streaming-chunk-formats/partial-json-end/input.bin': NOT_OUR_FRAMING,
  'unit/streaming-chunk-formats/partial-json-end/expected-output.json': NOT_OUR_FRAMING,
  'unit/streaming-chunk-formats/partial-json-split/input-1.bin': NOT_OUR_FRAMING,
  'unit/streaming-chunk-formats/partial-json-split/input-2.bin': NOT_OUR_FRAMING,
  'unit/streaming-chunk-formats/partial-json-split/expected-output.bin': NOT_OUR_FRAMING,
  'unit/streaming-chunk-formats/partial-json-split-three-parts/input-1.bin': NOT_OUR_FRAMING,
  'unit/streaming-chunk-formats/partial-json-split-three-parts/input-2.bin': NOT_OUR_FRAMING,
  'unit/streaming-chunk-formats/partial-json-split-three-parts/input-3.bin': NOT_OUR_FRAMING,
  'unit/streaming-chunk-formats/partial-json-split-three-parts/expected-output.bin': NOT_OUR_FRAMING,
};
