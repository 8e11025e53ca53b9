/** The Redis the tests use: the machine's local one unless `REDIS_URL` names another. */
export const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
