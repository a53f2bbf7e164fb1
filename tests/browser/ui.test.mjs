// Browser tests of the siaod web UI, in headless Debian Chromium driven by
// playwright-core, against the real daemon and database that
// run_ui_tests.py started. Needs SIAOD_UI_URL and SIAOD_UI_FIXTURE (tokens
// and porteur ids); screenshots go to tests/browser/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = path.join(HERE, 'artifacts');
const BASE = process.env.SIAOD_UI_URL;
const FIXTURE = JSON.parse(process.env.SIAOD_UI_FIXTURE || 'null');
if (!BASE || !FIXTURE) {
  console.error('run through tests/browser/run_ui_tests.py (it starts siaod and sets SIAOD_UI_URL, SIAOD_UI_FIXTURE)');
  process.exit(2);
}
const T = FIXTURE.tokens;
const PHONE = { width: 375, height: 812 };
const LAPTOP = { width: 1280, height: 900 };

// ------------------------------------------------------------------ dates ("today" as siaod counts it)

function parisToday() {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Paris', year: 'numeric', month: '2-digit', day: '2-digit' })
    .format(new Date());
}
function addDays(iso, n) {
  const [y, m, d] = iso.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}
function addYears(iso, n) {
  const [y, m, d] = iso.split('-').map(Number);
  return new Date(Date.UTC(y + n, m - 1, d)).toISOString().slice(0, 10);
}
const fr = (iso) => iso.split('-').reverse().join('/');
const TODAY = parisToday();

// ------------------------------------------------------------------ API set-up

async function call(token, method, p, body) {
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${BASE}/v1${p}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null, etag: res.headers.get('ETag') };
}

