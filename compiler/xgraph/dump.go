package xgraph

import (
	"fmt"
	"html"
	"io"
	"sort"
	"strconv"
	"strings"
)

// ShapeString formats a value's type and shape as "float32[? 3 224 224]",
// with ? for unknown dimensions.
func (v *Value) ShapeString() string {
	if !v.Ranked {
		return v.DType.String() + "[?...]"
	}
	parts := make([]string, len(v.Shape))
	for i, d := range v.Shape {
		if d < 0 {
			parts[i] = "?"
		} else {
			parts[i] = strconv.Itoa(d)
		}
	}
	return v.DType.String() + "[" + strings.Join(parts, " ") + "]"
}

// attrString formats an attribute value compactly.
func attrString(a *Attr) string {
	switch a.Kind {
	case AttrFloat:
		return strconv.FormatFloat(float64(a.F), 'g', -1, 32)
	case AttrInt:
		return strconv.FormatInt(a.I, 10)
	case AttrString:
		return strconv.Quote(a.S)
	case AttrTensor:
		if a.T == nil {
			return "tensor"
		}
		return a.T.String()
	case AttrFloats:
		return fmt.Sprint(a.Floats)
	case AttrInts:
		return fmt.Sprint(a.Ints)
	case AttrStrings:
		return fmt.Sprintf("%q", a.Strings)
	case AttrGraph:
		return "graph"
	}
	return "?"
}

func valueRef(v *Value) string {
	if v == nil {
		return "_"
	}
	if v.Const != nil {
		return "@" + v.Name
	}
	return "%" + v.Name
}

// Summary counts a graph's nodes per operator and its constant parameters.
type Summary struct {
	Nodes      int            `json:"nodes"`
	Ops        map[string]int `json:"ops"`
	Constants  int            `json:"constants"`
	Parameters int            `json:"parameters"`
}

// Summarize returns the graph's summary.
func (g *Graph) Summarize() Summary {
	s := Summary{Nodes: len(g.Nodes), Ops: map[string]int{}}
	for _, n := range g.Nodes {
		s.Ops[n.Op]++
	}
	for _, v := range g.Values() {
		if v.Const != nil {
			s.Constants++
			s.Parameters += v.Const.Len()
		}
	}
	return s
}

