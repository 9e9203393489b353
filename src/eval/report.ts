// Writes an evaluation report: report.json (everything) and PNG plots a person can look at. Every
// file is written under a temporary name, then all are renamed, report.json last.

import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { ImageFrame } from "../core/types.ts";
import { writeFilesAtomic } from "../io/safe-output.ts";
import { framesSvg, type KnowledgeCurvePoint, learningCurveSvg, svgToPng } from "./plots.ts";

export interface FramePanel {
  caption: string;
  camera: ImageFrame;
  predicted: ImageFrame;
  truth: ImageFrame;
}

/** JSON.stringify with NaN/±Infinity as null (JSON has no NaN) and typed arrays left out. */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(
    value,
    (_k, v) => {
      if (typeof v === "number" && !Number.isFinite(v)) return null;
      if (ArrayBuffer.isView(v)) return undefined;
      if (v instanceof Map) return Object.fromEntries(v);
      return v;
    },
    indent,
  );
}

export interface ReportFiles {
  dir: string;
  json: string;
  curve?: string;
  frames?: string;
}

export async function writeReport(
  dir: string,
  report: {
    curve?: { t: number; spearman: number; mae: number; baselineSpearman: number; baselineMae: number }[];
    eval?: { knowledge?: { curve: readonly KnowledgeCurvePoint[] } };
  } & Record<string, unknown>,
  panels: readonly FramePanel[],
  title: string,
  goal?: number,
): Promise<ReportFiles> {
  await mkdir(dir, { recursive: true });
  const files: ReportFiles = { dir, json: join(dir, "report.json") };
  const written: { path: string; data: string | Uint8Array }[] = [];
  if (report.curve && report.curve.length > 0) {
    files.curve = join(dir, "learning-curve.png");
    written.push({
      path: files.curve,
      data: svgToPng(learningCurveSvg(report.curve, title, goal, report.eval?.knowledge?.curve)),
    });
  }
  if (panels.length > 0) {
    files.frames = join(dir, "frames.png");
    written.push({
      path: files.frames,
      data: svgToPng(await framesSvg(panels, `${title}: camera | prediction | ground truth`)),
    });
  }
  written.push({ path: files.json, data: `${toJson({ ...report, files }, 2)}\n` });
  // All written before any is renamed: a failure keeps an earlier report whole, not mixed with this one.
  await writeFilesAtomic(written);
  return files;
}
