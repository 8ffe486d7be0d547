/** The data a snapshot is built from: every entity of one configuration version. */
import type { ConfigData } from '../store/types.ts';

export interface SnapshotData extends ConfigData {
  version: number;
}
