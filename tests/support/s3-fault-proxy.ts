import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';

/**
 * A small HTTP proxy in front of a real S3-compatible server (MinIO in tests/integration), for the
 * failures a healthy local server never produces: 503 SlowDown and connection resets. It is a test
 * tool, not a fake S3: every request it does not fail is forwarded unchanged to the real server, which
 * does all the S3 work. Headers go through as they are, including `Host`, so SigV4 signatures made
 * for the proxy's address still verify upstream.
 *
 * It also records each request's method and URL, so a test can count list pages or delete batches.
 */
export type Fault =
  /** Answer 503 SlowDown without forwarding: nothing reached the server. */
  | 'slow-down'
  /** Reset the client's connection without forwarding: nothing reached the server. */
  | 'reset'
  /** Forward, let the server apply the request, then reset instead of answering: the client cannot know it landed. */
  | 'reset-after'
  /** Read the request and never answer, keeping the connection open (a hung server or load balancer). */
  | 'stall';

export interface SeenRequest {
  method: string;
  url: string;
  /** The fault injected into it, if any. */
  fault?: Fault;
}

interface Rule {
  fault: Fault;
  remaining: number;
  match: (method: string, url: string) => boolean;
}

const SLOW_DOWN_BODY =
  '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>fault-proxy</RequestId></Error>';

export class S3FaultProxy {
  readonly requests: SeenRequest[] = [];
  private readonly rules: Rule[] = [];
  private readonly server: http.Server;
  private readonly upstream: URL;

  private constructor(upstream: string) {
    this.upstream = new URL(upstream);
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  /** Starts a proxy on 127.0.0.1 (a free port) forwarding to `upstream`, e.g. http://127.0.0.1:9000. */
  static async start(upstream: string): Promise<S3FaultProxy> {
    const proxy = new S3FaultProxy(upstream);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  /** `http://127.0.0.1:<port>`: the endpoint to give the S3 client. */
  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Fails the next `times` requests that `match` (default: any) with `fault`; later rules queue behind earlier ones. */
  failNext(times: number, fault: Fault, match: (method: string, url: string) => boolean = () => true): this {
    this.rules.push({ fault, remaining: times, match });
    return this;
  }

  /** Forgets recorded requests and pending faults. */
  reset(): void {
    this.requests.length = 0;
    this.rules.length = 0;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private takeFault(method: string, url: string): Fault | undefined {
    const rule = this.rules.find((r) => r.remaining > 0 && r.match(method, url));
    if (!rule) return undefined;
    rule.remaining--;
    return rule.fault;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const fault = this.takeFault(method, url);
    this.requests.push({ method, url, ...(fault ? { fault } : {}) });

    if (fault === 'reset') {
      req.socket.resetAndDestroy();
      return;
    }
    if (fault === 'stall') {
      req.resume();
      return;
    }
    if (fault === 'slow-down') {
      // Read the body first, as a server would, so the client is not cut off mid-upload.
      req.resume();
      req.on('end', () => {
        res.writeHead(503, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(SLOW_DOWN_BODY), Connection: 'close' });
        res.end(SLOW_DOWN_BODY);
      });
      return;
    }

    const client = this.upstream.protocol === 'https:' ? https : http;
    const upstreamReq = client.request(
      {
        protocol: this.upstream.protocol,
        hostname: this.upstream.hostname,
        port: this.upstream.port,
        method,
        path: url,
        headers: req.headers,
      },
      (upstreamRes) => {
        if (fault === 'reset-after') {
          // The server has applied the request once its response starts; the client never hears of it.
          upstreamRes.resume();
          upstreamRes.on('end', () => req.socket.resetAndDestroy());
          return;
        }
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        upstreamRes.pipe(res);
      },
    );
    upstreamReq.on('error', (e) => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end(`fault proxy: upstream ${this.upstream.origin} failed: ${e.message}`);
    });
    req.pipe(upstreamReq);
  }
}
