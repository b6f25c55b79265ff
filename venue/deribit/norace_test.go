//go:build !race

package deribit

const raceEnabled = false
