import { createApp } from './app.js';

const { OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, SESSION_SECRET, PORT = '3000' } = process.env;
if (!OIDC_ISSUER || !OIDC_CLIENT_ID || !SESSION_SECRET) {
  console.error('Set OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET and SESSION_SECRET, e.g. in .env.');
  process.exit(1);
}

const baseUrl = `http://localhost:${PORT}`;
const app = createApp({ issuer: OIDC_ISSUER, clientId: OIDC_CLIENT_ID, clientSecret: OIDC_CLIENT_SECRET, sessionSecret: SESSION_SECRET, baseUrl });
app.listen(Number(PORT), () => console.log(`Open ${baseUrl}`));
