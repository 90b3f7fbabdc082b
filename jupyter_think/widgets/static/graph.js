// jupyter-think branch graph: the anywidget front end (one dependency-free ES module, no build step).
//
// The kernel places every thought (lane, column) and numbers every step of the timeline: a thought
// (a node) or a teaching change (an event: amend, retract, decide, merge; see graphfeed.py). This
// module draws them. One Store per widget model holds the steps (the snapshot trait, then small live
// messages); each view draws only what is in its viewport (SVG elements for the visible window, so
// 10 000 thoughts stay responsive) plus an overview strip of the whole graph on a canvas. A replay
// shows the graph as it was after each step: a node is drawn once its step is shown, retracted,
// amended, decided and merged from the step those changes were made. The side pane shows the
// selected thought, or the replay's step, with its text as Markdown rendered by the kernel
// (markdown-it-py, raw HTML off; $…$ maths as MathML) and kept to the kernel's allow-list.
//
// The page holds a graph's data only while one of its views is shown: the Store is dropped with the
// last view (a closed widget, a cleared output, a re-run cell), and the model keeps no second copy of
// the snapshot. A view shown again asks the kernel for the steps it lacks. `globalThis.jupyterThinkGraphs`
// is the set of stores the page holds (each with its `nodes`).
//
// Colours and sizes come from the `theme` trait: the package's static/theme.json, which the Python
// renderers read too. Nothing here repeats them.

const SVG = "http://www.w3.org/2000/svg";
const OVERVIEW_H = 34;
const MIN_ZOOM = 0.2;
const MAX_ZOOM = 3;
const ZOOM_STEP = 1.25;
const MIN_TEXT_PX = 6; // numbers and labels smaller than this are left out: nobody could read them
const SPEEDS = [0.5, 1, 2, 5, 10, 50, 200]; // replay steps per second
const DEFAULT_SPEED = 1;
const PREFETCH = 2; // a replay asks for the texts of this many steps ahead
const NO_PATH = new Set();

const liveStores = (globalThis.jupyterThinkGraphs ??= new Set());
const stores = new Map(); // model key -> { store, views }

// What the pane keeps of the kernel's HTML: the `allowlist` trait (the kernel's allowlist.json, which
// already cleaned it): CommonMark's elements and MathML's, each with its attributes, addresses that
// match the list's patterns, lengths that are short. Anything else becomes its text.
function allowlistOf(model) {
  const list = model.get("allowlist") ?? {};
  return {
    elements: new Set(list.elements ?? []),
    attributes: Object.fromEntries(Object.entries(list.attributes ?? {}).map(([name, attrs]) => [name, new Set(attrs)])),
    urls: Object.fromEntries(Object.entries(list.urls ?? {}).map(([name, pattern]) => [name, new RegExp(pattern, "i")])),
    lengths: new Set(list.lengths ?? []),
    length: new RegExp(list.length ?? "^$"),
    classes: new RegExp(list.class ?? "^$"),
  };
}

function safeHtml(html, allowed) {
  const template = document.createElement("template");
  template.innerHTML = html;
  const walk = (parent) => {
    for (const child of Array.from(parent.childNodes)) {
      if (child.nodeType === Node.TEXT_NODE) continue;
      const name = child.localName;
      if (child.nodeType !== Node.ELEMENT_NODE || !allowed.elements.has(name)) {
        child.replaceWith(document.createTextNode(child.textContent ?? ""));
        continue;
      }
      const names = allowed.attributes[name] ?? new Set();
      for (const attr of Array.from(child.attributes)) {
        const value = attr.value.trim();
        const keep =
          names.has(attr.name) &&
          (!(attr.name in allowed.urls) || allowed.urls[attr.name].test(value)) &&
          (!allowed.lengths.has(attr.name) || allowed.length.test(value)) &&
          (attr.name !== "class" || allowed.classes.test(value));
        if (!keep) child.removeAttribute(attr.name);
      }
      if (name === "a") {
        child.setAttribute("target", "_blank");
        child.setAttribute("rel", "noopener noreferrer");
      }
      walk(child);
    }
  };
  walk(template.content);
  return template.content;
}

// The theme trait as drawing constants.
function themeOf(model) {
  const theme = model.get("theme") ?? {};
  const kinds = theme.kinds ?? {};
  return {
    colors: Object.fromEntries(Object.entries(kinds).map(([kind, spec]) => [kind, spec.color])),
    titles: Object.fromEntries(Object.entries(kinds).map(([kind, spec]) => [kind, spec.title ?? kind])),
    lines: theme.lines ?? {},
    states: theme.states ?? {},
    labels: theme.labels ?? {},
    geometry: theme.geometry ?? {},
    presenter: theme.presenter ?? {},
  };
}

// --- the data of one graph ------------------------------------------------------------------------

// The last entry of `changes` ([step, value] pairs in step order) made before step `s`.
function lastBefore(changes, s, fallback) {
  let lo = 0;
  let hi = changes.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (changes[mid][0] < s) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? fallback : changes[lo - 1][1];
}

// How many of a node's amendments were made before step `s` (its text version then).
function versionAt(node, s) {
  let k = 0;
  while (k < node.amends.length && node.amends[k].t < s) k += 1;
  return k;
}

function labelAt(node, version) {
  return version ? node.amends[version - 1].lb : node.lb;
}

// A node's text at a version: the kernel's full text and HTML once asked, else what the steps carry.
function textAt(node, version) {
  const loaded = node.loaded?.versions[version];
  if (loaded) return { text: loaded.text, html: loaded.html, full: true };
  const source = version ? node.amends[version - 1] : node;
  return { text: source.text, html: undefined, full: source.full };
}

function decisionAt(lane, s) {
  let decision = null;
  for (const d of lane?.decisions ?? []) {
    if (d.t < s) decision = d;
    else break;
  }
  return decision;
}

class Store {
  constructor(model) {
    this.model = model;
    this.listeners = new Set();
    this.syncing = false;
    this.load(model.get("snapshot") ?? {});
    liveStores.add(this);
  }

  clear() {
    this.lanes = [];
    this.nodes = [];
    this.byLane = [];
    this.revisions = [];
    this.mergeTargets = [];
    this.events = [];
    this.merges = [];
    this.timeline = [];
    this.finals = [];
    this.paths = [];
    this.maxCol = -1;
  }

  // Take a snapshot; the model then keeps its header only (this store is the page's one copy).
  load(snapshot) {
    this.gen = snapshot.gen ?? 0;
    this.session = snapshot.session ?? "";
    this.clear();
    for (const lane of snapshot.lanes ?? []) this.setLane(lane);
    this.addItems(snapshot.nodes ?? [], snapshot.events ?? []);
    this.active = snapshot.active ?? 0;
    this.syncing = false;
    const taken = snapshot.taken === true;
    snapshot.nodes = [];
    snapshot.events = [];
    snapshot.taken = true;
    if (taken) this.requestSync();
  }

  drop() {
    liveStores.delete(this);
    this.listeners.clear();
    this.clear();
  }

  get steps() {
    return this.timeline.length;
  }

  finalAt(s) {
    return lastBefore(this.finals, s, null);
  }

  pathAt(s) {
    return lastBefore(this.paths, s, NO_PATH);
  }

  setLane(lane) {
    lane.decisions = this.lanes[lane.lane]?.decisions ?? [];
    this.lanes[lane.lane] = lane;
    while (this.byLane.length < this.lanes.length) this.byLane.push([]);
  }

