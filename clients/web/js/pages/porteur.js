// A porteur's page: proposals to accept or refuse (with what the porteur may
// know of the young person), entries and exits to record, its offers
// (capacity, closing) and a form to add one. A porteur's token sees its own
// structure (GET /v1/me's porteur_id); an admin picks one.
import { h, clear, uid } from '../dom.js';
import { api, listAll, loadPorteurs, porteurName, rememberOffer } from '../api.js';
import { showProblem, notify, clearAlerts } from '../alerts.js';
import { field, readForm, showFieldErrors, clearFieldErrors, busy } from '../forms.js';
import { communeLabel, resolveCommunes } from '../commune.js';
import {
  KINDS, OFFER_GENDERS, SUPPORT, OFFER_STATUSES, REFUSAL_REASONS, DESTINATIONS, AGE_BANDS, HOUSEHOLDS,
  SITUATIONS, NEEDS, label, plural, lower,
} from '../i18n.js';
import { today, fr } from '../dates.js';
import { level, daysLeftText } from './stays.js';

const PORTEUR_KEY = 'siaod.porteur';

export async function render(ctx) {
  ctx.title('Espace porteur');
  if (ctx.me.role === 'porteur') {
    const id = ctx.me.porteur_id;
    ctx.el.append(h('h1', {}, `Espace porteur : ${porteurName(id)}`));
    await renderPorteur(ctx, id);
    return;
  }
  const porteurs = await loadPorteurs();
  if (!ctx.current()) return;
  const fromHash = Number(ctx.query.get('id'));
  const stored = Number(sessionStorage.getItem(PORTEUR_KEY));
  const id = [fromHash, stored].find((x) => x && porteurs.some((p) => p.id === x)) || null;

  const pick = h('form', { class: 'filters card', novalidate: true, 'aria-label': 'Choisir le porteur' },
    field({
      name: 'id',
      label: 'Porteur',
      type: 'select',
      empty: '— choisir un porteur —',
      options: Object.fromEntries(porteurs.slice().sort((a, b) => a.name.localeCompare(b.name, 'fr'))
        .map((p) => [String(p.id), `${p.name} (${p.departement})`])),
      hint: 'Administration : le porteur dont vous voulez voir la page (gardé dans cet onglet).',
    }, id ? String(id) : null),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Afficher')));
  pick.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = pick.querySelector('select').value;
    if (v) sessionStorage.setItem(PORTEUR_KEY, v);
    ctx.go('/porteur', { id: v });
  });
  ctx.el.append(h('h1', {}, id ? `Espace porteur : ${porteurName(id)}` : 'Espace porteur'), pick);
  if (!id) {
    ctx.el.append(h('p', {}, 'Choisissez un porteur pour voir ses offres et les propositions reçues.'));
    return;
  }
  sessionStorage.setItem(PORTEUR_KEY, String(id));
  await renderPorteur(ctx, id);
}

async function renderPorteur(ctx, id) {
  const sections = {
    proposed: h('section', { class: 'card', 'aria-labelledby': 'sec-proposed' }),
    accepted: h('section', { class: 'card', 'aria-labelledby': 'sec-accepted' }),
    stays: h('section', { class: 'card', 'aria-labelledby': 'sec-stays' }),
    offers: h('section', { class: 'offers-section', 'aria-labelledby': 'sec-offers' }),
  };
  ctx.el.append(sections.proposed, sections.accepted, sections.stays, sections.offers, newOfferForm(id, () => reload()));

  async function reload() {
    try {
      await Promise.all([
        renderPlacements(ctx, sections.proposed, id, 'proposed', reload),
        renderPlacements(ctx, sections.accepted, id, 'accepted', reload),
        renderStays(ctx, sections.stays, id, reload),
        renderOffers(ctx, sections.offers, id, reload),
      ]);
    } catch (e) {
      if (ctx.current()) showProblem(e);
    }
  }
  await reload();
}

// An action button that posts and reloads the page's sections.
function actionButton(text, cls, run, reload, done, confirmText) {
  const btn = h('button', { type: 'button', class: cls }, text);
  btn.addEventListener('click', () => busy(btn, async () => {
    if (confirmText && !window.confirm(confirmText)) return;
    clearAlerts();
    const item = btn.closest('li'); // its fields take the API's field errors
    if (item) clearFieldErrors(item);
    try {
      await run();
      // the sections first, then the message: whoever acts on the message
      // (a person, a test) then acts on the new sections, not on old ones
      await reload();
      notify(done);
    } catch (e) {
      if (item) showFieldErrors(item, e.errors || []);
      showProblem(e, text);
    }
  }));
  return btn;
}

