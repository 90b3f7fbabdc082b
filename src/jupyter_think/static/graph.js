// jupyter-think branch graph: the anywidget front end (one dependency-free ES module, no build step).
//
// The kernel places every thought (lane, column); this module draws them. One Store per widget
// model holds the nodes (snapshot trait + live "add" messages); each view draws only what is in
// its viewport (SVG elements for the visible window, so 10 000 thoughts stay responsive) plus an
// overview strip of the whole graph on a canvas. Thought text is set with textContent; the detail
// pane shows the thought's Markdown as HTML rendered by the kernel (markdown-it-py, raw HTML off),
// kept to an allowlist of elements and attributes before it reaches the page.
//
// Colours and sizes come from the `theme` trait: the package's static/theme.json, which the Python
// renderers read too. Nothing here repeats them.

const SVG = "http://www.w3.org/2000/svg";
const OVERVIEW_H = 34;
const stores = new Map();

// What the detail pane keeps of the kernel's Markdown HTML: CommonMark's elements, and links and
// images whose address is http(s), mailto, relative, or (images only) a data: raster image.
const ALLOWED = new Set([
  "P", "EM", "STRONG", "CODE", "PRE", "A", "IMG", "UL", "OL", "LI", "BLOCKQUOTE",
  "H1", "H2", "H3", "H4", "H5", "H6", "HR", "BR",
]);
const SAFE_URL = /^(?:https?:|mailto:|#|\/|\.|[^:]*$)/i;
const SAFE_IMAGE = /^(?:https?:|\/|\.|[^:]*$|data:image\/(?:png|gif|jpeg|webp);)/i;

function safeHtml(html) {
  const template = document.createElement("template");
  template.innerHTML = html;
  const walk = (parent) => {
    for (const child of Array.from(parent.childNodes)) {
      if (child.nodeType === Node.TEXT_NODE) continue;
      if (child.nodeType !== Node.ELEMENT_NODE || !ALLOWED.has(child.tagName)) {
        child.replaceWith(document.createTextNode(child.textContent ?? ""));
        continue;
      }
      for (const attr of Array.from(child.attributes)) {
        const keep =
          (child.tagName === "A" && attr.name === "href" && SAFE_URL.test(attr.value.trim())) ||
          (child.tagName === "IMG" && attr.name === "src" && SAFE_IMAGE.test(attr.value.trim())) ||
          (child.tagName === "IMG" && attr.name === "alt") ||
          (child.tagName === "OL" && attr.name === "start") ||
          (child.tagName === "CODE" && attr.name === "class");
        if (!keep) child.removeAttribute(attr.name);
      }
      if (child.tagName === "A") {
        child.setAttribute("target", "_blank");
        child.setAttribute("rel", "noopener noreferrer");
      }
      walk(child);
    }
  };
  walk(template.content);
  return template.content;
}

// The theme trait as drawing constants (with the kinds' colours as CSS variables on the root).
function themeOf(model) {
  const theme = model.get("theme") ?? {};
  const geometry = theme.geometry ?? {};
  const kinds = theme.kinds ?? {};
  const colors = {};
  for (const [kind, spec] of Object.entries(kinds)) colors[kind] = spec.color;
  return {
    colors,
    titles: Object.fromEntries(Object.entries(kinds).map(([kind, spec]) => [kind, spec.title ?? kind])),
    lines: theme.lines ?? {},
    COL_W: geometry.column,
    ROW_H: geometry.row,
    GUTTER: geometry.gutter,
    TOP: geometry.top,
    R: geometry.radius,
  };
}

class Store {
  constructor(model) {
    this.model = model;
    this.listeners = new Set();
    this.syncing = false;
    this.load(model.get("snapshot"));
  }

  load(snapshot) {
    this.gen = snapshot.gen ?? 0;
    this.session = snapshot.session ?? "";
    this.lanes = [];
    this.nodes = [];
    this.byLane = [];
    this.revisions = [];
    this.maxCol = -1;
    for (const lane of snapshot.lanes ?? []) this.setLane(lane);
    for (const node of snapshot.nodes ?? []) this.addNode(node);
    this.final = snapshot.final ?? null;
    this.active = snapshot.active ?? 0;
    this.syncing = false;
  }

  setLane(lane) {
    this.lanes[lane.lane] = lane;
    while (this.byLane.length < this.lanes.length) this.byLane.push([]);
  }

  addNode(node) {
    if (node.i !== this.nodes.length) return false;
    this.nodes.push(node);
    while (this.byLane.length <= node.lane) this.byLane.push([]);
    this.byLane[node.lane].push(node);
    if (node.rev !== null && node.rev !== undefined) this.revisions.push(node);
    if (node.col > this.maxCol) this.maxCol = node.col;
    return true;
  }

  emit(change) {
    for (const listener of this.listeners) listener(change);
  }

  requestSync() {
    if (this.syncing) return;
    this.syncing = true;
    this.model.send({ type: "sync", gen: this.gen, have: this.nodes.length });
  }

  receive(msg) {
    if (!msg || msg.gen !== this.gen) return;
    if (msg.type === "add" || msg.type === "sync") {
      if (msg.seq > this.nodes.length) {
        this.requestSync();
        return;
      }
      for (const lane of msg.lanes ?? []) this.setLane(lane);
      let added = 0;
      for (const node of msg.nodes ?? []) if (this.addNode(node)) added += 1;
      if (msg.type === "sync") {
        this.syncing = false;
        this.active = msg.active ?? this.active;
      }
      if (added || msg.type === "sync") this.final = msg.final ?? null;
      this.emit({ type: "add", added });
    } else if (msg.type === "lanes") {
      for (const lane of msg.lanes ?? []) this.setLane(lane);
      this.emit({ type: "lanes" });
    } else if (msg.type === "active") {
      this.active = msg.active;
      this.emit({ type: "active" });
    } else if (msg.type === "text") {
      const node = this.nodes[msg.i];
      if (node) {
        node.text = msg.text;
        node.full = true;
        node.html = msg.html;
        this.emit({ type: "text", i: msg.i });
      }
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
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, String(value));
  }
  if (parent) parent.appendChild(node);
  return node;
}

function firstAtOrAfter(list, col) {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid].col < col) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