  // Nodes and events of one message, in step order; a step this store holds already is skipped.
  addItems(nodes, events) {
    const touched = [];
    let e = 0;
    for (const node of nodes) {
      while (e < events.length && events[e].t < node.t) this.addEvent(events[e++], touched);
      this.addNode(node);
    }
    while (e < events.length) this.addEvent(events[e++], touched);
    return touched;
  }

  addNode(node) {
    if (node.i !== this.nodes.length || node.t !== this.timeline.length) return false;
    node.amends = [];
    node.retractedAt = Infinity;
    this.nodes.push(node);
    this.timeline.push(node);
    while (this.byLane.length <= node.lane) this.byLane.push([]);
    this.byLane[node.lane].push(node);
    if (node.rev !== null && node.rev !== undefined) this.revisions.push(node);
    if (node.mg) {
      this.mergeTargets.push(node);
      for (const merge of this.merges) {
        if (merge.target === undefined && merge.lane === node.lane && node.mg.includes(merge.i)) merge.target = node;
      }
    }
    if (node.col > this.maxCol) this.maxCol = node.col;
    this.mark(node);
    return true;
  }

  addEvent(event, touched) {
    if (event.t !== this.timeline.length) return false;
    this.events.push(event);
    this.timeline.push(event);
    const node = this.nodes[event.i];
    if (event.k === "amend" && node) {
      node.amends.push(event);
      node.loaded = null; // the kernel's texts of the node are one version behind now
      node.asked = false;
    } else if (event.k === "retract" && node) {
      node.retractedAt = event.t;
    } else if (event.k === "decide") {
      this.lanes[event.lane]?.decisions.push(event);
    } else if (event.k === "merge") {
      this.merges.push(event);
    }
    if (node) touched.push(node.i);
    this.mark(event);
    return true;
  }

  mark(item) {
    if ("f" in item) this.finals.push([item.t, item.f]);
    if ("p" in item) this.paths.push([item.t, new Set(item.p)]);
  }

  emit(change) {
    for (const listener of this.listeners) listener(change);
  }

  requestSync() {
    if (this.syncing) return;
    this.syncing = true;
    this.model.send({ type: "sync", gen: this.gen, have: this.steps });
  }

  askText(index) {
    const node = this.nodes[index];
    if (!node || node.loaded || node.asked) return;
    node.asked = true;
    this.model.send({ type: "text", gen: this.gen, i: index });
  }

  receive(msg) {
    if (!msg || msg.gen !== this.gen) return;
    if (msg.type === "add" || msg.type === "event" || msg.type === "sync") {
      if (msg.seq > this.steps) {
        this.requestSync(); // a step is missing: ask for everything from the first one lacking
        return;
      }
      for (const lane of msg.lanes ?? []) this.setLane(lane);
      const before = this.steps;
      const touched = this.addItems(msg.nodes ?? [], msg.events ?? []);
      if (msg.type === "sync") this.syncing = false;
      if (typeof msg.active === "number") this.active = msg.active;
      this.emit({ type: "add", added: this.steps - before, touched });
    } else if (msg.type === "lanes") {
      for (const lane of msg.lanes ?? []) this.setLane(lane);
      this.emit({ type: "lanes" });
    } else if (msg.type === "active") {
      this.active = msg.active;
      this.emit({ type: "active" });
    } else if (msg.type === "text") {
      const node = this.nodes[msg.i];
      if (!node) return;
      const versions = [...(msg.earlier ?? []), { text: msg.text, html: msg.html }];
      if (versions.length !== node.amends.length + 1) {
        node.asked = false; // an answer about an older version: ask again when shown
        return;
      }
      node.loaded = { versions };
      this.emit({ type: "text", i: msg.i });
    }
  }
}

function acquire(model) {
  const key = model.get("_key");
  let entry = stores.get(key);
  if (!entry) {
    entry = { store: new Store(model), views: 0 };
    stores.set(key, entry);
    entry.store.requestSync(); // a model restored after a page reload holds its first snapshot only
  }
  entry.views += 1;
  return entry.store;
}

function drop(key) {
  const entry = stores.get(key);
  if (!entry) return;
  stores.delete(key);
  entry.store.drop();
}

function release(key) {
  const entry = stores.get(key);
  if (!entry) return;
  entry.views -= 1;
  if (entry.views <= 0) drop(key);
}

// --- drawing helpers -------------------------------------------------------------------------------

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

const clamp = (value, low, high) => Math.max(low, Math.min(high, value));

class GraphView {
  constructor(model, root, store) {
    this.model = model;
    this.store = store;
    this.root = root;
    this.theme = themeOf(model);
    this.allowed = allowlistOf(model);
    this.step = null; // null: show everything (live); else how many steps of the timeline are shown
    this.follow = true;
    this.filter = "";
    this.selected = null; // node index drawn with a ring
    this.paneItem = null; // the node or event the pane shows
    this.zoom = 1;
    this.labels = model.get("labels") !== false;
    this.speed = DEFAULT_SPEED;
    this.playing = 0;
    this.frame = 0;
    this.away = false; // following the presenter, but stepped away by hand
    this.build();
    this.onChange = (change) => this.changed(change);
    this.store.listeners.add(this.onChange);
    this.onLabels = () => this.setLabels(model.get("labels") !== false);
    model.on("change:labels", this.onLabels);
    this.onPresenter = () => this.presenterMoved();
    this.onFollowPresenter = () => this.followPresenterChanged();
    this.onPresenterNote = () => this.showPresenterNote();
    model.on("change:presenter", this.onPresenter);
    model.on("change:follow_presenter", this.onFollowPresenter);
    model.on("change:presenter_note", this.onPresenterNote);
    this.changed({ type: "reset" });
    this.followPresenterChanged();
    this.showPresenterNote();
  }

