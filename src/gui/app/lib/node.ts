/**
 * What the GUI needs to know about the node it talks to, read once from the Admin API's `/`:
 * its version, and whether it has a database (DB-less nodes show the configuration read-only).
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from './api.ts';

export interface NodeInfo {
  version: string;
  hostname: string;
  node_id: string;
  configuration: Record<string, unknown> & { database?: string };
  plugins: { available_on_server: Record<string, unknown>; enabled_in_cluster: string[] };
}

let cached: Promise<NodeInfo> | null = null;

export function nodeInfo(): Promise<NodeInfo> {
  cached ??= api<NodeInfo>('/').catch((e) => {
    cached = null;
    throw e;
  });
  return cached;
}

/** Forget what was read (after a token is entered). */
export function resetNodeInfo(): void {
  cached = null;
}

export function useNodeInfo(): NodeInfo | null {
  const [info, setInfo] = useState<NodeInfo | null>(null);
  useEffect(() => {
    nodeInfo().then(setInfo, () => {});
  }, []);
  return info;
}

/** DB-less (declarative) mode: the Admin API refuses writes except `/config`. */
export function isDbless(info: NodeInfo | null): boolean {
  return info?.configuration.database === 'off';
}
