import net from 'node:net';

/** A TCP proxy a test can cut, as a network partition would: bytes stop flowing both ways, nothing is closed. */
export interface TcpProxy {
  /** The port it listens on (127.0.0.1). */
  port: number;
  /** `url` with its host and port replaced by the proxy's. */
  urlThrough(url: string): string;
  /** Stops forwarding: every connection, open or new, hangs (its peer sees no answer and no close). */
  cut(): void;
  /** Forwards again, the bytes held meanwhile included. */
  heal(): void;
  readonly isCut: boolean;
  /** Connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

/** Copies `from` to `to`; a chunk read while cut is held until healed (and `from` paused meanwhile). */
function forward(from: net.Socket, to: net.Socket): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.destroyed) to.write(chunk);
  });
}

/**
 * Forwards 127.0.0.1:<port> to `target`. While cut, both directions are paused (the kernel's
 * buffers fill, then writers wait), and new connections are accepted but not connected onward:
 * a client's queries hang rather than fail, the way a partition looks from either side.
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let cut = false;
  let accepted = 0;
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket | null; connect(): void }>();
  const server = net.createServer((client) => {
    accepted++;
    client.pause();
    const pair = {
      client,
      upstream: null as net.Socket | null,
      connect() {
        if (pair.upstream) return;
        const upstream = net.connect(target.port, target.host);
        pair.upstream = upstream;
        // By hand rather than pipe(): a pipe resumes a paused source when its destination drains.
        forward(client, upstream);
        forward(upstream, client);
        if (!cut) client.resume();
        const end = () => {
          client.destroy();
          upstream.destroy();
          pairs.delete(pair);
        };
        client.on('error', end).on('close', end);
        upstream.on('error', end).on('close', end);
      },
    };
    pairs.add(pair);
    if (!cut) pair.connect();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    urlThrough(url: string) {
      const parsed = new URL(url);
      parsed.hostname = '127.0.0.1';
      parsed.port = String(port);
      return parsed.toString();
    },
    cut() {
      cut = true;
      for (const pair of pairs) {
        pair.client.pause();
        pair.upstream?.pause();
      }
    },
    heal() {
      cut = false;
      for (const pair of pairs) {
        if (!pair.upstream) pair.connect();
        pair.client.resume();
        pair.upstream?.resume();
      }
    },
    get isCut() {
      return cut;
    },
    get connections() {
      return accepted;
    },
    async close() {
      for (const pair of pairs) {
        pair.client.destroy();
        pair.upstream?.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
