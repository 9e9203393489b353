// Built-in terrain types: an appearance (palette + pattern layers) and a true roughness 0..1.
//
// The set is chosen so that colour alone does not give roughness away: smooth concrete and rough
// gravel share a light grey, smooth asphalt and very rough rubble a dark grey, and dirt, mud and
// cobbles are all browns; they differ in texture frequency and contrast, which is what a learner
// has to pick up. Roughness values are relative (0 = polished floor, 1 = rock field).

import type { Appearance } from "./texture.ts";

export interface TerrainType {
  name: string;
  roughness: number;
  appearance: Appearance;
  /** One line for the report and --help. */
  description: string;
}

export const BUILTIN_TERRAINS: readonly TerrainType[] = [
  {
    name: "concrete",
    roughness: 0.05,
    description: "smooth light-grey slabs with thin joints",
    appearance: {
      texel: 0.005,
      palette: [
        [118, 116, 110],
        [148, 146, 140],
        [172, 170, 164],
      ],
      layers: [
        { kind: "fbm", scale: 0.5, weight: 0.35, octaves: 3 },
        { kind: "fbm", scale: 0.012, weight: 0.08, octaves: 2 },
        { kind: "stripes", scale: 2.56, weight: -0.6, sharpness: 2000 },
        { kind: "stripes", scale: 2.56, weight: -0.6, sharpness: 2000, angle: 90 },
      ],
    },
  },
  {
    name: "gravel",
    roughness: 0.7,
    description: "light-grey loose stones, 2–4 cm, high contrast",
    appearance: {
      texel: 0.004,
      palette: [
        [88, 85, 80],
        [140, 137, 130],
        [196, 193, 186],
      ],
      layers: [
        { kind: "cells", scale: 0.03, weight: 0.95, jitter: 0.9, mortar: 0.1 },
        { kind: "speckle", scale: 0.006, weight: 0.5, density: 0.3 },
      ],
    },
  },
  {
    name: "asphalt",
    roughness: 0.12,
    description: "dark grey, fine-grained with light aggregate specks",
    appearance: {
      texel: 0.003,
      palette: [
        [48, 48, 52],
        [76, 76, 80],
        [110, 110, 114],
      ],
      layers: [
        { kind: "fbm", scale: 0.008, weight: 0.35, octaves: 2 },
        { kind: "speckle", scale: 0.004, weight: 0.7, density: 0.07 },
        { kind: "fbm", scale: 0.6, weight: 0.15, octaves: 2 },
      ],
    },
  },
  {
    name: "rubble",
    roughness: 0.92,
    description: "dark-grey broken rock, 10–15 cm, deep shadows",
    appearance: {
      texel: 0.006,
      palette: [
        [30, 29, 28],
        [74, 72, 70],
        [120, 117, 112],
      ],
      layers: [
        { kind: "cells", scale: 0.13, weight: 1.0, jitter: 1.0, mortar: 0.12 },
        { kind: "fbm", scale: 0.025, weight: 0.35, octaves: 3 },
      ],
    },
  },
  {
    name: "grass",
    roughness: 0.35,
    description: "short grass, blade texture, green",
    appearance: {
      texel: 0.003,
      bias: 0.62,
      palette: [
        [30, 55, 18],
        [68, 106, 42],
        [118, 148, 66],
      ],
      layers: [
        { kind: "strokes", scale: 0.02, weight: 0.8, aspect: 6 },
        { kind: "fbm", scale: 0.4, weight: 0.3, octaves: 2 },
      ],
    },
  },
  {
    name: "sand",
    roughness: 0.28,
    description: "beige sand with wind ripples",
    appearance: {
      texel: 0.004,
      palette: [
        [170, 150, 110],
        [200, 180, 140],
        [222, 205, 168],
      ],
      layers: [
        { kind: "ripples", scale: 0.09, weight: 0.3, angle: 30, aspect: 5 },
        { kind: "speckle", scale: 0.004, weight: 0.25, density: 0.5 },
        { kind: "fbm", scale: 0.7, weight: 0.2, octaves: 2 },
      ],
    },
  },
  {
    name: "cobbles",
    roughness: 0.6,
    description: "brown-grey rounded setts with dark gaps",
    appearance: {
      texel: 0.005,
      palette: [
        [60, 52, 46],
        [124, 112, 100],
        [160, 148, 132],
      ],
      layers: [
        { kind: "cells", scale: 0.12, weight: 0.9, jitter: 0.35, mortar: 0.14 },
        { kind: "fbm", scale: 0.02, weight: 0.2, octaves: 2 },
      ],
    },
  },
  {
    name: "mud",
    roughness: 0.45,
    description: "dark brown, blotchy wet patches",
    appearance: {
      texel: 0.005,
      palette: [
        [52, 40, 28],
        [90, 70, 50],
        [124, 100, 74],
      ],
      layers: [
        { kind: "fbm", scale: 0.15, weight: 0.7, octaves: 5 },
        { kind: "speckle", scale: 0.01, weight: 0.3, density: 0.15 },
      ],
    },
  },
  {
    name: "dirt",
    roughness: 0.25,
    description: "compacted brown track, fine grit",
    appearance: {
      texel: 0.004,
      palette: [
        [96, 76, 56],
        [122, 98, 72],
        [148, 124, 94],
      ],
      layers: [
        { kind: "fbm", scale: 0.05, weight: 0.35, octaves: 3 },
        { kind: "speckle", scale: 0.008, weight: 0.45, density: 0.15 },
        { kind: "fbm", scale: 0.8, weight: 0.2, octaves: 2 },
      ],
    },
  },
  {
    name: "leaves",
    roughness: 0.4,
    description: "fallen leaves, orange-brown-yellow",
    appearance: {
      texel: 0.004,
      palette: [
        [80, 46, 20],
        [148, 84, 30],
        [190, 132, 42],
        [118, 100, 44],
      ],
      layers: [
        { kind: "strokes", scale: 0.04, weight: 1.1, aspect: 2.2 },
        { kind: "fbm", scale: 0.3, weight: 0.2, octaves: 2 },
      ],
    },
  },
  {
    name: "paving",
    roughness: 0.1,
    description: "red brick pavers in a grid",
    appearance: {
      texel: 0.005,
      palette: [
        [80, 50, 42],
        [150, 90, 70],
        [176, 112, 86],
      ],
      layers: [
        { kind: "stripes", scale: 0.2, weight: -0.7, sharpness: 60 },
        { kind: "stripes", scale: 0.1, weight: -0.7, sharpness: 60, angle: 90 },
        { kind: "fbm", scale: 0.1, weight: 0.25, octaves: 3 },
      ],
    },
  },
  {
    name: "snow",
    roughness: 0.2,
    description: "packed snow, bright, faint sparkle",
    appearance: {
      texel: 0.005,
      palette: [
        [196, 200, 210],
        [226, 229, 236],
        [246, 247, 250],
      ],
      layers: [
        { kind: "fbm", scale: 0.3, weight: 0.35, octaves: 4 },
        { kind: "speckle", scale: 0.005, weight: 0.4, density: 0.04 },
      ],
    },
  },
];

export function builtinTerrain(name: string): TerrainType | undefined {
  return BUILTIN_TERRAINS.find((t) => t.name === name);
}
