// Groups: named sets of people that carry roles; a member holds every role
// of its groups. Members are added by username.
import { h, replace, uid, initials, hue } from '../dom.js';
import { get, post, put, patch, del, enc } from '../api.js';
import { button, field, checks, formDialog, choose, dialog, notice, pageHeader, badge, load, alertBox } from '../ui.js';
import { people } from '../people.js';

export async function render(main, ctx) {
  const body = h('div');
  const edit = ctx.can('groups:write');
  main.append(pageHeader('Groups', 'People in a group hold the group’s roles, on top of their own.',
    edit ? button('Create group', { kind: 'primary', iconName: 'plus', onClick: () => groupDialog(ctx, null, refresh) }) : null), body);
  const refresh = () => load(body, async () => {
    const page = await get('/groups', { limit: 200 });
    if (!page.items.length) return h('p', { class: 'empty' }, edit ? 'No groups yet. Create one to give several people the same roles.' : 'No groups yet.');
    return h('ul', { class: 'cards', 'aria-label': 'Groups' }, page.items.map((g) => groupCard(ctx, g, refresh)));
  });
  await refresh();
}

function groupCard(ctx, g, refresh) {
  const titleId = uid('group');
  const describe = { 'aria-describedby': titleId };
  const actions = [button('Members', { small: true, iconName: 'users', attrs: describe, onClick: () => members(ctx, g) })];
  if (ctx.can('groups:write')) {
    actions.push(button('Edit', { small: true, iconName: 'edit', attrs: describe, onClick: () => groupDialog(ctx, g, refresh) }));
    actions.push(button('Delete', {
      small: true, kind: 'danger-soft', iconName: 'trash', attrs: describe,
      onClick: () => choose({
        title: `Delete the group ${g.name}?`,
        message: h('p', {}, 'Its members lose the roles they hold through it; their own roles stay.'),
        choices: [
          { label: 'Delete group', kind: 'danger', run: async () => { await del(`/groups/${enc(g.id)}`); notice(`The group ${g.name} was deleted.`); refresh(); } },
          { label: 'Cancel' },
        ],
      }),
    }));
  }
  return h('li', { class: 'card' },
    h('div', { class: 'card-head' },
      h('span', { class: ['avatar', `h${hue(g.name)}`], 'aria-hidden': 'true' }, initials(g.name)),
      h('div', { class: 'card-title' }, h('h2', { id: titleId }, g.name), g.description ? h('p', { class: 'card-sub' }, g.description) : null)),
    h('div', { class: 'card-meta' }, h('div', { class: 'meta-row' }, h('span', { class: 'k' }, 'Roles'),
      h('span', { class: 'v' }, g.roles.length ? h('ul', { class: 'tags', 'aria-label': 'Roles' }, g.roles.map((r) => h('li', {}, badge(r)))) : h('span', { class: 'hint' }, 'none')))),
    h('div', { class: 'card-actions' }, actions));
}

function groupDialog(ctx, g, refresh) {
  const name = field({ label: 'Name', name: 'name', value: g?.name, required: true });
  name.conflict = true;
  const description = field({ label: 'Description', name: 'description', value: g?.description });
  const roles = checks({ legend: 'Roles', name: 'roles', options: ctx.roles.map((r) => r.name), values: g?.roles || [] });
  formDialog({
    title: g ? `Edit group ${g.name}` : 'Create group',
    fields: [name, description, roles],
    save: async () => {
      const body = { name: name.value.trim(), description: description.value.trim(), roles: roles.value };
      if (g) await patch(`/groups/${enc(g.id)}`, body);
      else await post('/groups', body);
      notice(`The group ${body.name} was saved.`);
      refresh();
    },
  });
}

// members lists a group's members, with add (by username) and remove for
// those who may change groups.
function members(ctx, g) {
  const list = h('div');
  const who = people(ctx);
  const edit = ctx.can('groups:write');
  const draw = async () => {
    const full = await get(`/groups/${enc(g.id)}`);
    await who.resolve(full.members || []);
    if (!(full.members || []).length) return h('p', { class: 'hint' }, 'No members yet.');
    return h('ul', { class: 'rows', 'aria-label': 'Members' }, full.members.map((id) => h('li', {},
      h('div', { class: 'row-main' }, h('strong', {}, who.name(id)), h('span', { class: 'row-sub' }, who.get(id)?.email || '')),
      edit ? button('Remove', {
        small: true, kind: 'danger-soft', attrs: { 'aria-label': `Remove ${who.name(id)}` },
        onClick: async () => { await del(`/groups/${enc(g.id)}/members/${enc(id)}`); load(list, draw); },
      }) : null)));
  };
  const content = [list];
  if (edit) {
    const username = field({ label: 'Add a member by username', name: 'username', autocomplete: 'off' });
    const problem = h('div');
    const add = button('Add member', {
      kind: 'secondary', iconName: 'plus',
      onClick: async () => {
        replace(problem);
        username.clearError();
        const name = username.value.trim();
        if (!name) { username.setError('Enter a username.'); return; }
        try {
          const page = await get('/users', { q: name, limit: 50 });
          const u = page.items.find((x) => x.username === name.toLowerCase());
          if (!u) { username.setError(`No user is called ${name}.`); username.input.focus(); return; }
          await put(`/groups/${enc(g.id)}/members/${enc(u.id)}`);
          ctx.userCache.set(u.id, u);
          username.input.value = '';
          load(list, draw);
        } catch (e) {
          replace(problem, alertBox(e));
        }
      },
    });
    content.push(problem, h('div', { class: 'inline-form' }, username.el, add));
  }
  let d;
  d = dialog({ title: `Members of ${g.name}`, content, actions: [button('Done', { kind: 'primary', onClick: () => d.close() })] });
  load(list, draw);
}
