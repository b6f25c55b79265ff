// abort-as: a hostile AssemblyScript plugin for the conformance suite. It
// is a strategy of the AssemblyScript SDK that starts normally and, on its
// first ticker, fails an assertion: AssemblyScript calls env.abort with the
// message, which the host must turn into a fault that carries it.

import { Context, Strategy, Ticker, register } from "../../../../sdk/assemblyscript/assembly";

export * from "../../../../sdk/assemblyscript/assembly/exports";

class Aborter extends Strategy {
  onTicker(ctx: Context, t: Ticker): void {
    assert(t.bestBidPrice < 0, "abort-as: the best bid is " + t.bestBidPrice.toString());
  }
}

register(new Aborter());
