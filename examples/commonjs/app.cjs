// CommonJS: Node.js >= 20.19 loads the package (an ES module) with require()
const express = require('express');
const session = require('express-session');
const { relyingParty, requiresAuth } = require('express-relying-party');

/** @param {{ issuer: string, clientId: string, clientSecret: string | undefined, sessionSecret: string, baseUrl: string }} settings */
function createApp({ issuer, clientId, clientSecret, sessionSecret, baseUrl }) {
  const app = express();
  app.use(session({ secret: sessionSecret, resave: false, saveUninitialized: false }));
  app.use(relyingParty({ issuer, clientId, clientSecret, baseUrl }));
  app.get('/profile', requiresAuth(), (req, res) => {
    res.json(req.auth.user);
  });
  return app;
}

module.exports = { createApp };
