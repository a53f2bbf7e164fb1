// A real OpenID Provider for siaod's tests and `scripts/dev up --oidc`:
// oidc-provider (OpenID Certified) configured like ProConnect — code flow
// with PKCE (S256), the scopes and claims openid, email (+ email_verified),
// given_name, usual_name, siret, a signed userinfo (RS256), RP-initiated
// logout — and, in front of it, a small proxy that siaod and the browser talk
// to, which can tamper with the ID token, the userinfo and the key set.
//
//   node provider.mjs --port PROXY_PORT --redirect-base SIAOD_PUBLIC_URL
//                     [--client-id ID] [--client-secret S] [--auth post|basic]
//
// The issuer is http://127.0.0.1:PROXY_PORT. On start it prints one line
// of JSON: {"ready": true, "issuer": ..., "client_id": ..., "client_secret": ...}.
//
// Signing in at the provider (its development login form): any login and
// any password. The login is the e-mail address; claims come from it:
// email_verified is false when the address starts with "nonverifie".
//
// Test controls on the proxy (never in a real provider):
//   POST /__test/mode {"id_token": M, "userinfo": M2, "jwks": M3} sets how the
//     next answers are changed until set again. M: none, resign_rsa,
//     resign_ec (claims unchanged, signed with the proxy's own published
//     keys: proves re-signed tokens pass, so a refusal below is the claim's),
//     bad_signature, wrong_aud, expired, wrong_nonce, unknown_kid, alg_none,
//     hs256. M2: none, json (plain JSON userinfo), bad_signature,
//     unverified (email_verified false, re-signed). M3: none.
//   GET /__test/stats: counts of calls by endpoint, and the last token
//     request's client authentication method.
import crypto from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const PROXY_PORT = Number(args.port || 0);
const REDIRECT_BASE = (args['redirect-base'] || 'http://127.0.0.1:8081').replace(/\/$/, '');
const CLIENT_ID = args['client-id'] || 'siaod-test';
const CLIENT_SECRET = args['client-secret'] || crypto.randomBytes(24).toString('base64url');
const AUTH = args.auth === 'basic' ? 'client_secret_basic' : 'client_secret_post';

// ---------------------------------------------------------------- keys

function keyPair(kind, kid) {
  const { privateKey, publicKey } = kind === 'rsa'
    ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
    : crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  const pub = publicKey.export({ format: 'jwk' });
  const alg = kind === 'rsa' ? 'RS256' : 'ES256';
  return { privateKey, kid, alg, jwk: { ...jwk, kid, alg, use: 'sig' }, pub: { ...pub, kid, alg, use: 'sig' } };
}

// the provider's own keys
const providerRsa = keyPair('rsa', 'provider-rsa-1');
const providerEc = keyPair('ec', 'provider-ec-1');
// the proxy's keys: two published in the key set it serves, one never
const testRsa = keyPair('rsa', 'siaod-test-rsa');
const testEc = keyPair('ec', 'siaod-test-ec');
const hidden = keyPair('rsa', 'rotated-away');

const b64 = (o) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64url');
const unb64 = (s) => JSON.parse(Buffer.from(s, 'base64url').toString());

function sign(header, payload, key) {
  const input = `${b64(header)}.${b64(payload)}`;
  let sig;
  if (header.alg === 'HS256') sig = crypto.createHmac('sha256', key).update(input).digest();
  else if (header.alg === 'ES256') sig = crypto.sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  else if (header.alg === 'RS256') sig = crypto.sign('sha256', Buffer.from(input), key);
  else return `${input}.`;
  return `${input}.${sig.toString('base64url')}`;
}

function resign(payload, k) {
  return sign({ alg: k.alg, typ: 'JWT', kid: k.kid }, payload, k.privateKey);
}

// One JWT changed as `mode` says.
function tamper(jwt, mode) {
  const [h, p, s] = jwt.split('.');
  const header = unb64(h);
  const payload = unb64(p);
  const now = Math.floor(Date.now() / 1000);
  switch (mode) {
    case 'resign_rsa': return resign(payload, testRsa);
    case 'resign_ec': return resign(payload, testEc);
    case 'bad_signature': return `${h}.${b64({ ...payload, sub: `${payload.sub}-autre` })}.${s}`;
    case 'wrong_aud': return resign({ ...payload, aud: 'un-autre-client' }, testRsa);
    case 'expired': return resign({ ...payload, iat: now - 7200, exp: now - 3600 }, testRsa);
    case 'wrong_nonce': return resign({ ...payload, nonce: crypto.randomBytes(32).toString('base64url') }, testRsa);
    case 'unknown_kid': return resign(payload, hidden);
    case 'alg_none': return sign({ alg: 'none', typ: 'JWT' }, payload);
    case 'hs256': return sign({ alg: 'HS256', typ: 'JWT', kid: header.kid }, payload, CLIENT_SECRET);
    case 'unverified': return resign({ ...payload, email_verified: false }, testRsa);
    default: return jwt;
  }
}