  build() {
    const { lines, states, labels } = this.theme;
    const root = (this.graph = el("div", { class: "jt-graph" }, this.root));
    for (const [name, color] of Object.entries(lines)) root.style.setProperty(`--jt-${name}`, color);
    if (states.chosen) {
      root.style.setProperty("--jt-chosen", states.chosen.color);
      root.style.setProperty("--jt-chosen-width", `${states.chosen.width}px`);
    }
    if (states.retracted) root.style.setProperty("--jt-retracted", states.retracted.color);
    if (labels.color) root.style.setProperty("--jt-label", labels.color);
    const bar = el("div", { class: "jt-toolbar" }, root);
    const button = (cls, label, title, action) => {
      const b = el("button", { class: `jt-btn ${cls}`, title, "aria-label": title, type: "button", text: label }, bar);
      b.addEventListener("click", action);
      return b;
    };
    button("jt-first", "« start", "Replay from the start (Home)", () => this.setStep(0));
    button("jt-prev", "‹ back", "One step back (←)", () => this.setStep(this.shown() - 1));
    this.playButton = button("jt-play", "▶ play", "Play the history step by step (space)", () => this.togglePlay());
    button("jt-next", "next ›", "One step forward (→)", () => this.setStep(this.shown() + 1));
    button("jt-last", "all »", "Show every step (End)", () => this.setStep(this.store.steps));
    this.slider = el("input", { class: "jt-step", type: "range", min: 0, max: 0, value: 0, "aria-label": "Replay step" }, bar);
    this.slider.addEventListener("input", () => this.setStep(Number(this.slider.value)));
    this.stepLabel = el("span", { class: "jt-step-label" }, bar);
    this.speedSelect = el("select", { class: "jt-speed", "aria-label": "Replay speed", title: "Replay speed" }, bar);
    for (const speed of SPEEDS) {
      const option = el("option", { value: speed, text: `${speed === 0.5 ? "½" : speed} step${speed === 1 ? "" : "s"}/s` }, this.speedSelect);
      if (speed === DEFAULT_SPEED) option.selected = true;
    }
    this.speedSelect.addEventListener("change", () => {
      this.speed = Number(this.speedSelect.value);
    });
    const followLabel = el("label", { class: "jt-follow-label" }, bar);
    this.followBox = el("input", { class: "jt-follow", type: "checkbox" }, followLabel);
    this.followBox.checked = true;
    followLabel.append(" follow latest");
    this.followBox.addEventListener("change", () => {
      this.follow = this.followBox.checked;
      if (this.follow) {
        this.stopPlay();
        this.step = null;
        this.changed({ type: "follow" });
      }
    });
    const presenterLabel = el("label", { class: "jt-follow-presenter-label", title: "Move with the presenter's view of this session (in any kernel on the same store)" }, bar);
    this.followPresenterBox = el("input", { class: "jt-follow-presenter", type: "checkbox" }, presenterLabel);
    presenterLabel.append(" follow presenter");
    this.followPresenterBox.addEventListener("change", () => {
      this.model.set("follow_presenter", this.followPresenterBox.checked);
      this.model.save_changes();
    });
    this.backButton = el("button", { class: "jt-btn jt-back", type: "button", title: "Back to the presenter's step", text: "↩ presenter" }, bar);
    this.backButton.addEventListener("click", () => {
      this.away = false;
      this.presenterMoved();
    });
    this.presenterNote = el("span", { class: "jt-presenter-note" }, bar);
    const bar2 = (this.bar2 = el("div", { class: "jt-toolbar jt-toolbar-view" }, root));
    const filterLabel = el("label", { class: "jt-filter-label" }, bar2);
    filterLabel.append("lanes ");
    this.filterSelect = el("select", { class: "jt-filter", "aria-label": "Branch filter" }, filterLabel);
    this.filterSelect.addEventListener("change", () => {
      this.filter = this.filterSelect.value;
      this.changed({ type: "filter" });
    });
    const labelsLabel = el("label", { class: "jt-labels-label", title: "Show each thought's first words" }, bar2);
    this.labelsBox = el("input", { class: "jt-labels", type: "checkbox" }, labelsLabel);
    this.labelsBox.checked = this.labels;
    labelsLabel.append(" labels");
    this.labelsBox.addEventListener("change", () => this.setLabels(this.labelsBox.checked));
    const zoomButton = (cls, label, title, action) => {
      const b = el("button", { class: `jt-btn ${cls}`, title, "aria-label": title, type: "button", text: label }, bar2);
      b.addEventListener("click", action);
      return b;
    };
    zoomButton("jt-zoom-out", "−", "Zoom out (-; ctrl+wheel, pinch)", () => this.zoomTo(this.zoom / ZOOM_STEP));
    this.zoomLevel = zoomButton("jt-zoom-level", "100%", "Zoom to 100% (0)", () => this.zoomTo(1));
    zoomButton("jt-zoom-in", "+", "Zoom in (+; ctrl+wheel, pinch)", () => this.zoomTo(this.zoom * ZOOM_STEP));
    this.presentButton = zoomButton("jt-present", "present", "Presenter view: the graph and the step's text fill the screen (Esc leaves)", () =>
      this.setPresenter(!this.graph.classList.contains("jt-presenter")),
    );
    const legend = el("span", { class: "jt-legend" }, bar2);
    for (const [kind, color] of Object.entries(this.theme.colors)) {
      const item = el("span", { class: "jt-legend-item", title: this.theme.titles[kind] }, legend);
      el("span", { class: "jt-swatch", style: `background:${color}` }, item);
      item.append(kind);
    }
    this.overview = el("canvas", { class: "jt-overview", height: OVERVIEW_H, title: "Overview: click to jump" }, root);
    this.overview.addEventListener("click", (event) => this.jumpTo(event));
    const body = el("div", { class: "jt-body" }, root);
    this.viewport = el("div", { class: "jt-viewport", tabindex: 0 }, body);
    this.spacer = el("div", { class: "jt-spacer" }, this.viewport);
    this.svg = el("svg:svg", { class: "jt-canvas", role: "img" }, this.spacer);
    this.viewport.addEventListener("scroll", () => this.schedule(false), { passive: true });
    this.svg.addEventListener("click", (event) => {
      const node = event.target.closest?.(".jt-node");
      if (node) this.select(Number(node.dataset.index));
    });
    this.svg.addEventListener("keydown", (event) => {
      const node = event.target.closest?.(".jt-node");
      if (node && (event.key === "Enter" || event.key === " ")) {
        event.preventDefault();
        event.stopPropagation();
        this.select(Number(node.dataset.index));
      }
    });
    root.addEventListener("keydown", (event) => this.onKey(event));
    this.viewport.addEventListener("wheel", (event) => this.onWheel(event), { passive: false });
    this.viewport.addEventListener("touchstart", (event) => this.onTouch(event), { passive: true });
    this.viewport.addEventListener("touchmove", (event) => this.onTouch(event), { passive: false });
    this.viewport.addEventListener("touchend", () => (this.pinch = null), { passive: true });
    this.detail = el("aside", { class: "jt-detail", "aria-live": "polite" }, body);
    this.detailStep = el("div", { class: "jt-detail-step" }, this.detail);
    this.detailHead = el("div", { class: "jt-detail-head" }, this.detail);
    this.detailState = el("div", { class: "jt-detail-state" }, this.detail);
    this.detailText = el("div", { class: "jt-detail-text" }, this.detail);
    this.detailEarlier = el("div", { class: "jt-detail-earlier" }, this.detail);
    this.detail.hidden = true;
    this.onFullscreen = () => {
      if (this.fullscreen && document.fullscreenElement !== this.graph) {
        this.fullscreen = false;
        this.setPresenter(false);
      }
    };
    document.addEventListener("fullscreenchange", this.onFullscreen);
    this.resizeObserver = new ResizeObserver(() => this.schedule(true));
    this.resizeObserver.observe(this.viewport);
  }

  destroy() {
    this.stopPlay();
    if (document.fullscreenElement === this.graph) document.exitFullscreen().catch(() => {});
    this.store.listeners.delete(this.onChange);
    this.model.off("change:labels", this.onLabels);
    this.model.off("change:presenter", this.onPresenter);
    this.model.off("change:follow_presenter", this.onFollowPresenter);
    this.model.off("change:presenter_note", this.onPresenterNote);
    document.removeEventListener("fullscreenchange", this.onFullscreen);
    this.resizeObserver.disconnect();
    cancelAnimationFrame(this.frame);
  }

  // --- state ------------------------------------------------------------------------------------

  shown() {
    return this.step === null ? this.store.steps : Math.min(this.step, this.store.steps);
  }

