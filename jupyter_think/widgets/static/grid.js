// jupyter-think experiment grid: the anywidget front end (one dependency-free ES module, no build step).
//
// One card per run, grouped by variant: the run's repeat, status and score, a small graph (a canvas; a
// forked run's copied thoughts faded, a tick where it forks), the counts, the tokens and the first line
// of its answer or its error. The kernel sends each
// changed card whole ({type: "run", card}), with a version number per run, so a missed message is
// healed by the next one; the `snapshot` trait holds every card (set at creation, at the end, and
// on request). Clicking a card asks the kernel to open that run's full branch graph, which is drawn
// below the grid through anywidget's widget composition (`host.getWidget`). Text is set with
// textContent only.

// Colours come from the kernel's theme (static/theme.json, the `theme` trait), as in graph.js.
let COLORS = {};
let LANE_LINE = "";
let STATUS = {};
function useTheme(theme) {
  const kinds = theme.kinds ?? {};
  COLORS = { t: kinds.thought?.color, r: kinds.revision?.color, b: kinds.branch?.color, f: kinds.final?.color };
  LANE_LINE = theme.lines?.sequence ?? "";
  STATUS = theme.statuses ?? {};
}
const THUMB_H = 56;
const stores = new Map();

class Store {
  constructor(model) {
    this.model = model;
    this.listeners = new Set();
    this.runs = [];
    this.name = "";
    this.load(model.get("snapshot"));
  }

  // Keep a card unless it is older than the one we have (a stale snapshot never undoes a message).
  put(card) {
    const old = this.runs[card.run - 1];
    if (old && old.v > card.v) return false;
    this.runs[card.run - 1] = card;
    return true;
  }

  load(snapshot) {
    this.name = snapshot?.name ?? this.name;
    const changed = [];
    for (const card of snapshot?.runs ?? []) if (this.put(card)) changed.push(card.run);
    return changed;
  }

  emit(change) {
    for (const listener of this.listeners) listener(change);
  }

  receive(msg) {
    if (msg && msg.type === "run" && msg.card && this.put(msg.card)) {
      this.emit({ runs: [msg.card.run] });
    }
  }
}

function storeFor(model) {
  const key = model.get("_key");
  let store = stores.get(key);
  if (!store) {
    store = new Store(model);
    stores.set(key, store);
  }
  return store;
}

function el(tag, attrs = {}, parent = null) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, String(value));
  }
  if (parent) parent.appendChild(node);
  return node;
}

function plural(count, word, many) {
  return `${count} ${count === 1 ? word : many ?? `${word}s`}`;
}

function countsLine(counts) {
  const parts = [
    plural(counts.thoughts, "thought"),
    plural(counts.branches, "branch", "branches"),
    plural(counts.revisions, "revision"),
  ];
  if (counts.retractions) parts.push(plural(counts.retractions, "retraction"));
  return parts.join(" · ");
}

function drawThumb(canvas, card) {
  const width = Math.max(60, canvas.clientWidth || 200);
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.floor(width * ratio);
  canvas.height = Math.floor(THUMB_H * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, THUMB_H);
  const n = card.c.length;
  if (n === 0) return;
  let minCol = Infinity;
  let maxCol = -Infinity;
  let maxLane = 0;
  for (let i = 0; i < n; i++) {
    if (card.c[i] < minCol) minCol = card.c[i];
    if (card.c[i] > maxCol) maxCol = card.c[i];
    if (card.l[i] > maxLane) maxLane = card.l[i];
  }
  const pad = 7;
  const dx = Math.min(14, (width - 2 * pad) / Math.max(1, maxCol - minCol));
  const dy = Math.min(12, (THUMB_H - 2 * pad) / Math.max(1, maxLane));
  const x = (col) => pad + (Math.max(col, minCol) - minCol) * dx;
  const y = (lane) => (maxLane === 0 ? THUMB_H / 2 : pad + lane * dy);
  // Lines: consecutive nodes of a lane, and each branch's fork into its first node.
  const last = new Map();
  const first = new Map();
  ctx.strokeStyle = LANE_LINE;
  ctx.lineWidth = 1.2;
  ctx.beginPath();
  for (let i = 0; i < n; i++) {
    const lane = card.l[i];
    const prev = last.get(lane);
    if (prev !== undefined) {
      ctx.moveTo(x(card.c[prev]), y(lane));
      ctx.lineTo(x(card.c[i]), y(lane));
    } else {
      first.set(lane, i);
    }
    last.set(lane, i);
  }
  ctx.stroke();
  ctx.strokeStyle = COLORS.b;
  ctx.beginPath();
  for (const [lane, col, forkLane] of card.forks) {
    const start = first.get(lane);
    if (start === undefined || col < minCol) continue;
    ctx.moveTo(x(col), y(forkLane));
    ctx.lineTo(x(card.c[start]), y(lane));
  }
  ctx.stroke();
  const radius = Math.max(1.5, Math.min(4, dx / 2.6, dy / 2.2 || 4));
  const copied = Math.max(0, (card.prefix ?? 0) - (card.skipped ?? 0)); // nodes copied from the source run
  for (let i = 0; i < n; i++) {
    ctx.globalAlpha = i < copied ? 0.35 : 1;
    ctx.fillStyle = COLORS[card.k[i]] ?? COLORS.t;
    ctx.beginPath();
    ctx.arc(x(card.c[i]), y(card.l[i]), radius, 0, 2 * Math.PI);
    ctx.fill();
  }
  ctx.globalAlpha = 1;
  if (copied > 0 && copied <= n) {
    // where the fork starts: a tick after the last copied thought
    const at = x(card.c[copied - 1]) + Math.min(dx, 14) / 2;
    ctx.strokeStyle = COLORS.b;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.moveTo(at, 2);
    ctx.lineTo(at, THUMB_H - 2);
    ctx.stroke();
  }
}

