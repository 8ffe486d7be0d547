/** Stream decoding for the plugin: bytes from the provider in, framed events out. */
export { createFrameDecoder, DEFAULT_MAX_EVENT_SIZE, type FrameDecoder, type DecoderOptions } from './decoder.ts';
export { EventStreamMessageDecoder, encodeEventStreamMessage, type EventStreamMessage } from './aws-eventstream.ts';
