// Plots a person can look at: SVG built as text, rendered to PNG with @resvg/resvg-js (no browser,
// no native canvas). Camera frames are embedded as PNG data URIs.

import { Resvg } from "@resvg/resvg-js";
import sharp from "sharp";
import type { ImageFrame } from "../core/types.ts";
import { roughnessCss } from "../outputs/colormap.ts";

export function svgToPng(svg: string): Buffer {
  const r = new Resvg(svg, {
    font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" },
    background: "white",
  });
  return r.render().asPng();
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export interface Series {
  name: string;
  color: string;
  points: { x: number; y: number }[];
  dashed?: boolean;
}

interface PanelOptions {
  x: number;
  y: number;
  w: number;
  h: number;
  title: string;
  yLabel: string;
  xLabel: string;
  yMin: number;
  yMax: number;
  xMax: number;
  series: Series[];
  /** Horizontal reference lines (e.g. a goal). */
  refs?: { y: number; label: string }[];
  /** Legend under the x-axis label instead of over the plot (long names, many lines). */
  legendBelow?: boolean;
}

function panel(o: PanelOptions): string {
  const parts: string[] = [];
  const px = (x: number) => o.x + (x / (o.xMax || 1)) * o.w;
  const py = (y: number) => o.y + o.h - ((y - o.yMin) / (o.yMax - o.yMin)) * o.h;
  parts.push(`<rect x="${o.x}" y="${o.y}" width="${o.w}" height="${o.h}" fill="#fafafa" stroke="#999"/>`);
  parts.push(
    `<text x="${o.x + o.w / 2}" y="${o.y - 10}" font-size="15" text-anchor="middle" font-weight="bold">${esc(o.title)}</text>`,
  );
  // Grid lines at round values (multiples of a 1-2-5 step), whatever the axis range.
  const yStep = niceStep((o.yMax - o.yMin) / 5);
  for (let v = Math.ceil(o.yMin / yStep - 1e-9) * yStep; v <= o.yMax + 1e-9; v += yStep) {
    parts.push(`<line x1="${o.x}" x2="${o.x + o.w}" y1="${py(v)}" y2="${py(v)}" stroke="#e3e3e3"/>`);
    parts.push(
      `<text x="${o.x - 6}" y="${py(v) + 4}" font-size="11" text-anchor="end">${(Math.abs(v) < 1e-9 ? 0 : v).toFixed(2)}</text>`,
    );
  }
  const xStep = niceStep(o.xMax / 6);
  const xTicks: number[] = [];
  for (let v = 0; v <= o.xMax + 1e-9; v += xStep) xTicks.push(v);
  // The axis's end is labelled too (a run is rarely a whole number of steps long); a round tick
  // too close to it for both labels to fit gives way.
  if (Math.round(xTicks.at(-1)!) !== Math.round(o.xMax)) {
    if (px(o.xMax) - px(xTicks.at(-1)!) < 40) xTicks.pop();
    xTicks.push(o.xMax);
  }
  for (const v of xTicks) {
    parts.push(
      `<text x="${px(v)}" y="${o.y + o.h + 15}" font-size="11" text-anchor="middle">${Math.round(v)}</text>`,
    );
  }
  parts.push(
    `<text x="${o.x + o.w / 2}" y="${o.y + o.h + 32}" font-size="12" text-anchor="middle">${esc(o.xLabel)}</text>`,
  );
  parts.push(
    `<text x="${o.x - 42}" y="${o.y + o.h / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 ${o.x - 42} ${o.y + o.h / 2})">${esc(o.yLabel)}</text>`,
  );
  for (const r of o.refs ?? []) {
    parts.push(
      `<line x1="${o.x}" x2="${o.x + o.w}" y1="${py(r.y)}" y2="${py(r.y)}" stroke="#555" stroke-dasharray="2 3"/>`,
    );
    parts.push(`<text x="${o.x + 4}" y="${py(r.y) - 4}" font-size="11" fill="#555">${esc(r.label)}</text>`);
  }
  let ly = o.legendBelow ? o.y + o.h + 54 : o.y + 16;
  for (const s of o.series) {
    const pts = s.points.filter((p) => Number.isFinite(p.y));
    if (pts.length) {
      const d = pts
        .map(
          (p, i) =>
            `${i ? "L" : "M"}${px(p.x).toFixed(1)},${py(Math.max(o.yMin, Math.min(o.yMax, p.y))).toFixed(1)}`,
        )
        .join("");
      parts.push(
        `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ""}/>`,
      );
      for (const p of pts) {
        parts.push(
          `<circle cx="${px(p.x).toFixed(1)}" cy="${py(Math.max(o.yMin, Math.min(o.yMax, p.y))).toFixed(1)}" r="2.5" fill="${s.color}"/>`,
        );
      }
    }
    parts.push(
      `<line x1="${o.x + 10}" x2="${o.x + 34}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ""}/>`,
    );
    // A line with no value at all (a short run) is still named, so that its absence is explained.
    const name = pts.length ? s.name : `${s.name} (no value in this run)`;
    parts.push(`<text x="${o.x + 40}" y="${ly}" font-size="12">${esc(name)}</text>`);
    ly += 16;
  }
  return parts.join("\n");
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-9)));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

