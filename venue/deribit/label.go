package deribit

import (
	"math"
	"strconv"
)

// The host's label on every order it places (Deribit's free `label`, at most
// 64 characters), so that it recognises its orders in notifications, in
// responses and after a reconnect or a restart, and knows whose they are:
//
//	sbx:<instance>:<cid>
//	sbx:<instance>:<cid>.<chunk>
//
// instance is the host's number for the plugin instance (u32) and cid the
// plugin's client order id (u64, not 0), both in canonical decimal: digits
// only, no sign, no leading zeros ("0" is not a valid cid). The second form
// is one chunk (1..MaxChunks) of an order the host split over several
// connections (pool policy split): the plugin sees one order, the exchange
// several. The longest label is 38 bytes
// ("sbx:4294967295:18446744073709551615.64"). Anything else,
// including labels with JSON escapes, other prefixes, upper case, extra
// fields or spaces, is not ours: such orders are "foreign".
const LabelPrefix = "sbx:"

// MaxChunks is the largest chunk number of a split order's label.
const MaxChunks = 64

// MaxLabelLen is the length of the longest label EncodeLabel or
// EncodeChunkLabel makes.
const MaxLabelLen = len(LabelPrefix) + 10 + 1 + 20 + 3

// EncodeLabel returns the label of order cid of instance.
func EncodeLabel(instance uint32, cid uint64) string {
	var b [MaxLabelLen]byte
	return string(AppendLabel(b[:0], instance, cid))
}

// AppendLabel appends the label of order cid of instance to dst.
func AppendLabel(dst []byte, instance uint32, cid uint64) []byte {
	dst = append(dst, LabelPrefix...)
	dst = strconv.AppendUint(dst, uint64(instance), 10)
	dst = append(dst, ':')
	return strconv.AppendUint(dst, cid, 10)
}

// EncodeChunkLabel returns the label of chunk (1..MaxChunks) of order cid
// of instance; chunk 0 is EncodeLabel's.
func EncodeChunkLabel(instance uint32, cid uint64, chunk uint8) string {
	var b [MaxLabelLen]byte
	dst := AppendLabel(b[:0], instance, cid)
	if chunk != 0 {
		dst = strconv.AppendUint(append(dst, '.'), uint64(chunk), 10)
	}
	return string(dst)
}

// DecodeLabel reads a label made by EncodeLabel or EncodeChunkLabel. ok is
// false for anything else (a foreign order). It does not allocate.
func DecodeLabel(b []byte) (instance uint32, cid uint64, ok bool) {
	instance, cid, _, ok = DecodeChunkLabel(b)
	return instance, cid, ok
}

// DecodeChunkLabel is DecodeLabel that also returns the chunk number (0:
// the order is not split).
func DecodeChunkLabel(b []byte) (instance uint32, cid uint64, chunk uint8, ok bool) {
	if len(b) < len(LabelPrefix)+3 || len(b) > MaxLabelLen || string(b[:len(LabelPrefix)]) != LabelPrefix {
		return 0, 0, 0, false
	}
	b = b[len(LabelPrefix):]
	in, b, ok := canonicalUint(b, math.MaxUint32)
	if !ok || len(b) == 0 || b[0] != ':' {
		return 0, 0, 0, false
	}
	c, b, ok := canonicalUint(b[1:], math.MaxUint64)
	if !ok || c == 0 {
		return 0, 0, 0, false
	}
	if len(b) != 0 {
		if b[0] != '.' {
			return 0, 0, 0, false
		}
		k, rest, ok := canonicalUint(b[1:], MaxChunks)
		if !ok || len(rest) != 0 || k == 0 {
			return 0, 0, 0, false
		}
		chunk = uint8(k)
	}
	return uint32(in), c, chunk, true
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
