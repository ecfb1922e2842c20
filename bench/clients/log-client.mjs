// Load generator for bench/log.mjs: speaks just enough of Kafka's wire
// protocol (Produce v7, Fetch v11, ListOffsets v2) to push and pull record
// batches as fast as one process can, in its own process so its CPU time is
// never counted as the broker's.
//
//   node bench/clients/log-client.mjs produce PORT TOPIC BYTES BATCH_BYTES IN_FLIGHT
//   node bench/clients/log-client.mjs fetch PORT TOPIC CONSUMERS FETCH_BYTES [verify]
//
// Prints one JSON line: { bytes, seconds, requests } (per run, all
// connections together), or { error }.

import net from 'node:net';

const [mode, portText, topic, ...rest] = process.argv.slice(2);
const port = Number(portText);

// CRC-32C (Castagnoli), byte at a time: only the one batch a producer sends
// over and over, and the warm-up verification pass, pay for it.
const CRC_TABLE = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  return c >>> 0;
});
function crc32c(data) {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One record batch (magic 2) of about `bytes`: one record with a random-ish value. */
function buildBatch(bytes) {
  const valueBytes = Math.max(1, bytes - 61 - 16);
  const value = Buffer.alloc(valueBytes);
  for (let at = 0; at + 4 <= valueBytes; at += 4) value.writeUInt32LE((at * 2654435761) >>> 0, at);
  const varint = (n) => {
    let z = n >= 0 ? n * 2 : -n * 2 - 1;
    const out = [];
    while (z >= 0x80) {
      out.push((z % 0x80) | 0x80);
      z = Math.floor(z / 0x80);
    }
    out.push(z);
    return Buffer.from(out);
  };
  const body = Buffer.concat([Buffer.from([0]), varint(0), varint(0), varint(-1), varint(valueBytes), value, varint(0)]);
  const record = Buffer.concat([varint(body.length), body]);
  const header = Buffer.alloc(61);
  header.writeInt32BE(49 + record.length, 8);
  header.writeInt8(2, 16);
  header.writeBigInt64BE(BigInt(Date.now()), 27);
  header.writeBigInt64BE(BigInt(Date.now()), 35);
  header.writeBigInt64BE(-1n, 43);
  header.writeInt16BE(-1, 51);
  header.writeInt32BE(-1, 53);
  header.writeInt32BE(1, 57);
  const batch = Buffer.concat([header, record]);
  batch.writeUInt32BE(crc32c(batch.subarray(21)), 17);
  return batch;
}

function string(s) {
  const b = Buffer.from(s);
  const len = Buffer.alloc(2);
  len.writeInt16BE(b.length);
  return Buffer.concat([len, b]);
}
function int(n, size) {
  const b = Buffer.alloc(size);
  if (size === 1) b.writeInt8(n);
  else if (size === 2) b.writeInt16BE(n);
  else if (size === 4) b.writeInt32BE(n);
  else b.writeBigInt64BE(BigInt(n));
  return b;
}
function frame(apiKey, version, correlation, body) {
  const head = Buffer.concat([int(apiKey, 2), int(version, 2), int(correlation, 4), string('bench')]);
  return Buffer.concat([int(head.length + body.length, 4), head, body]);
}

/** A connection that matches responses to requests (in order, as Kafka answers). */
function connect() {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    const waiting = [];
    let chunks = [];
    let buffered = 0;
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      buffered += chunk.length;
      for (;;) {
        if (buffered < 4) return;
        const head = chunks[0].length >= 4 ? chunks[0] : Buffer.concat(chunks);
        const size = head.readInt32BE(0);
        if (buffered < 4 + size) return;
        const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        const body = all.subarray(8, 4 + size);
        const left = all.subarray(4 + size);
        chunks = left.length ? [left] : [];
        buffered = left.length;
        waiting.shift()(body);
      }
    });
    socket.once('error', reject);
    socket.once('connect', () => {
      let correlation = 0;
      resolve({
        request: (apiKey, version, body) => new Promise((done) => {
          waiting.push(done);
          socket.write(frame(apiKey, version, ++correlation, body));
        }),
        close: () => socket.destroy(),
      });
    });
  });
}

function produceBody(records) {
  return Buffer.concat([int(-1, 2), int(1, 2), int(30000, 4), int(1, 4), string(topic), int(1, 4), int(0, 4), int(records.length, 4), records]);
}

