#!/usr/bin/env node
/*
 * The `modelgate` command (package.json `bin`). modelgate is TypeScript run by Node.js 24, which
 * comes with `npm install` (the `node` dependency), but `#!/usr/bin/env node` finds whatever Node
 * is first on PATH: often an older one that cannot run TypeScript. So this file is plain
 * CommonJS any Node can read: on Node 24 or later it loads src/cli.ts in this process; on an
 * older one it runs src/cli.ts with the project's Node 24, forwarding the arguments, the standard
 * streams, SIGINT/SIGTERM/SIGHUP and the exit status.
 */
'use strict';

var childProcess = require('child_process');
var fs = require('fs');
var path = require('path');

var NEEDED = 24;
// Node resolves the symlinks npm makes to this file (node_modules/.bin, a global link)
var root = path.resolve(__dirname, '..');
var cli = path.join(root, 'src', 'cli.ts');

function major(version) {
  return parseInt(String(version).replace(/^v/, ''), 10);
}

/** The Node.js binary of the `node` package this one depends on, or null. */
function projectNode() {
  try {
    var manifest = require.resolve('node/package.json', { paths: [root] });
    var bin = JSON.parse(fs.readFileSync(manifest, 'utf8')).bin;
    var file = path.resolve(path.dirname(manifest), typeof bin === 'string' ? bin : bin.node);
    return fs.existsSync(file) ? file : null;
  } catch (e) {
    return null;
  }
}

function runHere() {
  require(cli); // require() of an ES module: Node 24 loads src/cli.ts synchronously
}

function runWith(node) {
  var child = childProcess.spawn(node, [cli].concat(process.argv.slice(2)), { stdio: 'inherit' });
  var forwarded = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  forwarded.forEach(function (signal) {
    // A Ctrl-C reaches both processes; the CLI takes a repeat within a second as the same signal.
    process.on(signal, function () {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    });
  });
  child.on('error', function (e) {
    process.stderr.write('modelgate: cannot run ' + node + ' (' + e.message + ')\n');
    process.exit(1);
  });
  child.on('exit', function (code, signal) {
    if (signal) {
      // die of the same signal, so that whoever started us sees what happened
      forwarded.forEach(function (s) {
        process.removeAllListeners(s);
      });
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code === null ? 1 : code);
  });
}

if (major(process.versions.node) >= NEEDED) {
  runHere();
} else {
  var node = projectNode();
  if (!node) {
    process.stderr.write(
      'modelgate: needs Node.js ' + NEEDED + ' or later (this is ' + process.version + '); ' +
        'run `npm install` in ' + root + ' to get it (it is a dependency)\n'
    );
    process.exit(1);
  }
  runWith(node);
}