// Dump writes a readable listing of the graph: inputs, one line per node
// in topological order with its attributes and output types, and outputs.
// Constants are written @name, computed values %name.
func (g *Graph) Dump(w io.Writer) error {
	var b strings.Builder
	s := g.Summarize()
	fmt.Fprintf(&b, "graph %q opset %d: %d nodes, %d constants (%d parameters)\n", g.Name, g.Opset, s.Nodes, s.Constants, s.Parameters)
	for _, v := range g.Inputs {
		fmt.Fprintf(&b, "input  %%%s: %s\n", v.Name, v.ShapeString())
	}
	for _, n := range g.Nodes {
		outs := make([]string, 0, len(n.Outputs))
		for _, o := range n.Outputs {
			if o != nil {
				outs = append(outs, "%"+o.Name)
			}
		}
		ins := make([]string, len(n.Inputs))
		for i, v := range n.Inputs {
			ins[i] = valueRef(v)
		}
		op := n.Op
		if n.Domain != "" {
			op = n.Domain + "." + op
		}
		fmt.Fprintf(&b, "%s = %s(%s)", strings.Join(outs, ", "), op, strings.Join(ins, ", "))
		if len(n.Attrs) > 0 {
			parts := make([]string, 0, len(n.Attrs))
			for _, k := range n.AttrNames() {
				parts = append(parts, k+"="+attrString(n.Attrs[k]))
			}
			fmt.Fprintf(&b, " {%s}", strings.Join(parts, ", "))
		}
		types := make([]string, 0, len(n.Outputs))
		for _, o := range n.Outputs {
			if o != nil {
				types = append(types, o.ShapeString())
			}
		}
		fmt.Fprintf(&b, " : %s", strings.Join(types, ", "))
		if n.Name != "" {
			fmt.Fprintf(&b, "  # %s", n.Name)
		}
		b.WriteByte('\n')
	}
	for _, v := range g.Outputs {
		fmt.Fprintf(&b, "output %s: %s\n", valueRef(v), v.ShapeString())
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// layout places the graph's nodes for drawing: inputs and nodes get a layer
// (the longest path from an input) and a position within the layer.
type layout struct {
	boxes  []box
	edges  [][2]int // indices into boxes
	label  []string // edge labels (value shapes)
	layers int
	width  int // the most boxes in one layer
}

type box struct {
	title, sub string
	layer, pos int
	kind       string // "input", "output" or "op"
}

func (g *Graph) layout() *layout {
	l := &layout{}
	src := map[*Value]int{}
	for _, v := range g.Inputs {
		src[v] = len(l.boxes)
		l.boxes = append(l.boxes, box{title: v.Name, sub: v.ShapeString(), kind: "input"})
	}
	for _, n := range g.Nodes {
		id := len(l.boxes)
		layer := 0
		var consts []string
		for _, v := range n.Inputs {
			if v == nil {
				continue
			}
			if v.Const != nil {
				consts = append(consts, shortShape(v))
				continue
			}
			if s, ok := src[v]; ok {
				layer = max(layer, l.boxes[s].layer+1)
				l.edges = append(l.edges, [2]int{s, id})
				l.label = append(l.label, v.ShapeString())
			}
		}
		sub := n.Name
		if len(consts) > 0 {
			sub = strings.TrimSpace(sub + " " + strings.Join(consts, " "))
		}
		l.boxes = append(l.boxes, box{title: n.Op, sub: sub, layer: layer, kind: "op"})
		for _, o := range n.Outputs {
			if o != nil {
				src[o] = id
			}
		}
	}
	for _, v := range g.Outputs {
		id := len(l.boxes)
		layer := 0
		if s, ok := src[v]; ok {
			layer = l.boxes[s].layer + 1
			l.edges = append(l.edges, [2]int{s, id})
			l.label = append(l.label, v.ShapeString())
		}
		l.boxes = append(l.boxes, box{title: v.Name, sub: v.ShapeString(), layer: layer, kind: "output"})
	}
	count := map[int]int{}
	for i := range l.boxes {
		b := &l.boxes[i]
		b.pos = count[b.layer]
		count[b.layer]++
		l.layers = max(l.layers, b.layer+1)
		l.width = max(l.width, count[b.layer])
	}
	return l
}

func shortShape(v *Value) string {
	parts := make([]string, len(v.Shape))
	for i, d := range v.Shape {
		parts[i] = strconv.Itoa(d)
	}
	return "⟨" + strings.Join(parts, "×") + "⟩"
}

// DOT writes the graph in Graphviz's DOT language: one box per operator,
// ellipses for inputs and outputs, edges labelled with the values' shapes.
func (g *Graph) DOT(w io.Writer) error {
	l := g.layout()
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %s {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=8];\n", strconv.Quote(g.Name))
	for i, bx := range l.boxes {
		shape := "box, style=\"rounded,filled\", fillcolor=\"#e8eef7\""
		if bx.kind != "op" {
			shape = "ellipse, style=filled, fillcolor=\"#f3f3f3\""
		}
		label := bx.title
		if bx.sub != "" {
			label += "\n" + bx.sub
		}
		fmt.Fprintf(&b, "  n%d [label=%s, shape=%s];\n", i, strconv.Quote(label), shape)
	}
	for i, e := range l.edges {
		fmt.Fprintf(&b, "  n%d -> n%d [label=%s];\n", e[0], e[1], strconv.Quote(l.label[i]))
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// SVG draws the graph as an SVG image with a layered layout of its own
// (no Graphviz needed): layers run top to bottom, each box holds the
// operator and its name, edges carry the values' shapes.
func (g *Graph) SVG(w io.Writer) error {
	l := g.layout()
	const bw, bh, gx, gy, margin = 180, 40, 30, 46, 20
	// Centre each layer horizontally.
	count := map[int]int{}
	for _, bx := range l.boxes {
		count[bx.layer]++
	}
	width := margin*2 + l.width*bw + max(l.width-1, 0)*gx
	height := margin*2 + l.layers*bh + max(l.layers-1, 0)*gy
	xy := func(bx box) (int, int) {
		rowW := count[bx.layer]*bw + (count[bx.layer]-1)*gx
		x := (width-rowW)/2 + bx.pos*(bw+gx)
		y := margin + bx.layer*(bh+gy)
		return x, y
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica,Arial,sans-serif">`+"\n", width, height, width, height)
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>` + "\n")
	order := make([]int, len(l.edges))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return l.edges[order[i]][0] < l.edges[order[j]][0] })
	for _, i := range order {
		e := l.edges[i]
		x1, y1 := xy(l.boxes[e[0]])
		x2, y2 := xy(l.boxes[e[1]])
		x1, y1 = x1+bw/2, y1+bh
		x2 += bw / 2
		fmt.Fprintf(&b, `<path d="M%d,%d C%d,%d %d,%d %d,%d" fill="none" stroke="#555" marker-end="url(#arrow)"/>`+"\n", x1, y1, x1, y1+gy/2, x2, y2-gy/2, x2, y2)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="8" fill="#777">%s</text>`+"\n", (x1+x2)/2+3, (y1+y2)/2, html.EscapeString(l.label[i]))
	}
	for _, bx := range l.boxes {
		x, y := xy(bx)
		fill, rx := "#e8eef7", 6
		if bx.kind != "op" {
			fill, rx = "#f3f3f3", 18
		}
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" rx="%d" fill="%s" stroke="#345"/>`+"\n", x, y, bw, bh, rx, fill)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12" text-anchor="middle" font-weight="bold">%s</text>`+"\n", x+bw/2, y+16, html.EscapeString(clip(bx.title, 26)))
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="9" text-anchor="middle" fill="#333">%s</text>`+"\n", x+bw/2, y+31, html.EscapeString(clip(bx.sub, 34)))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
