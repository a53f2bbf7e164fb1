// Stays ending soon: active stays, soonest end first, with the days left
// coloured by threshold (≤ 7 red, ≤ 14 orange, ≤ 30 yellow).
import { h } from '../dom.js';
import { api, porteurName, loadPorteurs } from '../api.js';
import { field } from '../forms.js';
import { AGE_BANDS, label, plural } from '../i18n.js';
import { fr } from '../dates.js';

const WITHIN = { 7: '7 jours', 14: '14 jours', 30: '30 jours', 60: '60 jours', 90: '90 jours', 365: 'un an' };

export function level(daysLeft) {
  if (daysLeft <= 7) return 'red';
  if (daysLeft <= 14) return 'orange';
  if (daysLeft <= 30) return 'yellow';
  return 'none';
}

const LEVEL_TEXT = { red: '7 jours ou moins', orange: '14 jours ou moins', yellow: '30 jours ou moins', none: 'plus de 30 jours' };

export function daysLeftText(d) {
  if (d < 0) return `dépassée de ${plural(-d, 'jour', 'jours')}`;
  if (d === 0) return "aujourd'hui";
  return plural(d, 'jour', 'jours');
}

export async function render(ctx) {
  ctx.title('Fins de séjour');
  const within = WITHIN[ctx.query.get('days')] ? ctx.query.get('days') : '30';
  const departement = ctx.query.get('departement') || '';
  const form = h('form', { class: 'filters card', role: 'search', 'aria-label': 'Filtrer les séjours', novalidate: true },
    field({ name: 'days', label: 'Fin prévue dans les', type: 'select', options: WITHIN }, within),
    field({ name: 'departement', label: "Département de l'offre", type: 'text', hint: 'Vide : tous.', maxlength: 3 }, departement),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Afficher')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    ctx.go('/stays', { days: f.get('days'), departement: String(f.get('departement') || '').trim().toUpperCase() });
  });
  const results = h('section', { 'aria-labelledby': 'stays-results' });
  ctx.el.append(
    h('h1', {}, 'Séjours qui se terminent bientôt'),
    h('p', { class: 'lead' }, 'Les séjours en cours, de la fin prévue la plus proche à la plus lointaine, pour préparer la suite à temps.'),
    form,
    h('ul', { class: 'legend', 'aria-label': 'Légende des couleurs' },
      ['red', 'orange', 'yellow'].map((l) => h('li', {}, h('span', { class: ['days', `lvl-${l}`] }, LEVEL_TEXT[l])))),
    results);

  const youthRecords = ctx.me.role !== 'porteur'; // a porteur never opens a young person's record
  const query = { ending_within_days: within, departement, limit: 200 };
  const [{ data }] = await Promise.all([api('GET', '/stays', { query }), loadPorteurs().catch(() => {})]);
  if (!ctx.current()) return;
  results.append(h('h2', { id: 'stays-results' },
    `${plural(data.items.length, 'séjour', 'séjours')} finissant dans les ${WITHIN[within]}${departement ? ` (département ${departement})` : ''}`));
  if (!data.items.length) {
    results.append(h('p', {}, 'Aucun séjour ne se termine dans cette période.'));
    return;
  }
  results.append(h('div', { class: 'table-wrap' }, h('table', { class: 'stack stays' },
    h('caption', { class: 'visually-hidden' }, 'Séjours en cours, fin la plus proche en premier'),
    h('thead', {}, h('tr', {}, ['Jours restants', 'Fin prévue', 'Offre', 'Porteur', 'Dép.', 'Jeune', 'Entrée'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, data.items.map((s) => {
      const l = level(s.days_left);
      return h('tr', { class: `row-${l}`, dataset: { placementId: s.id, daysLeft: s.days_left } },
        h('td', { dataset: { label: 'Jours restants' } },
          h('span', { class: ['days', `lvl-${l}`], title: LEVEL_TEXT[l] }, daysLeftText(s.days_left))),
        h('td', { dataset: { label: 'Fin prévue' } }, fr(s.planned_end_date)),
        h('td', { dataset: { label: 'Offre' } }, s.offer_label || `offre n° ${s.offer_id}`),
        h('td', { dataset: { label: 'Porteur' } }, porteurName(s.porteur_id)),
        h('td', { dataset: { label: 'Dép.' } }, s.departement),
        // the referent's own file reference when the API gives it (never to a porteur)
        h('td', { dataset: { label: 'Jeune' } }, youthRecords
          ? h('a', { href: `#/youth/${s.youth_id}` }, s.ref ? `${s.ref} (n° ${s.youth_id})` : `n° ${s.youth_id}`)
          : `n° ${s.youth_id}${s.youth && s.youth.age_band ? ` (${label(AGE_BANDS, s.youth.age_band)})` : ''}`),
        h('td', { dataset: { label: 'Entrée' } }, fr(s.start_date)));
    })))));
  if (data.next_cursor) {
    results.append(h('p', { class: 'note' }, 'Seuls les 200 premiers séjours sont affichés : affinez par département.'));
  }
}
