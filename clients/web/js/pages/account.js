// People: « Mon compte » (my sessions, sign out everywhere) for everyone,
// and for admins the accounts (invite by e-mail, change a role or a scope,
// disable, a new invitation link) and the audit of one person.
import { h } from '../dom.js';
import { api, listAll, porteurName, loadPorteurs } from '../api.js';
import { showProblem, notify, showError } from '../alerts.js';
import { busy } from '../forms.js';
import { ROLES, label, NOTIFICATION_KINDS, NOTIFICATION_MODES } from '../i18n.js';

const WHEN = new Intl.DateTimeFormat('fr-FR', { dateStyle: 'medium', timeStyle: 'short' });
const when = (ts) => (ts ? WHEN.format(new Date(ts)) : '—');

function scopeOf(a) {
  if (a.role === 'referent') return `Départements ${a.departements.join(', ')}`;
  if (a.role === 'porteur') return porteurName(a.porteur_id);
  return 'Tout';
}

export async function renderMine(ctx) {
  ctx.title('Mon compte');
  const { me } = ctx;
  ctx.el.append(h('h1', {}, 'Mon compte'));
  if (!me.account_id) {
    ctx.el.append(h('p', {}, "Vous êtes connecté·e avec un jeton d'accès qui n'appartient à aucun compte personnel."));
    return;
  }
  ctx.el.append(h('dl', { class: 'facts' },
    h('dt', {}, 'Adresse e-mail'), h('dd', {}, me.email || '—'),
    h('dt', {}, 'Nom'), h('dd', {}, me.display_name || '—'),
    h('dt', {}, 'Rôle'), h('dd', {}, label(ROLES, me.role)),
    h('dt', {}, 'Périmètre'), h('dd', {}, scopeOf(me))));
  await renderPreferences(ctx);
  if (!ctx.current()) return;
  const { data } = await api('GET', '/me/sessions');
  if (!ctx.current()) return;
  const rows = data.items.map((s) => {
    const end = h('button', { type: 'button', class: 'secondary' }, s.current ? 'Se déconnecter' : 'Fermer cette session');
    end.addEventListener('click', () => busy(end, async () => {
      try {
        await api('DELETE', `/me/sessions/${s.id}`);
      } catch (e) {
        showProblem(e);
        return;
      }
      if (s.current) {
        window.location.replace('#/');
        window.location.reload();
        return;
      }
      notify('Session fermée.');
      ctx.reload();
    }));
    return h('tr', {},
      h('td', {}, s.device, s.current ? h('strong', {}, ' (cette session)') : null),
      h('td', {}, s.method === 'oidc' ? 'ProConnect' : 'Mot de passe'),
      h('td', {}, when(s.created_at)),
      h('td', {}, when(s.last_used_at)),
      h('td', {}, end));
  });
  const everywhere = h('button', { type: 'button', class: 'danger' }, 'Se déconnecter partout');
  everywhere.addEventListener('click', () => busy(everywhere, async () => {
    try {
      await api('DELETE', '/me/sessions');
    } catch (e) {
      showProblem(e);
      return;
    }
    window.location.replace('#/');
    window.location.reload();
  }));
  ctx.el.append(h('h2', {}, 'Mes sessions ouvertes'),
    h('table', { class: 'list sessions' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Appareil'), h('th', {}, 'Connexion'), h('th', {}, 'Ouverte le'),
        h('th', {}, 'Dernière activité'), h('th', {}, h('span', { class: 'visually-hidden' }, 'Action')))),
      h('tbody', {}, rows)),
    h('p', {}, everywhere));
}

// What the person receives by e-mail, per kind of notification; everything
// stays in the notification centre whatever the choice.
async function renderPreferences(ctx) {
  const { data } = await api('GET', '/me/notification-preferences');
  if (!ctx.current()) return;
  const selects = data.items.map((it) => {
    const id = `pref-${it.kind}`;
    const sel = h('select', { id, name: it.kind },
      Object.keys(NOTIFICATION_MODES).map((m) => h('option', { value: m, selected: it.mode === m },
        NOTIFICATION_MODES[m] + (m === it.default ? ' (par défaut)' : ''))));
    return { kind: it.kind, sel, row: h('p', { class: 'field' }, h('label', { for: id }, label(NOTIFICATION_KINDS, it.kind)), sel) };
  });
  const save = h('button', { type: 'submit' }, 'Enregistrer mes préférences');
  const form = h('form', { class: 'prefs' }, selects.map((x) => x.row), h('p', {}, save));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(form, async () => {
      try {
        await api('POST', '/me/notification-preferences',
          { body: { items: selects.map((x) => ({ kind: x.kind, mode: x.sel.value })) } });
      } catch (e) {
        showProblem(e);
        return;
      }
      notify('Préférences de notification enregistrées.');
    });
  });
  ctx.el.append(h('h2', {}, 'Mes notifications par e-mail'),
    h('p', { class: 'hint' }, `Le récapitulatif quotidien part chaque jour à ${data.digest_hour} h (heure de Paris). `,
      'Toutes les notifications restent visibles dans ', h('a', { href: '#/notifications' }, 'Notifications'), '.'),
    form);
}

