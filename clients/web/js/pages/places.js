// Free places: offers with their free places on a date, filtered by
// département and kind, and the dates places free up in the months after.
import { h, clear } from '../dom.js';
import { api, pool, loadPorteurs, porteurName, rememberOffer } from '../api.js';
import { showProblem } from '../alerts.js';
import { field, busy } from '../forms.js';
import { communeLabel } from '../commune.js';
import { KINDS, OFFER_GENDERS, SUPPORT, label, plural, euros } from '../i18n.js';
import { today, addDays, fr } from '../dates.js';

const HORIZON_DAYS = 183; // how far ahead "frees up" looks (the API allows 366)

export async function render(ctx) {
  ctx.title('Places libres');
  const q = ctx.query;
  const date = q.get('date') || today();
  const show = q.get('show') === 'all' ? 'all' : 'free';
  const filters = {
    departement: q.get('departement') || '',
    kind: q.get('kind') || '',
    date,
    show,
  };

  const specs = [
    { name: 'departement', label: 'Département', type: 'text', hint: 'Par exemple 34, 2A ou 971 ; vide : tous.', maxlength: 3 },
    { name: 'kind', label: "Type d'offre", type: 'select', options: KINDS, empty: 'Tous les types' },
    { name: 'date', label: 'Libre le', type: 'date' },
    { name: 'show', label: 'Afficher', type: 'select', options: { free: 'Avec une place libre ce jour-là', all: 'Toutes les offres ouvertes' } },
  ];
  const form = h('form', { class: 'filters card', role: 'search', 'aria-label': 'Filtrer les offres', novalidate: true },
    ...specs.map((s) => field(s, filters[s.name])),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Rechercher')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    ctx.go('/places', {
      departement: String(f.get('departement') || '').trim().toUpperCase(),
      kind: f.get('kind'),
      date: f.get('date'),
      show: f.get('show') === 'all' ? 'all' : '',
    });
  });

  const results = h('section', { class: 'results', 'aria-labelledby': 'places-results' });
  ctx.el.append(
    h('h1', {}, 'Places libres'),
    h('p', { class: 'lead' }, "Les offres d'hébergement et leurs places libres à une date, puis les dates où des places se libèrent."),
    form,
    results);

  const query = {
    departement: filters.departement,
    kind: filters.kind,
    available_on: date,
    status: 'open',
    min_free: show === 'free' ? 1 : '',
  };
  await loadPorteurs().catch(() => {});
  await loadPage(ctx, results, query, date, null);
}

async function loadPage(ctx, results, query, date, cursor) {
  let data;
  try {
    ({ data } = await api('GET', '/offers', { query: { ...query, limit: 50, cursor } }));
  } catch (e) {
    showProblem(e, 'Recherche des offres');
    return;
  }
  if (!ctx.current()) return;
  let list = results.querySelector('ul.cards');
  if (!cursor) {
    clear(results);
    results.append(h('h2', { id: 'places-results' },
      data.items.length === 0 ? 'Aucune offre ne correspond' : `Offres au ${fr(date)}`));
    if (data.items.length === 0) {
      results.append(h('p', {}, query.min_free
        ? "Aucune offre n'a de place libre ce jour-là avec ces filtres. Essayez « Toutes les offres ouvertes » pour voir quand des places se libèrent."
        : 'Aucune offre ouverte avec ces filtres.'));
      return;
    }
    list = h('ul', { class: 'cards', 'aria-label': 'Offres' });
    results.append(list);
  }
  results.querySelector('.more')?.remove();
  const cards = data.items.map((o) => {
    rememberOffer(o);
    const card = offerCard(o, date);
    list.append(card);
    return card;
  });
  if (data.next_cursor) {
    const more = h('button', { type: 'button', class: 'more' }, 'Voir plus d’offres');
    more.addEventListener('click', () => busy(more, () => loadPage(ctx, results, query, date, data.next_cursor)));
    results.append(more);
  }
  // the dates places free up, a few offers at a time
  await pool(data.items, 4, async (o, i) => {
    const slot = cards[i].querySelector('.frees');
    try {
      const { data: av } = await api('GET', `/offers/${o.id}/availability`, {
        query: { from: date, to: addDays(date, HORIZON_DAYS) },
      });
      clear(slot).append(freesUp(av));
    } catch (e) {
      clear(slot).append('Dates de libération indisponibles.');
    }
  });
}

function offerCard(o, date) {
  const accepts = [];
  if (o.accepts_couples) accepts.push('couples');
  if (o.accepts_children) accepts.push('enfants');
  if (o.accepts_pets) accepts.push('animaux');
  if (o.wheelchair_accessible) accepts.push('accès fauteuil roulant');
  const free = o.free_places;
  return h('li', { class: 'card offer', dataset: { offerId: o.id } },
    h('h3', {}, o.label),
    h('p', { class: 'meta' }, label(KINDS, o.kind), ' · ', communeLabel(o.commune_insee), ` (${o.departement})`, ' · ', porteurName(o.porteur_id)),
    h('p', { class: ['free', free > 0 ? 'free-yes' : 'free-no'] },
      h('strong', {}, free > 0 ? plural(free, 'place libre', 'places libres') : 'Aucune place libre'),
      ` le ${fr(date)} sur ${plural(o.capacity, 'place', 'places')}`),
    h('dl', { class: 'facts' },
      h('div', {}, h('dt', {}, 'Séjour'), h('dd', {}, o.max_stay_days ? `${o.max_stay_days} jours au plus` : 'sans durée maximale')),
      h('div', {}, h('dt', {}, 'Âge'), h('dd', {}, `${o.min_age} à ${o.max_age} ans`)),
      h('div', {}, h('dt', {}, 'Public'), h('dd', {}, label(OFFER_GENDERS, o.gender))),
      h('div', {}, h('dt', {}, 'Accepte'), h('dd', {}, accepts.length ? accepts.join(', ') : 'personne seule, sans animal')),
      h('div', {}, h('dt', {}, 'Accompagnement'), h('dd', {}, label(SUPPORT, o.support_level))),
      h('div', {}, h('dt', {}, 'Reste à charge'), h('dd', {}, `${euros(o.monthly_charge_eur)} par mois`))),
    h('p', { class: 'frees' }, 'Recherche des dates de libération…'));
}

function freesUp(av) {
  if (!av.frees_up.length) return `Aucune place ne se libère d'ici le ${fr(av.to)}.`;
  const shown = av.frees_up.slice(0, 6);
  return h('span', {},
    h('span', { class: 'frees-label' }, 'Places qui se libèrent : '),
    shown.map((f, i) => [i ? ', ' : '', h('time', { datetime: f.date }, fr(f.date)), ` (${plural(f.places, 'place', 'places')})`]),
    av.frees_up.length > shown.length ? `, et ${av.frees_up.length - shown.length} autre(s) date(s)` : '',
    '.');
}
