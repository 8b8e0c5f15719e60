// This file only fences the Node.js project off from the main Go module:
// `go test ./...` and `go vet ./...` do not walk into a directory with its
// own go.mod, so nothing under node_modules is ever taken for Go code.
module github.com/chainwatch/chainwatch/interop/node

go 1.26.8
