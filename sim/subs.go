package sim

import (
	"math"
	"sort"
	"strconv"
	"strings"
)

type chanKind int

const (
	chBook chanKind = iota
	chBookGrouped
	chTicker
	chQuote
	chTrades
	chUserOrders
	chUserTrades
	chPortfolio
	chPlatform
)

// channel is a parsed subscription channel name.
type channel struct {
	kind       chanKind
	instrument string // or "" for the {kind}.{currency} forms
	instKind   string // future, option, any
	currency   string
	interval   string // raw, 100ms, agg2
	group      float64
	depth      int
	private    bool
}

func validInterval(iv string) bool { return iv == "raw" || iv == "100ms" || iv == "agg2" }

// parseChannel checks a channel name against the simulator's instruments.
// Unknown channels are not an error on Deribit: they are left out of the
// subscribe result.
func (s *Server) parseChannel(name string) (channel, bool) {
	f := strings.Split(name, ".")
	inst := func(n string) bool { _, ok := s.instruments[n]; return ok }
	kindCur := func(kind, cur string) bool {
		okKind := kind == "any" || kind == "future" || kind == "option"
		okCur := cur == "any" || cur == "BTC" || cur == "ETH"
		return okKind && okCur
	}
	switch {
	case f[0] == "platform_state" && len(f) == 1:
		return channel{kind: chPlatform}, true
	case f[0] == "book" && len(f) == 3 && inst(f[1]) && validInterval(f[2]):
		return channel{kind: chBook, instrument: f[1], interval: f[2]}, true
	case f[0] == "book" && len(f) == 5 && inst(f[1]) && (f[4] == "100ms" || f[4] == "agg2"):
		c := channel{kind: chBookGrouped, instrument: f[1], interval: f[4]}
		switch f[2] {
		case "none":
		case "1", "2", "5", "10", "25", "100", "250":
			g, _ := strconv.ParseFloat(f[2], 64)
			if s.instruments[f[1]].BaseCurrency == "ETH" {
				g /= 100
			}
			c.group = g
		default:
			return channel{}, false
		}
		switch f[3] {
		case "1", "10", "20":
			c.depth, _ = strconv.Atoi(f[3])
		default:
			return channel{}, false
		}
		return c, true
	case f[0] == "ticker" && len(f) == 3 && inst(f[1]) && validInterval(f[2]):
		return channel{kind: chTicker, instrument: f[1], interval: f[2]}, true
	case f[0] == "quote" && len(f) == 2 && inst(f[1]):
		return channel{kind: chQuote, instrument: f[1]}, true
	case f[0] == "trades" && len(f) == 3 && inst(f[1]) && validInterval(f[2]):
		return channel{kind: chTrades, instrument: f[1], interval: f[2]}, true
	case f[0] == "trades" && len(f) == 4 && kindCur(f[1], f[2]) && validInterval(f[3]):
		return channel{kind: chTrades, instKind: f[1], currency: f[2], interval: f[3]}, true
	case f[0] == "user" && len(f) >= 3 && (f[1] == "orders" || f[1] == "trades"):
		k := chUserOrders
		if f[1] == "trades" {
			k = chUserTrades
		}
		if len(f) == 4 && inst(f[2]) && validInterval(f[3]) {
			return channel{kind: k, instrument: f[2], interval: f[3], private: true}, true
		}
		if len(f) == 5 && kindCur(f[2], f[3]) && validInterval(f[4]) {
			return channel{kind: k, instKind: f[2], currency: f[3], interval: f[4], private: true}, true
		}
	case f[0] == "user" && len(f) == 3 && f[1] == "portfolio":
		switch f[2] { // Deribit writes the currency in lower case; upper case is accepted too
		case "any", "btc", "eth", "usdc", "ANY", "BTC", "ETH", "USDC":
			return channel{kind: chPortfolio, currency: strings.ToUpper(f[2]), private: true}, true
		}
	}
	return channel{}, false
}

type subscribeParams struct {
	Channels []string `json:"channels"`
}

