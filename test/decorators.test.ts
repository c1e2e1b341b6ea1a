import { describe, expect, it } from "vitest";
import { behavior, behaviorOf, DEFAULT_BEHAVIOR, expose, isExposedClass, oneway, type InstanceMode } from "../decorators/index.js";
import { exposesAnything, isForbiddenMember, shapeOf } from "../src/daemon/introspect.js";
import { Signal } from "../src/index.js";

const metaOf = (instance: object) => shapeOf(instance).metadata;

describe("@expose on a class", () => {
  @expose
  class Stage {
    readonly moved = new Signal<[x: number]>();
    speed = 3;
    #x = 0;
    get x(): number {
      return this.#x;
    }
    get limit(): number {
      return 100;
    }
    set x(v: number) {
      this.#x = v;
    }
    set target(v: number) {
      this.#x = v;
    }
    move(dx: number): number {
      this.#x += dx;
      this.moved.emit(this.#x);
      return this.#x;
    }
    async home(): Promise<void> {}
    #privateMethod(): void {}
    usePrivate(): void {
      this.#privateMethod();
    }
  }

  it("exposes public methods, getters, setters and Signal fields", () => {
    expect(metaOf(new Stage())).toEqual({
      methods: ["home", "move", "usePrivate"],
      attributes: ["limit", "x"],
      writable: ["target", "x"],
      oneway: [],
      signals: ["moved"],
    });
  });

  it("makes an attribute writable only when it has a setter", () => {
    const shape = shapeOf(new Stage());
    expect(shape.writable.has("x")).toBe(true);
    expect(shape.writable.has("limit")).toBe(false);
  });

  it("does not expose a plain data field of an exposed class", () => {
    const shape = shapeOf(new Stage());
    expect(shape.attributes.has("speed")).toBe(false);
    expect(shape.writable.has("speed")).toBe(false);
  });

  it("never exposes #private members or the constructor", () => {
    const { methods, attributes } = metaOf(new Stage());
    expect([...methods, ...attributes].filter((n) => n.includes("private") || n.includes("#") || n === "constructor")).toEqual([]);
  });

  it("marks the class, and its subclasses, as exposed", () => {
    class Undecorated {}
    class SubStage extends Stage {}
    expect(isExposedClass(Stage)).toBe(true);
    expect(isExposedClass(SubStage)).toBe(true);
    expect(isExposedClass(Undecorated)).toBe(false);
  });

  it("computes the shape once per instance", () => {
    const stage = new Stage();
    expect(shapeOf(stage)).toBe(shapeOf(stage));
    expect(shapeOf(stage)).not.toBe(shapeOf(new Stage()));
  });
});

describe("inherited members", () => {
  class Instrument {
    readonly statusChanged = new Signal<[string]>();
    get serial(): string {
      return "SN1";
    }
    identify(): string {
      return "instrument";
    }
  }

  @expose
  class Laser extends Instrument {
    fire(): void {}
  }

  it("exposes what an exposed class inherits from an undecorated base", () => {
    expect(metaOf(new Laser())).toEqual({
      methods: ["fire", "identify"],
      attributes: ["serial"],
      writable: [],
      oneway: [],
      signals: ["statusChanged"],
    });
  });

  it("exposes the members a subclass adds to an exposed class", () => {
    class TunableLaser extends Laser {
      tune(nm: number): number {
        return nm;
      }
    }
    expect(metaOf(new TunableLaser()).methods).toEqual(["fire", "identify", "tune"]);
  });

  it("lets the most derived definition decide what a member is", () => {
    @expose
    class Base {
      reading(): number {
        return 1;
      }
      get mode(): string {
        return "a";
      }
    }
    class Derived extends Base {
      // @ts-expect-error a getter overriding a method, on purpose
      get reading(): number {
        return 2;
      }
      // @ts-expect-error a method overriding a getter, on purpose
      mode(): string {
        return "b";
      }
    }
    expect(metaOf(new Derived())).toMatchObject({ methods: ["mode"], attributes: ["reading"] });
  });

  it("exposes a member decorated in an undecorated base class", () => {
    class Base {
      @expose ping(): string {
        return "pong";
      }
      hidden(): void {}
    }
    class Derived extends Base {
      @expose extra(): void {}
      alsoHidden(): void {}
    }
    expect(metaOf(new Derived()).methods).toEqual(["extra", "ping"]);
  });
});

describe("names that are never exposed", () => {
  it("refuses _x, $x, constructor, then and everything on Object.prototype", () => {
    for (const name of ["", "_x", "_", "__x", "$x", "$", "constructor", "then", "toString", "hasOwnProperty", "__proto__", "valueOf", "isPrototypeOf", "propertyIsEnumerable", "toLocaleString", "__defineGetter__", "__lookupSetter__"]) {
      expect(isForbiddenMember(name), name).toBe(true);
    }
  });

  it("allows ordinary names, including ones that merely contain _ or $", () => {
    for (const name of ["power", "set_power", "a$b", "then2", "thenable", "toStringify", "proto", "catch", "finally", "call", "apply", "bind"]) {
      expect(isForbiddenMember(name), name).toBe(false);
    }
  });

  it("ignores @expose on forbidden members of an undecorated class", () => {
    class Sneaky {
      @expose _secret(): string {
        return "s";
      }
      @expose $local(): string {
        return "l";
      }
      @expose then(): void {}
      @expose toString(): string {
        return "sneaky";
      }
      @expose hasOwnProperty(): boolean {
        return true;
      }
      @expose valueOf(): number {
        return 1;
      }
      @expose ["__proto__"](): string {
        return "p";
      }
      @expose _field = 1;
      @expose $field = 2;
      @expose get _reading(): number {
        return 1;
      }
      @expose fine(): void {}
    }
    // They are really there, so the shape did leave them out.
    expect(Object.getOwnPropertyNames(Sneaky.prototype)).toEqual(
      expect.arrayContaining(["_secret", "$local", "then", "toString", "hasOwnProperty", "valueOf", "__proto__", "_reading"]),
    );
    expect(Object.getOwnPropertyNames(new Sneaky())).toEqual(expect.arrayContaining(["_field", "$field"]));
    expect(metaOf(new Sneaky())).toEqual({ methods: ["fine"], attributes: [], writable: [], oneway: [], signals: [] });
  });

  it("ignores forbidden members of an exposed class, decorated or not", () => {
    @expose
    class Sneaky {
      readonly _changed = new Signal();
      readonly $changed = new Signal();
      readonly then = new Signal();
      _internal(): void {}
      $local(): void {}
      @expose _decorated(): void {}
      @expose override(): void {}
      toString(): string {
        return "sneaky";
      }
      get _hidden(): number {
        return 1;
      }
      set $hidden(_v: number) {}
    }
    expect(metaOf(new Sneaky())).toEqual({ methods: ["override"], attributes: [], writable: [], oneway: [], signals: [] });
  });
});

describe("@expose on single members", () => {
  class Partly {
    readonly plainSignal = new Signal();
    @expose readonly exposedSignal = new Signal<[number]>();
    count = 0;
    @expose level = 5;
    @expose readonly label: string = "x";
    #mw = 0;
    @expose get power(): number {
      return this.#mw;
    }
    set power(v: number) {
      this.#mw = v;
    }
    get hiddenGetter(): number {
      return 0;
    }
    @expose hello(): string {
      return "hello";
    }
    notExposed(): string {
      return "no";
    }
  }

  it("exposes only the decorated members", () => {
    expect(metaOf(new Partly())).toEqual({
      methods: ["hello"],
      attributes: ["label", "level", "power"],
      // `readonly` is a compile-time promise only: the field is writable at run time.
      writable: ["label", "level", "power"],
      oneway: [],
      signals: ["exposedSignal"],
    });
  });

  it("marks nothing on the class itself", () => {
    expect(isExposedClass(Partly)).toBe(false);
  });

  it("finds nothing exposed in a class with no decorators", () => {
    class Nothing {
      field = 1;
      method(): void {}
      get getter(): number {
        return 1;
      }
    }
    const shape = shapeOf(new Nothing());
    expect(exposesAnything(shape)).toBe(false);
    expect(shape.metadata).toEqual({ methods: [], attributes: [], writable: [], oneway: [], signals: [] });
    expect(exposesAnything(shapeOf(new Partly()))).toBe(true);
  });

  it("does not see a decorated field that is never assigned", () => {
    class Unset {
      @expose declare missing: number;
      @expose present(): void {}
    }
    expect(metaOf(new Unset()).attributes).toEqual([]);
  });
});

describe("@oneway", () => {
  it("marks exposed methods oneway", () => {
    @expose
    class Blinker {
      @oneway blink(): void {}
      @oneway async flash(): Promise<void> {}
      status(): string {
        return "ok";
      }
    }
    expect(metaOf(new Blinker())).toMatchObject({ methods: ["blink", "flash", "status"], oneway: ["blink", "flash"] });
  });

  it("lists a oneway method only when it is exposed", () => {
    class Partly {
      @oneway notExposed(): void {}
      @expose @oneway exposed(): void {}
      @oneway @expose exposedToo(): void {}
      @oneway _private(): void {}
    }
    expect(metaOf(new Partly())).toMatchObject({ methods: ["exposed", "exposedToo"], oneway: ["exposed", "exposedToo"] });
  });

  it("lists only methods, not attributes, as oneway", () => {
    @expose
    class Odd {
      @oneway get reading(): number {
        return 1;
      }
      method(): void {}
    }
    expect(metaOf(new Odd())).toMatchObject({ attributes: ["reading"], oneway: [] });
  });

  it("keeps an inherited oneway method oneway", () => {
    @expose
    class Base {
      @oneway blink(): void {}
    }
    class Derived extends Base {}
    expect(metaOf(new Derived()).oneway).toEqual(["blink"]);
  });

  // Fixed bug, kept as a regression test: decorators/metadata-keys.ts memberNames() unions ONEWAY_MEMBERS over the whole prototype
  // chain, so an override that is not @oneway (and returns a value) is still treated as oneway
  // and its callers get undefined. In Pyro the override decides, as it does for getters vs methods.
  it("lets an override without @oneway wait for its reply", () => {
    @expose
    class Base {
      @oneway fire(): void {}
    }
    class Derived extends Base {
      override fire(): void {}
    }
    expect(metaOf(new Derived()).oneway).toEqual([]);
  });
});

describe("@behavior", () => {
  it("defaults to session", () => {
    class Plain {}
    expect(DEFAULT_BEHAVIOR).toEqual({ instanceMode: "session" });
    expect(behaviorOf(Plain)).toEqual({ instanceMode: "session" });
  });

  it.each<InstanceMode>(["single", "session", "percall"])("records instanceMode %s", (instanceMode) => {
    @behavior({ instanceMode })
    class Counter {}
    expect(behaviorOf(Counter)).toEqual({ instanceMode });
  });

  it("refuses an unknown instanceMode with a TypeError naming the choices", () => {
    expect(() => behavior({ instanceMode: "perthread" as InstanceMode })).toThrow(TypeError);
    expect(() => behavior({ instanceMode: "perthread" as InstanceMode })).toThrow('instanceMode must be one of single, session, percall; got "perthread"');
    expect(() => behavior({} as { instanceMode: InstanceMode })).toThrow(/got undefined/);
  });

  it("is inherited, and a subclass's own @behavior wins", () => {
    @behavior({ instanceMode: "percall" })
    class Base {}
    class Inherits extends Base {}
    @behavior({ instanceMode: "single" })
    class Overrides extends Base {}
    expect(behaviorOf(Inherits)).toEqual({ instanceMode: "percall" });
    expect(behaviorOf(Overrides)).toEqual({ instanceMode: "single" });
    expect(behaviorOf(Base)).toEqual({ instanceMode: "percall" });
  });

  it("returns the class itself, so it composes with @expose", () => {
    @expose
    @behavior({ instanceMode: "single" })
    class Both {
      ping(): void {}
    }
    expect(isExposedClass(Both)).toBe(true);
    expect(behaviorOf(Both).instanceMode).toBe("single");
    expect(metaOf(new Both()).methods).toEqual(["ping"]);
  });
});
