// Young people: the referent's list, the needs form (create / edit), the
// places that fit with the reasons of each score, the rules that excluded the
// others, and a one-click proposal.
import { h, clear } from '../dom.js';
import { api, listAll, porteurName, loadPorteurs } from '../api.js';
import { showProblem, notify, notifyNext, clearAlerts } from '../alerts.js';
import { field, readForm, showFieldErrors, clearFieldErrors, busy } from '../forms.js';
import { communeLabel, resolveCommunes } from '../commune.js';
import {
  GENDERS, HOUSEHOLDS, NEEDS, SITUATIONS, SUPPORT, YOUTH_STATUSES, PLACEMENT_STATUSES,
  KINDS, RULES, FACTORS, REFUSAL_REASONS, label, plural, km, lower,
} from '../i18n.js';
import { today, fr, ageOn, daysBetween } from '../dates.js';

// ------------------------------------------------------------------ list

export async function renderList(ctx) {
  ctx.title('Jeunes suivis');
  const status = ctx.query.get('status') || 'waiting';
  const departement = ctx.query.get('departement') || '';
  const form = h('form', { class: 'filters card', role: 'search', 'aria-label': 'Filtrer les jeunes', novalidate: true },
    field({ name: 'status', label: 'Statut', type: 'select', options: YOUTH_STATUSES }, status),
    field({ name: 'departement', label: 'Département', type: 'text', hint: 'Vide : tous vos départements.', maxlength: 3 }, departement),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Afficher')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    ctx.go('/youth', { status: f.get('status'), departement: String(f.get('departement') || '').trim().toUpperCase() });
  });
  const results = h('section', { 'aria-labelledby': 'youth-results' });
  ctx.el.append(
    h('h1', {}, 'Jeunes suivis'),
    h('p', { class: 'actions' }, h('a', { class: 'button primary', href: '#/youth/new' }, 'Enregistrer un ou une jeune')),
    form, results);

  const items = await listAll('/youth', { status, departement });
  if (!ctx.current()) return;
  const t = today();
  results.append(h('h2', { id: 'youth-results' }, `${label(YOUTH_STATUSES, status)} : ${plural(items.length, 'jeune', 'jeunes')}`));
  if (!items.length) {
    results.append(h('p', {}, 'Personne dans cette liste.'));
    return;
  }
  // longest wait first: that is who needs a place soonest
  items.sort((a, b) => (a.registered_at < b.registered_at ? -1 : a.registered_at > b.registered_at ? 1 : a.id - b.id));
  results.append(h('div', { class: 'table-wrap' }, h('table', { class: 'stack' },
    h('caption', { class: 'visually-hidden' }, 'Jeunes, du plus ancien inscrit au plus récent'),
    h('thead', {}, h('tr', {},
      ['Référence', 'Dép.', 'Âge', 'Situation', 'Besoin d’accompagnement', 'Inscrit·e le', 'Attente'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, items.map((y) => h('tr', {},
      h('td', { dataset: { label: 'Référence' } }, h('a', { href: `#/youth/${y.id}` }, y.ref || `n° ${y.id}`)),
      h('td', { dataset: { label: 'Dép.' } }, y.departement),
      h('td', { dataset: { label: 'Âge' } }, y.birth_date ? `${ageOn(y.birth_date, t)} ans` : '—'),
      h('td', { dataset: { label: 'Situation' } }, label(SITUATIONS, y.situation)),
      h('td', { dataset: { label: 'Accompagnement' } }, label(SUPPORT, y.support_need)),
      h('td', { dataset: { label: 'Inscrit·e le' } }, fr(y.registered_at)),
      h('td', { dataset: { label: 'Attente' } }, plural(Math.max(0, daysBetween(y.registered_at, t)), 'jour', 'jours'))))))));
}

// ------------------------------------------------------------------ form

function specsFor(youth) {
  const specs = [
    { name: 'ref', label: 'Référence du dossier', type: 'text', required: true, maxlength: 64, hint: 'Votre référence interne, jamais un nom.' },
    { name: 'departement', label: 'Département du suivi', type: 'text', required: true, maxlength: 3, hint: 'Par exemple 34, 2A ou 971.' },
    { name: 'birth_date', label: 'Date de naissance', type: 'date', required: true },
    { name: 'gender', label: 'Genre', type: 'select', options: GENDERS, required: true, empty: '— choisir —' },
    { name: 'rqth', label: 'RQTH (reconnaissance de travailleur handicapé : âge limite porté à 29 ans)', type: 'checkbox' },
    { name: 'household', label: 'Composition du foyer', type: 'select', options: HOUSEHOLDS },
    { name: 'has_pets', label: 'A un animal de compagnie', type: 'checkbox' },
    { name: 'needs', label: 'Besoins particuliers', type: 'checkboxes', options: NEEDS },
    { name: 'situation', label: 'Situation actuelle', type: 'select', options: SITUATIONS, required: true, empty: '— choisir —' },
    { name: 'institution_exit_date', label: "Date de sortie d'institution", type: 'date', nullable: true, hint: 'Pour une sortie ASE, PJJ, hôpital… à venir.' },
    { name: 'commune_insee', label: 'Commune souhaitée', type: 'commune', required: true, hint: 'Tapez le début du nom (par exemple « Sète ») et choisissez dans la liste ; le code INSEE convient aussi.' },
    { name: 'max_distance_km', label: 'Distance maximale (km)', type: 'number', min: 1, max: 1000, nullable: true, inputmode: 'numeric', hint: 'Vide : la distance par défaut du service.' },
    { name: 'monthly_income_eur', label: 'Ressources mensuelles (€)', type: 'number', min: 0, step: '0.01', inputmode: 'decimal' },
    { name: 'support_need', label: "Besoin d'accompagnement", type: 'select', options: SUPPORT },
    { name: 'wanted_from', label: 'Entrée souhaitée à partir du', type: 'date', hint: "Vide : dès aujourd'hui." },
    { name: 'wanted_months', label: 'Durée souhaitée (mois)', type: 'number', min: 1, max: 60, inputmode: 'numeric' },
  ];
  if (!youth) {
    specs.push({ name: 'registered_at', label: 'Inscrit·e depuis le', type: 'date', hint: "Pour reprendre une liste d'attente existante ; vide : aujourd'hui." });
  } else if (youth.status !== 'placed') {
    specs.push({ name: 'status', label: 'Statut du dossier', type: 'select', options: { waiting: YOUTH_STATUSES.waiting, closed: YOUTH_STATUSES.closed } });
  }
  return specs;
}

function needsForm(youth, etag, onSaved, onConflict) {
  const specs = specsFor(youth);
  const defaults = youth || { household: 'alone', support_need: 'standard', wanted_months: 6 };
  const form = h('form', { class: 'card youth-form', novalidate: true, 'aria-labelledby': 'youth-form-title' },
    h('h2', { id: 'youth-form-title' }, youth ? 'Fiche et besoins' : 'Fiche et besoins du ou de la jeune'),
    h('p', { class: 'hint' }, 'Pseudonyme : ni nom, ni note libre sur la santé. Les champs marqués « obligatoire » sont nécessaires.'),
    h('div', { class: 'grid' }, specs.map((s) => field(s, defaults[s.name]))),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, youth ? 'Enregistrer les modifications' : 'Enregistrer')));
  let version = etag;
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(form, async () => {
      clearAlerts();
      clearFieldErrors(form);
      await resolveCommunes(form);
      const body = readForm(form, specs, youth);
      try {
        let r;
        if (youth) {
          if (!Object.keys(body).length) {
            notify('Rien à enregistrer : aucune modification.');
            return;
          }
          r = await api('PATCH', `/youth/${youth.id}`, { body, etag: version });
        } else {
          r = await api('POST', '/youth', { body });
        }
        version = r.etag;
        onSaved(r.data);
      } catch (e) {
        // each field's message goes next to it; the alert says what happened
        showFieldErrors(form, e.errors || []);
        showProblem(e, 'Enregistrement de la fiche');
        if (e.status === 412 && onConflict) onConflict(); // changed meanwhile: show the current record
      }
    });
  });
  return form;
}

