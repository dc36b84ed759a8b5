// Package xgraph is the compiler's graph IR: a typed DAG of operators over
// tensors with element types and shapes, as DNNVM's XGraph. Models from
// the frameworks (see package onnx) become a Graph; passes rewrite it
// (constant folding, identity and dropout removal, batch-norm folding, dead
// node removal); the reference executor (package executor) runs it, and
// later stages lower it to the accelerator.
//
// Operators keep ONNX's names and attribute conventions (NCHW layout,
// "pads" as begin values then end values). Each has one Schema (Lookup):
// its attributes with their kinds, defaults and valid values, its shape
// rule and, for convolution and pooling, its window as a geom.Window.
// Node's attribute accessors take their defaults from it, and Window
// resolves a node's window, so that shape inference, the executor and the
// lowering agree on what an attribute means.
package xgraph

import (
	"fmt"
	"sort"
)

// Graph is a DAG of operator nodes. Values are edges: each is produced by
// one node, is a graph input, or is a constant (an initialiser).
type Graph struct {
	Name    string
	Opset   int // the default-domain operator set version
	Inputs  []*Value
	Outputs []*Value
	Nodes   []*Node
}

// Value is a tensor flowing along the graph's edges.
type Value struct {
	Name  string
	DType DType // Undefined until known
	// Shape holds the dimensions, -1 where a dimension is unknown (a
	// dynamic batch, say). Ranked is false when even the rank is unknown.
	Shape  []int
	Ranked bool
	// Const holds the value of a constant (an initialiser or a folded
	// result); nil for computed values.
	Const *Tensor
	// Producer is the node that computes the value, nil for inputs and
	// constants.
	Producer *Node
}

// Node is one operator application. An omitted optional input is nil.
type Node struct {
	Name    string
	Op      string
	Domain  string
	Inputs  []*Value
	Outputs []*Value
	Attrs   map[string]*Attr
}

// AttrKind is the type of an attribute's value.
type AttrKind int

// The attribute kinds.
const (
	AttrFloat AttrKind = iota + 1
	AttrInt
	AttrString
	AttrTensor
	AttrFloats
	AttrInts
	AttrStrings
	AttrGraph // a subgraph; its body is not imported
)

var attrKindNames = map[AttrKind]string{
	AttrFloat: "float", AttrInt: "int", AttrString: "string", AttrTensor: "tensor",
	AttrFloats: "floats", AttrInts: "ints", AttrStrings: "strings", AttrGraph: "graph",
}

// String returns the kind's name.
func (k AttrKind) String() string { return attrKindNames[k] }

// Attr is a node attribute; the field matching Kind holds its value.
type Attr struct {
	Kind    AttrKind
	F       float32
	I       int64
	S       string
	T       *Tensor
	Floats  []float32
	Ints    []int64
	Strings []string
}

// Input returns the node's i-th input, or nil when it is absent.
func (n *Node) Input(i int) *Value {
	if i < len(n.Inputs) {
		return n.Inputs[i]
	}
	return nil
}

// Label returns "name (Op)", or just the operator when the node has no name,
// for error messages.
func (n *Node) Label() string {
	if n.Name == "" {
		if len(n.Outputs) > 0 && n.Outputs[0] != nil {
			return fmt.Sprintf("%s -> %s", n.Op, n.Outputs[0].Name)
		}
		return n.Op
	}
	return fmt.Sprintf("%s (%s)", n.Name, n.Op)
}

// Int returns the integer attribute name, or its default from the
// operator's schema, or 0 when it has none. Like the other accessors it
// panics when the schema does not list the attribute.
func (n *Node) Int(name string) int64 {
	if a := n.attr(name); a != nil && a.Kind == AttrInt {
		return a.I
	}
	return 0
}

// Float returns the float attribute name (an integer converted), or its
// default, or 0 when it has none.
func (n *Node) Float(name string) float32 {
	if a := n.attr(name); a != nil {
		switch a.Kind {
		case AttrFloat:
			return a.F
		case AttrInt:
			return float32(a.I)
		}
	}
	return 0
}

// String returns the string attribute name, or its default, or "" when it
// has none.
func (n *Node) String(name string) string {
	if a := n.attr(name); a != nil && a.Kind == AttrString {
		return a.S
	}
	return ""
}

// Ints returns the integer-list attribute name (a single integer as a list
// of one), or its default, or nil when it has none.
func (n *Node) Ints(name string) []int64 {
	if a := n.attr(name); a != nil {
		switch a.Kind {
		case AttrInts:
			return a.Ints
		case AttrInt:
			return []int64{a.I}
		}
	}
	return nil
}

