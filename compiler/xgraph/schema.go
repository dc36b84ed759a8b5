package xgraph

import (
	"fmt"
	"slices"
	"sort"

	"argus/internal/geom"
)

// Schema is what Argus knows of one operator of the default domain: the
// attributes it understands with their defaults and valid values, the rule
// that infers its outputs' types and shapes and, for an operator that slides
// a window over its input (convolution, pooling), the geometry of that
// window. Shape inference, the executor and the accelerator's lowering all
// read an operator's attributes through its schema, so that an attribute
// has one default and one meaning.
type Schema struct {
	Op    string
	Attrs []AttrDef
	// Shape infers the node's outputs where the inputs allow; nil leaves
	// what the model declared.
	Shape func(opset int, n *Node)
	// Window returns the node's window over an input whose spatial
	// dimensions are in, for a convolution with weights whose spatial
	// dimensions are kernel (nil for pooling, whose kernel is an
	// attribute). It is nil for operators without a window.
	Window func(n *Node, in, kernel []int) (geom.Window, error)
}

// AttrDef is one attribute of an operator.
type AttrDef struct {
	Name string
	Kind AttrKind
	// Default is the value of an absent attribute; nil when the attribute
	// has no default (it is required, or its absence means something the
	// operator's readers handle, such as an operator-set dependent axis).
	Default *Attr
	// Check, when set, validates a given value.
	Check func(a *Attr) error
}

// schemas maps an operator to its schema. It is filled by init functions
// and only read afterwards.
var schemas = map[string]*Schema{}

func register(s *Schema) {
	if _, dup := schemas[s.Op]; dup {
		panic("xgraph: operator " + s.Op + " registered twice")
	}
	schemas[s.Op] = s
}

// Lookup returns the schema of a default-domain operator.
func Lookup(op string) (*Schema, bool) {
	s, ok := schemas[op]
	return s, ok
}

// Ops returns the operators that have a schema, sorted.
func Ops() []string {
	names := make([]string, 0, len(schemas))
	for k := range schemas {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Attr returns the definition of the attribute name, or nil.
func (s *Schema) Attr(name string) *AttrDef {
	for i := range s.Attrs {
		if s.Attrs[i].Name == name {
			return &s.Attrs[i]
		}
	}
	return nil
}

// AttrError reports an attribute whose value a node's operator does not
// accept: a value of the wrong kind or out of range.
type AttrError struct {
	Node   string // the node's label
	Op     string
	Attr   string
	Reason string
}

func (e *AttrError) Error() string {
	return fmt.Sprintf("node %s: attribute %q: %s", e.Node, e.Attr, e.Reason)
}

// CheckAttrs checks the attributes of n against its operator's schema: an
// operator outside the default domain or without a schema, an attribute
// the schema does not list or one of another kind gives an
// *UnsupportedError; a value its definition rejects gives an *AttrError.
// Both name the node and the attribute.
func CheckAttrs(n *Node) error {
	if n.Domain != "" {
		return &UnsupportedError{Node: n.Label(), Op: n.Op, Reason: fmt.Sprintf("operator domain %q", n.Domain)}
	}
	s, ok := schemas[n.Op]
	if !ok {
		return &UnsupportedError{Node: n.Label(), Op: n.Op, Reason: "operator not implemented"}
	}
	for _, name := range n.AttrNames() {
		d := s.Attr(name)
		if d == nil {
			return Unsupported(n, name, "attribute not implemented")
		}
		a := n.Attrs[name]
		if !d.accepts(a.Kind) {
			// Another kind is another form of the attribute (Cast's
			// type names before set 6, say), not one Argus implements.
			return Unsupported(n, name, "%s value, want %s", a.Kind, d.Kind)
		}
		if d.Check != nil {
			if err := d.Check(a); err != nil {
				return &AttrError{Node: n.Label(), Op: n.Op, Attr: name, Reason: err.Error()}
			}
		}
	}
	return nil
}

// accepts reports whether a value of kind k can stand for the attribute:
// its own kind, or an integer for a float or a one-element list, as the
// accessors read them.
func (d *AttrDef) accepts(k AttrKind) bool {
	switch {
	case k == d.Kind:
		return true
	case k == AttrInt:
		return d.Kind == AttrFloat || d.Kind == AttrInts
	}
	return false
}

// attr returns the node's attribute name, or its default, or nil when it
// is absent and has no default. It panics when the operator's schema does
// not list the attribute: reading an attribute the schema does not know is
// a programming error.
func (n *Node) attr(name string) *Attr {
	if a, ok := n.Attrs[name]; ok {
		return a
	}
	s, ok := schemas[n.Op]
	if !ok || n.Domain != "" {
		panic(fmt.Sprintf("xgraph: attribute %q of operator %s, which has no schema", name, n.Op))
	}
	d := s.Attr(name)
	if d == nil {
		panic(fmt.Sprintf("xgraph: operator %s has no attribute %q in its schema", n.Op, name))
	}
	return d.Default
}

// The constructors of attribute definitions, for the schema tables.

func intAttr(name string, def int64) AttrDef {
	return AttrDef{Name: name, Kind: AttrInt, Default: &Attr{Kind: AttrInt, I: def}}
}

func floatAttr(name string, def float32) AttrDef {
	return AttrDef{Name: name, Kind: AttrFloat, Default: &Attr{Kind: AttrFloat, F: def}}
}

func stringAttr(name, def string) AttrDef {
	return AttrDef{Name: name, Kind: AttrString, Default: &Attr{Kind: AttrString, S: def}}
}

// optional returns the definition of an attribute without a default.
func optional(name string, kind AttrKind) AttrDef { return AttrDef{Name: name, Kind: kind} }

// with returns d with the check added.
func (d AttrDef) with(check func(a *Attr) error) AttrDef {
	d.Check = check
	return d
}

// oneOf accepts a string attribute with one of the values.
func oneOf(values ...string) func(a *Attr) error {
	return func(a *Attr) error {
		if !slices.Contains(values, a.S) {
			return fmt.Errorf("value %q, want one of %q", a.S, values)
		}
		return nil
	}
}

// atLeast accepts integers, or lists of integers, not below lo.
func atLeast(lo int64) func(a *Attr) error {
	return func(a *Attr) error {
		v := a.Ints
		if a.Kind == AttrInt {
			v = []int64{a.I}
		}
		for _, x := range v {
			if x < lo {
				return fmt.Errorf("value %v, want every value at least %d", v, lo)
			}
		}
		return nil
	}
}

// flag accepts 0 and 1.
func flag(a *Attr) error {
	if a.I != 0 && a.I != 1 {
		return fmt.Errorf("value %d, want 0 or 1", a.I)
	}
	return nil
}