function scopeFields(prefix, a, porteurs) {
  const role = h('select', { id: `${prefix}-role`, name: 'role' },
    ['referent', 'porteur', 'admin'].map((r) => h('option', { value: r, selected: a && a.role === r }, ROLES[r])));
  const deps = h('input', { id: `${prefix}-deps`, name: 'departements', value: a ? a.departements.join(', ') : '', 'aria-describedby': `${prefix}-deps-hint` });
  const porteur = h('select', { id: `${prefix}-porteur`, name: 'porteur_id' },
    h('option', { value: '' }, '—'),
    porteurs.map((p) => h('option', { value: String(p.id), selected: a && a.porteur_id === p.id }, p.name)));
  return {
    nodes: [
      h('div', { class: 'field' }, h('label', { for: `${prefix}-role` }, 'Rôle'), role),
      h('div', { class: 'field' }, h('label', { for: `${prefix}-deps` }, 'Départements (référents)'), deps,
        h('p', { class: 'hint', id: `${prefix}-deps-hint` }, 'Séparés par des virgules, par exemple 34, 30.')),
      h('div', { class: 'field' }, h('label', { for: `${prefix}-porteur` }, 'Porteur (porteurs)'), porteur),
    ],
    read() {
      const out = { role: role.value };
      if (role.value === 'referent') {
        out.departements = deps.value.split(/[,\s]+/).map((d) => d.trim().toUpperCase()).filter(Boolean);
      }
      if (role.value === 'porteur') out.porteur_id = porteur.value ? Number(porteur.value) : null;
      return out;
    },
  };
}

export async function renderAdmin(ctx) {
  ctx.title('Comptes');
  const [items, porteurs] = await Promise.all([listAll('/accounts'), loadPorteurs()]);
  if (!ctx.current()) return;
  ctx.el.append(h('h1', {}, 'Comptes'));

  // invite
  const scope = scopeFields('new', null, porteurs);
  const shown = h('div', { class: 'invitation', 'aria-live': 'polite' });
  const form = h('form', { class: 'card', novalidate: true },
    h('h2', {}, 'Inviter une personne'),
    h('div', { class: 'field' }, h('label', { for: 'new-email' }, 'Adresse e-mail'),
      h('input', { type: 'email', id: 'new-email', name: 'email', required: true })),
    h('div', { class: 'field' }, h('label', { for: 'new-name' }, 'Nom affiché'),
      h('input', { id: 'new-name', name: 'display_name' })),
    scope.nodes,
    h('button', { type: 'submit', class: 'primary' }, 'Inviter'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(form, async () => {
      const body = { email: form.elements.email.value.trim(), ...scope.read() };
      const name = form.elements.display_name.value.trim();
      if (name) body.display_name = name;
      let a;
      try {
        a = (await api('POST', '/accounts', { body })).data;
      } catch (e) {
        showProblem(e, 'Invitation');
        return;
      }
      shown.replaceChildren(invitationBox(a));
      notify(a.invitation_mailed ? 'Invitation envoyée par e-mail.' : 'Compte créé : transmettez le lien ci-dessous.');
    });
  });
  ctx.el.append(form, shown);

  // the list
  const rows = items.map((a) => accountRow(ctx, a, porteurs, shown));
  ctx.el.append(h('h2', {}, 'Personnes'),
    h('table', { class: 'list accounts' },
      h('thead', {}, h('tr', {}, h('th', {}, 'E-mail'), h('th', {}, 'Nom'), h('th', {}, 'Rôle'), h('th', {}, 'Périmètre'),
        h('th', {}, 'État'), h('th', {}, h('span', { class: 'visually-hidden' }, 'Actions')))),
      h('tbody', {}, rows)));
}