// Floats returns the float-list attribute name, or its default, or nil
// when it has none.
func (n *Node) Floats(name string) []float32 {
	if a := n.attr(name); a != nil && a.Kind == AttrFloats {
		return a.Floats
	}
	return nil
}

// Tensor returns the tensor attribute name, or nil when it is absent or
// holds no tensor.
func (n *Node) Tensor(name string) *Tensor {
	if a := n.attr(name); a != nil && a.Kind == AttrTensor {
		return a.T
	}
	return nil
}

// Has reports whether the node carries the attribute name.
func (n *Node) Has(name string) bool {
	_, ok := n.Attrs[name]
	return ok
}

// AttrNames returns the node's attribute names in sorted order.
func (n *Node) AttrNames() []string {
	names := make([]string, 0, len(n.Attrs))
	for k := range n.Attrs {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Consumers returns, for every value, the nodes that read it.
func (g *Graph) Consumers() map[*Value][]*Node {
	m := make(map[*Value][]*Node)
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in != nil {
				m[in] = append(m[in], n)
			}
		}
	}
	return m
}

// Values returns every value of the graph (inputs, constants, node outputs)
// in a deterministic order.
func (g *Graph) Values() []*Value {
	seen := make(map[*Value]bool)
	var out []*Value
	add := func(v *Value) {
		if v != nil && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	for _, v := range g.Inputs {
		add(v)
	}
	for _, n := range g.Nodes {
		for _, v := range n.Inputs {
			add(v)
		}
		for _, v := range n.Outputs {
			add(v)
		}
	}
	for _, v := range g.Outputs {
		add(v)
	}
	return out
}

// Sort orders g.Nodes topologically, keeping the original order among
// independent nodes. It fails if the graph has a cycle or a node reads a
// value that nothing provides.
func (g *Graph) Sort() error {
	avail := make(map[*Value]bool)
	for _, v := range g.Inputs {
		avail[v] = true
	}
	for _, v := range g.Values() {
		if v.Const != nil {
			avail[v] = true
		}
	}
	producer := make(map[*Value]*Node)
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o != nil {
				if p, dup := producer[o]; dup {
					return fmt.Errorf("value %q is produced by %s and %s", o.Name, p.Label(), n.Label())
				}
				producer[o] = n
			}
		}
	}
	pending := make(map[*Node]int)
	waiting := make(map[*Value][]*Node)
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in == nil || avail[in] {
				continue
			}
			if producer[in] == nil {
				return fmt.Errorf("node %s: input %q is not produced by any node", n.Label(), in.Name)
			}
			pending[n]++
			waiting[in] = append(waiting[in], n)
		}
	}
	index := make(map[*Node]int, len(g.Nodes))
	for i, n := range g.Nodes {
		index[n] = i
	}
	// Ready nodes are kept sorted by original position so the order is
	// stable and deterministic.
	var ready []*Node
	for _, n := range g.Nodes {
		if pending[n] == 0 {
			ready = append(ready, n)
		}
	}
	order := make([]*Node, 0, len(g.Nodes))
	for len(ready) > 0 {
		n := ready[0]
		ready = ready[1:]
		order = append(order, n)
		for _, o := range n.Outputs {
			if o == nil {
				continue
			}
			for _, c := range waiting[o] {
				pending[c]--
				if pending[c] == 0 {
					ready = insertSorted(ready, c, index)
				}
			}
			delete(waiting, o)
		}
	}
	if len(order) != len(g.Nodes) {
		for _, n := range g.Nodes {
			if pending[n] > 0 {
				return fmt.Errorf("graph has a cycle through node %s", n.Label())
			}
		}
	}
	g.Nodes = order
	for _, v := range g.Outputs {
		if !avail[v] && producer[v] == nil {
			return fmt.Errorf("graph output %q is not produced by any node", v.Name)
		}
	}
	return nil
}

func insertSorted(ready []*Node, n *Node, index map[*Node]int) []*Node {
	i := sort.Search(len(ready), func(i int) bool { return index[ready[i]] > index[n] })
	ready = append(ready, nil)
	copy(ready[i+1:], ready[i:])
	ready[i] = n
	return ready
}

// link sets the Producer of every node output.
func (g *Graph) link() {
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o != nil {
				o.Producer = n
			}
		}
	}
}

// Validate checks that g is well formed: sorted topologically, every input
// available before use, each value produced once.
func (g *Graph) Validate() error {
	if err := g.Sort(); err != nil {
		return err
	}
	g.link()
	return nil
}
