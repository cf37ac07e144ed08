#!/usr/bin/env node
// The Node ws side of the interop tests (run_pair.py drives it). ws comes from
// node_modules beside this file: `npm ci --prefix tests/interop`.
//
//   node peer.js check
//       Prints the ws version; exits 77 if ws is not installed.
//   node peer.js server [--tls-cert F --tls-key F] [--compress off|default|params|params2] [EXPECT...]
//       Listens on 127.0.0.1 (ephemeral port), prints "PORT <n>", runs the scenario named by
//       each request's path and prints "RESULT <scenario> ok|FAIL <why>"; exits when stdin
//       reaches EOF.
//   node peer.js client --url URL --scenario NAME [--ca-file F] [--compress ...] [EXPECT...]
//       Runs one scenario against URL/NAME; exits 0, or 1 with the reason on stderr.
//   EXPECT: --expect-deflate yes|no, --expect-param TEXT (repeatable): checked against the
//       negotiated permessage-deflate parameters.
//
// Scenarios and payloads mirror interop_peer.cpp and peer.py (see README.md here).
'use strict';

const fs = require('fs');
const http = require('http');
const https = require('https');

let WebSocket, WebSocketServer, wsVersion;
try {
  ({ WebSocket, WebSocketServer } = require('ws'));
  wsVersion = require('ws/package.json').version;
} catch (err) {
  console.error(`SKIP: Node's ws module is not installed (${err.code || err.message}); ` +
                'run `npm ci --prefix tests/interop`');
  process.exit(77);
}

const BIG = 16 * 1024 * 1024;
// 1 MiB above the biggest message, like the other peers (ws itself checks max payload
// after decompression).
const MAX_SIZE = BIG + 1024 * 1024;
const TIMEOUT_MS = 60000;

class Failure extends Error {}

function check(condition, what) {
  if (!condition) throw new Failure(what);
}

// ----- payloads (same definitions as interop_peer.cpp and peer.py) ----------------------

function lcg(x) {
  // Math.imul keeps the low 32 bits of the product, all that the low 31 bits depend on.
  return (Math.imul(x, 1103515245) + 12345) & 0x7fffffff;
}

const BINARY_RANDOM = Buffer.alloc(65521);
let seed = 12345;
for (let i = 0; i < BINARY_RANDOM.length; i++) {
  seed = lcg(seed);
  BINARY_RANDOM[i] = (seed >>> 16) & 0xff;
}
const BINARY_LOW = Buffer.from(BINARY_RANDOM.map((b) => b & 0x0f));

const WORDS = ['syncws', 'interop', 'héllo', 'wörld', '€', '日本語', '🙂', 'deflate', 'frame',
  'ñandú', 'Ελληνικά', 'message', 'the', 'a', 'of', 'WebSocket'].map((w) => Buffer.from(w));

const TEXT_BLOCK = (() => {
  const parts = [];
  let length = 0;
  let x = 54321;
  while (length < 65536) {
    x = lcg(x);
    const word = WORDS[(x >>> 16) % WORDS.length];
    x = lcg(x);
    const separator = Buffer.from((x >>> 16) % 10 === 0 ? '\n' : ' ');
    parts.push(word, separator);
    length += word.length + separator.length;
  }
  return Buffer.concat(parts);
})();

function repeatFrom(block, offset, n) {
  const out = Buffer.alloc(n);
  let filled = 0;
  while (filled < n) {
    filled += block.copy(out, filled, offset, Math.min(block.length, offset + n - filled));
    offset = 0;
  }
  return out;
}

const isContinuation = (byte) => (byte & 0xc0) === 0x80;

