import { setTimeout as sleep } from 'node:timers/promises';
import type { Store } from 'express-session';
import { readSideRecord, recordKey, writeSideRecord } from './store.js';

/**
 * Which app sessions belong to a provider session (`sid`) or a user
 * (`sub`), so a back-channel logout can end them: kept in the app's session
 * store (shared by all app instances), written at sign-in only when the
 * back-channel logout route is mounted.
 *
 * A record is a list, and the session store API has no atomic append: two
 * sign-ins of one user at the same moment would each read the list, add
 * themselves and write it back, and one would be lost. In this process the
 * writes of one key are queued; across instances each writer reads the list
 * back after writing it and writes again until it sees itself in it.
 */

/** Sessions remembered per `sid` or `sub`; beyond that the oldest are forgotten. */
const MAX_SESSIONS_PER_KEY = 50;
/** Read-back rounds against a writer in another instance before giving up. */
const MAX_WRITE_ROUNDS = 5;

/** index key → the tail of its queue of writes in this process */
const queues = new Map<string, Promise<void>>();

function indexKey(kind: 'sid' | 'sub', issuer: string, value: string): string {
  return recordKey(`erp:bcl:${kind}:`, `${issuer} ${value}`);
}

/** The session ids recorded for a `sid` or `sub`. */
export async function sessionsFor(store: Store, kind: 'sid' | 'sub', issuer: string, value: string): Promise<string[]> {
  return (await readSideRecord<string[]>(store, indexKey(kind, issuer, value))) ?? [];
}

/** Runs `write` after the writes of `key` queued before it in this process. */
function queued(key: string, write: () => Promise<void>): Promise<void> {
  const previous = queues.get(key) ?? Promise.resolve();
  const next = previous.then(write, write);
  const tail = next.catch(() => undefined);
  queues.set(key, tail);
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key);
  });
  return next;
}

async function addToIndex(store: Store, key: string, sessionId: string, ttlMs: number): Promise<void> {
  for (let round = 0; round < MAX_WRITE_ROUNDS; round++) {
    const known = (await readSideRecord<string[]>(store, key)) ?? [];
    const ids = [...known.filter((id) => id !== sessionId), sessionId].slice(-MAX_SESSIONS_PER_KEY);
    await writeSideRecord(store, key, ids, ttlMs);
    // another instance may have written its own list in between: check that ours survived
    const stored = (await readSideRecord<string[]>(store, key)) ?? [];
    if (stored.includes(sessionId)) return;
    await sleep(5 + Math.random() * 20);
  }
}

/**
 * Records that `sessionId` belongs to these claims' `sid` and `sub`, for
 * `ttlMs` (the longest the sign-in may last; renewed on every sign-in of
 * the same user or provider session).
 */
export async function rememberSession(store: Store, issuer: string, claims: Record<string, unknown>, sessionId: string, ttlMs: number): Promise<void> {
  for (const kind of ['sid', 'sub'] as const) {
    const value = claims[kind];
    if (typeof value !== 'string') continue;
    const key = indexKey(kind, issuer, value);
    await queued(key, () => addToIndex(store, key, sessionId, ttlMs));
  }
}

/** Drops the record for a `sid` or `sub` once its sessions are ended. */
export async function forget(store: Store, kind: 'sid' | 'sub', issuer: string, value: string): Promise<void> {
  const key = indexKey(kind, issuer, value);
  await queued(key, () => new Promise<void>((resolve) => store.destroy(key, () => resolve())));
}
