package strategytest

import (
	"fmt"
	"strings"

	"github.com/stratbox/stratbox/abi"
)

// Intent is one intent record of an outbox: Kind says which field is set.
type Intent struct {
	Kind      abi.Kind
	Place     abi.Place
	Amend     abi.Amend
	Cancel    abi.Cancel
	CancelAll abi.CancelAll
	Bytes     []byte // the record as the strategy wrote it
}

// Intents frames and decodes an outbox. A kind that is not an intent is an
// error.
func Intents(outbox []byte) ([]Intent, error) {
	var out []Intent
	for rec, err := range abi.Records(outbox) {
		if err != nil {
			return out, err
		}
		in := Intent{Kind: rec.Kind, Bytes: append([]byte(nil), rec.Bytes...)}
		switch rec.Kind {
		case abi.KindPlace:
			err = abi.DecodePlace(rec.Bytes, &in.Place)
		case abi.KindAmend:
			err = abi.DecodeAmend(rec.Bytes, &in.Amend)
		case abi.KindCancel:
			err = abi.DecodeCancel(rec.Bytes, &in.Cancel)
		case abi.KindCancelAll:
			err = abi.DecodeCancelAll(rec.Bytes, &in.CancelAll)
		default:
			err = fmt.Errorf("strategytest: a %v record in the outbox at offset %d", rec.Kind, rec.Offset)
		}
		if err != nil {
			return out, err
		}
		out = append(out, in)
	}
	return out, nil
}

// String renders the intent compactly for test tables:
//
//	place #1 buy 10 @ 64990.5 limit good_til_cancelled post_only "mm-bid"
//	place #2 sell 20 market immediate_or_cancel reduce_only
//	amend #1 10 @ 64991 post_only
//	cancel #1
//	cancel_all
//	cancel_all instrument=0 side=buy
//
// The header's seq is left out.
func (in Intent) String() string {
	var b strings.Builder
	switch in.Kind {
	case abi.KindPlace:
		p := &in.Place
		fmt.Fprintf(&b, "place #%d %v %v", p.CID, p.Side, p.Amount)
		if p.Type != abi.Market || p.Price != 0 {
			fmt.Fprintf(&b, " @ %v", p.Price)
		}
		fmt.Fprintf(&b, " %v %v", p.Type, p.TIF)
		if p.Flags != 0 {
			fmt.Fprintf(&b, " %v", p.Flags)
		}
		if p.Instrument != 0 {
			fmt.Fprintf(&b, " instrument=%d", p.Instrument)
		}
		if l := p.Label.String(); l != "" {
			fmt.Fprintf(&b, " %q", l)
		}
	case abi.KindAmend:
		a := &in.Amend
		fmt.Fprintf(&b, "amend #%d %v @ %v", a.CID, a.Amount, a.Price)
		if a.Flags != 0 {
			fmt.Fprintf(&b, " %v", a.Flags)
		}
	case abi.KindCancel:
		fmt.Fprintf(&b, "cancel #%d", in.Cancel.CID)
	case abi.KindCancelAll:
		b.WriteString("cancel_all")
		if c := in.CancelAll; c.Instrument != abi.NoInstrument {
			fmt.Fprintf(&b, " instrument=%d", c.Instrument)
		}
		if c := in.CancelAll; c.Side != abi.SideNone {
			fmt.Fprintf(&b, " side=%v", c.Side)
		}
	default:
		return in.Kind.String()
	}
	return b.String()
}

// Strings renders each intent with String.
func Strings(intents []Intent) []string {
	out := make([]string, len(intents))
	for i, in := range intents {
		out[i] = in.String()
	}
	return out
}
