// SPDX-License-Identifier: GPL-2.0-or-later
//
// The dashboard in a real browser: Debian's Chromium, headless, driven by
// playwright-core. Run by test_dashboard.py:
//
//   node dashboard.js BASE_URL TOKEN SCREENSHOT VM...
//
// Checks, in this order, what a person at the page relies on: every VM
// is on the page; a target set through the API (not the page) shows up
// without a reload; a target set in the page, with the token entered
// once, reaches the VM, and still works after a reload without entering
// it again; the policy switcher switches the daemon's policy; the chart
// draws a series per VM from the event stream's samples; the event log
// shows the change. The page may fetch nothing but the daemon, and must
// log no error. Saves a screenshot. Exits 1 on the first failure.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const MIB = 1 << 20;
const [base, token, shot, ...vmIds] = process.argv.slice(2);
const WAIT = { timeout: 30000 };

async function api(method, p, body) {
  const r = await fetch(base + p, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const j = await r.json();
  assert.ok(r.ok, `${method} ${p}: ${r.status} ${JSON.stringify(j)}`);
  return j;
}

// Poll the API (not the page) until @pred holds for GET @p.
async function untilApi(p, pred, what) {
  for (let i = 0; i < 300; i++) {
    const j = await api('GET', p);
    if (pred(j))
      return j;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function main() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ha-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
      '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 1000 },
  });
  const problems = [];
  try {
    // Nothing but the daemon: anything else is aborted and a failure.
    await ctx.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(base + '/'))
        return route.continue();
      problems.push(`the page fetched ${url}`);
      return route.abort();
    });
    const page = ctx.pages()[0] || await ctx.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error')
        problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));

    await page.goto(base + '/');
    // 1. every VM
    for (const id of vmIds)
      await page.waitForSelector(`tr[data-vm="${id}"] td.max:not(:empty)`, WAIT);
    await page.waitForSelector('#status.live', WAIT);
    const rows = await page.$$eval('#vms tr', (trs) => trs.map((t) => t.dataset.vm));
    assert.deepEqual(rows.sort(), [...vmIds].sort(), 'the VMs on the page');
    console.log(`dashboard: ${rows.length} VMs on the page`);

    // 2. a PUT through the API shows without a reload
    const [a, b] = vmIds;
    const memA = await api('GET', `/vms/${a}/memory`);
    const want = memA.max_bytes - 16 * MIB;
    await api('PUT', `/vms/${a}/memory`, { target_bytes: want });
    await page.waitForFunction(([id, t]) => {
      const row = document.querySelector(`tr[data-vm="${id}"]`);
      return row && row.dataset.targetBytes === String(t) &&
        row.dataset.targetSource === 'manual' &&
        row.querySelector('td.target').textContent.includes('manual');
    }, [a, want], WAIT);
    await page.waitForSelector(`#log li[data-type="target_changed"][data-vm="${a}"]`, WAIT);
    console.log(`dashboard: the API's target for ${a} is on the page`);

    // 3. a target set in the page reaches the VM: without a token it is
    // refused, with the token entered once it is not
    const memB = await api('GET', `/vms/${b}/memory`);
    const mib = Math.round(memB.max_bytes / MIB) - 32;
    const form = `tr[data-vm="${b}"] form.set-form`;
    await page.fill(`${form} input.target-input`, String(mib));
    await page.click(`${form} button.set-target`);
    await page.waitForFunction(() =>
      document.querySelector('#message').textContent.includes('token'), null, WAIT);
    await page.fill('#token', token);
    await page.click('#token-save');
    await page.waitForSelector('#token-state:has-text("kept")', WAIT);
    await page.click(`${form} button.set-target`);
    await untilApi(`/vms/${b}/memory`, (m) => m.target_bytes === mib * MIB &&
                   m.target_source === 'manual', `${b}'s target from the page`);
    console.log(`dashboard: the page's target for ${b} reached the VM`);

    // ... and the token stays for the tab: a reload, no token typed
    await page.reload();
    await page.waitForSelector(`tr[data-vm="${b}"] td.max:not(:empty)`, WAIT);
    await page.click(`tr[data-vm="${b}"] button.release`);
    await untilApi(`/vms/${b}/memory`, (m) => m.target_source === 'policy',
                   `${b}'s target released from the page after a reload`);
    console.log('dashboard: the token outlived a reload of the tab');

    // 4. the policy switcher
    const policy = await api('GET', '/policy');
    const other = policy.available.find((n) => n !== policy.name);
    await page.waitForSelector(`#policy-select option[value="${other}"]`,
                               { ...WAIT, state: 'attached' });
    await page.selectOption('#policy-select', other);
    await page.click('#policy-apply');
    await untilApi('/policy', (p) => p.name === other, `policy ${other}`);
    await page.waitForFunction((n) =>
      document.querySelector('#policy-name').textContent === n, other, WAIT);
    await api('PUT', '/policy', { name: policy.name });
    console.log(`dashboard: switched the policy to ${other} and back`);

    // 5. the chart: a series per VM, fed by samples
    await page.waitForFunction((n) => {
      const c = document.querySelector('#chart');
      return c.dataset.series === String(n) && Number(c.dataset.samples) >= 3 &&
        c.querySelector('canvas');
    }, vmIds.length, WAIT);
    console.log('dashboard: the chart draws every VM from the stream');

    await page.screenshot({ path: shot, fullPage: true });
    console.log(`dashboard: screenshot ${shot}`);
    assert.deepEqual(problems, [], 'fetches and errors of the page');
  } finally {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  console.log('dashboard: all checks passed');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
