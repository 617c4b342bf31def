// Roles: the hierarchy as a tree (a role inherits its parent's
// permissions), each with its permissions and suggested goals; creating
// and editing custom roles for those who may.
import { h } from '../dom.js';
import { get, post, patch, del, enc } from '../api.js';
import { button, field, checks, formDialog, choose, notice, pageHeader, badge, load } from '../ui.js';

// Every permission a role may carry, built-in and custom, as the API lists
// them: the editor offers what the server knows, never a copy of it.
async function allPermissions() {
  const names = [];
  let cursor;
  do {
    const page = await get('/permissions', { limit: 200, cursor });
    names.push(...page.items.map((p) => p.name));
    cursor = page.next_cursor;
  } while (cursor);
  return names;
}

export async function render(main, ctx) {
  const body = h('div');
  const edit = ctx.can('roles:write');
  main.append(pageHeader('Roles', 'A role carries permissions and inherits those of its parent. People get roles directly or through their groups.',
    edit ? button('Create role', { kind: 'primary', iconName: 'plus', onClick: () => roleDialog(ctx, null, refresh) }) : null));
  main.append(body);
  const refresh = () => load(body, async () => {
    const roles = [];
    let cursor;
    do {
      const page = await get('/roles', { limit: 200, cursor });
      roles.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    ctx.roles.splice(0, ctx.roles.length, ...roles);
    return tree(ctx, roles, refresh);
  });
  await refresh();
}

function tree(ctx, roles, refresh) {
  const names = new Set(roles.map((r) => r.name));
  const children = (parent) => roles.filter((r) => (parent ? r.parent === parent : !r.parent || !names.has(r.parent)))
    .sort((a, b) => a.name.localeCompare(b.name));
  // Drawn from the roots (roles without a parent) down: admin's chain
  // reads top to bottom as viewer ⊂ user ⊂ manager ⊂ admin.
  const branch = (parent, depth) => {
    const kids = children(parent);
    if (!kids.length || depth > 20) return null;
    return h('ul', { class: depth ? 'branch' : 'tree', 'aria-label': depth ? `Roles that inherit from ${parent}` : 'Roles' }, kids.map((r) => h('li', {},
      roleBox(ctx, r, refresh), branch(r.name, depth + 1))));
  };
  return branch('', 0);
}

function roleBox(ctx, r, refresh) {
  const actions = [];
  if (ctx.can('roles:write')) {
    actions.push(button('Edit', { small: true, iconName: 'edit', attrs: { 'aria-describedby': `role-${r.name}` }, onClick: () => roleDialog(ctx, r, refresh) }));
    if (!r.built_in) {
      actions.push(button('Delete', {
        small: true, kind: 'danger-soft', iconName: 'trash', attrs: { 'aria-describedby': `role-${r.name}` },
        onClick: () => choose({
          title: `Delete the role ${r.name}?`,
          message: h('p', {}, 'A role can be deleted only when nobody holds it and no role inherits from it.'),
          choices: [
            { label: 'Delete role', kind: 'danger', run: async () => { await del(`/roles/${enc(r.name)}`); notice(`The role ${r.name} was deleted.`); refresh(); } },
            { label: 'Cancel' },
          ],
        }),
      }));
    }
  }
  return h('div', { class: 'role' },
    h('div', { class: 'role-head' },
      h('h2', { id: `role-${r.name}` }, r.name, r.built_in ? badge('built in', 'plain') : null),
      actions.length ? h('div', { class: 'page-actions' }, actions) : null),
    r.description ? h('p', {}, r.description) : null,
    h('div', { class: 'card-meta' },
      h('div', { class: 'meta-row' }, h('span', { class: 'k' }, 'Adds'),
        h('span', { class: 'v' }, r.permissions.length ? h('ul', { class: 'tags', 'aria-label': `Permissions of ${r.name}` }, r.permissions.map((p) => h('li', {}, badge(p, 'plain perm')))) : h('span', { class: 'hint' }, 'only what it inherits'))),
      r.suggested_goals.length ? h('div', { class: 'meta-row' }, h('span', { class: 'k' }, 'Goals'),
        h('span', { class: 'v' }, h('ul', { class: 'tags', 'aria-label': `Suggested goals of ${r.name}` }, r.suggested_goals.map((g) => h('li', {}, badge(g, 'goal')))))) : null));
}

async function roleDialog(ctx, role, refresh) {
  const permissions = await allPermissions();
  const name = field({ label: 'Name', name: 'name', value: role?.name, required: true, readonly: Boolean(role), hint: role ? 'A role keeps its name; create another to rename.' : 'Lowercase, such as trader or analyst.' });
  name.conflict = true;
  const description = field({ label: 'Description', name: 'description', value: role?.description });
  const parent = field({ label: 'Parent', name: 'parent', value: role?.parent || '', options: [{ value: '', label: 'None' }, ...ctx.roles.filter((r) => r.name !== role?.name).map((r) => r.name)], hint: 'The role inherits every permission of its parent.' });
  // A permission the role carries but the server no longer lists (a custom
  // one deleted meanwhile) stays visible, so that saving drops it knowingly.
  const options = [...permissions, ...(role?.permissions || []).filter((p) => !permissions.includes(p))];
  const perms = checks({ legend: 'Permissions', name: 'permissions', options, values: role?.permissions || [] });
  const goals = field({ label: 'Suggested goals', name: 'suggested_goals', rows: 4, value: (role?.suggested_goals || []).join('\n'), hint: 'One per line; offered when someone is given this role.' });
  const lines = () => goals.value.split('\n').map((g) => g.trim()).filter(Boolean);
  formDialog({
    title: role ? `Edit role ${role.name}` : 'Create role',
    wide: true,
    fields: [name, description, parent, perms, goals],
    save: async () => {
      if (role) {
        await patch(`/roles/${enc(role.name)}`, { description: description.value.trim(), parent: parent.value, permissions: perms.value, suggested_goals: lines() });
        notice(`The role ${role.name} was saved.`);
      } else {
        await post('/roles', { name: name.value.trim(), description: description.value.trim(), parent: parent.value, permissions: perms.value, suggested_goals: lines() });
        notice(`The role ${name.value.trim()} was created.`);
      }
      refresh();
    },
  });
}