export async function renderNew(ctx) {
  ctx.title('Nouveau jeune');
  ctx.el.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/youth' }, '← Jeunes suivis')),
    h('h1', {}, 'Enregistrer un ou une jeune'),
    needsForm(null, null, (y) => {
      notifyNext(`Fiche ${y.ref} enregistrée. Voici les places qui conviennent.`);
      ctx.go(`/youth/${y.id}`);
    }));
}

// ------------------------------------------------------------------ one young person

export async function renderOne(ctx) {
  const id = Number(ctx.params[0]);
  const { data: y, etag } = await api('GET', `/youth/${id}`);
  if (!ctx.current()) return;
  ctx.title(`Jeune ${y.ref}`);
  await loadPorteurs().catch(() => {});
  const t = today();
  const placementsBox = h('section', { class: 'card', 'aria-labelledby': 'pl-title' });
  const matchesBox = h('section', { class: 'matches-section', 'aria-labelledby': 'm-title' });
  ctx.el.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/youth' }, '← Jeunes suivis')),
    h('h1', {}, `Jeune ${y.ref}`),
    h('p', { class: 'lead' },
      `${ageOn(y.birth_date, t)} ans · ${label(GENDERS, y.gender)} · ${label(HOUSEHOLDS, y.household)} · ${label(SITUATIONS, y.situation)} · `,
      h('span', { class: ['badge', `st-${y.status}`] }, label(YOUTH_STATUSES, y.status)),
      ` · département ${y.departement} · commune souhaitée : `, communeLabel(y.commune_insee),
      ` · inscrit·e le ${fr(y.registered_at)}`),
    placementsBox,
    matchesBox,
    needsForm(y, etag, (saved) => {
      notifyNext(`Fiche ${saved.ref} enregistrée.`);
      ctx.reload();
    }, () => ctx.reload()));

  const state = { youth: y, open: null };
  const refresh = async () => {
    await renderPlacements(ctx, placementsBox, state, refresh);
    await renderMatches(ctx, matchesBox, state, refresh);
  };
  await refresh();
}

