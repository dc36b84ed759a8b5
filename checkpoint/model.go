package checkpoint

import (
	"fmt"
	"sort"
	"strings"

	"argus/nn"
	"argus/optim"
	"argus/tensor"
)

// Prefixes that keep optimiser state and other training state apart from
// model weights. A slash never occurs in PyTorch state-dict names, so these
// cannot collide with a module's parameters.
const (
	optimPrefix = "optim/"
	extraPrefix = "extra/"
)

// Metadata keys written by Save. MetaClasses, when present, holds the
// number of classes of a model whose registry entry takes any number
// (models.Spec.WithClasses), as a decimal integer, so that export and
// evaluation rebuild the model the checkpoint holds.
const (
	MetaModel   = "model"
	MetaEpoch   = "epoch"
	MetaStep    = "step"
	MetaClasses = "classes"
)

// Contents is what Save stores besides the model weights.
type Contents struct {
	// Optimizer, when not nil, has its state stored too.
	Optimizer optim.Optimizer
	// Extra holds further named byte strings, such as a random generator's
	// state, stored as U8 tensors.
	Extra map[string][]byte
	// Metadata holds strings such as the model name, the configuration,
	// epoch, step and metrics (as JSON).
	Metadata map[string]string
}

// EncodeModel builds a safetensors file holding m's state dict under PyTorch's
// names and the given contents.
func EncodeModel(m nn.Module, c Contents) (*File, error) {
	f := NewFile()
	for k, v := range c.Metadata {
		f.Metadata[k] = v
	}
	for _, s := range nn.StateDict(m) {
		e := Float32Entry(s.Value)
		if s.Integer {
			vals := make([]int64, s.Value.Len())
			for i, v := range s.Value.Data() {
				vals[i] = int64(v)
			}
			e = Int64Entry(vals, s.Value.Shape()...)
		}
		if err := f.Add(s.Name, e); err != nil {
			return nil, err
		}
	}
	if c.Optimizer != nil {
		st := c.Optimizer.State()
		keys := make([]string, 0, len(st))
		for k := range st {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if err := f.Add(optimPrefix+k, Float32Entry(st[k])); err != nil {
				return nil, err
			}
		}
	}
	keys := make([]string, 0, len(c.Extra))
	for k := range c.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := f.Add(extraPrefix+k, Uint8Entry(c.Extra[k], len(c.Extra[k]))); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// Save writes m and the given contents to path atomically.
func Save(path string, m nn.Module, c Contents) error {
	f, err := EncodeModel(m, c)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return WriteFile(path, f)
}

// MismatchError lists every difference between a checkpoint and the model it
// is loaded into.
type MismatchError struct {
	Missing    []string // in the model, not in the file
	Unexpected []string // in the file, not in the model
	Shapes     []string // "name: file [..], model [..]"
}

func (e *MismatchError) Error() string {
	var parts []string
	add := func(label string, names []string) {
		if len(names) == 0 {
			return
		}
		const show = 8
		s := label + " " + strings.Join(names[:min(show, len(names))], ", ")
		if len(names) > show {
			s += fmt.Sprintf(" and %d more", len(names)-show)
		}
		parts = append(parts, s)
	}
	add("wrong shape:", e.Shapes)
	add("missing:", e.Missing)
	add("unexpected:", e.Unexpected)
	return "checkpoint does not match the model: " + strings.Join(parts, "; ")
}

// LoadModel copies the weights and buffers in f into m. It checks every
// name and shape first and, if anything differs, changes nothing and returns
// a *MismatchError naming each difference. Entries holding optimiser or
// extra state are ignored here.
func LoadModel(f *File, m nn.Module) error {
	states := nn.StateDict(m)
	var mis MismatchError
	vals := make([]*tensor.Tensor, len(states))
	known := map[string]bool{}
	for i, s := range states {
		known[s.Name] = true
		e, ok := f.Tensors[s.Name]
		if !ok {
			mis.Missing = append(mis.Missing, s.Name)
			continue
		}
		if !tensor.EqualShapes(e.Shape, s.Value.Shape()) {
			mis.Shapes = append(mis.Shapes, fmt.Sprintf("%s (file %v, model %v)", s.Name, e.Shape, s.Value.Shape()))
			continue
		}
		t, err := e.Float32()
		if err != nil {
			mis.Shapes = append(mis.Shapes, fmt.Sprintf("%s (%v)", s.Name, err))
			continue
		}
		vals[i] = t
	}
	for _, name := range f.Names {
		if !known[name] && !strings.HasPrefix(name, optimPrefix) && !strings.HasPrefix(name, extraPrefix) {
			mis.Unexpected = append(mis.Unexpected, name)
		}
	}
	if len(mis.Missing)+len(mis.Unexpected)+len(mis.Shapes) > 0 {
		return &mis
	}
	for i, s := range states {
		s.Value.CopyFrom(vals[i])
	}
	return nil
}

// LoadOptimizer restores the optimiser state stored in f.
func LoadOptimizer(f *File, o optim.Optimizer) error {
	st := map[string]*tensor.Tensor{}
	for _, name := range f.Names {
		if k, ok := strings.CutPrefix(name, optimPrefix); ok {
			t, err := f.Tensors[name].Float32()
			if err != nil {
				return fmt.Errorf("optimiser state %s: %w", k, err)
			}
			st[k] = t
		}
	}
	return o.LoadState(st)
}

// Extra returns the extra byte string stored under name by Save.
func (f *File) Extra(name string) ([]byte, bool) {
	e, ok := f.Tensors[extraPrefix+name]
	if !ok || e.DType != U8 {
		return nil, false
	}
	return e.Data, true
}
