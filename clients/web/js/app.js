// siaod web UI: sign-in, hash routing (#/places, #/youth, #/youth/12,
// #/stays, #/porteur) and the page frame.
import { h } from './dom.js';
import { getToken, setToken, onUnauthorized, loadPorteurs, forgetCaches } from './api.js';
import { clearAlerts, showError, showProblem, notify, showPending } from './alerts.js';
import * as places from './pages/places.js';
import * as youth from './pages/youth.js';
import * as stays from './pages/stays.js';
import * as porteur from './pages/porteur.js';

const routes = [
  { re: /^\/places$/, nav: 'places', render: places.render },
  { re: /^\/youth$/, nav: 'youth', render: youth.renderList },
  { re: /^\/youth\/new$/, nav: 'youth', render: youth.renderNew },
  { re: /^\/youth\/(\d+)$/, nav: 'youth', render: youth.renderOne },
  { re: /^\/stays$/, nav: 'stays', render: stays.render },
  { re: /^\/porteur$/, nav: 'porteur', render: porteur.render },
];

let generation = 0;

function parseHash() {
  const raw = window.location.hash.replace(/^#/, '') || '/places';
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

function setNav(current) {
  const signedIn = Boolean(getToken());
  document.getElementById('nav').hidden = !signedIn;
  document.getElementById('signout').hidden = !signedIn;
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
  if (!getToken()) {
    setNav(null);
    main.replaceChildren(signIn());
    document.title = 'Connexion — siaod';
    return;
  }
  const { path, query } = parseHash();
  if (path === '/' || path === '') {
    go('/places');
    return;
  }
  const r = routes.find((x) => x.re.test(path));
  setNav(r ? r.nav : null);
  const container = h('div', { class: 'page' });
  main.replaceChildren(container);
  if (!r) {
    container.append(h('h1', {}, 'Page introuvable'), h('p', {}, h('a', { href: '#/places' }, 'Retour aux places libres')));
    return;
  }
  const ctx = {
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

function signIn() {
  const form = h('form', { class: 'card signin', novalidate: true },
    h('div', { class: 'field' },
      h('label', { for: 'token' }, "Jeton d'accès"),
      h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'token-hint' }),
      h('p', { class: 'hint', id: 'token-hint' },
        "Collez le jeton fourni par votre administrateur. Il reste dans cet onglet seulement et s'efface à sa fermeture.")),
    h('button', { type: 'submit', class: 'primary' }, 'Se connecter'));
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
      await loadPorteurs(true); // every role may read the porteurs: checks the token
    } catch (e) {
      setToken('');
      showProblem(e);
      form.elements.token.focus();
      return;
    }
    notify('Connecté·e.');
    route(true);
  });
  return h('div', { class: 'page' },
    h('h1', {}, 'Connexion'),
    h('p', {}, 'siaod aide les référents SIAO à trouver une place pour les jeunes accompagnés, et les porteurs à gérer leurs offres.'),
    form);
}

function signOut() {
  setToken('');
  forgetCaches();
  sessionStorage.removeItem('siaod.porteur');
  route();
  notify('Déconnecté·e : le jeton a été effacé de cet onglet.');
}

onUnauthorized(() => {
  setToken('');
  forgetCaches();
  if (document.querySelector('#main form.signin')) return; // a sign-in attempt: it says so itself
  generation += 1; // the page that got the 401 stops there
  setNav(null);
  document.getElementById('main').replaceChildren(signIn());
  showError('Connexion refusée', 'Jeton absent, inconnu, expiré ou révoqué : collez un jeton valide.');
});

window.addEventListener('hashchange', () => route());
document.getElementById('signout').addEventListener('click', signOut);
document.getElementById('skip').addEventListener('click', (ev) => {
  ev.preventDefault();
  document.getElementById('main').focus();
});
if (getToken()) loadPorteurs().catch(() => {});
route();
