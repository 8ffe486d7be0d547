/** `GET /status` as the primary answers it (src/server/primary.ts, status()). */
export interface WorkerMemory {
  pid: number;
  rss_bytes: number;
  heap_used_bytes: number;
  heap_total_bytes: number;
}

export interface NodeStatus {
  database: { kind: string; reachable: boolean; error?: string; change_feed?: string; source?: string };
  server: { workers: number; workers_ready: number; uptime_seconds: number };
  configuration: { version: number; applied_versions: number[]; stale: boolean };
  memory: { primary_rss_bytes: number; workers: WorkerMemory[] };
  /** Absent on a gateway from before it was reported. */
  redis?: { configured: boolean; workers_connected?: number };
}

/** 93784 → "1 d 2 h 3 min" (seconds under an hour are shown, above they are noise). */
export function uptime(seconds: number): string {
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (d > 0) return `${d} d ${h} h ${m} min`;
  if (h > 0) return `${h} h ${m} min`;
  if (m > 0) return `${m} min ${s} s`;
  return `${s} s`;
}

/** 4200 → "4 s ago"; the age the server measured (the database's clock for peers). */
export function ago(ms: number | null): string {
  if (ms === null) return 'not yet';
  if (ms < 1000) return 'just now';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}