func methodSubscribe(private bool) func(k *call) (any, *Error) {
	return func(k *call) (any, *Error) {
		var p subscribeParams
		if err := k.decode(&p); err != nil {
			return nil, err
		}
		if len(p.Channels) == 0 {
			return nil, paramError("channels", "value required")
		}
		if len(p.Channels) > 500 {
			return nil, paramError("channels", "at most 500 channels per request")
		}
		c, s := k.c, k.c.srv
		if private {
			if c.account != "" && c.account != k.account {
				return nil, unauthorized("the connection is authenticated for another account")
			}
			c.account = k.account
		}
		parsed := make([]channel, len(p.Channels))
		ok := make([]bool, len(p.Channels))
		for i, name := range p.Channels {
			parsed[i], ok[i] = s.parseChannel(name)
			if ok[i] && !parsed[i].private && parsed[i].interval == "raw" && !c.authed && !private {
				return nil, NewError(CodeRawSubsUnauthorized, nil)
			}
		}
		out := []string{}
		for i, name := range p.Channels {
			if !ok[i] || (parsed[i].private && !private) {
				continue // Deribit silently leaves such channels out
			}
			if _, already := c.channels[name]; !already {
				s.subscribeLocked(c, name, parsed[i])
			}
			out = append(out, name)
		}
		return out, nil
	}
}

func methodUnsubscribe(k *call) (any, *Error) {
	var p subscribeParams
	if err := k.decode(&p); err != nil {
		return nil, err
	}
	out := []string{}
	for _, name := range p.Channels {
		if _, ok := k.c.channels[name]; ok {
			k.c.srv.unsubscribeLocked(k.c, name)
			out = append(out, name)
		}
	}
	return out, nil
}

func methodUnsubscribeAll(k *call) (any, *Error) {
	for name := range k.c.channels {
		k.c.srv.unsubscribeLocked(k.c, name)
	}
	return "ok", nil
}

func (s *Server) subscribeLocked(c *session, name string, ch channel) {
	m := s.subs[name]
	if m == nil {
		m = make(map[uint64]*session)
		s.subs[name] = m
		s.subKinds[name] = ch
	}
	m[c.id] = c
	c.channels[name] = struct{}{}
	now := s.nowMs()
	switch ch.kind {
	case chBook:
		if ch.interval == "raw" {
			bids, asks, cid, _ := s.engine.Depth(ch.instrument, 0)
			c.deferred = append(c.deferred, encodeNotification(name, bookMessage("snapshot", ch.instrument, now, cid, 0, snapshotLevels(bids), snapshotLevels(asks))))
		} else {
			s.bookFlushFor(ch.instrument).fresh[subKey{c.id, name}] = true
		}
	case chBookGrouped:
		bids, asks, cid, _ := s.engine.Depth(ch.instrument, 0)
		c.deferred = append(c.deferred, encodeNotification(name, groupedMessage(ch, now, cid, bids, asks)))
		if len(m) == 1 {
			s.groupedSent[name] = cid // grouped messages are whole snapshots: the next is due on a change
		}
	case chTicker:
		if t, err := s.engine.Ticker(now, ch.instrument); err == nil {
			c.deferred = append(c.deferred, encodeNotification(name, t))
		}
	case chQuote:
		if t, err := s.engine.Ticker(now, ch.instrument); err == nil {
			c.deferred = append(c.deferred, encodeNotification(name, quoteOf(t)))
			s.pending.quotes[ch.instrument] = [4]float64{t.BestBidPrice, t.BestBidAmount, t.BestAskPrice, t.BestAskAmount}
		}
	case chPortfolio:
		for _, cur := range portfolioCurrencies(ch.currency) {
			if sum, err := s.engine.AccountSummary(c.account, cur); err == nil {
				c.deferred = append(c.deferred, encodeNotification(name, sum))
			}
		}
	}
}

func portfolioCurrencies(cur string) []string {
	if cur == "ANY" {
		return []string{"BTC", "ETH", "USDC"}
	}
	return []string{cur}
}

func (s *Server) unsubscribeLocked(c *session, name string) {
	delete(c.channels, name)
	ch, known := s.subKinds[name]
	if known && ch.kind == chBook {
		if bf := s.books[ch.instrument]; bf != nil {
			delete(bf.fresh, subKey{c.id, name})
		}
	}
	if m := s.subs[name]; m != nil {
		delete(m, c.id)
		if len(m) == 0 {
			delete(s.subs, name)
			delete(s.subKinds, name)
			delete(s.groupedSent, name)
		}
	}
	for k := range s.pending.user {
		if k.conn == c.id && k.channel == name {
			delete(s.pending.user, k)
		}
	}
}

