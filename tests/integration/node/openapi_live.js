// SPDX-License-Identifier: GPL-2.0-or-later
//
// Live answers of hyperallocd against docs/openapi.yaml, checked by a
// real OpenAPI validator (openapi-backend: the document parsed, validated
// and dereferenced, each request routed to its operation; Ajv for the
// schemas). Every operation of the document is called, errors
// included; for each answer: its status is one the operation documents,
// its Content-Type one documented for that status, its body valid
// against that schema, its documented headers present. Events on the
// stream are validated one by one against the Event schema; 405 answers
// against Problem, with the Allow header naming the documented methods.
// Run by test_openapi_live.py:
//
//   node openapi_live.js OPENAPI_YAML BASE_URL TOKEN VM
//
// Prints one line per request and a summary; exits 1 on any mismatch.
'use strict';

const OpenAPIBackend = require('openapi-backend').default;
const Ajv = require('ajv');
const http = require('node:http');

const [docPath, base, token, vm] = process.argv.slice(2);
const failures = [];
const called = new Set();
let api, problemSchema;
// OpenAPI 3.0 schemas are JSON Schema draft 4-ish plus `nullable`, which
// Ajv knows; the formats the document uses are checked here.
const ajv = new Ajv({
  strict: false,
  allErrors: true,
  formats: {
    int64: (v) => Number.isInteger(v),
    'date-time': /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/,
  },
});

function fail(what, why) {
  failures.push(`${what}: ${why}`);
  console.log(`FAIL ${what}: ${why}`);
}

// One request with node:http (fetch refuses a GET with a body, which the
// 413 checks need). Resolves to { status, headers (a Headers), text }.
function request(method, path, { body, auth, headers } = {}) {
  const h = { ...(headers || {}) };
  if (auth === 'good')
    h.Authorization = `Bearer ${token}`;
  else if (auth === 'bad')
    h.Authorization = 'Bearer not-the-token';
  const data = body === undefined ? undefined :
    typeof body === 'string' ? body : JSON.stringify(body);
  if (data !== undefined) {
    h['Content-Type'] = h['Content-Type'] || 'application/json';
    h['Content-Length'] = Buffer.byteLength(data);
  }
  return new Promise((resolve, reject) => {
    const req = http.request(base + path, { method, headers: h }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode,
        headers: new Headers(Object.entries(res.headers).map(
          ([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)])),
        text: Buffer.concat(chunks).toString(),
      }));
    });
    req.on('error', reject);
    if (data !== undefined)
      req.write(data);
    req.end();
  });
}

function mediaType(headers) {
  return (headers.get('content-type') || '').split(';')[0].trim();
}

// Check one answer against the operation the document routes it to.
function check(what, method, url, res, wantStatus) {
  const path = url.split('?')[0];
  const op = api.matchOperation({ method, path, headers: {} });
  if (!op) {
    fail(what, `the document has no operation for ${method} ${path}`);
    return;
  }
  called.add(op.operationId);
  if (res.status !== wantStatus)
    fail(what, `status ${res.status}, the test wanted ${wantStatus}: ${res.text.slice(0, 200)}`);
  const doc = op.responses[String(res.status)] || op.responses.default;
  if (!doc) {
    fail(what, `${op.operationId} does not document status ${res.status}`);
    return;
  }
  for (const name of Object.keys(doc.headers || {}))
    if (!res.headers.has(name))
      fail(what, `documented header ${name} missing`);
  if (method === 'HEAD') {
    if (res.text !== '')
      fail(what, 'HEAD answered with a body');
    return;
  }
  const types = Object.keys(doc.content || {});
  if (!types.length) {
    if (res.text)
      fail(what, `a body where ${op.operationId} ${res.status} documents none`);
    return;
  }
  const mt = mediaType(res.headers);
  if (!types.includes(mt)) {
    fail(what, `Content-Type ${mt}, documented: ${types.join(', ')}`);
    return;
  }
  if (mt === 'text/event-stream')
    return; // validated event by event
  let body = res.text;
  if (mt.endsWith('json')) {
    try {
      body = JSON.parse(res.text);
    } catch (e) {
      fail(what, `not JSON: ${res.text.slice(0, 200)}`);
      return;
    }
  }
  const errors = validate(doc.content[mt].schema, body);
  if (errors)
    fail(what, `body does not match the schema: ${errors}`);
}

// The errors of @value against @schema (a dereferenced schema of the
// document), as text, or null when it is valid.
const compiled = new Map();
function validate(schema, value) {
  if (!compiled.has(schema))
    compiled.set(schema, ajv.compile(schema));
  const fn = compiled.get(schema);
  return fn(value) ? null : JSON.stringify(fn.errors).slice(0, 600);
}

// The schema of @op's answer @status in @mediaType.
function schemaOf(operationId, status, mt) {
  const op = api.router.getOperation(operationId);
  return op.responses[String(status)].content[mt].schema;
}

