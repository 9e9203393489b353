// Serial line parser throughput: how many $TLIMU sentences per second the pure parser takes, fed in
// 4 KiB chunks as a serial port delivers them. For scale: 921600 baud carries ~1,400 such sentences/s.
//
//   node --import tsx bench/serial-parser.ts [sentences]

import { nmeaSentence, SerialLineParser } from "../src/adapters/serial-protocol.ts";

const count = Number(process.argv[2] ?? 200_000);
const lines: string[] = [];
for (let i = 0; i < count; i++)
  lines.push(nmeaSentence(`TLIMU,${i * 5000},0.1234,-0.2345,9.8123,0.0123,-0.0234,0.0012`));
const bytes = Buffer.from(`${lines.join("\r\n")}\r\n`, "latin1");

const results: number[] = [];
for (let run = 0; run < 5; run++) {
  let n = 0;
  const parser = new SerialLineParser(
    { imu: () => void n++, odom: () => undefined },
    { clockWrapBits: 0, maxClockJump: 1e9 },
  );
  const t0 = performance.now();
  for (let off = 0; off < bytes.length; off += 4096) parser.push(bytes.subarray(off, off + 4096), 0);
  const ms = performance.now() - t0;
  if (n !== count) throw new Error(`parsed ${n} of ${count} sentences`);
  results.push(count / (ms / 1000));
}
results.sort((a, b) => a - b);
const median = results[Math.floor(results.length / 2)]!;
process.stdout.write(
  `${JSON.stringify({ bench: "serial-parser", sentences: count, bytes: bytes.length, sentencesPerSecond: Math.round(median), megabytesPerSecond: +((median * bytes.length) / count / 1e6).toFixed(1) })}\n`,
);
