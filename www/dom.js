// Small DOM writers that change only what differs, so an update leaves little to redo.

/** Sets an element's text only when it differs, keeping a lone text node and changing its data. */
export function setText(el, text) {
  const node = el.firstChild;
  if (node !== null && node === el.lastChild && node.nodeType === Node.TEXT_NODE) {
    if (node.data !== text) node.data = text;
  } else if (el.textContent !== text) {
    el.textContent = text;
  }
}

/** Sets a (boolean) property only when it differs. */
export function setProp(el, key, value) {
  if (el[key] !== value) el[key] = value;
}

/** Sets a data attribute only when it differs. */
export function setData(el, key, value) {
  if (el.dataset[key] !== value) el.dataset[key] = value;
}

/** Shows `rows` (arrays of cell texts, the first a header cell) in a table body. */
export function fillRows(body, rows) {
  // Rows of the same shape are kept and only the text that changed is set: far less for the
  // browser to redo than new elements.
  const same =
    body.rows.length === rows.length && rows.every((cells, i) => body.rows[i].cells.length === cells.length);
  if (!same) {
    body.replaceChildren(...rows.map((cells) => tr(cells)));
    return;
  }
  rows.forEach((cells, i) => {
    const row = body.rows[i].cells;
    cells.forEach((text, j) => setText(row[j], String(text)));
  });
}

/** Shows `items` as the `<li>`s of a list, keeping the items there are. */
export function fillList(list, items) {
  if (list.children.length !== items.length) {
    list.replaceChildren(
      ...items.map((text) => {
        const li = document.createElement('li');
        li.textContent = text;
        return li;
      }),
    );
    return;
  }
  items.forEach((text, i) => setText(list.children[i], text));
}

/** A table row of text cells, the first a header cell. */
function tr(cells) {
  const row = document.createElement('tr');
  cells.forEach((text, i) => {
    const cell = document.createElement(i === 0 ? 'th' : 'td');
    cell.textContent = String(text);
    row.append(cell);
  });
  return row;
}

/** Shows `text` on a button for a moment. */
export function flash(button, text) {
  const before = button.textContent;
  button.textContent = text;
  setTimeout(() => (button.textContent = before), 1500);
}

/** A promise that settles after a message to ourselves, which unlike a timer is not held back:
 * the events already queued (a worker's reply among them) are usually handled before it. */
export function yieldToEvents() {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(null);
  });
}
