import { pageHeader } from '../ui.js';

export function render(main) {
  main.append(pageHeader('Groups'));
}