function fetchBody(offset, maxBytes) {
  return Buffer.concat([int(-1, 4), int(500, 4), int(1, 4), int(maxBytes, 4), int(0, 1), int(0, 4), int(-1, 4),
    int(1, 4), string(topic), int(1, 4), int(0, 4), int(-1, 4), int(offset, 8), int(-1, 8), int(maxBytes, 4), int(0, 4), string('')]);
}

async function latestOffset(conn) {
  const body = Buffer.concat([int(-1, 4), int(0, 1), int(1, 4), string(topic), int(1, 4), int(0, 4), int(-1, 8)]);
  const r = await conn.request(2, 2, body);
  // throttle(4) topics(4) name(2+n) partitions(4) index(4) error(2) timestamp(8) offset(8)
  const at = 4 + 4 + 2 + r.readInt16BE(8) + 4 + 4;
  if (r.readInt16BE(at) !== 0) throw new Error(`ListOffsets error ${r.readInt16BE(at)}`);
  return Number(r.readBigInt64BE(at + 2 + 8));
}

async function produce([bytesText, batchText, inFlightText]) {
  const total = Number(bytesText);
  const batch = buildBatch(Number(batchText));
  const body = produceBody(batch);
  const conn = await connect();
  await conn.request(3, 4, Buffer.concat([int(1, 4), string(topic), int(1, 1)])); // Metadata: create the topic
  const requests = Math.ceil(total / batch.length);
  let sent = 0;
  let done = 0;
  const started = process.hrtime.bigint();
  await new Promise((resolve, reject) => {
    const next = () => {
      if (sent >= requests) return;
      sent++;
      conn.request(0, 7, body).then((r) => {
        // topics(4) name(2+n) partitions(4) index(4) error(2)
        const error = r.readInt16BE(4 + 2 + r.readInt16BE(4) + 4 + 4);
        if (error !== 0) return reject(new Error(`Produce error ${error}`));
        if (++done === requests) resolve();
        else next();
      }, reject);
    };
    for (let i = 0; i < Number(inFlightText); i++) next();
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  conn.close();
  return { bytes: requests * batch.length, seconds, requests };
}

/** Reads the partition from 0 to its end on one connection; whole batches only, as a consumer would. */
async function consume(maxBytes, verify, end) {
  const conn = await connect();
  let offset = 0;
  let bytes = 0;
  let requests = 0;
  while (offset < end) {
    const r = await conn.request(1, 11, fetchBody(offset, maxBytes));
    requests++;
    // throttle(4) error(2) session(4) topics(4) name(2+n) partitions(4) index(4) error(2) hw(8) lso(8) lso(8) aborted(4) replica(4) size(4)
    let at = 14 + 2 + r.readInt16BE(14) + 4 + 4;
    const error = r.readInt16BE(at);
    if (error !== 0) throw new Error(`Fetch error ${error} at offset ${offset}`);
    at += 2 + 8 + 8 + 8 + 4 + 4;
    const size = r.readInt32BE(at);
    at += 4;
    const stop = at + size;
    while (at + 61 <= stop) {
      const length = 12 + r.readInt32BE(at + 8);
      if (at + length > stop) break;
      if (verify && crc32c(r.subarray(at + 21, at + length)) !== r.readUInt32BE(at + 17)) throw new Error(`CRC mismatch in the batch at offset ${offset}`);
      offset = Number(r.readBigInt64BE(at)) + r.readInt32BE(at + 23) + 1;
      bytes += length;
      at += length;
    }
  }
  conn.close();
  return { bytes, requests };
}

async function fetchAll([consumersText, maxBytesText, verify]) {
  const probe = await connect();
  const end = await latestOffset(probe);
  probe.close();
  const started = process.hrtime.bigint();
  const results = await Promise.all(Array.from({ length: Number(consumersText) }, () => consume(Number(maxBytesText), verify === 'verify', end)));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { bytes: results.reduce((n, r) => n + r.bytes, 0), seconds, requests: results.reduce((n, r) => n + r.requests, 0) };
}

try {
  const result = mode === 'produce' ? await produce(rest) : mode === 'fetch' ? await fetchAll(rest) : { error: `unknown mode ${mode}` };
  console.log(JSON.stringify(result));
} catch (error) {
  console.log(JSON.stringify({ error: error.message }));
}