export interface CurvePoint {
  t: number;
  spearman: number;
  mae: number;
  baselineSpearman: number;
  baselineMae: number;
  trailingSpearman?: number;
  trailingBaselineSpearman?: number;
}

/** A knowledge-probe curve point (probe-set.ts), as the plot needs it. */
export interface KnowledgeCurvePoint {
  t: number;
  terrainRho: number | null;
  terrainRhoAll: number | null;
}

/** Lowest value the ρ axis shows: −0.2, or lower (in steps of 0.1) so every plotted value fits. */
export function rhoAxisMin(values: readonly (number | null | undefined)[]): number {
  let min = -0.2;
  for (const v of values) if (v !== null && v !== undefined && Number.isFinite(v) && v < min) min = v;
  return Math.max(-1, Math.floor(min * 10 + 1e-9) / 10);
}

/**
 * Learning curve: what the model knows (knowledge probe: terrain ρ of per-type mean predictions, when
 * given), the prequential Spearman ρ (trailing minute and per 10 s window) next to the running-mean
 * baseline, and the MAE.
 */
export function learningCurveSvg(
  curve: readonly CurvePoint[],
  title: string,
  goal?: number,
  knowledge?: readonly KnowledgeCurvePoint[],
): string {
  const W = 900;
  const H = 840;
  const xMax = Math.max(10, ...curve.map((c) => c.t), ...(knowledge ?? []).map((c) => c.t));
  const maeMax = Math.max(0.3, ...curve.flatMap((c) => [c.mae, c.baselineMae]).filter(Number.isFinite));
  const hasTrailing = curve.some((c) => c.trailingSpearman !== undefined);
  const series: Series[] = [];
  if (knowledge?.length) {
    series.push(
      {
        name: "knowledge: terrain ρ of probe-set means, types driven so far",
        color: "#2ca02c",
        points: knowledge.map((c) => ({ x: c.t, y: c.terrainRho ?? Number.NaN })),
      },
      {
        name: "knowledge: terrain ρ of probe-set means, all types the run drives",
        color: "#98df8a",
        dashed: true,
        points: knowledge.map((c) => ({ x: c.t, y: c.terrainRhoAll ?? Number.NaN })),
      },
    );
  }
  if (hasTrailing) {
    series.push(
      {
        name: "prequential ρ, trailing 60 s: cells in view over the last minute",
        color: "#1f77b4",
        points: curve.map((c) => ({ x: c.t, y: c.trailingSpearman ?? Number.NaN })),
      },
      {
        name: "baseline (running mean label), trailing 60 s, same cells",
        color: "#d62728",
        dashed: true,
        points: curve.map((c) => ({ x: c.t, y: c.trailingBaselineSpearman ?? Number.NaN })),
      },
    );
  }
  series.push({
    name: "prequential ρ, per 10 s window: cells in view in that window",
    color: "#9ecae1",
    points: curve.map((c) => ({ x: c.t, y: c.spearman })),
  });
  const top = panel({
    x: 80,
    y: 60,
    w: 780,
    h: 280,
    legendBelow: true,
    title: "Spearman ρ: what the model knows, and how it scores what is in view",
    yLabel: "ρ",
    xLabel: "simulated time (s)",
    yMin: rhoAxisMin(series.flatMap((s) => s.points.map((p) => p.y))),
    yMax: 1,
    xMax,
    series,
    refs: goal !== undefined ? [{ y: goal, label: `goal ${goal}` }] : [],
  });
  const bottom = panel({
    x: 80,
    y: 540,
    w: 780,
    h: 200,
    // Below, as above: inside, the legend hid the early points, where the error is highest.
    legendBelow: true,
    title: "Mean absolute error (prequential, per 10 s window)",
    yLabel: "MAE",
    xLabel: "simulated time (s)",
    yMin: 0,
    yMax: Math.ceil(maeMax * 10) / 10,
    xMax,
    series: [
      { name: "learner", color: "#1f77b4", points: curve.map((c) => ({ x: c.t, y: c.mae })) },
      {
        name: "baseline",
        color: "#d62728",
        dashed: true,
        points: curve.map((c) => ({ x: c.t, y: c.baselineMae })),
      },
    ],
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans">
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="26" font-size="18" text-anchor="middle" font-weight="bold">${esc(title)}</text>
${top}
${bottom}
</svg>`;
}

async function pngDataUri(img: ImageFrame): Promise<string> {
  const channels = img.encoding === "rgb8" ? 3 : 1;
  const png = await sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), {
    raw: { width: img.width, height: img.height, channels },
  })
    .png()
    .toBuffer();
  return `data:image/png;base64,${png.toString("base64")}`;
}

/**
 * One row per frame: camera image | predicted roughness overlay | ground-truth overlay, with a
 * colour bar. `rows[i].caption` goes above the row.
 */
export async function framesSvg(
  rows: readonly { caption: string; camera: ImageFrame; predicted: ImageFrame; truth: ImageFrame }[],
  title: string,
): Promise<string> {
  const first = rows[0];
  if (!first) throw new Error("framesSvg: no frames");
  const scale = Math.max(1, Math.floor(360 / first.camera.width));
  const iw = first.camera.width * scale;
  const ih = first.camera.height * scale;
  const gap = 12;
  const W = 3 * iw + 4 * gap + 100;
  const rowH = ih + 40;
  const H = 50 + rows.length * rowH + 20;
  const parts: string[] = [];
  parts.push(
    `<text x="${W / 2}" y="26" font-size="18" text-anchor="middle" font-weight="bold">${esc(title)}</text>`,
  );
  const heads = ["camera", "predicted roughness (hatched = low confidence)", "ground truth"];
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const y = 50 + i * rowH;
    parts.push(`<text x="${gap}" y="${y + 14}" font-size="13">${esc(r.caption)}</text>`);
    const imgs = [r.camera, r.predicted, r.truth];
    for (let k = 0; k < 3; k++) {
      const x = gap + k * (iw + gap);
      if (i === 0)
        parts.push(
          `<text x="${x + iw / 2}" y="${y - 4}" font-size="12" text-anchor="middle" fill="#333">${esc(heads[k]!)}</text>`,
        );
      parts.push(
        `<image x="${x}" y="${y + 22}" width="${iw}" height="${ih}" href="${await pngDataUri(imgs[k]!)}" image-rendering="optimizeSpeed"/>`,
      );
    }
  }
  // Colour bar.
  const bx = 3 * (iw + gap) + gap + 10;
  const by = 70;
  const bh = Math.min(300, H - 120);
  for (let i = 0; i < 50; i++) {
    const v = 1 - i / 49;
    parts.push(
      `<rect x="${bx}" y="${by + (i * bh) / 50}" width="18" height="${bh / 50 + 0.5}" fill="${roughnessCss(v)}"/>`,
    );
  }
  parts.push(`<text x="${bx + 22}" y="${by + 8}" font-size="11">1 rough</text>`);
  parts.push(`<text x="${bx + 22}" y="${by + bh}" font-size="11">0 smooth</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${W}" height="${H}" font-family="DejaVu Sans">
<rect width="100%" height="100%" fill="white"/>
${parts.join("\n")}
</svg>`;
}
