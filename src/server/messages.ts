/**
 * Messages between the primary (control plane) and proxy workers over the cluster IPC channel.
 * The primary sends whole snapshots: a worker never needs anything else to serve traffic, so a
 * worker started at any time is ready as soon as it has one.
 */
import type { SnapshotData } from '../snapshot/types.ts';
import type { CacheRequest, StateReply, StateRequest } from '../state/ipc.ts';
import type { SpendBatchMessage } from '../spend/queue.ts';
import type { SpendCostReply, SpendCostRequest } from '../spend/cost-query.ts';

export type ToWorker =
  | { t: 'snapshot'; data: SnapshotData }
  | { t: 'drain'; timeoutMs: number }
  | StateReply
  | SpendCostReply;

export type FromWorker =
  | { t: 'listening'; address: string }
  | { t: 'listen-error'; address: string; code: string; message: string }
  | { t: 'applied'; version: number }
  | { t: 'snapshot-error'; version: number; message: string }
  /** The worker's periodic report; `redis`: its Redis connection is ready (absent: no Redis configured). */
  | { t: 'memory'; rss: number; heapUsed: number; heapTotal: number; redis?: boolean }
  | StateRequest
  | CacheRequest
  /** Spend rows of the worker's last ~250 ms (src/spend/queue.ts), and how many it dropped. */
  | SpendBatchMessage
  /** A budget refilling its counter after a restart asks what a consumer spent (src/spend/cost-query.ts). */
  | SpendCostRequest;
