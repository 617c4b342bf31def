// Clients: the OAuth 2.0 clients (relying parties, single-page apps,
// services). A new confidential client's secret is shown once.
import { h, uid } from '../dom.js';
import { get, post, patch, del, enc } from '../api.js';
import { button, field, checks, formDialog, choose, secretDialog, notice, pageHeader, badge, load, table } from '../ui.js';
import { clientId as consoleClient } from '../auth.js';

const grants = ['authorization_code', 'refresh_token', 'client_credentials', 'urn:ietf:params:oauth:grant-type:device_code',
  'urn:ietf:params:oauth:grant-type:jwt-bearer', 'urn:ietf:params:oauth:grant-type:token-exchange'];
const grantLabel = (g) => g.replace('urn:ietf:params:oauth:grant-type:', '');

export async function render(main) {
  const body = h('div');
  main.append(pageHeader('Clients', 'Applications that sign people in with gatehouse, or call APIs as themselves.',
    button('Create client', { kind: 'primary', iconName: 'plus', onClick: () => clientDialog(null, refresh) })), body);
  const refresh = () => load(body, async () => {
    const items = [];
    let cursor;
    do {
      const page = await get('/clients', { limit: 200, cursor });
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    if (!items.length) return h('p', { class: 'empty' }, 'No clients yet.');
    return table({ caption: 'Clients', columns: ['Client', 'Type', 'Grants', 'Redirect URIs', ''], rows: items.map((c) => row(c, refresh)) });
  });
  await refresh();
}

function row(c, refresh) {
  const nameId = uid('client');
  const own = c.client_id === consoleClient;
  const describe = { 'aria-describedby': nameId };
  return [
    [h('strong', { id: nameId }, c.client_name || c.client_id), h('span', { class: 'sub mono' }, c.client_id), accessSummary(c)],
    h('ul', { class: 'tags', 'aria-label': 'Type' }, h('li', {}, badge(c.public ? 'public' : 'confidential', c.public ? 'plain' : '')),
      c.first_party ? h('li', {}, badge('first-party', 'plain')) : null),
    h('ul', { class: 'tags', 'aria-label': 'Grants' }, c.grant_types.map((g) => h('li', {}, badge(grantLabel(g), 'plain')))),
    c.redirect_uris.length ? [c.redirect_uris.slice(0, 2).map((u) => h('span', { class: 'sub mono uri' }, u)),
      c.redirect_uris.length > 2 ? h('span', { class: 'more' }, `+${c.redirect_uris.length - 2} more`) : null] : '—',
    h('div', { class: 'row-actions' },
      button('Edit', { small: true, attrs: describe, onClick: () => clientDialog(c, refresh) }),
      own ? null : button('Delete', {
        small: true, kind: 'danger-soft', attrs: describe,
        onClick: () => choose({
          title: `Delete the client ${c.client_name || c.client_id}?`,
          message: h('p', {}, 'Its grants and tokens are revoked at once; people signed in through it are signed out of it.'),
          choices: [
            { label: 'Delete client', kind: 'danger', run: async () => { await del(`/clients/${enc(c.client_id)}`); notice('The client was deleted.'); refresh(); } },
            { label: 'Cancel' },
          ],
        }),
      })),
  ];
}

// App access rules (appaccess): who may sign in to the client.
function accessSummary(c) {
  const a = c.access || { roles: [], groups: [], areas: [] };
  const parts = [['roles', a.roles], ['groups', a.groups], ['areas', a.areas]].filter(([, l]) => l.length)
    .map(([k, l]) => `${k} ${l.join(', ')}`);
  return h('span', { class: 'sub access-rule' }, `Who may sign in: ${parts.length ? `only ${parts.join('; ')}` : 'everyone'}`);
}

// accessChoices loads what a rule may name, keeping entries the rule has
// that no longer exist (a deleted group) visible, so saving keeps them
// only if left ticked.
async function accessChoices(c) {
  const list = (path) => get(path, { limit: 200 }).then((p) => p.items).catch(() => []);
  const [roles, groups, areas] = await Promise.all([list('/roles'), list('/groups'), list('/areas')]);
  const a = c?.access || { roles: [], groups: [], areas: [] };
  const withKept = (opts, kept) => [...opts, ...kept.filter((v) => !opts.some((o) => o.value === v)).map((v) => ({ value: v, label: v }))];
  return {
    roles: withKept(roles.map((r) => ({ value: r.name, label: r.name })), a.roles),
    groups: withKept(groups.map((g) => ({ value: g.id, label: g.name })), a.groups),
    areas: withKept(areas.map((x) => ({ value: x.code, label: `${x.name} (${x.code})` })), a.areas),
    values: a,
  };
}

async function clientDialog(c, refresh) {
  const choices = await accessChoices(c);
  const accessRoles = checks({ legend: 'Who may sign in: roles', name: 'access.roles', options: choices.roles, values: choices.values.roles, hint: 'Holders of a ticked role (directly, through a group or an inherited role). Tick nothing in all three to let everyone in.' });
  const accessGroups = checks({ legend: 'Who may sign in: groups', name: 'access.groups', options: choices.groups, values: choices.values.groups, hint: 'Members of a ticked group.' });
  const accessAreas = checks({ legend: 'Who may sign in: areas', name: 'access.areas', options: choices.areas, values: choices.values.areas, hint: 'Members of a ticked area or of any area below it.' });
  const lines = (f) => f.value.split('\n').map((x) => x.trim()).filter(Boolean);
  const id = field({ label: 'Client ID', name: 'client_id', value: c?.client_id, required: true, readonly: Boolean(c), hint: c ? undefined : 'Letters, digits, “.”, “_” or “-”.' });
  id.conflict = true;
  const name = field({ label: 'Name', name: 'client_name', value: c?.client_name, hint: 'Shown to people on the consent page.' });
  const type = field({ label: 'Type', name: 'public', value: c ? String(c.public) : 'false', options: [{ value: 'false', label: 'Confidential (a server that keeps a secret)' }, { value: 'true', label: 'Public (a browser or mobile app, PKCE)' }] });
  if (c) type.input.disabled = true;
  const redirects = field({ label: 'Redirect URIs', name: 'redirect_uris', rows: 3, value: (c?.redirect_uris || []).join('\n'), hint: 'One per line.' });
  const postLogout = field({ label: 'Post-logout redirect URIs', name: 'post_logout_redirect_uris', rows: 2, value: (c?.post_logout_redirect_uris || []).join('\n') });
  const grantBoxes = checks({ legend: 'Grant types', name: 'grant_types', options: grants.map((g) => ({ value: g, label: grantLabel(g) })), values: c?.grant_types || ['authorization_code', 'refresh_token'] });
  const scope = field({ label: 'Scopes', name: 'scope', value: c?.scope ?? 'openid profile email offline_access', hint: 'Space-separated.' });
  const firstParty = field({ label: 'Consent', name: 'first_party', value: String(Boolean(c?.first_party)), options: [{ value: 'false', label: 'Ask people for consent' }, { value: 'true', label: 'First-party: skip the consent page' }] });
  const format = field({ label: 'Access token format', name: 'access_token_format', value: c?.access_token_format || '', options: [{ value: '', label: 'Server default' }, { value: 'opaque', label: 'Opaque' }, { value: 'jwt', label: 'JWT (RFC 9068)' }] });
  const idTokenAlg = field({ label: 'ID token signature', name: 'id_token_signed_response_alg', value: c?.id_token_signed_response_alg || '', hint: 'ES256 signs far cheaper; choose it only if the relying party accepts ES256.', options: [{ value: '', label: 'Default (RS256)' }, { value: 'RS256', label: 'RS256 (RSA-2048)' }, { value: 'ES256', label: 'ES256 (ECDSA P-256)' }] });
  // Back-channel logout (OpenID Connect Back-Channel Logout 1.0).
  const logoutURI = field({ label: 'Back-channel logout URI', name: 'backchannel_logout_uri', value: c?.backchannel_logout_uri || '', hint: 'Told, server to server, when a session it received tokens in ends; https (http only on a loopback host). Empty for none.' });
  const logoutSID = field({ label: 'Back-channel logout session', name: 'backchannel_logout_session_required', value: String(Boolean(c?.backchannel_logout_session_required)), options: [{ value: 'false', label: 'sid not required' }, { value: 'true', label: 'Requires sid in logout tokens' }] });
  const accessLife = field({ label: 'Access token lifetime', name: 'lifetimes', value: c?.lifetimes?.access_token || '', hint: 'Such as 15m or 1h; empty for the server default.' });
  formDialog({
    title: c ? `Edit client ${c.client_name || c.client_id}` : 'Create client',
    wide: true,
    fields: [id, name, type, redirects, postLogout, grantBoxes, scope, firstParty, format, idTokenAlg, accessLife, logoutURI, logoutSID,
      accessRoles, accessGroups, accessAreas],
    save: async () => {
      const body = {
        client_name: name.value.trim(), redirect_uris: lines(redirects), post_logout_redirect_uris: lines(postLogout),
        grant_types: grantBoxes.value, scope: scope.value.trim(), first_party: firstParty.value === 'true',
        access_token_format: format.value, id_token_signed_response_alg: idTokenAlg.value, lifetimes: accessLife.value.trim() ? { access_token: accessLife.value.trim() } : {},
        backchannel_logout_uri: logoutURI.value.trim(), backchannel_logout_session_required: logoutSID.value === 'true',
        access: { roles: accessRoles.value, groups: accessGroups.value, areas: accessAreas.value },
      };
      if (c) {
        await patch(`/clients/${enc(c.client_id)}`, body);
        notice('The client was saved.');
        refresh();
        return true;
      }
      const made = await post('/clients', { ...body, client_id: id.value.trim(), public: type.value === 'true' });
      refresh();
      if (made.client_secret) {
        setTimeout(() => secretDialog({ title: `Secret of ${made.client_name || made.client_id}`, label: 'Client secret', secret: made.client_secret }), 0);
      } else {
        notice('The client was created.');
      }
      return true;
    },
  });
}
