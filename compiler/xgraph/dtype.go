package xgraph

import "fmt"

// DType is an element type. Its values are those of ONNX's
// TensorProto.DataType, so a model's type codes convert without a table.
type DType int32

// The element types XGraph knows. Float types are held as float32 by Tensor,
// integer and boolean types as int64.
const (
	Undefined DType = 0
	Float32   DType = 1
	Uint8     DType = 2
	Int8      DType = 3
	Uint16    DType = 4
	Int16     DType = 5
	Int32     DType = 6
	Int64     DType = 7
	String    DType = 8
	Bool      DType = 9
	Float16   DType = 10
	Float64   DType = 11
	Uint32    DType = 12
	Uint64    DType = 13
	BFloat16  DType = 16
)

var dtypeNames = map[DType]string{
	Undefined: "undefined", Float32: "float32", Uint8: "uint8", Int8: "int8",
	Uint16: "uint16", Int16: "int16", Int32: "int32", Int64: "int64",
	String: "string", Bool: "bool", Float16: "float16", Float64: "float64",
	Uint32: "uint32", Uint64: "uint64", BFloat16: "bfloat16",
}

// String returns the type's name, such as "float32".
func (d DType) String() string {
	if s, ok := dtypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("dtype(%d)", int32(d))
}

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool {
	return d == Float32 || d == Float64 || d == Float16 || d == BFloat16
}

// IsInt reports whether d is an integer or boolean type, held as int64.
func (d DType) IsInt() bool {
	switch d {
	case Uint8, Int8, Uint16, Int16, Int32, Int64, Bool, Uint32, Uint64:
		return true
	}
	return false
}

// Supported reports whether Tensor can hold values of type d.
func (d DType) Supported() bool { return d.IsFloat() || d.IsInt() }

// Wrap returns v converted to type d the way a C cast or numpy's astype
// does: integers wrap around, booleans become 0 or 1.
func (d DType) Wrap(v int64) int64 {
	switch d {
	case Bool:
		if v != 0 {
			return 1
		}
		return 0
	case Uint8:
		return int64(uint8(v))
	case Int8:
		return int64(int8(v))
	case Uint16:
		return int64(uint16(v))
	case Int16:
		return int64(int16(v))
	case Int32:
		return int64(int32(v))
	case Uint32:
		return int64(uint32(v))
	}
	return v
}
