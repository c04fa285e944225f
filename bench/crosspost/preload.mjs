// Loaded with `node --import ./preload.mjs` by bench/post.py.
//
// crosspost always builds https://HOST/... URLs, but the local test peers (the Bluesky PDS and
// mastodon-mock) speak plain http on loopback. This wraps globalThis.fetch so that a request to one
// of the hosts named in BLUESKY_HOST / MASTODON_HOST, when that host is a loopback address, goes
// over http instead. Every other request is left alone.

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\])(:\d+)?$/;
const hosts = new Set(
  [process.env.BLUESKY_HOST, process.env.MASTODON_HOST].filter((host) => host && LOOPBACK.test(host)),
);

const realFetch = globalThis.fetch;

function plain(url) {
  const parsed = new URL(url);
  if (parsed.protocol !== "https:" || !hosts.has(parsed.host)) {
    return null;
  }
  parsed.protocol = "http:";
  return parsed.href;
}

globalThis.fetch = function fetchOverPlainHttp(input, init) {
  if (input instanceof Request) {
    const rewritten = plain(input.url);
    return realFetch(rewritten ? new Request(rewritten, input) : input, init);
  }
  const rewritten = plain(input instanceof URL ? input.href : String(input));
  return realFetch(rewritten ?? input, init);
};
