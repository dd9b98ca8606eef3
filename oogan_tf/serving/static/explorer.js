// The OOGAN latent explorer (see index.html). Talks to the server's TensorFlow Serving REST API:
//   sample(c [B, C], z [B, Z]) -> images [B, H, W, ch] in [0, 1]   the image and the strip
//   sample_from_seed(seed, num=1) -> c, z                          the noise (and codes) of a seed
//   encode(images [1, H, W, ch] in [0, 1]) -> c_mean               the upload box
// and GET /api/config for image_size, channels, c_dim, cat_dim, z_dim, code_range. With a
// categorical code (cat_dim > 0) `sample` also takes category [B], chosen in a selector;
// sample_from_seed returns one and encode returns category_probabilities.
"use strict";

const STRIP_STEPS = 8;
const DEBOUNCE_MS = 80;

const state = {config: null, c: [], z: [], category: 0, hovered: null, request: 0};

function $(id) { return document.getElementById(id); }

function setStatus(text, isError) {
  const el = $("status");
  el.textContent = text;
  el.className = isError ? "error" : "";
}

async function predict(signature, inputs) {
  const response = await fetch(`/v1/models/${state.config.model_name}:predict`, {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({signature_name: signature, inputs: inputs}),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(`${signature}: ${body.error}`);
  return body.outputs;
}

// Draws images [N, H, W, ch] in [0, 1] side by side onto canvas (N * W by H pixels).
function drawImages(canvas, images) {
  const n = images.length, h = images[0].length, w = images[0][0].length;
  canvas.width = n * w;
  canvas.height = h;
  const ctx = canvas.getContext("2d");
  const pixels = ctx.createImageData(n * w, h);
  for (let k = 0; k < n; k++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const v = images[k][y][x];
        const o = 4 * (y * n * w + k * w + x);
        for (let ch = 0; ch < 3; ch++) {
          const value = v.length === 1 ? v[0] : v[ch];
          pixels.data[o + ch] = Math.round(255 * Math.min(1, Math.max(0, value)));
        }
        pixels.data[o + 3] = 255;
      }
    }
  }
  ctx.putImageData(pixels, 0, 0);
}

function debounce(fn, ms) {
  let timer = null;
  return () => { clearTimeout(timer); timer = setTimeout(fn, ms); };
}

// The inputs of `sample` for codes c [B, C] and noise z [B, Z], with the selected category.
function sampleInputs(c, z) {
  const inputs = {c: c, z: z};
  if (state.config.cat_dim > 0) inputs.category = c.map(() => state.category);
  return inputs;
}

// Renders the main image; an older response arriving late never overwrites a newer one.
async function render() {
  const id = ++state.request;
  try {
    const images = await predict("sample", sampleInputs([state.c], [state.z]));
    if (id !== state.request) return;
    const canvas = $("image");
    drawImages(canvas, images);
    canvas.dataset.renders = String(Number(canvas.dataset.renders) + 1);
    const category = state.config.cat_dim > 0 ? ` · category ${state.category}` : "";
    setStatus(`model '${state.config.model_name}' version ${state.config.version} · seed ` +
              `${$("seed").value}${category} · ` +
              `c = [${state.c.map((v) => v.toFixed(2)).join(", ")}]`);
  } catch (e) {
    setStatus(e.message, true);
  }
  renderStrip();
}
const renderSoon = debounce(render, DEBOUNCE_MS);

// The strip sweeps the hovered code over code_range with the other codes and z as shown, so it
// is a batch of `sample` (the `traverse` signature would take the codes from the seed instead).
async function renderStrip() {
  const dim = state.hovered;
  if (dim === null) return;
  const [low, high] = state.config.code_range;
  const c = [], z = [];
  for (let i = 0; i < STRIP_STEPS; i++) {
    const row = state.c.slice();
    row[dim] = low + (high - low) * i / (STRIP_STEPS - 1);
    c.push(row);
    z.push(state.z);
  }
  try {
    const images = await predict("sample", sampleInputs(c, z));
    if (dim !== state.hovered) return;
    const canvas = $("strip");
    drawImages(canvas, images);
    canvas.style.width = `${STRIP_STEPS * 64}px`;
    $("strip-label").textContent = `c${dim} from ${low} to ${high}`;
  } catch (e) {
    setStatus(e.message, true);
  }
}
const renderStripSoon = debounce(renderStrip, DEBOUNCE_MS);

