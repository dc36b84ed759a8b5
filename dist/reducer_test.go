package dist

import (
	"slices"
	"testing"

	"argus/autograd"
	"argus/tensor"
)

func TestReducerBuckets(t *testing.T) {
	tests := []struct {
		name         string
		sizes        []int // values per parameter, in model order
		first, later int   // bucket caps in bytes
		want         []int // values per bucket, in reduction order
	}{
		{"defaults fit one bucket", []int{10, 20, 30}, 0, 0, []int{60}},
		{"reverse order, first bucket small", []int{100, 100, 100, 100}, 400, 800, []int{100, 200, 100}},
		{"large parameter alone", []int{10, 1000, 10}, 100, 100, []int{10, 1000, 10}},
		{"first bucket filled exactly", []int{25, 25, 50}, 200, 400, []int{50, 50}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var params []*autograd.Var
			for _, s := range tt.sizes {
				params = append(params, autograd.Param(tensor.Zeros(s)))
			}
			r, err := NewReducer(Local{}, params, ReducerOptions{FirstBucketBytes: tt.first, BucketBytes: tt.later})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if got := r.Buckets(); !slices.Equal(got, tt.want) {
				t.Errorf("buckets %v, want %v", got, tt.want)
			}
		})
	}
}

func TestReducerRefuses(t *testing.T) {
	p := autograd.Param(tensor.Zeros(2))
	tests := []struct {
		name   string
		params []*autograd.Var
		opt    ReducerOptions
	}{
		{"duplicate parameter", []*autograd.Var{p, p}, ReducerOptions{}},
		{"negative bucket", []*autograd.Var{p}, ReducerOptions{BucketBytes: -1}},
		{"unknown algorithm", []*autograd.Var{p}, ReducerOptions{Algorithm: 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r, err := NewReducer(Local{}, tt.params, tt.opt); err == nil {
				r.Close()
				t.Errorf("NewReducer gave no error")
			}
		})
	}
}

func TestParseAlgorithm(t *testing.T) {
	for _, a := range []Algorithm{Ring, Butterfly} {
		got, err := ParseAlgorithm(a.String())
		if err != nil || got != a {
			t.Errorf("ParseAlgorithm(%q) = %v, %v", a.String(), got, err)
		}
	}
	if _, err := ParseAlgorithm("tree"); err == nil {
		t.Error("ParseAlgorithm(tree) gave no error")
	}
}

func TestOpenWithoutLauncher(t *testing.T) {
	t.Setenv("OMPI_COMM_WORLD_RANK", "")
	t.Setenv("OMPI_COMM_WORLD_SIZE", "")
	t.Setenv("PMI_RANK", "")
	t.Setenv("PMI_SIZE", "")
	if MPI {
		t.Skip("with -tags mpi, Open initialises MPI; the mpi test covers it")
	}
	c, err := Open()
	if err != nil || c.Size() != 1 || c.Rank() != 0 {
		t.Fatalf("Open() = %v, %v; want a communicator of one", c, err)
	}
	t.Setenv("OMPI_COMM_WORLD_RANK", "1")
	t.Setenv("OMPI_COMM_WORLD_SIZE", "2")
	if _, err := Open(); err == nil {
		t.Error("Open as rank 1 of 2 without MPI gave no error")
	}
}

func TestShardRange(t *testing.T) {
	for _, tt := range []struct{ n, size int }{{7, 1}, {7, 2}, {7, 3}, {7, 4}, {8, 4}, {1000, 3}} {
		next := 0
		for r := range tt.size {
			lo, hi := ShardRange(tt.n, tt.size, r)
			if lo != next || hi-lo < tt.n/tt.size || hi-lo > (tt.n+tt.size-1)/tt.size {
				t.Errorf("ShardRange(%d, %d, %d) = %d, %d after %d", tt.n, tt.size, r, lo, hi, next)
			}
			next = hi
		}
		if next != tt.n {
			t.Errorf("ShardRange(%d, %d, ·) covers %d features", tt.n, tt.size, next)
		}
	}
}
