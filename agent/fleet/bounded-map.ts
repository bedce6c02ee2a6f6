// Runs one async task per item with at most `limit` in flight, keeping the results in item
// order. With every task bounded by a timeout, the whole run is bounded by
// ceil(items / limit) * timeout: this is what keeps `fleet status` on a thousand hosts from
// opening a thousand sockets at once or waiting a thousand timeouts in a row.
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  // Each worker takes the next item as soon as its previous one settles.
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index], index);
    }
  };
  const workers = Math.max(1, Math.min(Math.floor(limit), items.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return results;
}