class GraphView {
  constructor(model, root) {
    this.model = model;
    this.store = storeFor(model);
    this.root = root;
    this.theme = themeOf(model);
    this.step = null; // null: show everything (live); else how many thoughts (arrival order) are shown
    this.follow = true;
    this.filter = "";
    this.selected = null;
    this.timer = null;
    this.frame = 0;
    this.build();
    this.onChange = (change) => this.changed(change);
    this.store.listeners.add(this.onChange);
    this.changed({ type: "reset" });
  }

  build() {
    const root = el("div", { class: "jt-graph" }, this.root);
    for (const [name, color] of Object.entries(this.theme.lines)) root.style.setProperty(`--jt-${name}`, color);
    const bar = el("div", { class: "jt-toolbar" }, root);
    const filterLabel = el("label", { class: "jt-filter-label" }, bar);
    filterLabel.append("lanes ");
    this.filterSelect = el("select", { class: "jt-filter", "aria-label": "Branch filter" }, filterLabel);
    this.filterSelect.addEventListener("change", () => {
      this.filter = this.filterSelect.value;
      this.changed({ type: "filter" });
    });
    const button = (cls, label, title, action) => {
      const b = el("button", { class: `jt-btn ${cls}`, title, "aria-label": title, type: "button", text: label }, bar);
      b.addEventListener("click", action);
      return b;
    };
    button("jt-first", "« start", "Replay from the start", () => this.setStep(0));
    button("jt-prev", "‹ back", "One thought back", () => this.setStep(this.shownCount() - 1));
    this.playButton = button("jt-play", "▶ play", "Play the history step by step", () => this.togglePlay());
    button("jt-next", "next ›", "One thought forward", () => this.setStep(this.shownCount() + 1));
    button("jt-last", "all »", "Show every thought", () => this.setStep(this.store.nodes.length));
    this.slider = el("input", { class: "jt-step", type: "range", min: 0, max: 0, value: 0, "aria-label": "Replay step" }, bar);
    this.slider.addEventListener("input", () => this.setStep(Number(this.slider.value)));
    this.stepLabel = el("span", { class: "jt-step-label" }, bar);
    const followLabel = el("label", { class: "jt-follow-label" }, bar);
    this.followBox = el("input", { class: "jt-follow", type: "checkbox" }, followLabel);
    this.followBox.checked = true;
    followLabel.append(" follow latest");
    const legend = el("span", { class: "jt-legend" }, bar);
    for (const [kind, color] of Object.entries(this.theme.colors)) {
      const item = el("span", { class: "jt-legend-item", title: this.theme.titles[kind] }, legend);
      el("span", { class: "jt-swatch", style: `background:${color}` }, item);
      item.append(kind);
    }
    this.followBox.addEventListener("change", () => {
      this.follow = this.followBox.checked;
      if (this.follow) {
        this.stopPlay();
        this.step = null;
        this.changed({ type: "follow" });
      }
    });
    this.overview = el("canvas", { class: "jt-overview", height: OVERVIEW_H, title: "Overview: click to jump" }, root);
    this.overview.addEventListener("click", (event) => this.jumpTo(event));
    this.viewport = el("div", { class: "jt-viewport", tabindex: 0 }, root);
    this.spacer = el("div", { class: "jt-spacer" }, this.viewport);
    this.svg = el("svg:svg", { class: "jt-canvas", role: "img" }, this.spacer);
    this.viewport.addEventListener("scroll", () => this.schedule(false), { passive: true });
    // Arrow keys step through the history (for teaching from the keyboard).
    this.viewport.addEventListener("keydown", (event) => {
      if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
        event.preventDefault();
        this.setStep(this.shownCount() + (event.key === "ArrowRight" ? 1 : -1));
      }
    });
    this.detail = el("div", { class: "jt-detail", "aria-live": "polite" }, root);
    this.detailHead = el("div", { class: "jt-detail-head" }, this.detail);
    this.detailText = el("div", { class: "jt-detail-text" }, this.detail);
    this.detail.hidden = true;
    this.resizeObserver = new ResizeObserver(() => this.schedule(true));
    this.resizeObserver.observe(this.viewport);
  }

  destroy() {
    this.stopPlay();
    this.store.listeners.delete(this.onChange);
    this.resizeObserver.disconnect();
    cancelAnimationFrame(this.frame);
  }

  // --- state ------------------------------------------------------------------------------------

  shownCount() {
    return this.step === null ? this.store.nodes.length : Math.min(this.step, this.store.nodes.length);
  }

  setStep(step, fromPlay = false) {
    const total = this.store.nodes.length;
    step = Math.max(0, Math.min(total, step));
    if (!fromPlay) this.stopPlay();
    this.follow = false;
    this.followBox.checked = false;
    this.step = step;
    if (step > 0) this.select(step - 1, false);
    else this.clearSelection();
    this.reveal(step - 1);
    this.changed({ type: "step" });
  }

  togglePlay() {
    if (this.timer !== null) {
      this.stopPlay();
      return;
    }
    if (this.shownCount() >= this.store.nodes.length) this.setStep(0);
    this.playButton.textContent = "❚❚ pause";
    this.timer = setInterval(() => {
      const next = this.shownCount() + 1;
      if (next > this.store.nodes.length) this.stopPlay();
      else this.setStep(next, true);
    }, 700);
  }

  stopPlay() {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.playButton) this.playButton.textContent = "▶ play";
  }

  // Which lanes are drawn, in which row; and the fork column limit for the trunk under a filter.
  // While replaying, a branch appears only once its first thought has arrived.
  visibleLanes() {
    const lanes = this.store.lanes;
    const shown = this.shownCount();
    const started = (index) => {
      if (this.step === null || index === 0) return true;
      const first = this.store.byLane[index]?.[0];
      return first !== undefined && first.i < shown;
    };
    const rows = new Map();
    const wanted = this.filter === "" ? -1 : lanes.findIndex((lane) => lane && lane.id === this.filter);
    if (wanted < 0) {
      lanes.forEach((lane, index) => lane && started(index) && rows.set(index, rows.size));
      return rows;
    }
    // The chosen lane and the lanes it forks from, top (trunk) first.
    const chain = [];
    let current = wanted;
    const seen = new Set();
    while (current !== undefined && current !== null && !seen.has(current)) {
      seen.add(current);
      chain.unshift(current);
      const fork = lanes[current]?.fork;
      current = fork === null || fork === undefined ? (current === 0 ? null : 0) : this.store.nodes[fork]?.lane;
    }
    chain.filter(started).forEach((lane) => rows.set(lane, rows.size));
    return rows;
  }

  changed(change) {
    const store = this.store;
    const total = store.nodes.length;
    if (change.type === "reset" || change.type === "lanes" || change.type === "add") this.fillFilter();
    if (change.type === "add" && this.follow) {
      this.step = null;
      if (total > 0) this.reveal(total - 1);
    }
    if (change.type === "reset" && total > 0 && this.follow) this.pendingReveal = total - 1;
    if (change.type === "text" && this.selected === change.i) this.showDetail(change.i);
    this.slider.max = String(total);
    this.slider.value = String(this.shownCount());
    this.stepLabel.textContent = `${this.shownCount()} / ${total}`;
    if (change.type === "add" || change.type === "lanes" || change.type === "reset") {
      this.schedule(true); // messages can come in bursts: draw once per frame
    } else {
      this.drawNow(); // a person's action: show its effect at once
    }
  }

  drawNow() {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.needsOverview = true;
    this.draw();
  }

  fillFilter() {
    const names = ["", ...this.store.lanes.filter(Boolean).map((lane) => lane.id)];
    const current = Array.from(this.filterSelect.options).map((o) => o.value);
    if (current.length === names.length && current.every((v, i) => v === names[i])) return;
    this.filterSelect.textContent = "";
    for (const name of names) {
      const option = el("option", { value: name, text: name === "" ? "all" : name }, this.filterSelect);
      if (name === this.filter) option.selected = true;
    }
  }

  select(index, scroll = true) {
    this.selected = index;
    this.showDetail(index);
    if (scroll) this.reveal(index);
    this.drawNow();
  }

  clearSelection() {
    this.selected = null;
    this.detail.hidden = true;
  }

  // The plain text at once; the Markdown rendered by the kernel when it arrives (asked once).
  showDetail(index) {
    const node = this.store.nodes[index];
    if (!node) return;
    this.detail.hidden = false;
    this.detail.dataset.index = String(index);
    this.detailHead.textContent = node.head;
    if (typeof node.html === "string") {
      this.detailText.replaceChildren(safeHtml(node.html));
      this.detailText.classList.add("jt-markdown");
      return;
    }
    this.detailText.classList.remove("jt-markdown");
    this.detailText.textContent = node.full ? node.text : `${node.text}…`;
    if (!node.asked) {
      node.asked = true;
      this.model.send({ type: "text", gen: this.store.gen, i: index });
    }
  }

  // Scroll so node `index` is in view (after the next layout).
  reveal(index) {
    this.pendingReveal = index;
    this.schedule(true);
  }

  jumpTo(event) {
    const { COL_W, GUTTER } = this.theme;
    const rect = this.overview.getBoundingClientRect();
    const fraction = (event.clientX - rect.left) / Math.max(rect.width, 1);
    const width = GUTTER + (this.store.maxCol + 1) * COL_W;
    this.viewport.scrollLeft = fraction * width - this.viewport.clientWidth / 2;
  }

  // --- drawing -----------------------------------------------------------------------------------

  schedule(full) {
    this.needsOverview = this.needsOverview || full;
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  draw() {
    const { COL_W, ROW_H, GUTTER, TOP, R } = this.theme;
    const store = this.store;
    const rows = this.visibleLanes();
    this.rows = rows;
    const shown = this.shownCount();
    const width = GUTTER + (store.maxCol + 2) * COL_W;
    const height = TOP + Math.max(rows.size, 1) * ROW_H;
    this.spacer.style.width = `${width}px`;
    this.spacer.style.height = `${height}px`;
    const maxHeight = this.model.get("max_height") || 460;
    this.viewport.style.height = `${Math.min(height + 18, maxHeight)}px`;
    if (this.pendingReveal !== undefined && this.pendingReveal !== null) {
      const node = store.nodes[this.pendingReveal];
      this.pendingReveal = null;
      if (node) {
        const x = GUTTER + node.col * COL_W;
        const left = this.viewport.scrollLeft;
        const viewWidth = this.viewport.clientWidth || 600;
        if (x < left + GUTTER || x > left + viewWidth - COL_W) {
          this.viewport.scrollLeft = Math.max(0, x - viewWidth + 3 * COL_W);
        }
        const row = rows.get(node.lane);
        if (row !== undefined) {
          const y = TOP + row * ROW_H;
          const top = this.viewport.scrollTop;
          const viewHeight = this.viewport.clientHeight || 300;
          if (y < top || y + ROW_H > top + viewHeight) this.viewport.scrollTop = Math.max(0, y - viewHeight / 2);
        }
      }
    }
    const left = this.viewport.scrollLeft;
    const top = this.viewport.scrollTop;
    const viewWidth = this.viewport.clientWidth || 600;
    const viewHeight = this.viewport.clientHeight || 300;
    this.svg.setAttribute("width", viewWidth);
    this.svg.setAttribute("height", viewHeight);
    this.svg.style.transform = `translate(${left}px, ${top}px)`;
    this.svg.textContent = "";
    const scene = el("svg:g", { transform: `translate(${-left} ${-top})` }, this.svg);
    const col0 = Math.floor((left - GUTTER) / COL_W) - 1;
    const col1 = Math.ceil((left + viewWidth - GUTTER) / COL_W) + 1;
    const xOf = (node) => GUTTER + node.col * COL_W + COL_W / 2;
    const yOf = (row) => TOP + row * ROW_H + ROW_H / 2;
    const visibleNode = (node) => node.i < shown && rows.has(node.lane);
    const lines = el("svg:g", { class: "jt-edges" }, scene);
    const dots = el("svg:g", { class: "jt-nodes" }, scene);
    for (const [laneIndex, row] of rows) {
      const y = yOf(row);
      if (y + ROW_H < top || y - ROW_H > top + viewHeight) continue;
      const list = store.byLane[laneIndex] ?? [];
      const lane = store.lanes[laneIndex];
      // Fork connector into the lane's first node.
      const first = list[0];
      if (first && first.i < shown && lane && lane.fork !== null && lane.fork !== undefined) {
        const origin = store.nodes[lane.fork];
        const originRow = origin ? rows.get(origin.lane) : undefined;
        if (origin && originRow !== undefined && origin.i < shown) {
          const x1 = xOf(origin);
          const y1 = yOf(originRow);
          const x2 = xOf(first);
          if (Math.max(x1, x2) >= left - COL_W && Math.min(x1, x2) <= left + viewWidth + COL_W) {
            const mid = (x1 + x2) / 2;
            el("svg:path", { class: "jt-fork", d: `M${x1} ${y1} C${mid} ${y1} ${mid} ${y} ${x2} ${y}` }, lines);
          }
        }
      }
      let start = Math.max(0, firstAtOrAfter(list, col0) - 1);
      const points = [];
      for (let k = start; k < list.length; k++) {
        const node = list[k];
        if (node.i >= shown) break;
        points.push(`${xOf(node)},${y}`);
        if (node.col > col1) break;
        if (node.col < col0) continue;
        this.drawNode(dots, node, xOf(node), y);
      }
      if (points.length > 1) el("svg:polyline", { class: "jt-seq", points: points.join(" ") }, lines);
    }
    for (const node of store.revisions) {
      if (!visibleNode(node)) continue;
      const target = store.nodes[node.rev];
      if (!target || !visibleNode(target)) continue;
      const x1 = xOf(node);
      const x2 = xOf(target);
      if (Math.max(x1, x2) < left - COL_W || Math.min(x1, x2) > left + viewWidth + COL_W) continue;
      const y1 = yOf(rows.get(node.lane));
      const y2 = yOf(rows.get(target.lane));
      const lift = R + 8 + Math.min(Math.abs(x2 - x1) / 6, ROW_H / 2);
      el(
        "svg:path",
        {
          class: "jt-revision",
          "data-from": node.i,
          "data-to": target.i,
          d: `M${x1} ${y1 - R} C${x1} ${y1 - lift} ${x2} ${y2 - lift} ${x2} ${y2 - R}`,
        },
        lines,
      );
    }
    // Lane names stay at the left edge while scrolling.
    const labels = el("svg:g", { class: "jt-labels" }, scene);
    el("svg:rect", { x: left, y: top, width: GUTTER - 6, height: viewHeight, class: "jt-gutter" }, labels);
    for (const [laneIndex, row] of rows) {
      if (yOf(row) + ROW_H < top || yOf(row) - ROW_H > top + viewHeight) continue;
      const lane = store.lanes[laneIndex];
      const count = (store.byLane[laneIndex] ?? []).filter((node) => node.i < shown).length;
      const name = laneIndex === 0 ? "main" : `${lane.id} ↱${lane.from}`;
      const label = el("svg:text", { x: left + 8, y: yOf(row) + 4, class: "jt-lane-label", "data-lane": laneIndex }, labels);
      label.textContent = `${name.length > 14 ? name.slice(0, 13) + "…" : name} (${count})`;
      if (laneIndex === store.active) label.classList.add("jt-active");
      el("svg:title", { text: `${laneIndex === 0 ? "main" : `branch ${lane.id} from thought ${lane.from}`}: ${count} shown` }, label);
    }
    this.svg.setAttribute("aria-label", `Branch graph of ${store.session}: ${shown} of ${store.nodes.length} thoughts`);
    this.overview.hidden = width <= viewWidth;
    if (this.needsOverview && !this.overview.hidden) this.drawOverview(rows, shown);
    this.needsOverview = false;
    this.drawViewBox();
  }

  drawNode(parent, node, x, y) {
    const { R, colors } = this.theme;
    const store = this.store;
    const g = el("svg:g", {
      class: `jt-node jt-kind-${node.kind}`,
      "data-index": node.i,
      "data-lane": node.lane,
      "data-kind": node.kind,
      transform: `translate(${x} ${y})`,
      tabindex: 0,
      role: "button",
    }, parent);
    if (node.i === store.final) el("svg:circle", { class: "jt-final-ring", r: R + 4 }, g);
    if (node.i === this.selected) el("svg:circle", { class: "jt-selected-ring", r: R + 3 }, g);
    el("svg:circle", { r: R, fill: colors[node.kind] ?? colors.thought }, g);
    const digits = String(node.n);
    const size = digits.length <= 2 ? 10 : digits.length === 3 ? 8.5 : digits.length === 4 ? 7 : 5.5;
    el("svg:text", { class: "jt-num", y: size / 2.6, "font-size": size, text: digits }, g);
    const preview = node.text.length > 240 ? `${node.text.slice(0, 240)}…` : node.text;
    el("svg:title", { text: `${node.head}\n${preview}` }, g);
    g.addEventListener("click", () => this.select(node.i));
    g.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") this.select(node.i);
    });
  }

  drawOverview(rows, shown) {
    const { COL_W, GUTTER, colors } = this.theme;
    const canvas = this.overview;
    const width = Math.max(100, this.root.clientWidth || 600);
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.floor(width * ratio);
    canvas.height = Math.floor(OVERVIEW_H * ratio);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${OVERVIEW_H}px`;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, OVERVIEW_H);
    const cols = Math.max(this.store.maxCol + 1, 1);
    const rowH = Math.max(1, Math.min(6, (OVERVIEW_H - 4) / Math.max(rows.size, 1)));
    const scaleX = width / (GUTTER / COL_W + cols + 1);
    for (const node of this.store.nodes) {
      if (node.i >= shown) break;
      const row = rows.get(node.lane);
      if (row === undefined) continue;
      ctx.fillStyle = colors[node.kind] ?? colors.thought;
      ctx.fillRect((GUTTER / COL_W + node.col) * scaleX, 2 + row * rowH, Math.max(1.5, scaleX * 0.8), Math.max(1.5, rowH - 1));
    }
    this.overviewImage = ctx.getImageData(0, 0, canvas.width, canvas.height);
    this.overviewScale = scaleX;
  }

  drawViewBox() {
    const { COL_W } = this.theme;
    if (!this.overviewImage || this.overview.hidden) return;
    const ctx = this.overview.getContext("2d");
    ctx.putImageData(this.overviewImage, 0, 0);
    const scaleX = this.overviewScale / COL_W;
    ctx.strokeStyle = "rgba(80, 80, 80, 0.8)";
    ctx.lineWidth = 1;
    ctx.strokeRect(this.viewport.scrollLeft * scaleX + 0.5, 0.5, Math.max(3, this.viewport.clientWidth * scaleX), OVERVIEW_H - 1);
  }
}

export default {
  initialize({ model }) {
    const store = storeFor(model);
    model.on("msg:custom", (msg) => store.receive(msg));
    model.on("change:snapshot", () => {
      store.load(model.get("snapshot"));
      store.emit({ type: "reset" });
    });
    // A model restored after a page reload holds the first snapshot only: ask for the rest.
    store.requestSync();
    return () => stores.delete(model.get("_key"));
  },
  render({ model, el: root }) {
    const view = new GraphView(model, root);
    return () => view.destroy();
  },
};