function grouped(runs) {
  return runs.some((card) => card && (card.repeat !== 1 || card.variant !== String(card.run) || card.from));
}

class GridView {
  constructor(model, root, host) {
    this.model = model;
    this.host = host;
    this.store = storeFor(model);
    this.cards = [];
    this.groups = new Map(); // variant -> {section, head, list}
    this.dirty = new Set();
    this.frame = 0;
    this.detailAbort = null;
    this.build(root);
    this.onChange = (change) => this.changed(change.runs);
    this.store.listeners.add(this.onChange);
    this.onDetail = () => this.showDetail();
    model.on("change:detail", this.onDetail);
    model.on("change:opened", this.onDetail);
    this.changed(this.store.runs.map((card) => card.run));
    this.showDetail();
  }

  build(root) {
    this.root = el("div", { class: "jt-grid" }, root);
    this.head = el("div", { class: "jt-grid-head", "aria-live": "polite" }, this.root);
    this.list = el("div", { class: "jt-grid-cards" }, this.root);
    this.detail = el("div", { class: "jt-grid-detail" }, this.root);
    const bar = el("div", { class: "jt-grid-detail-head" }, this.detail);
    this.detailTitle = el("span", { class: "jt-grid-detail-title" }, bar);
    const close = el("button", { class: "jt-grid-close", type: "button", text: "close", title: "Close this graph" }, bar);
    close.addEventListener("click", () => this.model.send({ type: "open", run: 0 }));
    this.detailBody = el("div", { class: "jt-grid-detail-body" }, this.detail);
    this.detail.hidden = true;
    this.resizeObserver = new ResizeObserver(() => {
      for (const card of this.store.runs) if (card) this.dirty.add(card.run);
      this.schedule();
    });
    this.resizeObserver.observe(this.list);
  }

  destroy() {
    this.store.listeners.delete(this.onChange);
    this.model.off("change:detail", this.onDetail);
    this.model.off("change:opened", this.onDetail);
    this.resizeObserver.disconnect();
    cancelAnimationFrame(this.frame);
    if (this.detailAbort) this.detailAbort.abort();
  }

  // The list a card goes in: its variant's section when the runs have variants, else the one list.
  listFor(card) {
    if (!grouped(this.store.runs)) return this.list;
    let group = this.groups.get(card.variant);
    if (!group) {
      const section = el("section", { class: "jt-grid-group", "data-variant": card.variant }, this.list);
      const head = el("div", { class: "jt-grid-group-head" }, section);
      const list = el("div", { class: "jt-grid-group-cards" }, section);
      group = { section, head, list };
      this.groups.set(card.variant, group);
    }
    return group.list;
  }

