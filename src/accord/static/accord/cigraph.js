// The neighbourhood graph of a CI (cmdb/_graph.html). It loads graph.json, places the
// CIs in rings by their distance from the centre CI and draws them in SVG. Clicking a
// CI, or Enter on it, selects it and adds its neighbours; the side panel shows its
// details and links to its page. No inline script or style: the site's CSP is strict.
(function () {
  "use strict";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const W = 180; // a CI's box
  const H = 46;
  const GAP = 18; // at least this much between two boxes
  const RING = W + 90; // from one ring to the next across, room for a label
  const RING_V = H + 100; // and down
  const SHAPES = [0.55, 0.8, 1.1, 1.5, 2]; // a ring's height to its width
  const MARGIN = 30;
  const MAX_SHOWN = 400; // the most CIs a graph draws (and names as already shown)
  const QUIET_LABELS = 16; // more relationships than this: labels only by the selected CI
  const MIN_SCALE = 0.8; // below this, labels are hard to read: scroll instead
  let counter = 0;

  function svg(name, attrs, parent) {
    const node = document.createElementNS(SVG_NS, name);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    if (parent) parent.appendChild(node);
    return node;
  }

  function fmt(template, values) {
    return (template || "").replace(/\{(\w+)\}/g, (m, key) => (key in values ? String(values[key]) : m));
  }

  function statusClass(status) {
    return "status-" + String(status).replace(/[^a-z_]/g, "");
  }

  // Shorten the text of a <text> element to ``width`` pixels, with an ellipsis.
  function fit(text, value, width, approxChar) {
    text.textContent = value;
    let length = 0;
    try { length = text.getComputedTextLength(); } catch (e) { length = 0; }
    if (!length) {
      const most = Math.floor(width / approxChar);
      if (value.length > most) text.textContent = value.slice(0, Math.max(1, most - 1)) + "…";
      return;
    }
    if (length <= width) return;
    let low = 1;
    let high = value.length;
    while (low < high) {
      const mid = Math.ceil((low + high) / 2);
      text.textContent = value.slice(0, mid) + "…";
      if (text.getComputedTextLength() <= width) low = mid; else high = mid - 1;
    }
    text.textContent = value.slice(0, low).trimEnd() + "…";
  }

  // The point a given distance round a rectangle's edge (half sizes a, b), clockwise
  // from the middle of the top; distance counted in boxes (wide along the top and
  // bottom, short down the sides) so that equal steps keep boxes apart.
  function rectangle(a, b) {
    const sx = W + GAP;
    const sy = H + GAP;
    const sides = [
      [a / sx, (f) => ({ x: f * a, y: -b })],
      [(2 * b) / sy, (f) => ({ x: a, y: -b + 2 * b * f })],
      [(2 * a) / sx, (f) => ({ x: a - 2 * a * f, y: b })],
      [(2 * b) / sy, (f) => ({ x: -a, y: b - 2 * b * f })],
      [a / sx, (f) => ({ x: -a + a * f, y: -b })],
    ];
    const total = sides.reduce((sum, side) => sum + side[0], 0);
    const at = (u) => {
      let left = ((u % total) + total) % total;
      for (const [length, point] of sides) {
        if (left <= length) return point(length ? left / length : 0);
        left -= length;
      }
      return { x: 0, y: -b };
    };
    return { total: total, at: at };
  }

  // Boxes for CIs wanting the given fractions of the way round a ring at least minA
  // wide and minB high (half sizes) of the given height-to-width shape: each goes
  // where it wants or, if its neighbour is in the way, a little further on; the
  // ring grows until they all fit.
  function ringPlan(fractions, minA, minB, shape) {
    let a = Math.max(minA, minB / shape);
    for (let tries = 0; tries < 150; tries++, a *= 1.05) {
      const b = Math.max(minB, a * shape);
      const edge = rectangle(a, b);
      const points = [];
      let previous = -Infinity;
      let fits = true;
      const end = edge.total * (1 + (fractions[0] || 0));
      for (const fraction of fractions) {
        let u = Math.max(fraction * edge.total, previous);
        let p = edge.at(u);
        const blocked = (q) => points.slice(-2).some((o) => overlaps(q, o));
        while (blocked(p) && u <= end) {
          u += 0.04;
          p = edge.at(u);
        }
        if (u > end) { fits = false; break; }
        previous = u;
        points.push(p);
      }
      if (fits && points.length > 2 && (overlaps(points[points.length - 1], points[0]) || overlaps(points[points.length - 2], points[0]))) fits = false;
      if (fits) return { A: a, B: b, points: points };
    }
    const b = Math.max(minB, a * shape);
    const edge = rectangle(a, b);
    return { A: a, B: b, points: fractions.map((f) => edge.at(f * edge.total)) };
  }

  function overlaps(a, b) {
    return Math.abs(a.x - b.x) < W + GAP && Math.abs(a.y - b.y) < H + GAP;
  }

  // Where the line from a box's centre towards (tx, ty) leaves the box.
  function boxEdge(x, y, tx, ty, pad) {
    const dx = tx - x;
    const dy = ty - y;
    if (!dx && !dy) return { x: x, y: y };
    const hw = W / 2 + pad;
    const hh = H / 2 + pad;
    const t = Math.min(dx ? hw / Math.abs(dx) : Infinity, dy ? hh / Math.abs(dy) : Infinity);
    return { x: x + dx * t, y: y + dy * t };
  }

  class CIGraph {
    constructor(root) {
      this.root = root;
      this.id = ++counter;
      this.msg = root.dataset;
      this.canvas = root.querySelector("[data-cigraph-canvas]");
      this.depthSelect = root.querySelector("[data-cigraph-depth]");
      this.status = root.querySelector("[data-cigraph-status]");
      this.detail = root.querySelector("[data-cigraph-detail]");
      this.empty = root.querySelector("[data-cigraph-empty]");
      this.centreUrl = root.dataset.url;
      this.nodes = new Map();
      this.edges = new Map();
      this.positions = new Map();
      this.centre = null;
      this.selected = null;
      this.busy = false;
      this.zoom = null; // null: the scale that fits, within reason
      this.truncated = false;
      this.legendDone = false;
      this.loads = 0;
      this.bind();
      this.load();
    }

    bind() {
      this.depthSelect.addEventListener("change", () => this.load());
      this.root.querySelectorAll("[data-cigraph-zoom]").forEach((button) => {
        button.addEventListener("click", () => this.zoomBy(button.dataset.cigraphZoom));
      });
      this.root.querySelector("[data-cigraph-expand]").addEventListener("click", () => {
        if (this.selected !== null) this.expand(this.selected, true);
      });
      this.root.querySelector("[data-cigraph-recentre]").addEventListener("click", () => {
        const node = this.nodes.get(this.selected);
        if (!node) return;
        this.centreUrl = node.graph_url;
        this.load(node.id);
      });
      this.canvas.addEventListener("click", (event) => {
        const g = event.target.closest(".cigraph-node");
        if (g) this.activate(Number(g.dataset.id));
      });
      this.canvas.addEventListener("keydown", (event) => this.onKey(event));
      this.canvas.addEventListener("focusin", (event) => this.nearby(event.target.closest(".cigraph-node")));
      this.canvas.addEventListener("focusout", () => this.nearby(null));
      this.canvas.addEventListener("mouseover", (event) => this.nearby(event.target.closest(".cigraph-node")));
      this.canvas.addEventListener("mouseleave", () => this.nearby(null));
      // A mouse drags the drawing about; touch screens pan it natively.
      let drag = null;
      this.canvas.addEventListener("pointerdown", (event) => {
        if (event.pointerType !== "mouse" || event.button !== 0 || event.target.closest(".cigraph-node")) return;
        drag = { x: event.clientX, y: event.clientY, left: this.canvas.scrollLeft, top: this.canvas.scrollTop };
        this.canvas.classList.add("is-dragging");
      });
      window.addEventListener("pointermove", (event) => {
        if (!drag) return;
        this.canvas.scrollLeft = drag.left - (event.clientX - drag.x);
        this.canvas.scrollTop = drag.top - (event.clientY - drag.y);
      });
      window.addEventListener("pointerup", () => {
        drag = null;
        this.canvas.classList.remove("is-dragging");
      });
      if (window.ResizeObserver) {
        let last = this.canvas.clientWidth;
        new ResizeObserver(() => {
          if (Math.abs(this.canvas.clientWidth - last) > 20 && this.zoom === null && this.nodes.size) {
            last = this.canvas.clientWidth;
            this.draw();
            this.scrollTo(this.selected !== null ? this.selected : this.centre);
          }
        }).observe(this.canvas);
      }
    }

    say(text) { this.status.textContent = text; }

    setBusy(busy) {
      this.busy = busy;
      this.root.setAttribute("aria-busy", busy ? "true" : "false");
    }

    async fetchJson(url) {
      let response;
      try {
        response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      } catch (e) {
        throw new Error(e.message || "network");
      }
      let data = null;
      try { data = await response.json(); } catch (e) { data = null; }
      if (data === null || typeof data !== "object") throw new Error(this.msg.msgUnreadable);
      if (!response.ok) {
        const first = Object.values(data)[0];
        throw new Error(Array.isArray(first) ? first[0] : String(first || response.status));
      }
      if (!Array.isArray(data.nodes) || !Array.isArray(data.edges)) throw new Error(this.msg.msgUnreadable);
      return data;
    }

    // The graph around the current centre at the chosen depth, replacing what is drawn.
    async load(focusId) {
      const depth = this.depthSelect.value || "1";
      const ticket = ++this.loads; // a later load wins over an earlier one still running
      this.setBusy(true);
      this.say(this.msg.msgLoading);
      try {
        const data = await this.fetchJson(this.centreUrl + "?depth=" + encodeURIComponent(depth));
        if (ticket !== this.loads) return;
        this.nodes = new Map();
        this.edges = new Map();
        data.nodes.forEach((n) => this.nodes.set(n.id, Object.assign({}, n)));
        data.edges.forEach((e) => this.edges.set(e.id, e));
        this.centre = data.center;
        this.truncated = data.truncated;
        this.cap = data.cap;
        this.legend(data.statuses);
        this.zoom = null;
        if (!this.nodes.has(this.selected)) this.selected = null;
        this.draw();
        this.showDetail();
        this.scrollTo(this.centre);
        if (focusId !== undefined) this.focusNode(focusId);
        this.say(this.summary(data.truncated));
      } catch (error) {
        if (ticket === this.loads) this.say(fmt(this.msg.msgError, { error: error.message }));
      } finally {
        if (ticket === this.loads) this.setBusy(false);
      }
    }

    summary(truncated) {
      if (this.nodes.size <= 1) return this.msg.msgNone;
      let text = fmt(this.msg.msgShown, { nodes: this.nodes.size, links: this.edges.size });
      if (truncated) text += " " + fmt(this.msg.msgTruncated, { cap: this.cap });
      return text;
    }

    // Adds the neighbours of a CI to the drawing.
    async expand(id, fromPanel) {
      const node = this.nodes.get(id);
      if (!node || this.busy) return;
      if (!node.more) {
        if (fromPanel) this.say(this.summary(this.truncated));
        return;
      }
      if (this.nodes.size >= MAX_SHOWN) {
        this.say(fmt(this.msg.msgLimit, { max: MAX_SHOWN }));
        return;
      }
      this.setBusy(true);
      const g = this.nodeElement(id);
      if (g) g.classList.add("is-loading");
      const known = Array.from(this.nodes.keys()).join(",");
      const ticket = this.loads;
      try {
        const data = await this.fetchJson(node.graph_url + "?depth=1&known=" + known);
        if (ticket !== this.loads) return;
        const added = this.merge(data);
        this.draw();
        this.showDetail();
        this.focusNode(id, !fromPanel);
        let text = fmt(this.msg.msgExpanded, { name: node.name, added: added }) + " " +
          fmt(this.msg.msgShown, { nodes: this.nodes.size, links: this.edges.size });
        if (data.truncated) text += " " + fmt(this.msg.msgTruncated, { cap: data.cap });
        this.say(text);
      } catch (error) {
        if (g) g.classList.remove("is-loading");
        if (ticket === this.loads) this.say(fmt(this.msg.msgError, { error: error.message }));
      } finally {
        if (ticket === this.loads) this.setBusy(false);
      }
    }

    // The answer names every CI already drawn as known: its relationships to them are
    // included and its "more" counts only what is still hidden. A CI drawn before
    // loses one from its count for each new neighbour.
    merge(data) {
      const fresh = new Set();
      const inAnswer = new Set();
      data.nodes.forEach((n) => {
        inAnswer.add(n.id);
        const old = this.nodes.get(n.id);
        if (old) {
          old.more = n.more;
        } else {
          fresh.add(n.id);
          this.nodes.set(n.id, Object.assign({}, n, { center: false }));
        }
      });
      const counted = new Set();
      data.edges.forEach((e) => {
        this.edges.set(e.id, e);
        for (const [a, b] of [[e.source, e.target], [e.target, e.source]]) {
          if (fresh.has(a) && !inAnswer.has(b) && this.nodes.has(b) && !counted.has(a + ":" + b)) {
            counted.add(a + ":" + b);
            const other = this.nodes.get(b);
            other.more = Math.max(0, (other.more || 0) - 1);
          }
        }
      });
      return fresh.size;
    }

    activate(id) {
      if (!this.nodes.has(id)) return;
      this.select(id);
      this.expand(id, false);
    }

    select(id) {
      this.selected = id;
      this.canvas.querySelectorAll(".cigraph-node.is-selected").forEach((g) => g.classList.remove("is-selected"));
      const g = this.nodeElement(id);
      if (g) g.classList.add("is-selected");
      this.highlight();
      this.showDetail();
    }

    showDetail() {
      const node = this.nodes.get(this.selected);
      this.empty.hidden = !!node;
      this.detail.hidden = !node;
      if (!node) return;
      const field = (name) => this.detail.querySelector('[data-field="' + name + '"]');
      field("name").textContent = node.name;
      field("type").textContent = node.type;
      field("status").textContent = node.status_label || node.status;
      const level = this.positions.get(node.id);
      field("level").textContent = node.id === this.centre ? this.msg.msgCenter : fmt(this.msg.msgHops, { n: level ? level.level : "?" });
      field("more").textContent = String(node.more || 0);
      field("url").setAttribute("href", node.url);
      const list = field("links");
      list.replaceChildren();
      const lines = [];
      this.edges.forEach((e) => {
        if (e.source === node.id && this.nodes.has(e.target)) lines.push("→ " + e.label + " " + this.nodes.get(e.target).name);
        if (e.target === node.id && this.nodes.has(e.source)) lines.push("← " + this.nodes.get(e.source).name + " " + e.label);
      });
      lines.sort();
      lines.slice(0, 12).forEach((line) => {
        const li = document.createElement("li");
        li.textContent = line;
        list.appendChild(li);
      });
      if (lines.length > 12) {
        const li = document.createElement("li");
        li.textContent = "… +" + (lines.length - 12);
        list.appendChild(li);
      }
      this.root.querySelector("[data-cigraph-expand]").disabled = !node.more;
      this.root.querySelector("[data-cigraph-recentre]").hidden = node.id === this.centre;
    }

    legend(statuses) {
      if (this.legendDone || !statuses) return;
      const box = this.root.querySelector("[data-cigraph-statuses]");
      statuses.forEach((s) => {
        const span = document.createElement("span");
        span.className = "text-nowrap me-2 d-inline-block";
        const swatch = svg("svg", { class: "cigraph-swatch", width: "22", height: "14", viewBox: "0 0 22 14", "aria-hidden": "true" }, span);
        svg("rect", { x: "1", y: "1", width: "20", height: "12", rx: "3", class: statusClass(s.value) }, swatch);
        span.appendChild(document.createTextNode(" " + s.label));
        box.appendChild(span);
      });
      this.legendDone = true;
    }

    // --- layout ---------------------------------------------------------------------
    // Breadth first from the centre; each CI hangs under the first CI that reached it
    // and gets a share of its parent's stretch of the ring in proportion to the CIs below
    // it, so a branch stays together. Rings grow until no two boxes touch.
    layout() {
      const adjacent = new Map();
      this.nodes.forEach((n, id) => adjacent.set(id, new Set()));
      this.edges.forEach((e) => {
        if (adjacent.has(e.source) && adjacent.has(e.target)) {
          adjacent.get(e.source).add(e.target);
          adjacent.get(e.target).add(e.source);
        }
      });
      const byName = (a, b) => {
        const x = this.nodes.get(a);
        const y = this.nodes.get(b);
        return x.type.localeCompare(y.type) || x.name.localeCompare(y.name) || a - b;
      };
      const level = new Map([[this.centre, 0]]);
      const children = new Map();
      let ring = [this.centre];
      const rings = [ring];
      while (ring.length) {
        const next = [];
        ring.forEach((id) => {
          const kids = Array.from(adjacent.get(id) || []).filter((k) => !level.has(k)).sort(byName);
          kids.forEach((k) => level.set(k, level.get(id) + 1));
          children.set(id, kids);
          next.push(...kids);
        });
        if (next.length) rings.push(next);
        ring = next;
      }
      // CIs no longer joined to the centre (a recentred graph keeps none, but be safe).
      const stray = Array.from(this.nodes.keys()).filter((id) => !level.has(id)).sort(byName);
      if (stray.length) {
        const deepest = rings.length;
        stray.forEach((id) => { level.set(id, deepest); children.set(id, []); });
        children.set(this.centre, (children.get(this.centre) || []).concat(stray));
        rings.push(stray);
      }
      const weight = new Map();
      const weigh = (id) => {
        const kids = children.get(id) || [];
        let w = 0;
        kids.forEach((k) => { w += weigh(k); });
        w = Math.max(1, w);
        weight.set(id, w);
        return w;
      };
      weigh(this.centre);
      // Each CI's place around its ring, as a fraction of the way round (0: the top).
      const place = new Map();
      const share = (id, start, span) => {
        place.set(id, start + span / 2);
        let at = start;
        const total = weight.get(id) || 1;
        (children.get(id) || []).forEach((k) => {
          const part = (span * weight.get(k)) / total;
          share(k, at, part);
          at += part;
        });
      };
      // The first neighbour sits straight above, the others follow clockwise.
      const first = (children.get(this.centre) || [])[0];
      const firstSpan = first === undefined ? 0 : weight.get(first) / weight.get(this.centre);
      share(this.centre, -firstSpan / 2, 1);

      // Rings are rectangles round the centre: boxes are wide and short, so side by
      // side along the top and bottom, stacked down the sides. A crowded ring tries a
      // few shapes and keeps the one that best fits the frame.
      const frameW = Math.max(300, this.canvas.clientWidth);
      const frameH = Math.max(240, this.canvas.clientHeight);
      const positions = new Map([[this.centre, { x: 0, y: 0, level: 0, order: 0 }]]);
      let prevA = 0;
      let prevB = 0;
      let order = 1;
      rings.slice(1).forEach((ids, index) => {
        const sorted = ids.slice().sort((a, b) => place.get(a) - place.get(b) || a - b);
        const fractions = sorted.map((id) => ((place.get(id) % 1) + 1) % 1);
        const minA = prevA + RING;
        const minB = prevB + RING_V;
        let best = null;
        for (const shape of sorted.length > 8 ? SHAPES : SHAPES.slice(0, 1)) {
          const plan = ringPlan(fractions, minA, minB, shape);
          const fits = Math.min(frameW / (2 * plan.A + W + 2 * MARGIN), frameH / (2 * plan.B + H + 2 * MARGIN));
          if (best === null || fits > best.fits * 1.02) best = Object.assign(plan, { fits: fits });
        }
        sorted.forEach((id, i) => {
          const p = best.points[i];
          positions.set(id, { x: p.x, y: p.y, level: index + 1, order: order++ });
        });
        prevA = best.A;
        prevB = best.B;
      });
      this.positions = positions;
      return positions;
    }

    // --- relationships ----------------------------------------------------------------
    // A straight line from source to target, unless it would cross another CI's box or
    // another relationship joins the same two CIs: then a curve, bent just enough.
    route(positions) {
      const CELL = 200;
      const grid = new Map();
      positions.forEach((p, nodeId) => {
        const key = Math.floor(p.x / CELL) + ":" + Math.floor(p.y / CELL);
        if (!grid.has(key)) grid.set(key, []);
        grid.get(key).push({ id: nodeId, x: p.x, y: p.y });
      });
      const covered = (x, y, a, b) => {
        const gx = Math.floor(x / CELL);
        const gy = Math.floor(y / CELL);
        for (let i = -1; i <= 1; i++) {
          for (let j = -1; j <= 1; j++) {
            for (const box of grid.get(gx + i + ":" + (gy + j)) || []) {
              if (box.id !== a && box.id !== b && Math.abs(x - box.x) < W / 2 + 8 && Math.abs(y - box.y) < H / 2 + 8) return true;
            }
          }
        }
        return false;
      };
      const shape = (e, a, b, bend) => {
        // The bend is measured from a fixed direction (lower id to higher) so that
        // opposite links between two CIs bend to opposite sides.
        const [lo, hi] = e.source < e.target ? [a, b] : [b, a];
        const dx = hi.x - lo.x;
        const dy = hi.y - lo.y;
        const len = Math.hypot(dx, dy) || 1;
        const cx = (a.x + b.x) / 2 - (dy / len) * bend * 2;
        const cy = (a.y + b.y) / 2 + (dx / len) * bend * 2;
        return { cx: cx, cy: cy };
      };
      const crossings = (e, a, b, c) => {
        let n = 0;
        for (let t = 0.08; t < 0.93; t += 0.04) {
          const u = 1 - t;
          const x = u * u * a.x + 2 * u * t * c.cx + t * t * b.x;
          const y = u * u * a.y + 2 * u * t * c.cy + t * t * b.y;
          if (covered(x, y, e.source, e.target)) n++;
        }
        return n;
      };
      const pairs = new Map();
      this.edges.forEach((e) => {
        if (!positions.has(e.source) || !positions.has(e.target)) return;
        const key = Math.min(e.source, e.target) + ":" + Math.max(e.source, e.target);
        if (!pairs.has(key)) pairs.set(key, []);
        pairs.get(key).push(e);
      });
      const routes = [];
      pairs.forEach((list) => {
        list.sort((x, y) => x.id - y.id);
        list.forEach((e, i) => {
          const a = positions.get(e.source);
          const b = positions.get(e.target);
          const base = (i - (list.length - 1) / 2) * 34;
          let bend = base;
          let best = Infinity;
          for (const extra of [0, 45, -45, 90, -90, 140, -140, 200, -200, 280, -280]) {
            const n = crossings(e, a, b, shape(e, a, b, base + extra));
            if (n < best) { best = n; bend = base + extra; }
            if (!n) break;
          }
          const c = shape(e, a, b, bend);
          const start = boxEdge(a.x, a.y, bend ? c.cx : b.x, bend ? c.cy : b.y, 2);
          const end = boxEdge(b.x, b.y, bend ? c.cx : a.x, bend ? c.cy : a.y, 4);
          routes.push({
            edge: e, bend: bend, start: start, end: end, cx: c.cx, cy: c.cy,
            mx: bend ? 0.25 * start.x + 0.5 * c.cx + 0.25 * end.x : (start.x + end.x) / 2,
            my: bend ? 0.25 * start.y + 0.5 * c.cy + 0.25 * end.y : (start.y + end.y) / 2,
          });
        });
      });
      return routes;
    }

    // --- drawing --------------------------------------------------------------------
    draw() {
      const positions = this.layout();
      const routes = this.route(positions);
      let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
      positions.forEach((p) => {
        minX = Math.min(minX, p.x - W / 2); maxX = Math.max(maxX, p.x + W / 2);
        minY = Math.min(minY, p.y - H / 2 - 12); maxY = Math.max(maxY, p.y + H / 2);
      });
      routes.forEach((r) => {
        minX = Math.min(minX, r.mx - 40); maxX = Math.max(maxX, r.mx + 40);
        minY = Math.min(minY, r.my - 10); maxY = Math.max(maxY, r.my + 10);
      });
      minX -= MARGIN; minY -= MARGIN; maxX += MARGIN; maxY += MARGIN;
      const width = maxX - minX;
      const height = maxY - minY;
      this.box = { minX, minY, width, height };
      const focusedId = this.focusedId();
      const id = "cigraph-" + this.id;
      const root = svg("svg", {
        xmlns: SVG_NS,
        viewBox: [minX, minY, width, height].map((v) => v.toFixed(1)).join(" "),
        role: "group",
        "aria-labelledby": id + "-title",
        "aria-describedby": id + "-desc",
      });
      const centre = this.nodes.get(this.centre);
      svg("title", { id: id + "-title" }, root).textContent = fmt(this.msg.msgTitle, { name: centre ? centre.name : "" });
      svg("desc", { id: id + "-desc" }, root).textContent = fmt(this.msg.msgDesc, {
        nodes: this.nodes.size, links: this.edges.size, name: centre ? centre.name : "",
      });
      const defs = svg("defs", {}, root);
      for (const [suffix, cls] of [["", "cigraph-arrowhead"], ["-active", "cigraph-arrowhead is-active"]]) {
        const marker = svg("marker", {
          id: id + "-arrow" + suffix, viewBox: "0 0 10 10", refX: "9", refY: "5",
          markerWidth: "10", markerHeight: "10", markerUnits: "userSpaceOnUse", orient: "auto",
        }, defs);
        svg("path", { d: "M0,0 L10,5 L0,10 z", class: cls }, marker);
      }
      if (this.edges.size > QUIET_LABELS) root.classList.add("cigraph-labels-quiet");
      const lines = svg("g", { class: "cigraph-edges", "aria-hidden": "true" }, root);
      const labels = svg("g", { class: "cigraph-labels", "aria-hidden": "true" }, root);
      const nodes = svg("g", { class: "cigraph-nodes" }, root);

      this.edgeElements = [];
      routes.forEach((r) => {
        const group = svg("g", { class: "cigraph-edge" }, lines);
        const f = (v) => v.toFixed(1);
        const d = r.bend
          ? `M${f(r.start.x)},${f(r.start.y)} Q${f(r.cx)},${f(r.cy)} ${f(r.end.x)},${f(r.end.y)}`
          : `M${f(r.start.x)},${f(r.start.y)} L${f(r.end.x)},${f(r.end.y)}`;
        const path = svg("path", { d: d, class: "cigraph-edge-line", "marker-end": `url(#${id}-arrow)` }, group);
        const label = svg("text", { x: f(r.mx), y: f(r.my + 4), "text-anchor": "middle", class: "cigraph-edge-label" }, labels);
        label.textContent = r.edge.label;
        this.edgeElements.push({ edge: r.edge, group: group, path: path, label: label });
      });

      const order = Array.from(positions.entries()).sort((x, y) => x[1].order - y[1].order);
      const scrolled = [this.canvas.scrollLeft, this.canvas.scrollTop];
      this.canvas.replaceChildren(root);
      order.forEach(([nodeId, p]) => {
        const n = this.nodes.get(nodeId);
        const classes = ["cigraph-node", statusClass(n.status)];
        if (nodeId === this.centre) classes.push("is-center");
        if (nodeId === this.selected) classes.push("is-selected");
        const label = [fmt(this.msg.msgNode, { name: n.name, type: n.type, status: n.status_label || n.status })];
        if (n.more) label.push(fmt(this.msg.msgMore, { n: n.more }));
        const g = svg("g", {
          class: classes.join(" "), transform: `translate(${p.x.toFixed(1)},${p.y.toFixed(1)})`,
          tabindex: "0", role: "button", "data-id": String(nodeId), "aria-label": label.join(", "),
        }, nodes);
        svg("title", {}, g).textContent = label.join(", ");
        svg("rect", { class: "cigraph-focus", x: -W / 2 - 5, y: -H / 2 - 5, width: W + 10, height: H + 10, rx: 9 }, g);
        svg("rect", { class: "cigraph-box", x: -W / 2, y: -H / 2, width: W, height: H, rx: 6 }, g);
        const name = svg("text", { class: "cigraph-name", x: 0, y: -4, "text-anchor": "middle" }, g);
        fit(name, n.name, W - 14, 8.2);
        const type = svg("text", { class: "cigraph-type", x: 0, y: 13, "text-anchor": "middle" }, g);
        fit(type, n.type + " · " + (n.status_label || n.status), W - 14, 6.2);
        if (n.more) {
          const more = svg("g", { class: "cigraph-more", transform: `translate(${W / 2 - 6},${-H / 2})` }, g);
          const text = "+" + (n.more > 99 ? "99" : n.more);
          const half = Math.max(10, 4 + text.length * 3.4);
          svg("rect", { x: -half, y: -9, width: 2 * half, height: 18, rx: 9 }, more);
          svg("text", { y: 3.5, "text-anchor": "middle" }, more).textContent = text;
        }
      });
      this.applyScale();
      [this.canvas.scrollLeft, this.canvas.scrollTop] = scrolled;
      this.highlight();
      if (focusedId !== null) this.focusNode(focusedId);
    }

    nodeElement(id) {
      return this.canvas.querySelector('.cigraph-node[data-id="' + id + '"]');
    }

    focusedId() {
      const active = document.activeElement;
      if (active && this.canvas.contains(active) && active.dataset && active.dataset.id) return Number(active.dataset.id);
      return null;
    }

    focusNode(id, keep) {
      const g = this.nodeElement(id);
      if (g && keep !== false) g.focus({ preventScroll: true });
      if (g) this.reveal(id);
    }

    // Relationships of the selected CI, and of the one under the pointer or focus,
    // stand out and show their labels (a hub's many labels would hide each other: its
    // lines stand out, the panel lists them).
    highlight(extra) {
      const near = new Set([this.selected, extra].filter((v) => v !== null && v !== undefined));
      const degree = new Map();
      (this.edgeElements || []).forEach((item) => {
        for (const end of [item.edge.source, item.edge.target]) degree.set(end, (degree.get(end) || 0) + 1);
      });
      const labelled = (end) => near.has(end) && degree.get(end) <= QUIET_LABELS;
      (this.edgeElements || []).forEach((item) => {
        const on = near.has(item.edge.source) || near.has(item.edge.target);
        item.group.classList.toggle("is-active", on);
        item.label.classList.toggle("is-active", labelled(item.edge.source) || labelled(item.edge.target));
        item.path.setAttribute("marker-end", `url(#cigraph-${this.id}-arrow${on ? "-active" : ""})`);
      });
    }

    nearby(g) {
      this.highlight(g ? Number(g.dataset.id) : null);
    }

    onKey(event) {
      const g = event.target.closest(".cigraph-node");
      if (!g) return;
      const id = Number(g.dataset.id);
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        this.activate(id);
        return;
      }
      const directions = { ArrowRight: [1, 0], ArrowLeft: [-1, 0], ArrowDown: [0, 1], ArrowUp: [0, -1] };
      if (event.key === "Home") {
        event.preventDefault();
        this.focusNode(this.centre);
        return;
      }
      const dir = directions[event.key];
      if (!dir) return;
      event.preventDefault();
      const from = this.positions.get(id);
      let best = null;
      let bestScore = Infinity;
      this.positions.forEach((p, other) => {
        if (other === id) return;
        const vx = p.x - from.x;
        const vy = p.y - from.y;
        const along = vx * dir[0] + vy * dir[1];
        if (along <= 1) return;
        const across = Math.abs(vx * dir[1] - vy * dir[0]);
        if (across > along * 2.5) return;
        const score = along + across * 2;
        if (score < bestScore) { bestScore = score; best = other; }
      });
      if (best === null) {
        // Nothing that way: the next (right, down) or previous (left, up) CI in order.
        const order = Array.from(this.positions.entries()).sort((x, y) => x[1].order - y[1].order).map((e) => e[0]);
        const step = dir[0] + dir[1];
        best = order[(order.indexOf(id) + step + order.length) % order.length];
      }
      if (best !== undefined && best !== id) this.focusNode(best);
    }

    // --- zoom and scrolling --------------------------------------------------------------
    fitScale() {
      const w = Math.max(1, this.canvas.clientWidth - 4);
      const h = Math.max(1, this.canvas.clientHeight - 4);
      return Math.min(w / this.box.width, h / this.box.height);
    }

    applyScale() {
      const root = this.canvas.firstElementChild;
      if (!root || !this.box) return;
      const scale = this.zoom === null ? Math.min(1.15, Math.max(MIN_SCALE, this.fitScale())) : this.zoom;
      this.scale = scale;
      root.setAttribute("width", Math.round(this.box.width * scale));
      root.setAttribute("height", Math.round(this.box.height * scale));
    }

    zoomBy(how) {
      if (!this.box) return;
      const c = this.canvas;
      const keepX = (c.scrollLeft + c.clientWidth / 2) / (this.scale || 1);
      const keepY = (c.scrollTop + c.clientHeight / 2) / (this.scale || 1);
      const current = this.scale || 1;
      if (how === "fit") this.zoom = Math.min(1.15, this.fitScale());
      else this.zoom = Math.min(2.5, Math.max(0.2, current * (how === "in" ? 1.25 : 0.8)));
      this.applyScale();
      c.scrollLeft = keepX * this.scale - c.clientWidth / 2;
      c.scrollTop = keepY * this.scale - c.clientHeight / 2;
    }

    // Where a CI is drawn, in the scrolling frame's own coordinates.
    where(id) {
      const p = this.positions.get(id);
      const svgEl = this.canvas.firstElementChild;
      if (!p || !this.box || !svgEl) return null;
      const frame = this.canvas.getBoundingClientRect();
      const drawing = svgEl.getBoundingClientRect();
      return {
        x: drawing.left - frame.left + this.canvas.scrollLeft + (p.x - this.box.minX) * this.scale,
        y: drawing.top - frame.top + this.canvas.scrollTop + (p.y - this.box.minY) * this.scale,
      };
    }

    // Scroll so that a CI is in the middle (the centre CI at first).
    scrollTo(id) {
      const at = this.where(id);
      if (!at) return;
      this.canvas.scrollLeft = at.x - this.canvas.clientWidth / 2;
      this.canvas.scrollTop = at.y - this.canvas.clientHeight / 2;
    }

    // Scroll only as far as needed to bring a CI into view.
    reveal(id) {
      const at = this.where(id);
      if (!at) return;
      const c = this.canvas;
      const hw = (W / 2 + 10) * this.scale;
      const hh = (H / 2 + 16) * this.scale;
      if (at.x - hw < c.scrollLeft || at.x + hw > c.scrollLeft + c.clientWidth) c.scrollLeft = at.x - c.clientWidth / 2;
      if (at.y - hh < c.scrollTop || at.y + hh > c.scrollTop + c.clientHeight) c.scrollTop = at.y - c.clientHeight / 2;
    }
  }

  function start() {
    document.querySelectorAll("[data-cigraph]").forEach((root) => {
      if (!root.cigraph) root.cigraph = new CIGraph(root);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
