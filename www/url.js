// The address bar: the view's query written there after each update; the link copied from it.
// `data-url` on the body is "pending" until the query is written there, "saved" after.
import { ui } from './elements.js';
import { flash, setData } from './dom.js';
import { SLIDER_REST_MS } from './schedule.js';
import { withLesson } from './lessons.js';

/** The query the address bar is to show, not yet written there (or null). */
let unsavedQuery = null;
/** The timer that writes it at the latest, or null. */
let urlTimer = null;

/** Puts `query` in the address bar after the frame, or once a `sliding` slider rests. */
export function saveUrl(query, sliding = false) {
  // Not during the update: `history.replaceState` is slow (it serializes state and tells the
  // browser process), and the page looks the same without it. After a slider step it waits
  // until the slider rests (SLIDER_REST_MS after its last step): a dragged slider needs only
  // its last value there, and Chromium throttles pages that call it hundreds of times. Copying
  // the link writes it first, as do leaving and hiding the page; a reload within that wait
  // still loads the URL before it.
  unsavedQuery = withLesson(query);
  setData(document.body, 'url', 'pending');
  clearTimeout(urlTimer);
  // At the latest then, also where no frame comes (a hidden tab).
  urlTimer = setTimeout(flushUrl, SLIDER_REST_MS);
  if (!sliding) requestAnimationFrame(() => setTimeout(flushUrl, 0));
}

/** Writes the pending query (see `saveUrl`) to the address bar now. */
export function flushUrl() {
  clearTimeout(urlTimer);
  urlTimer = null;
  if (unsavedQuery !== null) {
    const search = `?${unsavedQuery}`;
    if (location.search !== search) history.replaceState(null, '', search);
    unsavedQuery = null;
  }
  setData(document.body, 'url', 'saved');
}

/** Copies the link of this view; falls back to selecting it for the user. */
export async function copyLink() {
  flushUrl();
  const url = location.href;
  try {
    await navigator.clipboard.writeText(url);
    flash(ui.copyLink, 'Link copied');
  } catch {
    window.prompt('Copy this link:', url);
  }
}
