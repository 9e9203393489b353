// Writes ROS 1 bag files (format 2.0, as documented on wiki.ros.org/Bags/Format/2.0) for tests:
// there is no ROS 1 bag in the shared data, and ROS 1 cannot be installed here. Messages are
// serialised with @foxglove/rosmsg-serialization's MessageWriter from the ROS 1 definitions in
// @foxglove/rosmsg-msgs-common; only the container records are written here.
//
// Layout: version line, bag header record padded to 4096 bytes, then per chunk a chunk record
// (connection + message data records, optionally bz2/lz4-compressed) followed by its index data
// records, then at index_pos the connection records and one chunk info record per chunk.

import type { MessageDefinition } from "@foxglove/message-definition";
import { md5, stringify } from "@foxglove/rosmsg";
import { ros1 } from "@foxglove/rosmsg-msgs-common";
import { MessageWriter } from "@foxglove/rosmsg-serialization";
import compressjs from "compressjs";
import lz4js from "lz4js";

export interface Ros1Time {
  sec: number;
  nsec: number;
}

export interface Ros1BagMessage {
  topic: string;
  /** ROS 1 type name, e.g. "sensor_msgs/Imu". */
  type: string;
  time: Ros1Time;
  message: unknown;
}

/** Message `i` of a still IMU on /imu/data (its seq and yaw rate are i), as the bag tests write it. */
export function ros1Imu(i: number, time: Ros1Time): Ros1BagMessage {
  return {
    topic: "/imu/data",
    type: "sensor_msgs/Imu",
    time,
    message: {
      header: { seq: i, stamp: time, frame_id: "imu_link" },
      orientation: { x: 0, y: 0, z: 0, w: 1 },
      orientation_covariance: new Array(9).fill(0),
      angular_velocity: { x: 0, y: 0, z: i },
      angular_velocity_covariance: new Array(9).fill(0),
      linear_acceleration: { x: 0, y: 0, z: 9.81 },
      linear_acceleration_covariance: new Array(9).fill(0),
    },
  };
}

export interface Ros1BagOptions {
  compression?: "none" | "bz2" | "lz4";
  /** Messages per chunk. */
  chunkMessages?: number;
  /**
   * false writes what a recorder that lost power leaves behind: the header still says index_pos 0
   * and there are no connection/chunk-info records at the end.
   */
  writeIndex?: boolean;
}

const table: Record<string, MessageDefinition> = {
  ...(ros1 as Record<string, MessageDefinition>),
  // ROS 1's older tf package: the same fields (and md5sum) as tf2_msgs/TFMessage.
  "tf/tfMessage": (ros1 as Record<string, MessageDefinition>)["tf2_msgs/TFMessage"]!,
};

/** The type's definition and everything it uses, as rosbag stores them in connection records. */
export function ros1Definitions(type: string): MessageDefinition[] {
  const root = table[type];
  if (!root) throw new Error(`no ROS 1 definition for ${type}`);
  const out: MessageDefinition[] = [{ ...root, name: type }];
  const seen = new Set([type]);
  for (let i = 0; i < out.length; i++) {
    for (const f of (out[i] as MessageDefinition).definitions) {
      if (!f.isComplex || seen.has(f.type)) continue;
      const dep = table[f.type];
      if (!dep) throw new Error(`no ROS 1 definition for ${f.type}`);
      seen.add(f.type);
      out.push({ ...dep, name: f.type });
    }
  }
  return out;
}

const enc = new TextEncoder();

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}

function u64(v: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
  return b;
}

function time(t: Ros1Time): Uint8Array {
  return concat([u32(t.sec), u32(t.nsec)]);
}

/** `<len><name>=<value>` header fields. */
function fields(entries: Record<string, Uint8Array | string>): Uint8Array {
  return concat(
    Object.entries(entries).flatMap(([name, value]) => {
      const v = typeof value === "string" ? enc.encode(value) : value;
      const field = concat([enc.encode(`${name}=`), v]);
      return [u32(field.byteLength), field];
    }),
  );
}

function record(header: Record<string, Uint8Array | string>, data: Uint8Array): Uint8Array {
  const h = fields(header);
  return concat([u32(h.byteLength), h, u32(data.byteLength), data]);
}

const op = (n: number) => Uint8Array.of(n);

function compare(a: Ros1Time, b: Ros1Time): number {
  return a.sec - b.sec || a.nsec - b.nsec;
}