function invitationBox(a) {
  const until = when(a.invitation_expires_at);
  const input = h('input', { id: 'invitation-url', readonly: true, value: a.invitation_url, size: 60 });
  return h('div', { class: 'card' },
    h('p', {}, a.invitation_mailed
      ? `Un e-mail d'invitation a été envoyé à ${a.email}. Le lien ci-dessous est le même (valable jusqu'au ${until}) ; il n'est affiché qu'une fois.`
      : `Lien d'invitation pour ${a.email}, valable jusqu'au ${until}, affiché une seule fois : transmettez-le à la personne.`),
    h('label', { for: 'invitation-url' }, "Lien d'invitation"), input);
}

function accountRow(ctx, a, porteurs, shown) {
  const state = a.disabled_at ? `Désactivé le ${when(a.disabled_at)}`
    : a.has_password || a.oidc_bound ? 'Actif' : 'Invitation en attente';
  const actions = h('td', { class: 'actions' });
  const edit = h('button', { type: 'button', class: 'secondary' }, 'Modifier le périmètre');
  const toggle = h('button', { type: 'button', class: a.disabled_at ? 'secondary' : 'danger' },
    a.disabled_at ? 'Réactiver' : 'Désactiver');
  const again = h('button', { type: 'button', class: 'secondary' }, 'Nouveau lien');
  const journal = h('a', { href: `#/comptes/${a.id}/journal` }, 'Journal');
  actions.append(edit, toggle, a.disabled_at ? null : again, journal);
  edit.addEventListener('click', () => {
    const scope = scopeFields(`edit-${a.id}`, a, porteurs);
    const f = h('form', { class: 'card', novalidate: true }, scope.nodes,
      h('button', { type: 'submit', class: 'primary' }, 'Enregistrer'));
    f.addEventListener('submit', (ev) => {
      ev.preventDefault();
      busy(f, async () => {
        try {
          await api('PATCH', `/accounts/${a.id}`, { body: scope.read(), etag: `"${a.version}"` });
        } catch (e) {
          showProblem(e, 'Périmètre');
          return;
        }
        notify('Périmètre modifié ; les sessions de cette personne ont été fermées.');
        ctx.reload();
      });
    });
    actions.replaceChildren(f);
  });
  toggle.addEventListener('click', () => busy(toggle, async () => {
    if (!a.disabled_at && !window.confirm(`Désactiver le compte ${a.email} ? Ses sessions seront fermées et ses jetons révoqués.`)) return;
    try {
      await api('POST', `/accounts/${a.id}/${a.disabled_at ? 'enable' : 'disable'}`);
    } catch (e) {
      showProblem(e);
      return;
    }
    notify(a.disabled_at ? 'Compte réactivé.' : 'Compte désactivé : ses sessions sont fermées et ses jetons révoqués.');
    ctx.reload();
  }));
  again.addEventListener('click', () => busy(again, async () => {
    try {
      const { data } = await api('POST', `/accounts/${a.id}/invitation`);
      shown.replaceChildren(invitationBox(data));
      shown.scrollIntoView();
    } catch (e) {
      showProblem(e);
    }
  }));
  return h('tr', {},
    h('td', {}, a.email, a.mail_error ? h('p', { class: 'warning' }, `Courriel refusé : ${a.mail_error}`) : null),
    h('td', {}, a.display_name || '—'),
    h('td', {}, label(ROLES, a.role)),
    h('td', {}, scopeOf(a)),
    h('td', {}, state),
    actions);
}

export async function renderAudit(ctx) {
  const id = Number(ctx.params[0]);
  const [{ data: a }, { data: log }] = await Promise.all([
    api('GET', `/accounts/${id}`), api('GET', '/audit', { query: { account: id, limit: 200 } })]);
  if (!ctx.current()) return;
  ctx.title(`Journal de ${a.email}`);
  const OUTCOMES = { ok: 'Fait', denied: 'Refusé', unauthenticated: 'Non authentifié' };
  if (!log.items.length) showError('Journal', 'Aucune action enregistrée pour cette personne.');
  ctx.el.append(h('h1', {}, `Journal de ${a.display_name || a.email}`),
    h('p', {}, h('a', { href: '#/comptes' }, 'Retour aux comptes')),
    h('table', { class: 'list audit' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Quand'), h('th', {}, 'Action'), h('th', {}, 'Objet'),
        h('th', {}, 'Résultat'), h('th', {}, 'Par'))),
      h('tbody', {}, log.items.map((i) => h('tr', {},
        h('td', {}, when(i.at)), h('td', {}, i.action),
        h('td', {}, i.entity ? `${i.entity}${i.entity_id ? ` n° ${i.entity_id}` : ''}` : '—'),
        h('td', {}, `${label(OUTCOMES, i.outcome)} (${i.status})`),
        h('td', {}, i.token_id ? `jeton n° ${i.token_id}` : 'session'))))));
}
