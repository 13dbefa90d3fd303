//go:build race

package gbrt

const raceEnabled = true
