// The mmseg-al web annotator: one queried pixel at a time, answered by key.
// With region expansion, a picked class first shows the proposed region in
// its colour: Enter accepts the region, Escape keeps only the pixel.
'use strict';

const CLASS_KEYS = '1234567890qwertyuiopasdfgjklzxcvbnm';  // 'h': guesses
const ZOOM = 9;       // screen pixels per image pixel in the crop
const RADIUS = 15;    // crop half-width in image pixels
const FULL_SIZE = 512;

const state = { round: null, classes: [], voidClass: 255, queries: [],
                current: 0, history: [], images: {}, regions: {},
                hasRegions: false, picked: null,
                saving: Promise.resolve() };
const $ = (id) => document.getElementById(id);

async function api(path, options) {
  const response = await fetch(path, Object.assign(
    { credentials: 'same-origin' }, options));
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function className(cls) {
  if (cls === null || cls === undefined) return '—';
  if (cls === state.voidClass) return 'void';
  return state.classes[cls].name;
}

function textColour(hex) {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.substr(i, 2), 16));
  return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? '#000' : '#fff';
}

function buildButtons() {
  const box = $('classes');
  state.classes.forEach((c, i) => {
    const button = document.createElement('button');
    button.className = 'class';
    button.dataset.cls = c.id;
    button.style.background = c.color;
    button.style.color = textColour(c.color);
    button.innerHTML = `<span></span>${i < CLASS_KEYS.length ?
      `<kbd>${CLASS_KEYS[i]}</kbd>` : ''}`;
    button.firstChild.textContent = c.name;
    button.addEventListener('click', () => answer(c.id));
    box.appendChild(button);
  });
  $('void').dataset.cls = state.voidClass;
  $('void').addEventListener('click', () => answer(state.voidClass));
  $('undo').addEventListener('click', undo);
  $('accept-region').addEventListener('click', () => decide('accept'));
  $('pixel-only').addEventListener('click', () => decide('pixel'));
  $('back').addEventListener('click', () => show(state.current - 1));
  $('forward').addEventListener('click', () => show(state.current + 1));
  $('show-guesses').checked = localStorage.getItem('mmseg_al_guesses') !== 'off';
  $('show-guesses').addEventListener('change', () => {
    localStorage.setItem('mmseg_al_guesses',
                         $('show-guesses').checked ? 'on' : 'off');
    render();
  });
}

function loadImage(imageId) {
  if (!state.images[imageId]) {
    state.images[imageId] = new Promise((resolve, reject) => {
      const image = new Image();
      image.onload = () => resolve(image);
      image.onerror = () => reject(new Error(`cannot load image ${imageId}`));
      image.src = 'api/image?id=' + encodeURIComponent(imageId);
    });
  }
  return state.images[imageId];
}

function loadRegion(queryId) {
  if (!state.regions[queryId]) {
    state.regions[queryId] = api(`api/regions/${queryId}`).then(
      (body) => body.pixels);
  }
  return state.regions[queryId];
}

// The class a query's region is drawn in: the class just picked (awaiting
// Enter or Escape), or the answer when its region was accepted.
function regionClass(query) {
  if (state.picked && state.queries[state.picked.index] === query)
    return state.picked.cls;
  return query.region === 'accept' ? query.class : null;
}

// The region as an image-sized canvas: the class colour, half transparent.
async function regionLayer(query, cls) {
  const pixels = await loadRegion(query.id);
  const layer = document.createElement('canvas');
  layer.width = query.width;
  layer.height = query.height;
  const ctx = layer.getContext('2d');
  const data = ctx.createImageData(query.width, query.height);
  const hex = state.classes[cls].color;
  const rgb = [1, 3, 5].map((i) => parseInt(hex.substr(i, 2), 16));
  for (const p of pixels) {
    data.data.set([rgb[0], rgb[1], rgb[2], 150], 4 * p);
  }
  ctx.putImageData(data, 0, 0);
  return layer;
}