// Text message number k: at most n bytes of UTF-8, as a Buffer (a character cut at the end
// is dropped).
function textPayload(n, k) {
  let offset = (k * 7919) % TEXT_BLOCK.length;
  while (isContinuation(TEXT_BLOCK[offset])) offset = (offset + 1) % TEXT_BLOCK.length;
  let out = repeatFrom(TEXT_BLOCK, offset, n);
  let start = out.length;
  while (start > 0 && isContinuation(out[start - 1])) start--;
  if (start > 0) {
    const lead = out[start - 1];
    const length = lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
    if (start - 1 + length > out.length) out = out.subarray(0, start - 1);
  }
  return out;
}

// Binary message number k: n bytes; odd k incompressible, even k compressible.
function binaryPayload(n, k) {
  const block = k % 2 === 1 ? BINARY_RANDOM : BINARY_LOW;
  return repeatFrom(block, (k * 7919) % block.length, n);
}

// A message: its bytes and whether it is binary.
function spec(binary, size, k) {
  return {
    binary,
    k,
    data: () => (binary ? binaryPayload(size, k) : textPayload(size, k)),
    toString: () => `${binary ? 'binary' : 'text'} message #${k} (${size} bytes asked)`,
  };
}

function messageSpecs(base) {
  const sizes = [0, 1, 125, 126, 65535, 65536, 1024 * 1024];
  const specs = [];
  let k = base;
  for (const binary of [false, true]) for (const size of sizes) specs.push(spec(binary, size, k++));
  return specs;
}

const bigSpecs = (base) => [spec(false, BIG, base), spec(true, BIG, base + 1)];

function burstSpecs(base) {
  const specs = [];
  for (let i = 0; i < 200; i++) specs.push(spec(i % 2 === 1, (i * 37) % 3000, base + i));
  return specs;
}

function fragmentPlans(base) {
  return [
    { binary: false,
      pieces: [textPayload(10, base), Buffer.alloc(0), textPayload(3000, base + 1),
        textPayload(70000, base + 2), textPayload(5, base + 3)] },
    { binary: true,
      pieces: [binaryPayload(1000, base + 4), Buffer.alloc(0), binaryPayload(65536, base + 5),
        binaryPayload(300000, base + 6)] },
  ];
}

// ----- a promise-based connection ---------------------------------------------------------

const kind = (binary) => (binary ? 'binary' : 'text');

function withTimeout(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Failure(`timed out waiting for ${what}`)), TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Queues what arrives so that scenarios read as straight-line code.
class Peer {
  constructor(ws) {
    this.ws = ws;
    this.messages = [];
    this.pongs = [];
    this.closed = null;
    this.error = null;
    this.wake = () => {};
    ws.on('message', (data, isBinary) => { this.messages.push({ data, binary: isBinary }); this.wake(); });
    ws.on('pong', (data) => { this.pongs.push(Buffer.from(data)); this.wake(); });
    ws.on('error', (err) => { this.error = err; this.wake(); });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
  }

  // Resolves when `ready()` returns something other than undefined.
  until(ready, what) {
    return withTimeout(new Promise((resolve, reject) => {
      // Only the pending wait may consume what arrives: once settled, it stops polling.
      const poll = () => {
        let value;
        try {
          value = ready();
        } catch (err) {
          this.wake = () => {};
          reject(err);
          return;
        }
        if (value !== undefined) {
          this.wake = () => {};
          resolve(value);
        }
      };
      this.wake = poll;
      poll();
    }), what).finally(() => { this.wake = () => {}; });
  }

  recv(what) {
    return this.until(() => {
      if (this.messages.length > 0) return this.messages.shift();
      if (this.closed) {
        throw new Failure(`connection closed (${this.closed.code} "${this.closed.reason}") ` +
                          `while waiting for ${what}` + (this.error ? `: ${this.error.message}` : ''));
      }
      return undefined;
    }, what);
  }

  send(data, options) {
    return new Promise((resolve, reject) => {
      this.ws.send(data, options, (err) => (err ? reject(err) : resolve()));
    });
  }

  waitClosed(what) {
    return this.until(() => this.closed || undefined, what);
  }
}

