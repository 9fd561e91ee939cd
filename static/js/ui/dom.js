// The DOM builder. Strings and numbers always become text nodes, so data
// never reaches an HTML parser: nothing in static/ assigns markup strings.

const SVG_NS = 'http://www.w3.org/2000/svg';

// Set as properties, not attributes: they reflect live state of form fields.
const PROPERTIES = new Set(['value', 'checked', 'selected', 'indeterminate']);

/**
 * h('a', {class: 'nav-link', href: '/', onClick: fn, dataset: {id: 3}}, 'Home')
 * props: class (string or array), on<Event> functions, dataset, style
 * (object of CSS properties, applied via CSSOM), anything else as attribute.
 * null/undefined/false values and kids are skipped; arrays of kids flatten.
 */
export function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  applyProps(el, props);
  appendKids(el, kids);
  return el;
}

/** Same as h() for SVG elements (icons). */
export function svg(tag, props, ...kids) {
  const el = document.createElementNS(SVG_NS, tag);
  applyProps(el, props);
  appendKids(el, kids);
  return el;
}

function applyProps(el, props) {
  if (!props) return;
  for (const [key, value] of Object.entries(props)) {
    if (/^on[A-Z]/.test(key)) {
      if (typeof value !== 'function') throw new TypeError(`h(): ${key} must be a function`);
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key.startsWith('aria-') && typeof value === 'boolean') {
      el.setAttribute(key, String(value)); // aria-expanded="false" is meaningful
    } else if (value == null || value === false) {
      continue;
    } else if (key === 'class' || key === 'className') {
      const cls = Array.isArray(value) ? value.filter(Boolean).join(' ') : String(value);
      if (cls) el.setAttribute('class', cls);
    } else if (key === 'dataset') {
      for (const [name, v] of Object.entries(value)) {
        if (v != null) el.dataset[name] = String(v);
      }
    } else if (key === 'style') {
      if (typeof value !== 'object') throw new TypeError('h(): style must be an object');
      for (const [name, v] of Object.entries(value)) el.style.setProperty(name, String(v));
    } else if (PROPERTIES.has(key)) {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
}

function appendKids(el, kids) {
  for (const kid of kids.flat(Infinity)) {
    if (kid == null || typeof kid === 'boolean') continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
}

/** Keeps one child of `list` per item, in order, reusing children by key,
 *  so focus, hover titles and selected text survive an update. `create(item)`
 *  returns an element with an update(item) method. */
export function syncList(list, items, key, create) {
  const existing = new Map([...list.children].map((el) => [el.dataset.key, el]));
  const rows = items.map((item) => {
    const k = String(key(item));
    let row = existing.get(k);
    if (!row) {
      row = create(item);
      row.dataset.key = k;
    }
    row.update(item);
    return row;
  });
  const same = rows.length === list.children.length && rows.every((r, i) => list.children[i] === r);
  if (!same) list.replaceChildren(...rows);
}
