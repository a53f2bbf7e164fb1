// The notification centre: the person's own notifications, newest first,
// unread ones marked; opening one marks it read and goes where it is handled.
// The unread count in the header is refreshUnread's (app.js calls it on
// every page change; the newest call's answer wins).
import { h } from '../dom.js';
import { api } from '../api.js';
import { showProblem, notify } from '../alerts.js';
import { busy } from '../forms.js';
import { NOTIFICATION_KINDS, label, plural } from '../i18n.js';

const WHEN = new Intl.DateTimeFormat('fr-FR', { dateStyle: 'medium', timeStyle: 'short' });

// The header's link: "Notifications (3)"; hidden for a token of no account.
// Called on every page change without waiting (app.js) and by this page:
// several may be in flight, and their answers may land in any order (each
// request can take its own connection, and the server answers them as its
// database connections come free). Only the newest call's answer is shown:
// an older one landing last would put back a count from before a
// notification was opened.
let unreadAsked = 0;

export async function refreshUnread(me) {
  const mine = ++unreadAsked;
  const bell = document.getElementById('bell');
  if (!bell) return;
  if (!me || !me.account_id) {
    bell.hidden = true;
    return;
  }
  let n = 0;
  try {
    n = (await api('GET', '/notifications', { query: { limit: 1, unread: 'true' } })).data.unread;
  } catch (e) {
    return; // the count is a convenience: the page itself shows what went wrong
  }
  if (mine !== unreadAsked) return; // a newer call was made meanwhile: its answer is the one to show
  bell.hidden = false;
  const count = bell.querySelector('.badge');
  count.textContent = String(n);
  count.hidden = n === 0;
  bell.setAttribute('aria-label', n ? `Notifications : ${plural(n, 'non lue', 'non lues')}` : 'Notifications');
}

async function open(ctx, item) {
  if (!item.read_at) {
    try {
      await api('POST', `/notifications/${item.id}/read`);
    } catch (e) {
      showProblem(e);
      return;
    }
  }
  window.location.hash = item.link && item.link.startsWith('#/') ? item.link : '#/notifications';
  if (window.location.hash === '#/notifications') ctx.reload();
}

export async function render(ctx) {
  ctx.title('Notifications');
  ctx.el.append(h('h1', {}, 'Notifications'));
  if (!ctx.me.account_id) {
    ctx.el.append(h('p', {}, "Vous êtes connecté·e avec un jeton d'accès qui n'appartient à aucun compte personnel : "
      + "les notifications sont adressées aux personnes."));
    return;
  }
  const unreadOnly = ctx.query.get('non_lues') === '1';
  const { data } = await api('GET', '/notifications', { query: { limit: 100, unread: unreadOnly ? 'true' : undefined } });
  if (!ctx.current()) return;
  await refreshUnread(ctx.me);
  ctx.el.append(
    h('p', {}, data.unread ? `${plural(data.unread, 'notification non lue', 'notifications non lues')}.`
      : 'Aucune notification non lue.', ' ',
    unreadOnly ? h('a', { href: '#/notifications' }, 'Tout afficher')
      : h('a', { href: '#/notifications?non_lues=1' }, 'Afficher les non lues seulement')),
    h('p', { class: 'hint' }, 'Choisissez ce que vous recevez par e-mail dans ',
      h('a', { href: '#/compte' }, 'Mon compte'), '.'));
  if (!data.items.length) {
    ctx.el.append(h('p', {}, 'Rien pour le moment.'));
    return;
  }
  const list = h('ul', { class: 'notifications' }, data.items.map((item) => {
    const btn = h('button', { type: 'button', class: 'secondary' }, 'Ouvrir');
    btn.addEventListener('click', () => busy(btn, () => open(ctx, item)));
    return h('li', { class: item.read_at ? 'read' : 'unread' },
      h('p', { class: 'title' }, item.read_at ? null : h('strong', { class: 'tag' }, 'Nouveau '),
        item.urgent ? h('strong', { class: 'tag urgent' }, 'Urgent ') : null,
        h('span', {}, item.title)),
      h('p', {}, item.text),
      h('p', { class: 'meta' }, `${label(NOTIFICATION_KINDS, item.kind)} · ${WHEN.format(new Date(item.created_at))} `, btn));
  }));
  ctx.el.append(list);
  if (data.next_cursor) ctx.el.append(h('p', { class: 'hint' }, 'Seules les 100 plus récentes sont affichées.'));
  if (!unreadOnly && data.unread) {
    const all = h('button', { type: 'button' }, 'Tout marquer comme lu');
    all.addEventListener('click', () => busy(all, async () => {
      try {
        for (const item of data.items.filter((x) => !x.read_at)) await api('POST', `/notifications/${item.id}/read`);
      } catch (e) {
        showProblem(e);
        return;
      }
      notify('Notifications marquées comme lues.');
      ctx.reload();
    }));
    ctx.el.append(h('p', {}, all));
  }
}