  setStep(step, fromPlay = false, fromPresenter = false) {
    const store = this.store;
    step = clamp(step, 0, store.steps);
    if (!fromPlay) this.stopPlay();
    if (!fromPresenter && this.model.get("follow_presenter") && !this.away) {
      this.away = true; // stepped by hand: the back button returns to the presenter
      this.backButton.hidden = false;
    }
    this.follow = false;
    this.followBox.checked = false;
    this.step = step;
    const item = step > 0 ? store.timeline[step - 1] : null;
    this.paneItem = item;
    this.selected = item && typeof item.i === "number" ? item.i : null;
    for (let ahead = step - 1; ahead < Math.min(step + PREFETCH, store.steps); ahead++) {
      const next = store.timeline[ahead];
      if (next && typeof next.i === "number" && next.k !== "decide") store.askText(next.i);
    }
    if (this.selected !== null) this.reveal(this.selected);
    this.changed({ type: "step" });
    this.tellClass();
  }

  // --- following a presenter, and being one -------------------------------------------------------

  presenting() {
    return this.graph.classList.contains("jt-presenter");
  }

  // The presenter view of a graph that follows nobody tells the kernel its step (the kernel writes it
  // to the store, where the class's graphs read it).
  tellClass() {
    if (!this.presenting() || this.model.get("follow_presenter")) return;
    this.model.send({ type: "present", gen: this.store.gen, step: this.shown(), steps: this.store.steps });
  }

  followPresenterChanged() {
    const on = this.model.get("follow_presenter") === true;
    this.followPresenterBox.checked = on;
    if (!on) this.away = false;
    this.backButton.hidden = !(on && this.away);
    if (on) this.presenterMoved();
  }

  presenterMoved() {
    const at = this.model.get("presenter") ?? {};
    this.backButton.hidden = !(this.model.get("follow_presenter") && this.away);
    this.backButton.textContent = typeof at.step === "number" ? `↩ presenter (step ${at.step})` : "↩ presenter";
    if (!this.model.get("follow_presenter") || this.away || typeof at.step !== "number") return;
    this.presenterStep = at.step;
    if (this.shown() !== Math.min(at.step, this.store.steps) || this.step === null) {
      this.setStep(Math.min(at.step, this.store.steps), false, true);
    }
  }

  showPresenterNote() {
    const note = this.model.get("presenter_note") ?? "";
    this.presenterNote.textContent = note ? `⚠ ${note}` : "";
    this.presenterNote.hidden = !note;
  }

  togglePlay() {
    if (this.playing) this.stopPlay();
    else this.startPlay();
  }

  // Steps per second as chosen; at a high speed several steps go by in one frame.
  startPlay() {
    if (this.shown() >= this.store.steps) this.setStep(0);
    this.playButton.textContent = "❚❚ pause";
    let last = performance.now();
    let owed = 0;
    const tick = (now) => {
      owed += ((now - last) / 1000) * this.speed;
      last = now;
      const whole = Math.floor(owed);
      if (whole > 0) {
        owed -= whole;
        const next = this.shown() + whole;
        this.setStep(next, true);
        if (next >= this.store.steps) {
          this.stopPlay();
          return;
        }
      }
      this.playing = requestAnimationFrame(tick);
    };
    this.playing = requestAnimationFrame(tick);
  }

  stopPlay() {
    if (this.playing) cancelAnimationFrame(this.playing);
    this.playing = 0;
    if (this.playButton) this.playButton.textContent = "▶ play";
  }

  setLabels(on) {
    if (on === this.labels) return;
    const focus = this.focusedNode();
    this.labels = on;
    this.labelsBox.checked = on;
    this.needsOverview = true;
    if (focus) this.reveal(focus.i, true);
    this.drawNow();
  }

  // The graph and the pane fill the screen (or the window when fullscreen is refused), the graph
  // zoomed for a projector; leaving gives the zoom back.
  setPresenter(on) {
    if (on === this.graph.classList.contains("jt-presenter")) return;
    this.graph.classList.toggle("jt-presenter", on);
    this.presentButton.textContent = on ? "✕ leave" : "present";
    this.presentButton.setAttribute("aria-pressed", String(on));
    if (on && this.graph.requestFullscreen && !document.fullscreenElement) {
      this.graph
        .requestFullscreen()
        .then(() => (this.fullscreen = true))
        .catch(() => {}); // refused (no user gesture, an iframe): the expanded layout fills the window
    } else if (!on && document.fullscreenElement === this.graph) {
      this.fullscreen = false;
      document.exitFullscreen().catch(() => {});
    }
    // The presenter view fits the whole graph to the screen (its zoom starts at 100 % = fitted) and
    // always shows a step's text: entering it from the live view starts the replay at the first step.
    this.zoomBefore = on ? this.zoom : this.zoomBefore;
    this.zoom = on ? 1 : this.zoomBefore ?? 1;
    this.zoomLevel.textContent = `${Math.round(this.zoom * 100)}%`;
    if (on) {
      this.viewport.focus({ preventScroll: true });
      if (this.step === null && !this.model.get("follow_presenter")) this.setStep(Math.min(1, this.store.steps));
      else this.tellClass();
    }
    this.changed({ type: "step" });
    const focus = this.focusedNode();
    if (focus) this.reveal(focus.i, true);
    this.drawNow();
  }

