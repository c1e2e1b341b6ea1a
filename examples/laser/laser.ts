import { expose, oneway } from "pyro-ts";

/** A lab laser: what a test bench exposes to the other machines. */
@expose
export class Laser {
  #mw = 0;

  get power(): number {
    return this.#mw;
  }

  set power(v: number) {
    this.#mw = v;
  }

  async setPower(mw: number): Promise<number> {
    if (mw < 0) throw new RangeError("negative");
    this.#mw = mw;
    return mw;
  }

  @oneway
  blink(times: number): void {
    console.log(`blinking ${times} times`);
  }

  _internal(): void {
    // Never callable remotely: the name starts with "_".
  }
}
