// Replay read-ahead: camera frames' features start computing (in the backbone worker) while the
// inputs before them go through the graph.

/**
 * The inputs of `source` in order, with the camera frames up to `frames` ahead of the one being
 * pushed already prefetched: their features are computed (in the backbone worker) while the inputs
 * before them are processed. Replay only; it holds at most `maxQueued` inputs, and starts no further
 * frame once the frames it holds reach `maxBytes` of image data (each also has a copy in the
 * backbone worker's shared memory): ten 640×480 rgb8 frames are 9 MB, a 4K camera gets two or three.
 *
 * Ten frames (one shared-memory slot each in the backbone worker) ride out the main thread's
 * uneven frames (a bag chunk decompressed every ~7 frames, a training block handed over, a major
 * GC) without leaving the backbone thread idle: 320×240@15 replays at 9.3× real time with 2 frames
 * ahead, 9.8× with 4, 10.5× with 8 and 10.6× with 10 or 16 on this 2-core machine.
 *
 *   for await (const event of readAhead(pipeline, source.messages())) await pipeline.push(event);
 */
export async function* readAhead<T>(
  pipeline: { prefetch(event: NoInfer<T>): number },
  source: AsyncIterable<T>,
  frames = 10,
  maxQueued = 1024,
  maxBytes = 64 * 2 ** 20,
): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  const queue: T[] = [];
  const held: number[] = [];
  let framesQueued = 0;
  let bytesQueued = 0;
  let done = false;
  try {
    for (;;) {
      while (!done && framesQueued < frames && bytesQueued < maxBytes && queue.length < maxQueued) {
        const r = await it.next();
        if (r.done) {
          done = true;
          break;
        }
        const bytes = pipeline.prefetch(r.value);
        queue.push(r.value);
        held.push(bytes);
        if (bytes > 0) {
          framesQueued++;
          bytesQueued += bytes;
        }
      }
      if (queue.length === 0) return;
      const bytes = held.shift() as number;
      if (bytes > 0) {
        framesQueued--;
        bytesQueued -= bytes;
      }
      yield queue.shift() as T;
    }
  } finally {
    if (!done) await it.return?.();
  }
}