function crosshair(ctx, cx, cy, size, gap, extent) {
  // black under yellow so that it shows on any colour
  for (const [colour, width] of [['#000', 3], ['#ffd400', 1]]) {
    ctx.strokeStyle = colour;
    ctx.lineWidth = width;
    ctx.beginPath();
    ctx.moveTo(cx, 0); ctx.lineTo(cx, cy - gap);
    ctx.moveTo(cx, cy + gap); ctx.lineTo(cx, extent[1]);
    ctx.moveTo(0, cy); ctx.lineTo(cx - gap, cy);
    ctx.moveTo(cx + gap, cy); ctx.lineTo(extent[0], cy);
    ctx.stroke();
    ctx.strokeRect(cx - size / 2 - 1, cy - size / 2 - 1, size + 2, size + 2);
  }
}

async function drawViews(query) {
  const image = await loadImage(query.image);
  const cls = state.hasRegions ? regionClass(query) : null;
  const layer = cls === null || cls === state.voidClass ? null :
    await regionLayer(query, cls);
  if (state.queries[state.current] !== query) return;  // moved on meanwhile
  $('full').dataset.region = layer ? String(cls) : '';
  const full = $('full');
  const scale = Math.min(FULL_SIZE / query.width, FULL_SIZE / query.height);
  full.width = Math.round(query.width * scale);
  full.height = Math.round(query.height * scale);
  let ctx = full.getContext('2d');
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(image, 0, 0, full.width, full.height);
  if (layer) ctx.drawImage(layer, 0, 0, full.width, full.height);
  const px = Math.max(scale, 3);
  crosshair(ctx, (query.x + 0.5) * scale, (query.y + 0.5) * scale, px,
            px / 2 + 6, [full.width, full.height]);

  const zoom = $('zoom');
  ctx = zoom.getContext('2d');
  ctx.imageSmoothingEnabled = false;
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, zoom.width, zoom.height);
  const side = 2 * RADIUS + 1;
  const x0 = query.x - RADIUS, y0 = query.y - RADIUS;
  const sx = Math.max(x0, 0), sy = Math.max(y0, 0);
  const sw = Math.min(x0 + side, query.width) - sx;
  const sh = Math.min(y0 + side, query.height) - sy;
  ctx.drawImage(image, sx, sy, sw, sh, (sx - x0) * ZOOM, (sy - y0) * ZOOM,
                sw * ZOOM, sh * ZOOM);
  if (layer) {
    ctx.drawImage(layer, sx, sy, sw, sh, (sx - x0) * ZOOM, (sy - y0) * ZOOM,
                  sw * ZOOM, sh * ZOOM);
  }
  crosshair(ctx, (RADIUS + 0.5) * ZOOM, (RADIUS + 0.5) * ZOOM, ZOOM,
            ZOOM, [zoom.width, zoom.height]);
}

function render() {
  const total = state.queries.length;
  const answered = state.queries.filter((q) => q.class !== null).length;
  $('progress-bar').style.width = `${100 * answered / total}%`;
  $('progress-text').textContent = `${answered} / ${total}`;
  const query = state.queries[state.current];
  const choice = query.class === null || !query.region ? '' :
    query.region === 'accept' ? ' · region accepted' : ' · pixel only';
  $('status').textContent = `Query ${state.current + 1} of ${total} · ` +
    `answer: ${className(query.class)}${choice}`;
  const picked = state.picked && state.picked.index === state.current;
  $('region-choice').hidden = !picked;
  $('region-prompt').textContent = picked ?
    `${className(state.picked.cls)}: the proposed region is shown. ` +
    'Accept the region, or keep only the pixel?' : '';
  $('where').textContent = `${query.image} · pixel (x=${query.x}, y=${query.y})`;
  const guesses = query.guesses && $('show-guesses').checked ?
    'Model guesses: ' + query.guesses.map(([c, p]) =>
      `${className(c)} ${Math.round(100 * p)}%`).join(' · ') : '';
  $('guesses').textContent = guesses;
  document.querySelectorAll('button[data-cls]').forEach((b) => {
    b.classList.toggle('chosen', Number(b.dataset.cls) === query.class);
  });
  if (answered === total) {
    $('message').className = 'done';
    $('message').textContent =
      `All ${total} queries of round ${state.round} are answered.`;
  }
  drawViews(query).catch((err) => { $('message').textContent = err.message; });
}