function checkMessage(got, binary, expected, what) {
  check(got.binary === binary,
        `${what}: got a ${kind(got.binary)} message, expected ${kind(binary)}`);
  if (!got.data.equals(expected)) {
    let i = 0;
    while (i < got.data.length && i < expected.length && got.data[i] === expected[i]) i++;
    throw new Failure(`${what}: wrong payload: got ${got.data.length} bytes, expected ` +
                      `${expected.length}, first difference at byte ${i}`);
  }
}

// Waits for the peer's closing handshake and checks its code and reason.
async function expectClosed(peer, code, reason) {
  if (peer.messages.length > 0) {
    throw new Failure(`expected the peer to close, got a ${kind(peer.messages[0].binary)} message`);
  }
  const closed = await peer.waitClosed('the peer to close');
  check(peer.messages.length === 0, 'expected the peer to close, got a message first');
  check(closed.code === code,
        `peer closed with ${closed.code} "${closed.reason}", expected ${code}`);
  check(closed.reason === reason, `peer's close reason is "${closed.reason}", expected "${reason}"`);
}

// Closes with code and reason, then checks the close frame the peer answered with.
async function closeAndCheck(peer, code, reason) {
  peer.ws.close(code, reason);
  const closed = await peer.waitClosed(`the answer to our close ${code}`);
  check(closed.code === code && closed.reason === reason,
        `the peer answered our close ${code} "${reason}" with ${closed.code} "${closed.reason}"`);
}

// ----- scenarios --------------------------------------------------------------------------

async function sendPhase(peer, specs) {
  for (const s of specs) {
    const data = s.data();
    await peer.send(data, { binary: s.binary });
    checkMessage(await peer.recv(`the echo of ${s}`), s.binary, data, `echo of ${s}`);
  }
}

async function echoPhase(peer, specs) {
  for (const s of specs) {
    const message = await peer.recv(`${s}`);
    checkMessage(message, s.binary, s.data(), `${s}`);
    await peer.send(message.data, { binary: message.binary });
  }
}

// Large messages are not echoed: the receiver checks each and answers "got #k".
async function sendAcked(peer, specs) {
  for (const s of specs) {
    await peer.send(s.data(), { binary: s.binary });
    checkMessage(await peer.recv(`the acknowledgement of ${s}`), false,
                 Buffer.from(`got #${s.k}`), `acknowledgement of ${s}`);
  }
}

async function receiveAcked(peer, specs) {
  for (const s of specs) {
    checkMessage(await peer.recv(`${s}`), s.binary, s.data(), `${s}`);
    await peer.send(`got #${s.k}`, { binary: false });
  }
}

async function burstSend(peer, specs) {
  await Promise.all(specs.map((s) => peer.send(s.data(), { binary: s.binary })));
  for (const s of specs) {
    checkMessage(await peer.recv(`the echo of ${s}`), s.binary, s.data(), `echo of ${s}`);
  }
}

async function burstEcho(peer, specs) {
  const received = [];
  for (const s of specs) {
    received.push(await peer.recv(`${s}`));
    checkMessage(received[received.length - 1], s.binary, s.data(), `${s}`);
  }
  await Promise.all(received.map((m) => peer.send(m.data, { binary: m.binary })));
}

async function sendFragmented(peer, plans) {
  // ws sends one frame per send() with fin: false, and the message ends with fin: true.
  for (const plan of plans) {
    const last = plan.pieces.length - 1;
    for (const [i, piece] of plan.pieces.entries()) {
      await peer.send(piece, { binary: plan.binary, fin: i === last });
    }
    checkMessage(await peer.recv('the echo of a fragmented message'), plan.binary,
                 Buffer.concat(plan.pieces), `echo of a fragmented ${kind(plan.binary)} message`);
  }
}

async function receiveFragmented(peer, plans) {
  // ws only hands over whole messages: check the reassembly.
  for (const plan of plans) {
    const what = `fragmented ${kind(plan.binary)} message`;
    const message = await peer.recv(what);
    checkMessage(message, plan.binary, Buffer.concat(plan.pieces), what);
    await peer.send(message.data, { binary: message.binary });
  }
}

