// A minimal browser viewer for the live view test (bundled with esbuild, run in headless Chromium):
// the protocol library's own client over the browser's WebSocket subscribes to the overlay and the
// costmap, decodes their CDR with @foxglove/rosmsg2-serialization from the advertised schemas, and
// draws them on two canvases. It stands in for Foxglove/Lichtblick, which cannot be installed here.

import { parse } from "@foxglove/rosmsg";
import { MessageReader } from "@foxglove/rosmsg2-serialization";
import { FoxgloveClient } from "@foxglove/ws-protocol";

const OVERLAY = "/terrain_learner/roughness/overlay";
const COSTMAP = "/terrain_learner/roughness/costmap";

const state = { subscribed: false, overlays: 0, costmaps: 0, lastStamp: 0, errors: [] };
window.__liveView = state;

const ws = new WebSocket(window.__liveViewUrl, [FoxgloveClient.SUPPORTED_SUBPROTOCOL]);
const client = new FoxgloveClient({ ws });
const subs = new Map();

client.on("advertise", (channels) => {
  for (const c of channels) {
    if (c.topic !== OVERLAY && c.topic !== COSTMAP) continue;
    const reader = new MessageReader(parse(c.schema, { ros2: true }));
    subs.set(client.subscribe(c.id), { topic: c.topic, reader });
  }
  state.subscribed = subs.size === 2;
});

client.on("message", ({ subscriptionId, data }) => {
  const sub = subs.get(subscriptionId);
  if (!sub) return;
  try {
    const msg = sub.reader.readMessage(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    if (sub.topic === OVERLAY) drawOverlay(msg);
    else drawCostmap(msg);
  } catch (err) {
    state.errors.push(String(err));
  }
});

function drawOverlay(msg) {
  const canvas = document.getElementById("overlay");
  canvas.width = msg.width;
  canvas.height = msg.height;
  const img = new ImageData(msg.width, msg.height);
  for (let i = 0, j = 0; i < msg.width * msg.height; i++, j += 3) {
    img.data[4 * i] = msg.data[j];
    img.data[4 * i + 1] = msg.data[j + 1];
    img.data[4 * i + 2] = msg.data[j + 2];
    img.data[4 * i + 3] = 255;
  }
  canvas.getContext("2d").putImageData(img, 0, 0);
  window.__lastOverlay = msg.data;
  state.overlays++;
  state.lastStamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9;
  document.getElementById("caption").textContent =
    `overlay ${state.overlays}, costmap ${state.costmaps}, t = ${state.lastStamp.toFixed(2)} s`;
}

function drawCostmap(msg) {
  const { width, height } = msg.info;
  const canvas = document.getElementById("costmap");
  canvas.width = width;
  canvas.height = height;
  const img = new ImageData(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // Row 0 of an OccupancyGrid is the south edge: draw it at the bottom.
      const v = msg.data[y * width + x];
      const o = 4 * ((height - 1 - y) * width + x);
      if (v < 0) {
        img.data.set([40, 40, 40, 255], o);
      } else {
        const t = v / 100;
        img.data.set([Math.round(26 + t * 139), Math.round(152 - t * 152), Math.round(80 - t * 42), 255], o);
      }
    }
  }
  canvas.getContext("2d").putImageData(img, 0, 0);
  state.costmaps++;
}
