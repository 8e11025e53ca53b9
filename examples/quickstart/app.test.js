import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import request from 'supertest';
import { startSandbox } from 'express-relying-party/sandbox';
import { signIn } from 'express-relying-party/testing';
import { createApp } from './app.js';

const baseUrl = 'http://localhost:3000';
const sandbox = await startSandbox({ redirectUris: [`${baseUrl}/callback`] });
after(() => sandbox.close());
const app = createApp({ issuer: sandbox.issuer, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret, sessionSecret: 'test', baseUrl });

test('asks a visitor who is not signed in to sign in', async () => {
  const home = await request(app).get('/');
  assert.equal(home.text, '<a href="/login">Sign in</a>');
  const profile = await request(app).get('/profile').set('Accept', 'application/json');
  assert.equal(profile.status, 401);
});

test('greets a signed-in user by name', async () => {
  const cookie = await signIn(app, { sandbox, user: { sub: 'alice', name: 'Alice Liddell', email: 'alice@example.com' } });
  const home = await request(app).get('/').set('Cookie', cookie);
  assert.equal(home.text, 'Hello Alice Liddell! Your claims: /profile. Sign out: /logout');
});

test('greets a user who did not share their profile by sub', async () => {
  const cookie = await signIn(app, { sandbox, user: { sub: 'bob', name: 'Bob' }, scopes: ['openid', 'email'] });
  const home = await request(app).get('/').set('Cookie', cookie);
  assert.equal(home.text, 'Hello bob! Your claims: /profile. Sign out: /logout');
});

test('shows how the user authenticated', async () => {
  const cookie = await signIn(app, { sandbox, user: { sub: 'carol' }, acr: 'urn:openbanking:psd2:sca' });
  const profile = await request(app).get('/profile').set('Cookie', cookie);
  assert.equal(profile.status, 200);
  assert.equal(profile.body.acr, 'urn:openbanking:psd2:sca');
  assert.deepEqual(profile.body.amr, ['pwd', 'otp']);
});