interface Conn {
  id: number;
  topic: string;
  type: string;
  writer: MessageWriter;
  record: Uint8Array;
}

export function writeRos1Bag(messages: readonly Ros1BagMessage[], options: Ros1BagOptions = {}): Uint8Array {
  const compression = options.compression ?? "none";
  const perChunk = options.chunkMessages ?? 50;
  const conns = new Map<string, Conn>();
  const connFor = (m: Ros1BagMessage): Conn => {
    let c = conns.get(m.topic);
    if (!c) {
      const defs = ros1Definitions(m.type);
      const connHeader = fields({
        topic: m.topic,
        type: m.type,
        md5sum: md5(defs),
        message_definition: stringify(defs),
        callerid: "/terrain_learner_test",
      });
      const id = conns.size;
      c = {
        id,
        topic: m.topic,
        type: m.type,
        writer: new MessageWriter(defs),
        record: record({ op: op(0x07), conn: u32(id), topic: m.topic }, connHeader),
      };
      conns.set(m.topic, c);
    }
    return c;
  };

  const parts: Uint8Array[] = [enc.encode("#ROSBAG V2.0\n")];
  let offset = parts[0]!.byteLength;
  parts.push(new Uint8Array(0)); // bag header, filled in at the end
  offset += 4096;

  const chunkInfos: Uint8Array[] = [];
  for (let i = 0; i < messages.length; i += perChunk) {
    const batch = messages.slice(i, i + perChunk);
    const inner: Uint8Array[] = [];
    let innerLen = 0;
    const index = new Map<number, { time: Ros1Time; offset: number }[]>();
    const seenInChunk = new Set<number>();
    let start = batch[0]!.time;
    let end = batch[0]!.time;
    for (const m of batch) {
      const c = connFor(m);
      if (!seenInChunk.has(c.id)) {
        seenInChunk.add(c.id);
        inner.push(c.record);
        innerLen += c.record.byteLength;
      }
      const data = c.writer.writeMessage(m.message);
      const rec = record({ op: op(0x02), conn: u32(c.id), time: time(m.time) }, data);
      const list = index.get(c.id) ?? [];
      list.push({ time: m.time, offset: innerLen });
      index.set(c.id, list);
      inner.push(rec);
      innerLen += rec.byteLength;
      if (compare(m.time, start) < 0) start = m.time;
      if (compare(m.time, end) > 0) end = m.time;
    }
    const raw = concat(inner);
    let stored = raw;
    if (compression === "bz2") stored = Uint8Array.from(compressjs.Bzip2.compressFile(raw));
    else if (compression === "lz4") stored = lz4js.compress(raw);
    const chunk = record({ op: op(0x05), compression, size: u32(raw.byteLength) }, stored);
    const chunkPos = offset;
    parts.push(chunk);
    offset += chunk.byteLength;
    const counts: Uint8Array[] = [];
    for (const [conn, entries] of index) {
      const data = concat(entries.flatMap((e) => [time(e.time), u32(e.offset)]));
      const rec = record({ op: op(0x04), ver: u32(1), conn: u32(conn), count: u32(entries.length) }, data);
      parts.push(rec);
      offset += rec.byteLength;
      counts.push(u32(conn), u32(entries.length));
    }
    chunkInfos.push(
      record(
        {
          op: op(0x06),
          ver: u32(1),
          chunk_pos: u64(chunkPos),
          start_time: time(start),
          end_time: time(end),
          count: u32(index.size),
        },
        concat(counts),
      ),
    );
  }

  const writeIndex = options.writeIndex ?? true;
  const indexPos = writeIndex ? offset : 0;
  if (writeIndex) {
    for (const c of conns.values()) parts.push(c.record);
    parts.push(...chunkInfos);
  }
  const headerFields = fields({
    op: op(0x03),
    index_pos: u64(indexPos),
    conn_count: u32(writeIndex ? conns.size : 0),
    chunk_count: u32(writeIndex ? chunkInfos.length : 0),
  });
  // The bag header record is padded with spaces to 4096 bytes so it can be rewritten in place.
  const pad = 4096 - 8 - headerFields.byteLength;
  parts[1] = concat([u32(headerFields.byteLength), headerFields, u32(pad), new Uint8Array(pad).fill(0x20)]);
  return concat(parts);
}
