/** The Portkey version the benchmark's peer figures are taken with (bench/run.ts, bench/peer-install.ts). */
export const DEFAULT_PEER_VERSION = '1.15.2';