// subscribers returns a channel's sessions in connection order.
func (s *Server) subscribers(name string) []*session {
	m := s.subs[name]
	if len(m) == 0 {
		return nil
	}
	out := make([]*session, 0, len(m))
	for _, c := range m {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// publishLocked sends data on a channel to all its subscribers; when
// account is not empty, only to that account's sessions.
func (s *Server) publishLocked(name, account string, data any) {
	subs := s.subscribers(name)
	if len(subs) == 0 {
		return
	}
	var frame []byte
	for _, c := range subs {
		if account != "" && c.account != account {
			continue
		}
		if frame == nil {
			frame = encodeNotification(name, data)
		}
		s.stats.notifications.Add(1)
		c.send(frame)
	}
}

type subKey struct {
	conn    uint64
	channel string
}

// pendingBatches holds what the 100ms and agg2 channels send at the next tick.
type pendingBatches struct {
	public    map[string][]Trade    // trades.* channel → trades
	user      map[subKey][]any      // user.orders/user.trades per session and channel
	portfolio map[string][]string   // account → currencies whose summary changed
	tickers   map[string]bool       // instruments whose ticker changed
	top       map[string]bool       // instruments whose book changed in this operation
	quotes    map[string][4]float64 // last quote sent per instrument
}

func (p *pendingBatches) init() {
	p.public = map[string][]Trade{}
	p.user = map[subKey][]any{}
	p.portfolio = map[string][]string{}
	p.tickers = map[string]bool{}
	p.top = map[string]bool{}
	p.quotes = map[string][4]float64{}
}

// bookFlush is the state of the 100ms/agg2 book channels of one instrument:
// the levels last sent, so that the next message is the difference.
type bookFlush struct {
	bids, asks []Level
	changeID   int64
	valid      bool
	fresh      map[subKey]bool // subscribers still waiting for their snapshot
}

func (s *Server) bookFlushFor(instrument string) *bookFlush {
	bf := s.books[instrument]
	if bf == nil {
		bf = &bookFlush{fresh: map[subKey]bool{}}
		s.books[instrument] = bf
	}
	return bf
}

func bookMessage(typ, instrument string, ts, changeID, prevChangeID int64, bids, asks [][3]any) map[string]any {
	m := map[string]any{
		"type": typ, "timestamp": ts, "instrument_name": instrument, "change_id": changeID,
		"bids": bids, "asks": asks,
	}
	if typ != "snapshot" {
		m["prev_change_id"] = prevChangeID
	}
	return m
}

func snapshotLevels(levels []Level) [][3]any {
	out := make([][3]any, len(levels))
	for i, l := range levels {
		out[i] = [3]any{"new", l.Price, l.Amount}
	}
	return out
}

func changeLevels(changes []LevelChange) [][3]any {
	out := make([][3]any, len(changes))
	for i, l := range changes {
		out[i] = [3]any{l.Action, l.Price, l.Amount}
	}
	return out
}

// diffLevels is the change list that turns old into new (both best first;
// bids descending when desc).
func diffLevels(old, cur []Level) []LevelChange {
	om := make(map[float64]float64, len(old))
	for _, l := range old {
		om[l.Price] = l.Amount
	}
	cm := make(map[float64]float64, len(cur))
	var out []LevelChange
	for _, l := range cur {
		cm[l.Price] = l.Amount
		if a, ok := om[l.Price]; !ok {
			out = append(out, LevelChange{Action: "new", Price: l.Price, Amount: l.Amount})
		} else if a != l.Amount {
			out = append(out, LevelChange{Action: "change", Price: l.Price, Amount: l.Amount})
		}
	}
	for _, l := range old {
		if _, ok := cm[l.Price]; !ok {
			out = append(out, LevelChange{Action: "delete", Price: l.Price, Amount: 0})
		}
	}
	return out
}

func groupedMessage(ch channel, ts, changeID int64, bids, asks []Level) map[string]any {
	return map[string]any{
		"timestamp": ts, "instrument_name": ch.instrument, "change_id": changeID,
		"bids": pairs(groupLevels(bids, ch.group, ch.depth, true)),
		"asks": pairs(groupLevels(asks, ch.group, ch.depth, false)),
	}
}

// groupLevels buckets levels by group (bids rounded down, asks up) and keeps
// the best depth buckets.
func groupLevels(levels []Level, group float64, depth int, bids bool) []Level {
	var out []Level
	for _, l := range levels {
		p := l.Price
		if group > 0 {
			if bids {
				p = math.Floor(p/group+1e-9) * group
			} else {
				p = math.Ceil(p/group-1e-9) * group
			}
			p = math.Round(p*1e8) / 1e8
		}
		if n := len(out); n > 0 && out[n-1].Price == p {
			out[n-1].Amount += l.Amount
			continue
		}
		if len(out) == depth {
			break
		}
		out = append(out, Level{Price: p, Amount: l.Amount})
	}
	if out == nil {
		out = []Level{}
	}
	return out
}

func quoteOf(t Ticker) map[string]any {
	return map[string]any{
		"timestamp": t.Timestamp, "instrument_name": t.InstrumentName,
		"best_bid_price": t.BestBidPrice, "best_bid_amount": t.BestBidAmount,
		"best_ask_price": t.BestAskPrice, "best_ask_amount": t.BestAskAmount,
	}
}

// listener turns engine changes into notifications. Its methods run with
// s.mu held, inside an engine call: they only queue.
type listener Server

var _ Listener = (*listener)(nil)

func (l *listener) OrderChanged(o Order) {
	s := (*Server)(l)
	if strings.HasPrefix(o.Owner, "__") {
		return
	}
	s.userEventLocked("orders", o.InstrumentName, o.Owner, o)
}

func (l *listener) Filled(f Fill) {
	s := (*Server)(l)
	in := s.instruments[f.Public.InstrumentName]
	for _, iv := range []string{"raw", "100ms", "agg2"} {
		for _, name := range []string{
			"trades." + in.InstrumentName + "." + iv,
			"trades." + in.Kind + "." + in.BaseCurrency + "." + iv,
			"trades.any." + in.BaseCurrency + "." + iv,
			"trades." + in.Kind + ".any." + iv,
			"trades.any.any." + iv,
		} {
			if len(s.subs[name]) == 0 {
				continue
			}
			if iv == "raw" {
				s.publishLocked(name, "", []Trade{f.Public})
			} else {
				s.pending.public[name] = append(s.pending.public[name], f.Public)
			}
		}
	}
	for _, t := range []Trade{f.Maker, f.Taker} {
		if !strings.HasPrefix(t.Owner, "__") {
			s.userEventLocked("trades", t.InstrumentName, t.Owner, t)
		}
	}
	s.pending.tickers[in.InstrumentName] = true
	s.pending.top[in.InstrumentName] = true
}

// userEventLocked routes an order or trade of account to its user.orders or
// user.trades channels. raw user.orders carries a single object; every other
// form carries an array.
func (s *Server) userEventLocked(what, instrument, account string, item any) {
	in := s.instruments[instrument]
	for _, iv := range []string{"raw", "100ms", "agg2"} {
		for _, name := range []string{
			"user." + what + "." + instrument + "." + iv,
			"user." + what + "." + in.Kind + "." + in.BaseCurrency + "." + iv,
			"user." + what + ".any." + in.BaseCurrency + "." + iv,
			"user." + what + "." + in.Kind + ".any." + iv,
			"user." + what + ".any.any." + iv,
		} {
			if len(s.subs[name]) == 0 {
				continue
			}
			if iv == "raw" {
				if what == "orders" {
					s.publishLocked(name, account, item)
				} else {
					s.publishLocked(name, account, []any{item})
				}
				continue
			}
			for _, c := range s.subscribers(name) {
				if c.account == account {
					k := subKey{c.id, name}
					s.pending.user[k] = append(s.pending.user[k], item)
				}
			}
		}
	}
}

func (l *listener) BookChanged(bc BookChange) {
	s := (*Server)(l)
	name := "book." + bc.Instrument + ".raw"
	if len(s.subs[name]) > 0 {
		s.publishLocked(name, "", bookMessage("change", bc.Instrument, bc.Timestamp, bc.ChangeID, bc.PrevChangeID,
			changeLevels(bc.Bids), changeLevels(bc.Asks)))
	}
	s.pending.tickers[bc.Instrument] = true
	s.pending.top[bc.Instrument] = true
}

func (l *listener) PositionChanged(owner, instrument string) {
	s := (*Server)(l)
	if strings.HasPrefix(owner, "__") {
		return
	}
	cur := s.instruments[instrument].SettlementCurrency
	for _, have := range s.pending.portfolio[owner] {
		if have == cur {
			return
		}
	}
	s.pending.portfolio[owner] = append(s.pending.portfolio[owner], cur)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// afterOpLocked sends what depends on the state after a whole engine
// operation: quotes and raw tickers of the instruments whose top changed.
func (s *Server) afterOpLocked() {
	if len(s.pending.top) == 0 {
		return
	}
	now := s.nowMs()
	for _, inst := range sortedKeys(s.pending.top) {
		qn, tn := "quote."+inst, "ticker."+inst+".raw"
		if len(s.subs[qn]) == 0 && len(s.subs[tn]) == 0 {
			continue
		}
		t, err := s.engine.Ticker(now, inst)
		if err != nil {
			continue
		}
		q := [4]float64{t.BestBidPrice, t.BestBidAmount, t.BestAskPrice, t.BestAskAmount}
		if s.pending.quotes[inst] != q {
			s.pending.quotes[inst] = q
			s.publishLocked(qn, "", quoteOf(t))
		}
		s.publishLocked(tn, "", t)
	}
	clear(s.pending.top)
}

// flushLocked sends the 100ms and agg2 channels: one message per channel and
// tick.
func (s *Server) flushLocked(now int64) {
	s.afterOpLocked()

	for _, inst := range sortedKeys(s.books) {
		bf := s.books[inst]
		names := []string{"book." + inst + ".100ms", "book." + inst + ".agg2"}
		if len(s.subs[names[0]]) == 0 && len(s.subs[names[1]]) == 0 {
			bf.valid = false
			continue
		}
		bids, asks, cid, _ := s.engine.Depth(inst, 0)
		if bf.valid && cid != bf.changeID {
			msg := bookMessage("change", inst, now, cid, bf.changeID,
				changeLevels(diffLevels(bf.bids, bids)), changeLevels(diffLevels(bf.asks, asks)))
			var frames = map[string][]byte{}
			for _, name := range names {
				for _, c := range s.subscribers(name) {
					if bf.fresh[subKey{c.id, name}] {
						continue
					}
					if frames[name] == nil {
						frames[name] = encodeNotification(name, msg)
					}
					s.stats.notifications.Add(1)
					c.send(frames[name])
				}
			}
		}
		if len(bf.fresh) > 0 {
			keys := make([]subKey, 0, len(bf.fresh))
			for k := range bf.fresh {
				keys = append(keys, k)
			}
			sort.Slice(keys, func(i, j int) bool {
				if keys[i].conn != keys[j].conn {
					return keys[i].conn < keys[j].conn
				}
				return keys[i].channel < keys[j].channel
			})
			snap := bookMessage("snapshot", inst, now, cid, 0, snapshotLevels(bids), snapshotLevels(asks))
			for _, k := range keys {
				if c := s.subs[k.channel][k.conn]; c != nil {
					s.stats.notifications.Add(1)
					c.send(encodeNotification(k.channel, snap))
				}
			}
			clear(bf.fresh)
		}
		bf.bids, bf.asks, bf.changeID, bf.valid = bids, asks, cid, true
	}

	marketMoves := s.market != nil && !s.maint
	for _, name := range sortedKeys(s.subKinds) {
		ch := s.subKinds[name]
		switch {
		case ch.kind == chBookGrouped:
			bids, asks, cid, _ := s.engine.Depth(ch.instrument, 0)
			if s.groupedSent[name] == cid {
				continue
			}
			s.groupedSent[name] = cid
			s.publishLocked(name, "", groupedMessage(ch, now, cid, bids, asks))
		case ch.kind == chTicker && ch.interval != "raw":
			if !marketMoves && !s.pending.tickers[ch.instrument] {
				continue
			}
			if t, err := s.engine.Ticker(now, ch.instrument); err == nil {
				s.publishLocked(name, "", t)
			}
		}
	}
	clear(s.pending.tickers)

	for _, name := range sortedKeys(s.pending.public) {
		s.publishLocked(name, "", s.pending.public[name])
	}
	clear(s.pending.public)

	if len(s.pending.user) > 0 {
		keys := make([]subKey, 0, len(s.pending.user))
		for k := range s.pending.user {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if keys[i].conn != keys[j].conn {
				return keys[i].conn < keys[j].conn
			}
			return keys[i].channel < keys[j].channel
		})
		for _, k := range keys {
			if c := s.subs[k.channel][k.conn]; c != nil {
				s.stats.notifications.Add(1)
				c.send(encodeNotification(k.channel, s.pending.user[k]))
			}
		}
		clear(s.pending.user)
	}

	for _, owner := range sortedKeys(s.pending.portfolio) {
		curs := s.pending.portfolio[owner]
		sort.Strings(curs)
		for _, cur := range curs {
			sum, err := s.engine.AccountSummary(owner, cur)
			if err != nil {
				continue
			}
			for _, name := range []string{"user.portfolio." + cur, "user.portfolio." + strings.ToLower(cur),
				"user.portfolio.any", "user.portfolio.ANY"} {
				s.publishLocked(name, owner, sum)
			}
		}
	}
	clear(s.pending.portfolio)
}
