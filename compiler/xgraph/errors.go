package xgraph

import "fmt"

// UnsupportedError reports a model feature that XGraph or the executor
// does not implement: an operator, an attribute or attribute value, or an
// element type. Callers tell it apart from malformed input with errors.As.
type UnsupportedError struct {
	Node   string // the node's label, empty when not about a node
	Op     string
	Attr   string // the attribute, empty when not about one
	Reason string
}

func (e *UnsupportedError) Error() string {
	s := "unsupported"
	if e.Node != "" {
		s += " in node " + e.Node
	}
	if e.Op != "" {
		s += ": operator " + e.Op
	}
	if e.Attr != "" {
		s += fmt.Sprintf(" attribute %q", e.Attr)
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Unsupported returns an UnsupportedError about node n; attr may be empty.
func Unsupported(n *Node, attr, format string, args ...any) error {
	return &UnsupportedError{Node: n.Label(), Op: n.Op, Attr: attr, Reason: fmt.Sprintf(format, args...)}
}