  onKey(event) {
    const target = event.target;
    const tag = target.tagName;
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || event.altKey || event.metaKey || event.ctrlKey) return;
    const onControl = tag === "BUTTON" || target.closest?.(".jt-node");
    switch (event.key) {
      case "ArrowRight":
        this.setStep(this.shown() + 1);
        break;
      case "ArrowLeft":
        this.setStep(this.shown() - 1);
        break;
      case " ":
        if (onControl) return;
        this.togglePlay();
        break;
      case "Home":
        this.setStep(0);
        break;
      case "End":
        this.setStep(this.store.steps);
        break;
      case "+":
      case "=":
        this.zoomTo(this.zoom * ZOOM_STEP);
        break;
      case "-":
        this.zoomTo(this.zoom / ZOOM_STEP);
        break;
      case "0":
        this.zoomTo(1);
        break;
      case "Escape":
        if (!this.graph.classList.contains("jt-presenter")) return;
        this.setPresenter(false);
        break;
      default:
        return;
    }
    event.preventDefault();
  }

  onWheel(event) {
    if (!event.ctrlKey && !event.metaKey) return; // a plain wheel scrolls; ctrl+wheel (and a trackpad pinch) zooms
    event.preventDefault();
    const rect = this.viewport.getBoundingClientRect();
    this.zoomTo(this.zoom * Math.exp(-event.deltaY * 0.002), { x: event.clientX - rect.left, y: event.clientY - rect.top });
  }

  onTouch(event) {
    if (event.touches.length !== 2) return;
    const [a, b] = event.touches;
    const distance = Math.hypot(a.clientX - b.clientX, a.clientY - b.clientY);
    if (event.type === "touchstart" || !this.pinch) {
      this.pinch = { distance, zoom: this.zoom };
      return;
    }
    event.preventDefault();
    const rect = this.viewport.getBoundingClientRect();
    const middle = { x: (a.clientX + b.clientX) / 2 - rect.left, y: (a.clientY + b.clientY) / 2 - rect.top };
    this.zoomTo(this.pinch.zoom * (distance / Math.max(this.pinch.distance, 1)), middle);
  }

  // The node a person is looking at: the selected one, else the replay's current one.
  focusedNode() {
    const index = this.selected;
    const node = index === null ? null : this.store.nodes[index];
    return node && node.t < this.shown() ? node : null;
  }

  // Zoom to `next`, keeping the focused node (when in view), else `anchor` (a point of the
  // viewport), else the middle where it is on screen; a focused node out of view is brought in.
  zoomTo(next, anchor = null) {
    next = clamp(next, MIN_ZOOM, MAX_ZOOM);
    if (Math.abs(next - this.zoom) < 1e-9) return;
    const viewport = this.viewport;
    const before = this.geom();
    let x = anchor?.x ?? viewport.clientWidth / 2;
    let y = anchor?.y ?? viewport.clientHeight / 2;
    const focus = this.focusedNode();
    const row = focus ? this.rows?.get(focus.lane) : undefined;
    let keep = false;
    if (focus && row !== undefined) {
      const fx = this.xOf(focus, before) - viewport.scrollLeft;
      const fy = this.yOf(row, before) - viewport.scrollTop;
      keep = fx >= 0 && fx <= viewport.clientWidth && fy >= 0 && fy <= viewport.clientHeight;
      if (keep) [x, y] = [fx, fy];
    }
    const columns = (viewport.scrollLeft + x - before.GUTTER) / before.COL_W;
    const rows = (viewport.scrollTop + y - before.TOP) / before.ROW_H;
    this.zoom = next;
    const after = this.geom();
    this.size(after);
    viewport.scrollLeft = after.GUTTER + columns * after.COL_W - x;
    viewport.scrollTop = after.TOP + rows * after.ROW_H - y;
    this.zoomLevel.textContent = `${Math.round(next * 100)}%`;
    if (focus && !keep) this.reveal(focus.i, true);
    this.drawNow();
  }

  // Which lanes are drawn, in which row. Every lane keeps its row while replaying (so nothing moves
  // and the widget keeps its height as the steps go by); a lane's name shows once it has started.
  started(index) {
    if (this.step === null || index === 0) return true;
    const first = this.store.byLane[index]?.[0];
    return first !== undefined && first.t < this.shown();
  }

  visibleLanes() {
    const lanes = this.store.lanes;
    const started = () => true;
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
    const total = store.steps;
    if (change.type === "reset" || change.type === "lanes" || change.type === "add") this.fillFilter();
    if (change.type === "reset") {
      if (this.step !== null) this.step = Math.min(this.step, total);
      if (this.selected !== null && this.selected >= store.nodes.length) this.clearSelection();
      if (this.paneItem && store.timeline[this.paneItem.t] !== this.paneItem) this.clearSelection();
      if (store.nodes.length > 0 && this.follow) this.pendingReveal = store.nodes.length - 1;
    }
    if (change.type === "add" && this.follow) {
      this.step = null;
      if (change.added && store.nodes.length > 0) this.reveal(store.nodes.length - 1);
    }
    if (change.type === "add" && this.model.get("follow_presenter") && !this.away) this.presenterMoved();
    const paneNode = this.paneItem ? this.paneItem.i : undefined;
    const paneChanged =
      change.type === "step" ||
      change.type === "reset" ||
      change.type === "follow" ||
      change.type === "select" ||
      (change.type === "text" && change.i === paneNode) ||
      (change.type === "add" && this.step === null && (change.touched ?? []).includes(paneNode));
    if (paneChanged) this.renderPane();
    this.slider.max = String(total);
    this.slider.value = String(this.shown());
    this.stepLabel.textContent = `${this.shown()} / ${total}`;
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

  select(index) {
    const node = this.store.nodes[index];
    if (!node) return;
    this.selected = index;
    this.paneItem = node;
    this.reveal(index);
    this.changed({ type: "select" });
  }

  clearSelection() {
    this.selected = null;
    this.paneItem = null;
  }

  // --- the pane: the selected thought, or the replay's step -----------------------------------------

  renderPane() {
    const item = this.paneItem;
    if (!item && this.presenting()) {
      // The presenter view always has its text: before the first step, what to press.
      this.detail.hidden = false;
      this.detailStep.textContent = `Step ${this.shown()} of ${this.store.steps}`;
      this.detailStep.hidden = false;
      this.detailHead.textContent = this.store.session;
      this.detailState.hidden = true;
      this.showText(this.detailText, { text: "Press → for the first step.", full: true }, false);
      this.detailEarlier.hidden = true;
      return;
    }
    if (!item) {
      this.detail.hidden = true;
      return;
    }
    const store = this.store;
    const { states } = this.theme;
    const s = this.shown();
    this.detail.hidden = false;
    this.detail.dataset.step = String(item.t);
    this.detailStep.textContent = this.step === null ? "" : `Step ${s} of ${store.steps}`;
    this.detailStep.hidden = this.step === null;
    const badges = [];
    let head = "";
    let text = null; // { text, html, full }
    let earlier = [];
    let struck = false;
    const node = typeof item.i === "number" ? store.nodes[item.i] : null;
    if (node) this.detail.dataset.index = String(node.i);
    else delete this.detail.dataset.index;
    if (item.k === undefined || item.k === "retract") {
      const version = versionAt(node, s);
      const retracted = node.retractedAt < s;
      head = item.k === "retract" ? `Thought ${node.n} retracted` : node.head + (version ? " · amended" : "") + (retracted ? " · retracted" : "");
      if (retracted) badges.push(["retracted", states.retracted?.title ?? "retracted"]);
      if (version) badges.push(["amended", `${states.amended?.mark ?? ""} ${states.amended?.title ?? "amended"}`.trim()]);
      text = textAt(node, version);
      earlier = Array.from({ length: version }, (_, k) => textAt(node, k));
      struck = retracted;
    } else if (item.k === "amend") {
      const version = node.amends.indexOf(item) + 1;
      head = `Thought ${node.n} amended`;
      badges.push(["amended", `${states.amended?.mark ?? ""} ${states.amended?.title ?? "amended"}`.trim()]);
      text = textAt(node, version);
      earlier = Array.from({ length: version }, (_, k) => textAt(node, k));
    } else if (item.k === "decide") {
      const lane = store.lanes[item.lane];
      head = `Branch ${lane?.id ?? item.lane} ${item.outcome}`;
      badges.push([item.outcome, states[item.outcome]?.title ?? item.outcome]);
      text = { text: item.note ?? "", html: undefined, full: true };
    } else if (item.k === "merge") {
      const from = store.lanes[node.lane]?.id ?? node.lane;
      const into = store.lanes[item.lane]?.id ?? item.lane;
      head = `Branch ${from} merged into ${into}`;
      text = { text: `${into} continues from thought ${node.n} of ${from}.`, html: undefined, full: true };
    }
    this.detailHead.textContent = head;
    this.detailState.replaceChildren(
      ...badges.map(([state, title]) => el("span", { class: `jt-badge jt-badge-${state}`, text: title })),
    );
    this.detailState.hidden = badges.length === 0;
    this.showText(this.detailText, text, struck);
    this.detailEarlier.replaceChildren();
    this.detailEarlier.hidden = earlier.length === 0;
    if (earlier.length) {
      el("div", { class: "jt-earlier-head", text: earlier.length === 1 ? "Earlier text" : "Earlier texts" }, this.detailEarlier);
      for (const version of earlier) this.showText(el("div", { class: "jt-earlier" }, this.detailEarlier), version, true);
    }
    if (node && !node.loaded && item.k !== "merge") store.askText(node.i);
  }

  showText(target, text, struck) {
    target.classList.toggle("jt-struck", struck);
    if (text && typeof text.html === "string") {
      target.replaceChildren(safeHtml(text.html, this.allowed));
      target.classList.add("jt-markdown");
    } else {
      target.classList.remove("jt-markdown");
      target.textContent = text ? (text.full ? text.text : `${text.text}…`) : "";
    }
  }

  // --- geometry ------------------------------------------------------------------------------------

  // Sizes at the current zoom; with labels, columns and lanes are as wide as the labels need. The
  // presenter view fits the whole graph to its area instead (see presenterGeom).
  geom() {
    if (this.presenting()) return this.presenterGeom();
    const { geometry, labels } = this.theme;
    const z = this.zoom;
    const labelSize = (labels.size ?? 10) * z;
    return {
      z,
      COL_W: (this.labels ? labels.column : geometry.column) * z,
      ROW_H: (this.labels ? labels.row : geometry.row) * z,
      NODE_Y: (geometry.row / 2) * z,
      R: geometry.radius * z,
      GUTTER: geometry.gutter,
      TOP: geometry.top,
      labelSize,
      laneSize: null, // (shrinks with its lane, see draw)
      showLabels: this.labels && labelSize >= MIN_TEXT_PX,
    };
  }

  // For a projector: every column and lane of the whole graph (all its steps, so nothing moves while
  // stepping) in the viewport at 100 %, type at least `presenter.label` px (18 by default) for reading
  // from the back of the room, nodes as large as the room allows, and a lane-name gutter wide enough
  // for its names, so no node is ever drawn under them. The zoom buttons scale this fit.
  presenterGeom() {
    const { geometry, labels, presenter } = this.theme;
    const z = this.zoom;
    const rows = Math.max(this.visibleLanes().size, 1);
    const cols = this.store.maxCol + 2;
    const width = Math.max(this.viewport.clientWidth, 200);
    const height = Math.max(this.viewport.clientHeight, 120);
    const minType = presenter.label ?? 18;
    const laneSize = Math.round(minType * z);
    const longest = Math.max(4, ...this.store.lanes.filter(Boolean).map((lane, k) => this.laneName(lane, k).length + 5));
    const GUTTER = Math.round(clamp(longest * laneSize * 0.6 + 24, geometry.gutter, width * 0.3));
    const TOP = geometry.top;
    const COL_W = Math.floor(((width - GUTTER - 4) / cols) * z);
    const labelLines = labels.lines ?? 2;
    const fitType = COL_W / ((labels.chars ?? 16) * 0.6); // the type size at which a full label line fits its column
    const labelSize = Math.round(clamp(fitType, minType, (presenter.maxLabel ?? 28) * z) * 100) / 100;
    const showLabels = this.labels && fitType >= minType * 0.6 * z; // narrower columns: squeezed, then left out
    const R = Math.round(clamp(Math.min(COL_W * 0.17, ((height - TOP) / rows) * 0.2), 8, 30 * z));
    const needed = 2 * R + 16 + (showLabels ? labelLines * (labelSize + 4) : 0);
    const ROW_H = Math.floor(Math.min(Math.max(needed, ((height - TOP - 4) / rows) * z), needed * 1.8));
    const nodeY = showLabels ? R + 8 : ROW_H / 2;
    return { z: R / geometry.radius, COL_W, ROW_H, NODE_Y: nodeY, R, GUTTER, TOP, labelSize, laneSize, showLabels };
  }

  laneName(lane, index) {
    const name = index === 0 ? "main" : `${lane.id} ↱${lane.from}`;
    return name.length > 14 ? name.slice(0, 13) + "…" : name;
  }

  xOf(node, g) {
    return g.GUTTER + node.col * g.COL_W + g.COL_W / 2;
  }

  yOf(row, g) {
    return g.TOP + row * g.ROW_H + g.NODE_Y;
  }

  size(g, rows = this.rows ?? this.visibleLanes()) {
    const width = g.GUTTER + (this.store.maxCol + 2) * g.COL_W;
    const height = g.TOP + Math.max(rows.size, 1) * g.ROW_H;
    this.spacer.style.width = `${width}px`;
    this.spacer.style.height = `${height}px`;
    return { width, height };
  }

  // Scroll so node `index` is in view (after the next layout); `center` puts it in the middle.
  reveal(index, center = false) {
    this.pendingReveal = index;
    this.revealCenter = center;
    this.schedule(true);
  }

  jumpTo(event) {
    const rect = this.overview.getBoundingClientRect();
    const scale = this.overviewScale || 1;
    this.viewport.scrollLeft = (event.clientX - rect.left) / scale - this.viewport.clientWidth / 2;
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
    const g = this.geom();
    const { COL_W, ROW_H, GUTTER, R } = g;
    const store = this.store;
    const rows = this.visibleLanes();
    this.rows = rows;
    const s = this.shown();
    const final = store.finalAt(s);
    const path = store.pathAt(s);
    const { width, height } = this.size(g, rows);
    const presenter = this.graph.classList.contains("jt-presenter");
    const maxHeight = this.model.get("max_height") || 460;
    this.viewport.style.height = presenter ? "" : `${Math.min(height + 18, maxHeight)}px`;
    const viewport = this.viewport;
    if (this.pendingReveal !== undefined && this.pendingReveal !== null) {
      const node = store.nodes[this.pendingReveal];
      this.pendingReveal = null;
      const row = node ? rows.get(node.lane) : undefined;
      if (node) {
        const x = this.xOf(node, g);
        const viewWidth = viewport.clientWidth || 600;
        const left = viewport.scrollLeft;
        if (this.revealCenter) viewport.scrollLeft = Math.max(0, x - viewWidth / 2);
        else if (x < left + GUTTER + COL_W / 2 || x > left + viewWidth - COL_W / 2) {
          viewport.scrollLeft = Math.max(0, x - viewWidth + 3 * COL_W);
        }
        if (row !== undefined) {
          const y = this.yOf(row, g);
          const top = viewport.scrollTop;
          const viewHeight = viewport.clientHeight || 300;
          if (this.revealCenter || y - ROW_H / 2 < top || y + ROW_H / 2 > top + viewHeight) {
            viewport.scrollTop = Math.max(0, y - viewHeight / 2);
          }
        }
      }
    }
    const left = viewport.scrollLeft;
    const top = viewport.scrollTop;
    const viewWidth = viewport.clientWidth || 600;
    const viewHeight = viewport.clientHeight || 300;
    this.detail.style.maxHeight = presenter ? "" : `${Math.max(viewHeight, 160)}px`;
    this.svg.setAttribute("width", viewWidth);
    this.svg.setAttribute("height", viewHeight);
    this.svg.style.transform = `translate(${left}px, ${top}px)`;
    this.svg.textContent = "";
    const scene = el("svg:g", { transform: `translate(${-left} ${-top})` }, this.svg);
    const col0 = Math.floor((left - GUTTER) / COL_W) - 1;
    const col1 = Math.ceil((left + viewWidth - GUTTER) / COL_W) + 1;
    const xOf = (node) => this.xOf(node, g);
    const yOf = (row) => this.yOf(row, g);
    const visible = (node) => node.t < s && rows.has(node.lane);
    const inView = (x1, x2) => Math.max(x1, x2) >= left - COL_W && Math.min(x1, x2) <= left + viewWidth + COL_W;
    const { states } = this.theme;
    const abandonedOpacity = states.abandoned?.opacity ?? 1;
    const abandoned = new Set();
    for (const laneIndex of rows.keys()) {
      if (decisionAt(store.lanes[laneIndex], s)?.outcome === "abandoned") abandoned.add(laneIndex);
    }
    const laneAttrs = (laneIndex, cls) => {
      const attrs = { class: cls, "data-lane": laneIndex };
      if (abandoned.has(laneIndex)) {
        attrs.class += " jt-abandoned";
        attrs.opacity = abandonedOpacity;
      }
      return attrs;
    };
    // Nothing is drawn under the lane names: edges are clipped at the gutter, and a node whose dot would
    // reach into it (scrolled past) is left out.
    const clipId = `jt-clip-${this.clipId ??= Math.random().toString(36).slice(2)}`;
    const clip = el("svg:clipPath", { id: clipId }, el("svg:defs", {}, scene));
    el("svg:rect", { x: left + GUTTER, y: top, width: Math.max(0, viewWidth - GUTTER), height: viewHeight }, clip);
    const lines = el("svg:g", { class: "jt-edges", "clip-path": `url(#${clipId})` }, scene);
    const dots = el("svg:g", { class: "jt-nodes", "clip-path": `url(#${clipId})` }, scene);
    const context = { g, s, final, path, labelsToFit: [] };
    for (const [laneIndex, row] of rows) {
      const y = yOf(row);
      if (y + ROW_H < top || y - ROW_H > top + viewHeight) continue;
      const list = store.byLane[laneIndex] ?? [];
      const lane = store.lanes[laneIndex];
      const laneLines = el("svg:g", laneAttrs(laneIndex, "jt-lane-edges"), lines);
      const laneDots = el("svg:g", laneAttrs(laneIndex, "jt-lane-nodes"), dots);
      const onPath = path.has(laneIndex);
      // Fork connector into the lane's first node.
      const first = list[0];
      if (first && first.t < s && lane && lane.fork !== null && lane.fork !== undefined) {
        const origin = store.nodes[lane.fork];
        const originRow = origin ? rows.get(origin.lane) : undefined;
        if (origin && originRow !== undefined && origin.t < s) {
          const x1 = xOf(origin);
          const y1 = yOf(originRow);
          const x2 = xOf(first);
          if (inView(x1, x2)) {
            const mid = (x1 + x2) / 2;
            const cls = onPath && path.has(origin.lane) ? "jt-fork jt-on-path" : "jt-fork";
            el("svg:path", { class: cls, d: `M${x1} ${y1} C${mid} ${y1} ${mid} ${y} ${x2} ${y}` }, laneLines);
          }
        }
      }
      const start = Math.max(0, firstAtOrAfter(list, col0) - 1);
      const points = [];
      for (let k = start; k < list.length; k++) {
        const node = list[k];
        if (node.t >= s) break;
        points.push(`${xOf(node)},${y}`);
        if (node.col > col1) break;
        if (node.col < col0 || xOf(node) - R < left + GUTTER) continue;
        this.drawNode(laneDots, node, xOf(node), y, context);
      }
      if (points.length > 1) {
        el("svg:polyline", { class: onPath ? "jt-seq jt-on-path" : "jt-seq", points: points.join(" ") }, laneLines);
      }
    }
    const edge = (cls, from, to, d) => el("svg:path", { class: cls, "data-from": from, "data-to": to, d }, lines);
    // Merge edges: the merged branch's last thought -> the next thought of the lane it joined.
    for (const target of store.mergeTargets) {
      if (!visible(target)) continue;
      for (const sourceIndex of target.mg) {
        const source = store.nodes[sourceIndex];
        if (!source || !visible(source)) continue;
        const [x1, x2] = [xOf(source), xOf(target)];
        if (!inView(x1, x2)) continue;
        const [y1, y2] = [yOf(rows.get(source.lane)), yOf(rows.get(target.lane))];
        const mid = (x1 + x2) / 2;
        const bold = path.has(source.lane) && path.has(target.lane);
        edge(bold ? "jt-merge jt-on-path" : "jt-merge", source.i, target.i, `M${x1} ${y1} C${mid} ${y1} ${mid} ${y2} ${x2} ${y2}`);
      }
    }
    // A merge whose target lane has no thought since: a stub towards that lane.
    for (const merge of store.merges) {
      if (merge.t >= s || (merge.target && merge.target.t < s)) continue;
      const source = store.nodes[merge.i];
      const row = rows.get(merge.lane);
      if (!source || !visible(source) || row === undefined) continue;
      const [x1, y1] = [xOf(source), yOf(rows.get(source.lane))];
      const [x2, y2] = [x1 + COL_W / 2, yOf(row)];
      if (!inView(x1, x2)) continue;
      edge("jt-merge jt-waiting", source.i, "", `M${x1} ${y1} C${x2} ${y1} ${x1} ${y2} ${x2} ${y2}`);
    }
    for (const node of store.revisions) {
      if (!visible(node)) continue;
      const target = store.nodes[node.rev];
      if (!target || !visible(target)) continue;
      const [x1, x2] = [xOf(node), xOf(target)];
      if (!inView(x1, x2)) continue;
      const y1 = yOf(rows.get(node.lane));
      const y2 = yOf(rows.get(target.lane));
      // The arc's top (a quarter of R and three quarters of the lift above the nodes) stays in the
      // drawing: over the first lane it would leave the view.
      const room = (Math.min(y1, y2) - R / 4 - 2) / 0.75;
      const lift = Math.min(R + 8 * g.z + Math.min(Math.abs(x2 - x1) / 6, ROW_H / 2), room);
      edge("jt-revision", node.i, target.i, `M${x1} ${y1 - R} C${x1} ${y1 - lift} ${x2} ${y2 - lift} ${x2} ${y2 - R}`);
    }
    this.fitLabels(context.labelsToFit, COL_W - 6 * g.z);
    // Lane names stay at the left edge while scrolling.
    const names = el("svg:g", { class: "jt-lane-names" }, scene);
    el("svg:rect", { x: left, y: top, width: GUTTER - 6, height: viewHeight, class: "jt-gutter" }, names);
    for (const [laneIndex, row] of rows) {
      const y = yOf(row);
      if (y + ROW_H < top || y - ROW_H > top + viewHeight) continue;
      const lane = store.lanes[laneIndex];
      if (!this.started(laneIndex)) continue; // (its row is kept; its name comes with its first step)
      const count = (store.byLane[laneIndex] ?? []).filter((node) => node.t < s).length;
      const attrs = laneAttrs(laneIndex, "jt-lane-label");
      const fontSize = g.laneSize ?? Math.min(11, ROW_H * 0.8); // zoomed far out, lane names shrink with their lanes
      Object.assign(attrs, { x: left + 8, y: y + fontSize / 3, "font-size": fontSize });
      const label = el("svg:text", attrs, names);
      label.textContent = `${this.laneName(lane, laneIndex)} (${count})`;
      if (laneIndex === store.active) label.classList.add("jt-active");
      if (path.has(laneIndex)) label.classList.add("jt-on-path");
      const decision = decisionAt(lane, s);
      if (decision && ROW_H >= 30) {
        const outcome = { class: "jt-outcome", x: left + 8, dy: Math.max(13, fontSize * 1.15), text: decision.outcome };
        if (g.laneSize) outcome["font-size"] = Math.round(fontSize * 0.85);
        el("svg:tspan", outcome, label);
      }
      const about = decision ? `; ${decision.outcome}${decision.note ? `: ${decision.note}` : ""}` : "";
      el("svg:title", { text: `${laneIndex === 0 ? "main" : `branch ${lane.id} from thought ${lane.from}`}: ${count} shown${about}` }, label);
    }
    this.svg.setAttribute("aria-label", `Branch graph of ${store.session}: ${s} of ${store.steps} steps`);
    this.overview.hidden = width <= viewWidth;
    if (this.needsOverview && !this.overview.hidden) this.drawOverview(rows, s, g, width);
    this.needsOverview = false;
    this.drawViewBox();
  }

  drawNode(parent, node, x, y, context) {
    const { g, s, final, path } = context;
    const { R, z } = g;
    const { colors, states } = this.theme;
    const version = versionAt(node, s);
    const retracted = node.retractedAt < s;
    const classes = ["jt-node", `jt-kind-${node.kind}`];
    const state = [];
    if (retracted) state.push("retracted");
    if (version) state.push("amended");
    for (const name of state) classes.push(`jt-${name}`);
    if (path.has(node.lane)) classes.push("jt-on-path");
    const group = el("svg:g", {
      class: classes.join(" "),
      "data-index": node.i,
      "data-lane": node.lane,
      "data-kind": node.kind,
      "data-state": state.join(" "),
      transform: `translate(${x} ${y})`,
      tabindex: 0,
      role: "button",
    }, parent);
    const labelLines = g.showLabels ? labelAt(node, version) ?? [] : [];
    if (labelLines.length) {
      // The label is part of the node: a click on it selects the thought too.
      const width = g.COL_W - 6 * z;
      const bottom = R + 4 * z + labelLines.length * (g.labelSize + 2 * z) + 4 * z;
      el("svg:rect", { class: "jt-hit", x: -width / 2, y: -R - 4 * z, width, height: bottom + R + 4 * z }, group);
    }
    if (node.i === final) el("svg:circle", { class: "jt-final-ring", r: R + 4 * z }, group);
    if (node.i === this.selected) el("svg:circle", { class: "jt-selected-ring", r: R + 3 * z }, group);
    const dot = { class: "jt-dot", r: R, fill: colors[node.kind] ?? colors.thought };
    if (retracted) Object.assign(dot, { fill: states.retracted.color, opacity: states.retracted.opacity });
    el("svg:circle", dot, group);
    const digits = String(node.n);
    const size = (digits.length <= 2 ? 10 : digits.length === 3 ? 8.5 : digits.length === 4 ? 7 : 5.5) * z;
    if (size >= MIN_TEXT_PX) el("svg:text", { class: "jt-num", y: size / 2.6, "font-size": size, text: digits }, group);
    if (retracted) {
      const d = R + 3 * z;
      el("svg:line", { class: "jt-strike", x1: -d, y1: d, x2: d, y2: -d }, group);
    }
    if (version && states.amended) {
      el("svg:text", { class: "jt-amended-mark", x: R * 0.75, y: -R * 0.75, "font-size": Math.max(9, 11 * z), text: states.amended.mark }, group);
    }
    if (labelLines.length) {
      labelLines.forEach((line, row) => {
        const label = el("svg:text", {
          class: retracted ? "jt-label jt-struck" : "jt-label",
          y: R + 4 * z + (row + 1) * (g.labelSize + 2 * z),
          "font-size": g.labelSize,
          text: line,
        }, group);
        if (line.length >= 12) context.labelsToFit.push(label);
      });
    }
    const current = textAt(node, version).text;
    const preview = current.length > 240 ? `${current.slice(0, 240)}…` : current;
    const marks = state.map((name) => ` (${name})`).join("");
    el("svg:title", { text: `${node.head}${marks}\n${preview}` }, group);
  }

  // Long labels are squeezed to their column, so neighbours never overlap (one layout pass for all).
  fitLabels(labels, room) {
    const widths = labels.map((label) => label.getComputedTextLength());
    labels.forEach((label, k) => {
      if (widths[k] > room) {
        label.setAttribute("textLength", room);
        label.setAttribute("lengthAdjust", "spacingAndGlyphs");
      }
    });
  }

  // Every node as a tick; then the marks (revisions, retractions, endings, merges) on top of them,
  // never narrower than 2 px, so no mark is hidden under the next node at any size.
  drawOverview(rows, s, g, contentWidth) {
    const { colors, states, lines } = this.theme;
    const canvas = this.overview;
    const width = Math.max(100, this.graph.clientWidth || 600);
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.floor(width * ratio);
    canvas.height = Math.floor(OVERVIEW_H * ratio);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${OVERVIEW_H}px`;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, OVERVIEW_H);
    const scale = width / Math.max(contentWidth, 1);
    const rowH = Math.max(1, Math.min(6, (OVERVIEW_H - 4) / Math.max(rows.size, 1)));
    const tick = Math.max(1.5, g.COL_W * scale * 0.8);
    const store = this.store;
    const final = store.finalAt(s);
    const marks = [];
    for (const node of store.nodes) {
      if (node.t >= s) break;
      const row = rows.get(node.lane);
      if (row === undefined) continue;
      const x = this.xOf(node, g) * scale;
      const retracted = node.retractedAt < s;
      const color = retracted ? states.retracted.color : colors[node.kind] ?? colors.thought;
      ctx.fillStyle = color;
      ctx.fillRect(x - tick / 2, 2 + row * rowH, tick, Math.max(1.5, rowH - 1));
      if (retracted || node.kind === "revision" || node.kind === "final" || node.i === final) marks.push([x, row, color]);
      else if (node.mg) marks.push([x, row, lines.merge]);
    }
    for (const [x, row, color] of marks) {
      ctx.fillStyle = color;
      ctx.fillRect(Math.round(x) - 1, 1 + row * rowH, 2, Math.max(3, rowH + 1));
    }
    this.overviewImage = ctx.getImageData(0, 0, canvas.width, canvas.height);
    this.overviewScale = scale;
  }

  drawViewBox() {
    if (!this.overviewImage || this.overview.hidden) return;
    const ctx = this.overview.getContext("2d");
    ctx.putImageData(this.overviewImage, 0, 0);
    const scale = this.overviewScale;
    ctx.strokeStyle = "rgba(80, 80, 80, 0.8)";
    ctx.lineWidth = 1;
    ctx.strokeRect(this.viewport.scrollLeft * scale + 0.5, 0.5, Math.max(3, this.viewport.clientWidth * scale), OVERVIEW_H - 1);
  }
}

export default {
  initialize({ model }) {
    const key = model.get("_key");
    const onMessage = (msg) => stores.get(key)?.store.receive(msg);
    const onSnapshot = () => {
      const entry = stores.get(key);
      if (!entry) return; // no view: the next one loads it
      entry.store.load(model.get("snapshot") ?? {});
      entry.store.emit({ type: "reset" });
    };
    model.on("msg:custom", onMessage);
    model.on("change:snapshot", onSnapshot);
    return () => {
      model.off("msg:custom", onMessage);
      model.off("change:snapshot", onSnapshot);
      drop(key);
    };
  },
  render({ model, el: root }) {
    const key = model.get("_key");
    const view = new GraphView(model, root, acquire(model));
    return () => {
      view.destroy();
      release(key);
    };
  },
};
