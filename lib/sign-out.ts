import type { Store } from 'express-session';
import createDebug from 'debug';
import { clearAuth } from './session.js';
import type { RequestSession } from './session.js';
import { readSideRecord, recordKey, writeSideRecord } from './store.js';

const debug = createDebug('express-relying-party:sign-out');

/**
 * A sign-out is final: requests that loaded the session before it and are
 * still in flight (a refresh held up at the token endpoint, a userinfo
 * call, a second callback, an app route that writes to the session) must
 * not save the session signed in again afterwards.
 *
 * Every sign-out (logout route, back-channel logout) marks the ended
 * session id here: in this process at once, and in the app's session store
 * for the other instances. A save of a marked session drops its auth
 * record before it reaches the store, and a callback whose login started
 * before the mark is refused. Marks only need to outlive the requests in
 * flight at the moment of the sign-out.
 */
const MARK_TTL_MS = 60 * 60 * 1000;
/** Marks kept in this process at most; the oldest go first (the store still has them). */
const MAX_LOCAL_MARKS = 100_000;

/** session id hash → { endedAt, expires } */
const local = new Map<string, { endedAt: number; expires: number }>();

function markKey(sessionId: string): string {
  return recordKey('erp:ended:', sessionId);
}

function localMark(key: string): number | undefined {
  const mark = local.get(key);
  if (mark === undefined) return undefined;
  if (mark.expires > Date.now()) return mark.endedAt;
  local.delete(key);
  return undefined;
}

/** Records that `sessionId` was signed out now. The local mark is set before anything is awaited. */
export async function markSignedOut(store: Store, sessionId: string): Promise<void> {
  const key = markKey(sessionId);
  const endedAt = Date.now();
  local.delete(key);
  local.set(key, { endedAt, expires: endedAt + MARK_TTL_MS });
  if (local.size > MAX_LOCAL_MARKS) {
    const oldest = local.keys().next();
    if (!oldest.done) local.delete(oldest.value);
  }
  await writeSideRecord(store, key, endedAt, MARK_TTL_MS);
}

/**
 * When `sessionId` was signed out, if it was: this process's mark, else the
 * store's (another instance's). `undefined` when it never was.
 */
export async function signedOutAt(store: Store, sessionId: string): Promise<number | undefined> {
  const key = markKey(sessionId);
  const known = localMark(key);
  if (known !== undefined) return known;
  const stored = await readSideRecord<number>(store, key);
  // checked again: a sign-out in this process may have happened while the store answered
  return localMark(key) ?? (typeof stored === 'number' ? stored : undefined);
}

/**
 * Makes `session.save()` (express-session calls it at the end of the
 * response, the library after a refresh) drop the auth record of a session
 * that was signed out while this request was in flight. Installed on
 * sessions that are signed in when the request arrives; costs nothing until
 * the session is saved, and then one store read.
 */
export function guardSave(session: RequestSession, store: Store): void {
  const save = session.save;
  Object.defineProperty(session, 'save', {
    configurable: true,
    enumerable: false,
    writable: true,
    value: function guardedSave(this: RequestSession, callback?: (err?: unknown) => void) {
      const auth = this.relyingParty?.auth;
      if (auth === undefined) return save.call(this, callback);
      signedOutAt(store, this.id).then(
        (endedAt) => {
          // a sign-in that began after the mark is a new one (sign-in always gives a new id, but be exact)
          if (endedAt !== undefined && auth.signedInAt <= endedAt && this.relyingParty?.auth === auth) {
            debug('dropped the auth record of a session signed out while a request was in flight');
            clearAuth(this);
          }
          save.call(this, callback);
        },
        (err: unknown) => callback?.(err),
      );
      return this;
    },
  });
}
