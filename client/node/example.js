#!/usr/bin/env node
// A Node.js client of Bottleneck: @grpc/grpc-js with proto/bottleneck/v1/*.proto loaded at run
// time by @grpc/proto-loader (no generated code). Creates a collection of synthetic 8x8 grey
// images (four classes), uploads a dataset (client streaming), trains a small dense auto-encoder
// while printing WatchJob's progress, waits until it serves, upserts items with metadata and
// searches: plainly, with a filter on label and a numeric metadata range (Filter messages of
// common.proto), lists the matching items page by page (ListItems with a page token), switches
// an alias between two collections (blue/green) and creates, lists and deletes a backup.
//
//   cd client/node && npm ci && node example.js --server 127.0.0.1:50051
//   flags: --server HOST:PORT  --proto-dir DIR (default ../../proto)  --token TOKEN
//          --tls-ca PEM  --collection NAME (default node-example)
// Works with Debian 12's nodejs (18) and npm (9). Exit status 0 when the search finds mostly
// the query's class.
'use strict';

const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

function parseArgs(argv) {
  const args = {
    server: '127.0.0.1:50051',
    'proto-dir': path.join(__dirname, '..', '..', 'proto'),
    collection: 'node-example',
  };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '');
    if (!(name in args) && !['token', 'tls-ca'].includes(name)) {
      throw new Error(`unknown flag ${argv[i]}`);
    }
    args[name] = argv[i + 1];
  }
  return args;
}

