/**
 * Server-sent events as a client reads them: each event's `event:` name (null without one) and its
 * data lines joined, parsed as JSON when they are (`[DONE]` and the like stay text).
 */
export interface SseEvent {
  event: string | null;
  // the tests read whatever each API puts in its events
  data: any;
}

export function parseSse(text: string): SseEvent[] {
  return text
    .split(/\n\n+/)
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? null;
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trimStart())
        .join('\n');
      let parsed: unknown = data;
      try {
        parsed = JSON.parse(data);
      } catch {
        // not JSON: kept as text
      }
      return { event, data: parsed };
    });
}
