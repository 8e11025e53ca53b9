import express from 'express';
import session from 'express-session';
import { relyingParty, requiresAuth } from 'express-relying-party';

/**
 * The app, without listening: server.js starts it, app.test.js tests it.
 * @param {{ issuer: string, clientId: string, clientSecret: string | undefined, sessionSecret: string, baseUrl: string }} settings
 */
export function createApp({ issuer, clientId, clientSecret, sessionSecret, baseUrl }) {
  const app = express();
  app.use(session({ secret: sessionSecret, resave: false, saveUninitialized: false, cookie: { httpOnly: true, sameSite: 'lax' } }));
  app.use(relyingParty({ issuer, clientId, clientSecret, baseUrl }));

  app.get('/', (req, res) => {
    if (!req.auth.isAuthenticated()) {
      res.send('<a href="/login">Sign in</a>');
      return;
    }
    // every provider puts `sub` in the ID token; `name` only some, and only with scope profile
    const { sub, name = sub } = req.auth.user ?? {};
    res.type('text').send(`Hello ${String(name)}! Your claims: /profile. Sign out: /logout`);
  });
  app.get('/profile', requiresAuth(), (req, res) => {
    res.json(req.auth.user);
  });
  return app;
}
