package record

import "bytes"

// RedactedKeys are the JSON keys whose string values Redact replaces, in
// any object of a frame: the credentials of public/auth (client_secret,
// signature), the tokens it returns and every request may carry
// (access_token, refresh_token), and the names other APIs use for the same.
var RedactedKeys = []string{
	"access_token", "refresh_token", "client_secret", "signature",
	"secret", "api_secret", "password", "token", "passphrase", "private_key",
}

// Redacted is what a redacted value reads.
const Redacted = "[redacted]"

var redactPatterns = func() [][]byte {
	p := make([][]byte, len(RedactedKeys))
	for i, k := range RedactedKeys {
		p[i] = []byte(`"` + k + `"`)
	}
	return p
}()

// Redact returns frame with the string value of every key of RedactedKeys
// replaced by "[redacted]", appended to dst, and whether it changed
// anything. A frame with nothing to redact is returned as it is (not
// copied). A key is matched where it is a key: quoted, not escaped, and
// followed by a colon; a value that is not a string (null, a number) is
// left alone.
func Redact(dst, frame []byte) ([]byte, bool) {
	type span struct{ from, to int }
	var spans []span
	for _, p := range redactPatterns {
		for off := 0; ; {
			i := bytes.Index(frame[off:], p)
			if i < 0 {
				break
			}
			at := off + i
			off = at + len(p)
			if at > 0 && frame[at-1] == '\\' {
				continue
			}
			j := skipSpace(frame, off)
			if j >= len(frame) || frame[j] != ':' {
				continue
			}
			j = skipSpace(frame, j+1)
			if j >= len(frame) || frame[j] != '"' {
				continue
			}
			end := stringEnd(frame, j)
			spans = append(spans, span{j + 1, end})
			off = end
		}
	}
	if len(spans) == 0 {
		return frame, false
	}
	// Spans of different keys never overlap (each is a string value that
	// follows its own key); sort them by position.
	for i := 1; i < len(spans); i++ {
		for k := i; k > 0 && spans[k].from < spans[k-1].from; k-- {
			spans[k], spans[k-1] = spans[k-1], spans[k]
		}
	}
	prev := 0
	for _, s := range spans {
		if s.from < prev {
			continue
		}
		dst = append(dst, frame[prev:s.from]...)
		dst = append(dst, Redacted...)
		prev = s.to
	}
	return append(dst, frame[prev:]...), true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index of the closing quote of the string that
// opens at b[open], or len(b) when it is not closed.
func stringEnd(b []byte, open int) int {
	for i := open + 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return len(b)
}