async function twoPhases(peer, role, clientPhase, serverPhase, send, echo) {
  if (role === 'client') {
    await send(peer, clientPhase);
    await echo(peer, serverPhase);
    await closeAndCheck(peer, 1000, '');
  } else {
    await echo(peer, clientPhase);
    await send(peer, serverPhase);
    await expectClosed(peer, 1000, '');
  }
}

async function scenarioPing(peer, role) {
  const me = role;
  const other = role === 'client' ? 'server' : 'client';
  const pingThenAnnounce = async () => {
    const payload = Buffer.from(`${me}-ping`);
    const seen = peer.pongs.length;
    peer.ws.ping(payload);
    const pong = await peer.until(() => peer.pongs[seen], `the pong for our ping ${me}-ping`);
    check(pong.equals(payload), `pong payload "${pong}", expected "${payload}"`);
    peer.ws.pong(Buffer.from(`${me}-unsolicited`));
    await peer.send(`${me} pinged`, { binary: false });
  };
  const expectAnnounce = async () => {
    checkMessage(await peer.recv(`"${other} pinged"`), false, Buffer.from(`${other} pinged`),
                 `message after the ${other}'s ping`);
    // Frames arrive in order: the unsolicited pong came before this message.
    const unsolicited = Buffer.from(`${other}-unsolicited`);
    check(peer.pongs.some((p) => p.equals(unsolicited)),
          `no unsolicited pong "${unsolicited}" before the message`);
  };
  if (role === 'client') {
    await pingThenAnnounce();
    await expectAnnounce();
    await closeAndCheck(peer, 1000, '');
  } else {
    await expectAnnounce();
    await pingThenAnnounce();
    await expectClosed(peer, 1000, '');
  }
}

async function scenarioClose(peer, role, closer) {
  if (role === 'client') {
    await peer.send('hello', { binary: false });
    checkMessage(await peer.recv('the echo of "hello"'), false, Buffer.from('hello'), 'echo');
  } else {
    const message = await peer.recv('"hello"');
    checkMessage(message, false, Buffer.from('hello'), 'first message');
    await peer.send(message.data, { binary: false });
  }
  if (role === closer) await closeAndCheck(peer, 4000, 'bye');
  else await expectClosed(peer, 4000, 'bye');
}

async function runScenario(peer, role, name) {
  switch (name) {
    case 'messages':
      return twoPhases(peer, role, messageSpecs(0), messageSpecs(100), sendPhase, echoPhase);
    case 'big':
      return twoPhases(peer, role, bigSpecs(200), bigSpecs(300), sendAcked, receiveAcked);
    case 'burst':
      return twoPhases(peer, role, burstSpecs(1000), burstSpecs(2000), burstSend, burstEcho);
    case 'fragments':
      return twoPhases(peer, role, fragmentPlans(400), fragmentPlans(500), sendFragmented,
                       receiveFragmented);
    case 'ping':
      return scenarioPing(peer, role);
    case 'close_by_client':
      return scenarioClose(peer, role, 'client');
    case 'close_by_server':
      return scenarioClose(peer, role, 'server');
    default:
      throw new Failure(`unknown scenario "${name}"`);
  }
}

// ----- command line -----------------------------------------------------------------------

function parseArgs(argv) {
  const args = { mode: argv[0], compress: 'default', expectParam: [] };
  const names = { '--url': 'url', '--scenario': 'scenario', '--ca-file': 'caFile',
    '--tls-cert': 'tlsCert', '--tls-key': 'tlsKey', '--compress': 'compress',
    '--expect-deflate': 'expectDeflate', '--expect-param': 'expectParam' };
  for (let i = 1; i < argv.length; i++) {
    const name = names[argv[i]];
    if (!name || i + 1 >= argv.length) {
      console.error(`peer.js: bad argument ${argv[i]}`);
      process.exit(2);
    }
    if (name === 'expectParam') args.expectParam.push(argv[++i]);
    else args[name] = argv[++i];
  }
  if (!['check', 'server', 'client'].includes(args.mode) ||
      !['off', 'default', 'params', 'params2'].includes(args.compress)) {
    console.error('usage: node peer.js check|server|client [options] (see the header comment)');
    process.exit(2);
  }
  return args;
}