async function call(what, method, path, wantStatus, opts) {
  const res = await request(method, path, opts);
  check(what, method, path, res, wantStatus);
  console.log(`${res.status} ${method} ${path} (${what})`);
  return res;
}

// GET /events: the stream's head, then events; each data line an Event.
async function events(maxBytes) {
  const op = api.matchOperation({ method: 'GET', path: '/events', headers: {} });
  called.add(op.operationId);
  const ctl = new AbortController();
  const r = await fetch(base + '/events?samples=1', {
    headers: { 'Last-Event-ID': '0' }, signal: ctl.signal });
  if (r.status !== 200)
    fail('event stream', `status ${r.status}`);
  if (!Object.keys(op.responses['200'].content).includes(mediaType(r.headers)))
    fail('event stream', `Content-Type ${mediaType(r.headers)}`);
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let text = '';
  let frames = [];
  // Make an event happen, then read until it came (or 30 s passed: a
  // failure, not a measurement).
  const give_up = setTimeout(() => ctl.abort(), 30000);
  await request('PATCH', `/vms/${vm}/memory`,
                { body: { target_bytes: maxBytes / 2 }, auth: 'good' });
  const seen = (type) => frames.some((f) => new RegExp(`(^|\n)event: ${type}\n`).test(f));
  while (!seen('target_changed') || !seen('samples')) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch (e) {
      fail('event stream', `no target_changed event came: ${e.message}`);
      break;
    }
    const { value, done } = chunk;
    if (done)
      break;
    text += dec.decode(value, { stream: true });
    const parts = text.split('\n\n');
    text = parts.pop();
    frames = frames.concat(parts);
    if (frames.length > 200)
      break;
  }
  clearTimeout(give_up);
  ctl.abort();
  await request('DELETE', `/vms/${vm}/memory/target`, { auth: 'good' });
  if (!frames.length || !/^retry: \d+$/.test(frames[0]))
    fail('event stream', `does not start with retry: ${JSON.stringify(frames[0])}`);
  let n = 0, samples = 0;
  for (const f of frames) {
    const data = f.split('\n').find((l) => l.startsWith('data: '));
    const id = f.split('\n').find((l) => l.startsWith('id: '));
    if (!data)
      continue;
    const ev = JSON.parse(data.slice(6));
    const errors = validate(op.responses['200'].content['text/event-stream'].schema, ev);
    if (errors)
      fail('event', `${data.slice(0, 300)}: ${errors}`);
    if (ev.type === 'samples') {
      // not kept, not resumed: no id
      if (id !== undefined)
        fail('samples', `a samples frame with ${id}`);
      samples++;
      continue;
    }
    if (id !== `id: ${ev.run}-${ev.seq}`)
      fail('event', `${id} is not <run>-<seq> of ${data}`);
    n++;
  }
  if (!n || !samples)
    fail('event stream', `${n} events and ${samples} samples arrived`);
  console.log(`200 GET /events?samples=1 (${n} events, ${samples} samples validated)`);
}

// 405: a method the path does not list; Allow names what it lists.
async function notAllowed(method, path) {
  const res = await request(method, path);
  const what = `${method} ${path}`;
  console.log(`${res.status} ${what} (a method the path does not list)`);
  if (res.status !== 405) {
    fail(what, `status ${res.status}, want 405`);
    return;
  }
  const item = Object.entries(api.definition.paths).find(([p]) =>
    new RegExp('^' + p.replace(/\{[^}]+\}/g, '[^/]+') + '$').test(path));
  const listed = Object.keys(item[1])
    .filter((k) => ['get', 'put', 'post', 'delete', 'patch', 'head'].includes(k))
    .map((k) => k.toUpperCase()).sort();
  const allow = (res.headers.get('allow') || '').split(',').map((s) => s.trim()).sort();
  if (JSON.stringify(allow) !== JSON.stringify(listed))
    fail(what, `Allow: ${allow.join(', ')}; the document lists ${listed.join(', ')}`);
  if (mediaType(res.headers) !== 'application/problem+json' ||
      !problemSchema(JSON.parse(res.text)))
    fail(what, `not a Problem: ${res.text}`);
}

