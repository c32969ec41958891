// Cluster: NameServers, brokers (role, version, address, TPS, disk, HA lag)
// and a live chart of the cluster's in/out TPS.

import { get, h, table, errorBox, every, fmtTime } from './ui.js';
import { LiveChart, RateMeter } from './chart.js';

export function render(main) {
  main.append(h('h1', {}, 'Cluster'));
  const chart = new LiveChart(['in', 'out']);
  const meter = new RateMeter();
  const rates = new Map();
  const body = h('div', { id: 'cluster-body' }, h('p', { class: 'muted' }, 'Loading…'));
  main.append(h('div', { class: 'card' }, h('h2', {}, 'Messages per second'), chart.el), body);
  const perBroker = new Map();

  async function load() {
    let data;
    try {
      data = await get('/cluster');
    } catch (e) {
      body.replaceChildren(errorBox(e));
      return;
    }
    const ok = data.brokers.filter((b) => !b.error);
    const totals = [ok.reduce((s, b) => s + b.putTotal, 0), ok.reduce((s, b) => s + b.getTotal, 0)];
    const r = meter.rate(data.time, totals);
    if (r) chart.push(data.time, r);
    for (const b of ok) {
      const m = perBroker.get(b.addr) || new RateMeter();
      perBroker.set(b.addr, m);
      const br = m.rate(data.time, [b.putTotal, b.getTotal]);
      if (br) rates.set(b.addr, br);
    }
    const tps = (b, i) => (rates.get(b.addr) ? rates.get(b.addr)[i].toFixed(1) : '…');
    body.replaceChildren(
      h('h2', {}, 'NameServers'),
      table([{ title: 'Address', render: (a) => a }], data.namesrvs, { id: 'namesrv-table' }),
      h('h2', {}, 'Brokers'),
      table([
        { title: 'Cluster', key: 'cluster' },
        { title: 'Broker', key: 'name' },
        { title: 'Id', key: 'id', num: true },
        { title: 'Address', key: 'addr' },
        { title: 'Role', render: (b) => b.error ? h('span', { class: 'error' }, b.error) : b.role },
        { title: 'Version', key: 'version' },
        { title: 'TPS in', num: true, render: (b) => tps(b, 0) },
        { title: 'TPS out', num: true, render: (b) => tps(b, 1) },
        { title: 'Stored (since start)', key: 'putTotal', num: true },
        { title: 'Disk used', num: true, render: (b) => b.error ? '' : (b.diskRatio * 100).toFixed(1) + ' %' },
        { title: 'HA lag (bytes)', key: 'haLagBytes', num: true },
        { title: 'Started', render: (b) => fmtTime(Number(b.bootTimestamp)) },
      ], data.brokers, { id: 'broker-table', rowKey: (b) => b.addr }),
    );
  }
  load();
  every(main, 2000, load);
}