// The v1 services as client constructors. keepCase keeps the .proto field names (snake_case);
// 64-bit integers come as strings, enums as their names, bytes as Buffers.
function loadApi(protoDir) {
  const files = ['collection', 'training', 'model', 'item', 'query'].map(
      (name) => `bottleneck/v1/${name}.proto`);
  const definition = protoLoader.loadSync(files, {
    includeDirs: [protoDir], keepCase: true, longs: String, enums: String, defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition).bottleneck.v1;
}

// Calls a unary method as a promise; errors keep gRPC's code and details.
function unary(client, method, request, metadata) {
  return new Promise((resolve, reject) => {
    client[method](request, metadata, {deadline: Date.now() + 30000}, (error, response) => {
      if (error) {
        error.message = `${method}: ${grpc.status[error.code]}: ${error.details}`;
        reject(error);
      } else {
        resolve(response);
      }
    });
  });
}

// An 8x8 grey image (raw uint8 pixels): the left or right half bright by label parity,
// brightness by label, plus noise from a seeded generator.
function syntheticImage(label, random) {
  const pixels = Buffer.alloc(64);
  for (let y = 0; y < 8; y++) {
    for (let x = 0; x < 8; x++) {
      const bright = (x < 4) === (label % 2 === 0);
      const value = (bright ? 40 + 60 * label : 20) + Math.floor(random() * 31) - 15;
      pixels[y * 8 + x] = Math.max(0, Math.min(255, value));
    }
  }
  return {image: {raw: {height: 8, width: 8, channels: 1, pixel_type: 'PIXEL_TYPE_UINT8',
    data: pixels}}};
}

function seededRandom(seed) {  // mulberry32
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6D2B79F5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Client streaming: one UploadDataset message per chunk of 100 examples.
function uploadDataset(training, metadata, collection, dataset, examples) {
  return new Promise((resolve, reject) => {
    const call = training.UploadDataset(metadata, (error, response) =>
      error ? reject(new Error(`UploadDataset: ${grpc.status[error.code]}: ${error.details}`)) :
        resolve(response));
    for (let start = 0; start < examples.length; start += 100) {
      call.write({collection, dataset, examples: examples.slice(start, start + 100)});
    }
    call.end();
  });
}

// Server streaming: prints each progress update until the job ends.
function watchJob(training, metadata, jobId) {
  return new Promise((resolve, reject) => {
    const call = training.WatchJob({job_id: jobId}, metadata);
    call.on('data', (p) => {
      const eta = p.eta_seconds >= 0 ? `${p.eta_seconds.toFixed(1)} s` : '?';
      console.log(`  ${p.state} ${p.phase} ${p.phase_index}/${p.phase_count}` +
                  ` epoch ${p.epoch}/${p.epochs} loss ${p.loss.toFixed(4)} ETA ${eta}`);
    });
    call.on('error', (error) => reject(new Error(`WatchJob: ${error.details}`)));
    call.on('end', resolve);
  });
}

async function waitUntilServing(collections, metadata, name, version) {
  for (;;) {
    const c = await unary(collections, 'GetCollection', {name}, metadata);
    if (!c.stats.promotion && Number(c.stats.serving_model_version) === version) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const api = loadApi(args['proto-dir']);
  const credentials = args['tls-ca'] ?
    grpc.credentials.createSsl(fs.readFileSync(args['tls-ca'])) :
    grpc.credentials.createInsecure();
  const metadata = new grpc.Metadata();
  if (args.token) metadata.set('authorization', `Bearer ${args.token}`);
  const collections = new api.CollectionService(args.server, credentials);
  const training = new api.TrainingService(args.server, credentials);
  const models = new api.ModelService(args.server, credentials);
  const items = new api.ItemService(args.server, credentials);
  const query = new api.QueryService(args.server, credentials);
  const name = args.collection;
  const random = seededRandom(7);

  // `n` is declared numeric so that filters may take ranges on it.
  await unary(collections, 'CreateCollection',
      {name, spec: {image: {height: 8, width: 8, channels: 1}, numeric_metadata_keys: ['n']}},
      metadata);
  const examples = [];
  for (let i = 0; i < 400; i++) {
    examples.push({input: syntheticImage(i % 4, random), label: String(i % 4)});
  }
  const dataset = await uploadDataset(training, metadata, name, 'train', examples);
  console.log(`uploaded ${dataset.example_count} examples`);

  const job = await unary(training, 'StartTraining', {
    collection: name, dataset: 'train', promote_when_done: true,
    spec: {dense: {encoder_sizes: [32], code_size: 4},
      training: {epochs: 30, learning_rate: 0.01, seed: 1}},
  }, metadata);
  await watchJob(training, metadata, job.id);
  const done = await unary(training, 'GetJob', {job_id: job.id}, metadata);
  if (done.state !== 'JOB_STATE_SUCCEEDED') throw new Error(`job ${done.state}: ${done.error}`);
  const version = Number(done.model_version);
  const model = await unary(models, 'GetModel', {collection: name, version}, metadata);
  console.log(`model v${version}: validation error ` +
              `${model.report.reconstruction_error.toFixed(2)} vs PCA ` +
              `${model.report.pca_reconstruction_error.toFixed(2)}`);
  // The server promotes when the job is done; PromoteModel is idempotent, so calling it joins
  // (or starts) that promotion, then we wait for the switch.
  await unary(models, 'PromoteModel', {collection: name, version}, metadata);
  await waitUntilServing(collections, metadata, name, version);
  console.log(`serving v${version}`);

  const upserted = await unary(items, 'Upsert', {collection: name, items: Array.from(
      {length: 100}, (_, i) => ({id: `img-${i}`, input: syntheticImage(i % 4, random),
        label: String(i % 4), metadata: {n: String(i)}}))}, metadata);
  console.log(`upserted ${upserted.upserted} items`);
  const result = await unary(query, 'Search',
      {collection: name, input: syntheticImage(2, random), k: 5}, metadata);
  const labels = result.neighbors.map((n) => n.label);
  console.log('neighbours:', result.neighbors.map(
      (n) => `${n.id} (${n.label}, ${n.distance.toFixed(3)})`).join(', '));
  if (labels.filter((l) => l === '2').length < 4) {
    throw new Error(`expected mostly label 2, got ${labels}`);
  }

  // Filtered search: label 1 or 3, and n < 50 (AND of a set match and a range). The filter
  // applies during the index walk, so k neighbours come back whenever k items match.
  const filter = {all_of: {filters: [
    {match: {label: true, values: ['1', '3']}},
    {range: {metadata_key: 'n', lt: 50}},
  ]}};
  const filtered = await unary(query, 'Search',
      {collection: name, input: syntheticImage(3, random), k: 5, filter}, metadata);
  console.log('filtered:', filtered.neighbors.map(
      (n) => `${n.id} (${n.label}, n=${n.metadata.n})`).join(', '));
  if (filtered.neighbors.length !== 5 || !filtered.neighbors.every(
      (n) => ['1', '3'].includes(n.label) && Number(n.metadata.n) < 50)) {
    throw new Error('the filtered search returned items outside the filter');
  }

  // Listing: every matching item once, 7 per page, following next_page_token.
  const listed = [];
  let pageToken = '';
  do {
    const page = await unary(items, 'ListItems',
        {collection: name, page_size: 7, page_token: pageToken, filter}, metadata);
    listed.push(...page.items.map((i) => i.item.id));
    pageToken = page.next_page_token;
  } while (pageToken);
  const counted = await unary(items, 'CountItems', {collection: name, filter}, metadata);
  console.log(`listed ${listed.length} matching items; CountItems says ${counted.count}`);
  // Items i with i % 4 in {1, 3} and i < 50: 25 of them.
  if (listed.length !== 25 || new Set(listed).size !== 25 || Number(counted.count) !== 25) {
    throw new Error(`expected 25 matching items, listed ${listed.length}`);
  }

  // Aliases (blue/green): clients search `<name>-live`; SwitchAlias points it at another
  // collection in one step. Here the second collection is empty, so a count through the alias
  // follows the switch.
  const live = `${name}-live`;
  const green = `${name}-green`;
  await unary(collections, 'CreateCollection',
      {name: green, spec: {image: {height: 8, width: 8, channels: 1}}}, metadata);
  await unary(collections, 'CreateAlias', {name: live, collection: name}, metadata);
  const viaAlias = await unary(query, 'Search', {collection: live, item_id: 'img-0', k: 3},
      metadata);
  const blueCount = await unary(items, 'CountItems', {collection: live}, metadata);
  await unary(collections, 'SwitchAlias', {name: live, collection: green}, metadata);
  const greenCount = await unary(items, 'CountItems', {collection: live}, metadata);
  const aliases = await unary(collections, 'ListAliases', {}, metadata);
  console.log(`alias ${live}: ${viaAlias.neighbors.length} neighbours, ` +
              `${blueCount.count} items before the switch, ${greenCount.count} after; ` +
              `aliases: ${aliases.aliases.map((a) => `${a.name}->${a.collection}`).join(', ')}`);
  if (viaAlias.neighbors.length !== 3 || Number(blueCount.count) !== 100 ||
      Number(greenCount.count) !== 0) {
    throw new Error('the alias did not follow the switch');
  }

  // Backups: an online, consistent copy of the store (under the server's --backup-dir), listed
  // and deleted by name; `bottleneckd --restore DIR` serves it on another machine.
  const backup = await unary(collections, 'CreateBackup', {name: 'node-example'}, metadata);
  const listedBackups = await unary(collections, 'ListBackups', {}, metadata);
  const mine = listedBackups.backups.find((b) => b.name === backup.name);
  const stored = mine && mine.collections.find((c) => c.name === name);
  console.log(`backup ${backup.name} at ${backup.path}: ` +
              `${stored ? stored.item_count : '?'} items of ${name}, ` +
              `aliases ${backup.aliases.map((a) => `${a.name}->${a.collection}`).join(', ')}`);
  if (!stored || Number(stored.item_count) !== 100) {
    throw new Error('the backup does not hold the collection\'s 100 items');
  }
  await unary(collections, 'DeleteBackup', {name: backup.name}, metadata);
  await unary(collections, 'DeleteAlias', {name: live}, metadata);
  await unary(collections, 'DeleteCollection', {name: green}, metadata);

  try {
    await unary(query, 'Search', {collection: 'no-such-collection', item_id: 'x'}, metadata);
    throw new Error('expected NOT_FOUND');
  } catch (error) {
    if (error.code !== grpc.status.NOT_FOUND) throw error;
    console.log(`as expected: ${error.message}`);
  }
  await unary(collections, 'DeleteCollection', {name}, metadata);
  for (const c of [collections, training, models, items, query]) c.close();
  console.log('ok');
}

main().catch((error) => {
  console.error(`example.js: ${error.message}`);
  process.exit(1);
});
