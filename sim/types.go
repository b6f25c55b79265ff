package sim

// This file holds the data shared by the matching engine (engine*.go,
// book.go, market.go, instruments.go, account.go) and the WebSocket session
// layer (server.go, session*.go, subs.go, …). JSON tags are Deribit's field
// names: these structs are marshalled as they are into responses and
// notifications.

// Instrument is one tradable contract, as public/get_instruments shows it.
type Instrument struct {
	InstrumentName       string  `json:"instrument_name"`
	InstrumentID         int     `json:"instrument_id"`
	Kind                 string  `json:"kind"`            // "future" | "option"
	InstrumentType       string  `json:"instrument_type"` // "reversed" (inverse) | "linear"
	BaseCurrency         string  `json:"base_currency"`
	QuoteCurrency        string  `json:"quote_currency"`
	CounterCurrency      string  `json:"counter_currency"`
	SettlementCurrency   string  `json:"settlement_currency"`
	PriceIndex           string  `json:"price_index"`
	TickSize             float64 `json:"tick_size"`
	ContractSize         float64 `json:"contract_size"`
	MinTradeAmount       float64 `json:"min_trade_amount"`
	MakerCommission      float64 `json:"maker_commission"`
	TakerCommission      float64 `json:"taker_commission"`
	MaxLeverage          float64 `json:"max_leverage,omitempty"`
	SettlementPeriod     string  `json:"settlement_period"` // "perpetual" | "month" | "week" | "day"
	CreationTimestamp    int64   `json:"creation_timestamp"`
	ExpirationTimestamp  int64   `json:"expiration_timestamp"`
	IsActive             bool    `json:"is_active"`
	State                string  `json:"state"` // "open"
	Strike               float64 `json:"strike,omitempty"`
	OptionType           string  `json:"option_type,omitempty"` // "call" | "put"
	BlockTradeCommission float64 `json:"block_trade_commission"`
}

// Order is Deribit's order object. Owner and ConnID are the simulator's own
// bookkeeping and never reach the wire.
type Order struct {
	OrderID             string  `json:"order_id"`
	OrderState          string  `json:"order_state"` // open, filled, rejected, cancelled
	OrderType           string  `json:"order_type"`  // limit, market
	OriginalOrderType   string  `json:"original_order_type,omitempty"`
	TimeInForce         string  `json:"time_in_force"` // good_til_cancelled, good_til_day, fill_or_kill, immediate_or_cancel
	InstrumentName      string  `json:"instrument_name"`
	Direction           string  `json:"direction"` // buy, sell
	Price               float64 `json:"price"`
	Label               string  `json:"label"`
	Amount              float64 `json:"amount"`
	Contracts           float64 `json:"contracts"`
	FilledAmount        float64 `json:"filled_amount"`
	AveragePrice        float64 `json:"average_price"`
	CreationTimestamp   int64   `json:"creation_timestamp"`
	LastUpdateTimestamp int64   `json:"last_update_timestamp"`
	PostOnly            bool    `json:"post_only"`
	RejectPostOnly      bool    `json:"reject_post_only"`
	ReduceOnly          bool    `json:"reduce_only"`
	API                 bool    `json:"api"`
	Web                 bool    `json:"web"`
	MMP                 bool    `json:"mmp"`
	RiskReducing        bool    `json:"risk_reducing"`
	Replaced            bool    `json:"replaced"`
	IsLiquidation       bool    `json:"is_liquidation"`
	CancelReason        string  `json:"cancel_reason,omitempty"` // user_request, cancel_on_disconnect, …
	Commission          float64 `json:"commission"`

	Owner  string `json:"-"` // account that owns the order
	ConnID uint64 `json:"-"` // connection that created it (cancel-on-disconnect scope "connection")
}

// Trade is one side of one execution, as Deribit reports it in the trades
// array of private/buy and in user.trades; public trades use the taker's side.
type Trade struct {
	TradeID        string  `json:"trade_id"`
	TradeSeq       int64   `json:"trade_seq"`
	OrderID        string  `json:"order_id,omitempty"`
	OrderType      string  `json:"order_type,omitempty"`
	InstrumentName string  `json:"instrument_name"`
	Direction      string  `json:"direction"`
	Price          float64 `json:"price"`
	Amount         float64 `json:"amount"`
	Contracts      float64 `json:"contracts"`
	Fee            float64 `json:"fee"`
	FeeCurrency    string  `json:"fee_currency,omitempty"`
	Liquidity      string  `json:"liquidity,omitempty"` // "M" | "T"
	TickDirection  int     `json:"tick_direction"`
	MarkPrice      float64 `json:"mark_price"`
	IndexPrice     float64 `json:"index_price"`
	State          string  `json:"state,omitempty"` // state of the order after the trade
	Timestamp      int64   `json:"timestamp"`
	Label          string  `json:"label,omitempty"`
	ProfitLoss     float64 `json:"profit_loss"`
	MatchingID     *string `json:"matching_id"`
	PostOnly       bool    `json:"post_only,omitempty"`
	ReduceOnly     bool    `json:"reduce_only,omitempty"`
	API            bool    `json:"api,omitempty"`

	Owner string `json:"-"`
}

// Fill is one execution between a resting (maker) and an incoming (taker)
// order. The engine reports each fill once; Maker and Taker are the two
// user-trade views of it, and Public is what trades.{instrument} shows.
type Fill struct {
	Maker  Trade
	Taker  Trade
	Public Trade
}

