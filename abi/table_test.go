package abi

import "math"

// fx8 converts a decimal literal for the tables; it panics on a bad literal.
func fx8(s string) Fixed {
	v, err := ParseFixed(s)
	if err != nil {
		panic(err)
	}
	return v
}

const t0 = 1_700_000_000_000_000_000 // 2023-11-14T22:13:20Z in ns

// goVector is one entry of the table vectors.json is generated from.
type goVector struct {
	name string
	kind Kind
	v    any // a pointer to the record's Go value
}

// vectorTable is the source of testdata/abi/vectors.json "records": at least
// one vector per kind, plus edge cases.
func vectorTable() []goVector {
	return []goVector{
		{"book_snapshot_btc_perpetual", KindBookSnapshot, &Book{Seq: 1, Instrument: 0, ChangeID: 297217, Time: t0,
			Bids: []Level{{fx8("65000.5"), fx8("1200")}, {fx8("64999"), fx8("500")}},
			Asks: []Level{{fx8("65001"), fx8("300")}}}},
		{"book_snapshot_empty", KindBookSnapshot, &Book{Seq: 2, Instrument: 3, ChangeID: 1, Time: t0,
			Bids: []Level{}, Asks: []Level{}}},
		{"book_snapshot_continued", KindBookSnapshot, &Book{Seq: 3, Instrument: 0, Flags: BookContinues | BookContinuation,
			ChangeID: 297217, Time: t0, Bids: []Level{{fx8("64998.5"), fx8("10")}}, Asks: []Level{}}},
		{"book_change_delete_and_set", KindBookChange, &Book{Seq: 4, Instrument: 0, ChangeID: 297218, PrevChangeID: 297217,
			Time: t0 + 100_000_000,
			Bids: []Level{{fx8("65000.5"), fx8("1300")}, {fx8("64999"), 0}},
			Asks: []Level{}}},
		{"book_change_option_prices", KindBookChange, &Book{Seq: 5, Instrument: 1, ChangeID: 9, PrevChangeID: 8, Time: t0,
			Bids: []Level{{fx8("0.0455"), fx8("12.5")}},
			Asks: []Level{{fx8("0.0465"), fx8("0.1")}, {fx8("0.047"), 0}}}},
		{"ticker_perpetual", KindTicker, &Ticker{Seq: 6, Instrument: 0, Time: t0,
			BestBidPrice: fx8("65000.5"), BestBidAmount: fx8("1200"), BestAskPrice: fx8("65001"), BestAskAmount: fx8("300"),
			LastPrice: fx8("65001"), MarkPrice: fx8("65000.83"), IndexPrice: fx8("64990.12"), OpenInterest: fx8("512345670"),
			Funding8h: fx8("0.00012345")}},
		{"ticker_top_only_empty_ask", KindTicker, &Ticker{Seq: 7, Instrument: 1, Flags: TickerTopOnly, Time: t0,
			BestBidPrice: fx8("0.0455"), BestBidAmount: fx8("12.5")}},
		{"ticker_option_closed", KindTicker, &Ticker{Seq: 8, Instrument: 1, Flags: TickerClosed, Time: t0,
			MarkPrice: fx8("0.046"), IndexPrice: fx8("64990.12"), MarkIV: fx8("52.37")}},
		{"trade_buy", KindTrade, &Trade{Seq: 9, Instrument: 0, Side: Buy, Time: t0, TradeSeq: 123456789,
			Price: fx8("65001"), Amount: fx8("20")}},
		{"trade_sell_liquidation", KindTrade, &Trade{Seq: 10, Instrument: 2, Side: Sell, Flags: TradeTakerLiquidation,
			Time: t0, TradeSeq: 1, Price: fx8("3400.05"), Amount: fx8("0.001")}},
		{"order_update_pending", KindOrderUpdate, &OrderUpdate{Seq: 11, CID: 1001, Instrument: 0, State: StatePending,
			Side: Buy, Type: Limit, TIF: GoodTilCancelled, Flags: PostOnly, Time: t0,
			Price: fx8("65000"), Amount: fx8("100")}},
		{"order_update_open_partly_filled", KindOrderUpdate, &OrderUpdate{Seq: 12, CID: 1001, Instrument: 0,
			State: StateOpen, Side: Buy, Type: Limit, TIF: GoodTilCancelled, Flags: PostOnly, Time: t0 + 1,
			Price: fx8("65000"), Amount: fx8("100"), FilledAmount: fx8("30"), AvgPrice: fx8("65000"),
			ExchangeOrderID: NewStr32("USDC-104819327443")}},
		{"order_update_cancelled_on_disconnect", KindOrderUpdate, &OrderUpdate{Seq: 13, CID: 1002, Instrument: 2,
			State: StateCancelled, Side: Sell, Type: Limit, TIF: GoodTilCancelled, Reason: ReasonCancelOnDisconnect,
			Time: t0, Price: fx8("3400.05"), Amount: fx8("1.5"), ExchangeOrderID: NewStr32("ETH-SLIS-12"),
			Text: NewStr32("cancel_on_disconnect")}},
		{"order_update_rejected_by_risk", KindOrderUpdate, &OrderUpdate{Seq: 14, CID: 1003, Instrument: 0,
			State: StateRejected, Side: Sell, Type: Market, TIF: ImmediateOrCancel, Flags: ReduceOnly,
			Reason: ReasonRiskMaxPosition, Time: t0, Amount: fx8("1000000"), Text: NewStr32("max_position 500000")}},
		{"order_update_rejected_by_exchange", KindOrderUpdate, &OrderUpdate{Seq: 15, CID: 1004, Instrument: 0,
			State: StateRejected, Side: Buy, Type: Limit, TIF: FillOrKill, Reason: ReasonExchangeError,
			ExchangeCode: 10009, Time: t0, Price: fx8("65000"), Amount: fx8("100"), Text: NewStr32("not_enough_funds")}},
		{"order_update_full_strings", KindOrderUpdate, &OrderUpdate{Seq: math.MaxUint32, CID: math.MaxUint64,
			Instrument: NoInstrument, State: StateFilled, Side: Buy, Type: Limit, TIF: GoodTilDay, Flags: 7,
			Reason: ReasonNone, ExchangeCode: -1, Time: math.MaxUint64, Price: math.MaxInt64, Amount: math.MinInt64,
			FilledAmount: 1, AvgPrice: -1,
			ExchangeOrderID: NewStr32("0123456789abcdef0123456789ABCDEF"), Text: NewStr32("ünïcödé ✓")}},
		{"fill_maker", KindFill, &Fill{Seq: 16, CID: 1001, Instrument: 0, Side: Buy, Liquidity: Maker, Time: t0,
			TradeSeq: 123456790, Price: fx8("65000"), Amount: fx8("30"), Fee: fx8("-0.00000046"),
			FeeCurrency: NewStr8("BTC")}},
		{"fill_taker_unknown_order", KindFill, &Fill{Seq: 17, CID: 0, Instrument: 2, Side: Sell, Liquidity: Taker,
			Time: t0, TradeSeq: 2, Price: fx8("3400.05"), Amount: fx8("0.5"), Fee: fx8("0.00000025"),
			FeeCurrency: NewStr8("USDC")}},
		{"position_own_long", KindPosition, &Position{Seq: 18, Instrument: 0, Time: t0, Size: fx8("30"),
			AvgPrice: fx8("65000"), UnrealizedPnL: fx8("0.00000023")}},
		{"position_account_short", KindPosition, &Position{Seq: 19, Instrument: 2, Flags: PositionAccount, Time: t0,
			Size: fx8("-1.5"), AvgPrice: fx8("3400.05"), RealizedPnL: fx8("-12.75"), UnrealizedPnL: fx8("3.1")}},
		{"pool_state_degraded", KindPoolState, &PoolState{Seq: 20, Healthy: 2, Total: 3, Flags: PoolDegraded, Time: t0}},
		{"pool_state_maintenance", KindPoolState, &PoolState{Seq: 21, Healthy: 0, Total: 3,
			Flags: PoolDegraded | PoolMaintenance, Time: t0}},
		{"timer", KindTimer, &Timer{Seq: 22, ID: 7, Time: t0 + 1_000_123, Due: t0 + 1_000_000}},
		{"intent_rejected_cancel_unknown_cid", KindIntentRejected, &IntentRejected{Seq: 23, IntentKind: KindCancel,
			Reason: ReasonUnknownCID, CID: 999, IntentSeq: 41, Instrument: NoInstrument, Time: t0,
			Text: NewStr32("unknown cid")}},
		{"intent_rejected_amend_exchange", KindIntentRejected, &IntentRejected{Seq: 24, IntentKind: KindAmend,
			Reason: ReasonExchangeError, ExchangeCode: 11044, CID: 1001, IntentSeq: 42, Instrument: 0, Time: t0,
			Text: NewStr32("not_open_order")}},
		{"intent_rejected_unsupported_kind", KindIntentRejected, &IntentRejected{Seq: 25, IntentKind: 0x02F0,
			Reason: ReasonUnsupported, IntentSeq: 43, Instrument: NoInstrument, Time: t0}},
		{"start", KindStart, &Start{HostVersion: Version{1, 0}, Features: FeatureBookContinuation, FirstCID: 1,
			Time: t0, NInstruments: 3, NParams: 2, NPositions: 1, NOrders: 0, Name: NewStr32("mm-btc")}},
		{"instrument_btc_perpetual", KindInstrument, &Instrument{Index: 0, Kind: Perpetual, Flags: InstrumentInverse,
			TickSize: fx8("0.5"), ContractSize: fx8("10"), MinAmount: fx8("10"), MakerFee: fx8("-0.0001"),
			TakerFee: fx8("0.0005"), BaseCurrency: NewStr8("BTC"), QuoteCurrency: NewStr8("USD"),
			SettlementCurrency: NewStr8("BTC"), Name: NewStr64("BTC-PERPETUAL"), TickSteps: []TickStep{}}},
		{"instrument_btc_option_tick_steps", KindInstrument, &Instrument{Index: 1, Kind: Option, OptionType: Call,
			TickSize: fx8("0.0001"), ContractSize: fx8("1"), MinAmount: fx8("0.1"), Strike: fx8("70000"),
			Expiry: 1_735_286_400_000_000_000, MakerFee: fx8("0.0003"), TakerFee: fx8("0.0003"),
			BaseCurrency: NewStr8("BTC"), QuoteCurrency: NewStr8("BTC"), SettlementCurrency: NewStr8("BTC"),
			Name:      NewStr64("BTC-27DEC24-70000-C"),
			TickSteps: []TickStep{{fx8("0.005"), fx8("0.0005")}}}},
		{"instrument_linear_perpetual", KindInstrument, &Instrument{Index: 2, Kind: Perpetual,
			TickSize: fx8("0.05"), ContractSize: fx8("0.001"), MinAmount: fx8("0.001"), TakerFee: fx8("0.0005"),
			BaseCurrency: NewStr8("ETH"), QuoteCurrency: NewStr8("USDC"), SettlementCurrency: NewStr8("USDC"),
			Name: NewStr64("ETH_USDC-PERPETUAL"), TickSteps: []TickStep{}}},
		{"param_float", KindParam, &Param{Type: ParamFloat, Key: "spread_bps", Float: 2.5}},
		{"param_int", KindParam, &Param{Type: ParamInt, Key: "quote.levels", Int: -3}},
		{"param_bool", KindParam, &Param{Type: ParamBool, Key: "hedge", Bool: true}},
		{"param_string", KindParam, &Param{Type: ParamString, Key: "mode", Text: "passive"}},
		{"param_toml_array", KindParam, &Param{Type: ParamTOML, Key: "sizes", Text: "[10, 20, 40]"}},
		{"param_key_fills_padding", KindParam, &Param{Type: ParamString, Key: "abcd", Text: "efgh"}},
		{"place_limit_post_only", KindPlace, &Place{Seq: 41, CID: 1001, Instrument: 0, Side: Buy, Type: Limit,
			TIF: GoodTilCancelled, Flags: PostOnly, Price: fx8("65000"), Amount: fx8("100"), Label: NewStr32("mm-bid-1")}},
		{"place_market_ioc_reduce_only", KindPlace, &Place{Seq: 42, CID: 1003, Instrument: 0, Side: Sell, Type: Market,
			TIF: ImmediateOrCancel, Flags: ReduceOnly, Amount: fx8("1000000")}},
		{"place_option_fok", KindPlace, &Place{Seq: 43, CID: 1005, Instrument: 1, Side: Buy, Type: Limit,
			TIF: FillOrKill, Price: fx8("0.0455"), Amount: fx8("0.1"), Label: NewStr32("0123456789abcdef0123456789abcdef")}},
		{"amend", KindAmend, &Amend{Seq: 44, CID: 1001, Price: fx8("65000.5"), Amount: fx8("120"), Flags: PostOnly | RejectPostOnly}},
		{"cancel", KindCancel, &Cancel{Seq: 45, CID: 1001}},
		{"cancel_all", KindCancelAll, &CancelAll{Seq: 46, Instrument: NoInstrument, Side: SideNone}},
		{"cancel_all_instrument_bids", KindCancelAll, &CancelAll{Seq: 47, Instrument: 0, Side: Buy}},
	}
}
