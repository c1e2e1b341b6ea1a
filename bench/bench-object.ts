import { expose, oneway, Signal } from "../src/index.js";

/** What the pyro-ts side of every benchmark calls. */
@expose
export class BenchObject {
  readonly ticks = new Signal<[n: number]>();
  #received = 0;

  echo<T>(value: T): T {
    return value;
  }

  /** The echo as most device methods are written: async, so the daemon waits for a promise. */
  async echoAsync<T>(value: T): Promise<T> {
    return value;
  }

  @oneway
  sink(_value: unknown): void {
    this.#received++;
  }

  /** How many oneway calls arrived: a barrier after a oneway burst. */
  received(): number {
    return this.#received;
  }

  size(data: Uint8Array): number {
    return data.byteLength;
  }

  emitTicks(n: number): void {
    for (let i = 0; i < n; i++) this.ticks.emit(i);
  }

  cpu(): NodeJS.CpuUsage {
    return process.cpuUsage();
  }
}
