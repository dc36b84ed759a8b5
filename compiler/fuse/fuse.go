// Package fuse finds the fused groups of a quantised model: sets of layers
// the DPU runs without sending the tensors between them through DDR.
//
// As in DNNVM, a fusion template is a small pattern graph of layer kinds
// (Template); its occurrences in the model's layer graph are found by
// subgraph isomorphism (Match: every embedding of the pattern whose edges
// are tensors read by no other layer), and the groups the code generator
// realises are chosen among all the candidates at once, not greedily
// (Select: the non-conflicting set of largest gain, found exactly).
//
// Three kinds of template:
//   - Absorbed: a convolution, fully connected or element-wise layer with
//     its bias and activation (conv+bias+relu, eltwise+relu). The
//     quantiser already lowered them into one layer, since the
//     requantisation applies the activation; Find reports them.
//   - Resident: a convolution or element-wise layer whose whole output fits
//     one feature-map bank group, followed at once by the layer that reads
//     it (conv+pool, conv+eltwise, conv+eltwise+relu, eltwise+pool): the
//     consumer
//     reads the producer's output in the banks, so that tensor is neither
//     saved nor loaded.
//   - Addressed: a layer whose only reader is a concatenation (concat as
//     addressing): it saves its output straight into its channels of the
//     concatenation's output, and the concatenation moves nothing.
package fuse

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"argus/compiler/quant"
	"argus/dpu/ref"
)

// Kind is how the code generator realises a group.
type Kind string

// The kinds of group.
const (
	Absorbed  Kind = "absorbed"
	Resident  Kind = "resident"
	Addressed Kind = "addressed"
)

// Node is one vertex of a template: the layer kinds it matches and, when
// Act is set, only layers with an activation.
type Node struct {
	Ops []quant.Op
	Act bool
	// Plain, when set, matches only layers without an activation.
	Plain bool
}

// Template is a fusion pattern: its nodes, and its edges From → To, each
// a tensor that layer From writes and layer To reads and no other layer
// (nor the model's outputs) reads.
type Template struct {
	Name  string
	Kind  Kind
	Nodes []Node
	Edges [][2]int
}

var (
	convs   = []quant.Op{quant.OpConv, quant.OpDepthwise, quant.OpFC}
	spatial = []quant.Op{quant.OpConv, quant.OpDepthwise}
	eltwise = []quant.Op{quant.OpAdd, quant.OpMul}
	pools   = []quant.Op{quant.OpMaxPool, quant.OpAvgPool}
	writers = []quant.Op{quant.OpConv, quant.OpDepthwise, quant.OpMaxPool, quant.OpAvgPool, quant.OpAdd, quant.OpMul}
	concats = []quant.Op{quant.OpConcat}
	eltAdd  = []quant.Op{quant.OpAdd}
)

// Templates are the fusion templates Find matches, in the order groups are
// reported.
var Templates = []Template{
	{Name: "conv+bias+relu", Kind: Absorbed, Nodes: []Node{{Ops: convs, Act: true}}},
	{Name: "eltwise+relu", Kind: Absorbed, Nodes: []Node{{Ops: eltwise, Act: true}}},
	{Name: "conv+eltwise+relu", Kind: Resident, Nodes: []Node{{Ops: spatial}, {Ops: eltAdd, Act: true}}, Edges: [][2]int{{0, 1}}},
	{Name: "conv+eltwise", Kind: Resident, Nodes: []Node{{Ops: spatial}, {Ops: eltAdd, Plain: true}}, Edges: [][2]int{{0, 1}}},
	{Name: "conv+pool", Kind: Resident, Nodes: []Node{{Ops: spatial}, {Ops: pools}}, Edges: [][2]int{{0, 1}}},
	{Name: "eltwise+pool", Kind: Resident, Nodes: []Node{{Ops: eltwise}, {Ops: pools}}, Edges: [][2]int{{0, 1}}},
	{Name: "concat", Kind: Addressed, Nodes: []Node{{Ops: writers}, {Ops: concats}}, Edges: [][2]int{{0, 1}}},
}

// Graph is the layer graph of a model: for every layer the layers whose
// outputs it reads (Preds, by input) and the layers that read its output
// (Succs), and which tensors the model outputs.
type Graph struct {
	M      *quant.Model
	Preds  [][]int // -1 for the model input
	Succs  [][]int
	Output map[string]bool
}

