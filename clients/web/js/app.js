// siaod web UI: sign-in, hash routing (#/places, #/youth, #/youth/12,
// #/stays, #/porteur, #/indicators, #/plans), the menus of the token's role
// (GET /v1/me) and the page frame.
import { h } from './dom.js';
import {
  getToken, setToken, onUnauthorized, loadPorteurs, forgetCaches, loadMe, porteurName,
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
};
const MENUS = {
  referent: ['places', 'youth', 'stays', 'indicators', 'plans', 'imports'],
  porteur: ['porteur', 'places', 'stays', 'indicators', 'imports'],
  admin: ['places', 'youth', 'stays', 'porteur', 'indicators', 'plans', 'imports'],
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
  const signedIn = Boolean(getToken() && me);
  document.getElementById('nav').hidden = !signedIn;
  document.getElementById('signout').hidden = !signedIn;
  const who = document.getElementById('who');
  who.hidden = !signedIn;
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
    who.textContent = `${ROLES[me.role] || me.role}${scope}`;
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
  if (!getToken()) {
    setNav(null, null);
    main.replaceChildren(signIn());
    document.title = 'Connexion — siaod';
    return;
  }
  let me;
  try {
    me = await loadMe();
    await loadPorteurs().catch(() => {}); // the names the pages show
  } catch (e) {
    if (gen === generation && getToken()) showProblem(e);
    return; // a 401 shows the sign-in itself
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
      h('p', {}, `Votre jeton (${lower(ROLES[me.role] || me.role)}) ne donne pas accès à cette page.`), home);
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
  setNav(null, null);
  document.getElementById('main').replaceChildren(signIn());
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
