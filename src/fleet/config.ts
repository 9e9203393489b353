// The `fleet` config section: sharing training samples with peers over MQTT (docs/fleet.md).
// The robot id and the topic prefix are mqtt.robot_id and mqtt.topic_prefix.

import { z } from "zod";

const positive = () => z.number().positive();
const count = () => z.number().int().positive();

export const FleetSchema = z
  .strictObject({
    url: z.string().default("").meta({
      description: "broker of the fleet, e.g. mqtts://broker:8883; empty: no sharing (--fleet sets it)",
    }),
    username: z
      .string()
      .default("")
      .meta({ description: "broker user name (one per robot; the ACL keys on it)" }),
    password: z.string().default("").meta({ description: "broker password (never logged)" }),
    ca: z.string().default("").meta({ description: "mqtts: CA certificate file" }),
    cert: z.string().default("").meta({ description: "mqtts: client certificate file" }),
    key: z.string().default("").meta({ description: "mqtts: client key file" }),
    reject_unauthorized: z
      .boolean()
      .default(true)
      .meta({ description: "mqtts: verify the broker's certificate" }),
    publish_rate: positive()
      .default(40)
      .meta({ unit: "samples/s", description: "own samples published per second of sensor time" }),
    batch_period: positive()
      .default(1)
      .meta({ unit: "s", description: "sensor seconds between sample batches" }),
    snapshot_size: count()
      .default(256)
      .meta({ unit: "samples", description: "own samples in the retained snapshot a late joiner reads" }),
    snapshot_period: positive()
      .default(30)
      .meta({ unit: "s", description: "sensor seconds between snapshot updates" }),
    own_samples: count()
      .default(256)
      .meta({ unit: "samples", description: "own samples kept for the snapshot and the own-label check" }),
    pool_size: count().default(4000).meta({
      unit: "samples",
      description: "peer samples waiting for the learner (random eviction beyond)",
    }),
    feed_rate: positive().default(120).meta({
      unit: "samples/s",
      description: "most peer samples the learner takes per second of sensor time",
    }),
    max_share: z.number().min(0).max(0.95).default(0.5).meta({
      unit: "fraction",
      description: "most share of peer samples among all the learner takes (after burst)",
    }),
    burst: z
      .number()
      .int()
      .nonnegative()
      .default(1500)
      .meta({ unit: "samples", description: "peer samples taken beyond max_share (a late joiner's start)" }),
    receive_rate: positive()
      .default(1000)
      .meta({ unit: "samples/s", description: "most samples accepted per peer per wall second" }),
    max_peers: count().default(64).meta({ unit: "peers", description: "most peers tracked" }),
    peer_timeout: positive().default(600).meta({
      unit: "s",
      description:
        "a peer silent this long (wall clock) gives its place, and its pooled samples, to a new one",
    }),
    max_payload_bytes: count()
      .default(512 * 1024)
      .meta({
        unit: "bytes",
        description: "larger payloads are refused (MQTT 5: the broker does not send them)",
      }),
    radius: positive().default(0.5).meta({
      unit: "std",
      description:
        "standardised feature distance (RMS per channel) within which two samples are the same ground",
    }),
    tolerance: positive().default(0.2).meta({
      unit: "roughness",
      description: "roughness difference beyond which an own label overrides a nearby peer label",
    }),
    override_weight: z
      .number()
      .min(0)
      .max(1)
      .default(0.1)
      .meta({ unit: "fraction", description: "weight of a peer sample an own label overrides" }),
    shared_scale: z.boolean().default(true).meta({
      description:
        "the learner's roughness scale spans the fleet's labels (own and peers' calibration bounds, moved by their offsets), not only its own",
    }),
    max_z: positive().default(30).meta({
      unit: "std",
      description: "peer samples with a feature this many own standard deviations out are refused",
    }),
    backlog: count().default(120).meta({
      unit: "batches",
      description: "outgoing batches kept while the broker is down (oldest dropped)",
    }),
  })
  .prefault({});

export type FleetConfig = z.infer<typeof FleetSchema>;
