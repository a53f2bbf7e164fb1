// siaod web UI: sign-in, hash routing (#/places, #/youth, #/youth/12,
// #/stays, #/porteur, #/indicators, #/plans), the menus of the token's role
// (GET /v1/me) and the page frame.
import { h } from './dom.js';
import {
  getToken, setToken, onUnauthorized, loadPorteurs, forgetCaches, loadMe, porteurName, authCall, setCsrf,
  currentMe,
} from './api.js';
import { clearAlerts, showError, showProblem, notify, showPending } from './alerts.js';
import { ROLES, lower, problemTitle, problemSentence } from './i18n.js';
import * as places from './pages/places.js';
import * as youth from './pages/youth.js';
import * as stays from './pages/stays.js';
import * as porteur from './pages/porteur.js';
import * as indicators from './pages/indicators.js';
import * as plans from './pages/plans.js';
import * as imports from './pages/imports.js';
import * as account from './pages/account.js';
import * as notifications from './pages/notifications.js';

const routes = [
  { re: /^\/places$/, nav: 'places', render: places.render },
  { re: /^\/youth$/, nav: 'youth', render: youth.renderList },
  { re: /^\/youth\/new$/, nav: 'youth', render: youth.renderNew },
  { re: /^\/youth\/(\d+)$/, nav: 'youth', render: youth.renderOne },
  { re: /^\/stays$/, nav: 'stays', render: stays.render },
  { re: /^\/porteur$/, nav: 'porteur', render: porteur.render },
  { re: /^\/indicators$/, nav: 'indicators', render: indicators.render },
  { re: /^\/plans$/, nav: 'plans', render: plans.render },
  { re: /^\/imports$/, nav: 'imports', render: imports.render },
  { re: /^\/compte$/, nav: 'compte', render: account.renderMine },
  // the notification centre: every role, from the header's link (a person's own page, as Mon compte)
  { re: /^\/notifications$/, nav: 'compte', render: notifications.render },
  { re: /^\/comptes$/, nav: 'comptes', render: account.renderAdmin },
  { re: /^\/comptes\/(\d+)\/journal$/, nav: 'comptes', render: account.renderAudit },
];

// The menus of each role, in their order; a page outside them is not offered
// (the API would refuse it anyway).
const NAV = {
  places: { href: '#/places', text: 'Places libres' },
  youth: { href: '#/youth', text: 'Jeunes' },
  stays: { href: '#/stays', text: 'Fins de séjour' },
  porteur: { href: '#/porteur', text: 'Espace porteur' },
  indicators: { href: '#/indicators', text: 'Indicateurs' },
  plans: { href: '#/plans', text: 'Répartition' },
  imports: { href: '#/imports', text: 'Import' },
  comptes: { href: '#/comptes', text: 'Comptes' },
  compte: { href: '#/compte', text: 'Mon compte' },
};
const MENUS = {
  referent: ['places', 'youth', 'stays', 'indicators', 'plans', 'imports', 'compte'],
  porteur: ['porteur', 'places', 'stays', 'indicators', 'imports', 'compte'],
  admin: ['places', 'youth', 'stays', 'porteur', 'indicators', 'plans', 'imports', 'comptes', 'compte'],
};

function menuOf(me) {
  return (me && MENUS[me.role]) || [];
}

function homeOf(me) {
  return me && me.role === 'porteur' ? '/porteur' : '/places';
}

let generation = 0;
let keepOnce = false; // the next hash change keeps the messages

function parseHash() {
  const raw = window.location.hash.replace(/^#/, '') || '/'; // '/': the role's home page
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  return { path, query };
}

export function go(path, query) {
  const qs = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== '' && v !== null && v !== undefined)).toString() : '';
  const target = `#${path}${qs ? `?${qs}` : ''}`;
  if (window.location.hash === target) route();
  else window.location.hash = target;
}

let shownMenu = '';

