// An MCP server over stdio wrapped with Sentry JS's own MCP instrumentation (@sentry/core 11.17
// `wrapMcpServerWithSentry`), for tests/test_sentry_js_interop.py.
//
// @sentry/node is not on the registry in 11.17, so the client is @sentry/core's own ServerRuntimeClient with a
// transport that POSTs envelopes to SENTRY_JS_DSN (the tests' Python receiver on 127.0.0.1), plus the
// AsyncLocalStorage async-context strategy @sentry/node would install (the active span must survive the
// `await`s of a tool handler, or a request the tool sends would not carry its trace).
//
// Tools: `echo` returns its text; `ask` sends a `sampling/createMessage` request to the client (which the
// wrapper injects `sentry-trace` + `baggage` into) and returns the sampled text.
import { AsyncLocalStorage } from 'node:async_hooks';

import {
  createTransport,
  flush,
  getDefaultCurrentScope,
  getDefaultIsolationScope,
  setAsyncContextStrategy,
  setCurrentClient,
} from '@sentry/core';
import { ServerRuntimeClient, wrapMcpServerWithSentry } from '@sentry/core/server';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const storage = new AsyncLocalStorage();
function scopes() {
  return storage.getStore() || { scope: getDefaultCurrentScope(), isolationScope: getDefaultIsolationScope() };
}
setAsyncContextStrategy({
  withScope: (callback) => {
    const { scope, isolationScope } = scopes();
    const forked = scope.clone();
    return storage.run({ scope: forked, isolationScope }, () => callback(forked));
  },
  withSetScope: (scope, callback) => storage.run({ scope, isolationScope: scopes().isolationScope }, () => callback(scope)),
  withIsolationScope: (callback) => {
    const { scope, isolationScope } = scopes();
    const forked = isolationScope.clone();
    return storage.run({ scope: scope.clone(), isolationScope: forked }, () => callback(forked));
  },
  withSetIsolationScope: (isolationScope, callback) =>
    storage.run({ scope: scopes().scope.clone(), isolationScope }, () => callback(isolationScope)),
  getCurrentScope: () => scopes().scope,
  getIsolationScope: () => scopes().isolationScope,
});

const client = new ServerRuntimeClient({
  dsn: process.env.SENTRY_JS_DSN,
  release: 'js-server@1.0.0',
  environment: 'interop',
  tracesSampleRate: 1.0,
  sendDefaultPii: true,
  integrations: [],
  stackParser: () => [],
  platform: 'node',
  runtime: { name: 'node', version: process.version },
  propagateTraceparent: process.env.SENTRY_JS_TRACEPARENT === '1',
  transport: (options) =>
    createTransport(options, async (request) => {
      const response = await fetch(options.url, { method: 'POST', body: request.body });
      return { statusCode: response.status };
    }),
});
setCurrentClient(client);
client.init();

const server = wrapMcpServerWithSentry(new McpServer({ name: 'sentry-js-server', version: '1.0.0' }));
server.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({
  content: [{ type: 'text', text }],
}));
server.registerTool('ask', { inputSchema: { text: z.string() } }, async ({ text }) => {
  const sampled = await server.server.createMessage({
    messages: [{ role: 'user', content: { type: 'text', text } }],
    maxTokens: 10,
  });
  return { content: [{ type: 'text', text: sampled.content.text }] };
});

const transport = new StdioServerTransport();
transport.onclose = () => {
  flush(5000).then(() => process.exit(0));
};
process.stdin.on('end', () => {
  flush(5000).then(() => process.exit(0));
});
await server.connect(transport);
