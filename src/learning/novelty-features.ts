// Which features the kNN novelty compares (learner.novelty_features). "invariant" maps the head's
// input onto features that do not change with the two nuisances the robot brings itself: its heading
// and the camera's exposure. Driven ground seen again from another heading or under another
// exposure must not look new, and in the simulated worlds it did: a filter bank's Gabor energies
// come in four orientations, so oriented texture (sand ripples, grass blades) seen from another
// heading moved as far from its own earlier samples as never-driven rubble was from driven cobbles,
// and mean luminance follows exposure. The bundled bank outputs only invariant channels (they
// pass unchanged here); this still serves banks built with --invariant 0 and other named backbones.
//
// From the backbone's channel names (ONNX metadata `channel_names`, written by
// models/build-backbone.ts): the Gabor energies of one scale ("gabor<angle><e|o>_s<n>") become their
// sum over orientations and phases, the x/y derivative energies ("fine_dx", "fine_dy") their sum,
// and mean luminance ("mean_L") is dropped; every other channel passes. For the "neighbourhood"
// head layout (2C + 1: channels, their 3×3 means, image row) both halves are mapped alike and the
// row passes. A backbone without names, or a layout that does not fit them, gets no projection.

import { readOnnxMetadata } from "./backbone.ts";
import { invariantChannelGroups } from "./invariant-channels.ts";

/**
 * channel_names from an ONNX model's metadata, or null when absent or unreadable. Read the way the
 * backbone reads its metadata (skipping the weights), not by decoding a possibly large model.
 */
export function backboneChannelNames(path: string): string[] | null {
  try {
    const names = readOnnxMetadata(path)
      .channel_names?.split(",")
      .map((n) => n.trim());
    return names?.length ? names : null;
  } catch {
    return null;
  }
}

/**
 * The projection (row-major headChannels×dims) onto heading- and exposure-invariant features, or
 * null when `names` does not describe the head's input (see the file comment).
 */
export function invariantProjection(
  names: readonly string[] | null,
  headChannels: number,
): { matrix: Float32Array; dims: number } | null {
  if (!names?.length) return null;
  const C = names.length;
  const blocks = headChannels === C ? [0] : headChannels === 2 * C + 1 ? [0, C] : null;
  if (!blocks) return null;
  const g = invariantChannelGroups(names).groups;
  const cols: number[][] = [];
  for (const offset of blocks) for (const group of g) cols.push(group.map((c) => c + offset));
  if (headChannels === 2 * C + 1) cols.push([2 * C]);
  const dims = cols.length;
  const matrix = new Float32Array(headChannels * dims);
  cols.forEach((group, d) => {
    const w = 1 / Math.sqrt(group.length);
    for (const c of group) matrix[c * dims + d] = w;
  });
  return { matrix, dims };
}