function setNav(current, me) {
  const signedIn = Boolean(me);
  document.getElementById('nav').hidden = !signedIn;
  document.getElementById('signout').hidden = !signedIn;
  const who = document.getElementById('who');
  who.hidden = !signedIn;
  if (!signedIn) document.getElementById('bell').hidden = true;
  document.body.classList.toggle('signed-in', signedIn);
  const menu = signedIn ? menuOf(me) : [];
  const key = `${signedIn ? me.role : ''}:${menu.join(',')}`;
  if (key !== shownMenu) {
    shownMenu = key;
    document.getElementById('nav-list').replaceChildren(...menu.map((k) => h('li', {},
      h('a', { href: NAV[k].href, dataset: { nav: k } }, NAV[k].text))));
  }
  if (signedIn) {
    const scope = me.role === 'referent' ? ` · ${me.departements.join(', ')}`
      : me.role === 'porteur' && me.porteur_id ? ` · ${porteurName(me.porteur_id)}` : '';
    who.textContent = `${me.display_name || me.email || ''}${me.display_name || me.email ? ' · ' : ''}${ROLES[me.role] || me.role}${scope}`;
  }
  document.querySelectorAll('#nav a').forEach((a) => {
    if (a.dataset.nav === current) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  });
}

async function route(keepAlerts = false) {
  const main = document.getElementById('main');
  const gen = ++generation;
  if (!keepAlerts) clearAlerts();
  showPending();
  const link = linkInHash();
  if (link) {
    setNav(null, null);
    main.replaceChildren(await linkPage(link));
    document.title = 'Choisir un mot de passe — siaod';
    return;
  }
  let me;
  try {
    // a bearer token pasted in this tab, or else the session cookie, if any
    probing = !getToken();
    me = await loadMe();
    probing = false;
    await loadPorteurs().catch(() => {}); // the names the pages show
  } catch (e) {
    probing = false;
    if (gen !== generation) return;
    if (e.status === 401) {
      setNav(null, null);
      main.replaceChildren(await signIn());
      document.title = 'Connexion — siaod';
      return;
    }
    showProblem(e);
    return;
  }
  if (gen !== generation) return;
  const { path, query } = parseHash();
  if (path === '/' || path === '') {
    keepOnce = keepAlerts; // the home page keeps the messages (« Connecté·e. »)
    window.location.replace(`#${homeOf(me)}`); // no history entry: Back does not come back here
    return;
  }
  const r = routes.find((x) => x.re.test(path));
  setNav(r ? r.nav : null, me);
  notifications.refreshUnread(me); // the header's unread count, without waiting for it
  const container = h('div', { class: 'page' });
  main.replaceChildren(container);
  const home = h('p', {}, h('a', { href: `#${homeOf(me)}` }, "Retour à la page d'accueil"));
  if (!r) {
    container.append(h('h1', {}, 'Page introuvable'), home);
    return;
  }
  if (!menuOf(me).includes(r.nav)) {
    document.title = 'Page non prévue pour votre rôle — siaod';
    container.append(h('h1', {}, 'Page non prévue pour votre rôle'),
      h('p', {}, `Votre rôle (${lower(ROLES[me.role] || me.role)}) ne donne pas accès à cette page.`), home);
    return;
  }
  const ctx = {
    me,
    el: container,
    params: path.match(r.re).slice(1),
    query,
    current: () => gen === generation,
    go,
    reload: () => route(true), // the same page again, keeping its messages
    title: (t) => { document.title = `${t} — siaod`; },
  };
  try {
    await r.render(ctx);
  } catch (e) {
    if (ctx.current()) showProblem(e);
  }
  // Move the focus to the new page's heading (screen readers announce it).
  if (ctx.current() && !keepAlerts && document.activeElement === document.body) {
    const h1 = container.querySelector('h1');
    if (h1) {
      h1.tabIndex = -1;
      h1.focus({ preventScroll: true });
    }
  }
}

let probing = false; // the first GET /v1/me without a token: a 401 just means "not signed in"

