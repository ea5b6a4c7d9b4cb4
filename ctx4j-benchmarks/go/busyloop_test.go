// Package ctx4jbench holds the one Go benchmark that Go's own context suite lacks: the dummy
// work of BenchmarkCommonParentCancel on its own, run the same way (RunParallel, two hundred
// divisions per operation), so that the report can subtract it and compare context overhead.
package ctx4jbench

import "testing"

func BenchmarkBusyLoopBaseline(b *testing.B) {
	b.RunParallel(func(pb *testing.PB) {
		x := 0
		for pb.Next() {
			for i := 0; i < 100; i++ {
				x /= x + 1
			}
			for i := 0; i < 100; i++ {
				x /= x + 1
			}
		}
		sink = x
	})
}

// sink keeps the compiler from discarding the loop.
var sink int
