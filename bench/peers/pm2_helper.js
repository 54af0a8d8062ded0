// The bench's client of one PM2 daemon: PM2's own API (require('pm2')), kept alive between calls.
//
//   node pm2_helper.js PM2_PACKAGE PM2_HOME ECOSYSTEM.json REPLY_FD
//
// Requests come as JSON lines on stdin ({"id", "op", ...}); each answer is one JSON line on REPLY_FD
// ({"id", "ok", "result"} or {"id", "ok": false, "error"}), since PM2's API prints on stdout.
// The helper waits until the daemon's RPC socket accepts a connection before it connects, so
// PM2's client never launches a daemon of its own. bench/peers/pm2.py drives it.
'use strict';

const fs = require('fs');
const net = require('net');
const path = require('path');
const readline = require('readline');

const [pm2Package, pm2Home, ecosystemPath, replyFd] = process.argv.slice(2);
const replies = parseInt(replyFd, 10);
const PM2 = require(pm2Package);
const ecosystem = JSON.parse(fs.readFileSync(ecosystemPath, 'utf8'));
const apps = new Map(ecosystem.apps.map((app) => [app.name, app]));
const rpcSocket = path.join(pm2Home, 'rpc.sock');
let pm2 = null;

function answer(id, error, result) {
  const reply = error
    ? { id, ok: false, error: String((error && error.message) || error) }
    : { id, ok: true, result: result === undefined ? null : result };
  fs.writeSync(replies, JSON.stringify(reply) + '\n');
}

function proc(p) {
  const env = p.pm2_env || {};
  const code = env.exit_code;
  return {
    name: p.name,
    status: env.status,
    pid: p.pid || null,
    exit_code: typeof code === 'number' ? code : null,
  };
}

function whenSocketAnswers(deadline, done) {
  const probe = net.connect(rpcSocket);
  probe.once('connect', () => {
    probe.destroy();
    done(null);
  });
  probe.once('error', () => {
    probe.destroy();
    if (Date.now() > deadline) return done(new Error(`no PM2 daemon at ${rpcSocket}`));
    setTimeout(() => whenSocketAnswers(deadline, done), 5);
  });
}

// op -> function(request, callback(err, result))
const OPS = {
  echo: (req, cb) => cb(null, req.value),
  connect: (req, cb) => {
    whenSocketAnswers(Date.now() + req.timeout * 1000, (err) => {
      if (err) return cb(err);
      pm2 = new PM2.custom({ pm2_home: pm2Home, daemon_mode: true });
      pm2.connect((err2) => cb(err2, null));
    });
  },
  // register (and so start) the named apps from the ecosystem, as `pm2 start FILE --only A,B`
  register: (req, cb) => {
    const chosen = req.names.map((name) => apps.get(name));
    pm2.start({ apps: chosen }, {}, (err) => cb(err, null));
  },
  list: (req, cb) => pm2.list((err, list) => cb(err, err ? null : list.map(proc))),
  describe: (req, cb) =>
    pm2.describe(req.name, (err, list) => cb(err, err ? null : list.map(proc))),
  start: (req, cb) => pm2.start(req.name, {}, (err) => cb(err, null)),
  stop: (req, cb) => pm2.stop(req.name, (err) => cb(err, null)),
  kill: (req, cb) => pm2.killDaemon((err) => cb(err, null)),
};

const input = readline.createInterface({ input: process.stdin });
input.on('line', (line) => {
  let req;
  try {
    req = JSON.parse(line);
  } catch (err) {
    return answer(null, err);
  }
  const op = OPS[req.op];
  if (!op) return answer(req.id, new Error(`no op ${req.op}`));
  if (req.wait === false) {
    // PM2 has no non-blocking start or stop: make the call and answer at once
    op(req, (err) => {
      if (err) process.stderr.write(`${req.op} ${req.name || ''}: ${err}\n`);
    });
    return answer(req.id, null, null);
  }
  try {
    op(req, (err, result) => answer(req.id, err, result));
  } catch (err) {
    answer(req.id, err);
  }
});
input.on('close', () => {
  if (pm2 === null) process.exit(0);
  pm2.disconnect(() => process.exit(0));
});