// The sign-in page: the provider's button and the e-mail + password form as
// the server offers them (GET /auth/config); pasting a token stays as a
// fallback for admins, behind a link.
async function signIn() {
  let cfg = { password: true, oidc: false, mail: false, oidc_label: '' };
  try {
    cfg = (await authCall('GET', '/auth/config')).data;
  } catch (e) {
    // the token form below still works
  }
  const page = h('div', { class: 'page' },
    h('h1', {}, 'Connexion'),
    h('p', {}, 'siaod aide les référents SIAO à trouver une place pour les jeunes accompagnés, et les porteurs à gérer leurs offres.'));
  if (cfg.oidc) {
    const label = cfg.oidc_label || 'Se connecter avec ProConnect';
    page.append(h('p', {}, h('a', { class: 'button primary proconnect', href: '/auth/oidc/start' }, label)));
    // ProConnect asks its services to say what it is, next to its button
    if (/proconnect/i.test(label)) {
      page.append(h('p', { class: 'hint' }, h('a', { href: 'https://www.proconnect.gouv.fr/', target: '_blank', rel: 'noopener' },
        "Qu'est-ce que ProConnect ? (nouvelle fenêtre)")));
    }
    if (cfg.password) page.append(h('p', { class: 'separator' }, 'ou'));
  }
  if (cfg.password) page.append(passwordForm(cfg));
  const tokenBox = tokenForm();
  tokenBox.hidden = true;
  const reveal = h('button', { type: 'button', class: 'link-button' }, "Administrateur : se connecter avec un jeton d'accès");
  reveal.addEventListener('click', () => {
    tokenBox.hidden = false;
    reveal.hidden = true;
    tokenBox.querySelector('input').focus();
  });
  page.append(h('p', { class: 'fallback' }, reveal), tokenBox);
  return page;
}

function passwordForm(cfg) {
  const form = h('form', { class: 'card signin', novalidate: true },
    h('div', { class: 'field' },
      h('label', { for: 'email' }, 'Adresse e-mail'),
      h('input', { type: 'email', id: 'email', name: 'email', autocomplete: 'username', required: true })),
    h('div', { class: 'field' },
      h('label', { for: 'password' }, 'Mot de passe'),
      h('input', { type: 'password', id: 'password', name: 'password', autocomplete: 'current-password', required: true })),
    h('button', { type: 'submit', class: 'primary' }, 'Se connecter'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const email = form.elements.email.value.trim();
    const password = form.elements.password.value;
    if (!email || !password) {
      showError('Connexion', 'Indiquez votre adresse e-mail et votre mot de passe.');
      return;
    }
    try {
      const { data } = await authCall('POST', '/auth/password', { email, password });
      setToken('');
      setCsrf(data.csrf_token);
      forgetCaches();
    } catch (e) {
      form.elements.password.value = '';
      showError('Connexion refusée', e.problem.detail || e.message);
      form.elements.password.focus();
      return;
    }
    notify('Connecté·e.');
    route(true);
  });
  const box = h('div', {}, form);
  if (cfg.mail) {
    const forgot = h('button', { type: 'button', class: 'link-button' }, 'Mot de passe oublié ?');
    forgot.addEventListener('click', async () => {
      const email = form.elements.email.value.trim();
      if (!email) {
        showError('Mot de passe oublié', "Indiquez d'abord votre adresse e-mail.");
        form.elements.email.focus();
        return;
      }
      try {
        const { data } = await authCall('POST', '/auth/reset-request', { email });
        notify(data.detail);
      } catch (e) {
        showError('Mot de passe oublié', e.problem.detail || e.message);
      }
    });
    box.append(h('p', {}, forgot));
  }
  return box;
}

function tokenForm() {
  const form = h('form', { class: 'card signin-token', novalidate: true },
    h('div', { class: 'field' },
      h('label', { for: 'token' }, "Jeton d'accès"),
      h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'token-hint' }),
      h('p', { class: 'hint', id: 'token-hint' },
        "Collez un jeton d'accès. Il reste dans cet onglet seulement et s'efface à sa fermeture.")),
    h('button', { type: 'submit', class: 'primary' }, 'Se connecter avec le jeton'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const token = form.elements.token.value.trim();
    if (!token) {
      showError('Connexion', "Collez d'abord votre jeton d'accès.");
      form.elements.token.focus();
      return;
    }
    setToken(token);
    try {
      await loadMe(true); // who the token is: checks it, and says which menus to show
    } catch (e) {
      setToken('');
      showProblem(e);
      form.elements.token.focus();
      return;
    }
    notify('Connecté·e.');
    route(true);
  });
  return form;
}