// What the porteur may know of the young person (never the ref nor the birth date).
export function youthSummary(p) {
  const y = p.youth || {};
  const parts = [`jeune n° ${p.youth_id}`];
  if (y.age_band) parts.push(label(AGE_BANDS, y.age_band));
  if (y.household) parts.push(lower(label(HOUSEHOLDS, y.household)));
  if (y.situation) parts.push(lower(label(SITUATIONS, y.situation)));
  if (y.support_need) parts.push(`accompagnement ${lower(label(SUPPORT, y.support_need))}`);
  const needs = (y.needs || []).map((n) => lower(label(NEEDS, n)));
  parts.push(needs.length ? `besoins : ${needs.join(', ')}` : 'sans besoin particulier');
  return parts.join(' · ');
}

async function renderPlacements(ctx, box, porteurId, status, reload) {
  const items = await listAll('/placements', { status, porteur_id: porteurId });
  if (!ctx.current()) return;
  const title = status === 'proposed' ? 'Propositions à accepter ou refuser' : 'Entrées à enregistrer';
  clear(box).append(h('h2', { id: `sec-${status}` }, `${title} (${items.length})`));
  if (!items.length) {
    box.append(h('p', {}, status === 'proposed' ? 'Aucune proposition en attente.' : 'Aucune entrée en attente.'));
    return;
  }
  const list = h('ul', { class: 'actions-list' });
  items.forEach((p) => {
    const li = h('li', { class: 'placement', dataset: { placementId: p.id, status: p.status } },
      h('p', {}, h('strong', {}, p.offer_label || `offre n° ${p.offer_id}`), ` — place n° ${p.place_number}`),
      h('p', { class: 'youth-summary' }, youthSummary(p)),
      h('p', { class: 'meta' },
        `Orientation n° ${p.id} · suivi·e dans le département ${p.youth_departement} · du ${fr(p.start_date)} au ${fr(p.planned_end_date)}`,
        p.hold_until ? ` · à traiter avant le ${fr(p.hold_until)}` : ''));
    if (status === 'proposed') {
      const reasonId = uid('reason');
      const reason = h('select', { id: reasonId, name: 'reason' },
        Object.entries(REFUSAL_REASONS).map(([k, v]) => h('option', { value: k }, v)));
      li.append(h('div', { class: 'row-actions' },
        actionButton('Accepter', 'primary', () => api('POST', `/placements/${p.id}/accept`, { body: {} }), reload,
          `Orientation n° ${p.id} acceptée : enregistrez l'entrée le jour venu.`),
        h('div', { class: 'field inline', dataset: { field: 'reason' } }, h('label', { for: reasonId }, 'Motif du refus'), reason),
        actionButton('Refuser', 'danger', () => api('POST', `/placements/${p.id}/refuse`, { body: { reason: reason.value } }), reload,
          `Orientation n° ${p.id} refusée.`)));
    } else {
      const dateId = uid('enter');
      const date = h('input', { type: 'date', id: dateId, name: 'date', value: today(), max: today() });
      li.append(h('div', { class: 'row-actions' },
        h('div', { class: 'field inline', dataset: { field: 'date' } }, h('label', { for: dateId }, "Date d'entrée"), date),
        actionButton("Enregistrer l'entrée", 'primary',
          () => api('POST', `/placements/${p.id}/enter`, { body: date.value ? { date: date.value } : {} }), reload,
          `Entrée enregistrée pour l'orientation n° ${p.id}.`)));
    }
    list.append(li);
  });
  box.append(list);
}

