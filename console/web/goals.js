// goals.js: the goals editor of the user dialog and the profile: the goals
// as removable chips, the suggestions of the chosen role(s) as buttons, and
// a box for a goal of one's own.
import { h, icon, uid, replace } from './dom.js';
import { get } from './api.js';
import { button } from './ui.js';

// suggestionsFor reads the suggested goals of each role (the role's and its
// ancestors', nearest first), without duplicates.
export async function suggestionsFor(roles) {
  const out = [];
  for (const role of roles.filter(Boolean)) {
    try {
      const s = await get('/users/goals/suggestions', { role });
      for (const g of s.goals || []) if (!out.includes(g)) out.push(g);
    } catch {
      // A role without suggestions (or just deleted) offers none.
    }
  }
  return out;
}

export function goalsEditor({ goals = [], roles = () => [] } = {}) {
  let value = [...goals];
  let suggested = [];
  const errId = uid('goals-error');
  const list = h('ul', { class: 'goal-list', 'aria-label': 'Goals' });
  const sugLabel = h('p', { class: 'sub-label' }, 'Suggested');
  const sugBox = h('div', { class: 'suggestions' });
  const sugWrap = h('div', { hidden: true }, sugLabel, sugBox);
  const inputId = uid('new-goal');
  const input = h('input', { id: inputId, type: 'text', name: 'new-goal', maxlength: '200', autocomplete: 'off' });
  const err = h('p', { id: errId, class: 'field-error', hidden: true });
  const add = (g) => {
    const goal = String(g).trim();
    if (!goal || value.includes(goal)) return;
    value.push(goal);
    draw();
  };
  const addTyped = () => {
    add(input.value);
    input.value = '';
    input.focus();
  };
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') { ev.preventDefault(); addTyped(); }
  });
  const addBtn = button('Add goal', { kind: 'secondary', iconName: 'plus', onClick: addTyped });
  const el = h('fieldset', { class: 'goals' }, h('legend', {}, 'Goals'), list, sugWrap,
    h('div', { class: 'inline-form' },
      h('div', { class: 'field' }, h('label', { for: inputId }, 'New goal'), input), addBtn),
    err);

  function draw() {
    replace(list, value.length ? value.map((g, i) => h('li', { class: 'goal-chip' }, h('span', {}, g),
      h('button', {
        type: 'button', class: 'icon-btn', 'aria-label': `Remove goal: ${g}`,
        on: {
          click: () => {
            value = value.filter((x) => x !== g);
            draw();
            // Focus stays in the editor: on the next chip, or the box.
            const next = list.querySelectorAll('button')[Math.min(i, value.length - 1)];
            (next || input).focus();
          },
        },
      }, icon('x')))) : h('li', { class: 'hint' }, 'No goals yet.'));
    const open = suggested.filter((g) => !value.includes(g));
    sugWrap.hidden = open.length === 0;
    replace(sugBox, open.map((g) => h('button', {
      type: 'button', class: 'suggestion', 'aria-label': `Add goal: ${g}`,
      on: { click: () => { add(g); (sugBox.querySelector('button') || input).focus(); } },
    }, icon('plus'), g)));
  }

  async function refresh() {
    const rs = roles();
    sugLabel.textContent = rs.length ? `Suggested for ${rs.join(', ')}` : 'Suggested';
    suggested = rs.length ? await suggestionsFor(rs) : [];
    draw();
  }

  draw();
  refresh();
  return {
    el, name: 'goals', input,
    get value() { return [...value]; },
    refresh,
    setError(msg) {
      err.textContent = msg; err.hidden = !msg;
      input.setAttribute('aria-invalid', 'true');
      input.setAttribute('aria-describedby', errId);
      return true;
    },
    clearError() {
      err.hidden = true;
      input.removeAttribute('aria-invalid');
      input.removeAttribute('aria-describedby');
    },
  };
}
