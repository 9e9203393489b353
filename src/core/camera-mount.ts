// The camera as the core projects with it: CameraInfo fitted to the images' size, its mount on the
// base from TF, and the ground plane under it (frames.base_height, frames.ground through TF, or
// z = 0 of the base). The supervisor decides when to look again (TF versions, IMU axis).

import { cameraForImage } from "./camera.ts";
import { type Mat34, mat34, mat34Compose, mat34FromTransform } from "./geometry.ts";
import { type GroundPlane, groundLevelFromBase, groundTilt } from "./grid-ground-projection.ts";
import type { TfBuffer } from "./tf-buffer.ts";
import type { CameraModel } from "./types.ts";

export interface MountFrames {
  base: string;
  ground?: string;
  base_height?: number | null;
}

export class CameraMount {
  /** The camera model for the images (`received` fitted to `imageSize`), null until both agree. */
  camera: CameraModel | null = null;
  /** The camera in the ground-level frame (the ground is its z = 0): what projections use. */
  groundFromOptical: Mat34 | null = null;
  plane: GroundPlane;
  /** frames.ground is configured but not found in TF yet: a dynamic transform may bring it. */
  groundPending: boolean;
  /** Set while CameraInfo's size is not a resize of the images' ("640x480 vs images 320x200"). */
  mismatch: string | undefined;
  /** The last CameraInfo accepted, as received. */
  #received: CameraModel | null = null;
  /** The size of the images last seen (fitImage); undefined before the first. */
  #imageSize: { width: number; height: number } | undefined;
  #baseFromOptical: Mat34 | null = null;

  constructor(
    private readonly frames: MountFrames,
    private readonly tf: TfBuffer,
  ) {
    this.plane = { source: "base", frame: frames.base, height: 0, tilt: 0 };
    this.groundPending = this.usesGroundFrame();
  }

  /** The camera is known but TF has not linked it to the base yet. */
  get unlinked(): boolean {
    return this.camera !== null && this.#baseFromOptical === null;
  }

  /**
   * A valid CameraInfo. True when the fitted camera changed: its mount must be looked up again
   * (the same object is kept while nothing changed, so per-model caches stay valid).
   */
  receive(c: CameraModel): boolean {
    const prev = this.#received;
    if (
      prev &&
      prev.frameId === c.frameId &&
      prev.width === c.width &&
      prev.height === c.height &&
      prev.distortionModel === c.distortionModel &&
      sameNumbers(prev.K, c.K) &&
      sameNumbers(prev.D, c.D)
    ) {
      return false;
    }
    this.#received = c;
    return this.#fit();
  }

  /**
   * The size of the images the camera model must describe: CameraInfo for another size is scaled
   * to it, or unusable if the image is not a resize of it. True when the fitted camera changed.
   */
  fitImage(width: number, height: number): boolean {
    const s = this.#imageSize;
    if (s && s.width === width && s.height === height) return false;
    this.#imageSize = { width, height };
    return this.#fit();
  }

  #fit(): boolean {
    const c = this.#received;
    if (!c) return false;
    const size = this.#imageSize;
    const fitted = size ? cameraForImage(c, size.width, size.height) : c;
    this.mismatch =
      fitted === null ? `${c.width}x${c.height} vs images ${size!.width}x${size!.height}` : undefined;
    if (fitted === this.camera) return false;
    this.camera = fitted;
    return true;
  }

  /** A ground frame other than the base is configured and no height overrides it. */
  usesGroundFrame(): boolean {
    const f = this.frames;
    return f.base_height == null && !!f.ground && f.ground !== f.base;
  }

  /** The camera's mount from TF, then the ground under it. */
  refresh(): void {
    if (this.camera) {
      const t = this.tf.lookup(this.frames.base, stripSlash(this.camera.frameId));
      this.#baseFromOptical = t ? mat34FromTransform(t, mat34()) : null;
    }
    this.refreshGround();
  }

  /**
   * Finds the ground plane: frames.base_height when set, else frames.ground through TF, else z = 0
   * of the base; then the camera pose on it. `m`: the ground-level frame ← base
   * (grid-ground-projection.ts), null for the identity.
   */
  refreshGround(): void {
    const { base, ground, base_height: height } = this.frames;
    let m: Mat34 | null = null;
    this.plane = { source: "base", frame: base, height: 0, tilt: 0 };
    if (height != null) {
      m = mat34();
      m[11] = height;
      this.plane = { source: "config", frame: base, height, tilt: 0 };
    } else if (this.usesGroundFrame()) {
      const t = this.tf.lookup(ground!, base);
      m = t ? groundLevelFromBase(t, mat34()) : null;
      if (m) this.plane = { source: "tf", frame: ground!, height: m[11]!, tilt: groundTilt(m) };
      this.groundPending = m === null;
    }
    const b = this.#baseFromOptical;
    // Without a ground frame the camera pose is base ← optical itself, exactly as before.
    this.groundFromOptical = b && m ? mat34Compose(m, b, mat34()) : b;
  }
}

/** ROS 1 frames often carry a leading slash; TF (and tf2) frames do not. */
export function stripSlash(frame: string): string {
  return frame.startsWith("/") ? frame.slice(1) : frame;
}

function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
