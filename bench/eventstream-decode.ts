/**
 * Micro-benchmark of the AWS event-stream frame decoder (src/llm/stream/aws-eventstream.ts), the
 * framing of Bedrock's ConverseStream: ns per message to decode a typical stream — messageStart,
 * `--deltas` contentBlockDelta messages, messageStop, each with Bedrock's three string headers and
 * its `p` padding field — pushed one message at a time, as each arrives in its own network read.
 * With `--against DIR` (another checkout or git worktree of modelgate) the same stream goes
 * through that tree's decoder too, the two interleaved in one process, and each round's ratio is
 * printed: how the decoder changes were measured (docs/performance.md, "Streams"). A report, not
 * a test.
 *
 *   node bench/eventstream-decode.ts [--deltas 60] [--rounds 15] [--against /tmp/old-tree]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as current from '../src/llm/stream/index.ts';
import { median } from './method.ts';

const { values: args } = parseArgs({
  options: {
    deltas: { type: 'string', default: '60' },
    rounds: { type: 'string', default: '15' },
    streams: { type: 'string', default: '3000' },
    against: { type: 'string' },
  },
});
const ROUNDS = Number(args.rounds);
const STREAMS = Number(args.streams);

type StreamModule = Pick<typeof current, 'createFrameDecoder'>;
const other: StreamModule | null = args.against ? ((await import(path.resolve(args.against, 'src/llm/stream/index.ts'))) as StreamModule) : null;

const HEADERS = (type: string) => ({ ':event-type': type, ':content-type': 'application/json', ':message-type': 'event' });
const PAD = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const messages: Buffer[] = [Buffer.from(current.encodeEventStreamMessage(HEADERS('messageStart'), JSON.stringify({ role: 'assistant', p: PAD })))];
for (let i = 0; i < Number(args.deltas); i++) {
  messages.push(Buffer.from(current.encodeEventStreamMessage(HEADERS('contentBlockDelta'), JSON.stringify({ contentBlockIndex: 0, delta: { text: `word${i} ` }, p: PAD.slice(0, 12 + (i % 40)) }))));
}
messages.push(Buffer.from(current.encodeEventStreamMessage(HEADERS('messageStop'), JSON.stringify({ stopReason: 'end_turn', p: PAD.slice(0, 20) }))));

/** ns per message over `streams` whole streams. */
function run(mod: StreamModule, streams: number): number {
  let events = 0;
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < streams; k++) {
    const decoder = mod.createFrameDecoder('aws-eventstream', { maxEventSize: 1 << 20 });
    for (const m of messages) events += decoder.push(m).length;
    decoder.end();
  }
  const ns = Number(process.hrtime.bigint() - t0);
  if (events !== streams * messages.length) throw new Error(`decoded ${events} events, expected ${streams * messages.length}`);
  return ns / (streams * messages.length);
}

for (let i = 0; i < 3; i++) {
  run(current, STREAMS / 2);
  if (other) run(other, STREAMS / 2);
}
const mine: number[] = [];
const theirs: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  // the order turns each round, so neither tree always runs warm after the other
  if (other && r % 2) theirs.push(run(other, STREAMS));
  mine.push(run(current, STREAMS));
  if (other && !(r % 2)) theirs.push(run(other, STREAMS));
}
console.log(`this tree: ${median(mine).toFixed(0)} ns a message (${messages.length} messages a stream, median of ${ROUNDS} rounds)`);
if (other) {
  console.log(`${args.against}: ${median(theirs).toFixed(0)} ns a message`);
  console.log(`this ÷ that, per round: ${mine.map((v, i) => (v / theirs[i]).toFixed(2)).join(' ')}`);
}
