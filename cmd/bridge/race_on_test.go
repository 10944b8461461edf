//go:build race

package main

// raceEnabled: timing goals (budget utilisation) are not asserted under the
// race detector, which slows the bridge down by an order of magnitude.
const raceEnabled = true
