// reclm's page: search the catalog, build a history, see the retriever's top-k and the ranker's re-ordering.
// Plain DOM, no framework; every text goes through textContent.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { history: [], health: null, searchSeq: 0, recSeq: 0 };

function showError(message) {
  $("error").hidden = !message;
  $("error").textContent = message || "";
}

async function api(path, init) {
  const res = await fetch(path, init);
  const body = await res.json().catch(() => ({ message: `${res.status} ${res.statusText}` }));
  if (!res.ok) throw new Error(body.message || res.statusText);
  return body;
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

async function loadHealth() {
  try {
    const h = await api("/health");
    state.health = h;
    $("status").textContent = `${h.dataset} (${h.protocol}) · ${h.items.toLocaleString()} items · retriever ${h.model}${h.ranker ? ` · ranker ${h.ranker}` : ""}`;
    $("retrieved-title").textContent = `Retriever: ${h.model}`;
    $("ranked-title").textContent = h.ranker ? `Ranker: ${h.ranker} (re-orders the top 20)` : "Ranker";
    $("no-ranker").hidden = Boolean(h.ranker);
    document.body.dataset.ready = "true";
  } catch {
    $("status").textContent = "loading models…";
    setTimeout(loadHealth, 1000);
    return;
  }
  search();
}

async function search() {
  const seq = ++state.searchSeq;
  const q = $("search").value;
  try {
    const { items } = await api(`/v1/items?query=${encodeURIComponent(q)}&limit=30`);
    if (seq !== state.searchSeq) return;
    const list = $("results");
    list.replaceChildren(
      ...items.map((it) => {
        const li = el("li");
        const b = el("button", it.title);
        b.type = "button";
        b.dataset.id = it.id;
        b.disabled = state.history.some((h) => h.id === it.id);
        b.addEventListener("click", () => addToHistory(it));
        li.append(b);
        return li;
      }),
    );
    showError("");
  } catch (e) {
    showError(e.message);
  }
}

function addToHistory(item) {
  if (state.history.some((h) => h.id === item.id)) return;
  state.history.push({ id: item.id, title: item.title });
  renderHistory();
}

function renderHistory() {
  $("history").replaceChildren(
    ...state.history.map((h, i) => {
      const li = el("li", h.title);
      const x = el("button", "×");
      x.type = "button";
      x.title = "remove";
      x.addEventListener("click", () => {
        state.history.splice(i, 1);
        renderHistory();
      });
      li.append(x);
      return li;
    }),
  );
  for (const b of $("results").querySelectorAll("button")) b.disabled = state.history.some((h) => h.id === b.dataset.id);
  recommend();
}

function renderList(list, items, before) {
  const pos = new Map((before || []).map((it, i) => [it.id, i]));
  list.replaceChildren(
    ...items.map((it, i) => {
      const li = el("li", it.title);
      li.dataset.id = it.id;
      li.append(el("span", it.score.toFixed(3), "score"));
      if (before && pos.has(it.id) && pos.get(it.id) !== i) {
        const d = pos.get(it.id) - i;
        li.append(el("span", d > 0 ? `▲${d}` : `▼${-d}`, d > 0 ? "moved-up" : "moved-down"));
      }
      return li;
    }),
  );
}

async function recommend() {
  const seq = ++state.recSeq;
  if (state.history.length === 0) {
    $("retrieved").replaceChildren();
    $("ranked").replaceChildren();
    $("latency").textContent = "Add titles to your history to see recommendations.";
    return;
  }
  const rank = Boolean(state.health && state.health.ranker);
  const body = { history: state.history.map((h) => h.id), k: Number($("k").value), excludeSeen: $("exclude").checked, rank };
  const t0 = performance.now();
  try {
    const r = await api("/v1/recommend", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    if (seq !== state.recSeq) return;
    const rtt = performance.now() - t0;
    renderList($("retrieved"), rank ? r.retrieved : r.items);
    if (rank) renderList($("ranked"), r.items, r.retrieved);
    const t = r.timings;
    $("latency").textContent =
      `${rtt.toFixed(1)} ms round trip · server ${t.totalMs.toFixed(1)} ms: queue ${t.queueMs.toFixed(1)}, retrieve ${t.retrieveMs.toFixed(1)}` +
      (t.rankMs !== undefined ? `, rank ${t.rankMs.toFixed(1)}` : "") +
      ` (batch of ${t.batchSize})` + (r.warnings ? ` · ${r.warnings.join("; ")}` : "");
    document.body.dataset.recommendations = String(seq);
    showError("");
  } catch (e) {
    showError(e.message);
  }
}

let timer;
$("search").addEventListener("input", () => {
  clearTimeout(timer);
  timer = setTimeout(search, 120);
});
$("clear").addEventListener("click", () => {
  state.history = [];
  renderHistory();
});
$("k").addEventListener("change", recommend);
$("exclude").addEventListener("change", recommend);
loadHealth();
