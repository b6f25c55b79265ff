package deribit

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// The host's label on every order it places (Deribit's free `label`, at most
// 64 characters), so that it recognises its orders in notifications, in
// responses and after a reconnect or a restart, and knows whose they are:
//
//	sbx:<host>:<run>:<instance>:<cid>
//	sbx:<host>:<run>:<instance>:<cid>.<chunk>
//
// host is the host's id (Owner.Host: 1..MaxHostIDLen of a-z, 0-9 and '-',
// not starting with '-'), unique among the hosts that trade on the account;
// run is the id of one run of that host (Owner.Run: 1..MaxRunIDLen of a-z
// and 0-9), unique among its runs. instance is the host's number for the
// plugin instance (u32) and cid the plugin's client order id (u64, not 0),
// both in canonical decimal: digits only, no sign, no leading zeros ("0" is
// not a valid cid). The second form is one chunk (1..MaxChunks) of an order
// the host split over several connections (pool policy split): the plugin
// sees one order, the exchange several. The longest label is 64 bytes,
// Deribit's limit. Anything else, including labels with JSON escapes, other
// prefixes, upper case, extra fields or spaces, is no host's: such orders
// are "foreign". A host counts the labels of other hosts, and of its own
// earlier runs, as foreign too (Owner.Decode).
const LabelPrefix = "sbx:"

// MaxChunks is the largest chunk number of a split order's label.
const MaxChunks = 64

// Lengths of a label's parts.
const (
	MaxHostIDLen = 16
	MaxRunIDLen  = 8
	// MaxLabelLen is the length of the longest label: Deribit's limit.
	MaxLabelLen = len(LabelPrefix) + MaxHostIDLen + 1 + MaxRunIDLen + 1 + 10 + 1 + 20 + 3
)

// Owner is whose orders a label says they are: a host and one of its runs.
type Owner struct {
	Host string
	Run  string
}

// ErrOwner is the error of an invalid host or run id.
var ErrOwner = errors.New("deribit: invalid order label owner")

// Validate checks the host and run ids.
func (w Owner) Validate() error {
	if !validID([]byte(w.Host), MaxHostIDLen, true) {
		return fmt.Errorf("%w: host id %q must be 1 to %d characters of a-z, 0-9 and '-', not starting with '-'",
			ErrOwner, w.Host, MaxHostIDLen)
	}
	if !validID([]byte(w.Run), MaxRunIDLen, false) {
		return fmt.Errorf("%w: run id %q must be 1 to %d characters of a-z and 0-9", ErrOwner, w.Run, MaxRunIDLen)
	}
	return nil
}

// ValidHostID reports whether id can be a label's host id.
func ValidHostID(id string) bool { return validID([]byte(id), MaxHostIDLen, true) }

func validID(b []byte, max int, dash bool) bool {
	if len(b) == 0 || len(b) > max || b[0] == '-' {
		return false
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || dash && c == '-') {
			return false
		}
	}
	return true
}

// Label returns the label of order cid of instance, or of its chunk
// (1..MaxChunks; 0: the order is not split). w must be valid.
func (w Owner) Label(instance uint32, cid uint64, chunk uint8) string {
	var b [MaxLabelLen]byte
	return string(w.AppendLabel(b[:0], instance, cid, chunk))
}

// AppendLabel appends Label's label to dst.
func (w Owner) AppendLabel(dst []byte, instance uint32, cid uint64, chunk uint8) []byte {
	dst = append(dst, LabelPrefix...)
	dst = append(append(dst, w.Host...), ':')
	dst = append(append(dst, w.Run...), ':')
	dst = strconv.AppendUint(dst, uint64(instance), 10)
	dst = append(dst, ':')
	dst = strconv.AppendUint(dst, cid, 10)
	if chunk != 0 {
		dst = strconv.AppendUint(append(dst, '.'), uint64(chunk), 10)
	}
	return dst
}

// Decode reads a label of w's (its host and run): ok is false for anything
// else, another host's labels and w's host's other runs' included. It does
// not allocate.
func (w Owner) Decode(b []byte) (instance uint32, cid uint64, chunk uint8, ok bool) {
	l, ok := ParseLabel(b)
	if !ok || string(l.Host) != w.Host || string(l.Run) != w.Run {
		return 0, 0, 0, false
	}
	return l.Instance, l.CID, l.Chunk, true
}

// Label is a parsed label. Host and Run point into the parsed bytes.
type Label struct {
	Host, Run []byte
	Instance  uint32
	CID       uint64
	Chunk     uint8
}

// ParseLabel reads a label of any host and run; ok is false for a foreign
// label. It does not allocate.
func ParseLabel(b []byte) (l Label, ok bool) {
	if len(b) > MaxLabelLen || len(b) < len(LabelPrefix) || string(b[:len(LabelPrefix)]) != LabelPrefix {
		return l, false
	}
	b = b[len(LabelPrefix):]
	if l.Host, b, ok = field(b, MaxHostIDLen, true); !ok {
		return Label{}, false
	}
	if l.Run, b, ok = field(b, MaxRunIDLen, false); !ok {
		return Label{}, false
	}
	in, b, ok := canonicalUint(b, math.MaxUint32)
	if !ok || len(b) == 0 || b[0] != ':' {
		return Label{}, false
	}
	c, b, ok := canonicalUint(b[1:], math.MaxUint64)
	if !ok || c == 0 {
		return Label{}, false
	}
	if len(b) != 0 {
		if b[0] != '.' {
			return Label{}, false
		}
		k, rest, ok := canonicalUint(b[1:], MaxChunks)
		if !ok || len(rest) != 0 || k == 0 {
			return Label{}, false
		}
		l.Chunk = uint8(k)
	}
	l.Instance, l.CID = uint32(in), c
	return l, true
}

// field reads an id up to the next ':' and returns it and what follows the
// ':'.
func field(b []byte, max int, dash bool) (id, rest []byte, ok bool) {
	for i, c := range b {
		if c == ':' {
			if !validID(b[:i], max, dash) {
				return nil, nil, false
			}
			return b[:i], b[i+1:], true
		}
		if i >= max {
			return nil, nil, false
		}
	}
	return nil, nil, false
}

// canonicalUint reads a decimal without sign or leading zeros, at most max,
// from the start of b, and returns the rest.
func canonicalUint(b []byte, max uint64) (uint64, []byte, bool) {
	i := 0
	var u uint64
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		d := uint64(b[i] - '0')
		if i == 1 && b[0] == '0' {
			return 0, nil, false // leading zero
		}
		if u > (max-d)/10 {
			return 0, nil, false
		}
		u = u*10 + d
		i++
	}
	if i == 0 {
		return 0, nil, false
	}
	return u, b[i:], true
}