async function main() {
  api = new OpenAPIBackend({ definition: docPath, strict: true, quick: false });
  await api.init();
  problemSchema = ajv.compile(api.definition.components.schemas.Problem);
  // The validator itself must catch what is wrong, or nothing here counts.
  const pj = 'application/problem+json';
  if (!validate(schemaOf('listVms', 200, 'application/json'), { vms: 'x' }) ||
      !validate(schemaOf('getVm', 404, pj), { type: 'about:blank' }) ||
      !validate(schemaOf('getVmMemory', 200, 'application/json'),
                { max_bytes: -1 }) ||
      problemSchema({ title: 'no status' }))
    fail('validator', 'accepts bodies that do not match the document');
  const big = JSON.stringify({ target_bytes: 1, pad: 'x'.repeat(80 * 1024) });
  const mem = `/vms/${vm}/memory`;
  const max = JSON.parse((await request('GET', mem)).text).max_bytes;

  await call('list', 'GET', '/vms', 200);
  await call('list, a body too large', 'GET', '/vms', 413, { body: big });
  await call('one VM', 'GET', `/vms/${vm}`, 200);
  await call('unknown VM', 'GET', '/vms/nope', 404);
  await call('memory', 'GET', mem, 200);
  await call('memory of an unknown VM', 'GET', '/vms/nope/memory', 404);
  for (const m of ['PUT', 'PATCH']) {
    await call(`${m} a target`, m, mem, 200, { body: { target_bytes: max }, auth: 'good' });
    await call(`${m} not JSON`, m, mem, 400, { body: '{', auth: 'good' });
    await call(`${m} an unknown field`, m, mem, 400, { body: { nope: 1 }, auth: 'good' });
    await call(`${m} without a token`, m, mem, 401, { body: { shares: 5 } });
    await call(`${m} a wrong token`, m, mem, 403, { body: { shares: 5 }, auth: 'bad' });
    await call(`${m} an unknown VM`, m, '/vms/nope/memory', 404, { body: { shares: 5 }, auth: 'good' });
    await call(`${m} too large`, m, mem, 413, { body: big, auth: 'good' });
    await call(`${m} above max`, m, mem, 422, { body: { target_bytes: max * 2 }, auth: 'good' });
  }
  const tgt = `${mem}/target`;
  await call('release', 'DELETE', tgt, 200, { auth: 'good' });
  await call('release without a token', 'DELETE', tgt, 401);
  await call('release, a wrong token', 'DELETE', tgt, 403, { auth: 'bad' });
  await call('release an unknown VM', 'DELETE', '/vms/nope/memory/target', 404, { auth: 'good' });
  await call('host', 'GET', '/host', 200);
  const policy = JSON.parse((await call('policy', 'GET', '/policy', 200)).text);
  await call('policy set', 'PUT', '/policy', 200, { body: { name: policy.name }, auth: 'good' });
  await call('policy not JSON', 'PUT', '/policy', 400, { body: '[', auth: 'good' });
  await call('policy without a token', 'PUT', '/policy', 401, { body: { tick_ms: 500 } });
  await call('policy, a wrong token', 'PUT', '/policy', 403, { body: { tick_ms: 500 }, auth: 'bad' });
  await call('policy too large', 'PUT', '/policy', 413, { body: big, auth: 'good' });
  await call('an unknown policy', 'PUT', '/policy', 422, { body: { name: 'nope' }, auth: 'good' });
  await call('metrics', 'GET', '/metrics', 200);
  await call('health', 'GET', '/healthz', 200);
  await call('this document', 'GET', '/openapi.yaml', 200);
  await events(max);
  await call('events, samples neither yes nor no', 'GET', '/events?samples=maybe', 400);
  await call('the dashboard', 'GET', '/', 200);
  for (const f of ['app.js', 'app.css', 'uPlot.iife.min.js', 'uPlot.min.css'])
    await call(`the dashboard's ${f}`, 'GET', `/ui/${f}`, 200);
  await call('a file the dashboard does not have', 'GET', '/ui/nope.js', 404);
  await call('HEAD of a dashboard file', 'HEAD', '/ui/app.css', 200);
  await call('HEAD of a file the dashboard does not have', 'HEAD', '/ui/nope.js', 404);
  // HEAD of every GET path.
  for (const p of ['/vms', `/vms/${vm}`, mem, '/host', '/policy', '/events',
                   '/metrics', '/healthz', '/openapi.yaml', '/'])
    await call(`HEAD ${p}`, 'HEAD', p, 200);
  await call('HEAD of an unknown VM', 'HEAD', '/vms/nope', 404);
  await notAllowed('POST', '/vms');
  await notAllowed('DELETE', mem);
  await notAllowed('PUT', '/host');
  // A path the document does not have: 404, a Problem.
  const r = await request('GET', '/nope');
  console.log(`${r.status} GET /nope (no such path)`);
  if (r.status !== 404 || !problemSchema(JSON.parse(r.text)))
    fail('GET /nope', `${r.status} ${r.text}`);

  const ops = Object.values(api.definition.paths).flatMap((item) =>
    Object.values(item).filter((o) => o && o.operationId).map((o) => o.operationId));
  for (const id of ops)
    if (!called.has(id))
      fail('coverage', `operation ${id} was not called`);
  console.log(`openapi_live: ${called.size} of ${ops.length} operations called, ${failures.length} mismatches`);
  process.exit(failures.length ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
