// Which of a filter bank's channels stay the same when the robot turns or the camera's exposure
// changes, by channel name (models/build-backbone.ts writes them): one group per octave for the Gabor
// energies of every orientation and phase ("gabor<angle><e|o>_s<n>"), one for the x/y derivative
// energies ("fine_dx", "fine_dy"), none for mean luminance ("mean_L"); every other channel alone.
// The bundled bank averages each group into one output channel; the kNN novelty pools the same
// groups of any named backbone (novelty-features.ts).

/** Groups of channel indices, in order of first appearance, and a name for each group. */
export function invariantChannelGroups(names: readonly string[]): { groups: number[][]; names: string[] } {
  const groups: number[][] = [];
  const groupNames: string[] = [];
  const pooled = new Map<string, number[]>();
  names.forEach((name, c) => {
    if (name === "mean_L") return;
    const gabor = /^gabor\d+[eo]_(s\d+)$/.exec(name);
    const key = gabor ? `gabor_${gabor[1]}` : name === "fine_dx" || name === "fine_dy" ? "fine_dxy" : null;
    if (!key) {
      groups.push([c]);
      groupNames.push(name);
      return;
    }
    let g = pooled.get(key);
    if (!g) {
      g = [];
      pooled.set(key, g);
      groups.push(g);
      groupNames.push(key);
    }
    g.push(c);
  });
  return { groups, names: groupNames };
}
