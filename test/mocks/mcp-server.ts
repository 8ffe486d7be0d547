/**
 * An upstream MCP server for tests: the official SDK's McpServer behind its Streamable HTTP server
 * transport (one transport per session, as the SDK's examples run it), on a loopback port, in the
 * test process. It records every HTTP request it gets (method, headers, JSON-RPC methods) so tests
 * can see what the gateway sent, and counts its open sessions and connections so tests can check
 * that nothing is left open.
 *
 * Tools: `echo` {text}, `add` {a, b}, `fail` (a tool error), `slow` {steps} (progress notifications
 * when the client asks for them), `wait` (answers only when cancelled), `hang` (never answers),
 * `crash` (the server drops the connection mid-stream), `notify` (a logging message, then
 * tools/list_changed on the session's own stream). Enough tools (`t00`..`t11`) for tools/list to
 * page when `pageSize` is set. A resource `note://one` and a prompt `greet`.
 *
 * `transport: 'sse'`: the same server behind the SDK's SSEServerTransport instead (MCP's
 * 2024-11-05 HTTP+SSE transport: GET /sse opens a session's stream, whose `endpoint` event names
 * /messages?sessionId=…, where the client POSTs). A session ends when its stream closes
 * (`deleted` lists those), and `crash` drops the session's stream.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { ListToolsRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';

export interface SeenRequest {
  method: string;
  headers: http.IncomingHttpHeaders;
  rpcMethods: string[];
  toolName?: string;
}

export interface McpUpstream {
  url: string;
  seen: SeenRequest[];
  /** Sessions the SDK transport holds open. */
  openSessions(): number;
  /** Sessions ended by a client DELETE (legacy transport: by the client closing the stream). */
  deleted: string[];
  /** Cancellations the tool handlers saw (their AbortSignal fired). */
  cancelled: string[];
  /** Connections open to this server now. */
  connections(): number;
  sendToolListChanged(): void;
  close(): Promise<void>;
}

