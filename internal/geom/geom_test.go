package geom

import (
	"slices"
	"testing"
)

func TestResolve(t *testing.T) {
	cases := []struct {
		name       string
		w          Window
		in, kernel []int
		ceil       bool
		out        []int
		padEnd     []int
	}{
		{"defaults", Window{}, []int{5, 7}, []int{3, 3}, false, []int{3, 5}, []int{0, 0}},
		{"symmetric padding", Window{Padding: []int{1, 1}}, []int{5, 7}, []int{3, 3}, false, []int{5, 7}, []int{1, 1}},
		{"asymmetric padding", Window{Padding: []int{0, 1}, PadEnd: []int{2, 0}}, []int{5, 7}, []int{3, 3}, false, []int{5, 6}, []int{2, 0}},
		{"stride floors", Window{Stride: []int{2, 3}}, []int{6, 8}, []int{2, 2}, false, []int{3, 3}, []int{0, 0}},
		{"ceil mode rounds up", Window{Stride: []int{2, 3}}, []int{7, 8}, []int{2, 2}, true, []int{4, 3}, []int{0, 0}},
		// ceil would give a last window starting in the end padding.
		{"ceil mode drops a window in the end padding", Window{Stride: []int{2}, Padding: []int{1}}, []int{5}, []int{2}, true, []int{3}, []int{1}},
		{"dilation", Window{Dilation: []int{2}}, []int{7}, []int{3}, false, []int{3}, []int{0}},
		{"one dimension", Window{Stride: []int{2}}, []int{9}, []int{3}, false, []int{4}, []int{0}},
		{"three dimensions", Window{}, []int{4, 5, 6}, []int{2, 2, 2}, false, []int{3, 4, 5}, []int{0, 0, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.w.Resolve(c.in, c.kernel, c.ceil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Out, c.out) || !slices.Equal(got.PadEnd, c.padEnd) || got.Groups != 1 {
				t.Errorf("Resolve = %v, want out %v, end padding %v, one group", got, c.out, c.padEnd)
			}
			if c.w.PadEnd == nil && c.w.Padding != nil && &got.PadEnd[0] == &got.Padding[0] {
				t.Error("end padding shares the storage of the padding")
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	cases := []struct {
		name       string
		w          Window
		in, kernel []int
	}{
		{"kernel rank", Window{}, []int{5, 5}, []int{3}},
		{"stride length", Window{Stride: []int{1}}, []int{5, 5}, []int{3, 3}},
		{"zero stride", Window{Stride: []int{0, 1}}, []int{5, 5}, []int{3, 3}},
		{"zero dilation", Window{Dilation: []int{1, 0}}, []int{5, 5}, []int{3, 3}},
		{"negative padding", Window{Padding: []int{-1, 0}}, []int{5, 5}, []int{3, 3}},
		{"kernel too large", Window{}, []int{2, 5}, []int{3, 3}},
		{"dilated kernel too large", Window{Dilation: []int{3, 1}}, []int{6, 5}, []int{3, 3}},
		{"negative groups", Window{Groups: -2}, []int{5, 5}, []int{3, 3}},
		{"empty input", Window{}, []int{0, 5}, []int{1, 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if w, err := c.w.Resolve(c.in, c.kernel, false); err == nil {
				t.Errorf("Resolve = %v, want an error", w)
			}
		})
	}
}

func TestSamePadding(t *testing.T) {
	cases := []struct {
		name                    string
		in, kernel, stride, dil []int
		upper                   bool
		begin, end              []int
	}{
		{"odd total upper", []int{5}, []int{4}, []int{1}, []int{1}, true, []int{1}, []int{2}},
		{"odd total lower", []int{5}, []int{4}, []int{1}, []int{1}, false, []int{2}, []int{1}},
		{"even total", []int{5}, []int{3}, []int{1}, []int{1}, true, []int{1}, []int{1}},
		{"strided", []int{7, 8}, []int{3, 3}, []int{2, 2}, []int{1, 1}, true, []int{1, 0}, []int{1, 1}},
		{"dilated", []int{6}, []int{3}, []int{1}, []int{2}, false, []int{2}, []int{2}},
		{"no padding needed", []int{6}, []int{1}, []int{2}, []int{1}, true, []int{0}, []int{0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, e, err := SamePadding(c.in, c.kernel, c.stride, c.dil, c.upper)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(b, c.begin) || !slices.Equal(e, c.end) {
				t.Fatalf("SamePadding = %v, %v, want %v, %v", b, e, c.begin, c.end)
			}
			w, err := Window{Stride: c.stride, Dilation: c.dil, Padding: b, PadEnd: e}.Resolve(c.in, c.kernel, false)
			if err != nil {
				t.Fatal(err)
			}
			for j := range c.in {
				if want := (c.in[j] + c.stride[j] - 1) / c.stride[j]; w.Out[j] != want {
					t.Errorf("output %v, want ceil(in/stride) %d in dimension %d", w.Out, want, j)
				}
			}
		})
	}
}

func TestSourceAndPredicates(t *testing.T) {
	w, err := Window{Stride: []int{2}, Padding: []int{1}, Dilation: []int{2}}.Resolve([]int{6}, []int{3}, false)
	if err != nil {
		t.Fatal(err)
	}
	// Output 0 reads -1 (padding), 1 and 3.
	if got := []int{w.Source(0, 0, 0), w.Source(0, 0, 1), w.Source(0, 0, 2), w.Source(0, 2, 2)}; !slices.Equal(got, []int{-1, 1, 3, -1}) {
		t.Errorf("Source = %v", got)
	}
	if !w.Symmetric() || w.Pointwise() || w.Rank() != 1 {
		t.Errorf("Symmetric %v, Pointwise %v, Rank %d", w.Symmetric(), w.Pointwise(), w.Rank())
	}
	p, err := Window{}.Resolve([]int{4, 4}, []int{1, 1}, false)
	if err != nil || !p.Pointwise() {
		t.Errorf("1×1 window %v: Pointwise false, err %v", p, err)
	}
}
