/**
 * The production session setup: express-session over Redis (connect-redis
 * + the `redis` client), so several app instances behind a load balancer
 * share sessions. `SESSION_STORE=redis://127.0.0.1:6379` switches the demo
 * to it.
 *
 * Two settings matter more than they look:
 * - `disableOfflineQueue`: while Redis is unreachable, the client otherwise
 *   queues every command until it reconnects, so every request hangs. With
 *   it, commands fail at once and the request gets a 503.
 * - an 'error' listener: without one, a lost connection is an unhandled
 *   'error' event and the process crashes.
 */
import { RedisStore } from 'connect-redis';
import createDebug from 'debug';
import { createClient } from 'redis';

const debug = createDebug('example-app:session-store');

/** A session store that could not do its job: answer 503, the request may be retried. */
export class SessionStoreUnavailable extends Error {
  readonly status = 503;
  readonly code = 'session_store_unavailable';
  constructor(cause: unknown) {
    super('The session store is unavailable; try again shortly.', { cause });
    this.name = 'SessionStoreUnavailable';
  }
}

type Callback = (err?: unknown, data?: unknown) => void;

/** connect-redis, with store failures turned into {@link SessionStoreUnavailable} (status 503) for the error handler. */
class ResilientRedisStore extends RedisStore {
  override get(sid: string, cb?: Callback) {
    return super.get(sid, tagged(cb));
  }
  override set(sid: string, session: Parameters<RedisStore['set']>[1], cb?: Callback) {
    return super.set(sid, session, tagged(cb));
  }
  override touch(sid: string, session: Parameters<RedisStore['touch']>[1], cb?: Callback) {
    return super.touch(sid, session, tagged(cb));
  }
  override destroy(sid: string, cb?: Callback) {
    return super.destroy(sid, tagged(cb));
  }
}

function tagged(cb: Callback | undefined): Callback | undefined {
  return cb && ((err, data) => cb(err ? new SessionStoreUnavailable(err) : undefined, data));
}

export interface RedisSessionStore {
  store: RedisStore;
  close(): Promise<void>;
}

/**
 * Connects to Redis at `url` (in the background: the app starts even while
 * Redis is down, and recovers when it comes back, without a restart).
 */
export function createRedisSessionStore(url: string, options: { prefix?: string } = {}): RedisSessionStore {
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 2000,
      // keep trying, at most every 2 s, for as long as the app runs
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000),
    },
  });
  client.on('error', (err: unknown) => debug('redis: %s', err instanceof Error ? err.message : String(err)));
  client.connect().catch((err: unknown) => debug('redis connect: %s', err instanceof Error ? err.message : String(err)));
  const store = new ResilientRedisStore({ client, prefix: options.prefix ?? 'sess:' });
  return {
    store,
    async close() {
      // quit() waits for a connection that may never come back: only when ready
      if (client.isReady) await client.quit();
      else if (client.isOpen) client.destroy();
    },
  };
}
