#!/usr/bin/env bash
# gen.sh regenerates compiler/onnx/onnxpb/onnx.pb.go from compiler/onnx/onnxpb/onnx.proto.
#
# onnx.proto is the public ONNX schema (ONNX 1.12, IR version 8) as shipped by
# Debian's libonnx-dev (/usr/include/onnx/onnx.proto). The Go code is produced
# by protoc (Debian protobuf-compiler 3.21.12) and protoc-gen-go v1.36.12:
#
#   apt-get install protobuf-compiler
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
#   tools/onnxgen/gen.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PATH="$(go env GOPATH)/bin:$PATH"
protoc \
  --proto_path=compiler/onnx/onnxpb \
  --go_out=compiler/onnx/onnxpb \
  --go_opt=paths=source_relative \
  --go_opt=Monnx.proto=argus/compiler/compiler/onnx/onnxpb \
  onnx.proto
