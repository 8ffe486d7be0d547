/**
 * `file-log`: one JSON line per request (Kong's serialized entry, the `ai` section, no
 * credentials), appended to `path`. Writes are asynchronous and each line is one `write` on an
 * `O_APPEND` descriptor, so lines from several workers never interleave. Memory is bounded: while
 * the disk lags by more than MAX_BACKLOG bytes, new lines are dropped and counted
 * (`modelgate_log_entries_dropped_total{plugin="file-log"}`). `reopen` opens the file for every
 * line (for external log rotation), as Kong does; otherwise an idle file is closed after a minute.
 */
import fs from 'node:fs';
import type { PluginHandler } from '../types.ts';
import type { FileLogConfig } from './schema.ts';
import { serializeJson } from '../shared/serializer.ts';
import { logger } from '../../observability/logger.ts';
import { metrics } from '../../observability/metrics.ts';

export const MAX_BACKLOG = 16 * 1024 * 1024;
const IDLE_CLOSE_MS = 60_000;
const MODE = 0o644;

interface Sink {
  stream: fs.WriteStream;
  idle: NodeJS.Timeout;
  failed: boolean;
}

/** After a file could not be written, it is not tried again (nor the error logged again) for this long. */
const RETRY_AFTER_FAILURE_MS = 5000;

const sinks = new Map<string, Sink>();
const failedAt = new Map<string, number>();
let pendingReopen = 0;

function dropped(reason: string): void {
  metrics.logEntriesDropped.inc({ plugin: 'file-log', reason });
}

function sinkFor(path: string): Sink | null {
  const sink = sinks.get(path);
  if (sink && !sink.failed) {
    sink.idle.refresh();
    return sink;
  }
  const failed = failedAt.get(path);
  if (failed !== undefined) {
    if (Date.now() - failed < RETRY_AFTER_FAILURE_MS) return null;
    failedAt.delete(path);
  }
  const stream = fs.createWriteStream(path, { flags: 'a', mode: MODE });
  const created: Sink = {
    stream,
    failed: false,
    idle: setTimeout(() => {
      sinks.delete(path);
      stream.end();
    }, IDLE_CLOSE_MS),
  };
  created.idle.unref();
  stream.on('error', (e) => {
    created.failed = true;
    clearTimeout(created.idle);
    if (sinks.get(path) === created) sinks.delete(path);
    failedAt.set(path, Date.now());
    logger().error({ plugin: 'file-log', path, err: e.message }, 'failed to write the log file');
  });
  sinks.set(path, created);
  return created;
}

function write(conf: FileLogConfig, line: string): void {
  if (conf.reopen) {
    if (pendingReopen > MAX_BACKLOG) return dropped('backlog');
    pendingReopen += line.length;
    fs.appendFile(conf.path, line, { mode: MODE }, (e) => {
      pendingReopen -= line.length;
      if (e) {
        dropped('write_error');
        logger().error({ plugin: 'file-log', path: conf.path, err: e.message }, 'failed to open the log file');
      }
    });
    return;
  }
  const sink = sinkFor(conf.path);
  if (!sink) return dropped('write_error');
  if (sink.stream.writableLength > MAX_BACKLOG) return dropped('backlog');
  sink.stream.write(line);
}

export const handler: PluginHandler<FileLogConfig> = {
  log(ctx, conf) {
    write(conf, serializeJson(ctx) + '\n');
  },
};

/** Flushes and closes every open log file (tests, shutdown). */
export async function closeLogFiles(): Promise<void> {
  const all = [...sinks.values()];
  sinks.clear();
  await Promise.all(all.map((s) => new Promise<void>((resolve) => (clearTimeout(s.idle), s.stream.end(resolve)))));
}
