// Which clock each topic's header stamps are on, from the first messages of the bag. A driver that
// stamps with its device's clock (time since boot, a camera's own counter) instead of ROS time puts
// one topic's stamps hours or decades away from the others'; merged by stamp, the streams then
// never meet (no label finds a frame, every message is "late" or a "clock jump") and a replay spends
// many times its normal time to learn nothing. Looking at a few messages per topic says so up front.

import type { BagSource } from "./types.ts";

export interface TopicClock {
  topic: string;
  /** Median of header.stamp − log time over the messages looked at (s). */
  offset: number;
  /** The first stamped message looked at: its header.stamp and log time (s). */
  stamp: number;
  logTime: number;
}

/** header.stamp in seconds (ROS 2 `nanosec` or ROS 1 `nsec`), or undefined when absent or 0. */
function headerStamp(message: unknown): number | undefined {
  const stamp = (message as { header?: { stamp?: { sec?: unknown; nanosec?: unknown; nsec?: unknown } } })
    ?.header?.stamp;
  if (!stamp || typeof stamp.sec !== "number") return undefined;
  const ns = stamp.nanosec ?? stamp.nsec;
  const t = stamp.sec + (typeof ns === "number" ? ns * 1e-9 : 0);
  // A stamp left at 0 is replaced by the log time downstream: it is on the recorder's clock.
  return t === 0 ? undefined : t;
}

/**
 * The clock offset of each topic (header.stamp − log time) from its first `perTopic` stamped
 * messages, reading at most `maxSeconds` of log time from the bag's start. Topics with fewer than
 * `minMessages` stamped messages in that span are left out: a latched message recorded at the start
 * (a CameraInfo published once) carries the stamp of when it was published, not of the recording.
 * `counts` (messages per topic in the bag) lets the reading stop once each topic has given what it can,
 * and says which topics start later than that span (a camera driver started after the recording):
 * those are read again on their own, from their first message, in one more span.
 */
export async function topicClocks(
  bag: BagSource,
  topics: readonly string[],
  {
    perTopic = 5,
    maxSeconds = 30,
    minMessages = 3,
    counts,
  }: {
    perTopic?: number;
    maxSeconds?: number;
    minMessages?: number;
    counts?: ReadonlyMap<string, number>;
  } = {},
): Promise<TopicClock[]> {
  const seen = new Map<string, Sampled>();
  // A topic the bag holds fewer messages of (a latched CameraInfo) is done at its count: waiting
  // for more would read 30 s of every other topic, camera frames included.
  const wanted = (topic: string) => Math.min(perTopic, counts?.get(topic) ?? perTopic);
  await sample(bag, topics, seen, wanted, maxSeconds);
  // Only topics the bag holds enough messages of: an absent one would be read for to the end.
  const late = topics.filter((t) => !seen.has(t) && (counts?.get(t) ?? 0) >= minMessages);
  if (late.length) await sample(bag, late, seen, wanted, maxSeconds);
  return [...seen]
    .filter(([, s]) => s.offsets.length >= minMessages)
    .map(([topic, s]) => {
      const sorted = [...s.offsets].sort((a, b) => a - b);
      return { topic, offset: sorted[Math.floor(sorted.length / 2)]!, stamp: s.stamp, logTime: s.logTime };
    });
}

type Sampled = { offsets: number[]; stamp: number; logTime: number };

/** Adds the stamped messages of `topics` to `seen`, over `maxSeconds` from the first one read. */
async function sample(
  bag: BagSource,
  topics: readonly string[],
  seen: Map<string, Sampled>,
  wanted: (topic: string) => number,
  maxSeconds: number,
): Promise<void> {
  let first: number | undefined;
  for await (const e of bag.messages({ topics })) {
    if (e.type !== "message") continue;
    first ??= e.logTime;
    if (e.logTime - first > maxSeconds) break;
    const stamp = headerStamp(e.message);
    if (stamp === undefined) continue;
    const s = seen.get(e.topic) ?? { offsets: [], stamp, logTime: e.logTime };
    if (s.offsets.length < wanted(e.topic)) s.offsets.push(stamp - e.logTime);
    seen.set(e.topic, s);
    if (topics.every((t) => (seen.get(t)?.offsets.length ?? 0) >= wanted(t))) break;
  }
}

/**
 * One sentence naming each topic whose stamps are more than `tolerance` seconds off the others', or
 * undefined when they agree. The reference is the clock most topics share (ties: the first of
 * `clocks`, the caller's most trusted topic). The tolerance is where the stream merge would call the
 * difference a clock jump.
 */
export function clockMismatch(clocks: readonly TopicClock[], tolerance: number): string | undefined {
  const agree = (a: TopicClock) => clocks.filter((c) => Math.abs(c.offset - a.offset) <= tolerance).length;
  let ref = clocks[0];
  for (const c of clocks) if (agree(c) > agree(ref!)) ref = c;
  if (!ref) return undefined;
  const off = clocks.filter((c) => Math.abs(c.offset - ref.offset) > tolerance);
  if (!off.length) return undefined;
  const at = (c: TopicClock) => `header.stamp ${c.stamp.toFixed(3)} at log time ${c.logTime.toFixed(3)}`;
  const parts = off.map((c) => {
    const d = c.offset - ref.offset;
    return `${c.topic} is stamped ${Math.abs(d).toFixed(3)} s ${d < 0 ? "behind" : "ahead of"} ${ref.topic} (${at(c)})`;
  });
  return `${parts.join("; ")}; ${ref.topic}: ${at(ref)}: the topics' stamps are on different clocks (a driver stamping with its device's time instead of ROS time), so no message of one can be matched with the others'; have the driver stamp with ROS time, or rewrite the stamps of the bag`;
}
