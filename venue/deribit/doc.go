// Package deribit owns what is specific to Deribit in the client: the fast
// decoders of its notifications, the translation of those notifications into
// abi events, its instrument table, the label the host puts on its orders,
// and what its error codes mean.
//
// # Decoders
//
// DecodeBook, DecodeOrder and DecodeOrders decode the notifications that
// arrive thousands of times a second (book.{instrument}.{interval}, the
// grouped book.{instrument}.{group}.{depth}.{interval}, user.orders.*) into
// reusable Go values without reflection, on conn/jsonscan. They take
// params.data as conn.ParseNotification returns it and allocate only for
// strings that changed since the value was last decoded into.
//
// # Translation into abi events
//
// A Translator (one per connection read loop; not safe for concurrent use)
// appends abi event records to a caller's buffer, without allocating once
// warm:
//
//   - AppendNotification dispatches on the channel: book snapshots and
//     changes (prev_change_id chained per instrument; ErrBookGap on a gap, so
//     that the router resubscribes; messages over abi.MaxBookLevels split with
//     the continues/continuation flags, or cut and flagged truncated with
//     Translator.Truncate), grouped books (snapshots), ticker, quote (a ticker
//     with flag top_only), trades, user.orders (order_update), user.trades
//     (fill), user.changes (fills, order updates, account positions).
//     Anything else (user.portfolio, platform_state, index channels) is
//     ClassUnknown, without error.
//   - AppendOrderResult does the same for the result of private/buy, sell and
//     edit ({order, trades}) and of private/cancel (the bare order), so that
//     the order manager turns a response into the records a notification
//     would give.
//   - AppendPositions converts private/get_positions into position records
//     with flag account.
//
// The returned Class tells the router what it got: ClassMarket (with the
// instrument and a conflation key: book, ticker, quote and trade streams per
// instrument), ClassPosition, ClassOrder (never drop; Routes gives the
// owning plugin instance of each record) or ClassForeign (orders and fills
// without our label: skipped unless Translator.KeepForeign). A router that
// serves plugins with and without the book_continuation feature can derive
// the truncated form of a split book message with TruncateBook.
//
// Mapping rules, in the doc comments of the functions named: StateFromText
// (order_state → abi state), ReasonFromCancel (cancel_reason → abi reason),
// RejectFromError (JSON-RPC error code → abi reason, keeping the exchange
// code), Instruments (get_instruments → abi instrument records).
//
// # Numbers
//
// Every number goes from its JSON text to abi.Fixed without a float64:
// FixedFromText is exact and refuses digits below 10^-8 (the instrument
// table: tick sizes, contract sizes, minimum amounts, strikes);
// FixedFromTextRound rounds them half away from zero (abi/README.md
// "Numbers": fees, implied volatility, average prices), and the Translator
// uses it for every number of a notification. Exchange times go from ms to
// ns exactly.
//
// # Labels
//
// The host labels every order it places "sbx:<host>:<run>:<instance>:<cid>"
// (Owner.Label, Owner.Decode, ParseLabel): the host's id, its run's id, the
// plugin instance's number and the plugin's client order id, in canonical
// decimal; a leg of an order split over several connections adds
// ".<chunk>" (Route.Chunk on the translated records). A Translator counts
// as its own only the orders of its Owner (one host's one run): every other
// order, another host's or an earlier run's, is foreign.
//
// # Aggregated channels from raw ones
//
// A recording holds the channels its recorder subscribed to, often the raw
// ones (book.X.raw is what Tardis.dev records), while a strategy subscribes
// to book.X.100ms. DerivedFrom says whether a channel can be served from the
// channels of a file and from which; a Deriver derives book.X.100ms (and
// agg2), the grouped book.X.none.D.100ms, trades.X.100ms and ticker.X.100ms
// from the raw notifications in recorded time, as Deribit does each 100 ms:
// the net change of each touched level with a chained prev_change_id, the
// window's trades in one message, its last ticker. A gap in the raw book
// stops the derived one until the next raw snapshot. LevelBook is the book
// a stream of book messages leaves (the Deriver's, and a replay's recorded
// book for its marks). Prices and amounts
// pass through float64 and back with the shortest text that reads back to
// the same value, which is the recorded text for every price and amount of
// up to 15 significant digits.
//
// # Instruments
//
// Instruments converts public/get_instruments; a Table indexes a selection
// (index = position, the plugin's instrument index) and looks names up
// without allocating.
//
// Every function is a pure function of its input and of the value it writes
// into, except a Translator's book state. Decoding errors wrap ErrDecode.
package deribit
