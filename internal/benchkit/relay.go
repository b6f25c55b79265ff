package benchkit

import (
	"bufio"
	"bytes"
	"io"
	"slices"
)

// RelayWebSocket copies a WebSocket connection's bytes from src to dst: the
// HTTP handshake, then frames, calling text with the (unmasked) payload of
// each text frame as soon as it is read, before it is forwarded (timing a
// frame after forwarding it lets its answer be read first, and pair with
// the wrong request).
func RelayWebSocket(dst io.Writer, src io.Reader, text func([]byte)) {
	rd := bufio.NewReaderSize(src, 64<<10)
	w := bufio.NewWriterSize(dst, 64<<10)
	for { // the handshake, up to its empty line
		line, err := rd.ReadBytes('\n')
		if _, werr := w.Write(line); err != nil || werr != nil {
			return
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			break
		}
	}
	if w.Flush() != nil {
		return
	}
	var hdr [14]byte
	var payload, plain []byte
	for {
		if _, err := io.ReadFull(rd, hdr[:2]); err != nil {
			return
		}
		n, h := uint64(hdr[1]&0x7f), 2
		switch n {
		case 126:
			h += 2
		case 127:
			h += 8
		}
		masked := hdr[1]&0x80 != 0
		if masked {
			h += 4
		}
		if _, err := io.ReadFull(rd, hdr[2:h]); err != nil {
			return
		}
		switch n {
		case 126:
			n = uint64(hdr[2])<<8 | uint64(hdr[3])
		case 127:
			n = 0
			for _, c := range hdr[2:10] {
				n = n<<8 | uint64(c)
			}
		}
		if n > 64<<20 {
			return
		}
		payload = slices.Grow(payload[:0], int(n))[:n]
		if _, err := io.ReadFull(rd, payload); err != nil {
			return
		}
		isText := hdr[0]&0x0f == 1
		// text sees a frame before it is forwarded: a server frame's answer
		// could otherwise come back before text has seen the frame.
		if isText && masked { // a client frame: unmask it to look at it
			key := hdr[h-4 : h]
			plain = slices.Grow(plain[:0], int(n))[:n]
			for i := range plain {
				plain[i] = payload[i] ^ key[i&3]
			}
			text(plain)
		} else if isText {
			text(payload)
		}
		_, _ = w.Write(hdr[:h])
		_, _ = w.Write(payload)
		if w.Flush() != nil {
			return
		}
	}
}