// ---------------------------------------------------------------- the provider

function claimsOf(id) {
  const local = id.split('@')[0];
  return {
    sub: `sub-${crypto.createHash('sha256').update(id).digest('hex').slice(0, 24)}`,
    email: id,
    email_verified: !id.startsWith('nonverifie'),
    given_name: 'Camille',
    usual_name: local.includes('.') ? local.split('.')[1].toUpperCase() : 'MARTIN',
    siret: '13002526500013',
  };
}

const SCOPES = ['openid', 'email', 'given_name', 'usual_name', 'siret'];
const issuer = `http://127.0.0.1:${PROXY_PORT}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    redirect_uris: [`${REDIRECT_BASE}/auth/oidc/callback`],
    post_logout_redirect_uris: [`${REDIRECT_BASE}/ui/`],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: AUTH,
    id_token_signed_response_alg: 'RS256',
    userinfo_signed_response_alg: 'RS256', // as ProConnect: a signed userinfo
  }],
  jwks: { keys: [providerRsa.jwk, providerEc.jwk] },
  scopes: SCOPES,
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    given_name: ['given_name'],
    usual_name: ['usual_name'],
    siret: ['siret'],
  },
  features: {
    devInteractions: { enabled: true },
    jwtUserinfo: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  pkce: { methods: ['S256'], required: () => true },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => claimsOf(id),
  }),
  // No consent screen (siaod is a first-party client here, as a registered
  // ProConnect service is): the grant covers what was asked.
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) {
      const g = await ctx.oidc.provider.Grant.find(grantId);
      if (g) return g;
    }
    if (!ctx.oidc.session.accountId) return undefined;
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope(SCOPES.join(' '));
    await grant.save();
    return grant;
  },
  ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
});
provider.on('server_error', (ctx, err) => console.error('provider server_error', err));

// ---------------------------------------------------------------- the proxy

const mode = { id_token: 'none', userinfo: 'none', jwks: 'none' };
const stats = { jwks: 0, token: 0, userinfo: 0, discovery: 0, last_token_auth: null };

const providerServer = http.createServer(provider.callback());
await new Promise((resolve) => providerServer.listen(0, '127.0.0.1', resolve));
const providerPort = providerServer.address().port;

function readAll(stream) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

function control(req, res, body) {
  if (req.method === 'POST' && req.url === '/__test/mode') {
    Object.assign(mode, JSON.parse(body.toString() || '{}'));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(mode));
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ ...stats, mode }));
}

const proxy = http.createServer(async (req, res) => {
  try {
    const body = await readAll(req);
    const path = req.url.split('?')[0];
    if (path.startsWith('/__test/')) {
      control(req, res, body);
      return;
    }
    if (path === '/token') {
      stats.token += 1;
      const form = new URLSearchParams(body.toString());
      stats.last_token_auth = form.get('client_secret') ? 'client_secret_post'
        : (req.headers.authorization || '').startsWith('Basic ') ? 'client_secret_basic' : 'none';
      stats.last_code_verifier = Boolean(form.get('code_verifier'));
    }
    if (path === '/jwks') stats.jwks += 1;
    if (path === '/me') stats.userinfo += 1;
    if (path === '/.well-known/openid-configuration') stats.discovery += 1;
    const up = await new Promise((resolve, reject) => {
      const r = http.request({
        host: '127.0.0.1', port: providerPort, method: req.method, path: req.url, headers: req.headers,
      }, resolve);
      r.on('error', reject);
      r.end(body);
    });
    let out = await readAll(up);
    const headers = { ...up.headers };
    if (path === '/token' && up.statusCode === 200 && mode.id_token !== 'none') {
      const j = JSON.parse(out.toString());
      j.id_token = tamper(j.id_token, mode.id_token);
      out = Buffer.from(JSON.stringify(j));
    } else if (path === '/me' && up.statusCode === 200 && mode.userinfo !== 'none') {
      const jwt = out.toString().trim();
      if (mode.userinfo === 'json') {
        out = Buffer.from(JSON.stringify(unb64(jwt.split('.')[1])));
        headers['content-type'] = 'application/json; charset=utf-8';
      } else {
        out = Buffer.from(tamper(jwt, mode.userinfo));
      }
    } else if (path === '/jwks' && up.statusCode === 200) {
      const j = JSON.parse(out.toString());
      j.keys.push(testRsa.pub, testEc.pub);
      out = Buffer.from(JSON.stringify(j));
    }
    delete headers['content-length'];
    delete headers['transfer-encoding'];
    delete headers.etag;
    headers['content-length'] = String(out.length);
    res.writeHead(up.statusCode, headers);
    res.end(out);
  } catch (e) {
    console.error('proxy error', e);
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end('proxy error');
  }
});
await new Promise((resolve) => proxy.listen(PROXY_PORT, '127.0.0.1', resolve));
console.log(JSON.stringify({ ready: true, issuer, client_id: CLIENT_ID, client_secret: CLIENT_SECRET }));

const stop = () => { proxy.close(); providerServer.close(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
