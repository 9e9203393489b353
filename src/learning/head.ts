// The trainable part: two small TensorFlow.js networks over standardised feature vectors.
//
//   roughness head   C → hidden (relu) → 1 (sigmoid)     weighted MSE against labels in 0..1
//                    (or a linear output: a log-energy target in fixed units, see learner.ts)
//   novelty head     C → bottleneck (tanh) → C (linear)   reconstruction MSE (an autoencoder)
//
// The autoencoder only ever sees features of ground the robot has driven on, so its reconstruction
// error is small for familiar-looking ground and large for anything else; the learner maps that error
// to a confidence (Wild Visual Navigation uses the same idea). Both are trained on the same batches
// with one Adam optimiser (the losses share no weights, so summing them trains each independently);
// with kNN novelty (the default) the autoencoder is not trained at all.
//
// Plain core ops instead of tf.layers: a fixed, explicit variable list is what makes weight hand-over
// to the predictor thread and checkpoints a simple concatenation of Float32Arrays.

import { type BackendName, type TF, tf } from "./tf-backend.ts";

export interface HeadOptions {
  channels: number;
  hidden: number;
  bottleneck: number;
  learningRate: number;
  seed: number;
  /**
   * Train the autoencoder (default true). With kNN novelty nothing reads it: skipping it makes a
   * step ~40 % cheaper and leaves the roughness head's updates exactly as they were (no shared weights).
   */
  trainReconstruction?: boolean;
  /** Output of the roughness head: "sigmoid" (0..1, default) or "linear" (unbounded). */
  output?: "sigmoid" | "linear";
}

export interface HeadPrediction {
  roughness: Float32Array;
  /** Mean squared reconstruction error per sample (standardised feature units). */
  reconError: Float32Array;
}

const VARIABLE_NAMES = ["w1", "b1", "w2", "b2", "e1", "c1", "e2", "c2"] as const;

export class TerrainHead {
  readonly opts: HeadOptions;
  readonly backend: BackendName;
  private readonly vars: TF.Variable[];
  private readonly optimizer: TF.AdamOptimizer;
  private disposed = false;

  constructor(opts: HeadOptions, backend: BackendName) {
    this.opts = opts;
    this.backend = backend;
    const { channels: C, hidden: H, bottleneck: K, seed } = opts;
    // Glorot-uniform initialisation from fixed seeds: a replay run starts from the same weights.
    const glorot = (shape: [number, number], s: number) => {
      const lim = Math.sqrt(6 / (shape[0] + shape[1]));
      return tf.randomUniform(shape, -lim, lim, "float32", s);
    };
    this.vars = tf.tidy(() => [
      tf.variable(glorot([C, H], seed)),
      tf.variable(tf.zeros([H])),
      tf.variable(glorot([H, 1], seed + 1)),
      tf.variable(tf.zeros([1])),
      tf.variable(glorot([C, K], seed + 2)),
      tf.variable(tf.zeros([K])),
      tf.variable(glorot([K, C], seed + 3)),
      tf.variable(tf.zeros([C])),
    ]);
    this.optimizer = tf.train.adam(opts.learningRate);
  }

  /** Shapes in serialisation order. */
  shapes(): number[][] {
    return this.vars.map((v) => v.shape);
  }

  private v(i: number): TF.Variable {
    return this.vars[i] as TF.Variable;
  }

  private roughnessOf(x: TF.Tensor2D): TF.Tensor2D {
    const h = tf.relu(tf.add(tf.matMul(x, this.v(0)), this.v(1)));
    const out = tf.add(tf.matMul(h, this.v(2)), this.v(3)) as TF.Tensor2D;
    return this.opts.output === "linear" ? out : (tf.sigmoid(out) as TF.Tensor2D);
  }

  private reconstructionOf(x: TF.Tensor2D): TF.Tensor2D {
    const z = tf.tanh(tf.add(tf.matMul(x, this.v(4)), this.v(5)));
    return tf.add(tf.matMul(z, this.v(6)), this.v(7)) as TF.Tensor2D;
  }