function setCodes(values) {
  const [low, high] = state.config.code_range;
  state.c = values.map((v) => Math.min(high, Math.max(low, v)));
  state.c.forEach((v, i) => {
    $(`c${i}`).value = String(v);
    $(`c${i}-value`).textContent = v.toFixed(2);
  });
}

function setCategory(k) {
  state.category = k;
  if (state.config.cat_dim > 0) $("category").value = String(k);
}

async function loadSeed(alsoCodes) {
  const seed = parseInt($("seed").value, 10);
  if (!Number.isFinite(seed)) { setStatus("the seed must be an integer", true); return; }
  try {
    const out = await predict("sample_from_seed", {seed: seed, num: 1});
    state.z = out.z[0];
    if (alsoCodes) {
      setCodes(out.c[0]);
      if (out.category) setCategory(out.category[0]);
    }
    await render();
  } catch (e) {
    setStatus(e.message, true);
  }
}

// A selector of the categorical code's K categories (hidden without one).
function buildCategorySelector() {
  const k = state.config.cat_dim;
  if (!(k > 0)) return;
  const select = $("category");
  for (let i = 0; i < k; i++) {
    const option = document.createElement("option");
    option.value = String(i);
    option.textContent = `category ${i}`;
    select.appendChild(option);
  }
  $("category-row").hidden = false;
  select.addEventListener("change", () => {
    state.category = parseInt(select.value, 10);
    render();
  });
}

function buildSliders() {
  const [low, high] = state.config.code_range;
  const box = $("codes");
  for (let i = 0; i < state.config.c_dim; i++) {
    const row = document.createElement("div");
    row.className = "code";
    row.innerHTML = `<label for="c${i}">c${i}</label>` +
        `<input id="c${i}" type="range" min="${low}" max="${high}" step="${(high - low) / 100}">` +
        `<output id="c${i}-value"></output>`;
    box.appendChild(row);
    const slider = row.querySelector("input");
    slider.addEventListener("input", () => {
      state.c[i] = parseFloat(slider.value);
      $(`c${i}-value`).textContent = state.c[i].toFixed(2);
      renderSoon();
    });
    row.addEventListener("mouseenter", () => {
      document.querySelectorAll(".code.active").forEach((r) => r.classList.remove("active"));
      row.classList.add("active");
      state.hovered = i;
      renderStripSoon();
    });
  }
}

// Resizes the upload to image_size (centre crop), converts it to the export's channels (luma for
// one channel) and sets the sliders from encode's c_mean.
function encodeUpload(file) {
  const size = state.config.image_size, channels = state.config.channels;
  const img = new Image();
  img.onload = async () => {
    const canvas = $("upload-preview");
    canvas.width = canvas.height = size;
    const ctx = canvas.getContext("2d");
    const side = Math.min(img.width, img.height);
    ctx.drawImage(img, (img.width - side) / 2, (img.height - side) / 2, side, side, 0, 0, size, size);
    URL.revokeObjectURL(img.src);
    const data = ctx.getImageData(0, 0, size, size).data;
    const pixels = [];
    for (let y = 0; y < size; y++) {
      const row = [];
      for (let x = 0; x < size; x++) {
        const o = 4 * (y * size + x);
        const rgb = [data[o] / 255, data[o + 1] / 255, data[o + 2] / 255];
        row.push(channels === 1 ? [0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]] : rgb);
      }
      pixels.push(row);
    }
    try {
      const out = await predict("encode", {images: [pixels]});
      setCodes(out.c_mean[0]);
      if (out.category_probabilities) {
        const p = out.category_probabilities[0];
        setCategory(p.indexOf(Math.max(...p)));
      }
      await render();
    } catch (e) {
      setStatus(e.message, true);
    }
  };
  img.onerror = () => setStatus(`cannot read ${file.name} as an image`, true);
  img.src = URL.createObjectURL(file);
}

async function main() {
  try {
    const response = await fetch("/api/config");
    state.config = await response.json();
  } catch (e) {
    setStatus(`cannot reach the server: ${e.message}`, true);
    return;
  }
  buildSliders();
  buildCategorySelector();
  $("seed").addEventListener("change", () => loadSeed(false));
  $("new-noise").addEventListener("click", () => {
    $("seed").value = String(Math.floor(Math.random() * 2 ** 31));
    loadSeed(false);
  });
  $("codes-from-seed").addEventListener("click", () => loadSeed(true));
  $("upload").addEventListener("change", (event) => {
    if (event.target.files.length) encodeUpload(event.target.files[0]);
  });
  await loadSeed(true);
}

main();
