// Drives the web console of a real `apogee standalone` in headless
// Chromium: every page loads, topics and messages are made through the
// UI, messages are found by key and id, a group's lag drains to 0 and comes
// back after a reset, charts draw, and /metrics counts what was sent.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');
const { sleep, waitFor, startApogee, run } = require('./harness');

const SHOTS = path.resolve(__dirname, '../../target/console-screenshots');
const BIN = process.env.APOGEE_BIN;
const TOPIC = 'UiTopic';
const GROUP = 'CG_UI';
const BODY = '{"order":42,"items":["a","b"]}';
const KEY = 'ui-key-1';

async function main() {
  if (!BIN || !fs.existsSync(BIN)) throw new Error(`APOGEE_BIN (${BIN}) is not an apogee binary`);
  fs.mkdirSync(SHOTS, { recursive: true });
  const apogee = await startApogee(BIN);
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'apogee-chromium-'));
  const browser = await chromium.launchPersistentContext(userDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1360, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = browser.pages()[0] || await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  const ctx = { apogee, page, base: apogee.base, sent: {}, pageErrors };
  const results = [];
  let secured = null;
  try {
    await runTests(TESTS, ctx, results);
    await apogee.stop();
    // The same console over a broker that checks ACL accounts.
    secured = await startApogee(BIN, { acl: ACL, conf: 'httpMetricsRequireAuth=true\n' });
    await runTests(LOGIN_TESTS, { apogee: secured, page, base: secured.base, browser, pageErrors }, results);
  } finally {
    await browser.close().catch(() => {});
    fs.rmSync(userDir, { recursive: true, force: true });
    await apogee.stop();
    if (secured) await secured.stop();
  }
  const passed = results.filter(Boolean).length;
  const failed = results.length - passed;
  console.log(`screenshots in ${SHOTS}`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

async function runTests(tests, ctx, results) {
  for (const [name, fn] of tests) {
    const t0 = Date.now();
    try {
      await fn(ctx);
      results.push(true);
      console.log(`ok   ${name} (${Date.now() - t0} ms)`);
    } catch (e) {
      results.push(false);
      console.log(`FAIL ${name}: ${e.stack || e}`);
      await ctx.page.screenshot({ path: path.join(SHOTS, 'failure-' + name.replace(/\W+/g, '-') + '.png') }).catch(() => {});
    }
  }
}

async function api(ctx, method, p, body) {
  const res = await fetch(ctx.base + '/api' + p, {
    method, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body),
  });
  const data = await res.json();
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${data.error}`);
  return data;
}

async function open(ctx, route, selector) {
  const t0 = Date.now();
  await ctx.page.goto(`${ctx.base}/#/${route}`);
  await ctx.page.waitForSelector(selector, { timeout: 15000 });
  return Date.now() - t0;
}

async function shot(ctx, name) {
  await ctx.page.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: true });
}