  /**
   * One Adam step on a batch of n standardised samples. Returns the weighted roughness MSE when
   * `readLoss` (a GPU/worker sync point, so callers read it only now and then), else NaN.
   */
  trainStep(
    x: Float32Array,
    y: Float32Array,
    w: Float32Array,
    n: number,
    readLoss: boolean,
  ): { loss: number; reconLoss: number } {
    this.assertAlive();
    const C = this.opts.channels;
    let loss = Number.NaN;
    let reconLoss = Number.NaN;
    tf.tidy(() => {
      const xt = tf.tensor2d(x.subarray(0, n * C), [n, C]);
      const yt = tf.tensor2d(y.subarray(0, n), [n, 1]);
      const wt = tf.tensor2d(w.subarray(0, n), [n, 1]);
      const wsum = tf.maximum(tf.sum(wt), 1e-6);
      let parts: TF.Scalar[] = [];
      const withRecon = this.opts.trainReconstruction !== false;
      this.optimizer.minimize(
        () => {
          const p = this.roughnessOf(xt);
          const rough = tf.div(tf.sum(tf.mul(wt, tf.square(tf.sub(p, yt)))), wsum) as TF.Scalar;
          if (!withRecon) {
            // A copy: minimize() disposes the tensor it is handed.
            if (readLoss) parts = [tf.keep(tf.clone(rough))];
            return rough;
          }
          const recon = tf.mean(tf.square(tf.sub(this.reconstructionOf(xt), xt))) as TF.Scalar;
          if (readLoss) parts = [tf.keep(rough), tf.keep(recon)];
          return tf.add(rough, recon) as TF.Scalar;
        },
        false,
        withRecon ? this.vars : this.vars.slice(0, 4),
      );
      if (readLoss && parts.length > 0) {
        loss = (parts[0] as TF.Scalar).dataSync()[0] as number;
        if (parts[1]) reconLoss = (parts[1] as TF.Scalar).dataSync()[0] as number;
        for (const t of parts) t.dispose();
      }
    });
    return { loss, reconLoss };
  }

  /**
   * Roughness and reconstruction error for n standardised samples, in one batched pass. Without
   * `withRecon` (the kNN novelty needs no autoencoder at predict time) reconError is empty.
   */
  predict(x: Float32Array, n: number, withRecon = true): HeadPrediction {
    this.assertAlive();
    const C = this.opts.channels;
    if (n === 0) return { roughness: new Float32Array(0), reconError: new Float32Array(0) };
    return tf.tidy(() => {
      const xt = tf.tensor2d(x.subarray(0, n * C), [n, C]);
      const p = this.roughnessOf(xt);
      if (!withRecon) return { roughness: p.dataSync() as Float32Array, reconError: new Float32Array(0) };
      const err = tf.mean(tf.square(tf.sub(this.reconstructionOf(xt), xt)), 1);
      return { roughness: p.dataSync() as Float32Array, reconError: err.dataSync() as Float32Array };
    });
  }

  /** Copies of the variables, in VARIABLE_NAMES order. */
  getWeights(): Float32Array[] {
    this.assertAlive();
    return this.vars.map((v) => Float32Array.from(v.dataSync() as Float32Array));
  }

  setWeights(arrays: readonly Float32Array[]): void {
    this.assertAlive();
    if (arrays.length !== this.vars.length)
      throw new Error(`head weights: got ${arrays.length} arrays, expected ${this.vars.length}`);
    tf.tidy(() => {
      this.vars.forEach((v, i) => {
        const a = arrays[i] as Float32Array;
        if (a.length !== v.size) {
          throw new Error(
            `head weight ${VARIABLE_NAMES[i]}: ${a.length} values, expected ${v.size} (shape ${v.shape.join("×")})`,
          );
        }
        v.assign(tf.tensor(a, v.shape));
      });
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.vars) v.dispose();
    this.optimizer.dispose();
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error("TerrainHead used after dispose()");
  }
}
