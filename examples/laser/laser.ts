import { expose, oneway, Signal } from "pyro-ts";

/** A lab laser: what a test bench exposes to the other machines. */
@expose
export class Laser {
  /** Emitted on every power change, with the new power and when it changed. */
  readonly powerChanged = new Signal<[mw: number, at: Date]>();
  #mw = 0;

  get power(): number {
    return this.#mw;
  }

  set power(v: number) {
    this.#mw = v;
    this.powerChanged.emit(v, new Date());
  }

  async setPower(mw: number): Promise<number> {
    if (mw < 0) throw new RangeError("negative");
    this.power = mw;
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
