// A live line chart drawn as SVG: keeps the last `capacity` points of each
// series and redraws on every push.

const COLORS = ['#2457c5', '#e07b00', '#0f9d58', '#9c27b0'];

export class LiveChart {
  constructor(names, { width = 640, height = 180, capacity = 60, unit = 'msg/s' } = {}) {
    this.names = names;
    this.width = width;
    this.height = height;
    this.capacity = capacity;
    this.unit = unit;
    this.points = names.map(() => []);
    this.el = document.createElement('div');
    this.el.className = 'chart-box';
    this.render();
  }

  push(t, values) {
    values.forEach((v, i) => {
      const s = this.points[i];
      s.push([t, Math.max(0, v)]);
      if (s.length > this.capacity) s.shift();
    });
    this.render();
  }

  render() {
    const { width: w, height: hgt } = this;
    const pad = { l: 48, r: 10, t: 10, b: 22 };
    const all = this.points.flat();
    const max = Math.max(1, ...all.map((p) => p[1]));
    const t0 = all.length ? Math.min(...all.map((p) => p[0])) : 0;
    const t1 = all.length ? Math.max(...all.map((p) => p[0])) : 1;
    const x = (t) => pad.l + ((t - t0) / Math.max(1, t1 - t0)) * (w - pad.l - pad.r);
    const y = (v) => hgt - pad.b - (v / max) * (hgt - pad.t - pad.b);
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('class', 'chart');
    svg.setAttribute('width', w);
    svg.setAttribute('height', hgt);
    svg.setAttribute('viewBox', `0 0 ${w} ${hgt}`);
    const add = (tag, attrs, text) => {
      const el = document.createElementNS(ns, tag);
      for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
      if (text !== undefined) el.textContent = text;
      svg.append(el);
      return el;
    };
    for (const f of [0, 0.5, 1]) {
      const yy = y(max * f);
      add('line', { x1: pad.l, x2: w - pad.r, y1: yy, y2: yy, stroke: '#eef0f3' });
      add('text', { x: pad.l - 6, y: yy + 4, 'text-anchor': 'end' }, (max * f).toFixed(max < 10 ? 1 : 0));
    }
    add('text', { x: pad.l, y: hgt - 6 }, this.unit + ', last ' + this.capacity + ' samples');
    this.points.forEach((s, i) => {
      if (!s.length) return;
      add('polyline', {
        points: s.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' '),
        fill: 'none', stroke: COLORS[i % COLORS.length], 'stroke-width': 2,
        'data-series': this.names[i], 'data-points': s.length,
      });
    });
    const legend = document.createElement('div');
    legend.className = 'legend';
    this.names.forEach((n, i) => {
      const last = this.points[i].length ? this.points[i][this.points[i].length - 1][1] : 0;
      const span = document.createElement('span');
      span.innerHTML = `<i style="background:${COLORS[i % COLORS.length]}"></i>`;
      span.append(`${n}: ${last.toFixed(1)} ${this.unit}`);
      legend.append(span);
    });
    this.el.replaceChildren(svg, legend);
  }
}

// Turns successive totals into per-second rates.
export class RateMeter {
  constructor() { this.last = null; }
  // Returns null for the first sample.
  rate(t, totals) {
    const prev = this.last;
    this.last = [t, totals];
    if (!prev || t <= prev[0]) return null;
    const dt = (t - prev[0]) / 1000;
    return totals.map((v, i) => Math.max(0, (v - prev[1][i]) / dt));
  }
}