async function renderStays(ctx, box, porteurId, reload) {
  const items = await listAll('/stays', { porteur_id: porteurId });
  if (!ctx.current()) return;
  clear(box).append(h('h2', { id: 'sec-stays' }, `Séjours en cours (${items.length})`));
  if (!items.length) {
    box.append(h('p', {}, 'Aucun séjour en cours.'));
    return;
  }
  const list = h('ul', { class: 'actions-list' });
  items.forEach((s) => {
    const dateId = uid('exit');
    const destId = uid('dest');
    const date = h('input', { type: 'date', id: dateId, name: 'date', value: today(), max: today() });
    const dest = h('select', { id: destId, name: 'destination' },
      h('option', { value: '' }, '— choisir —'),
      Object.entries(DESTINATIONS).map(([k, v]) => h('option', { value: k }, v)));
    const l = level(s.days_left);
    list.append(h('li', { class: 'placement', dataset: { placementId: s.id, status: s.status } },
      h('p', {}, h('strong', {}, s.offer_label || `offre n° ${s.offer_id}`), ` — place n° ${s.place_number}`),
      h('p', { class: 'youth-summary' }, youthSummary(s)),
      h('p', { class: 'meta' }, `Entrée le ${fr(s.start_date)} · fin prévue le ${fr(s.planned_end_date)} · `,
        h('span', { class: ['days', `lvl-${l}`] }, daysLeftText(s.days_left))),
      h('div', { class: 'row-actions' },
        h('div', { class: 'field inline', dataset: { field: 'date' } }, h('label', { for: dateId }, 'Date de sortie'), date),
        h('div', { class: 'field inline', dataset: { field: 'destination' } }, h('label', { for: destId }, 'Destination'), dest),
        actionButton('Enregistrer la sortie', '',
          () => api('POST', `/placements/${s.id}/exit`, { body: { date: date.value, destination: dest.value || undefined } }), reload,
          `Sortie enregistrée pour le séjour n° ${s.id}.`))));
  });
  box.append(list);
}

async function renderOffers(ctx, box, porteurId, reload) {
  const items = await listAll('/offers', { porteur_id: porteurId });
  if (!ctx.current()) return;
  clear(box).append(h('h2', { id: 'sec-offers' }, `Offres (${items.length})`));
  if (!items.length) {
    box.append(h('p', {}, 'Aucune offre enregistrée : ajoutez-en une ci-dessous.'));
    return;
  }
  const list = h('ul', { class: 'cards' });
  for (const o of items) {
    rememberOffer(o);
    const capId = uid('cap');
    const cap = h('input', { type: 'number', id: capId, name: 'capacity', min: 0, max: 1000, value: String(o.capacity), inputmode: 'numeric' });
    const capForm = h('form', { class: 'row-actions', novalidate: true, 'aria-label': `Capacité de ${o.label}` },
      h('div', { class: 'field inline', dataset: { field: 'capacity' } }, h('label', { for: capId }, 'Capacité (places)'), cap),
      h('button', { type: 'submit' }, 'Enregistrer la capacité'));
    capForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      busy(capForm, async () => {
        clearAlerts();
        clearFieldErrors(capForm);
        const n = Number(cap.value);
        try {
          // If-Match: the version this page showed; a change made meanwhile is a 412
          await api('PATCH', `/offers/${o.id}`, { body: { capacity: Number.isInteger(n) && cap.value !== '' ? n : cap.value }, etag: `"${o.version}"` });
          notify(`Capacité de « ${o.label} » : ${plural(n, 'place', 'places')}.`);
          await reload();
        } catch (e) {
          showFieldErrors(capForm, e.errors || []);
          showProblem(e, 'Changement de capacité');
          if (e.status === 412) await reload();
        }
      });
    });
    const card = h('li', { class: ['card', 'offer', `offer-${o.status}`], dataset: { offerId: o.id } },
      h('h3', {}, o.label, ' ', h('span', { class: ['badge', `of-${o.status}`] }, label(OFFER_STATUSES, o.status)),
        o.to_reconfirm ? h('span', { class: ['badge', 'to-reconfirm'] }, ' À reconfirmer') : null),
      h('p', { class: 'meta' }, `${label(KINDS, o.kind)} · `, communeLabel(o.commune_insee), ` (${o.departement}) · ${o.max_stay_days ? `${o.max_stay_days} jours au plus` : 'sans durée maximale'}`),
      h('p', { class: 'free' }, h('strong', {}, plural(o.free_places, 'place libre', 'places libres')), ` aujourd'hui sur ${plural(o.capacity, 'place', 'places')}`),
      capForm);
    if (o.status === 'open') {
      // "toujours à jour": the porteur confirms the capacity as it stands
      card.append(h('div', { class: 'row-actions' }, actionButton('Toujours à jour', o.to_reconfirm ? 'primary' : '',
        () => api('POST', `/offers/${o.id}/confirm`), reload, `Offre « ${o.label} » reconfirmée.`)));
      card.append(h('div', { class: 'row-actions' }, actionButton("Fermer l'offre", 'danger',
        () => api('DELETE', `/offers/${o.id}`), reload, `Offre « ${o.label} » fermée.`,
        `Fermer l'offre « ${o.label} » ? Elle ne sera plus proposée (les séjours en cours continuent).`)));
    } else {
      card.append(h('div', { class: 'row-actions' }, actionButton("Rouvrir l'offre", '',
        () => api('PATCH', `/offers/${o.id}`, { body: { status: 'open' }, etag: `"${o.version}"` }), reload,
        `Offre « ${o.label} » rouverte.`)));
    }
    list.append(card);
  }
  box.append(list);
}

