// Package replay is stratbox's backtester: it runs strategies (WebAssembly
// plugins) over a recording of the exchange's frames (record.Open: the
// native format, JSON Lines or Tardis.dev's Deribit format) through the same
// engine as live trading (host.Engine), in lock step on the recorded clock,
// so that the same recording, plugins and Config give the same output, byte
// for byte, on any machine.
//
// Run drives one replay: it reads the recording's head (the instruments of a
// recorded public/get_instruments response, the start time), loads the
// plugins in process on a fake clock (clock.Fake) without a wall-clock call
// budget, and feeds every recorded market notification that a plugin
// subscribed to through the engine, settling the plugins' calls and their
// orders before the next frame. Orders go to an in-process exchange: the
// simulator's matching engine (sim.Local). With FillNone its book stays
// empty (orders are accepted and never fill); with FillSim the recorded book
// and trades are its liquidity, so orders fill as the recorded market
// reaches them, behind the queue that was there before. Either way its
// index, mark and price limits follow the recorded ticker (or the recorded
// book's mid), so that an order is refused only for what Deribit would
// refuse on the recorded market.
//
// Channels counts a recording's channels; given them (WithChannels), Run
// derives the channels the plugins subscribe to and the recording lacks
// from the raw ones it holds, as Deribit derives them
// (deribit.Deriver: book.X.100ms from book.X.raw, …), and PlanChannels
// says beforehand what is served, derived and missing. Sweep replays a
// recording once per combination of swept parameter values, in parallel,
// and returns each combination's figures (PnL, fills, position range, max
// drawdown, refusals); WriteSweepReport compares them on one page.
//
// What a replay produced comes back in a Result (counts, the engine's
// statistics, the simulated account), as JSON Lines of intents and order
// events (WithOutput) and as a self-contained HTML report with inline SVG
// charts (WithReport, then Result.WriteReport).
//
// Concurrency: Run uses the calling goroutine for the whole replay (the
// engine's plugin goroutines are stepped from it); separate Runs share
// nothing but a sandbox.Cache (WithCache), which is safe for concurrent use. A
// Result is not safe to change concurrently.
//
// Errors: Config.Validate's name the bad field; a recording that cannot be
// read comes back wrapped (record.ErrCorrupt, record.ErrFormat; ErrNoFrames
// for an empty one), a recording that ends inside a block is replayed up to
// there and reported in Result.Truncated (record.ErrTruncated); a plugin
// that cannot be read or loaded is named in the error. Run never exits the
// process and writes nothing but what the options ask for.
package replay
