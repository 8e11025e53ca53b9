import { createHash } from 'node:crypto';
import type { Store } from 'express-session';
import { readSideRecord, writeSideRecord } from './store.js';

/**
 * Which app sessions belong to a provider session (`sid`) or a user
 * (`sub`), so a back-channel logout can end them: kept in the app's session
 * store (shared by all app instances), written at sign-in only when the
 * back-channel logout route is mounted.
 */

/** Sessions remembered per `sid` or `sub`; beyond that the oldest are forgotten. */
const MAX_SESSIONS_PER_KEY = 50;

function indexKey(kind: 'sid' | 'sub', issuer: string, value: string): string {
  return `erp:bcl:${kind}:${createHash('sha256').update(`${issuer} ${value}`).digest('base64url')}`;
}

/** The session ids recorded for a `sid` or `sub`. */
export async function sessionsFor(store: Store, kind: 'sid' | 'sub', issuer: string, value: string): Promise<string[]> {
  return (await readSideRecord<string[]>(store, indexKey(kind, issuer, value))) ?? [];
}

/** Records that `sessionId` belongs to these claims' `sid` and `sub`. */
export async function rememberSession(store: Store, issuer: string, claims: Record<string, unknown>, sessionId: string, ttlMs: number): Promise<void> {
  for (const kind of ['sid', 'sub'] as const) {
    const value = claims[kind];
    if (typeof value !== 'string') continue;
    const known = await sessionsFor(store, kind, issuer, value);
    const ids = [...known.filter((id) => id !== sessionId), sessionId].slice(-MAX_SESSIONS_PER_KEY);
    await writeSideRecord(store, indexKey(kind, issuer, value), ids, ttlMs);
  }
}

/** Drops the record for a `sid` or `sub` once its sessions are ended. */
export async function forget(store: Store, kind: 'sid' | 'sub', issuer: string, value: string): Promise<void> {
  await new Promise<void>((resolve) => store.destroy(indexKey(kind, issuer, value), () => resolve()));
}
