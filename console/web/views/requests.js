// Access requests: the queue of pending requests with Approve (granting a
// role, with a comment) and Deny (with a comment), and the decided ones
// with who decided and when.
import { h, initials, hue, uid, ago, time } from '../dom.js';
import { get, post, enc } from '../api.js';
import { button, field, formDialog, notice, pageHeader, statusBadge, badge, load, table } from '../ui.js';
import { people } from '../people.js';

export async function render(main, ctx) {
  const queue = h('div');
  const decided = h('div');
  main.append(
    pageHeader('Access requests', 'People who signed in without access, or want more, ask for a role here. Approving grants it and activates them; every decision is final and audited.'),
    h('section', { class: 'section', 'aria-labelledby': 'pending-h' }, h('div', { class: 'panel-head' }, h('h2', { id: 'pending-h' }, 'Waiting for a decision')), queue),
    h('section', { class: 'section', 'aria-labelledby': 'decided-h' }, h('div', { class: 'panel-head' }, h('h2', { id: 'decided-h' }, 'Decided')), decided));

  const who = people(ctx);
  const apps = appNames(ctx);
  const refresh = () => Promise.all([load(queue, pending), load(decided, history)]);

  async function pending() {
    const page = await get('/access-requests', { status: 'pending', limit: 100 });
    await who.resolve(page.items.map((r) => r.user_id));
    await apps.resolve(page.items);
    if (!page.items.length) return h('p', { class: 'empty' }, 'No request is waiting. New ones appear here and in the badge beside “Access requests”.');
    return h('ul', { class: 'cards', 'aria-label': 'Pending requests' }, page.items.map((r) => requestCard(ctx, who, apps, r, refresh)));
  }

  async function history() {
    const items = [];
    let cursor;
    // The newest decisions; the list is newest first across states.
    for (let i = 0; i < 3 && items.length < 20; i += 1) {
      const page = await get('/access-requests', { limit: 50, cursor });
      items.push(...page.items.filter((r) => r.status !== 'pending'));
      cursor = page.next_cursor;
      if (!cursor) break;
    }
    await who.resolve([...items.map((r) => r.user_id), ...items.map((r) => actorID(r.decided_by))]);
    await apps.resolve(items);
    if (!items.length) return h('p', { class: 'empty' }, 'No decisions yet.');
    return table({
      caption: 'Decided requests',
      columns: ['User', 'Requested', 'Decision', 'Decided by', 'When', 'Comment'],
      rows: items.slice(0, 20).map((r) => [
        h('strong', {}, who.name(r.user_id)),
        [badge(r.requested_role), r.client_id ? h('span', { class: 'sub' }, `access to ${apps.name(r.client_id)}`) : null],
        [statusBadge(r.status), r.granted_role && r.granted_role !== r.requested_role ? h('span', { class: 'sub' }, `granted ${r.granted_role}`) : null],
        who.name(actorID(r.decided_by)) || r.decided_by || '—',
        r.decided_at ? time(r.decided_at) : '—',
        r.comment || h('span', { class: 'hint' }, '—'),
      ]),
    });
  }

  await refresh();
}

function actorID(actor) {
  const [type, id] = String(actor || '').split(':');
  return type === 'user' ? id : '';
}

// appNames names the clients requests ask access to (app access rules):
// by client_name where the reviewer may list clients, by id otherwise.
function appNames(ctx) {
  const names = new Map();
  let loaded = false;
  return {
    async resolve(items) {
      if (loaded || !items.some((r) => r.client_id) || !ctx.can('clients:write')) return;
      loaded = true;
      try {
        const page = await get('/clients', { limit: 200 });
        for (const c of page.items) names.set(c.client_id, c.client_name || c.client_id);
      } catch { /* ids will do */ }
    },
    name: (id) => names.get(id) || id,
  };
}

function requestCard(ctx, who, apps, r, refresh) {
  const titleId = uid('req');
  const u = who.get(r.user_id);
  const name = who.name(r.user_id);
  const describe = { 'aria-describedby': titleId };
  return h('li', { class: 'card' },
    h('div', { class: 'card-head' },
      h('span', { class: ['avatar', `h${hue(name)}`], 'aria-hidden': 'true' }, initials(u?.full_name || name)),
      h('div', { class: 'card-title' }, h('h3', { id: titleId }, name), h('p', { class: 'card-sub' }, [u?.full_name, u?.email].filter(Boolean).join(' · '))),
      statusBadge(u?.status || 'pending')),
    h('div', { class: 'card-meta' },
      r.client_id ? h('div', { class: 'meta-row' }, h('span', { class: 'k' }, 'App'), h('span', { class: 'v' }, `access to ${apps.name(r.client_id)}`)) : null,
      h('div', { class: 'meta-row' }, h('span', { class: 'k' }, 'Role'), h('span', { class: 'v' }, badge(r.requested_role))),
      h('div', { class: 'meta-row' }, h('span', { class: 'k' }, 'Asked'), h('span', { class: 'v' }, time(r.created_at, ago(r.created_at))))),
    h('p', { class: 'purpose' }, h('span', { class: 'visually-hidden' }, 'Purpose: '), r.purpose || 'No purpose given.'),
    h('div', { class: 'card-actions' },
      button('Approve', { kind: 'primary', small: true, attrs: describe, onClick: () => approve(ctx, r, name, refresh, r.client_id ? apps.name(r.client_id) : '') }),
      button('Deny', { small: true, kind: 'danger-soft', attrs: describe, onClick: () => deny(ctx, r, name, refresh) })));
}

function approve(ctx, r, name, refresh, app) {
  // For an app, the suggested role is the one the app's rule admits.
  const asked = app ? `access to ${app}; ${r.requested_role} lets them in` : r.requested_role;
  const role = field({ label: 'Role', name: 'role', value: r.requested_role, options: ctx.roles.map((x) => x.name), hint: `${name} asked for ${asked}.` });
  const comment = field({ label: 'Comment', name: 'comment', rows: 3, hint: 'Sent to the person with the decision.' });
  formDialog({
    title: `Approve ${name}’s request`,
    fields: [role, comment],
    submitLabel: 'Approve',
    save: async () => {
      await post(`/access-requests/${enc(r.id)}/approve`, { role: role.value, comment: comment.value.trim() });
      notice(`${name} now has the role ${role.value}.`);
      ctx.badge();
      refresh();
    },
  });
}

function deny(ctx, r, name, refresh) {
  const comment = field({ label: 'Comment', name: 'comment', rows: 3, hint: 'Say why; it is sent to the person.' });
  formDialog({
    title: `Deny ${name}’s request`,
    fields: [comment],
    submitLabel: 'Deny',
    save: async () => {
      await post(`/access-requests/${enc(r.id)}/deny`, { comment: comment.value.trim() });
      notice(`${name}’s request was denied.`);
      ctx.badge();
      refresh();
    },
  });
}
