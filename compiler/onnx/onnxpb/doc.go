// Package onnxpb holds the ONNX protobuf message types (ModelProto,
// GraphProto, TensorProto, ...) generated from the public onnx.proto schema
// by protoc-gen-go; tools/onnxgen/gen.sh regenerates them.
package onnxpb