// Position is Deribit's position object.
type Position struct {
	InstrumentName            string  `json:"instrument_name"`
	Kind                      string  `json:"kind"`
	Size                      float64 `json:"size"` // signed, in amount units (USD for inverse futures)
	SizeCurrency              float64 `json:"size_currency"`
	Direction                 string  `json:"direction"` // buy, sell, zero
	AveragePrice              float64 `json:"average_price"`
	MarkPrice                 float64 `json:"mark_price"`
	IndexPrice                float64 `json:"index_price"`
	SettlementPrice           float64 `json:"settlement_price"`
	FloatingProfitLoss        float64 `json:"floating_profit_loss"`
	RealizedProfitLoss        float64 `json:"realized_profit_loss"`
	TotalProfitLoss           float64 `json:"total_profit_loss"`
	InitialMargin             float64 `json:"initial_margin"`
	MaintenanceMargin         float64 `json:"maintenance_margin"`
	OpenOrdersMargin          float64 `json:"open_orders_margin"`
	Leverage                  int     `json:"leverage"`
	Delta                     float64 `json:"delta"`
	EstimatedLiquidationPrice float64 `json:"estimated_liquidation_price,omitempty"`
}

// AccountSummary is the result of private/get_account_summary for one
// currency (and the data of user.portfolio.{currency}).
type AccountSummary struct {
	Currency                 string  `json:"currency"`
	Balance                  float64 `json:"balance"`
	Equity                   float64 `json:"equity"`
	AvailableFunds           float64 `json:"available_funds"`
	AvailableWithdrawalFunds float64 `json:"available_withdrawal_funds"`
	MarginBalance            float64 `json:"margin_balance"`
	InitialMargin            float64 `json:"initial_margin"`
	MaintenanceMargin        float64 `json:"maintenance_margin"`
	TotalPL                  float64 `json:"total_pl"`
	SessionUPL               float64 `json:"session_upl"`
	SessionRPL               float64 `json:"session_rpl"`
	FuturesPL                float64 `json:"futures_pl"`
	OptionsPL                float64 `json:"options_pl"`
	FeeBalance               float64 `json:"fee_balance"`
	DeltaTotal               float64 `json:"delta_total"`
	ProjectedInitialMargin   float64 `json:"projected_initial_margin"`
	PortfolioMarginEnabled   bool    `json:"portfolio_margining_enabled"`
}

// Level is one aggregated price level of a book.
type Level struct {
	Price  float64
	Amount float64
}

// LevelChange is one entry of a book change: Action is "new", "change" or
// "delete" (a delete carries Amount 0).
type LevelChange struct {
	Action string
	Price  float64
	Amount float64
}

// BookChange is what book.{instrument}.{interval} sends after a snapshot: the
// aggregated level changes one engine operation caused.
type BookChange struct {
	Instrument   string
	Timestamp    int64 // ms
	ChangeID     int64
	PrevChangeID int64
	Bids         []LevelChange
	Asks         []LevelChange
}

// Ticker is the data of ticker.{instrument}.{interval}.
type Ticker struct {
	Timestamp              int64       `json:"timestamp"`
	State                  string      `json:"state"`
	Stats                  TickerStats `json:"stats"`
	IndexPrice             float64     `json:"index_price"`
	InstrumentName         string      `json:"instrument_name"`
	LastPrice              float64     `json:"last_price"`
	SettlementPrice        float64     `json:"settlement_price"`
	MinPrice               float64     `json:"min_price"`
	MaxPrice               float64     `json:"max_price"`
	OpenInterest           float64     `json:"open_interest"`
	MarkPrice              float64     `json:"mark_price"`
	InterestValue          float64     `json:"interest_value"`
	BestBidPrice           float64     `json:"best_bid_price"`
	BestBidAmount          float64     `json:"best_bid_amount"`
	BestAskPrice           float64     `json:"best_ask_price"`
	BestAskAmount          float64     `json:"best_ask_amount"`
	EstimatedDeliveryPrice float64     `json:"estimated_delivery_price"`
	CurrentFunding         float64     `json:"current_funding"`
	Funding8h              float64     `json:"funding_8h"`
}

// TickerStats is the stats member of a ticker.
type TickerStats struct {
	High           float64 `json:"high"`
	Low            float64 `json:"low"`
	PriceChange    float64 `json:"price_change"`
	Volume         float64 `json:"volume"`
	VolumeUSD      float64 `json:"volume_usd"`
	VolumeNotional float64 `json:"volume_notional"`
}

// OrderRequest is a validated-shape private/buy or private/sell as the engine
// takes it. The session layer parses the JSON; the engine checks every rule
// that the exchange checks (instrument, tick, min amount, funds, post-only,
// reduce-only, time in force).
type OrderRequest struct {
	Instrument     string
	Direction      string  // buy, sell
	Amount         float64 // 0 when only Contracts was given
	Contracts      float64 // 0 when only Amount was given
	Type           string  // limit (default), market
	Price          float64
	HasPrice       bool
	Label          string
	TimeInForce    string // good_til_cancelled (default), good_til_day, fill_or_kill, immediate_or_cancel
	PostOnly       bool
	RejectPostOnly bool
	ReduceOnly     bool
	Owner          string
	ConnID         uint64
	API            bool
}

// EditRequest is private/edit as the engine takes it.
type EditRequest struct {
	OrderID        string
	Amount         float64
	Contracts      float64
	Price          float64
	HasPrice       bool
	PostOnly       bool
	RejectPostOnly bool
	ReduceOnly     bool
	Owner          string
}

// Error is an exchange error: Deribit's code and message, and optional data.
type Error struct {
	Code    int
	Message string
	Data    any
}

func (e *Error) Error() string { return e.Message }

// Listener receives every change the engine makes, synchronously, while the
// engine is locked by its caller. Implementations must not call back into
// the engine and must not block.
type Listener interface {
	OrderChanged(o Order)
	Filled(f Fill)
	BookChanged(c BookChange)
	PositionChanged(owner, instrument string)
}
