/**
 * Runs one mock provider in the foreground (for the benchmark and manual use) and prints its URL.
 *
 *   node test/mocks/serve.ts <provider> [--port N] [--key K] [--mode M] [--text T] [--chunks N] [--delay-ms N]
 *
 * `--key none` turns authentication off. Stops on SIGINT / SIGTERM.
 */
import { parseArgs } from 'node:util';
import { PROVIDER_NAMES, startMockProvider } from './providers.ts';
import type { MockOptions, MockProviderName } from './providers.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    port: { type: 'string' },
    key: { type: 'string' },
    mode: { type: 'string' },
    text: { type: 'string' },
    chunks: { type: 'string' },
    'delay-ms': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});

const name = positionals[0] as MockProviderName | undefined;
if (values.help || !name || !PROVIDER_NAMES.includes(name)) {
  console.error(`usage: serve.ts <${PROVIDER_NAMES.join('|')}> [--port N] [--key K|none] [--mode M] [--text T] [--chunks N] [--delay-ms N]`);
  process.exit(values.help ? 0 : 2);
}

const options: MockOptions = { port: values.port ? Number(values.port) : 0 };
if (values.key !== undefined) options.key = values.key === 'none' ? null : values.key;
if (values.mode) options.mode = values.mode;
if (values.text) options.text = values.text;
if (values.chunks) options.chunks = Number(values.chunks);
if (values['delay-ms']) options.delayMs = Number(values['delay-ms']);

const mock = await startMockProvider(name, options);
console.log(mock.url);

const stop = (): void => {
  void mock.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