// #invitation=<secret> or #reinitialisation=<secret>: a link from a mail or
// an admin (in the fragment, so no server ever logs it).
function linkInHash() {
  const m = window.location.hash.match(/^#(invitation|reinitialisation)=([A-Za-z0-9_-]{43})$/);
  return m ? { kind: m[1] === 'invitation' ? 'invitation' : 'reset', token: m[2] } : null;
}

async function linkPage(link) {
  const page = h('div', { class: 'page' });
  let info;
  try {
    info = (await authCall('POST', '/auth/link', { token: link.token })).data;
  } catch (e) {
    page.append(h('h1', {}, 'Lien expiré'),
      h('p', {}, e.problem.detail || "Ce lien n'est plus valable."),
      h('p', {}, h('a', { href: '#/' }, 'Aller à la page de connexion')));
    return page;
  }
  const title = link.kind === 'invitation' ? 'Activer votre compte' : 'Choisir un nouveau mot de passe';
  const form = h('form', { class: 'card', novalidate: true },
    h('p', {}, `Compte : ${info.email}`),
    h('div', { class: 'field' },
      h('label', { for: 'new-password' }, 'Nouveau mot de passe'),
      h('input', { type: 'password', id: 'new-password', name: 'password', autocomplete: 'new-password', required: true, 'aria-describedby': 'pw-hint' }),
      h('p', { class: 'hint', id: 'pw-hint' }, 'Au moins 12 caractères ; évitez les mots de passe courants.')),
    h('button', { type: 'submit', class: 'primary' }, 'Enregistrer et se connecter'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const { data } = await authCall('POST', link.kind === 'invitation' ? '/auth/invitation' : '/auth/reset',
        { token: link.token, password: form.elements.password.value });
      setToken('');
      setCsrf(data.csrf_token);
      forgetCaches();
    } catch (e) {
      showError('Mot de passe refusé', e.problem.detail || e.message);
      return;
    }
    notify('Mot de passe enregistré : vous êtes connecté·e.');
    keepOnce = true;
    window.location.replace('#/');
  });
  page.append(h('h1', {}, title), form);
  return page;
}

async function signOut() {
  const me = currentMe();
  let next = null;
  if (me && me.session) {
    try {
      next = (await authCall('POST', '/auth/logout')).data.logout_url || null;
    } catch (e) {
      // the cookie is cleared by the server when it answers; nothing else to do
    }
  }
  setToken('');
  setCsrf('');
  forgetCaches();
  sessionStorage.removeItem('siaod.porteur');
  if (next) {
    window.location.assign(next); // the provider's sign-out
    return;
  }
  await route();
  notify(me && me.session ? 'Déconnecté·e.' : 'Déconnecté·e : le jeton a été effacé de cet onglet.');
}

onUnauthorized(async () => {
  if (probing) return; // not signed in yet: route() shows the sign-in
  setToken('');
  setCsrf('');
  forgetCaches();
  if (document.querySelector('#main form.signin, #main form.signin-token')) return; // a sign-in attempt: it says so itself
  generation += 1; // the page that got the 401 stops there
  setNav(null, null);
  document.getElementById('main').replaceChildren(await signIn());
  showError(problemTitle(401), problemSentence({ type: '/problems/unauthorized' }, 401));
});

window.addEventListener('hashchange', () => {
  const keep = keepOnce;
  keepOnce = false;
  route(keep);
});
document.getElementById('signout').addEventListener('click', signOut);
document.getElementById('skip').addEventListener('click', (ev) => {
  ev.preventDefault();
  document.getElementById('main').focus();
});
route();