async function renderPlacements(ctx, box, state, refresh) {
  const items = await listAll('/placements', { youth_id: state.youth.id });
  if (!ctx.current()) return;
  state.open = items.find((p) => ['proposed', 'accepted', 'active'].includes(p.status)) || null;
  clear(box).append(h('h2', { id: 'pl-title' }, 'Orientations'));
  if (!items.length) {
    box.append(h('p', {}, 'Aucune orientation pour le moment.'));
    return;
  }
  const list = h('ul', { class: 'placements' });
  items.slice().reverse().forEach((p) => {
    const li = h('li', { class: 'placement', dataset: { placementId: p.id, status: p.status } },
      h('span', { class: ['badge', `pl-${p.status}`] }, label(PLACEMENT_STATUSES, p.status)), ' ',
      h('strong', {}, p.offer_label || `offre n° ${p.offer_id}`),
      ` — ${porteurName(p.porteur_id)}, du ${fr(p.start_date)} au ${fr(p.actual_end_date || p.planned_end_date)}`,
      p.hold_until ? ` (réponse attendue avant le ${fr(p.hold_until)})` : '',
      p.refusal_reason ? ` — motif : ${label(REFUSAL_REASONS, p.refusal_reason)}` : '');
    if (p.status === 'proposed' || p.status === 'accepted') {
      const cancel = h('button', { type: 'button', class: 'small' }, "Annuler l'orientation");
      cancel.addEventListener('click', () => busy(cancel, async () => {
        if (!window.confirm("Annuler cette orientation ? La place sera libérée.")) return;
        try {
          await api('POST', `/placements/${p.id}/cancel`, { body: {} });
          notify('Orientation annulée.');
          await refresh();
        } catch (e) {
          showProblem(e, "Annulation de l'orientation");
        }
      }));
      li.append(' ', cancel);
    }
    list.append(li);
  });
  box.append(list);
}

async function renderMatches(ctx, box, state, refresh) {
  clear(box);
  box.append(h('h2', { id: 'm-title' }, 'Places qui conviennent'));
  const onInput = h('input', { type: 'date', id: 'match-on', name: 'on' });
  const form = h('form', { class: 'inline-form', novalidate: true, 'aria-label': 'Date des places' },
    h('div', { class: 'field' },
      h('label', { for: 'match-on' }, 'Entrée le'),
      onInput,
      h('p', { class: 'hint', id: 'match-on-hint' }, 'Vide : dès que possible (la date souhaitée ou aujourd’hui).')),
    h('button', { type: 'submit' }, 'Actualiser'));
  onInput.setAttribute('aria-describedby', 'match-on-hint');
  if (state.on) onInput.value = state.on;
  const out = h('div', { class: 'matches-out' });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.on = onInput.value;
    busy(form, () => loadMatches(ctx, out, state, refresh));
  });
  box.append(form, out);
  await loadMatches(ctx, out, state, refresh);
}