// NewGraph builds the layer graph of m.
func NewGraph(m *quant.Model) *Graph {
	g := &Graph{M: m, Preds: make([][]int, len(m.Layers)), Succs: make([][]int, len(m.Layers)), Output: map[string]bool{}}
	writer := map[string]int{}
	for i, l := range m.Layers {
		for _, in := range l.Inputs {
			w, ok := writer[in]
			if !ok {
				w = -1
			}
			g.Preds[i] = append(g.Preds[i], w)
			if w >= 0 && !slices.Contains(g.Succs[w], i) {
				g.Succs[w] = append(g.Succs[w], i)
			}
		}
		writer[l.Output] = i
	}
	for _, o := range m.Outputs {
		g.Output[o] = true
	}
	return g
}

// soleReader reports whether layer to is the only reader of layer from's
// output, reading it once, and that output is not a model output.
func (g *Graph) soleReader(from, to int) bool {
	if g.Output[g.M.Layers[from].Output] || len(g.Succs[from]) != 1 || g.Succs[from][0] != to {
		return false
	}
	n := 0
	for _, p := range g.Preds[to] {
		if p == from {
			n++
		}
	}
	return n == 1
}

func (n Node) matches(l *quant.Layer) bool {
	return slices.Contains(n.Ops, l.Op) && (!n.Act || l.Act != ref.ActNone) && (!n.Plain || l.Act == ref.ActNone)
}

// Match returns every embedding of t in g: for each, the layer of every
// template node, by backtracking over the nodes in order, candidates of a
// later node drawn from the neighbours of those already placed.
func Match(g *Graph, t Template) [][]int {
	var out [][]int
	asg := make([]int, len(t.Nodes))
	used := map[int]bool{}
	var place func(k int)
	place = func(k int) {
		if k == len(t.Nodes) {
			out = append(out, slices.Clone(asg))
			return
		}
		for _, c := range candidates(g, t, asg, k) {
			if used[c] || !t.Nodes[k].matches(&g.M.Layers[c]) || !consistent(g, t, asg, k, c) {
				continue
			}
			asg[k], used[c] = c, true
			place(k + 1)
			delete(used, c)
		}
	}
	place(0)
	return out
}

// candidates lists the layers node k may take: the neighbours of an
// already placed node it shares an edge with, or every layer.
func candidates(g *Graph, t Template, asg []int, k int) []int {
	for _, e := range t.Edges {
		switch {
		case e[1] == k && e[0] < k:
			return g.Succs[asg[e[0]]]
		case e[0] == k && e[1] < k:
			var ps []int
			for _, p := range g.Preds[asg[e[1]]] {
				if p >= 0 {
					ps = append(ps, p)
				}
			}
			return ps
		}
	}
	all := make([]int, len(g.M.Layers))
	for i := range all {
		all[i] = i
	}
	return all
}

// consistent checks node k's edges to the nodes already placed.
func consistent(g *Graph, t Template, asg []int, k, c int) bool {
	for _, e := range t.Edges {
		from, to := e[0], e[1]
		if from > k || to > k || (from != k && to != k) {
			continue
		}
		f, d := asg[from], asg[to]
		if from == k {
			f = c
		}
		if to == k {
			d = c
		}
		if !g.soleReader(f, d) {
			return false
		}
	}
	return true
}

// Group is one fused group: its template, its layers (in the template's
// node order), the tensors it keeps out of DDR or out of a copy, and the
// DDR bytes that saves.
type Group struct {
	Template string   `json:"template"`
	Kind     Kind     `json:"kind"`
	Layers   []int    `json:"layers"`
	Tensors  []string `json:"tensors,omitempty"`
	Gain     int64    `json:"gain_bytes"`
}

// Options say which candidates the code generator can realise.
type Options struct {
	// OnDPU reports whether layer i runs on the DPU; a group of Resident or
	// Addressed kind needs all its layers there.
	OnDPU func(i int) bool
	// Whole reports whether the output of layer i is computed in one tile
	// that fits one bank group, as a Resident producer's must be.
	Whole func(i int) bool
	// Same reports whether layers i and j are in one DPU subgraph.
	Same func(i, j int) bool
}

