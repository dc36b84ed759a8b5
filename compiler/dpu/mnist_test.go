package dpu_test

import (
	"os"
	"strconv"
	"testing"

	"argus/compiler/dpu"
	"argus/compiler/executor"
	"argus/compiler/onnx"
	"argus/compiler/partition"
	"argus/compiler/quant"
	"argus/compiler/xgraph"
	"argus/data/mnist"
	"argus/dpu/target"
)

// mnistSource is a calibration source over the first n images of a set.
type mnistSource struct {
	set *mnist.Set
	n   int
}

func (s mnistSource) Len() int { return s.n }

func (s mnistSource) Sample(i int) (*xgraph.Tensor, error) {
	x, _ := s.set.Batch([]int{i})
	return xgraph.NewFloat(x.Data(), 1, 28, 28), nil
}

// TestMNIST compiles the CNN trained on MNIST (compiler/quant's fixture),
// calibrated on 100 training images, for zu9 and runs the first 300 test
// images (ARGUS_MNIST_TEST=N for another number, 0 for all) through the
// simulator: its accuracy may fall at most one point below the float
// model's, and every output equals the quant-ref engine's.
func TestMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("300 images through the simulator: not in -short")
	}
	dir, err := mnist.DefaultDir()
	if err != nil {
		t.Skipf("MNIST: %v", err)
	}
	train, test, err := mnist.Load(dir)
	if err != nil {
		t.Skipf("MNIST: %v", err)
	}
	n := 300
	if s := os.Getenv("ARGUS_MNIST_TEST"); s != "" {
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatalf("ARGUS_MNIST_TEST=%q: %v", s, err)
		}
	}
	if n <= 0 || n > test.Len() {
		n = test.Len()
	}
	g, err := onnx.Load("../quant/testdata/mnist_cnn.onnx")
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := quant.Quantize(g, mnistSource{train, 100}, quant.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tg, _ := target.Lookup("zu9")
	p, err := dpu.Compile(m, tg, partition.Split(m, tg), dpu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	exec, err := executor.New(g)
	if err != nil {
		t.Fatal(err)
	}
	var fok, sok, mismatch int
	for lo := 0; lo < n; lo += 100 {
		idx := make([]int, 0, 100)
		for i := lo; i < min(lo+100, n); i++ {
			idx = append(idx, i)
		}
		xb, labels := test.Batch(idx)
		x := xgraph.FromDense(xb)
		fo, err := exec.Run(map[string]*xgraph.Tensor{g.Inputs[0].Name: x})
		if err != nil {
			t.Fatal(err)
		}
		so, _, err := p.Run(x)
		if err != nil {
			t.Fatal(err)
		}
		qo, err := m.Run(x)
		if err != nil {
			t.Fatal(err)
		}
		s := so[0].Float()
		for i, y := range labels {
			if argmax(fo[0].F[i*10:(i+1)*10]) == y {
				fok++
			}
			if argmax(s[i*10:(i+1)*10]) == y {
				sok++
			}
			for j := i * 10; j < (i+1)*10; j++ {
				if so[0].Data[j] != qo[0].Data[j] {
					mismatch++
					break
				}
			}
		}
	}
	fa, sa := float64(fok)/float64(n), float64(sok)/float64(n)
	t.Logf("%d test images: float accuracy %.4f, simulator %.4f", n, fa, sa)
	if sa < fa-0.01 || fa < 0.95 {
		t.Errorf("simulator accuracy %.4f, float %.4f: want a drop of at most one point", sa, fa)
	}
	if mismatch > 0 {
		t.Errorf("%d images where the simulator and quant-ref differ", mismatch)
	}
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}
