// A merchant's live feed: the newest payments, then a long poll (`after=` the feed cursor,
// `wait=25`) that answers the moment the next one lands. The cursor is the server's: it also
// remembers which recent payments were shown, so a payment that committed late is still shown,
// once. A merchant with no payment yet gets a cursor too and waits on the long poll at once.

export function startFeed(api, merchantId, { onPayments, onError = () => {}, waitSeconds = 25 } = {}) {
  let stopped = false;
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const base = `/merchants/${encodeURIComponent(merchantId)}/payments`;

  (async () => {
    let after = null;
    while (!stopped) {
      try {
        if (after === null) {
          const page = await api.get(`${base}?limit=100`);
          if (stopped) return;
          after = page.feed_cursor ?? (page.items.length ? page.items[0].id : null);
          onPayments(page.items, { initial: true });
          if (after === null) await sleep(1000);
        } else {
          const page = await api.get(`${base}?after=${encodeURIComponent(after)}&wait=${waitSeconds}`);
          if (stopped) return;
          if (page.items.length) {
            after = page.next_cursor ?? page.items[page.items.length - 1].id;
            onPayments(page.items, { initial: false });
          }
        }
      } catch (error) {
        if (stopped) return;
        onError(error);
        // Too many polls already wait (another tab, a busy gateway): back off as long as it asks.
        const backOffSeconds = error?.status === 429 ? Number(error.problem?.retry_after_seconds) : 0;
        await sleep(backOffSeconds > 0 ? backOffSeconds * 1000 : navigator.onLine === false ? 3000 : 2000);
      }
    }
  })();

  return () => {
    stopped = true;
  };
}