// Candidates returns every realisable occurrence of the templates in m.
// A Resident candidate needs its consumer to be the layer right after its
// producer (nothing may run between them on the banks).
func Candidates(m *quant.Model, o Options) []Group {
	g := NewGraph(m)
	var out []Group
	for _, t := range Templates {
		for _, asg := range Match(g, t) {
			gr := Group{Template: t.Name, Kind: t.Kind, Layers: asg}
			ok := true
			for _, e := range t.Edges {
				name := m.Layers[asg[e[0]]].Output
				gr.Tensors = append(gr.Tensors, name)
				gr.Gain += 2 * int64(tensorBytes(m, name))
			}
			switch t.Kind {
			case Resident:
				p, c := asg[0], asg[1]
				ok = c == p+1 && o.OnDPU(p) && o.OnDPU(c) && o.Same(p, c) && o.Whole(p)
			case Addressed:
				ok = o.OnDPU(asg[0]) && o.OnDPU(asg[1])
			}
			if ok {
				out = append(out, gr)
			}
		}
	}
	return out
}

func tensorBytes(m *quant.Model, name string) int {
	t := m.Tensor(name)
	if t == nil {
		return 0
	}
	return t.Shape[0] * t.Shape[1] * t.Shape[2]
}

// conflict reports whether two candidates cannot both be realised: two
// Resident groups sharing a layer (a layer reads from the banks or leaves
// its output there for one partner only), two Absorbed groups of one
// layer, or two groups keeping the same tensor.
func conflict(a, b Group) bool {
	for _, t := range a.Tensors {
		if slices.Contains(b.Tensors, t) {
			return true
		}
	}
	if a.Kind != b.Kind || a.Kind == Addressed {
		return false
	}
	for _, l := range a.Layers {
		if slices.Contains(b.Layers, l) {
			return true
		}
	}
	return false
}

// maxComponent bounds the candidates of one connected set of conflicts
// that Select searches exhaustively.
const maxComponent = 40

// Select returns the set of non-conflicting candidates of the largest
// total gain (ties: the most groups), found exactly: the conflict graph is
// split into connected components and each is searched by branch and
// bound over its candidates. The groups come back sorted by first layer.
func Select(cands []Group) ([]Group, error) {
	n := len(cands)
	adj := make([][]bool, n)
	for i := range adj {
		adj[i] = make([]bool, n)
	}
	for i := range n {
		for j := i + 1; j < n; j++ {
			if conflict(cands[i], cands[j]) {
				adj[i][j], adj[j][i] = true, true
			}
		}
	}
	seen := make([]bool, n)
	var chosen []Group
	for s := range n {
		if seen[s] {
			continue
		}
		comp := []int{s}
		seen[s] = true
		for k := 0; k < len(comp); k++ {
			for j := range n {
				if adj[comp[k]][j] && !seen[j] {
					seen[j] = true
					comp = append(comp, j)
				}
			}
		}
		if len(comp) > maxComponent {
			return nil, fmt.Errorf("%d fusion candidates conflict with one another (at most %d are searched together)", len(comp), maxComponent)
		}
		for _, i := range best(cands, adj, comp) {
			chosen = append(chosen, cands[i])
		}
	}
	sort.SliceStable(chosen, func(i, j int) bool { return chosen[i].Layers[0] < chosen[j].Layers[0] })
	return chosen, nil
}

// best is the exact maximum-gain independent set of comp.
func best(cands []Group, adj [][]bool, comp []int) []int {
	var bestSet, cur []int
	bestGain, bestN := int64(-1), 0
	rest := make([]int64, len(comp)+1) // gain still available from k on
	for k := len(comp) - 1; k >= 0; k-- {
		rest[k] = rest[k+1] + cands[comp[k]].Gain
	}
	var walk func(k int, gain int64)
	walk = func(k int, gain int64) {
		if gain+rest[k] < bestGain {
			return
		}
		if k == len(comp) {
			if gain > bestGain || (gain == bestGain && len(cur) > bestN) {
				bestGain, bestN, bestSet = gain, len(cur), slices.Clone(cur)
			}
			return
		}
		i := comp[k]
		free := true
		for _, c := range cur {
			if adj[i][c] {
				free = false
				break
			}
		}
		if free {
			cur = append(cur, i)
			walk(k+1, gain+cands[i].Gain)
			cur = cur[:len(cur)-1]
		}
		walk(k+1, gain)
	}
	walk(0, 0)
	return bestSet
}

// Find returns the fused groups of m: the candidates, then the best set of
// them. Absorbed groups have no gain of their own here (the quantiser
// merged them) and never conflict, so they are always in.
func Find(m *quant.Model, o Options) ([]Group, error) {
	return Select(Candidates(m, o))
}

// String names a group by its template and layers.
func (g Group) String() string {
	parts := make([]string, len(g.Layers))
	for i, l := range g.Layers {
		parts[i] = fmt.Sprint(l)
	}
	return g.Template + "[" + strings.Join(parts, ",") + "]"
}
