//go:build !mpi

package train

import "testing"

// runTests runs the tests of the default build.
func runTests(m *testing.M) int { return m.Run() }
