// prefs.js: the preferences editor of the profile. gatehouse defines no
// preference keys of its own (apps keep theirs there), so it is a list of
// name/value rows. The API merges a patch into what is stored (RFC 7396),
// so the editor sends only what changed: new or edited values as strings,
// null for a removed name. A value that is not a string (an app may store
// numbers or objects) is shown as JSON and kept as it is unless edited.
import { h, icon, uid, replace } from './dom.js';
import { button } from './ui.js';

const shown = (v) => (typeof v === 'string' ? v : JSON.stringify(v));

export function prefsEditor({ preferences = {} } = {}) {
  const before = new Map(Object.entries(preferences || {}).map(([k, v]) => [k, shown(v)]));
  const rows = [];
  const errId = uid('prefs-error');
  const list = h('ul', { class: 'pref-list', 'aria-label': 'Preferences' });
  const err = h('p', { id: errId, class: 'field-error', hidden: true });
  const empty = h('p', { class: 'hint' }, 'No preferences yet.');
  const addBtn = button('Add preference', { kind: 'secondary', iconName: 'plus', onClick: () => { add('', '').name.focus(); } });
  const el = h('fieldset', { class: 'goals prefs' }, h('legend', {}, 'Preferences'),
    h('p', { class: 'hint' }, 'Settings the apps you use read from your account, such as a language or a theme.'),
    empty, list, h('div', { class: 'form-actions' }, addBtn), err);

  function add(name, value) {
    const nameId = uid('pref-name');
    const valueId = uid('pref-value');
    const row = {
      name: h('input', { id: nameId, type: 'text', name: 'pref-name', autocomplete: 'off', maxlength: '200', value: name }),
      value: h('input', { id: valueId, type: 'text', name: 'pref-value', autocomplete: 'off', value }),
    };
    const remove = h('button', {
      type: 'button', class: 'icon-btn',
      on: {
        click: () => {
          const i = rows.indexOf(row);
          rows.splice(i, 1);
          row.el.remove();
          // Focus stays in the editor: on the next row's name, or Add.
          (rows[Math.min(i, rows.length - 1)]?.name || addBtn).focus();
          draw();
        },
      },
    }, icon('x'));
    const label = () => remove.setAttribute('aria-label', `Remove preference: ${row.name.value.trim() || 'unnamed'}`);
    row.name.addEventListener('input', label);
    label();
    row.el = h('li', { class: 'pref-row' },
      h('div', { class: 'field' }, h('label', { for: nameId }, 'Preference name'), row.name),
      h('div', { class: 'field' }, h('label', { for: valueId }, 'Value'), row.value),
      remove);
    rows.push(row);
    list.append(row.el);
    draw();
    return row;
  }

  function draw() {
    empty.hidden = rows.length > 0;
    list.hidden = rows.length === 0;
  }

  const mark = (inputs, msg) => {
    err.textContent = msg;
    err.hidden = false;
    for (const i of inputs) {
      i.setAttribute('aria-invalid', 'true');
      i.setAttribute('aria-describedby', errId);
    }
    return true;
  };

  for (const [k, v] of before) add(k, v);
  return {
    el, name: 'preferences',
    // The first input marked invalid, for showErrors to focus.
    get input() { return rows.flatMap((r) => [r.name, r.value]).find((i) => i.getAttribute('aria-invalid') === 'true') || rows[0]?.value || addBtn; },
    // patch is the merge patch of the preferences, undefined when nothing
    // changed, or null when a name is missing or repeated: then it marks
    // the rows at fault and focuses the first, and nothing may be sent.
    patch() {
      const out = {};
      const seen = new Map();
      for (const r of rows) {
        const k = r.name.value.trim();
        if (!k) {
          if (!r.value.value) continue; // An empty row is no preference.
          mark([r.name], 'Give each preference a name.');
          r.name.focus();
          return null;
        }
        if (seen.has(k)) {
          mark([seen.get(k).name, r.name], `The preference ${k} is named twice.`);
          r.name.focus();
          return null;
        }
        seen.set(k, r);
        if (before.get(k) !== r.value.value) out[k] = r.value.value;
      }
      for (const k of before.keys()) if (!seen.has(k)) out[k] = null;
      return Object.keys(out).length ? out : undefined;
    },
    // saved takes what the API stored as the new starting point.
    saved(preferences) {
      before.clear();
      for (const [k, v] of Object.entries(preferences || {})) before.set(k, shown(v));
      rows.splice(0).forEach((r) => r.el.remove());
      for (const [k, v] of before) add(k, v);
    },
    setError(msg) {
      // The API names the whole object: every value may be the cause.
      return mark(rows.map((r) => r.value), msg);
    },
    clearError() {
      err.hidden = true;
      replace(err);
      for (const r of rows) for (const i of [r.name, r.value]) {
        i.removeAttribute('aria-invalid');
        i.removeAttribute('aria-describedby');
      }
    },
  };
}

// prefsList shows the preferences to someone who may not change them.
export function prefsList(preferences = {}) {
  const entries = Object.entries(preferences || {});
  return h('div', { class: 'field' }, h('p', { class: 'sub-label' }, 'Preferences'),
    entries.length ? h('dl', { class: 'pref-view' }, entries.map(([k, v]) => [h('dt', {}, k), h('dd', {}, shown(v))]))
      : h('p', { class: 'hint' }, 'No preferences.'));
}
