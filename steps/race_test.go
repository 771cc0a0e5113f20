//go:build race

package steps

// raceDetector says the tests run under the race detector, which slows byte-heavy work
// about tenfold and changes what the heap holds.
const raceDetector = true
