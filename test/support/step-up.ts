/**
 * Helpers for the step-up tests: sign in with a scripted `acr`/`auth_time`
 * in a browser that keeps its provider session, then follow a guarded
 * page's step-up through the provider and back to the callback.
 */
import { expect } from '@jest/globals';
import type { Response } from 'supertest';
import { ProviderBrowser } from '../fixtures/browser.js';
import type { InteractionScript, TestProvider } from '../fixtures/provider.js';
import { authorizeAtProvider, pathOf, redirectOf, startLogin } from './rp-app.js';
import type { Agent } from './rp-app.js';

/** What a browser sends when it loads a page. */
export const HTML = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

export const LOA1 = 'urn:test:loa:1';
export const LOA2 = 'urn:test:loa:2';
export const LOA3 = 'urn:test:loa:3';

/** Epoch seconds `seconds` ago. */
export const secondsAgo = (seconds: number) => Math.floor(Date.now() / 1000) - seconds;

/** Signs `agent` in through /login as the script says; returns the browser, which keeps its session at the provider. */
export async function signInWith(agent: Agent, tp: TestProvider, script: InteractionScript): Promise<ProviderBrowser> {
  tp.nextInteraction = script;
  const browser = new ProviderBrowser(tp.issuer);
  const callback = await authorizeAtProvider(tp, await startLogin(agent), browser);
  const answer = await agent.get(pathOf(callback));
  expect(answer.status).toBe(302);
  return browser;
}

/** A guarded page load that steps up: the authorize URL it redirects to. */
export async function stepUpStart(agent: Agent, path: string): Promise<URL> {
  return redirectOf(await agent.get(path).set('Accept', HTML));
}

/** The provider answers `authorize` as `script` says; the app's answer to the callback. */
export async function answerAtProvider(agent: Agent, tp: TestProvider, browser: ProviderBrowser, authorize: URL, script: InteractionScript): Promise<Response> {
  tp.nextInteraction = script;
  const callback = await authorizeAtProvider(tp, authorize, browser);
  return agent.get(pathOf(callback));
}

/** The step-up parameters of an authorize URL, `undefined` where absent. */
export function stepUpParams(authorize: URL): { scope: string | null; acr_values: string | null; max_age: string | null; prompt: string | null } {
  const get = (name: string) => authorize.searchParams.get(name);
  return { scope: get('scope'), acr_values: get('acr_values'), max_age: get('max_age'), prompt: get('prompt') };
}

/** What the app shows of the signed-in session. */
export interface Me {
  isAuthenticated: boolean;
  user?: Record<string, unknown>;
  idToken?: string;
  accessToken?: { value: string; scope?: string };
}

export async function me(agent: Agent): Promise<Me> {
  return (await agent.get('/me')).body as Me;
}