async function text(ctx, selector) {
  return (await ctx.page.textContent(selector)) || '';
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function noErrorCard(ctx) {
  const errs = await ctx.page.$$eval('.card.error', (els) => els.map((e) => e.textContent));
  assert(errs.length === 0, 'the page shows an error: ' + errs.join('; '));
}

function localInput(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

async function groupLag(ctx) {
  return Number((await text(ctx, '#group-lag')).replace(/,/g, ''));
}

const TESTS = [
  ['every page loads', async (ctx) => {
    const pages = [
      ['cluster', '#broker-table tr[data-row]'],
      ['topics', '#topic-table'],
      ['groups', '#group-table'],
      ['messages', '#by-key-form'],
      ['send', '#send-form'],
    ];
    const times = [];
    for (const [route, selector] of pages) {
      times.push(`${route} ${await open(ctx, route, selector)} ms`);
      await noErrorCard(ctx);
      await shot(ctx, route);
    }
    console.log('     page loads: ' + times.join(', '));
  }],

  ['create a topic through the UI', async (ctx) => {
    await open(ctx, 'topics', '#topic-table');
    await ctx.page.fill('#topic-form input[name=name]', TOPIC);
    await ctx.page.fill('#topic-form input[name=queues]', '4');
    await ctx.page.click('#topic-create');
    await ctx.page.waitForSelector(`#topic-table tr[data-row="${TOPIC}"]`, { timeout: 10000 });
    await waitFor('the route of the new topic', async () => (await fetch(`${ctx.base}/api/topics/${TOPIC}`)).ok);
    const t = await api(ctx, 'GET', `/topics/${TOPIC}`);
    assert(t.queues.length === 4, `expected 4 queues, got ${t.queues.length}`);
    await shot(ctx, 'topic-created');
  }],

  ['send a message through the UI', async (ctx) => {
    await open(ctx, 'send', '#send-form');
    await ctx.page.fill('#send-form input[name=topic]', TOPIC);
    await ctx.page.fill('#send-form input[name=tags]', 'TagUi');
    await ctx.page.fill('#send-form input[name=keys]', KEY);
    await ctx.page.fill('#send-form textarea[name=body]', BODY);
    await ctx.page.fill('#send-form textarea[name=properties]', 'source=browser-test');
    await ctx.page.click('#send-button');
    await ctx.page.waitForSelector('#sent-msg-id', { timeout: 10000 });
    ctx.sent.msgId = (await text(ctx, '#sent-msg-id')).trim();
    ctx.sent.offsetId = (await text(ctx, '#sent-offset-id')).trim();
    assert(/^[0-9A-F]{32}$/.test(ctx.sent.msgId), 'odd message id ' + ctx.sent.msgId);
    await shot(ctx, 'send-result');
  }],

  ['find the message by key', async (ctx) => {
    await open(ctx, 'messages', '#by-key-form');
    await ctx.page.fill('#by-key-form input[name=topic]', TOPIC);
    await ctx.page.fill('#by-key-form input[name=key]', KEY);
    await ctx.page.click('#by-key-search');
    await ctx.page.waitForSelector(`#message-table button[data-msg="${ctx.sent.msgId}"]`, { timeout: 10000 });
    assert((await text(ctx, '#message-body')) === BODY, 'the body differs');
    const props = await text(ctx, '#message-props');
    assert(props.includes('browser-test'), 'the user property is missing: ' + props);
    await ctx.page.click('#message-card button[data-view=json]');
    assert((await text(ctx, '#message-body')).includes('"order": 42'), 'no pretty JSON');
    await shot(ctx, 'message-detail');
    await ctx.page.click('#message-card button[data-view=hex]');
    assert((await text(ctx, '#message-body')).startsWith('7b 22'), 'no hex view');
  }],

  ['find the message by id and by offset id', async (ctx) => {
    await open(ctx, 'messages', '#by-id-form');
    await ctx.page.fill('#by-id-form input[name=topic]', TOPIC);
    await ctx.page.fill('#by-id-form input[name=id]', ctx.sent.msgId);
    await ctx.page.click('#by-id-search');
    await ctx.page.waitForSelector(`#message-table button[data-msg="${ctx.sent.msgId}"]`, { timeout: 10000 });
    await ctx.page.fill('#by-id-form input[name=topic]', '');
    await ctx.page.fill('#by-id-form input[name=id]', ctx.sent.offsetId);
    await ctx.page.click('#by-id-search');
    await ctx.page.waitForSelector(`#message-fields >> text=${ctx.sent.offsetId}`, { timeout: 10000 });
  }],

  ['find the message by topic and time range', async (ctx) => {
    await open(ctx, 'messages', '#by-time-form');
    await ctx.page.fill('#by-time-form input[name=topic]', TOPIC);
    await ctx.page.click('#by-time-search');
    await ctx.page.waitForSelector(`#message-table button[data-msg="${ctx.sent.msgId}"]`, { timeout: 15000 });
    const res = await api(ctx, 'GET', `/messages/by-time?topic=${TOPIC}&begin=0&end=1`);
    assert(res.matched === 0, 'a range before the message found ' + res.matched);
  }],

  ['bad input shows a clear error', async (ctx) => {
    await open(ctx, 'send', '#send-form');
    await ctx.page.fill('#send-form input[name=topic]', 'bad topic!');
    await ctx.page.fill('#send-form textarea[name=body]', 'x');
    await ctx.page.click('#send-button');
    const toast = await ctx.page.waitForSelector('#toast .error', { timeout: 10000 });
    const msg = await toast.textContent();
    assert(/topic/i.test(msg), 'the error does not name the topic: ' + msg);
    await open(ctx, 'topics/NoSuchTopicHere', '#topic-detail .error');
    assert((await text(ctx, '#topic-detail')).includes('NoSuchTopicHere'), 'the error does not name the topic');
  }],

  ['a group lag drains to 0, comes back after a reset, and skip clears it', async (ctx) => {
    const before = Date.now() - 60000;
    for (let i = 0; i < 20; i++) {
      await api(ctx, 'POST', '/messages', { topic: TOPIC, body: `lag ${i}`, keys: `lag-${i}` });
    }
    const total = 21;
    await run(BIN, ['bench', 'consume', '-n', ctx.apogee.namesrv, '-t', TOPIC, '-g', GROUP,
      '--count', String(total), '--interval', '1'], 60000);
    await open(ctx, `groups/${GROUP}`, '#lag-table');
    await waitFor('lag 0 after draining', async () => (await groupLag(ctx)) === 0, 30000);
    await shot(ctx, 'group-drained');
    await ctx.page.fill('#reset-time', localInput(before));
    await ctx.page.click('#reset-by-time');
    await ctx.page.click('#confirm-ok');
    await waitFor(`lag ${total} after the reset`, async () => (await groupLag(ctx)) === total, 15000);
    const errors = await ctx.page.$$eval('#toast .error', (els) => els.map((e) => e.textContent));
    assert(!errors.some((e) => /reset/i.test(e)), 'the reset was reported as failed: ' + errors.join('; '));
    await shot(ctx, 'group-reset');
    await ctx.page.click('#skip-accumulated');
    await ctx.page.click('#confirm-ok');
    await waitFor('lag 0 after skipping', async () => (await groupLag(ctx)) === 0, 15000);
  }],

  ['resend a message to one group', async (ctx) => {
    await open(ctx, 'messages', '#by-id-form');
    await ctx.page.fill('#by-id-form input[name=id]', ctx.sent.offsetId);
    await ctx.page.click('#by-id-search');
    await ctx.page.waitForSelector('#resend-form', { timeout: 10000 });
    await ctx.page.fill('#resend-form input[name=group]', GROUP);
    await ctx.page.click('#resend-button');
    await ctx.page.waitForSelector(`#toast div.ok >> text=Resent to ${GROUP}`, { timeout: 10000 });
    // The copy waits in the group's retry topic: its lag shows it.
    await open(ctx, `groups/${GROUP}`, '#lag-table');
    await waitFor('lag 1 from the resent copy', async () => (await groupLag(ctx)) === 1, 15000);
    const found = await api(ctx, 'GET', `/messages/by-time?topic=%25RETRY%25${GROUP}&begin=0&end=${Date.now() + 60000}`);
    const copy = found.messages.find((m) => m.properties.ORIGIN_MESSAGE_ID === ctx.sent.msgId);
    assert(copy && copy.bodyText === BODY, 'the retry topic does not hold the copy');
    assert(copy.properties.RETRY_TOPIC === TOPIC, 'the copy does not name its topic');
    // The DLQ link opens a time-range search of %DLQ%group (which, for a
    // group that never dead-lettered anything, answers that it does not exist).
    // The message's delivery table now shows the drained group consumed it.
    await open(ctx, 'messages', '#by-id-form');
    await ctx.page.fill('#by-id-form input[name=id]', ctx.sent.offsetId);
    await ctx.page.click('#by-id-search');
    await ctx.page.waitForSelector(`#track-table tr[data-row="${GROUP}"]`, { timeout: 10000 });
    const state = await text(ctx, `#track-table tr[data-row="${GROUP}"]`);
    assert(state.includes('CONSUMED') && !state.includes('NOT_'), 'delivery state: ' + state);
    await shot(ctx, 'message-delivery');
    await open(ctx, `groups/${GROUP}`, '#lag-table');
    await ctx.page.click('#dlq-link');
    await ctx.page.waitForSelector('#message-results p, #message-results .error', { timeout: 15000 });
    const prefilled = await ctx.page.inputValue('#by-time-form input[name=topic]');
    assert(prefilled === `%DLQ%${GROUP}`, 'the DLQ link searched ' + prefilled);
  }],

  ['create and delete a group and a topic with confirmation', async (ctx) => {
    await open(ctx, 'groups', '#group-table');
    await ctx.page.fill('#group-form input[name=name]', 'CG_UI_TMP');
    await ctx.page.click('#group-create');
    await ctx.page.waitForSelector('#group-table tr[data-row="CG_UI_TMP"]', { timeout: 10000 });
    await ctx.page.click('button[data-delete="CG_UI_TMP"]');
    await ctx.page.click('#confirm-cancel');
    assert(await ctx.page.$('#group-table tr[data-row="CG_UI_TMP"]'), 'cancel deleted the group');
    await ctx.page.click('button[data-delete="CG_UI_TMP"]');
    await ctx.page.click('#confirm-ok');
    await ctx.page.waitForSelector('#group-table tr[data-row="CG_UI_TMP"]', { state: 'detached', timeout: 10000 });
    await api(ctx, 'POST', '/topics', { name: 'UiTmpTopic', queues: 1 });
    await open(ctx, 'topics', '#topic-table tr[data-row="UiTmpTopic"]');
    await ctx.page.click('button[data-delete="UiTmpTopic"]');
    await ctx.page.click('#confirm-ok');
    await ctx.page.waitForSelector('#topic-table tr[data-row="UiTmpTopic"]', { state: 'detached', timeout: 10000 });
  }],

  ['the cluster and topic charts draw', async (ctx) => {
    let sending = true;
    let loadError = null;
    const load = (async () => {
      while (sending && !loadError) {
        await api(ctx, 'POST', '/messages', { topic: TOPIC, body: 'tick' }).catch((e) => { loadError = e; });
        await sleep(10);
      }
    })();
    try {
      await open(ctx, 'cluster', '#broker-table');
      await waitFor('3 points on the cluster chart', async () =>
        Number(await ctx.page.getAttribute('polyline[data-series=in]', 'data-points', { timeout: 1000 })) >= 3, 20000);
      await shot(ctx, 'cluster-chart');
      await open(ctx, `topics/${TOPIC}`, '#queue-table');
      await waitFor('2 points on the topic chart', async () =>
        Number(await ctx.page.getAttribute('polyline[data-series=in]', 'data-points', { timeout: 1000 })) >= 2, 20000);
      const rows = await ctx.page.$$('#queue-table tbody tr');
      assert(rows.length === 4, `expected 4 queue rows, got ${rows.length}`);
      await shot(ctx, 'topic-detail');
    } finally {
      sending = false;
      await load;
    }
    if (loadError) throw loadError;
  }],

  ['/metrics counts what was sent, scraped during the load', async (ctx) => {
    const topic = 'MetricsLoadTopic';
    await api(ctx, 'POST', '/topics', { name: topic, queues: 4 });
    await waitFor('the route', async () => (await fetch(`${ctx.base}/api/topics/${topic}`)).ok);
    const re = new RegExp(`^rocketmq_messages_in_total\\{[^}]*topic="${topic}"[^}]*\\} (\\S+)`, 'm');
    const scrape = async () => {
      const page = await (await fetch(ctx.base + '/metrics')).text();
      const m = page.match(re);
      return { page, n: m ? Number(m[1]) : 0 };
    };
    const total = 200;
    let done = false;
    const seen = [];
    const scraper = (async () => {
      while (!done) { seen.push((await scrape()).n); await sleep(20); }
    })();
    for (let i = 0; i < total; i += 10) {
      await Promise.all(Array.from({ length: 10 }, (_, j) =>
        api(ctx, 'POST', '/messages', { topic, body: 'm'.repeat(100 + i + j) })));
    }
    done = true;
    await scraper;
    const { page, n } = await scrape();
    assert(n === total, `rocketmq_messages_in_total says ${n}, ${total} were sent`);
    for (let i = 1; i < seen.length; i++) assert(seen[i] >= seen[i - 1], 'the counter went down: ' + seen.join(','));
    assert(seen.some((v) => v > 0 && v < total), `no scrape saw the load in progress (${seen.length} scrapes)`);
    const out = page.match(new RegExp(`^rocketmq_messages_out_total\\{[^}]*topic="${TOPIC}"[^}]*consumer_group="${GROUP}"[^}]*\\} (\\S+)`, 'm'));
    assert(out && Number(out[1]) >= 21, 'messages_out for the drained group is missing or low: ' + (out && out[1]));
    for (const name of ['rocketmq_throughput_in_total', 'rocketmq_message_size_bucket', 'rocketmq_rpc_latency_milliseconds_bucket',
      'rocketmq_consumer_lag_messages', 'rocketmq_storage_size_bytes', 'process_resident_memory_bytes', 'process_open_fds', 'process_threads']) {
      assert(page.includes('\n' + name), `${name} is missing`);
    }
    console.log(`     ${seen.length} scrapes during the load`);
  }],

  ['no script errors in the pages', async (ctx) => {
    assert(ctx.pageErrors.length === 0, 'page errors: ' + ctx.pageErrors.join('; '));
  }],
];

// The accounts of every security test, shared with the Rust suites.
const ACL = fs.readFileSync(path.join(__dirname, '..', '..', 'crates', 'testkit', 'fixtures', 'plain_acl.yml'), 'utf8');

async function signIn(ctx, key, secret) {
  await ctx.page.fill('#login-access-key', key);
  await ctx.page.fill('#login-secret-key', secret);
  await ctx.page.click('#login-submit');
}

async function loginError(ctx) {
  await ctx.page.waitForFunction(() => document.querySelector('#login-error').textContent.length > 0, null, { timeout: 15000 });
  return text(ctx, '#login-error');
}

const LOGIN_TESTS = [
  ['login: the console asks for an admin account first', async (ctx) => {
    await ctx.page.goto(`${ctx.base}/#/topics`);
    await ctx.page.waitForSelector('#login-form', { timeout: 15000 });
    await shot(ctx, 'login');
    const res = await fetch(ctx.base + '/api/topics');
    assert(res.status === 401, `the API answered ${res.status} without a session`);
    assert(/login required/.test((await res.json()).error), 'the 401 does not say a login is required');
  }],

  ['login: a wrong secret and a non-admin account are refused clearly', async (ctx) => {
    await signIn(ctx, 'operator', 'not-the-secret');
    const wrong = await loginError(ctx);
    assert(/wrong access key or secret key/.test(wrong), 'odd message for a wrong secret: ' + wrong);
    await shot(ctx, 'login-denied');
    await signIn(ctx, 'publisher', 'pub-secret');
    await ctx.page.waitForFunction(() => /admin/.test(document.querySelector('#login-error').textContent), null, { timeout: 15000 });
    const cookies = await ctx.browser.cookies(ctx.base);
    assert(!cookies.some((c) => c.name === 'apogee_session'), 'a refused login set a session cookie');
    await ctx.page.waitForSelector('#login-form');
  }],

  ['login: an admin signs in, uses the console, and logs out', async (ctx) => {
    await signIn(ctx, 'operator', 'operator-secret');
    await ctx.page.waitForFunction(() => (document.querySelector('#account-name') || {}).textContent === 'operator', null, { timeout: 15000 });
    await ctx.page.waitForSelector('main[data-page="topics"] table', { timeout: 15000 });
    const cookie = (await ctx.browser.cookies(ctx.base)).find((c) => c.name === 'apogee_session');
    assert(cookie, 'no session cookie');
    assert(cookie.httpOnly, 'the session cookie is readable by scripts');
    assert(cookie.sameSite === 'Strict', 'the session cookie is SameSite=' + cookie.sameSite);
    // A write goes through the session's signed admin client.
    await ctx.page.evaluate(async () => {
      const r = await fetch('/api/topics', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'AclUiTopic', queues: 1 }) });
      if (!r.ok) throw new Error('create topic answered ' + r.status + ' ' + await r.text());
    });
    // The list comes from the NameServer, which learns the topic at the
    // broker's next registration: reload until it is there.
    await waitFor('AclUiTopic in the topic list', async () => {
      await ctx.page.reload();
      await ctx.page.waitForSelector('main[data-page="topics"] table', { timeout: 15000 });
      return (await ctx.page.locator('text=AclUiTopic').count()) > 0;
    }, 30000, 1000);
    await shot(ctx, 'login-ok');
    await ctx.page.click('#logout');
    await ctx.page.waitForSelector('#login-form', { timeout: 15000 });
    const res = await fetch(ctx.base + '/api/topics', { headers: { cookie: `apogee_session=${cookie.value}` } });
    assert(res.status === 401, `the logged-out session still answers ${res.status}`);
  }],

  ['login: /metrics needs an admin account when httpMetricsRequireAuth=true', async (ctx) => {
    const open = await fetch(ctx.base + '/metrics');
    assert(open.status === 401, `/metrics answered ${open.status} without credentials`);
    const basic = (u, p) => ({ authorization: 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64') });
    const wrong = await fetch(ctx.base + '/metrics', { headers: basic('operator', 'nope') });
    assert(wrong.status === 401, `a wrong secret scraped /metrics (${wrong.status})`);
    const ok = await fetch(ctx.base + '/metrics', { headers: basic('operator', 'operator-secret') });
    assert(ok.status === 200, `an admin's basic auth got ${ok.status}`);
    assert((await ok.text()).includes('rocketmq_topic_number'), 'the page has no broker series');
  }],

  ['login: no script errors', async (ctx) => {
    assert(ctx.pageErrors.length === 0, 'page errors: ' + ctx.pageErrors.join('; '));
  }],
];

process.on('unhandledRejection', (e) => {
  console.error('unhandled rejection: ' + (e && e.stack ? e.stack : e));
  console.log('0 passed, 1 failed');
  process.exit(1);
});

main().catch((e) => {
  console.error(e.stack || e);
  console.log('0 passed, 1 failed');
  process.exit(1);
});
