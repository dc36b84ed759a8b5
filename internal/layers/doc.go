// Package layers holds no code: its test reads the import clauses of every
// Go file in the module and fails when a package imports one from a higher
// layer of the picture in docs/ARCHITECTURE.md, so that the layering is
// checked by `go test ./...` and not only described.
package layers