function show(index) {
  if (index < 0 || index >= state.queries.length) return;
  if (state.picked && state.picked.index !== index) state.picked = null;
  state.current = index;
  render();
}

function nextUnanswered(from) {
  const n = state.queries.length;
  for (let k = 1; k <= n; k++) {
    const i = (from + k) % n;
    if (state.queries[i].class === null) return i;
  }
  return Math.min(from + 1, n - 1);
}

// Answers are shown at once and saved in the background, one request after
// the other (so that an undo cannot overtake its answer), and typing never
// waits for the server; a refused answer is taken back and shown.
async function store(index, cls, region, entry) {
  const query = state.queries[index];
  const before = [query.class, query.region];
  query.class = cls;
  query.region = region;
  const body = { round: state.round, class: cls };
  if (state.hasRegions) body.region = region;
  const request = () => api(`api/answers/${query.id}`, {
    method: 'PUT', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body) });
  state.saving = state.saving.then(request, request);
  try {
    await state.saving;
  } catch (err) {
    [query.class, query.region] = before;
    state.history = state.history.filter((e) => e !== entry);
    show(index);
    $('message').className = '';
    $('message').textContent = err.message;
  }
}

// A class with regions proposed waits for the region choice (decide); the
// void answer, which never expands, is stored at once.
function answer(cls) {
  if (state.hasRegions && cls !== state.voidClass) {
    state.picked = { index: state.current, cls };
    $('message').textContent = '';
    render();
    return;
  }
  return commit(cls, null);
}

function decide(region) {
  if (!state.picked || state.picked.index !== state.current) return;
  return commit(state.picked.cls, region);
}

function commit(cls, region) {
  const index = state.current;
  const query = state.queries[index];
  const entry = [index, query.class, query.region];
  state.picked = null;
  state.history.push(entry);
  $('message').textContent = '';
  const saved = store(index, cls, region, entry);
  show(nextUnanswered(index));
  return saved;
}

function undo() {
  $('message').className = '';
  $('message').textContent = '';
  if (state.picked) {  // a class picked, its region not yet decided
    state.picked = null;
    render();
    return;
  }
  const last = state.history.pop();
  if (!last) return;
  const saved = store(last[0], last[1], last[2], null);
  show(last[0]);
  return saved;
}

document.addEventListener('keydown', (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || !state.queries.length)
    return;
  const i = CLASS_KEYS.indexOf(event.key);
  if (i >= 0 && i < state.classes.length) answer(state.classes[i].id);
  else if (event.key === ' ') answer(state.voidClass);
  else if (event.key === 'Enter') decide('accept');
  else if (event.key === 'Escape') decide('pixel');
  else if (event.key === 'Backspace') undo();
  else if (event.key === 'ArrowLeft') show(state.current - 1);
  else if (event.key === 'ArrowRight') show(state.current + 1);
  else if (event.key === 'h' || event.key === 'H') $('show-guesses').click();
  else return;
  event.preventDefault();
});

api('api/round').then((info) => {
  state.round = info.round;
  state.classes = info.classes;
  state.voidClass = info.ignore_index;
  state.queries = info.queries;
  state.hasRegions = info.regions;
  $('round').textContent = info.round;
  buildButtons();
  show(nextUnanswered(-1));
}).catch((err) => { $('message').textContent = err.message; });
