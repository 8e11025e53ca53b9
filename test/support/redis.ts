import { randomUUID } from 'node:crypto';
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';

/** The Redis the tests use: the machine's local one unless `REDIS_URL` names another. */
export const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

function connectClient() {
  return createClient({ url: redisUrl });
}

export type RedisClient = ReturnType<typeof connectClient>;

/** A connected Redis client, a key prefix of its own, and the cleanup of both. */
export interface RedisSpace {
  readonly client: RedisClient;
  readonly prefix: string;
  /** A connect-redis session store in this key space. */
  store(): RedisStore;
  /** Deletes every key of this space and disconnects. */
  close(): Promise<void>;
}

export async function redisSpace(): Promise<RedisSpace> {
  const client = connectClient();
  await client.connect();
  const prefix = `erp-test:${randomUUID()}:`;
  return {
    client,
    prefix,
    store: () => new RedisStore({ client, prefix }),
    async close() {
      for await (const keys of client.scanIterator({ MATCH: `${prefix}*` })) if (keys.length) await client.del(keys);
      await client.quit();
    },
  };
}