async function ok(token, method, p, body, status = [200, 201]) {
  const r = await call(token, method, p, body);
  assert.ok([].concat(status).includes(r.status), `${method} ${p} -> ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}

function youthBody(ref, extra = {}) {
  return {
    ref,
    departement: '34',
    birth_date: addYears(TODAY, -20),
    gender: 'female',
    situation: 'street',
    commune_insee: '34172',
    wanted_months: 6,
    ...extra,
  };
}

// ------------------------------------------------------------------ browser

let context;
let userDataDir;
const problems = []; // CSP violations and uncaught page errors, from every page

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'siaod-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.SIAOD_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic'],
    locale: 'fr-FR',
    timezoneId: 'Europe/Paris',
    viewport: LAPTOP,
  });
  context.setDefaultTimeout(15000);
  // the first page of a persistent context is already open: close it, each test opens its own
  for (const p of context.pages()) await p.close();
});

after(async () => {
  if (context) await context.close();
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
});

async function newPage(name) {
  const page = await context.newPage();
  page.on('console', (msg) => {
    const text = msg.text();
    if (/Content Security Policy|Refused to (apply|execute|load|connect)/i.test(text)) problems.push(`${name}: ${text}`);
  });
  page.on('pageerror', (err) => problems.push(`${name}: uncaught ${err.message}`));
  page.on('dialog', (d) => d.accept());
  return page;
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

async function signIn(page, token) {
  await page.goto(`${BASE}/ui/`);
  await page.getByLabel("Jeton d'accès").fill(token);
  await page.getByRole('button', { name: 'Se connecter' }).click();
  await page.getByRole('navigation', { name: 'Navigation principale' }).waitFor();
}

async function visit(page, hash) {
  await page.evaluate((h) => { window.location.hash = h; }, hash);
  await page.locator('main h1').first().waitFor();
}

// No page may scroll sideways on a phone.
async function assertFitsPhone(page, what) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `${what}: ${overflow}px wider than the ${PHONE.width}px screen`);
}

// Every form control has a label (or is inside a fieldset with a legend and has its own label).
async function assertLabelled(page, what) {
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
    .filter((el) => el.type !== 'hidden' && el.labels.length === 0 && !el.getAttribute('aria-label'))
    .map((el) => el.name || el.id || el.outerHTML.slice(0, 60)));
  assert.deepEqual(unlabelled, [], `${what}: fields without a <label>`);
}

// ------------------------------------------------------------------ tests

test('sign-in by pasting a token, with the keyboard; a wrong token is refused', async () => {
  const page = await newPage('signin');
  await page.goto(`${BASE}/ui/`);
  assert.equal(await page.getAttribute('html', 'lang'), 'fr');
  await page.getByRole('heading', { name: 'Connexion' }).waitFor();
  await assertLabelled(page, 'sign-in');
  // keyboard only: Tab to the field, type, Enter
  await page.keyboard.press('Tab'); // skip link
  await page.keyboard.press('Tab');
  for (let i = 0; i < 5 && !(await page.evaluate(() => document.activeElement && document.activeElement.id === 'token')); i++) {
    await page.keyboard.press('Tab');
  }
  assert.equal(await page.evaluate(() => document.activeElement.id), 'token', 'Tab reaches the token field');
  await page.keyboard.type('not-a-real-token');
  await page.keyboard.press('Enter');
  const alert = page.locator('#alerts');
  await alert.getByText('Connexion refusée').first().waitFor();
  assert.equal(await alert.getAttribute('role'), 'alert');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('siaod.token')), null, 'a refused token is not kept');
  assert.equal(await page.getByRole('button', { name: 'Se déconnecter' }).isVisible(), false);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'token', 'the focus goes back to the field');
  await shot(page, '01-signin-refused');

  await page.getByLabel("Jeton d'accès").fill(T.referent);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Places libres' }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('siaod.token')), T.referent, 'kept in sessionStorage');
  assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing in localStorage');
  // a reload keeps the session (same tab)
  await page.reload();
  await page.getByRole('heading', { name: 'Places libres' }).waitFor();
  await page.getByRole('button', { name: 'Se déconnecter' }).click();
  await page.getByRole('heading', { name: 'Connexion' }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('siaod.token')), null);
  await page.close();
});

test('(a) a referent registers a young person, sees why places fit and proposes one in one click', async () => {
  const pm = FIXTURE.porteurs.montpellier;
  const offer = await ok(T.admin, 'POST', '/offers', {
    porteur_id: pm, kind: 'alt', label: 'Logement ALT Les Arceaux', commune_insee: '34172', capacity: 3,
    monthly_charge_eur: 120, support_level: 'standard',
  });
  const page = await newPage('referent-a');
  await signIn(page, T.referent);
  await visit(page, '#/youth/new');
  await assertLabelled(page, 'new young person form');

  const form = page.locator('form.youth-form');
  await form.getByLabel('Référence du dossier').fill('DOSS-A1');
  await form.getByLabel('Département du suivi').fill('34');
  await form.getByLabel('Date de naissance').fill(addYears(TODAY, -20));
  await form.getByLabel('Genre').selectOption('female');
  await form.getByLabel('Situation actuelle').selectOption('street');
  await form.getByLabel('Commune souhaitée (code INSEE)').fill('99999'); // no such commune
  await form.getByLabel('Ressources mensuelles (€)').fill('450');
  await form.getByRole('button', { name: 'Enregistrer' }).click();

  // the API's error (pointer /commune_insee, code unknown_value) shows next to the field, in French
  const err = form.locator('.field[data-field="commune_insee"] .field-error');
  await err.waitFor();
  assert.equal((await err.textContent()).trim(), "Aucune commune n'a ce code INSEE.");
  assert.equal(await form.getByLabel('Commune souhaitée (code INSEE)').getAttribute('aria-invalid'), 'true');
  await page.locator('#alerts').getByText('Demande invalide', { exact: false }).waitFor();
  await shot(page, '02-youth-form-error');

  await form.getByLabel('Commune souhaitée (code INSEE)').fill('34172');
  await form.getByRole('button', { name: 'Enregistrer' }).click();
  await page.waitForURL(/#\/youth\/\d+$/);
  const youthId = Number(page.url().match(/#\/youth\/(\d+)$/)[1]);
  await page.getByRole('heading', { name: 'Jeune DOSS-A1' }).waitFor();
  await page.locator('#status').getByText('Fiche DOSS-A1 enregistrée').waitFor();

  // the ranked matches, each with the reasons behind its score
  const card = page.locator('li.match', { hasText: 'Logement ALT Les Arceaux' });
  await card.waitFor();
  const score = Number(await card.locator('.score strong').textContent());
  const points = await card.locator('.reasons li strong').allTextContents();
  assert.equal(points.length, 5, 'five factors');
  assert.equal(points.map((t) => parseInt(t, 10)).reduce((a, b) => a + b, 0), score, 'the points sum to the score');
  const reasons = await card.locator('.reasons').textContent();
  for (const f of ['Distance', 'Durée de séjour', 'Coût', 'Accompagnement', 'Disponibilité']) assert.match(reasons, new RegExp(f));
  await shot(page, '03-youth-matches');

  await card.getByRole('button', { name: /Proposer cette place/ }).click();
  await page.locator('#status').getByText('Place proposée').waitFor();
  await page.locator('.placements li[data-status="proposed"]', { hasText: 'Logement ALT Les Arceaux' }).waitFor();
  // no second proposal while this one is open
  assert.equal(await page.getByRole('button', { name: /Proposer cette place/ }).count(), 0);
  await shot(page, '04-youth-proposed');

  const pl = await ok(T.admin, 'GET', `/placements?youth_id=${youthId}`);
  assert.equal(pl.items.length, 1);
  assert.equal(pl.items[0].status, 'proposed');
  assert.equal(pl.items[0].offer_id, offer.id);

  // the young person is in the referent's waiting list
  await visit(page, '#/youth');
  await page.getByRole('link', { name: 'DOSS-A1' }).waitFor();
  await page.setViewportSize(PHONE);
  await assertFitsPhone(page, 'youth list');
  await shot(page, '05-youth-list-phone');
  await page.close();
});

test('(a2) when nothing fits, the page says which rules excluded how many offers; editing the needs (If-Match) changes that', async () => {
  const y = await ok(T.admin, 'POST', '/youth', youthBody('DOSS-PETS', { has_pets: true }));
  const page = await newPage('referent-a2');
  await page.setViewportSize(PHONE);
  await signIn(page, T.referent);
  await visit(page, `#/youth/${y.id}`);
  await page.getByText('Aucune place ne convient pour le moment.').waitFor();
  const row = page.locator('table.excluded tr[data-rule="pets"]');
  await row.waitFor();
  assert.match(await row.textContent(), /Animaux non acceptés/);
  assert.ok(Number(await row.locator('td.num').textContent()) >= 1);
  await assertFitsPhone(page, 'young person page');
  await assertLabelled(page, 'young person page');
  await shot(page, '06-youth-no-match-phone');

  // someone else changes the record meanwhile: the UI's PATCH (If-Match) gets a 412
  await ok(T.admin, 'PATCH', `/youth/${y.id}`, { wanted_months: 5 });
  await page.getByLabel('A un animal de compagnie').uncheck();
  await page.getByRole('button', { name: 'Enregistrer les modifications' }).click();
  await page.locator('#alerts').getByText('Modifié entre-temps').waitFor();
  // the page shows the current record again; the change is made once more
  await page.locator('.field[data-field="wanted_months"] input[value="5"]').waitFor();
  await page.getByLabel('A un animal de compagnie').uncheck();
  await page.getByRole('button', { name: 'Enregistrer les modifications' }).click();
  await page.locator('#status').getByText('Fiche DOSS-PETS enregistrée').waitFor();
  await page.locator('li.match', { hasText: 'Logement ALT Les Arceaux' }).waitFor();
  const saved = await ok(T.admin, 'GET', `/youth/${y.id}`);
  assert.equal(saved.has_pets, false);
  assert.equal(saved.wanted_months, 5);
  await page.close();
});

