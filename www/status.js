// What the page says about itself: `data-state`, the status line's text and `data-ms`, errors.
import { ui } from './elements.js';
import { setData, setProp, setText } from './dom.js';

/** Sets the test contract's state: "busy", "ready" or "error". */
export function setState(state) {
  document.body.dataset.state = state;
}

/** Shows a status line; `ms` also goes to `data-ms`. */
export function setStatus(text, ms) {
  setText(ui.status, text);
  if (ms === undefined) delete ui.status.dataset.ms;
  else setData(ui.status, 'ms', String(ms));
}

/** Shows `text` in the error box. */
export function showError(text) {
  ui.error.textContent = text;
  ui.error.hidden = false;
}

/** Empties and hides the error box. */
export function clearError() {
  setText(ui.error, '');
  setProp(ui.error, 'hidden', true);
}

/** The message of anything thrown (wasm throws `Error`s, sometimes strings). */
export function message(e) {
  if (e instanceof Error) return e.message;
  return String(e);
}
