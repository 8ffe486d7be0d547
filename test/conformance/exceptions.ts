/**
 * Fixture files no conformance test uses, each with its reason. README.md beside this file lists
 * the same paths (fixture-coverage.test.ts checks both ways), together with the places where a
 * used fixture's expected value deliberately differs from ours (cases-unit.ts `request`/`response`).
 */
const NATIVE_FORMAT = "Kong 3.10's native-format routes (a client sending Gemini's or Bedrock's own body): modelgate's clients speak OpenAI's API only";
const JSON_ARRAY_FRAMING = "Gemini's JSON-array stream framing: modelgate asks Gemini for SSE (`:streamGenerateContent?alt=sse`), so no provider streams that way";

export const UNUSED_FIXTURES: Readonly<Record<string, string>> = {
  'json-schema.json': "Kong's JSON schema of request bodies: documentation, not translation data (validate.ts implements and tests the rules)",
  'oas.yaml': "Kong's OpenAPI description of the plugin's routes: documentation, not translation data",
  'native/gemini/request/basic-chat.json': NATIVE_FORMAT,
  'native/gemini/request/basic-multimodal.json': NATIVE_FORMAT,
  'native/gemini/request/with-functions.json': NATIVE_FORMAT,
  'native/gemini/request/with-functions-and-chatter.json': NATIVE_FORMAT,
  'native/bedrock/request/with-functions-and-chatter.json': NATIVE_FORMAT,
  'unit/streaming-chunk-formats/partial-json-beginning/input.bin': JSON_ARRAY_FRAMING,
  'unit/streaming-chunk-formats/partial-json-beginning/expected-output.json': JSON_ARRAY_FRAMING,
  'unit/streaming-chunk-formats/partial-json-end/input.bin': JSON_ARRAY_FRAMING,
  'unit/streaming-chunk-formats/partial-json-end/expected-output.json': JSON_ARRAY_FRAMING,
  'unit/streaming-chunk-formats/partial-json-split/input-1.bin': JSON_ARRAY_FRAMING,
  'unit/streaming-chunk-formats/partial-json-split/input-2.bin': JSON_ARRAY_FRAMING,
  'unit/streaming-chunk-formats/partial-json-split/expected-output.bin': JSON_ARRAY_FRAMING,
  'unit/streaming-chunk-formats/partial-json-split-three-parts/input-1.bin': JSON_ARRAY_FRAMING,
  'unit/streaming-chunk-formats/partial-json-split-three-parts/input-2.bin': JSON_ARRAY_FRAMING,
  'unit/streaming-chunk-formats/partial-json-split-three-parts/input-3.bin': JSON_ARRAY_FRAMING,
  'unit/streaming-chunk-formats/partial-json-split-three-parts/expected-output.bin': JSON_ARRAY_FRAMING,
};
