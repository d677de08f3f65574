// SPDX-License-Identifier: GPL-2.0-or-later
//
// A gRPC client that knows no .proto file of hyperallocd's: it learns the
// services through server reflection (grpc-js-reflection-client, v1 and
// v1alpha) and calls them, and probes the standard health service with
// the health.proto that grpc-health-check ships. Run by
// test_grpc_reflection.py:
//
//   node grpc_generic.js check TARGET VM MAX_BYTES   every check; exit 0
//   node grpc_generic.js watch TARGET SERVICE        print each status of
//                                                    Health.Watch, then
//                                                    "end CODE"
'use strict';

const assert = require('node:assert/strict');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { GrpcReflection } = require('grpc-js-reflection-client');

const insecure = grpc.credentials.createInsecure();
const SERVICES = [
  'hyperalloc.v1.HyperAlloc',
  'grpc.health.v1.Health',
  'grpc.reflection.v1.ServerReflection',
  'grpc.reflection.v1alpha.ServerReflection',
];
const LOAD = { keepCase: true, longs: String, enums: String, defaults: true };

function call(client, method, req) {
  return new Promise((resolve, reject) =>
    client[method](req, (err, res) => (err ? reject(err) : resolve(res))));
}

function healthClient(target) {
  const file = path.join(process.env.HA_NODE_MODULES, 'grpc-health-check',
                         'proto', 'health', 'v1', 'health.proto');
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(file, LOAD));
  return new pkg.grpc.health.v1.Health(target, insecure);
}

async function reflection(target, version, vm, maxBytes) {
  const refl = new GrpcReflection(target, insecure, {}, version);

  const services = await refl.listServices();
  assert.deepEqual([...services].sort(), [...SERVICES].sort(),
                   `${version}: list_services`);

  const methods = (await refl.listMethods('hyperalloc.v1.HyperAlloc'))
    .map((m) => m.name).sort();
  assert.deepEqual(methods, ['GetHost', 'GetPolicy', 'GetVM', 'GetVMMemory',
    'ListVMs', 'ReleaseVMTarget', 'SetPolicy', 'SetVMMemory',
    'WatchEvents'], `${version}: the methods of HyperAlloc`);

  // Every service is described, the standard ones included.
  for (const s of SERVICES)
    await refl.getDescriptorBySymbol(s);
  await refl.getDescriptorByFileName('hyperalloc.proto');
  await assert.rejects(refl.getDescriptorBySymbol('hyperalloc.v1.Nope'),
                       /not known/, `${version}: an unknown symbol`);
  await assert.rejects(refl.getDescriptorByFileName('nope.proto'),
                       /not known/, `${version}: an unknown file`);

  // Calls through what reflection taught, nothing else.
  const desc = await refl.getDescriptorBySymbol('hyperalloc.v1.HyperAlloc');
  const pkg = desc.getPackageObject(LOAD);
  const client = new pkg.hyperalloc.v1.HyperAlloc(target, insecure);
  try {
    const list = await call(client, 'ListVMs', {});
    assert.ok(list.vms.some((v) => v.id === vm), `${version}: ${vm} listed`);
    const mem = await call(client, 'GetVMMemory', { id: vm });
    assert.equal(mem.max_bytes, maxBytes, `${version}: max_bytes of ${vm}`);
    assert.equal(mem.mechanism, 'sim');
    await assert.rejects(call(client, 'GetVM', { id: 'nope' }),
                         (e) => e.code === grpc.status.NOT_FOUND);
    // A mutation without the token is refused, as for any client.
    await assert.rejects(
      call(client, 'SetVMMemory', { id: vm, target_bytes: maxBytes }),
      (e) => e.code === grpc.status.UNAUTHENTICATED);
  } finally {
    client.close();
  }
}

async function health(target) {
  const hc = healthClient(target);
  try {
    for (const service of ['', ...SERVICES]) {
      const r = await call(hc, 'Check', { service });
      assert.equal(r.status, 'SERVING', `Check "${service}"`);
    }
    await assert.rejects(call(hc, 'Check', { service: 'no.such.Service' }),
                         (e) => e.code === grpc.status.NOT_FOUND);
    const list = await call(hc, 'List', {});
    assert.deepEqual(Object.keys(list.statuses).sort(),
                     ['', ...SERVICES].sort(), 'List');
    for (const s of Object.values(list.statuses))
      assert.equal(s.status, 'SERVING');
    for (const [service, want] of [['', 'SERVING'],
                                   ['no.such.Service', 'SERVICE_UNKNOWN']]) {
      const first = await new Promise((resolve, reject) => {
        const stream = hc.Watch({ service });
        stream.on('data', (m) => { resolve(m.status); stream.cancel(); });
        stream.on('error', (e) => {
          if (e.code !== grpc.status.CANCELLED) reject(e);
        });
      });
      assert.equal(first, want, `Watch "${service}"`);
    }
  } finally {
    hc.close();
  }
}

async function check(target, vm, maxBytes) {
  for (const version of ['v1', 'v1alpha'])
    await reflection(target, version, vm, maxBytes);
  await health(target);
  console.log('grpc_generic: reflection v1 and v1alpha, health: all checks passed');
}

function watch(target, service) {
  const hc = healthClient(target);
  const stream = hc.Watch({ service });
  let ended = false;
  const end = (code) => {
    // grpc-js may report the status and then the end of the stream.
    if (!ended)
      console.log(`end ${code}`);
    ended = true;
    hc.close();
  };
  stream.on('data', (m) => console.log(m.status));
  stream.on('error', (e) => end(grpc.status[e.code]));
  stream.on('end', () => end('OK'));
}

const [mode, target, ...rest] = process.argv.slice(2);
if (mode === 'check') {
  check(target, rest[0], rest[1]).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else if (mode === 'watch') {
  watch(target, rest[0] || '');
} else {
  console.error('usage: grpc_generic.js check TARGET VM MAX_BYTES | watch TARGET [SERVICE]');
  process.exit(2);
}
