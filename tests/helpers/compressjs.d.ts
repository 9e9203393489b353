// compressjs ships no types; the test helpers use only its bzip2 compressor.
declare module "compressjs" {
  const compressjs: {
    Bzip2: {
      compressFile(input: Uint8Array | number[], output?: unknown, blockSize?: number): Uint8Array | number[];
    };
  };
  export default compressjs;
}