export async function startMcpUpstream(opts: { pageSize?: number; transport?: 'streamable-http' | 'sse' } = {}): Promise<McpUpstream> {
  const transports = new Map<string, StreamableHTTPServerTransport | SSEServerTransport>();
  /** Legacy transport: each session's stream (the crash tool drops it). */
  const streams = new Map<string, http.ServerResponse>();
  const servers = new Map<string, McpServer>();
  const seen: SeenRequest[] = [];
  const deleted: string[] = [];
  const cancelled: string[] = [];
  const sockets = new Set<Socket>();
  let crashRes: http.ServerResponse | null = null;

  function makeServer(): McpServer {
    const server = new McpServer({ name: 'test-upstream', version: '1.0.0' }, { capabilities: { logging: {}, tools: { listChanged: true } } });
    server.registerTool('echo', { description: 'Echoes text', inputSchema: { text: z.string() } }, async ({ text }) => ({ content: [{ type: 'text', text }] }));
    server.registerTool('add', { description: 'Adds two numbers', inputSchema: { a: z.number(), b: z.number() } }, async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }));
    server.registerTool('fail', { description: 'Always fails' }, async () => ({ isError: true, content: [{ type: 'text', text: 'it failed on purpose' }] }));
    server.registerTool('slow', { description: 'Reports progress', inputSchema: { steps: z.number() } }, async ({ steps }, extra) => {
      const token = extra._meta?.progressToken;
      for (let i = 1; i <= steps; i++) {
        if (token !== undefined) await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: i, total: steps, message: `step ${i}` } });
      }
      return { content: [{ type: 'text', text: `done after ${steps}` }] };
    });
    server.registerTool('wait', { description: 'Answers when cancelled' }, (extra) =>
      new Promise<CallToolResult>((resolve) => {
        extra.signal.addEventListener('abort', () => {
          cancelled.push(String(extra.requestId));
          resolve({ content: [{ type: 'text', text: 'cancelled' }] });
        });
      }),
    );
    server.registerTool('hang', { description: 'Never answers' }, (extra) => new Promise<CallToolResult>((resolve) => extra.signal.addEventListener('abort', () => resolve({ content: [] }))));
    server.registerTool('crash', { description: 'Drops the connection' }, () => {
      crashRes?.socket?.destroy();
      return new Promise<CallToolResult>(() => {});
    });
    server.registerTool('notify', { description: 'Sends a log message, then tools/list_changed' }, async (extra) => {
      await extra.sendNotification({ method: 'notifications/message', params: { level: 'info', logger: 'test', data: 'hello from the server' } });
      server.sendToolListChanged();
      return { content: [{ type: 'text', text: 'notified' }] };
    });
    for (let i = 0; i < 12; i++) server.registerTool(`t${String(i).padStart(2, '0')}`, { description: `filler ${i}` }, async () => ({ content: [] }));
    server.registerResource('one', 'note://one', { description: 'A note', mimeType: 'text/plain' }, async (uri) => ({ contents: [{ uri: uri.href, text: 'the note text' }] }));
    server.registerPrompt('greet', { description: 'Greets', argsSchema: { name: z.string() } }, ({ name }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `Hello, ${name}!` } }] }));
    if (opts.pageSize) {
      // the SDK's McpServer answers tools/list in one page: a paging handler over the same tools, to test cursors
      const inner = server.server;
      const all = () => (inner as unknown as { _requestHandlers: Map<string, (r: unknown, e: unknown) => Promise<{ tools: unknown[] }>> })._requestHandlers.get('tools/list')!;
      const original = all();
      inner.setRequestHandler(ListToolsRequestSchema, async (req, extra) => {
        const { tools } = await original(req, extra);
        const start = req.params?.cursor ? Number(req.params.cursor) : 0;
        const end = start + opts.pageSize!;
        return end < tools.length ? { tools: tools.slice(start, end) as never, nextCursor: String(end) } : { tools: tools.slice(start) as never };
      });
    }
    return server;
  }

  const httpServer = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown = undefined;
    const rec: SeenRequest = { method: req.method ?? '', headers: req.headers, rpcMethods: [] };
    if (text) {
      body = JSON.parse(text);
      for (const m of Array.isArray(body) ? body : [body]) {
        rec.rpcMethods.push(m.method ?? 'response');
        if (m.method === 'tools/call') rec.toolName = m.params?.name;
      }
    }
    seen.push(rec);
    if (opts.transport === 'sse') return legacy(req, res, rec, body);
    if (rec.toolName === 'crash') crashRes = res;
    const sid = req.headers['mcp-session-id'] as string | undefined;
    let transport = sid ? transports.get(sid) : undefined;
    if (!transport) {
      if (sid || !rec.rpcMethods.includes('initialize')) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } }));
        return;
      }
      const server = makeServer();
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          transports.set(id, transport!);
          servers.set(id, server);
        },
        onsessionclosed: (id) => {
          deleted.push(id);
        },
      });
      transport.onclose = () => {
        if (transport!.sessionId) {
          transports.delete(transport!.sessionId);
          servers.delete(transport!.sessionId);
        }
      };
      await server.connect(transport);
    }
    await (transport as StreamableHTTPServerTransport).handleRequest(req, res, body);
  });

  /** The 2024-11-05 transport, as the SDK's examples serve it: GET opens a session, POSTs name it in the query. */
  async function legacy(req: http.IncomingMessage, res: http.ServerResponse, rec: SeenRequest, body: unknown): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET' && url.pathname === '/sse') {
      const transport = new SSEServerTransport('/messages', res);
      const server = makeServer();
      const id = transport.sessionId;
      transports.set(id, transport);
      servers.set(id, server);
      streams.set(id, res);
      transport.onclose = () => {
        if (!transports.delete(id)) return;
        servers.delete(id);
        streams.delete(id);
        deleted.push(id);
      };
      await server.connect(transport);
      return;
    }
    const id = url.searchParams.get('sessionId') ?? '';
    const transport = transports.get(id);
    if (req.method !== 'POST' || url.pathname !== '/messages' || !(transport instanceof SSEServerTransport)) {
      res.writeHead(404).end('Session not found');
      return;
    }
    if (rec.toolName === 'crash') crashRes = streams.get(id) ?? null;
    await transport.handlePostMessage(req, res, body);
  }
  httpServer.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r));
  const port = (httpServer.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/${opts.transport === 'sse' ? 'sse' : 'mcp'}`,
    seen,
    deleted,
    cancelled,
    openSessions: () => transports.size,
    connections: () => sockets.size,
    sendToolListChanged: () => {
      for (const s of servers.values()) s.sendToolListChanged();
    },
    close: async () => {
      for (const t of transports.values()) await t.close();
      httpServer.closeAllConnections();
      await new Promise<void>((r) => httpServer.close(() => r()));
    },
  };
}