async function loadMatches(ctx, out, state, refresh) {
  const y = state.youth;
  let data;
  try {
    ({ data } = await api('GET', `/youth/${y.id}/matches`, { query: { explain: 1, limit: 10, on: state.on } }));
  } catch (e) {
    showProblem(e, 'Recherche des places');
    return;
  }
  if (!ctx.current()) return;
  clear(out);
  const canPropose = y.status === 'waiting' && !state.open;
  if (!canPropose) {
    out.append(h('p', { class: 'note' }, state.open
      ? `Une orientation est déjà ${lower(label(PLACEMENT_STATUSES, state.open.status))} : annulez-la pour en proposer une autre.`
      : `Statut « ${label(YOUTH_STATUSES, y.status)} » : pas de nouvelle proposition possible.`));
  }
  if (!data.items.length) {
    out.append(h('p', { class: 'empty' }, h('strong', {}, 'Aucune place ne convient pour le moment.')));
    out.append(exclusions(data, true));
    return;
  }
  const list = h('ol', { class: 'matches' });
  for (const m of data.items) {
    const li = h('li', { class: 'card match', dataset: { offerId: m.offer_id } },
      h('div', { class: 'match-head' },
        h('h3', {}, m.label, m.to_reconfirm ? h('span', { class: ['badge', 'to-reconfirm'] }, ' À reconfirmer') : null),
        h('p', { class: 'score' },
          h('meter', { min: 0, max: 100, low: 40, high: 70, optimum: 100, value: m.score, 'aria-label': `Score ${m.score} sur 100` }),
          h('span', {}, h('strong', {}, String(m.score)), ' / 100'))),
      h('p', { class: 'meta' },
        `${label(KINDS, m.kind)} · ${porteurName(m.porteur_id)} · département ${m.departement} · à ${km(m.distance_km)} · `,
        plural(m.free_places, 'place libre', 'places libres')),
      h('p', {}, `Entrée le ${fr(m.start_date)}, fin prévue le ${fr(m.end_date)}.`),
      h('details', { class: 'reasons', open: true },
        h('summary', {}, 'Pourquoi ce score'),
        h('ul', {}, m.reasons.map((r) => h('li', {},
          h('span', { class: 'factor' }, label(FACTORS, r.factor)), ' : ',
          h('strong', {}, plural(r.points, 'point', 'points')), ` — ${r.detail}`)))));
    if (canPropose) {
      const btn = h('button', { type: 'button', class: 'primary' }, `Proposer cette place (du ${fr(m.start_date)} au ${fr(m.end_date)})`);
      btn.addEventListener('click', () => busy(btn, async () => {
        try {
          // the dates the card showed are the dates booked
          await api('POST', '/placements', { body: { youth_id: y.id, offer_id: m.offer_id, start_date: m.start_date, planned_end_date: m.end_date } });
          notify(`Place proposée : « ${m.label} ». Le porteur doit l'accepter.`);
          await refresh();
        } catch (e) {
          showProblem(e, 'Proposition');
        }
      }));
      li.append(h('div', { class: 'actions' }, btn));
    }
    list.append(li);
  }
  out.append(list, exclusions(data, false));
}

// The offers the rules set aside, by rule, in the matcher's order.
function exclusions(data, open) {
  const ex = data.excluded || {};
  const rows = Object.keys(RULES).filter((r) => ex[r] > 0);
  const total = rows.reduce((n, r) => n + ex[r], 0);
  const body = h('div', { class: 'exclusions' });
  if (!rows.length) {
    body.append(h('p', {}, data.offers_considered ? "Aucune offre n'a été écartée." : "Aucune offre n'est enregistrée pour l'instant."));
  } else {
    body.append(
      h('p', {}, `${plural(total, 'offre écartée', 'offres écartées')} sur ${data.offers_considered}, par la première règle non respectée :`),
      h('table', { class: 'excluded' },
        h('caption', { class: 'visually-hidden' }, 'Offres écartées par règle'),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Règle'), h('th', { scope: 'col' }, 'Offres'))),
        h('tbody', {}, rows.map((r) => h('tr', { dataset: { rule: r } }, h('td', {}, RULES[r]), h('td', { class: 'num' }, String(ex[r])))))));
  }
  const hints = hintLines(data);
  if (hints.length) {
    body.append(h('p', {}, 'Ce qui changerait la réponse :'),
      h('ul', { class: 'hints' }, hints.map(([rule, text]) => h('li', { dataset: { rule } }, text))));
  }
  return h('details', { class: 'card why', open: open || undefined },
    h('summary', {}, open ? 'Pourquoi aucune place' : 'Pourquoi pas les autres offres'), body);
}

// What would change the answer (explain=1 "hints"), one plain French sentence each.
function hintLines(data) {
  const hi = data.hints || {};
  const out = [];
  if (hi.distance) {
    out.push(['distance', `L'offre la plus proche écartée pour la seule distance, « ${hi.distance.label} », est à ${km(hi.distance.distance_km)} : `
      + `elle conviendrait avec une distance maximale d'au moins ${km(hi.distance.distance_km)}.`]);
  }
  if (hi.age) {
    out.push(['age', `L'âge demandé par « ${hi.age.label} » sera atteint le ${fr(hi.age.old_enough_on)} : `
      + 'relancez la recherche à partir de cette date.']);
  }
  if (hi.no_free_place) {
    out.push(['no_free_place', `Une place de « ${hi.no_free_place.label} » se libère le ${fr(hi.no_free_place.free_from)} `
      + 'pour toute la durée souhaitée : une entrée est possible à partir de cette date.']);
  }
  return out;
}
