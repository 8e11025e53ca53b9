import { createHash } from 'node:crypto';
import type { SessionData, Store } from 'express-session';
import { RelyingPartyError } from './errors.js';

/**
 * Records this library keeps in the app's session store next to the
 * sessions (refresh-token rotations, back-channel logout indexes). They go
 * through the same store the app configured, so several app instances
 * sharing Redis share them too. Keys start with `erp:`; each carries a
 * cookie expiry so that every store (MemoryStore, connect-redis, …) expires
 * it like a session.
 */
type StoredSideRecord<T> = SessionData & { erp?: T };

/**
 * The store key of a record about `value` (a session id, a refresh token,
 * an issuer and a `sid`…): `prefix` and its SHA-256, so that no secret and
 * no user identifier appears in the store's key space.
 */
export function recordKey(prefix: string, value: string): string {
  return `${prefix}${createHash('sha256').update(value).digest('base64url')}`;
}

function storeError(err: unknown, action: string): RelyingPartyError {
  return new RelyingPartyError('session_store_error', `The session store failed to ${action} a record.`, { cause: err });
}

export function readSideRecord<T>(store: Store, key: string): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    store.get(key, (err: unknown, data?: StoredSideRecord<T> | null) => {
      if (err) reject(storeError(err, 'read'));
      else resolve(data?.erp);
    });
  });
}

export function writeSideRecord<T>(store: Store, key: string, value: T, ttlMs: number): Promise<void> {
  const expires = new Date(Date.now() + ttlMs);
  // a cookie-shaped expiry is what session stores read to set their TTL
  const data = { cookie: { originalMaxAge: ttlMs, expires }, erp: value } as unknown as SessionData;
  return new Promise((resolve, reject) => {
    store.set(key, data, (err?: unknown) => (err ? reject(storeError(err, 'write')) : resolve()));
  });
}

export function destroyStored(store: Store, key: string): Promise<void> {
  return new Promise((resolve, reject) => {
    store.destroy(key, (err?: unknown) => (err ? reject(storeError(err, 'delete')) : resolve()));
  });
}