const OFFER_SPECS = [
  { name: 'kind', label: "Type d'offre", type: 'select', options: KINDS, required: true, empty: '— choisir —' },
  { name: 'label', label: 'Intitulé', type: 'text', required: true, maxlength: 200, hint: 'Par exemple « Studio-tiroir rue des Lilas ».' },
  { name: 'commune_insee', label: 'Commune', type: 'commune', required: true, hint: 'Tapez le début du nom (par exemple « Sète ») et choisissez dans la liste ; le code INSEE convient aussi.' },
  { name: 'capacity', label: 'Capacité (places)', type: 'number', required: true, min: 0, max: 1000, inputmode: 'numeric' },
  { name: 'max_stay_days', label: 'Durée maximale de séjour (jours)', type: 'number', min: 1, max: 3650, nullable: true, inputmode: 'numeric', hint: 'Vide : la durée par défaut du type (colocation : 90 jours au plus).' },
  { name: 'min_age', label: 'Âge minimum', type: 'number', min: 16, max: 30, inputmode: 'numeric' },
  { name: 'max_age', label: 'Âge maximum', type: 'number', min: 16, max: 30, inputmode: 'numeric' },
  { name: 'gender', label: 'Public', type: 'select', options: OFFER_GENDERS },
  { name: 'accepts_couples', label: 'Accepte les couples', type: 'checkbox' },
  { name: 'accepts_children', label: 'Accepte les enfants', type: 'checkbox' },
  { name: 'accepts_pets', label: 'Accepte les animaux', type: 'checkbox' },
  { name: 'wheelchair_accessible', label: 'Accessible en fauteuil roulant', type: 'checkbox' },
  { name: 'support_level', label: 'Accompagnement proposé', type: 'select', options: SUPPORT },
  { name: 'monthly_charge_eur', label: 'Reste à charge mensuel (€)', type: 'number', min: 0, step: '0.01', inputmode: 'decimal' },
  { name: 'available_from', label: 'Disponible à partir du', type: 'date', hint: "Vide : dès aujourd'hui." },
  { name: 'available_until', label: "Disponible jusqu'au", type: 'date', hint: 'Vide : sans date de fin.' },
];

function newOfferForm(porteurId, reload) {
  const defaults = { gender: 'any', support_level: 'standard', min_age: 16, max_age: 29, capacity: 1, monthly_charge_eur: 0 };
  const form = h('form', { class: 'card new-offer', novalidate: true, 'aria-labelledby': 'new-offer-title' },
    h('h2', { id: 'new-offer-title' }, 'Ajouter une offre'),
    h('div', { class: 'grid' }, OFFER_SPECS.map((s) => field(s, defaults[s.name]))),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, "Enregistrer l'offre")));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(form, async () => {
      clearAlerts();
      clearFieldErrors(form);
      await resolveCommunes(form);
      const body = { porteur_id: porteurId, ...readForm(form, OFFER_SPECS) };
      try {
        const { data } = await api('POST', '/offers', { body });
        notify(`Offre « ${data.label} » enregistrée : ${plural(data.capacity, 'place', 'places')}.`);
        form.reset();
        await reload();
      } catch (e) {
        showFieldErrors(form, e.errors || []);
        showProblem(e, "Enregistrement de l'offre");
      }
    });
  });
  return form;
}