test('(b) a porteur accepts a proposal, records the entry, adds capacity; the referent finds it', async () => {
  const ps = FIXTURE.porteurs.sete;
  const offer = await ok(T.admin, 'POST', '/offers', {
    porteur_id: ps, kind: 'studio_tiroir', label: 'Studio-tiroir Le Môle', commune_insee: '34301', capacity: 1,
  });
  const y = await ok(T.admin, 'POST', '/youth', youthBody('DOSS-B1', { commune_insee: '34301' }));
  await ok(T.referent, 'POST', '/placements', { youth_id: y.id, offer_id: offer.id, start_date: TODAY });

  // the referent's search: the studio is full today
  const ref = await newPage('referent-b');
  await signIn(ref, T.referent);
  await visit(ref, '#/places?departement=34&kind=studio_tiroir');
  await ref.getByRole('heading', { name: 'Aucune offre ne correspond' }).waitFor();

  // the porteur's page
  const page = await newPage('porteur-b');
  await signIn(page, T.porteur_sete);
  await page.getByRole('link', { name: 'Porteur' }).click();
  await page.getByLabel('Porteur', { exact: true }).selectOption(String(ps));
  await page.getByRole('button', { name: 'Afficher' }).click();
  await page.getByRole('heading', { name: /Espace porteur : Association d'essai de Sète/ }).waitFor();
  await assertLabelled(page, 'porteur page');

  const proposal = page.locator('li.placement[data-status="proposed"]', { hasText: 'Studio-tiroir Le Môle' });
  await proposal.waitFor();
  await shot(page, '07-porteur-proposal');
  await proposal.getByRole('button', { name: 'Accepter' }).click();
  await page.locator('#status').getByText('acceptée').waitFor();
  const accepted = page.locator('li.placement[data-status="accepted"]', { hasText: 'Studio-tiroir Le Môle' });
  await accepted.getByRole('button', { name: "Enregistrer l'entrée" }).click();
  await page.locator('#status').getByText('Entrée enregistrée').waitFor();
  await page.locator('li.placement[data-status="active"]', { hasText: 'Studio-tiroir Le Môle' }).waitFor();

  // more capacity on the studio offer (PATCH with If-Match)
  const offerCard = page.locator(`li.offer[data-offer-id="${offer.id}"]`);
  await offerCard.getByLabel('Capacité (places)').fill('2');
  await offerCard.getByRole('button', { name: 'Enregistrer la capacité' }).click();
  await page.locator('#status').getByText('2 places').waitFor();
  await page.locator(`li.offer[data-offer-id="${offer.id}"] .free`, { hasText: '1 place libre' }).waitFor();

  // a new offer: first refused (a shared flat caps stays at 90 days), then corrected
  const add = page.locator('form.new-offer');
  await add.getByLabel("Type d'offre").selectOption('shared_flat');
  await add.getByLabel('Intitulé').fill('Colocation Les Salins');
  await add.getByLabel('Commune (code INSEE)').fill('34301');
  await add.getByLabel('Capacité (places)').fill('3');
  await add.getByLabel('Durée maximale de séjour (jours)').fill('120');
  await add.getByRole('button', { name: "Enregistrer l'offre" }).click();
  await add.locator('.field[data-field="max_stay_days"] .field-error').waitFor();
  assert.match(await add.locator('.field[data-field="max_stay_days"] .field-error').textContent(), /90 jours au plus/);
  await add.getByLabel('Durée maximale de séjour (jours)').fill('');
  await add.getByRole('button', { name: "Enregistrer l'offre" }).click();
  await page.locator('#status').getByText('Colocation Les Salins').waitFor();
  await page.locator('li.offer', { hasText: 'Colocation Les Salins' }).waitFor();
  await shot(page, '08-porteur-page');
  await page.setViewportSize(PHONE);
  await assertFitsPhone(page, 'porteur page');
  await shot(page, '09-porteur-page-phone');
  await page.close();

  // the referent's search now shows both, with the date the studio's other place frees up
  await visit(ref, '#/places?departement=34');
  const studio = ref.locator(`li.offer[data-offer-id="${offer.id}"]`);
  await studio.waitFor();
  assert.match(await studio.locator('.free').textContent(), /1 place libre/);
  const end = addDays(TODAY, 180); // the studio-tiroir default cap
  await studio.locator('.frees', { hasText: fr(end) }).waitFor();
  const flat = ref.locator('li.offer', { hasText: 'Colocation Les Salins' });
  await flat.waitFor();
  assert.match(await flat.locator('.free').textContent(), /3 places libres/);
  await assertLabelled(ref, 'places page');
  await shot(ref, '10-places');
  await ref.setViewportSize(PHONE);
  await assertFitsPhone(ref, 'places page');
  await shot(ref, '11-places-phone');
  await ref.close();
});

test('(c) a stay ending in 5 days shows, in red, in the ending-soon view', async () => {
  const pm = FIXTURE.porteurs.montpellier;
  const offer = await ok(T.admin, 'POST', '/offers', {
    porteur_id: pm, kind: 'shared_flat', label: 'Colocation Antigone', commune_insee: '34172', capacity: 2, max_stay_days: 90,
  });
  const y = await ok(T.admin, 'POST', '/youth', youthBody('DOSS-C1'));
  const pl = await ok(T.referent, 'POST', '/placements', { youth_id: y.id, offer_id: offer.id, start_date: TODAY });
  await ok(T.porteur_montpellier, 'POST', `/placements/${pl.id}/accept`, {});
  await ok(T.porteur_montpellier, 'POST', `/placements/${pl.id}/enter`, { date: addDays(TODAY, -85) });
  const stays = await ok(T.referent, 'GET', '/stays?ending_within_days=7');
  const stay = stays.items.find((s) => s.id === pl.id);
  assert.ok(stay, 'the stay is in the API answer');
  assert.equal(stay.days_left, 5);

  const page = await newPage('referent-c');
  await signIn(page, T.referent);
  await page.getByRole('link', { name: 'Fins de séjour' }).click();
  await page.getByRole('heading', { name: 'Séjours qui se terminent bientôt' }).waitFor();
  const row = page.locator(`tr[data-placement-id="${pl.id}"]`);
  await row.waitFor();
  assert.equal(await row.getAttribute('data-days-left'), '5');
  assert.match(await row.getAttribute('class'), /row-red/);
  assert.match(await row.locator('.days').getAttribute('class'), /lvl-red/);
  assert.match(await row.textContent(), /5 jours/);
  assert.match(await row.textContent(), /Colocation Antigone/);
  assert.match(await row.textContent(), new RegExp(fr(addDays(TODAY, 5))));
  // the stay of test (b) ends in 180 days: not within 30
  assert.equal(await page.locator('tr', { hasText: 'Studio-tiroir Le Môle' }).count(), 0);
  await assertLabelled(page, 'stays page');
  await shot(page, '12-stays');

  // filters: département and days
  await page.getByLabel('Fin prévue dans les').selectOption('7');
  await page.getByLabel("Département de l'offre").fill('34');
  await page.getByRole('button', { name: 'Afficher' }).click();
  await page.waitForURL(/days=7/);
  await page.locator(`tr[data-placement-id="${pl.id}"]`).waitFor();
  await page.getByLabel('Fin prévue dans les').selectOption('365');
  await page.getByRole('button', { name: 'Afficher' }).click();
  const later = page.locator('tr', { hasText: 'Studio-tiroir Le Môle' });
  await later.waitFor();
  assert.match(await later.getAttribute('class'), /row-none/);
  await visit(page, '#/stays?days=30&departement=11');
  await page.getByText('Aucun séjour ne se termine dans cette période.').waitFor();
  await visit(page, '#/stays?days=30');
  await page.setViewportSize(PHONE);
  await page.locator(`tr[data-placement-id="${pl.id}"]`).waitFor();
  await assertFitsPhone(page, 'stays page');
  await shot(page, '13-stays-phone');
  await page.close();
});

test('(d) a porteur refuses a proposal, records an exit and closes an offer', async () => {
  const pm = FIXTURE.porteurs.montpellier;
  const page = await newPage('porteur-d');
  await signIn(page, T.porteur_montpellier);
  await visit(page, `#/porteur?id=${pm}`);
  await page.getByRole('heading', { name: /Espace porteur : Foyer d'essai de Montpellier/ }).waitFor();

  // the proposal of test (a), refused with a reason
  const proposal = page.locator('li.placement[data-status="proposed"]', { hasText: 'Logement ALT Les Arceaux' });
  const placementId = Number(await proposal.getAttribute('data-placement-id'));
  await proposal.getByLabel('Motif du refus').selectOption('incompatible_needs');
  await proposal.getByRole('button', { name: 'Refuser' }).click();
  await page.locator('#status').getByText('refusée').waitFor();
  const refused = await ok(T.admin, 'GET', `/placements/${placementId}`);
  assert.equal(refused.status, 'refused');
  assert.equal(refused.refusal_reason, 'incompatible_needs');

  // the stay of test (c) ends: without a destination the API refuses it (the message goes next to the field)
  const stay = page.locator('li.placement[data-status="active"]', { hasText: 'Colocation Antigone' });
  const stayId = Number(await stay.getAttribute('data-placement-id'));
  await stay.getByRole('button', { name: 'Enregistrer la sortie' }).click();
  await page.locator('#alerts').getByText('Demande invalide').waitFor();
  assert.equal(await stay.locator('.field[data-field="destination"] .field-error').textContent(), 'Ce champ est obligatoire.');
  await stay.getByLabel('Destination').selectOption('durable_housing');
  await stay.getByRole('button', { name: 'Enregistrer la sortie' }).click();
  await page.locator('#status').getByText('Sortie enregistrée').waitFor();
  const ended = await ok(T.admin, 'GET', `/placements/${stayId}`);
  assert.equal(ended.status, 'ended');
  assert.equal(ended.exit_destination, 'durable_housing');

  // closing an offer (after a confirmation dialog, accepted here)
  const card = page.locator('li.offer', { hasText: 'Colocation Antigone' });
  await card.getByRole('button', { name: "Fermer l'offre" }).click();
  await page.locator('#status').getByText('fermée').waitFor();
  await page.locator('li.offer.offer-closed', { hasText: 'Colocation Antigone' })
    .getByRole('button', { name: "Rouvrir l'offre" }).waitFor();
  await shot(page, '14-porteur-after-actions');
  await page.close();
});

test('no Content-Security-Policy violation and no uncaught error on any page', () => {
  assert.deepEqual(problems, []);
});
