import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The route answers with a long-lived stream (Server-Sent Events): the server's idle timeout
     * does not apply to its connection, and the stream is ended when the worker stops.
     */
    stream?: boolean;
  }
}

/**
 * Exempts routes marked `config: { stream: true }` from the server's timeouts. Fastify's
 * `connectionTimeout` is the socket's idle timeout (node's `server.timeout`): a stream quiet for
 * that long would be cut, so its socket gets none. (`requestTimeout` bounds receiving the request
 * only, which a stream's GET has done.) As the worker closes, the open streams are ended first:
 * the HTTP server waits for every connection, and a stream never ends by itself.
 */
export function exemptStreams(app: FastifyInstance): void {
  const open = new Set<ServerResponse>();
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config.stream !== true) return;
    // inject() has a stand-in socket without timeouts.
    if (typeof request.raw.socket?.setTimeout === 'function') request.raw.socket.setTimeout(0);
    const response = reply.raw;
    open.add(response);
    response.once('close', () => open.delete(response));
  });
  // Ended as a response (its last chunk sent): the client sees a stream that finished, and the
  // connection, idle from then on, is closed by the server's own close.
  app.addHook('preClose', async () => {
    for (const response of open) response.end();
    open.clear();
  });
}
