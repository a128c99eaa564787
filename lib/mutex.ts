/**
 * Runs async sections one at a time, in call order: for an engine's read-modify-write sequences
 * (CA install, config merges) that must never interleave. Per process, which is all a single
 * node needs. A failed section does not stop the ones queued behind it.
 */
export class Mutex {
  #tail: Promise<void> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn);
    this.#tail = result.then(() => {}, () => {});
    return result;
  }
}
