// API tokens: every token the signed-in person may see (their own; with
// tokens:users every person's; with tokens:system the services' too),
// creating user and system tokens (shown once) and revoking any.
import { h, uid, time, ago } from '../dom.js';
import { get, post, del, enc } from '../api.js';
import { button, field, checks, formDialog, choose, secretDialog, notice, pageHeader, badge, statusBadge, load, table } from '../ui.js';
import { people } from '../people.js';

export async function render(main, ctx) {
  const body = h('div');
  main.append(pageHeader('API tokens', 'Named, scoped tokens for scripts and services. A token is shown once; revoking it takes effect at once.',
    button('Create token', { kind: 'primary', iconName: 'plus', onClick: () => tokenDialog(ctx, refresh) })), body);
  const who = people(ctx);
  const refresh = () => load(body, async () => {
    const page = await get('/tokens', { limit: 200 });
    const items = page.items;
    await who.resolve(items.map((t) => t.user_id));
    if (!items.length) return h('p', { class: 'empty' }, 'No API tokens yet.');
    return table({
      caption: 'API tokens',
      columns: ['Token', 'Acts as', 'Permissions', 'Expires', 'Last used', ''],
      rows: items.map((t) => {
        const id = uid('tok');
        const revoked = Boolean(t.revoked_at);
        const expired = !revoked && new Date(t.expires_at) < new Date();
        return [
          [h('strong', { id }, t.name), h('span', { class: 'sub' }, badge(t.kind, 'plain'))],
          t.user_id ? who.name(t.user_id) : t.client_id ? `client ${t.client_id}` : '—',
          t.scopes.length ? t.scopes.join(' ') : h('span', { class: 'hint' }, 'all of its principal’s'),
          revoked ? statusBadge('revoked') : expired ? statusBadge('expired') : time(t.expires_at),
          t.last_used_at ? ago(t.last_used_at) : 'never',
          revoked ? null : button('Revoke', {
            small: true, kind: 'danger-soft', attrs: { 'aria-describedby': id },
            onClick: () => choose({
              title: `Revoke the token ${t.name}?`,
              message: h('p', {}, 'Whatever uses it stops working at once.'),
              choices: [
                { label: 'Revoke', kind: 'danger', run: async () => { await del(`/tokens/${enc(t.id)}`); notice(`The token ${t.name} was revoked.`); refresh(); } },
                { label: 'Cancel' },
              ],
            }),
          }),
        ];
      }),
    });
  });
  await refresh();
}

function tokenDialog(ctx, refresh) {
  const kinds = [];
  if (ctx.can('tokens:users')) kinds.push({ value: 'user', label: 'For a user (acts as them)' });
  if (ctx.can('tokens:system')) kinds.push({ value: 'system', label: 'For a service account (a client with roles)' });
  if (ctx.can('tokens:self')) kinds.push({ value: 'personal', label: 'Personal (acts as you)' });
  const name = field({ label: 'Name', name: 'name', required: true });
  const kind = field({ label: 'Kind', name: 'kind', value: kinds[0]?.value, options: kinds });
  const user = field({ label: 'Username', name: 'user_id', hint: 'The user the token acts as.' });
  const client = field({ label: 'Client ID', name: 'client_id', hint: 'The service account (a client_credentials client with roles).' });
  const days = field({ label: 'Expires', name: 'expires_in', value: '2592000', options: [{ value: '604800', label: 'In 7 days' }, { value: '2592000', label: 'In 30 days' }, { value: '7776000', label: 'In 90 days' }, { value: '0', label: 'The longest allowed' }] });
  const perms = checks({ legend: 'Permissions', name: 'scopes', options: [...ctx.perms].sort(), hint: 'None chosen: every permission the token’s principal and you share.' });
  const sync = () => { user.el.hidden = kind.value !== 'user'; client.el.hidden = kind.value !== 'system'; };
  kind.input.addEventListener('change', sync);
  sync();
  formDialog({
    title: 'Create token',
    wide: true,
    fields: [name, kind, user, client, days, perms],
    submitLabel: 'Create token',
    save: async () => {
      const body = { name: name.value.trim(), kind: kind.value, scopes: perms.value, expires_in: Number(days.value) };
      if (kind.value === 'user') {
        const wanted = user.value.trim().toLowerCase();
        const page = wanted ? await get('/users', { q: wanted, limit: 50 }) : { items: [] };
        const u = page.items.find((x) => x.username === wanted);
        if (!u) { user.setError(wanted ? `No user is called ${wanted}.` : 'Enter the username.'); user.input.focus(); return false; }
        body.user_id = u.id;
      }
      if (kind.value === 'system') body.client_id = client.value.trim();
      const t = await post('/tokens', body);
      refresh();
      setTimeout(() => secretDialog({ title: 'Your new API token', label: `Token “${t.name}”`, secret: t.token }), 0);
      return true;
    },
  });
}
