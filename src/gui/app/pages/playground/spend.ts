/**
 * The gateway's own figures for one answer: its spend row, found by the request id the proxy
 * answered with (`X-Modelgate-Request-Id`) through `GET /usage/requests?request_id=`. Rows are
 * written off the hot path (a worker batches them every ~250 ms, the primary writes them:
 * src/spend/queue.ts, writer.ts), so the row is asked for a few times, waiting longer each time.
 */
import { api } from '../../lib/api.ts';
import type { SpendRow } from '../../../../spend/types.ts';

/** The spend row as the Usage API answers it (src/spend/types.ts). */
export type { SpendRow };

/** Waits before each try, ms: about 6 s in all. */
const BACKOFF = [150, 300, 600, 1200, 1800, 2400];

/** The row, or null when it did not come (the spend log is off, or slower than the backoff). */
export async function spendRowOf(requestId: string, signal: AbortSignal): Promise<SpendRow | null> {
  for (const wait of BACKOFF) {
    await new Promise<void>((resolve) => setTimeout(resolve, wait));
    if (signal.aborted) return null;
    const page = await api<{ data: SpendRow[] }>(`/usage/requests?${new URLSearchParams({ request_id: requestId, limit: '1' })}`, { signal });
    if (page.data.length) return page.data[0];
  }
  return null;
}
