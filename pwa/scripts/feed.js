// A merchant's live feed: the newest payments, then a long poll (`after=` the newest id,
// `wait=25`) that answers the moment the next one lands. A merchant with no payment yet has no id
// to wait after, so the feed looks once a second until the first arrives.

export function startFeed(api, merchantId, { onPayments, onError = () => {}, waitSeconds = 25 } = {}) {
  let stopped = false;
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const base = `/merchants/${encodeURIComponent(merchantId)}/payments`;

  (async () => {
    let after = null;
    let first = true;
    while (!stopped) {
      try {
        if (after === null) {
          const page = await api.get(`${base}?limit=100`);
          if (stopped) return;
          if (page.items.length) {
            after = page.items[0].id;
            onPayments(page.items, { initial: first });
          } else if (first) {
            onPayments([], { initial: true });
          }
          first = false;
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
        await sleep(navigator.onLine === false ? 3000 : 2000);
      }
    }
  })();

  return () => {
    stopped = true;
  };
}
