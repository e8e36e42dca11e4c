// Pull every listing with npm `rets-client` (5.x) and print one JSON summary line.
//
// Runs in a throwaway node project (bench_query.py makes it). Uses the library's streaming search
// (node-expat events, one object per row); the library does not page, so this loops on
// limit/offset the way the floor does.
'use strict';
const rets = require('rets-client');

function arg(name, fallback) {
  const at = process.argv.indexOf('--' + name);
  return at >= 0 ? process.argv[at + 1] : fallback;
}

const settings = {
  loginUrl: arg('url'), username: arg('user'), password: arg('password'),
  version: 'RETS/1.7.2', userAgent: 'rets-client-bench/1.0', method: 'GET',
};
const klass = arg('class', 'RES');
const query = arg('query', '(ListPrice=0+)');
const key = arg('key', 'ListingKey');
const pageSize = Number(arg('page-size', '2500'));

function page(client, offset, seen) {
  return new Promise((resolve, reject) => {
    const stream = client.search.stream.query('Property', klass, query, {limit: pageSize, offset: offset});
    let got = 0;
    let count = null;
    stream.retsStream.on('data', (event) => {
      if (event.type === 'data') {
        got += 1;
        seen.last = event.payload[key];
        if (seen.first === null) seen.first = seen.last;
      } else if (event.type === 'count') {
        count = event.payload;
      } else if (event.type === 'done') {
        resolve({got: got, count: count, maxRows: event.payload.maxRowsExceeded});
      } else if (event.type === 'error') {
        reject(event.payload);
      }
    });
  });
}

async function pullAll(client) {
  const seen = {first: null, last: null};
  let records = 0;
  let pages = 0;
  let offset = 1;
  for (;;) {
    const r = await page(client, offset, seen);
    pages += 1;
    records += r.got;
    offset += r.got;
    const more = r.maxRows || (r.got === pageSize && (r.count === null || offset <= r.count));
    if (r.got === 0 || !more) break;
  }
  return {records: records, pages: pages, first_key: seen.first, last_key: seen.last};
}

rets.getAutoLogoutClient(settings, (client) => pullAll(client).then((summary) => {
  process.stdout.write(JSON.stringify(summary) + '\n');
})).catch((error) => {
  process.stderr.write(String((error && error.stack) || error) + '\n');
  process.exit(1);
});
