package layers

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// module is the module path of go.mod.
const module = "argus"

// layers lists the layers from the bottom up, each with the packages that
// belong to it: a name stands for that package and every package under it.
// A package may import packages of its own layer or of a lower one. The
// list follows docs/ARCHITECTURE.md; a new package must be placed here,
// and names of packages still to come may be listed ahead of their code.
var layers = []struct {
	name     string
	packages []string
}{
	{"internal", []string{"internal"}},
	{"tensor", []string{"tensor"}},
	{"autograd", []string{"autograd"}},
	{"nn", []string{"nn", "optim", "checkpoint", "infer"}},
	{"data", []string{"data"}},
	{"hpo, dist", []string{"hpo", "dist"}},
	{"dpu", []string{"dpu"}},
	{"compiler", []string{"compiler"}},
	{"methods", []string{"box", "boxloss", "assign", "coco", "detect", "reid", "cluster", "fourier", "segmetric", "dcal"}},
	{"models", []string{"models"}},
	{"train", []string{"train"}},
	{"tasks", []string{"tasks"}},
	{"serve", []string{"serve"}},
	{"commands", []string{"cmd", "tools"}},
}

// layerOf returns the index in layers of the package at path (relative to
// the module root, "/"-separated), or -1 if no layer holds it.
func layerOf(path string) int {
	for i, l := range layers {
		for _, p := range l.packages {
			if path == p || strings.HasPrefix(path, p+"/") {
				return i
			}
		}
	}
	return -1
}

func TestLayerOf(t *testing.T) {
	tests := []struct {
		path string
		want string
	}{
		{"internal/kernels", "internal"},
		{"tensor", "tensor"},
		{"data/cocofile", "data"},
		{"compiler/onnx/onnxpb", "compiler"},
		{"compiler/schedule", "compiler"},
		{"reid/rerank", "methods"},
		{"boxloss", "methods"},
		{"tasks/classify", "tasks"},
		{"cmd/argus", "commands"},
		{"tensorx", ""},
		{"datasets/x", ""},
	}
	for _, tt := range tests {
		got := ""
		if i := layerOf(tt.path); i >= 0 {
			got = layers[i].name
		}
		if got != tt.want {
			t.Errorf("layerOf(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

// edge is an import of package to by package from, seen in file.
type edge struct {
	from, to, file string
}

// moduleRoot returns the folder of go.mod above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
		dir = up
	}
}

// imports returns the module's packages (their folders relative to root)
// and their imports of one another, read from every .go file under root,
// tests and files of every build tag included. Folders named testdata,
// hidden ones and nested modules are skipped, as the go command skips them.
func imports(root string) (pkgs map[string]bool, edges []edge, err error) {
	pkgs = map[string]bool{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil && p != root {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		file, _ := filepath.Rel(root, p)
		pkgs[filepath.ToSlash(rel)] = true
		for _, im := range f.Imports {
			path, err := strconv.Unquote(im.Path.Value)
			if err != nil {
				return fmt.Errorf("%s: import %s: %w", p, im.Path.Value, err)
			}
			if to, ok := strings.CutPrefix(path, module+"/"); ok {
				edges = append(edges, edge{filepath.ToSlash(rel), to, filepath.ToSlash(file)})
			}
		}
		return nil
	})
	return pkgs, edges, err
}

// TestLayers fails for every package that no layer holds and for every
// import of a higher layer's package.
func TestLayers(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	pkgs, edges, err := imports(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(edges) == 0 {
		t.Fatalf("no imports of %s packages under %s", module, root)
	}
	for _, e := range edges {
		pkgs[e.to] = true
	}
	for _, p := range slices.Sorted(maps.Keys(pkgs)) {
		if layerOf(p) < 0 {
			t.Errorf("package %s is in no layer: give it one in internal/layers/layers_test.go and docs/ARCHITECTURE.md", p)
		}
	}
	for _, e := range edges {
		from, to := layerOf(e.from), layerOf(e.to)
		if from >= 0 && to > from {
			t.Errorf("%s: %s (layer %s) imports %s (layer %s, higher)", e.file, e.from, layers[from].name, e.to, layers[to].name)
		}
	}
}