// perMessageDeflate option of WebSocket / WebSocketServer for --compress.
function perMessageDeflate(args) {
  if (args.compress === 'off') return false;
  if (args.compress === 'default') return true;
  if (args.compress === 'params') {
    return { serverMaxWindowBits: 10, clientNoContextTakeover: true, threshold: 0 };
  }
  return { serverNoContextTakeover: true, clientMaxWindowBits: 9, threshold: 0 };
}

// What ws negotiated, in Sec-WebSocket-Extensions syntax. `ws.extensions` only lists names;
// the parameters live in ws's (undocumented) extension object.
function negotiatedExtensions(ws) {
  const deflate = ws._extensions && ws._extensions['permessage-deflate'];
  if (!deflate) return ws.extensions;
  const params = Object.entries(deflate.params || {})
    .map(([key, value]) => (value === true ? key : `${key}=${value}`));
  return ['permessage-deflate', ...params].join('; ');
}

function checkExtensions(ws, args) {
  const negotiated = negotiatedExtensions(ws);
  const deflate = negotiated.includes('permessage-deflate');
  if (args.expectDeflate !== undefined) {
    check(deflate === (args.expectDeflate === 'yes'),
          `permessage-deflate ${deflate ? 'was' : 'was not'} negotiated (extensions: "${negotiated}")`);
  }
  for (const param of args.expectParam) {
    check(negotiated.includes(param), `negotiated extensions "${negotiated}" lack ${param}`);
  }
}

function runServer(args) {
  const server = args.tlsCert
    ? https.createServer({ cert: fs.readFileSync(args.tlsCert), key: fs.readFileSync(args.tlsKey) })
    : http.createServer();
  const wss = new WebSocketServer({ server, maxPayload: MAX_SIZE,
                                    perMessageDeflate: perMessageDeflate(args) });
  wss.on('connection', async (ws, request) => {
    const scenario = request.url.slice(1);
    const peer = new Peer(ws);
    let result = 'ok';
    try {
      checkExtensions(ws, args);
      await runScenario(peer, 'server', scenario);
    } catch (err) {
      result = `FAIL ${err.message}`.replace(/\n/g, ' ');
      ws.terminate();
    }
    process.stdout.write(`RESULT ${scenario || '?'} ${result}\n`);
  });
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`PORT ${server.address().port}\n`);
  });
  // The runner stops us by closing our stdin.
  process.stdin.on('end', () => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    server.close(() => process.exit(0));
  });
  process.stdin.resume();
}

async function runClient(args) {
  const options = { maxPayload: MAX_SIZE, perMessageDeflate: perMessageDeflate(args),
                    handshakeTimeout: TIMEOUT_MS };
  if (args.caFile) options.ca = fs.readFileSync(args.caFile);
  const ws = new WebSocket(`${args.url}/${args.scenario}`, options);
  const peer = new Peer(ws);
  try {
    await withTimeout(new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    }), 'the opening handshake');
    checkExtensions(ws, args);
    await runScenario(peer, 'client', args.scenario);
    return 0;
  } catch (err) {
    console.error(`peer.js client: scenario ${args.scenario} FAILED: ${err.message}`);
    ws.terminate();
    return 1;
  }
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.mode === 'check') {
    console.log(`ws ${wsVersion}`);
  } else if (args.mode === 'server') {
    runServer(args);
  } else {
    if (!args.url || !args.scenario) {
      console.error('peer.js: client needs --url and --scenario');
      process.exit(2);
    }
    runClient(args).then((code) => process.exit(code));
  }
}

main();