  cardElement(card) {
    const run = card.run;
    let view = this.cards[run - 1];
    const parent = this.listFor(card);
    if (view) {
      if (view.item.parentNode !== parent) parent.appendChild(view.item); // the runs turned out to have variants
      return view;
    }
    const item = el("div", { class: "jt-run", role: "button", tabindex: 0, "data-run": run }, parent);
    const title = el("div", { class: "jt-run-title" }, item);
    const name = el("span", { class: "jt-run-name" }, title);
    const score = el("span", { class: "jt-run-score" }, title);
    const status = el("span", { class: "jt-run-status" }, title);
    const session = el("div", { class: "jt-run-session" }, item);
    const canvas = el("canvas", { class: "jt-run-graph", height: THUMB_H }, item);
    const counts = el("div", { class: "jt-run-counts" }, item);
    const meta = el("div", { class: "jt-run-meta" }, item);
    const answer = el("div", { class: "jt-run-answer" }, item);
    const message = el("div", { class: "jt-run-message" }, item);
    const open = () => this.model.send({ type: "open", run });
    item.addEventListener("click", open);
    item.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        open();
      }
    });
    view = { item, name, score, status, session, canvas, counts, meta, answer, message };
    this.cards[run - 1] = view;
    return view;
  }

  updateGroups() {
    for (const [variant, group] of this.groups) {
      const runs = this.store.runs.filter((card) => card && card.variant === variant);
      const ok = runs.filter((card) => card.status === "ok").length;
      const parts = [`variant ${variant}`, plural(runs.length, "run"), `${ok} ok`];
      if (runs.some((card) => card.score === "pass" || card.score === "fail")) {
        parts.push(`${runs.filter((card) => card.score === "pass").length} pass`);
      }
      group.head.textContent = parts.join(" · ");
    }
  }

  changed(runs) {
    for (const run of runs) this.dirty.add(run);
    this.updateHead();
    this.schedule();
  }

  updateHead() {
    const counts = {};
    for (const card of this.store.runs) if (card) counts[card.status] = (counts[card.status] ?? 0) + 1;
    const parts = [`Experiment ${this.store.name}`, plural(this.store.runs.length, "run")];
    for (const status of ["running", "ok", "error", "timeout", "cancelled", "pending"]) {
      const many = counts[status] > 1 && (status === "error" || status === "timeout");
      if (counts[status]) parts.push(`${counts[status]} ${many ? `${status}s` : status}`);
    }
    this.head.textContent = parts.join(" · ");
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  draw() {
    const opened = this.model.get("opened");
    for (const run of this.dirty) {
      const card = this.store.runs[run - 1];
      if (!card) continue;
      const view = this.cardElement(card);
      view.item.dataset.status = card.status;
      view.item.dataset.thoughts = String(card.counts.thoughts);
      view.item.dataset.variant = card.variant ?? "";
      view.item.dataset.score = card.score ?? "";
      view.item.dataset.tokens = String(card.tokens ?? 0);
      view.item.className = `jt-run jt-status-${card.status}${run === opened ? " jt-open" : ""}`;
      view.item.style.setProperty("--jt-status-color", STATUS[card.status] ?? "");
      const inGroups = grouped(this.store.runs);
      view.name.textContent = inGroups ? `#${card.repeat}` : card.session; // in a variant's group: its repeat
      view.session.textContent = inGroups ? card.session : "";
      view.session.hidden = !inGroups;
      view.status.textContent = card.status;
      view.score.textContent = card.score ?? "";
      view.score.hidden = !card.score;
      view.score.dataset.kind = card.score === "pass" ? "pass" : card.score === "fail" ? "fail" : "value";
      view.counts.textContent = countsLine(card.counts);
      const meta = [];
      if (card.tokens) meta.push(plural(card.tokens, "token"));
      if (card.from) meta.push(`from ${card.from} @${card.prefix}`);
      view.meta.textContent = meta.join(" · ");
      view.meta.title = view.meta.textContent;
      view.meta.hidden = meta.length === 0;
      view.answer.textContent = card.answer ?? "";
      view.answer.title = card.answer ?? "";
      view.answer.hidden = !card.answer;
      view.message.textContent = card.message ?? "";
      view.message.title = card.message ?? "";
      view.message.hidden = !card.message;
      view.item.title = `${card.session}: ${card.status} — click to open its graph`;
      drawThumb(view.canvas, card);
    }
    this.dirty.clear();
    this.updateGroups();
  }

  async showDetail() {
    const ref = this.model.get("detail");
    const run = this.model.get("opened");
    for (const [index, view] of this.cards.entries()) view?.item.classList.toggle("jt-open", index + 1 === run);
    if (this.detailAbort) this.detailAbort.abort();
    this.detailAbort = null;
    this.detailBody.textContent = "";
    if (!ref || !run) {
      this.detail.hidden = true;
      return;
    }
    this.detail.hidden = false;
    this.detailTitle.textContent = `Branch graph of ${this.store.runs[run - 1]?.session ?? `run ${run}`}`;
    if (!this.host || typeof this.host.getWidget !== "function") {
      this.detailBody.textContent = "Opening a run's graph here needs anywidget 0.11 or later; use session.graph().";
      return;
    }
    const controller = new AbortController();
    this.detailAbort = controller;
    const child = await this.host.getWidget(ref);
    if (controller.signal.aborted) return;
    await child.render({ el: this.detailBody, signal: controller.signal });
  }
}

export default {
  initialize({ model }) {
    useTheme(model.get("theme") ?? {});
    const store = storeFor(model);
    model.on("msg:custom", (msg) => store.receive(msg));
    model.on("change:snapshot", () => {
      const runs = store.load(model.get("snapshot"));
      store.emit({ runs });
    });
    // Messages sent before this module loaded are lost: ask for every card once.
    model.send({ type: "sync" });
    return () => stores.delete(model.get("_key"));
  },
  render({ model, el: root, host }) {
    useTheme(model.get("theme") ?? {});
    const view = new GridView(model, root, host);
    return () => view.destroy();
  },
};
