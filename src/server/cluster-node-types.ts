/**
 * What `GET /cluster/nodes` answers (src/server/cluster-nodes.ts, docs/cluster.md). Types only, so
 * that the Admin GUI's Cluster page reads the same definition (its type imports are erased).
 */

/** One entry of `GET /cluster/nodes` (docs/cluster.md). */
export interface ClusterNode {
  id: string;
  /** this node, the one answering */
  self: boolean;
  state: 'running' | 'unreachable';
  hostname: string;
  version: string;
  pid: number;
  started_at: string;
  /** the last heartbeat the database took (ISO 8601), null before the first */
  last_seen: string | null;
  /** how long ago, by the database's clock (this node: its own) */
  last_seen_age_ms: number | null;
  heartbeat_ms: number | null;
  configuration_version: number;
  workers: number;
  workers_ready: number;
  memory: { primary_rss_bytes: number; workers_rss_bytes: number };
  redis: { configured: boolean; workers_connected?: number };
}

export interface ClusterNodesAnswer {
  data: ClusterNode[];
  next: null;
  /** the newest configuration version: the database's in PostgreSQL mode, this node's otherwise */
  configuration_version: number;
  /** where peers come from: none (SQLite, DB-less: this node only) or the PostgreSQL registry */
  registry: { kind: 'none' } | { kind: 'postgres'; heartbeat_ms: number; reachable: boolean; error?: string };
}
